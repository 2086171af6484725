"""A throw-away database holding only the tables a plumbing test defines."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, MetaData, create_engine

from nameko_services.common import migrate
from nameko_services.common.db import patch_psycopg_for_eventlet
from nameko_services.common.dbadmin import create_database, drop_database


@contextmanager
def scratch_engine(name: str, metadata: MetaData, pool_size: int = 5) -> Iterator[Engine]:
    """An engine on ``shop_test_<name>_<pid>`` with ``metadata``'s tables; dropped afterwards."""
    patch_psycopg_for_eventlet()
    url = migrate.database_url("core").rsplit("/", 1)[0] + f"/shop_test_{name}_{os.getpid()}"
    create_database(url, drop_existing=True)
    engine = create_engine(url, pool_size=pool_size)
    metadata.create_all(engine)
    try:
        yield engine
    finally:
        engine.dispose()
        drop_database(url)
