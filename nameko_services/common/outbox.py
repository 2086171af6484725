"""Transactional outbox: events are rows written with the state change, then relayed.

A service never publishes a domain event itself. ``add_to_outbox`` writes the
event into the service's ``outbox`` table inside the caller's transaction; an
``OutboxRelay`` later publishes unsent rows to the service's nameko events
exchange (``<service>.events``, routing key = event type) with publisher
confirms, and only then marks them sent. A crash between commit and publish
loses nothing: the row is still unsent and is published by the next pass
(at-least-once; consumers are idempotent on ``event_id``). Relays in several
processes share the work with ``FOR UPDATE SKIP LOCKED``.

Each row also sends a PostgreSQL notification on ``outbox_channel(table)``, delivered
only when its transaction commits, so a relay LISTENing there publishes at once
instead of at its next poll (and never wakes before the row is visible).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from nameko_services.common.event_contracts import stamp
from nameko_services.common.precompiled import binds, compiled_once
from nameko_services.common.trace_context import message_headers

EVENT_ID_HEADER = "nameko.event_id"
CORRELATION_HEADER = "nameko.correlation_id"


@dataclass(frozen=True)
class OutboxMessage:
    """One event waiting to be published."""

    event_id: str
    event_type: str
    payload: dict[str, Any]
    headers: dict[str, Any]


Publish = Callable[[OutboxMessage], None]


def publish_all(publish: Publish, messages: list[OutboxMessage]) -> None:
    """Publish ``messages``: as one batch if the publisher can (``publish_batch``), else one by one."""
    batch = getattr(publish, "publish_batch", None)
    if batch is not None:
        batch(messages)
    else:
        for message in messages:
            publish(message)


def outbox_table(metadata: MetaData) -> Table:
    """The ``outbox`` table of one service database."""
    table = Table(
        "outbox", metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True)),
    )
    # The relay only ever looks for unsent rows; keep that scan small.
    Index("ix_outbox_unpublished", table.c.seq, postgresql_where=table.c.published_at.is_(None))
    return table


def outbox_channel(table: Table) -> str:
    """The NOTIFY channel announcing new rows of ``table``, e.g. ``outbox_inserted``.

    PostgreSQL channels belong to one database, as the table does: one table, one channel.
    """
    return f"{table.fullname}_inserted"


def add_to_outbox(session: Session, table: Table, event_type: str, payload: dict[str, Any], *,
                  headers: dict[str, Any] | None = None, event_id: str | None = None) -> str:
    """Queue an event in the current transaction and announce it on commit; return its id.

    The payload gets this code's ``schema_version`` of ``event_type`` (``common.event_contracts``)."""
    event_id = event_id or str(uuid.uuid4())
    payload = stamp(event_type, payload)
    # pg_notify in RETURNING: the notification rides on the insert, no extra round trip.
    # PostgreSQL delivers it on commit only, once per transaction however many rows.
    _queue(table).execute(session, {
        "event_id": event_id, "event_type": event_type, "payload": payload,
        "headers": dict(headers or {}, **{EVENT_ID_HEADER: event_id}), "created_at": datetime.now(UTC)})
    return event_id


@compiled_once
def _queue(table: Table) -> Executable:
    return (insert(table).values(**binds("event_id", "event_type", "payload", "headers", "created_at"))
            .returning(func.pg_notify(outbox_channel(table), "")))


@compiled_once
def _claim(table: Table, batch_size: int) -> Executable:
    """The oldest unsent rows no other relay holds, locked until the relay's transaction ends."""
    t = table
    return (select(t.c.seq, t.c.event_id, t.c.event_type, t.c.payload, t.c.headers)
            .where(t.c.published_at.is_(None)).order_by(t.c.seq)
            .limit(batch_size).with_for_update(skip_locked=True))


@compiled_once
def _mark_sent(table: Table) -> Executable:
    return (update(table).where(table.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger))))
            .values(published_at=bindparam("published_at")))


class Outbox(Protocol):
    """What a unit of work offers its handlers: queue an event in the current transaction."""

    def add(self, event_type: str, payload: dict[str, Any]) -> str:
        """Queue an event of this service's exchange; return its id."""


class SessionOutbox:
    """A unit of work's outbox: events queued in its session's transaction.

    With a correlation id, every event carries it, so the handlers downstream log the
    same id and one order can be followed through every service. Each row also keeps the
    span current when it was written (``nameko.traceparent``): the event, published later,
    continues that trace in every handler.
    """

    def __init__(self, session: Session, table: Table, correlation_id: str | None = None) -> None:
        self.session = session
        self.table = table
        self.headers = {CORRELATION_HEADER: correlation_id} if correlation_id else {}

    def add(self, event_type: str, payload: dict[str, Any]) -> str:
        """Queue an event; return its id."""
        headers = {**self.headers, **message_headers()}
        return add_to_outbox(self.session, self.table, event_type, payload, headers=headers)


class OutboxRelay:
    """Publishes unsent outbox rows in batches; safe to run in many processes at once."""

    def __init__(self, engine: Engine, table: Table, publish: Publish, batch_size: int = 100) -> None:
        self.engine = engine
        self.table = table
        self.publish = publish
        self.batch_size = batch_size

    def relay_batch(self) -> int:
        """Publish one batch; return how many rows were sent."""
        with self.engine.begin() as conn:
            rows = _claim(self.table, self.batch_size).execute(conn, {}).all()
            # Raises if the broker does not confirm: the transaction rolls back and
            # the rows stay unsent (those already published go again: at-least-once).
            publish_all(self.publish, [OutboxMessage(str(row.event_id), row.event_type, row.payload,
                                                     row.headers) for row in rows])
            if rows:
                _mark_sent(self.table).execute(conn, {"seqs": [r.seq for r in rows],
                                                      "published_at": datetime.now(UTC)})
        return len(rows)

    def relay_all(self) -> int:
        """Publish until nothing is left (used by tests and `shopctl`)."""
        total = 0
        while sent := self.relay_batch():
            total += sent
        return total

    def lag(self) -> tuple[int, float]:
        """How many rows wait to be published, and the oldest one's age in seconds (0 if none)."""
        t = self.table
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                select(func.count(), func.extract("epoch", func.now() - func.min(t.c.created_at)))
                .where(t.c.published_at.is_(None))).one()
        return int(count), float(oldest or 0.0)

    def pending(self) -> int:
        """How many rows wait to be published."""
        t = self.table
        with self.engine.connect() as conn:
            return len(conn.execute(select(t.c.seq).where(t.c.published_at.is_(None))).all())
