"""The orders side of the saga: reactions to ``catalog.events`` and ``payments.events``.

Each reaction runs in one unit of work that records the event id (a redelivery changes
nothing), locks and rebuilds the order, lets ``decisions`` judge the reply (stale replies
are ignored, a stale authorisation is voided) and stores and announces the result.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nameko_services.common.errors import InvalidInput
from nameko_services.common.logging import bind
from nameko_services.orders import decisions
from nameko_services.orders.domain import Order, Outcome
from nameko_services.orders.handlers import now, retrying, stage
from nameko_services.orders.ports import UnitOfWork

log = logging.getLogger(__name__)

ON_STOCK_RESERVED = "orders.on_stock_reserved"
ON_STOCK_RESERVATION_FAILED = "orders.on_stock_reservation_failed"
ON_STOCK_ADJUSTED = "orders.on_stock_adjusted"
ON_STOCK_ADJUSTMENT_FAILED = "orders.on_stock_adjustment_failed"
ON_PAYMENT_AUTHORISED = "orders.on_payment_authorised"
ON_PAYMENT_FAILED = "orders.on_payment_failed"
ON_PAYMENT_CAPTURED = "orders.on_payment_captured"
ON_PAYMENT_COMPENSATION_FAILED = "orders.on_payment_compensation_failed"
ON_PAYMENT_REFUNDED = "orders.on_payment_refunded"
ON_PAYMENT_VOIDED = "orders.on_payment_voided"


class EventWithoutId(InvalidInput):
    """An event arrived without a ``nameko.event_id`` header: it cannot be applied exactly once."""

    default_message = "The event carries no nameko.event_id header."


@dataclass(frozen=True)
class Reply:
    """The fields of a catalog or payments event that orders reads."""

    order_id: str
    order_version: int = 0
    payment_id: str = ""
    reason: str = ""
    action: str = ""
    refunded_total: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)


def require_event_id(event_id: str | None, handler: str) -> str:
    """The event's id; an event without one is refused (it ends in the dead-letter queue)."""
    if not event_id:
        log.error("event without an id refused", extra={"handler": handler})
        raise EventWithoutId(details={"handler": handler})
    return event_id


def react(uow: UnitOfWork, event_id: str, handler: str, order_id: str,
          decide: Callable[[Order], Outcome]) -> None:
    """Apply one event to one order, exactly once."""
    bind(order_id=order_id, event_id=event_id)

    def attempt() -> None:
        with uow:
            if not uow.first_delivery(event_id, handler):
                log.info("event already handled; ignored", extra={"handler": handler})
                return
            order = uow.orders.lock(order_id)
            if order is None:
                log.warning("event for an unknown order ignored", extra={"handler": handler})
            else:
                stage(uow, order, decide(order), at=now(), causation_id=event_id)
            uow.commit()

    retrying(attempt)


def stock_reserved(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_STOCK_RESERVED, reply.order_id,
          lambda order: decisions.on_stock_reserved(order, reply.order_version))


def stock_reservation_failed(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_STOCK_RESERVATION_FAILED, reply.order_id,
          lambda order: decisions.on_stock_reservation_failed(order, reply.order_version, reply.reason))


def stock_adjusted(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_STOCK_ADJUSTED, reply.order_id,
          lambda order: decisions.on_stock_adjusted(order, reply.order_version))


def stock_adjustment_failed(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_STOCK_ADJUSTMENT_FAILED, reply.order_id,
          lambda order: decisions.on_stock_adjustment_failed(order, reply.order_version, reply.reason,
                                                             reply.details, reply.items))


def payment_authorised(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_PAYMENT_AUTHORISED, reply.order_id,
          lambda order: decisions.on_payment_authorised(order, reply.order_version, reply.payment_id))


def payment_failed(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_PAYMENT_FAILED, reply.order_id,
          lambda order: decisions.on_payment_failed(order, reply.order_version, reply.payment_id,
                                                    reply.reason))


def payment_captured(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_PAYMENT_CAPTURED, reply.order_id,
          lambda order: decisions.on_payment_captured(order, reply.order_version, reply.payment_id))


def payment_compensation_failed(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_PAYMENT_COMPENSATION_FAILED, reply.order_id,
          lambda order: decisions.on_compensation_failed(order, reply.payment_id, reply.action,
                                                         reply.reason))


def payment_refunded(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_PAYMENT_REFUNDED, reply.order_id,
          lambda order: decisions.on_payment_refunded(order, reply.payment_id, reply.refunded_total))


def payment_voided(uow: UnitOfWork, event_id: str, reply: Reply) -> None:
    react(uow, event_id, ON_PAYMENT_VOIDED, reply.order_id,
          lambda order: decisions.on_payment_voided(order, reply.payment_id))
