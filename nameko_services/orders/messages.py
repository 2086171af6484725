"""The events the orders service announces on ``orders.events`` (payloads of docs/SAGA.md)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from nameko_services.common.aggregate import Message

if TYPE_CHECKING:
    from nameko_services.orders.order import Order


def order_placed(order: Order) -> Message:
    return Message("order_placed", {
        "order_id": order.id, "order_version": order.saga_version, "user_id": order.user_id,
        "items": order.wire_items(), "total": order.total, "currency": order.currency})


def payment_requested(order: Order) -> Message:
    """Authorise and capture at once (schema 1.1): the order judges the capture when it arrives, and
    has a stray one refunded (docs/SAGA.md step 5). Payments of 1.0 ask for the capture instead."""
    return Message("payment_requested", {
        "order_id": order.id, "order_version": order.saga_version, "user_id": order.user_id,
        "amount": order.total, "currency": order.currency, "payment_token": order.payment_token,
        "capture_at_once": True})


def stock_adjustment_requested(order: Order) -> Message:
    """Hold the pending modification's items instead, or else keep ``current_items``."""
    return Message("stock_adjustment_requested", {
        "order_id": order.id, "order_version": order.saga_version,
        "items": order.requested_wire_items(), "current_items": order.wire_items()})


def capture_requested(order: Order) -> Message:
    return Message("capture_requested", {
        "order_id": order.id, "order_version": order.saga_version, "payment_id": order.payment_id})


def order_confirmed(order: Order) -> Message:
    return Message("order_confirmed", {
        "order_id": order.id, "order_version": order.saga_version, "payment_id": order.payment_id})


def payment_action_shown(order: Order) -> Message:
    """Nobody's saga step: the order now shows the customer's card step (3-D Secure), so the
    gateways' order streams read it after it changed, not when payments announced it."""
    return Message("payment_action_shown", {"order_id": order.id, "order_version": order.saga_version})


def order_shipped(order: Order) -> Message:
    """Nobody's saga step: the storefront's live order page (the gateway's stream) hears it."""
    return Message("order_shipped", {"order_id": order.id})


def order_delivered(order: Order) -> Message:
    return Message("order_delivered", {"order_id": order.id})


def order_cancelled(order: Order) -> Message:
    return Message("order_cancelled", {
        "order_id": order.id, "order_version": order.saga_version, "reason": order.cancellation_reason})


def void_requested(order_id: str, payment_id: str) -> Message:
    """A stale or unwanted authorisation: payments voids it."""
    return Message("void_requested", {"order_id": order_id, "payment_id": payment_id})
