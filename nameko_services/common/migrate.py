"""Apply Alembic migrations and check that a database is at head."""
from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
DATABASES = ("core", "orders", "payments")
URL_ENV = {
    "core": ("SHOP_CORE_DB_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/shop_core"),
    "orders": ("SHOP_ORDERS_DB_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/shop_orders"),
    "payments": ("SHOP_PAYMENTS_DB_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/shop_payments"),
}


class SchemaOutOfDate(RuntimeError):
    """The database is not at the migration head this code expects."""


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


def ensure_at_head(database: str, engine: Engine) -> None:
    """Raise ``SchemaOutOfDate`` unless ``engine``'s database is at head."""
    heads = set(ScriptDirectory.from_config(alembic_config(database)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        raise SchemaOutOfDate(
            f"database {engine.url.database!r} is at revision {sorted(current) or 'none'}, "
            f"this code needs {sorted(heads)}: run `shopctl migrate`"
        )


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
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
