"""Tables of the orders database: the event store is the truth, ``orders`` its projection."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nameko_services.common.db import new_metadata
from nameko_services.common.event_store import event_table
from nameko_services.common.idempotency import processed_events_table
from nameko_services.common.outbox import outbox_table


class Base(DeclarativeBase):
    """Declarative base of the orders tables."""

    metadata = new_metadata()


class OrderRow(Base):
    """The current state of an order, rebuilt from ``order_events`` at will (projection.py)."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'awaiting_payment', 'confirmed', 'shipped', 'delivered', "
                        "'cancelled')", name="status_known"),
        CheckConstraint("payment_status IN ('pending', 'authorised', 'paid', 'partially_refunded', "
                        "'refunded', 'voided', 'not_required')", name="payment_status_known"),
        Index("ix_orders_user_id_created_at", "user_id", "created_at"),
        Index("ix_orders_status_created_at", "status", "created_at"),
        # The deadline timer scans only open orders.
        Index("ix_orders_open_deadline", "deadline_at",
              postgresql_where=text("status IN ('pending', 'awaiting_payment')")),
        Index("ix_orders_needs_attention", "updated_at", postgresql_where=text("needs_attention")),
    )

    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True)
    user_id: Mapped[str] = mapped_column(Uuid(as_uuid=False))
    status: Mapped[str] = mapped_column(String(20))
    cancellation_reason: Mapped[str | None] = mapped_column(String(40))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    total: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    shipping_address: Mapped[dict[str, Any]] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(String(500))
    pending_modification: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    payment_id: Mapped[str | None] = mapped_column(String(64))
    payment_status: Mapped[str] = mapped_column(String(20))
    # What the customer must do for the payment to go on (3-D Secure): {"type": "redirect", "url"}.
    payment_action: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    capture_requested: Mapped[bool] = mapped_column(Boolean)
    needs_attention: Mapped[bool] = mapped_column(Boolean)
    attention_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IdempotencyKeyRow(Base):
    """An Idempotency-Key of one customer and the order it placed (keys.py)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (CheckConstraint("state IN ('in_progress', 'done')", name="state_known"),)

    user_id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(Uuid(as_uuid=False))
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


order_events = event_table("order_events", Base.metadata)
outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)
