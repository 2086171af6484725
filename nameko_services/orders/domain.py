"""The order aggregate: its state is rebuilt from its events (``Order.apply``), never stored as truth.

Pure: standard library only. ``decisions.py`` holds the commands that check the rules
and return new events; this module holds the state, the event names and how each event
changes the state.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Statuses and cancellation reasons of API.md.
PENDING = "pending"
AWAITING_PAYMENT = "awaiting_payment"
CONFIRMED = "confirmed"
SHIPPED = "shipped"
DELIVERED = "delivered"
CANCELLED = "cancelled"
STATUSES = (PENDING, AWAITING_PAYMENT, CONFIRMED, SHIPPED, DELIVERED, CANCELLED)
OPEN_STATUSES = (PENDING, AWAITING_PAYMENT)  # waiting on the saga: they time out

# How the order's money stands (API.md ``payment_status``): ``pending`` until a payment is
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
# Bookkeeping (failed compensations, a new address, money returned): they start no saga
# step, so replies to the step in flight stay current (see ``Order.saga_version``).
BOOKKEEPING = frozenset({COMPENSATION_FAILED, COMPENSATION_RETRIED, SHIPPING_ADDRESS_CHANGED,
                         PAYMENT_REFUNDED, PAYMENT_VOIDED})
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


@dataclass(frozen=True)
class Event:
    """A new event for the order's stream."""

    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """An event announced on ``orders.events`` (docs/SAGA.md)."""

    type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a command decided: events to append, messages to announce, and a note to log."""

    events: tuple[Event, ...] = ()
    messages: tuple[Message, ...] = ()
    note: str | None = None


def ignore(reason: str) -> Outcome:
    """Nothing happens; ``reason`` is logged."""
    return Outcome(note=reason)


@dataclass
class Order:
    """The order as its events say it is."""

    id: str
    user_id: str = ""
    status: str = "new"
    cancellation_reason: str | None = None
    items: tuple[Line, ...] = ()
    total: int = 0
    currency: str = ""
    shipping_address: dict[str, Any] = field(default_factory=dict)
    payment_token: str = field(default="", repr=False)
    payment_id: str | None = None
    payment_status: str = PAYMENT_PENDING
    refunded_total: int = 0
    capture_requested: bool = False
    needs_attention: bool = False
    attention_reason: str | None = None
    attention_payment_id: str | None = None
    # Items (priced), total, currency and maybe an address the customer asked for, until the
    # catalog answers whether it can hold them (docs/SAGA.md step 8).
    pending_modification: dict[str, Any] | None = None
    version: int = 0
    # The version of the last saga step: replies from catalog and payments must echo it.
    saga_version: int = 0
    deadline_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_history(cls, order_id: str,
                     events: Iterable[tuple[str, Mapping[str, Any], int, datetime]]) -> Order:
        """Fold ``(type, data, version, occurred_at)`` in version order."""
        order = cls(order_id)
        for event_type, data, version, occurred_at in events:
            order.apply(event_type, data, version, occurred_at)
        return order

    def apply(self, event_type: str, data: Mapping[str, Any], version: int, occurred_at: datetime) -> None:
        """Change the state by one stored event."""
        _APPLY[event_type](self, data)
        self.version = version
        if event_type not in BOOKKEEPING:
            self.saga_version = version
        self.created_at = self.created_at or occurred_at
        self.updated_at = occurred_at

    @property
    def modifiable(self) -> bool:
        return self.status in OPEN_STATUSES and not self.capture_requested

    def public_items(self) -> list[dict[str, Any]]:
        return [line.to_dict() for line in self.items]

    def wire_items(self) -> list[dict[str, Any]]:
        """Items as every event on the wire carries them: ``[{product_id, quantity}]``."""
        return wire(self.items)

    def requested_wire_items(self) -> list[dict[str, Any]]:
        """The items of the pending modification, as the wire carries them."""
        requested = (self.pending_modification or {}).get("items", ())
        return wire(Line.from_dict(item) for item in requested)


def wire(lines: Iterable[Line]) -> list[dict[str, Any]]:
    return [{"product_id": line.product_id, "quantity": line.quantity} for line in lines]


def _placed(order: Order, data: Mapping[str, Any]) -> None:
    order.user_id = str(data["user_id"])
    order.status = PENDING
    _set_items(order, data)
    order.shipping_address = dict(data["shipping_address"])
    order.payment_token = str(data["payment_token"])
    order.deadline_at = datetime.fromisoformat(data["deadline_at"])


def _set_items(order: Order, data: Mapping[str, Any]) -> None:
    order.items = tuple(Line.from_dict(item) for item in data["items"])
    order.total = int(data["total"])
    order.currency = str(data["currency"])


def _modification_requested(order: Order, data: Mapping[str, Any]) -> None:
    order.pending_modification = dict(data)


def _modified(order: Order, data: Mapping[str, Any]) -> None:
    if "items" in data:
        _set_items(order, data)
    if "shipping_address" in data:
        order.shipping_address = dict(data["shipping_address"])
    order.pending_modification = None
    order.status = AWAITING_PAYMENT  # the catalog holds the new items (SAGA.md step 8)


def _modification_rejected(order: Order, data: Mapping[str, Any]) -> None:
    order.pending_modification = None
    order.status = AWAITING_PAYMENT  # the catalog kept the items the order had


def _shipping_address_changed(order: Order, data: Mapping[str, Any]) -> None:
    order.shipping_address = dict(data["shipping_address"])


def _payment_waived(order: Order, data: Mapping[str, Any]) -> None:
    order.status = CONFIRMED  # nothing to pay: the held stock is all the order needs
    order.payment_status = NOT_REQUIRED


def _stock_reserved(order: Order, data: Mapping[str, Any]) -> None:
    order.status = AWAITING_PAYMENT


def _capture_requested(order: Order, data: Mapping[str, Any]) -> None:
    order.payment_id = str(data["payment_id"])
    order.capture_requested = True
    order.payment_status = PAYMENT_AUTHORISED


def _captured(order: Order, data: Mapping[str, Any]) -> None:
    order.status = CONFIRMED
    order.payment_status = PAID


def _refunded(order: Order, data: Mapping[str, Any]) -> None:
    # Refunds may arrive out of order: ``refunded_total`` is cumulative, so the largest wins.
    order.refunded_total = max(order.refunded_total, int(data["refunded_total"]))
    order.payment_status = REFUNDED if order.refunded_total >= order.total else PARTIALLY_REFUNDED


def _voided(order: Order, data: Mapping[str, Any]) -> None:
    order.payment_status = VOIDED


def _cancelled(order: Order, data: Mapping[str, Any]) -> None:
    order.status = CANCELLED
    order.cancellation_reason = str(data["reason"])
    order.pending_modification = None


def _shipped(order: Order, data: Mapping[str, Any]) -> None:
    order.status = SHIPPED


def _delivered(order: Order, data: Mapping[str, Any]) -> None:
    order.status = DELIVERED


def _compensation_failed(order: Order, data: Mapping[str, Any]) -> None:
    order.needs_attention = True
    order.attention_payment_id = str(data["payment_id"])
    order.attention_reason = f"{data['action']} of payment {data['payment_id']} failed: {data['reason']}"


def _compensation_retried(order: Order, data: Mapping[str, Any]) -> None:
    order.needs_attention = False
    order.attention_reason = None


_APPLY = {
    ORDER_PLACED: _placed, MODIFICATION_REQUESTED: _modification_requested, ORDER_MODIFIED: _modified,
    MODIFICATION_REJECTED: _modification_rejected, SHIPPING_ADDRESS_CHANGED: _shipping_address_changed,
    PAYMENT_WAIVED: _payment_waived, PAYMENT_REFUNDED: _refunded, PAYMENT_VOIDED: _voided,
    STOCK_RESERVED: _stock_reserved,
    CAPTURE_REQUESTED: _capture_requested, PAYMENT_CAPTURED: _captured, ORDER_CANCELLED: _cancelled,
    ORDER_SHIPPED: _shipped, ORDER_DELIVERED: _delivered,
    COMPENSATION_FAILED: _compensation_failed, COMPENSATION_RETRIED: _compensation_retried,
}


def public_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's data without secrets (the payment token)."""
    return {key: value for key, value in data.items() if key not in SECRET_FIELDS}
