"""The ``orders`` table as a projection of ``order_events``: written with every change, rebuildable.

A column is a field of the order read by name (``COLUMNS``), or one that needs shaping
(``SHAPED``); the public document is the row's ``PUBLIC_FIELDS``. Adding a field to an
order means: the field on ``Order``, its column here and in a migration, nothing more.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from nameko_services.common.event_sourced import Projection
from nameko_services.common.times import iso_utc
from nameko_services.orders.models import OrderRow, order_events
from nameko_services.orders.order import Order

orders = cast(Table, OrderRow.__table__)

# Read from the order as they are.
COLUMNS = ("id", "user_id", "status", "cancellation_reason", "total", "currency", "shipping_address",
           "note", "payment_id", "payment_status", "payment_action", "capture_requested",
           "needs_attention", "attention_reason", "version", "deadline_at", "created_at", "updated_at")
# Shaped for readers.
SHAPED: dict[str, Callable[[Order], Any]] = {
    "items": Order.public_items,
    "pending_modification": lambda order: None if order.pending_modification is None else {
        key: value for key, value in order.pending_modification.items()
        if key in ("items", "total", "currency", "shipping_address")},
}
# What callers see (docs/API.md), in this order.
PUBLIC_FIELDS = ("id", "user_id", "status", "cancellation_reason", "items", "total", "currency",
                 "shipping_address", "note", "pending_modification", "payment_status", "payment_action",
                 "needs_attention", "attention_reason", "created_at", "updated_at")


def columns(order: Order) -> dict[str, Any]:
    """The projection row of an order."""
    return {**{name: getattr(order, name) for name in COLUMNS},
            **{name: shape(order) for name, shape in SHAPED.items()}}


PROJECTION = Projection(orders, Order, columns)


def row_document(row: Mapping[Any, Any]) -> dict[str, Any]:
    """An order row in the public shape (ids as strings, times ISO-8601 UTC)."""
    doc = {name: row[name] for name in PUBLIC_FIELDS}
    doc["id"], doc["user_id"] = str(row["id"]), str(row["user_id"])
    doc["created_at"], doc["updated_at"] = iso_utc(row["created_at"]), iso_utc(row["updated_at"])
    return doc


def document(order: Order) -> dict[str, Any]:
    """An order (just saved) in the public shape."""
    return row_document(columns(order))


def rebuild(session: Session) -> int:
    """Recompute the whole ``orders`` table from ``order_events``; return how many orders."""
    return PROJECTION.rebuild(session, order_events)
