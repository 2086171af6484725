"""SQLAlchemy engines and the per-worker session provider."""
from __future__ import annotations

import time
from typing import Any

from nameko.extensions import DependencyProvider
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from nameko_services.common.engine import create_engine
from nameko_services.common.metrics import DB_POOL_IN_USE
from nameko_services.common.telemetry import instrument_engine

_green_patched = False

# Constraint names every service's tables follow, so migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with the project's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


IDLE_PING_SECONDS = 5.0  # a pooled connection idle longer is pinged before use


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with a pool sized for one service process, pinging only connections that idled."""
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    ping_when_idle(engine)
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Ping a connection on checkout only if it sat in the pool ``idle_seconds`` or more.

    ``pool_pre_ping`` pings on every checkout, a round trip per transaction; under load a
    connection is reused at once and cannot have gone stale unnoticed, while one that idled
    (perhaps across a database restart) is checked, and replaced if dead, before a worker gets it.
    """
    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < idle_seconds:
            return
        try:
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("pooled connection is dead") from exc  # the pool opens another


_IDLE_SINCE = "shop_idle_since"


def patch_psycopg_for_eventlet() -> None:
    """Make psycopg2 yield to other greenthreads while it waits on the server."""
    global _green_patched
    if not _green_patched:
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        _green_patched = True


class Database(DependencyProvider):
    """Gives each worker its own ``Session``, closed when the worker ends.

    ``database`` names the Alembic environment (``core``, ``orders``,
    ``payments``); the service refuses to start unless that database is at its head or at later
    revisions that declare themselves compatible (``common.schema_revisions``).
    """

    def __init__(self, database: str, url_key: str = "DATABASE_URL") -> None:
        self.database = database
        self.url_key = url_key
        self.sessions: dict[Any, Session] = {}
        self.session_info: dict[str, Any] = {}  # each session's ``info`` starts as this (relay hand-off)

    def setup(self) -> None:
        from nameko_services.common.migrate import ensure_compatible_schema

        patch_psycopg_for_eventlet()
        # One connection per concurrent worker: a smaller pool makes overflow connections
        # open and close on every call under load (a new PostgreSQL backend each time).
        workers = int(self.container.config.get("max_workers", 10))
        self.engine = make_engine(self.container.config[self.url_key], pool_size=workers,
                                  max_overflow=workers)
        instrument_engine(self.engine)  # statement spans when tracing is on
        ensure_compatible_schema(self.database, self.engine)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        labels, pool = [self.container.service_name, self.database], self.engine.pool
        DB_POOL_IN_USE.readers[self] = lambda: [(labels, [pool.checkedout()])]  # type: ignore[attr-defined]

    def stop(self) -> None:
        self.kill()

    def kill(self) -> None:
        """Close the connections of a killed container too (nameko's test fixtures kill every
        container): left to garbage collection they pile up until PostgreSQL refuses clients."""
        DB_POOL_IN_USE.readers.pop(self, None)
        if hasattr(self, "engine"):  # a container whose setup failed is killed too
            self.engine.dispose()

    def get_dependency(self, worker_ctx: Any) -> Session:
        session = self.session_factory(info=dict(self.session_info))
        self.sessions[worker_ctx] = session
        return session

    def worker_teardown(self, worker_ctx: Any) -> None:
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()
