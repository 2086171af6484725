"""The order aggregate: the fold of its events, and its rules as methods (docs/SAGA.md).

Pure: standard library and the common kernel (``common/aggregate.py``). A rule checks
the state, ``trigger``s the events it decides (applied at once) and ``announce``s the
messages for catalog and payments, built from the state after them, so a message's
``order_version`` is always the stream's new version. Reactions to the other services'
events return why they changed nothing (stale, repeated), or None.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nameko_services.common import address
from nameko_services.common.aggregate import Aggregate
from nameko_services.common.errors import (
    NoCompensationPending,
    OrderNotCancellable,
    OrderNotDeliverable,
    OrderNotFound,
    OrderNotModifiable,
    OrderNotShippable,
    OrderTotalTooLarge,
    OutOfStock,
    PermissionDenied,
    ProductNotFound,
    ServiceError,
)
from nameko_services.common.limits import MAX_PAYMENT_AMOUNT
from nameko_services.orders import messages
from nameko_services.orders.domain import (
    AWAITING_PAYMENT,
    BOOKKEEPING,
    CANCELLED,
    CANCELLED_BY_ADMIN,
    CANCELLED_BY_CUSTOMER,
    CAPTURE_REQUESTED,
    COMPENSATION_FAILED,
    COMPENSATION_RETRIED,
    CONFIRMED,
    DELIVERED,
    MODIFICATION_REJECTED,
    MODIFICATION_REQUESTED,
    NOT_REQUIRED,
    OPEN_STATUSES,
    ORDER_CANCELLED,
    ORDER_DELIVERED,
    ORDER_MODIFIED,
    ORDER_PLACED,
    ORDER_SHIPPED,
    OUT_OF_STOCK,
    PAID,
    PARTIALLY_REFUNDED,
    PAYMENT_ACTION_REQUIRED,
    PAYMENT_AUTHORISED,
    PAYMENT_CAPTURED,
    PAYMENT_FAILED,
    PAYMENT_PENDING,
    PAYMENT_REFUNDED,
    PAYMENT_VOIDED,
    PAYMENT_WAIVED,
    PENDING,
    REFUNDED,
    SHIPPED,
    SHIPPING_ADDRESS_CHANGED,
    STOCK_RESERVED,
    TIMED_OUT,
    VOIDED,
    Actor,
    Line,
    Priced,
    visible,
    wire,
)

CUSTOMER_CANCELLABLE = (PENDING, AWAITING_PAYMENT, CONFIRMED)
ADMIN_CANCELLABLE = (*CUSTOMER_CANCELLABLE, SHIPPED)


@dataclass
class Order(Aggregate):
    """The order as its events say it is."""

    user_id: str = ""
    status: str = "new"
    cancellation_reason: str | None = None
    items: tuple[Line, ...] = ()
    total: int = 0
    currency: str = ""
    shipping_address: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
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
    # The version of the last saga step: replies from catalog and payments must echo it.
    saga_version: int = 0
    deadline_at: datetime | None = None
    captured_at: str | None = None  # when payments captured (ISO 8601 UTC), if its event said
    # What the customer must do for the payment to go on (3-D Secure), {"type": "redirect", "url"},
    # until it is authorised, fails or the order moves on.
    payment_action: dict[str, str] | None = None

    def mutate(self, event_type: str, data: Mapping[str, Any]) -> None:
        _APPLY[event_type](self, data)
        if event_type not in BOOKKEEPING:
            self.saga_version = self.version

    # --- what it is --------------------------------------------------------------------------

    @property
    def modifiable(self) -> bool:
        return self.status in OPEN_STATUSES and not self.capture_requested

    def public_items(self) -> list[dict[str, Any]]:
        return [line.to_dict() for line in self.items]

    def wire_items(self) -> list[dict[str, Any]]:
        return wire(self.items)

    def requested_wire_items(self) -> list[dict[str, Any]]:
        """The items of the pending modification, as the wire carries them."""
        requested = (self.pending_modification or {}).get("items", ())
        return wire(Line.from_dict(item) for item in requested)

    def check_visible(self, actor: Actor) -> Order:
        if not visible(actor, self.user_id):
            raise OrderNotFound(details={"order_id": self.id})
        return self

    # --- commands ------------------------------------------------------------------------------

    @classmethod
    def place(cls, order_id: str, user_id: str, priced: Priced, shipping_address: dict[str, Any],
              payment_token: str, deadline_at: datetime, note: str | None = None) -> Order:
        """A new order, pending until the catalog reserves its stock."""
        check_payable(priced)
        order = cls(order_id)
        order.trigger(ORDER_PLACED, {
            "user_id": user_id, **_priced(priced), "shipping_address": shipping_address,
            "payment_token": payment_token, "deadline_at": deadline_at.isoformat(), "note": note})
        order.announce(messages.order_placed(order))
        return order

    def modify(self, actor: Actor, price: Callable[[], Priced] | None,
               shipping_address: dict[str, Any] | None) -> None:
        """A new address at once; new items (priced by ``price``) are asked of the catalog first.

        The order keeps its items until the catalog answers ``stock_adjusted`` or
        ``stock_adjustment_failed`` for this version, so the order and its reservation can
        never disagree, however long the catalog takes (SAGA.md step 8).
        """
        self.check_modifiable(actor)
        if price is None:
            self.trigger(SHIPPING_ADDRESS_CHANGED, {"shipping_address": shipping_address})
            return
        priced = price()
        check_payable(priced)
        data = _priced(priced) | ({} if shipping_address is None else {"shipping_address": shipping_address})
        self.trigger(MODIFICATION_REQUESTED, data)
        self.announce(messages.stock_adjustment_requested(self))

    def cancel(self, actor: Actor) -> None:
        """Customers cancel before shipping, admins before delivery."""
        allowed, reason = ((ADMIN_CANCELLABLE, CANCELLED_BY_ADMIN) if actor.is_admin
                           else (CUSTOMER_CANCELLABLE, CANCELLED_BY_CUSTOMER))
        if self.status not in allowed:
            raise OrderNotCancellable(details={"status": self.status})
        self._cancel(reason)

    def ship(self, actor: Actor) -> None:
        """A confirmed order whose money was not all given back goes out."""
        _require_admin(actor)
        if self.status != CONFIRMED or self.payment_status == REFUNDED:
            raise OrderNotShippable(details={"status": self.status, "payment_status": self.payment_status})
        self.trigger(ORDER_SHIPPED, {})
        self.announce(messages.order_shipped(self))

    def deliver(self, actor: Actor) -> None:
        _require_admin(actor)
        if self.status != SHIPPED:
            raise OrderNotDeliverable(details={"status": self.status})
        self.trigger(ORDER_DELIVERED, {})
        self.announce(messages.order_delivered(self))

    def time_out(self, now: datetime) -> str | None:
        """An order still waiting on stock or payment after its deadline is cancelled."""
        if self.status not in OPEN_STATUSES or self.deadline_at is None or self.deadline_at > now:
            return f"order is {self.status}, deadline {self.deadline_at}: nothing to time out"
        self._cancel(TIMED_OUT)
        return None

    def retry_compensation(self, actor: Actor) -> None:
        """Ask again for the compensation that failed: the cancellation, or the void of a stray payment."""
        _require_admin(actor)
        if not self.needs_attention:
            raise NoCompensationPending(details={"order_id": self.id})
        payment_id = self.attention_payment_id
        self.trigger(COMPENSATION_RETRIED, {"payment_id": payment_id})
        self.announce(messages.order_cancelled(self) if self.status == CANCELLED
                      else messages.void_requested(self.id, payment_id or ""))

    # --- reactions to catalog and payments (docs/SAGA.md) -------------------------------------

    def on_stock_reserved(self, version: int) -> str | None:
        if self.status != PENDING or version != self.saga_version:
            return self._stale("stock_reserved", version)
        self._then_payment(STOCK_RESERVED, {})
        return None

    def on_stock_reservation_failed(self, version: int, reason: str) -> str | None:
        if self.status != PENDING or version != self.saga_version:
            return self._stale("stock_reservation_failed", version)
        self._cancel(OUT_OF_STOCK, cause=reason)
        return None

    def on_stock_adjusted(self, version: int) -> str | None:
        """The catalog holds the requested items: the order takes them and asks for the new amount."""
        if not self._adjustment_awaited(version):
            return self._stale("stock_adjusted", version)
        self._then_payment(ORDER_MODIFIED, dict(self.pending_modification or {}))
        return None

    def on_stock_adjustment_failed(self, version: int, reason: str, details: dict[str, Any],
                                   held: list[dict[str, Any]]) -> str | None:
        """The catalog could not hold the requested items: keep the old ones, or cancel if none are held."""
        if not self._adjustment_awaited(version):
            return self._stale("stock_adjustment_failed", version)
        if not held:
            self._cancel(OUT_OF_STOCK, cause=reason)
        else:
            self._then_payment(MODIFICATION_REJECTED, {"reason": reason, "details": details})
        return None

    def on_payment_authorised(self, version: int, payment_id: str) -> str | None:
        """Capture a current authorisation; void one that is stale or for an order that moved on."""
        if payment_id == self.payment_id:
            return f"payment {payment_id} is already being captured"
        if self.status == AWAITING_PAYMENT and not self.capture_requested and version == self.saga_version:
            self.trigger(CAPTURE_REQUESTED, {"payment_id": payment_id})
            self.announce(messages.capture_requested(self))
            return None
        self.announce(messages.void_requested(self.id, payment_id))
        return f"{self._stale('payment_authorised', version)}; void requested"

    def on_payment_action_required(self, version: int, payment_id: str,
                                   next_action: Mapping[str, str]) -> str | None:
        """The card needs the customer: show their step; the order keeps waiting (its deadline holds)."""
        waiting = self.status == AWAITING_PAYMENT and not self.capture_requested
        if not (waiting and version == self.saga_version):
            return self._stale("payment_action_required", version)
        self.trigger(PAYMENT_ACTION_REQUIRED, {"payment_id": payment_id,
                                               "payment_action": dict(next_action)})
        self.announce(messages.payment_action_shown(self))
        return None

    def on_payment_failed(self, version: int, payment_id: str, reason: str) -> str | None:
        # Once the capture is requested the payment is known by id; before, only the version tells.
        current = self.status == AWAITING_PAYMENT and (
            payment_id == self.payment_id if self.capture_requested else version == self.saga_version)
        if not current:
            return self._stale("payment_failed", version)
        self._cancel(PAYMENT_FAILED, cause=reason)
        return None

    def on_payment_captured(self, version: int, payment_id: str, captured_at: str = "") -> str | None:
        """Confirm the order by the capture it asked for, or by one payments made at once for the
        current version. A stray capture (the order changed or moved on first) is refunded: by
        payments on order_cancelled for a cancelled order, on void_requested otherwise."""
        asked = self.capture_requested and payment_id == self.payment_id
        at_once = not self.capture_requested and version == self.saga_version
        if self.status == AWAITING_PAYMENT and (asked or at_once):
            self.trigger(PAYMENT_CAPTURED, {"payment_id": payment_id, **({"captured_at": captured_at}
                                                                         if captured_at else {})})
            self.announce(messages.order_confirmed(self))
            return None
        stale = self._stale(f"payment_captured of {payment_id}", version)
        if payment_id == self.payment_id or self.status == CANCELLED:
            return stale  # a repeat of the order's own capture, or payments refunds on order_cancelled
        self.announce(messages.void_requested(self.id, payment_id))
        return f"{stale}; refund requested"

    def on_payment_refunded(self, payment_id: str, refunded_total: int) -> str | None:
        """Money of the order's payment went back: ``partially_refunded`` or ``refunded``."""
        if payment_id != self.payment_id or refunded_total <= self.refunded_total:
            return f"refund of {payment_id} to {refunded_total} changes nothing"
        self.trigger(PAYMENT_REFUNDED, {"payment_id": payment_id, "refunded_total": refunded_total})
        return None

    def on_payment_voided(self, payment_id: str) -> str | None:
        """The order's authorised payment was voided (a stale authorisation's void is not the order's)."""
        if payment_id != self.payment_id or self.payment_status != PAYMENT_AUTHORISED:
            return f"void of {payment_id} changes nothing"
        self.trigger(PAYMENT_VOIDED, {"payment_id": payment_id})
        return None

    def on_compensation_failed(self, payment_id: str, action: str, reason: str) -> None:
        """A void or refund keeps failing: an operator must look at the order."""
        self.trigger(COMPENSATION_FAILED, {"payment_id": payment_id, "action": action, "reason": reason})

    # --- helpers -------------------------------------------------------------------------------

    def check_modifiable(self, actor: Actor) -> None:
        """Only the customer changes an order, before it is paid (or its capture requested), one
        change at a time."""
        if self.user_id != actor.user_id:
            raise PermissionDenied("Only the customer who placed the order may change it.")
        if not self.modifiable or self.pending_modification is not None:
            raise OrderNotModifiable(details={
                "status": self.status, "capture_requested": self.capture_requested,
                "modification_pending": self.pending_modification is not None})

    def _cancel(self, reason: str, cause: str | None = None) -> None:
        self.trigger(ORDER_CANCELLED, {"reason": reason} | ({} if cause is None else {"cause": cause}))
        self.announce(messages.order_cancelled(self))

    def _then_payment(self, event_type: str, data: dict[str, Any]) -> None:
        """The stock is held after this event: ask for the payment, or confirm a free order at once."""
        self.trigger(event_type, data)
        if self.total == 0:
            self.trigger(PAYMENT_WAIVED, {})
            self.announce(messages.order_confirmed(self))
        else:
            self.announce(messages.payment_requested(self))

    def _adjustment_awaited(self, version: int) -> bool:
        return (self.pending_modification is not None and self.status in OPEN_STATUSES
                and version == self.saga_version)

    def _stale(self, what: str, version: int) -> str:
        return (f"stale {what} for version {version}: "
                f"the order is {self.status} at version {self.saga_version}")


