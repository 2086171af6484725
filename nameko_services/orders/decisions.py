"""The rules of an order: commands and saga reactions that return new events and messages.

Pure functions of the current ``Order``. Each returns an ``Outcome``: the events to append
(their versions follow the order's) and the ``orders.events`` messages to announce, built
from the state after the events, so ``order_version`` is always the stream's new version.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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
    CANCELLED,
    CANCELLED_BY_ADMIN,
    CANCELLED_BY_CUSTOMER,
    CAPTURE_REQUESTED,
    COMPENSATION_FAILED,
    COMPENSATION_RETRIED,
    CONFIRMED,
    MODIFICATION_REJECTED,
    MODIFICATION_REQUESTED,
    OPEN_STATUSES,
    ORDER_CANCELLED,
    ORDER_DELIVERED,
    ORDER_MODIFIED,
    ORDER_PLACED,
    ORDER_SHIPPED,
    OUT_OF_STOCK,
    PAYMENT_AUTHORISED,
    PAYMENT_CAPTURED,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    PAYMENT_VOIDED,
    PAYMENT_WAIVED,
    PENDING,
    REFUNDED,
    SHIPPED,
    SHIPPING_ADDRESS_CHANGED,
    STOCK_RESERVED,
    TIMED_OUT,
    Actor,
    Event,
    Message,
    Order,
    Outcome,
    Priced,
    ignore,
)

Announce = Callable[[Order], list[Message]]
CUSTOMER_CANCELLABLE = (PENDING, AWAITING_PAYMENT, CONFIRMED)
ADMIN_CANCELLABLE = (*CUSTOMER_CANCELLABLE, SHIPPED)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def change(order: Order, event: Event, announce: Announce | None = None) -> Outcome:
    """One new event, and the messages describing the order after it."""
    return changes(order, (event,), announce)


def changes(order: Order, events: tuple[Event, ...], announce: Announce | None = None) -> Outcome:
    """New events in order, and the messages describing the order after the last."""
    after = _after(order, events)
    return Outcome(events, tuple(announce(after)) if announce else ())


def _after(order: Order, events: tuple[Event, ...]) -> Order:
    after = copy.deepcopy(order)
    for version, event in enumerate(events, start=order.version + 1):
        after.apply(event.type, event.data, version, order.updated_at or _EPOCH)
    return after


def then_payment(order: Order, event: Event) -> Outcome:
    """The stock is held after ``event``: ask for the payment, or confirm a free order at once."""
    if _after(order, (event,)).total == 0:
        return changes(order, (event, Event(PAYMENT_WAIVED, {})), lambda o: [messages.order_confirmed(o)])
    return change(order, event, lambda o: [messages.payment_requested(o)])


# --- access ------------------------------------------------------------------------------

def visible(order: Order | None, actor: Actor, order_id: str) -> Order:
    """The order if the actor owns it or is an admin; anybody else's does not exist (404)."""
    if order is None or not (actor.is_admin or order.user_id == actor.user_id):
        raise OrderNotFound(details={"order_id": order_id})
    return order


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("Only an admin may do this.")


# --- commands ----------------------------------------------------------------------------

def check_payable(priced: Priced) -> None:
    """An order's total must be one a payment can take (docs/API.md "Limits"); zero needs none."""
    if priced.total > MAX_PAYMENT_AMOUNT:
        raise OrderTotalTooLarge(details={"total": [
            f"The order total {priced.total} is above the most one payment can take, "
            f"{MAX_PAYMENT_AMOUNT} (minor units)."], "max_total": MAX_PAYMENT_AMOUNT})


def place(order_id: str, user_id: str, priced: Priced, shipping_address: dict[str, Any],
          payment_token: str, deadline_at: datetime) -> Outcome:
    """A new order, pending until the catalog reserves its stock."""
    check_payable(priced)
    data = {"user_id": user_id, "items": [line.to_dict() for line in priced.lines],
            "total": priced.total, "currency": priced.currency, "shipping_address": shipping_address,
            "payment_token": payment_token, "deadline_at": deadline_at.isoformat()}
    return change(Order(order_id), Event(ORDER_PLACED, data), lambda o: [messages.order_placed(o)])


