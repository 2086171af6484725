"""Idempotent consumers: remember processed event ids in the handler's own transaction."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from nameko_services.common.precompiled import binds, compiled_once


def processed_events_table(metadata: MetaData) -> Table:
    """``processed_events``: one row per (event id, handler) already applied."""
    return Table(
        "processed_events", metadata,
        Column("event_id", String(64), nullable=False),
        Column("handler", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
        PrimaryKeyConstraint("event_id", "handler", name="pk_processed_events"),
    )


def first_delivery(session: Session, table: Table, event_id: str, handler: str) -> bool:
    """Record the event as processed; False if it already was (skip its effects).

    Call it inside the transaction that applies the effects: if that
    transaction rolls back, the record goes with it and a redelivery runs again.
    A concurrent duplicate waits on the row lock and then sees the conflict.
    """
    inserted = _record(table).execute(session, {"event_id": event_id, "handler": handler,
                                                "processed_at": datetime.now(UTC)}).first()
    return inserted is not None


@compiled_once
def _record(table: Table) -> Executable:
    return (insert(table).values(**binds("event_id", "handler", "processed_at"))
            .on_conflict_do_nothing().returning(table.c.event_id))