def check_payable(priced: Priced) -> None:
    """An order's total must be one a payment can take (docs/API.md "Limits"); zero needs none."""
    if priced.total > MAX_PAYMENT_AMOUNT:
        raise OrderTotalTooLarge(details={"total": [
            f"The order total {priced.total} is above the most one payment can take, "
            f"{MAX_PAYMENT_AMOUNT} (minor units)."], "max_total": MAX_PAYMENT_AMOUNT})


def rejection(data: Mapping[str, Any]) -> ServiceError:
    """The error a caller sees for a ``ModificationRejected`` event's reason."""
    if data.get("reason") == "product_unavailable":
        return ProductNotFound(details=data.get("details") or {})
    return OutOfStock(details=data.get("details") or {})


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only an admin may do this.")


def _priced(priced: Priced) -> dict[str, Any]:
    return {"items": [line.to_dict() for line in priced.lines], "total": priced.total,
            "currency": priced.currency}


# --- how each event changes the order -------------------------------------------------------------

def _placed(order: Order, data: Mapping[str, Any]) -> None:
    order.user_id = str(data["user_id"])
    order.status = PENDING
    _set_items(order, data)
    order.shipping_address = address.normalized(data["shipping_address"])
    order.note = data.get("note")
    order.payment_token = str(data["payment_token"])
    order.deadline_at = datetime.fromisoformat(data["deadline_at"])


