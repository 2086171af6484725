"""The catalog's side of the order saga: reactions to ``orders.events`` (docs/SAGA.md).

Each reaction runs in one unit of work that records the event id (a redelivery
changes nothing), changes the stock and queues its answer on ``catalog.events``
through the outbox, so the effect and the announcement commit together or not at all.
"""
from __future__ import annotations

import logging
from typing import Any

from nameko_services.catalog.commands import AdjustReservation, ReserveStock
from nameko_services.catalog.domain import RELEASED, RESERVED, Reservation, StockLevel
from nameko_services.catalog.ports import UnitOfWork
from nameko_services.catalog.reservations import adjust, apply_move, reserve
from nameko_services.common.errors import (
    OutOfStock,
    ProductNotFound,
    ReservationNotFound,
    ServiceError,
)

log = logging.getLogger(__name__)

ON_ORDER_PLACED = "catalog.on_order_placed"
ON_STOCK_ADJUSTMENT_REQUESTED = "catalog.on_stock_adjustment_requested"
ON_ORDER_CONFIRMED = "catalog.on_order_confirmed"
ON_ORDER_CANCELLED = "catalog.on_order_cancelled"


def on_order_placed(uow: UnitOfWork, event_id: str, cmd: ReserveStock) -> None:
    """Reserve the order's items, all or none, and say ``stock_reserved`` or ``stock_reservation_failed``.

    A reservation that is over or holds a later version of the order makes the event
    stale: nothing changes and nothing is announced.
    """
    with uow:
        if not uow.first_delivery(event_id, ON_ORDER_PLACED):
            return
        answer = _reserve_or_refuse(uow, cmd)
        if answer is not None:
            uow.outbox.add(*answer)
        uow.commit()


def _reserve_or_refuse(uow: UnitOfWork, cmd: ReserveStock) -> tuple[str, dict[str, Any]] | None:
    failure: tuple[str, dict[str, Any]]
    try:
        reservation, created = reserve(uow, cmd)
    except OutOfStock as short:
        failure = ("out_of_stock", short.details)
    except ProductNotFound as missing:
        failure = ("product_unavailable", missing.details)
    else:
        if created or _holds(reservation, cmd.order_version):
            log.info("stock reserved", extra={"order_id": cmd.order_id, "order_version": cmd.order_version})
            return "stock_reserved", {"order_id": cmd.order_id, "order_version": cmd.order_version,
                                      "items": _items(reservation)}
        log.info("stale order_placed ignored", extra={"order_id": cmd.order_id,
                                                      "status": reservation.status,
                                                      "held_version": reservation.order_version})
        return None
    uow.reservations.discard(cmd.order_id)  # a failed reservation holds nothing, keeps nothing
    log.info("stock reservation failed", extra={"order_id": cmd.order_id, "reason": failure[0]})
    return "stock_reservation_failed", {"order_id": cmd.order_id, "order_version": cmd.order_version,
                                        "reason": failure[0], "details": failure[1]}


def on_stock_adjustment_requested(uow: UnitOfWork, event_id: str, cmd: AdjustReservation) -> None:
    """Hold a modified order's new items; say ``stock_adjusted`` or ``stock_adjustment_failed``.

    Both answers carry the order version and the items now held, so the order and its
    reservation agree whichever way it went. A stale request changes and says nothing.
    """
    with uow:
        if not uow.first_delivery(event_id, ON_STOCK_ADJUSTMENT_REQUESTED):
            return
        adjusted = adjust(uow, cmd)
        if adjusted is None:
            log.info("stale stock_adjustment_requested ignored",
                     extra={"order_id": cmd.order_id, "order_version": cmd.order_version})
        else:
            uow.outbox.add(*_adjustment_answer(cmd, *adjusted))
        uow.commit()


def _adjustment_answer(cmd: AdjustReservation, reservation: Reservation,
                       refused: ServiceError | None) -> tuple[str, dict[str, Any]]:
    answer = {"order_id": cmd.order_id, "order_version": cmd.order_version, "items": _items(reservation)}
    if refused is None:
        log.info("stock adjusted", extra={"order_id": cmd.order_id, "order_version": cmd.order_version})
        return "stock_adjusted", answer
    reason = "out_of_stock" if isinstance(refused, OutOfStock) else "product_unavailable"
    log.info("stock adjustment refused", extra={"order_id": cmd.order_id, "reason": reason})
    return "stock_adjustment_failed", dict(answer, reason=reason, details=refused.details)


def on_order_confirmed(uow: UnitOfWork, event_id: str, order_id: str) -> None:
    """The order is paid: its reserved units leave the warehouse; say ``stock_committed``."""
    with uow:
        if not uow.first_delivery(event_id, ON_ORDER_CONFIRMED):
            return
        reservation = uow.reservations.lock(order_id)
        if reservation is None:
            raise ReservationNotFound(details={"order_id": order_id})
        if reservation.commit():
            apply_move(uow, reservation, StockLevel.commit)
        uow.outbox.add("stock_committed", {"order_id": order_id})
        uow.commit()


def on_order_cancelled(uow: UnitOfWork, event_id: str, order_id: str, order_version: int) -> None:
    """Release the order's reserved units or put committed ones back; say ``stock_released``.

    An order that reserved nothing yet leaves a released tombstone, so a late
    ``order_placed`` reserves nothing.
    """
    with uow:
        if not uow.first_delivery(event_id, ON_ORDER_CANCELLED):
            return
        reservation = uow.reservations.claim(order_id, RELEASED, order_version)
        if reservation is not None and (move := reservation.cancel()) is not None:
            apply_move(uow, reservation, move)
        uow.outbox.add("stock_released", {"order_id": order_id})
        uow.commit()


def _holds(reservation: Reservation, order_version: int) -> bool:
    """Does the reservation hold exactly this version's items (a repeat, not a stale event)?"""
    return reservation.status == RESERVED and reservation.order_version == order_version


def _items(reservation: Reservation) -> list[dict[str, Any]]:
    return [{"product_id": i.product_id, "quantity": i.quantity} for i in reservation.items]