def check_modifiable(order: Order, actor: Actor) -> None:
    """Only the customer changes an order, before the capture is requested, one change at a time."""
    if order.user_id != actor.user_id:
        raise PermissionDenied("Only the customer who placed the order may change it.")
    if not order.modifiable or order.pending_modification is not None:
        raise OrderNotModifiable(details={"status": order.status,
                                          "capture_requested": order.capture_requested,
                                          "modification_pending": order.pending_modification is not None})


def modify(order: Order, actor: Actor, priced: Priced | None,
           shipping_address: dict[str, Any] | None) -> Outcome:
    """A new address at once; new items are asked of the catalog first (SAGA.md step 8).

    The order keeps its items until the catalog answers ``stock_adjusted`` or
    ``stock_adjustment_failed`` for this version, so the order and its reservation can
    never disagree, however long the catalog takes.
    """
    check_modifiable(order, actor)
    if priced is not None:
        check_payable(priced)
    if priced is None:
        return change(order, Event(SHIPPING_ADDRESS_CHANGED, {"shipping_address": shipping_address}))
    data: dict[str, Any] = {"items": [line.to_dict() for line in priced.lines], "total": priced.total,
                            "currency": priced.currency}
    if shipping_address is not None:
        data["shipping_address"] = shipping_address
    return change(order, Event(MODIFICATION_REQUESTED, data),
                  lambda o: [messages.stock_adjustment_requested(o)])


def rejection(data: dict[str, Any]) -> ServiceError:
    """The error a caller sees for a ``ModificationRejected`` event's reason."""
    if data.get("reason") == "product_unavailable":
        return ProductNotFound(details=data.get("details") or {})
    return OutOfStock(details=data.get("details") or {})


def cancel(order: Order, actor: Actor) -> Outcome:
    """Customers cancel before shipping, admins before delivery."""
    allowed, reason = ((ADMIN_CANCELLABLE, CANCELLED_BY_ADMIN) if actor.is_admin
                       else (CUSTOMER_CANCELLABLE, CANCELLED_BY_CUSTOMER))
    if order.status not in allowed:
        raise OrderNotCancellable(details={"status": order.status})
    return cancellation(order, reason)


def cancellation(order: Order, reason: str, cause: str | None = None) -> Outcome:
    data = {"reason": reason} if cause is None else {"reason": reason, "cause": cause}
    return change(order, Event(ORDER_CANCELLED, data), lambda o: [messages.order_cancelled(o)])


def ship(order: Order, actor: Actor) -> Outcome:
    """A confirmed order whose money was not all given back goes out."""
    require_admin(actor)
    if order.status != CONFIRMED or order.payment_status == REFUNDED:
        raise OrderNotShippable(details={"status": order.status, "payment_status": order.payment_status})
    return change(order, Event(ORDER_SHIPPED, {}))


def deliver(order: Order, actor: Actor) -> Outcome:
    require_admin(actor)
    if order.status != SHIPPED:
        raise OrderNotDeliverable(details={"status": order.status})
    return change(order, Event(ORDER_DELIVERED, {}))


def time_out(order: Order, now: datetime) -> Outcome:
    """An order still waiting on stock or payment after its deadline is cancelled."""
    if order.status not in OPEN_STATUSES or order.deadline_at is None or order.deadline_at > now:
        return ignore(f"order is {order.status}, deadline {order.deadline_at}: nothing to time out")
    return cancellation(order, TIMED_OUT)


def retry_compensation(order: Order, actor: Actor) -> Outcome:
    """Ask again for the compensation that failed: a cancellation again, or the void of a stray payment."""
    require_admin(actor)
    if not order.needs_attention:
        raise NoCompensationPending(details={"order_id": order.id})
    payment_id = order.attention_payment_id
    announce: Announce = ((lambda o: [messages.order_cancelled(o)]) if order.status == CANCELLED
                          else (lambda o: [messages.void_requested(o.id, payment_id or "")]))
    return change(order, Event(COMPENSATION_RETRIED, {"payment_id": payment_id}), announce)


# --- reactions to catalog and payments events (docs/SAGA.md) ----------------------------

def _stale(what: str, order: Order, version: int) -> Outcome:
    return ignore(f"stale {what} for version {version}: the order is {order.status} "
                  f"at version {order.saga_version}")