def _set_items(order: Order, data: Mapping[str, Any]) -> None:
    order.items = tuple(Line.from_dict(item) for item in data["items"])
    order.total = int(data["total"])
    order.currency = str(data["currency"])


def _modification_requested(order: Order, data: Mapping[str, Any]) -> None:
    order.pending_modification = dict(data)
    order.payment_action = None  # the payment waiting for it is stale: a new one is requested


def _modified(order: Order, data: Mapping[str, Any]) -> None:
    if "items" in data:
        _set_items(order, data)
    if "shipping_address" in data:
        order.shipping_address = address.normalized(data["shipping_address"])
    order.pending_modification = None
    order.status = AWAITING_PAYMENT  # the catalog holds the new items


def _modification_rejected(order: Order, data: Mapping[str, Any]) -> None:
    order.pending_modification = None
    order.status = AWAITING_PAYMENT  # the catalog kept the items the order had


def _shipping_address_changed(order: Order, data: Mapping[str, Any]) -> None:
    order.shipping_address = address.normalized(data["shipping_address"])


def _stock_reserved(order: Order, data: Mapping[str, Any]) -> None:
    order.status = AWAITING_PAYMENT


def _payment_waived(order: Order, data: Mapping[str, Any]) -> None:
    order.status = CONFIRMED  # nothing to pay: the held stock is all the order needs
    order.payment_status = NOT_REQUIRED


