"""The ``orders`` table as a projection of ``order_events``: written with every change, rebuildable.

``rebuild(session)`` recomputes every row from the events (``shopctl`` calls it); the
caller commits. Writers are kept out meanwhile: they lock ``orders`` rows, which the
table lock taken here forbids.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, delete, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nameko_services.common.event_store import EventStore, StoredEvent
from nameko_services.orders.domain import Order
from nameko_services.orders.models import OrderRow, order_events

orders = cast(Table, OrderRow.__table__)

PUBLIC_FIELDS = ("id", "user_id", "status", "cancellation_reason", "items", "total", "currency",
                 "shipping_address", "pending_modification", "payment_status", "needs_attention",
                 "attention_reason",
                 "created_at", "updated_at")


def columns(order: Order) -> dict[str, Any]:
    """The projection row of an order."""
    return {"id": order.id, "user_id": order.user_id, "status": order.status,
            "cancellation_reason": order.cancellation_reason, "items": order.public_items(),
            "total": order.total, "currency": order.currency,
            "shipping_address": order.shipping_address,
            "pending_modification": _public_modification(order.pending_modification),
            "payment_id": order.payment_id, "payment_status": order.payment_status,
            "capture_requested": order.capture_requested, "needs_attention": order.needs_attention,
            "attention_reason": order.attention_reason, "version": order.version,
            "deadline_at": order.deadline_at, "created_at": order.created_at,
            "updated_at": order.updated_at}


def _public_modification(requested: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if requested is None else {
        key: requested[key] for key in ("items", "total", "currency", "shipping_address") if key in requested}


def document(row: Mapping[Any, Any]) -> dict[str, Any]:
    """An order in the public shape of API.md (ids as strings, times ISO-8601 UTC)."""
    doc = {name: row[name] for name in PUBLIC_FIELDS}
    doc["id"], doc["user_id"] = str(row["id"]), str(row["user_id"])
    doc["created_at"], doc["updated_at"] = row["created_at"].isoformat(), row["updated_at"].isoformat()
    return doc


def fold(order_id: str, events: list[StoredEvent]) -> Order:
    """The order its stored events describe."""
    return Order.from_history(order_id, ((e.type, e.data, e.version, e.occurred_at) for e in events))


def upsert(session: Session, order: Order) -> None:
    """Write the order's row (insert or replace) in the current transaction."""
    row = columns(order)
    session.execute(insert(orders).values(row).on_conflict_do_update(
        index_elements=[orders.c.id], set_={k: v for k, v in row.items() if k != "id"}))


def rebuild(session: Session) -> int:
    """Recompute the whole ``orders`` table from ``order_events``; return how many orders."""
    session.execute(text("LOCK TABLE orders IN EXCLUSIVE MODE"))
    session.execute(delete(orders))
    store = EventStore(session, order_events)
    count = 0
    for stream_id in store.stream_ids():
        upsert(session, fold(str(stream_id), store.load(str(stream_id))))
        count += 1
    return count
