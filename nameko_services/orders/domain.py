"""The words of the orders domain: statuses, event types, lines, prices, who asks. Pure.

The order aggregate itself (its state, how each event changes it, and its rules) is in
``order.py``.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nameko_services.common.errors import OrderNotFound

# Statuses and cancellation reasons of docs/API.md.
PENDING = "pending"
AWAITING_PAYMENT = "awaiting_payment"
CONFIRMED = "confirmed"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
STATUSES = (PENDING, AWAITING_PAYMENT, CONFIRMED, SHIPPED, DELIVERED, CANCELLED)
OPEN_STATUSES = (PENDING, AWAITING_PAYMENT)  # waiting on the saga: they time out

# How the order's money stands (docs/API.md ``payment_status``): ``pending`` until a payment is
# authorised (also when none ever was), ``not_required`` for a free order.
PAYMENT_PENDING = "pending"
PAYMENT_AUTHORISED = "authorised"
PAID = "paid"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"
VOIDED = "voided"
NOT_REQUIRED = "not_required"
PAYMENT_STATUSES = (PAYMENT_PENDING, PAYMENT_AUTHORISED, PAID, PARTIALLY_REFUNDED, REFUNDED, VOIDED,
                    NOT_REQUIRED)

OUT_OF_STOCK = "out_of_stock"
PAYMENT_FAILED = "payment_failed"
CANCELLED_BY_CUSTOMER = "cancelled_by_customer"
CANCELLED_BY_ADMIN = "cancelled_by_admin"
TIMED_OUT = "timed_out"

# Stored event types (the order stream).
ORDER_PLACED = "OrderPlaced"
STOCK_RESERVED = "StockReserved"
CAPTURE_REQUESTED = "CaptureRequested"
PAYMENT_CAPTURED = "PaymentCaptured"
MODIFICATION_REQUESTED = "ModificationRequested"
ORDER_MODIFIED = "OrderModified"
MODIFICATION_REJECTED = "ModificationRejected"
SHIPPING_ADDRESS_CHANGED = "ShippingAddressChanged"
PAYMENT_WAIVED = "PaymentWaived"
PAYMENT_REFUNDED = "PaymentRefunded"
PAYMENT_VOIDED = "PaymentVoided"
ORDER_CANCELLED = "OrderCancelled"
ORDER_SHIPPED = "OrderShipped"
ORDER_DELIVERED = "OrderDelivered"
COMPENSATION_FAILED = "CompensationFailed"
COMPENSATION_RETRIED = "CompensationRetried"
PAYMENT_ACTION_REQUIRED = "PaymentActionRequired"  # the card needs the customer (3-D Secure)
# Bookkeeping (failed compensations, a new address, money returned, the customer's card step):
# they start no saga step, so replies to the step in flight stay current (``Order.saga_version``).
BOOKKEEPING = frozenset({COMPENSATION_FAILED, COMPENSATION_RETRIED, SHIPPING_ADDRESS_CHANGED,
                         PAYMENT_REFUNDED, PAYMENT_VOIDED, PAYMENT_ACTION_REQUIRED})
# Never shown outside the service (event history, logs).
SECRET_FIELDS = frozenset({"payment_token"})


@dataclass(frozen=True)
class Line:
    """One product of an order at the price the catalog quoted."""

    product_id: str
    name: str
    unit_price: int
    quantity: int

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity

    def to_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "name": self.name, "unit_price": self.unit_price,
                "quantity": self.quantity, "line_total": self.line_total}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Line:
        return cls(str(data["product_id"]), str(data["name"]), int(data["unit_price"]),
                   int(data["quantity"]))


@dataclass(frozen=True)
class Priced:
    """Lines priced by the catalog in one currency."""

    currency: str
    lines: tuple[Line, ...]

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines)


@dataclass(frozen=True)
class Actor:
    """Who asks: a customer (``user_id``) and whether they act as an admin."""

    user_id: str | None
    is_admin: bool = False


def parse_order_id(order_id: Any) -> str:
    """A canonical UUID string; anything else names no order (404)."""
    try:
        return str(uuid.UUID(str(order_id)))
    except ValueError:
        raise OrderNotFound(details={"order_id": str(order_id)[:64]}) from None


def visible(actor: Actor, owner_id: str) -> bool:
    """May ``actor`` see an order of ``owner_id``? Its owner and admins may; for anybody else
    it does not exist (404, never 403: the id must not be confirmed)."""
    return actor.is_admin or owner_id == actor.user_id


def wire(lines: Iterable[Line]) -> list[dict[str, Any]]:
    """Items as every event on the wire carries them: ``[{product_id, quantity}]``."""
    return [{"product_id": line.product_id, "quantity": line.quantity} for line in lines]


def public_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's data without secrets (the payment token)."""
    return {key: value for key, value in data.items() if key not in SECRET_FIELDS}
