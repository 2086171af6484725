"""The orders side of the saga: reactions to ``catalog.events`` and ``payments.events``.

Each reaction runs in one unit of work that records the event id (a redelivery changes
nothing), locks and rebuilds the order, lets it judge the reply (stale replies are
ignored, a stale authorisation is voided) and saves what it decided.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from nameko_services.common.event_sourced import retrying
from nameko_services.common.logging import bind
from nameko_services.orders.commands import Reply
from nameko_services.orders.order import Order
from nameko_services.orders.ports import UnitOfWork

log = logging.getLogger(__name__)

ON_STOCK_RESERVED = "orders.on_stock_reserved"
ON_STOCK_RESERVATION_FAILED = "orders.on_stock_reservation_failed"
ON_STOCK_ADJUSTED = "orders.on_stock_adjusted"
ON_STOCK_ADJUSTMENT_FAILED = "orders.on_stock_adjustment_failed"
ON_PAYMENT_AUTHORISED = "orders.on_payment_authorised"
ON_PAYMENT_ACTION_REQUIRED = "orders.on_payment_action_required"
ON_PAYMENT_FAILED = "orders.on_payment_failed"
ON_PAYMENT_CAPTURED = "orders.on_payment_captured"
ON_PAYMENT_COMPENSATION_FAILED = "orders.on_payment_compensation_failed"
ON_PAYMENT_REFUNDED = "orders.on_payment_refunded"
ON_PAYMENT_VOIDED = "orders.on_payment_voided"

# Each handler, and how the order judges its reply: None, or why nothing changed.
REACTIONS: dict[str, Callable[[Order, Reply], str | None]] = {
    ON_STOCK_RESERVED: lambda order, r: order.on_stock_reserved(r.order_version),
    ON_STOCK_RESERVATION_FAILED: lambda order, r: order.on_stock_reservation_failed(r.order_version,
                                                                                    r.reason),
    ON_STOCK_ADJUSTED: lambda order, r: order.on_stock_adjusted(r.order_version),
    ON_STOCK_ADJUSTMENT_FAILED: lambda order, r: order.on_stock_adjustment_failed(
        r.order_version, r.reason, r.details, r.items),
    ON_PAYMENT_AUTHORISED: lambda order, r: order.on_payment_authorised(r.order_version, r.payment_id),
    ON_PAYMENT_ACTION_REQUIRED: lambda order, r: order.on_payment_action_required(
        r.order_version, r.payment_id, r.next_action),
    ON_PAYMENT_FAILED: lambda order, r: order.on_payment_failed(r.order_version, r.payment_id, r.reason),
    ON_PAYMENT_CAPTURED: lambda order, r: order.on_payment_captured(r.order_version, r.payment_id,
                                                                    r.captured_at),
    ON_PAYMENT_COMPENSATION_FAILED: lambda order, r: order.on_compensation_failed(r.payment_id, r.action,
                                                                                  r.reason),
    ON_PAYMENT_REFUNDED: lambda order, r: order.on_payment_refunded(r.payment_id, r.refunded_total),
    ON_PAYMENT_VOIDED: lambda order, r: order.on_payment_voided(r.payment_id),
}


def react(uow: UnitOfWork, handler: str, event_id: str, reply: Reply) -> None:
    """Apply one event to one order, exactly once."""
    bind(order_id=reply.order_id, event_id=event_id)

    def attempt() -> None:
        with uow:
            if not uow.first_delivery(event_id, handler):
                log.info("event already handled; ignored", extra={"handler": handler})
                return
            order = uow.orders.lock(reply.order_id)
            if order is None:
                log.warning("event for an unknown order ignored", extra={"handler": handler})
            else:
                unchanged = REACTIONS[handler](order, reply)
                if unchanged is not None:
                    log.info(unchanged, extra={"handler": handler})
                uow.orders.save(order, causation_id=event_id)  # a stale authorisation still sends a void
            uow.commit()

    retrying(attempt)
