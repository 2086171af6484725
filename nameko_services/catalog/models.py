"""Catalog tables in the core database (the users tables live beside them, in their own metadata).

``outbox`` and ``processed_events`` are the catalog's: the users service publishes no events.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from nameko_services.common.db import new_metadata
from nameko_services.common.idempotency import processed_events_table
from nameko_services.common.outbox import outbox_table


class Base(DeclarativeBase):
    """Declarative base of the catalog tables."""

    metadata = new_metadata()


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class CategoryRow(Base):
    __tablename__ = "categories"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = _created()


class ProductRow(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        Index("ix_products_name_id", "name", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# SKUs are unique whatever their case.
Index("uq_products_sku_lower", func.lower(ProductRow.sku), unique=True)


class StockLevelRow(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (
        # The last line of defence against overselling, whatever the code does.
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = _created()


class StockReservationRow(Base):
    """One row per order: claimed first, so concurrent calls for one order queue up on it."""

    __tablename__ = "stock_reservations"
    __table_args__ = (
        CheckConstraint("status IN ('reserved', 'released', 'committed', 'restocked')",
                        name="status_known"),
        CheckConstraint("order_version > 0", name="order_version_positive"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    # The order version whose items are held; requests for older versions are stale.
    order_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()


class StockReservationItemRow(Base):
    __tablename__ = "stock_reservation_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    order_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stock_reservations.order_id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True, index=True)
    quantity: Mapped[int] = mapped_column(Integer)


# Events of catalog.events, written in the transaction of the stock change they announce.
outbox = outbox_table(Base.metadata)
# Orders events already applied, recorded in the transaction that applied them.
processed_events = processed_events_table(Base.metadata)
