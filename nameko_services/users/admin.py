"""Create the first admin straight in the database (`shopctl create-admin`, no broker needed)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from nameko_services.common.db import make_engine
from nameko_services.users import handlers
from nameko_services.users.repository import SqlUnitOfWork


def ensure_admin(database_url: str, email: str, password: str, name: str = "Administrator") -> str:
    """Make sure an admin with ``email`` exists; idempotent; returns the user id."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return handlers.ensure_admin(SqlUnitOfWork(session), email, password, name).id
    finally:
        engine.dispose()