def _payment_action_required(order: Order, data: Mapping[str, Any]) -> None:
    order.payment_action = dict(data["payment_action"])


def _capture_requested(order: Order, data: Mapping[str, Any]) -> None:
    order.payment_action = None
    order.payment_id = str(data["payment_id"])
    order.capture_requested = True
    order.payment_status = PAYMENT_AUTHORISED


def _captured(order: Order, data: Mapping[str, Any]) -> None:
    order.payment_action = None
    order.payment_id = str(data["payment_id"])  # captured at once: the order first hears of it here
    order.status = CONFIRMED
    order.payment_status = PAID
    order.captured_at = data.get("captured_at")


def _refunded(order: Order, data: Mapping[str, Any]) -> None:
    # Refunds may arrive out of order: ``refunded_total`` is cumulative, so the largest wins.
    order.refunded_total = max(order.refunded_total, int(data["refunded_total"]))
    order.payment_status = REFUNDED if order.refunded_total >= order.total else PARTIALLY_REFUNDED


def _voided(order: Order, data: Mapping[str, Any]) -> None:
    order.payment_status = VOIDED


def _cancelled(order: Order, data: Mapping[str, Any]) -> None:
    order.payment_action = None
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


_APPLY: dict[str, Callable[[Order, Mapping[str, Any]], None]] = {
    ORDER_PLACED: _placed, MODIFICATION_REQUESTED: _modification_requested, ORDER_MODIFIED: _modified,
    MODIFICATION_REJECTED: _modification_rejected, SHIPPING_ADDRESS_CHANGED: _shipping_address_changed,
    STOCK_RESERVED: _stock_reserved, PAYMENT_WAIVED: _payment_waived,
    CAPTURE_REQUESTED: _capture_requested, PAYMENT_CAPTURED: _captured,
    PAYMENT_REFUNDED: _refunded, PAYMENT_VOIDED: _voided, ORDER_CANCELLED: _cancelled,
    ORDER_SHIPPED: _shipped, ORDER_DELIVERED: _delivered,
    COMPENSATION_FAILED: _compensation_failed, COMPENSATION_RETRIED: _compensation_retried,
    PAYMENT_ACTION_REQUIRED: _payment_action_required,
}
