"""Create and drop PostgreSQL databases (for `shopctl up` and the test suites)."""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import make_url

from nameko_services.common.engine import create_engine


def _server_engine(url: str):  # type: ignore[no-untyped-def]
    # CREATE/DROP DATABASE cannot run inside a transaction, and not connected to that database.
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def create_database(url: str, *, drop_existing: bool = False) -> bool:
    """Create the database ``url`` names; return True if it was created."""
    name = make_url(url).database
    engine = _server_engine(url)
    try:
        with engine.connect() as conn:
            if drop_existing:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            return not exists
    finally:
        engine.dispose()


def drop_database(url: str) -> None:
    """Drop the database ``url`` names, if it exists."""
    engine = _server_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        engine.dispose()
