"""Holding and moving an order's stock inside the saga's unit of work (docs/SAGA.md), never committed here.

``reserve`` claims an order and holds its items, ``adjust`` holds a modified order's items
instead of the old ones, all or nothing; ``apply_move`` commits, releases or restocks what a
reservation holds. The reactions of ``saga.py`` call them and commit with their announcement.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from nameko_services.catalog import pricing
from nameko_services.catalog.commands import AdjustReservation, ReserveStock
from nameko_services.catalog.domain import (
    RELEASED,
    RESERVED,
    Reservation,
    ReservedItem,
    StockLevel,
    merge_items,
    move_reservation,
)
from nameko_services.catalog.ports import UnitOfWork
from nameko_services.common.errors import Conflict, OutOfStock, ProductNotFound, ServiceError

log = logging.getLogger(__name__)


def reserve(uow: UnitOfWork, cmd: ReserveStock) -> tuple[Reservation, bool]:
    """Claim the order and hold its items, without committing; True if this call reserved.

    An order that already has a reservation gets it back unchanged. Raises ``OutOfStock``
    or ``ProductNotFound`` with the claim still in the unit of work: roll back or discard it.
    """
    cmd = ReserveStock(cmd.order_id, merge_items(cmd.items), cmd.order_version)
    existing = uow.reservations.claim(cmd.order_id, RESERVED, cmd.order_version)
    if existing is not None:
        return _same_order(existing, cmd.items, cmd.order_version), False
    reservation = _hold(uow, Reservation(cmd.order_id, RESERVED, (), cmd.order_version), cmd.items)
    uow.reservations.add_items(reservation)
    return reservation, True


def adjust(uow: UnitOfWork, cmd: AdjustReservation) -> tuple[Reservation, ServiceError | None] | None:
    """Hold a modified order's items, all or nothing, without committing; None if the request is stale.

    Returns the reservation and, when the requested items cannot be held, why
    (``OutOfStock`` or ``ProductNotFound``). Then it keeps what the order held, or holds
    ``current_items`` if the order's first reservation has not arrived yet (a late
    ``order_placed`` is then stale), or holds nothing. Either way it now belongs to
    ``cmd.order_version``.
    """
    items = pricing.order_items(cmd.items)
    existing = uow.reservations.claim(cmd.order_id, RESERVED, cmd.order_version)
    if existing is not None and (existing.status != RESERVED or existing.order_version >= cmd.order_version):
        return None
    current = existing or Reservation(cmd.order_id, RESERVED, (), cmd.order_version)
    try:
        return _replace(uow, current, items, cmd.order_version), None
    except (OutOfStock, ProductNotFound) as refused:
        return _keep(uow, current, cmd), refused


def _keep(uow: UnitOfWork, current: Reservation, cmd: AdjustReservation) -> Reservation:
    """What a refused adjustment holds: the order's old items, or nothing."""
    if current.items:  # what it holds stays held: no stock moves
        kept = replace(current, order_version=cmd.order_version)
        uow.reservations.replace_items(kept)
        return kept
    try:  # it held nothing yet, so nothing is lost if this fails too
        return _replace(uow, current, pricing.order_items(cmd.current_items), cmd.order_version)
    except (OutOfStock, ProductNotFound):
        released = Reservation(cmd.order_id, RELEASED, (), cmd.order_version)
        uow.reservations.replace_items(released)
        return released


def _replace(uow: UnitOfWork, current: Reservation, items: tuple[ReservedItem, ...],
             order_version: int) -> Reservation:
    reservation = _hold(uow, current, items, order_version)
    uow.reservations.replace_items(reservation)
    return reservation


def _hold(uow: UnitOfWork, current: Reservation, items: tuple[ReservedItem, ...],
          order_version: int | None = None) -> Reservation:
    """Release what ``current`` holds and reserve ``items`` instead, all or nothing."""
    _check_sellable(uow, [item.product_id for item in items])
    levels = uow.stock.lock({item.product_id for item in (*current.items, *items)})
    try:
        move_reservation(levels, current.items, items)
    except OutOfStock as short:
        log.info("stock short for order", extra={"order_id": current.order_id, "short": short.details})
        raise
    uow.stock.save(levels.values())
    version = current.order_version if order_version is None else order_version
    return Reservation(current.order_id, RESERVED, items, version)


def apply_move(uow: UnitOfWork, reservation: Reservation, move: Callable[[StockLevel, int], None]) -> None:
    """Move the stock of every reserved item and store the reservation's new status (no commit)."""
    levels = uow.stock.lock([item.product_id for item in reservation.items])
    for item in reservation.items:
        move(levels[item.product_id], item.quantity)
    uow.stock.save(levels.values())
    uow.reservations.update_status(reservation)
    log.info("stock %s", reservation.status, extra={"order_id": reservation.order_id})


def _same_order(existing: Reservation, items: tuple[ReservedItem, ...], order_version: int) -> Reservation:
    """What a repeated request gets: the reservation as it stands.

    One that is over (released, committed, restocked) or holds a later version of the
    order makes the request stale; the same version for other items is a conflict.
    """
    if existing.status != RESERVED or existing.is_newer_than(order_version):
        return existing
    if existing.items and existing.items != items:
        raise Conflict("This order already holds a reservation for other items.",
                       {"order_id": existing.order_id})
    return existing


def _check_sellable(uow: UnitOfWork, product_ids: list[str]) -> None:
    products = uow.products.get_many(product_ids)
    missing = [pid for pid in product_ids if pid not in products or not products[pid].active]
    if missing:
        raise ProductNotFound(details={"product_ids": missing})
