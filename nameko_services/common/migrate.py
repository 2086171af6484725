"""Apply Alembic migrations and check that this code may run on a database's revision."""
from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from nameko_services.common import schema_revisions

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
DATABASES = ("core", "orders", "payments")
URL_ENV = {
    "core": ("SHOP_CORE_DB_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/shop_core"),
    "orders": ("SHOP_ORDERS_DB_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/shop_orders"),
    "payments": ("SHOP_PAYMENTS_DB_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/shop_payments"),
}


class SchemaOutOfDate(RuntimeError):
    """The database is neither at this code's head nor at a later revision compatible with it."""


def database_url(database: str) -> str:
    """The configured URL of ``database`` (environment, else the laptop default)."""
    env, default = URL_ENV[database]
    return os.environ.get(env, default)


def alembic_config(database: str, url: str | None = None) -> Config:
    """The Alembic config of one database's environment."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"), ini_section=database)
    config.set_main_option("script_location", str(MIGRATIONS_DIR / database))
    config.set_main_option("sqlalchemy.url", (url or database_url(database)).replace("%", "%%"))
    return config


def upgrade(database: str, url: str | None = None) -> None:
    """Bring ``database`` to head."""
    command.upgrade(alembic_config(database, url), "head")


def ensure_compatible_schema(database: str, engine: Engine) -> None:
    """Raise ``SchemaOutOfDate`` unless ``engine``'s database is at this code's head, or at
    later revisions that all declare themselves compatible with older code (expand only)."""
    scripts = ScriptDirectory.from_config(alembic_config(database))
    heads = set(scripts.get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
        if current == heads:
            return
        known = (script.revision for script in scripts.walk_revisions())
        problem = schema_revisions.refusal(connection, known, heads, current)
    if problem:
        raise SchemaOutOfDate(f"database {engine.url.database!r}: {problem}")


def run_environment(context, target_metadata=None) -> None:  # type: ignore[no-untyped-def]
    """Body of every ``migrations/<db>/env.py``: online migrations, one transaction."""
    from sqlalchemy import pool

    from nameko_services.common.engine import create_engine

    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Each applied revision is recorded with its compatibility, for older code's start check.
        context.configure(connection=connection, target_metadata=target_metadata,
                          on_version_apply=schema_revisions.record_step,
                          include_name=schema_revisions.not_bookkeeping)
        with context.begin_transaction():
            connection.execute(schema_revisions.CREATE_TABLE)
            context.run_migrations()
    engine.dispose()