def on_stock_reserved(order: Order, version: int) -> Outcome:
    if order.status != PENDING or version != order.saga_version:
        return _stale("stock_reserved", order, version)
    return then_payment(order, Event(STOCK_RESERVED, {}))


def _adjustment_awaited(order: Order, version: int) -> bool:
    return (order.pending_modification is not None and order.status in OPEN_STATUSES
            and version == order.saga_version)


def on_stock_adjusted(order: Order, version: int) -> Outcome:
    """The catalog holds the requested items: the order takes them and asks for the new amount."""
    if not _adjustment_awaited(order, version):
        return _stale("stock_adjusted", order, version)
    return then_payment(order, Event(ORDER_MODIFIED, dict(order.pending_modification or {})))


def on_stock_adjustment_failed(order: Order, version: int, reason: str, details: dict[str, Any],
                               held: list[dict[str, Any]]) -> Outcome:
    """The catalog could not hold the requested items: keep the old ones, or cancel if it holds none."""
    if not _adjustment_awaited(order, version):
        return _stale("stock_adjustment_failed", order, version)
    if not held:
        return cancellation(order, OUT_OF_STOCK, cause=reason)
    return then_payment(order, Event(MODIFICATION_REJECTED, {"reason": reason, "details": details}))


def on_stock_reservation_failed(order: Order, version: int, reason: str) -> Outcome:
    if order.status != PENDING or version != order.saga_version:
        return _stale("stock_reservation_failed", order, version)
    return cancellation(order, OUT_OF_STOCK, cause=reason)


def on_payment_authorised(order: Order, version: int, payment_id: str) -> Outcome:
    """Capture a current authorisation; void one that is stale or for an order that moved on."""
    if payment_id == order.payment_id:
        return ignore(f"payment {payment_id} is already being captured")
    if order.status == AWAITING_PAYMENT and not order.capture_requested and version == order.saga_version:
        return change(order, Event(CAPTURE_REQUESTED, {"payment_id": payment_id}),
                      lambda o: [messages.capture_requested(o)])
    stale = _stale("payment_authorised", order, version)
    return Outcome(messages=(messages.void_requested(order.id, payment_id),),
                   note=f"{stale.note}; void requested")


def on_payment_failed(order: Order, version: int, payment_id: str, reason: str) -> Outcome:
    # Once the capture is requested the payment is known by id; before, only the version tells.
    current = order.status == AWAITING_PAYMENT and (
        payment_id == order.payment_id if order.capture_requested else version == order.saga_version)
    if not current:
        return _stale("payment_failed", order, version)
    return cancellation(order, PAYMENT_FAILED, cause=reason)


def on_payment_captured(order: Order, version: int, payment_id: str) -> Outcome:
    """Confirm the order; a capture for a cancelled order is refunded by payments on order_cancelled."""
    if not (order.status == AWAITING_PAYMENT and order.capture_requested and payment_id == order.payment_id):
        return _stale(f"payment_captured of {payment_id}", order, version)
    return change(order, Event(PAYMENT_CAPTURED, {"payment_id": payment_id}),
                  lambda o: [messages.order_confirmed(o)])


def on_payment_refunded(order: Order, payment_id: str, refunded_total: int) -> Outcome:
    """Money of the order's payment went back: ``partially_refunded`` or ``refunded``."""
    if payment_id != order.payment_id or refunded_total <= order.refunded_total:
        return ignore(f"refund of {payment_id} to {refunded_total} changes nothing")
    return change(order, Event(PAYMENT_REFUNDED, {"payment_id": payment_id,
                                                  "refunded_total": refunded_total}))


def on_payment_voided(order: Order, payment_id: str) -> Outcome:
    """The order's authorised payment was voided (a stale authorisation's void is not the order's)."""
    if payment_id != order.payment_id or order.payment_status != PAYMENT_AUTHORISED:
        return ignore(f"void of {payment_id} changes nothing")
    return change(order, Event(PAYMENT_VOIDED, {"payment_id": payment_id}))


def on_compensation_failed(order: Order, payment_id: str, action: str, reason: str) -> Outcome:
    """A void or refund keeps failing: an operator must look at the order."""
    return change(order, Event(COMPENSATION_FAILED, {"payment_id": payment_id, "action": action,
                                                     "reason": reason}))
