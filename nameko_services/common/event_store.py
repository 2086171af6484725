"""Append-only event streams with optimistic concurrency on (stream_id, version).

Each aggregate type has its own table (``order_events``, ``payment_events``);
``event_table`` builds one. Appending a version that already exists means
someone else changed the stream first: ``StreamConflict``, and the caller's
transaction, which the conflict aborted, must roll back and retry from fresh state.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

# Defined with the other errors that cross RPC: a use case that gives up retrying lets it through.
from nameko_services.common.errors import StreamConflict
from nameko_services.common.precompiled import binds, compiled_once
from nameko_services.common.times import iso_utc

EVENT_COLUMNS = ("event_id", "stream_id", "version", "type", "data", "occurred_at", "correlation_id",
                 "causation_id")


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended."""

    type: str
    data: dict[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass(frozen=True)
class StoredEvent:
    """An event as it stands in its stream."""

    event_id: str
    stream_id: str
    version: int
    type: str
    data: dict[str, Any]
    occurred_at: datetime
    correlation_id: str | None
    causation_id: str | None

    def to_dict(self) -> dict[str, Any]:
        """The public shape: ``{version, type, data, occurred_at}``."""
        return {"version": self.version, "type": self.type, "data": self.data,
                "occurred_at": iso_utc(self.occurred_at)}


def event_table(name: str, metadata: MetaData) -> Table:
    """The events table of one aggregate type."""
    return Table(
        name, metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        Column("stream_id", UUID(as_uuid=False), nullable=False),
        Column("version", Integer, nullable=False),
        Column("type", String(100), nullable=False),
        Column("data", JSONB, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("correlation_id", String(100)),
        Column("causation_id", String(100)),
        UniqueConstraint("stream_id", "version", name=f"uq_{name}_stream_version"),
    )


class EventStore:
    """Reads and appends the streams of one events table within a session."""

    def __init__(self, session: Session, table: Table) -> None:
        self.session = session
        self.table = table

    def append(self, stream_id: str, expected_version: int, events: Iterable[NewEvent], *,
               correlation_id: str | None = None, causation_id: str | None = None,
               now: datetime | None = None) -> list[StoredEvent]:
        """Append ``events`` after ``expected_version``; raise StreamConflict if it moved on."""
        occurred = now or datetime.now(UTC)
        stored = [
            StoredEvent(e.event_id, stream_id, expected_version + i, e.type, e.data, occurred,
                        correlation_id, causation_id)
            for i, e in enumerate(events, start=1)
        ]
        if not stored:
            return []
        rows = [{"event_id": s.event_id, "stream_id": s.stream_id, "version": s.version,
                 "type": s.type, "data": s.data, "occurred_at": s.occurred_at,
                 "correlation_id": s.correlation_id, "causation_id": s.causation_id}
                for s in stored]
        # No savepoint (two more round trips per append): a conflict aborts the transaction,
        # which the caller rolls back anyway to retry from fresh state (``retrying``).
        try:
            _append(self.table).execute(self.session, rows[0] if len(rows) == 1 else rows)
        except IntegrityError as exc:
            raise StreamConflict(details={"stream_id": stream_id,
                                          "expected_version": expected_version}) from exc
        return stored

    def load(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        """The stream's events, oldest first."""
        rows = _load(self.table).execute(self.session, {"stream_id": stream_id,
                                                        "after_version": after_version}).mappings()
        return [_stored(row) for row in rows]

    def stream_ids(self) -> Sequence[str]:
        """Every stream in the table (for rebuilding projections)."""
        return self.session.execute(select(self.table.c.stream_id).distinct()).scalars().all()


@compiled_once
def _append(table: Table) -> Executable:
    return insert(table).values(**binds(*EVENT_COLUMNS))


@compiled_once
def _load(table: Table) -> Executable:
    return (select(*(table.c[name] for name in EVENT_COLUMNS))
            .where(table.c.stream_id == bindparam("stream_id"), table.c.version > bindparam("after_version"))
            .order_by(table.c.version))


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(str(row["event_id"]), str(row["stream_id"]), row["version"], row["type"],
                       row["data"], row["occurred_at"], row["correlation_id"], row["causation_id"])
