"""Tables of the payments database: the event store, its projection, tombstones, outbox, processed events."""
from __future__ import annotations

import uuid
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
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nameko_services.common.db import new_metadata
from nameko_services.common.event_store import event_table
from nameko_services.common.idempotency import processed_events_table
from nameko_services.common.outbox import outbox_table


class Base(DeclarativeBase):
    """Declarative base of the payments tables."""

    metadata = new_metadata()


payment_events = event_table("payment_events", Base.metadata)
outbox = outbox_table(Base.metadata)
processed_events = processed_events_table(Base.metadata)


class PaymentRow(Base):
    """The ``payments`` projection: the current state of each payment stream."""

    __tablename__ = "payments"
    __table_args__ = (
        # One payment per order version: a redelivered payment_requested never charges twice.
        UniqueConstraint("order_id", "order_version", name="uq_payments_order_id_order_version"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount", name="refund_within_amount"),
        CheckConstraint("status IN ('pending', 'requires_action', 'authorised', 'captured', 'voided', "
                        "'refunded', 'partially_refunded', 'failed')", name="status_known"),
        Index("ix_payments_user_id_created_at", "user_id", "created_at"),
        # The recovery timer looks for processor calls whose result was never recorded.
        Index("ix_payments_pending", "updated_at", postgresql_where=text("pending_action IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    order_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    order_version: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    refunded_amount: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(String(20))
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(String(40))
    needs_attention: Mapped[bool] = mapped_column(Boolean, server_default=false())
    attention_reason: Mapped[str | None] = mapped_column(String(500))
    pending_action: Mapped[str | None] = mapped_column(String(20))
    # While requires_action: what the customer must do, {"type": "redirect", "url": ...}.
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CancelledOrderRow(Base):
    """An order cancelled in the saga: a ``payment_requested`` arriving later is ignored."""

    __tablename__ = "cancelled_orders"

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    cancelled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
