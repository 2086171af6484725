"""Transactional outbox: events are rows written with the state change, then relayed.

A service never publishes a domain event inside its transaction. ``add_to_outbox`` writes the
event into the service's ``outbox`` table inside the caller's transaction; it is published to the
service's nameko events exchange (``<service>.events``, routing key = event type) with publisher
confirms, and only then marked sent. Two ways, same guarantees:

- **Handed off** (the fast path): a unit of work that commits hands the messages it queued to
  its process's relay (``SessionOutbox``, ``HAND_OFF``), which publishes them and marks their
  rows sent with one autocommit UPDATE (``OutboxRelay.publish_committed``): no query finds them.
- **Swept**: ``OutboxRelay.relay_batch`` claims unsent rows with ``FOR UPDATE SKIP LOCKED`` and
  publishes them. Every relay sweeps now and then, for rows nobody handed off: written outside a
  unit of work, or left by a process that died between its commit and its publish. A sweep
  leaves rows younger than a grace period alone: their own process is publishing them.

A crash anywhere between commit and mark loses nothing: the row is still unsent and the next
sweep, in any process, publishes it (at-least-once; consumers are idempotent on ``event_id``).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

from nameko_services.common.db import ping_when_idle
from nameko_services.common.engine import create_engine
from nameko_services.common.event_contracts import stamp
from nameko_services.common.precompiled import binds, compiled_once
from nameko_services.common.trace_context import message_headers

EVENT_ID_HEADER = "nameko.event_id"
CORRELATION_HEADER = "nameko.correlation_id"


@dataclass(frozen=True)
class OutboxMessage:
    """One event waiting to be published (``seq``: its row, 0 for a message with none)."""

    event_id: str
    event_type: str
    payload: dict[str, Any]
    headers: dict[str, Any]
    seq: int = 0


HAND_OFF = "shop_outbox_hand_off"  # session.info: the process relay's hand-off, when one runs


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


def add_to_outbox(session: Session, table: Table, event_type: str, payload: dict[str, Any], *,
                  headers: dict[str, Any] | None = None, event_id: str | None = None) -> str:
    """Queue an event in the current transaction; return its id (a sweep publishes it).

    The payload gets this code's ``schema_version`` of ``event_type`` (``common.event_contracts``)."""
    return queue_message(session, table, event_type, payload, headers=headers, event_id=event_id).event_id


def queue_message(session: Session, table: Table, event_type: str, payload: dict[str, Any], *,
                  headers: dict[str, Any] | None = None, event_id: str | None = None) -> OutboxMessage:
    """Write the event's row in the current transaction; return it as the relay will publish it."""
    event_id = event_id or str(uuid.uuid4())
    payload = stamp(event_type, payload)
    headers = dict(headers or {}, **{EVENT_ID_HEADER: event_id})
    seq = _queue(table).execute(session, {
        "event_id": event_id, "event_type": event_type, "payload": payload, "headers": headers,
        "created_at": datetime.now(UTC)}).scalar_one()
    return OutboxMessage(event_id, event_type, payload, headers, seq)


@compiled_once
def _queue(table: Table) -> Executable:
    return (insert(table).values(**binds("event_id", "event_type", "payload", "headers", "created_at"))
            .returning(table.c.seq))


@compiled_once
def _claim(table: Table, batch_size: int) -> Executable:
    """The oldest unsent rows written before ``created_before`` that no other relay holds, locked
    until the relay's transaction ends."""
    t = table
    return (select(t.c.seq, t.c.event_id, t.c.event_type, t.c.payload, t.c.headers)
            .where(t.c.published_at.is_(None), t.c.created_at < bindparam("created_before"))
            .order_by(t.c.seq).limit(batch_size).with_for_update(skip_locked=True))


@compiled_once
def _mark_sent(table: Table) -> Executable:
    return (update(table).where(table.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger))))
            .values(published_at=bindparam("published_at")))


class Outbox(Protocol):
    """What a unit of work offers its handlers: queue an event in the current transaction."""

    def add(self, event_type: str, payload: dict[str, Any]) -> str:
        """Queue an event of this service's exchange; return its id."""


class SessionOutbox:
    """A unit of work's outbox: events queued in its session's transaction, handed off once committed.

    With a correlation id, every event carries it, so the handlers downstream log the
    same id and one order can be followed through every service. Each row also keeps the
    span current when it was written (``nameko.traceparent``): the event, published later,
    continues that trace in every handler. When the session carries its process relay's hand-off
    (``HAND_OFF``), each message goes to it through ``after_commit`` (the unit of work's: run once
    the transaction commits, dropped if it rolls back); without one, a sweep publishes the row.
    """

    def __init__(self, session: Session, table: Table, correlation_id: str | None = None,
                 after_commit: Callable[[Callable[[], None]], None] | None = None) -> None:
        self.session = session
        self.table = table
        self.headers = {CORRELATION_HEADER: correlation_id} if correlation_id else {}
        self.after_commit = after_commit

    def add(self, event_type: str, payload: dict[str, Any]) -> str:
        """Queue an event; return its id."""
        headers = {**self.headers, **message_headers()}
        message = queue_message(self.session, self.table, event_type, payload, headers=headers)
        hand_off = self.session.info.get(HAND_OFF)
        if hand_off is not None and self.after_commit is not None:
            self.after_commit(lambda: hand_off([message]))
        return message.event_id


class OutboxRelay:
    """Publishes unsent outbox rows in batches; safe to run in many processes at once."""

    def __init__(self, engine: Engine, table: Table, publish: Publish, batch_size: int = 100) -> None:
        self.engine = engine
        self.table = table
        self.publish = publish
        self.batch_size = batch_size
        self._marks: Engine | None = None

    def publish_committed(self, messages: list[OutboxMessage]) -> None:
        """Publish messages whose rows are committed, then mark those rows sent (one statement, no
        transaction). Raises if the broker does not confirm: the rows stay unsent for a sweep."""
        publish_all(self.publish, messages)
        with self._marking().connect() as conn:
            _mark_sent(self.table).execute(conn, {"seqs": [m.seq for m in messages],
                                                  "published_at": datetime.now(UTC)})

    def _marking(self) -> Engine:
        # A connection of its own, always in autocommit: one statement per mark. Borrowing one of
        # the pool's and switching it costs a round trip to reset it, and every later
        # transaction on it a longer BEGIN.
        if self._marks is None:
            self._marks = create_engine(self.engine.url, isolation_level="AUTOCOMMIT", pool_size=1,
                                        max_overflow=1)
            ping_when_idle(self._marks)  # one that idled across a database restart is replaced first
        return self._marks

    def close(self) -> None:
        """Close the marking connection (the relay's own; the engine is the caller's)."""
        if self._marks is not None:
            self._marks.dispose()
            self._marks = None

    def relay_batch(self, grace: float = 0.0) -> int:
        """Publish one batch of unsent rows at least ``grace`` seconds old; return how many were sent."""
        created_before = datetime.now(UTC) - timedelta(seconds=grace)
        with self.engine.begin() as conn:
            rows = _claim(self.table, self.batch_size).execute(
                conn, {"created_before": created_before}).all()
            # Raises if the broker does not confirm: the transaction rolls back and
            # the rows stay unsent (those already published go again: at-least-once).
            publish_all(self.publish, [OutboxMessage(str(row.event_id), row.event_type, row.payload,
                                                     row.headers, row.seq) for row in rows])
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
