"""Waiting for a PostgreSQL NOTIFY without blocking other greenthreads.

A ``ChannelListener`` keeps one dedicated autocommit connection that LISTENs on one
channel. ``wait(timeout)`` returns as soon as a notification arrives (draining every
pending one: many commits, one wake-up) or when ``timeout`` has passed. A connection
that fails is dropped and opened again after a growing back-off; ``wait`` never blocks
longer than ``timeout`` meanwhile, so a caller that polls after each ``wait`` keeps
working without notifications. Right after (re)connecting ``wait`` returns True at once:
whatever was committed while nobody listened announced itself to nobody.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from eventlet.green import select
from psycopg2 import sql
from sqlalchemy import Engine

from nameko_services.common.backoff import Backoff

log = logging.getLogger(__name__)


def psycopg2_connector(engine: Engine, application_name: str) -> Callable[[], Any]:
    """Opens plain psycopg2 connections to ``engine``'s database, outside its pool.

    TCP keepalives make a silently dead connection fail within a minute instead of
    leaving the listener waiting on it (the fallback poll covers that minute).
    """
    import psycopg2

    args, params = engine.dialect.create_connect_args(engine.url)
    params = {"application_name": application_name, "keepalives": 1, "keepalives_idle": 20,
              "keepalives_interval": 5, "keepalives_count": 3, **params}
    return lambda: psycopg2.connect(*args, **params)


class ChannelListener:
    """LISTENs on ``channel`` over connections made by ``connect`` (psycopg2, green)."""

    def __init__(self, connect: Callable[[], Any], channel: str, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] | None = None) -> None:
        self.connect = connect
        self.channel = channel
        self.backoff = backoff or Backoff()
        self.clock = clock
        if sleep is None:
            import eventlet

            sleep = eventlet.sleep
        self.sleep = sleep
        self._conn: Any = None
        self._retry_at = 0.0

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend listening now (None while disconnected)."""
        return None if self._conn is None else int(self._conn.get_backend_pid())

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when notified (or just reconnected)."""
        if self._conn is None:
            return self._reconnect(timeout)
        try:
            if self._drain():  # already buffered by an earlier read
                return True
            readable, _, _ = select.select([self._conn], [], [], timeout)
            if not readable:
                return False
            if self._drain():
                return True
            # Readable without a notification: often the server closing the connection,
            # which psycopg2 only reports on the next query.
            self._conn.cursor().execute("SELECT 1")
            return False
        except Exception as error:  # the connection broke: poll now, reconnect on the next wait
            log.warning("LISTEN %s connection lost (%s); reconnecting", self.channel, error)
            self.close()
            return True

    def close(self) -> None:
        """Drop the connection (the next ``wait`` opens a new one)."""
        conn, self._conn = self._conn, None
        _close_quietly(conn)

    def _drain(self) -> bool:
        self._conn.poll()
        notified = bool(self._conn.notifies)
        self._conn.notifies.clear()
        return notified

    def _reconnect(self, timeout: float) -> bool:
        pause = self._retry_at - self.clock()
        if pause > 0:
            self.sleep(min(timeout, pause))
            return False
        conn = None
        try:
            conn = self.connect()
            conn.autocommit = True
            conn.cursor().execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        except Exception as error:
            _close_quietly(conn)
            delay = self.backoff.failed()
            self._retry_at = self.clock() + delay
            log.warning("cannot LISTEN %s (%s); retrying in %.1f s", self.channel, error, delay)
            self.sleep(min(timeout, delay))
            return False
        self._conn = conn
        self.backoff.reset()
        log.info("listening on %s", self.channel)
        return True


def _close_quietly(conn: Any) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):  # already broken: nothing left to release
            conn.close()
