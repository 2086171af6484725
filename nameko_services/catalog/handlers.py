"""One function per catalog use case; each runs in one unit of work.

Each use case is given the caller (``principal``) and decides first who may: admins and
``catalog:write`` clients change the catalog, stock operators price orders, everybody reads
active products. A use case that refuses some callers reads its input only after that check:
``read`` is the entrypoint's load of the payload, so a refused caller learns nothing of its rules.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from nameko_services.catalog import pricing
from nameko_services.catalog.commands import (
    AdjustReservation,
    CreateCategory,
    CreateProduct,
    ProductQuery,
    ProductView,
    ReserveStock,
)
from nameko_services.catalog.domain import (
    RELEASED,
    RESERVED,
    Category,
    Product,
    Reservation,
    ReservedItem,
    StockLevel,
    becomes_own_ancestor,
    invalid,
    merge_items,
    move_reservation,
    new_id,
    now,
    parse_id,
    require_admin,
    require_stock_operator,
    slugify,
    validate_page,
    validate_slug,
)
from nameko_services.catalog.ports import UnitOfWork
from nameko_services.common.auth import Principal
from nameko_services.common.errors import (
    CategoryInUse,
    CategoryNotFound,
    Conflict,
    DuplicateSku,
    DuplicateSlug,
    OutOfStock,
    ProductNotFound,
    ServiceError,
)
from nameko_services.common.pagination import Page

log = logging.getLogger(__name__)

# --- categories ----------------------------------------------------------------------


def list_categories(uow: UnitOfWork) -> list[Category]:
    with uow:
        return uow.categories.list()


def create_category(uow: UnitOfWork, principal: Principal, read: Callable[[], CreateCategory]) -> Category:
    require_admin(principal)
    cmd = read()
    with uow:
        slug = validate_slug(cmd.slug) if cmd.slug else slugify(cmd.name)
        _check_parent(uow, cmd.parent_id)
        _check_slug_free(uow, slug)
        category = Category(new_id(), cmd.name, slug, cmd.parent_id)
        uow.categories.add(category)
        uow.commit()
    return category


def update_category(uow: UnitOfWork, principal: Principal, category_id: str,
                    read: Callable[[], dict[str, Any]]) -> Category:
    require_admin(principal)
    changes = read()
    with uow:
        if changes.get("parent_id"):
            uow.categories.lock_tree()  # two concurrent moves could otherwise close a loop
        category = _category(uow, category_id)
        if "slug" in changes:
            _check_slug_free(uow, validate_slug(changes["slug"]), category.id)
        if changes.get("parent_id"):
            _check_parent(uow, changes["parent_id"])
            if becomes_own_ancestor(category.id, changes["parent_id"], uow.categories.parent_of):
                raise invalid("parent_id", "A category cannot be its own ancestor.")
        category = replace(category, **changes)
        uow.categories.update(category)
        uow.commit()
    return category


def delete_category(uow: UnitOfWork, principal: Principal, category_id: str) -> None:
    require_admin(principal)
    with uow:
        category = _category(uow, category_id)
        if uow.categories.in_use(category.id):
            raise CategoryInUse(details={"category_id": category.id})
        uow.categories.delete(category.id)
        uow.commit()


def _category(uow: UnitOfWork, category_id: str) -> Category:
    category = uow.categories.get(parse_id(category_id, CategoryNotFound))
    if category is None:
        raise CategoryNotFound(details={"category_id": category_id})
    return category


def _check_parent(uow: UnitOfWork, parent_id: str | None) -> None:
    if parent_id is not None and uow.categories.get(parent_id) is None:
        raise invalid("parent_id", "No category has this id.")


def _check_slug_free(uow: UnitOfWork, slug: str, own_id: str | None = None) -> None:
    other = uow.categories.get_by_slug(slug)
    if other is not None and other.id != own_id:
        raise DuplicateSlug(details={"slug": [f"{slug!r} is taken."]})


# --- products ------------------------------------------------------------------------


def list_products(uow: UnitOfWork, principal: Principal, query: ProductQuery) -> Page[ProductView]:
    """A page of products; inactive ones only for an admin who asks for them."""
    validate_page(query.page, query.per_page)
    with uow:
        if query.category_id is not None:
            query = replace(query, category_id=_category(uow, query.category_id).id)
        query = replace(query, include_inactive=query.include_inactive and principal.is_admin)
        items, total = uow.products.search(query)
        return Page(items, total, query.page, query.per_page)


def get_product(uow: UnitOfWork, principal: Principal, product_id: str) -> ProductView:
    """One product; an inactive one does not exist but for admins."""
    with uow:
        view = _product(uow, product_id)
    if not (view.product.active or principal.is_admin):
        raise ProductNotFound(details={"product_id": product_id})
    return view


def create_product(uow: UnitOfWork, principal: Principal, read: Callable[[], CreateProduct]) -> ProductView:
    require_admin(principal)
    cmd = read()
    with uow:
        _check_sku_free(uow, cmd.sku)
        _check_category(uow, cmd.category_id)
        stamp = now()
        product = Product(new_id(), cmd.sku, cmd.name, cmd.price, cmd.currency, cmd.description,
                          cmd.category_id, created_at=stamp, updated_at=stamp)
        view = ProductView(product, StockLevel(product.id, on_hand=cmd.stock))
        uow.products.add(product, view.stock)
        uow.commit()
    return view


def update_product(uow: UnitOfWork, principal: Principal, product_id: str,
                   read: Callable[[], dict[str, Any]]) -> ProductView:
    require_admin(principal)
    changes = read()
    with uow:
        product, stock = _product(uow, product_id)
        if "sku" in changes:
            _check_sku_free(uow, changes["sku"], product.id)
        _check_category(uow, changes.get("category_id"))
        product = product.changed(**changes)
        uow.products.update(product)
        uow.commit()
    return ProductView(product, stock)


def deactivate_product(uow: UnitOfWork, principal: Principal, product_id: str) -> ProductView:
    return update_product(uow, principal, product_id, lambda: {"active": False})


def _product(uow: UnitOfWork, product_id: str) -> ProductView:
    view = uow.products.get(parse_id(product_id, ProductNotFound))
    if view is None:
        raise ProductNotFound(details={"product_id": product_id})
    return view


def _check_sku_free(uow: UnitOfWork, sku: str, own_id: str | None = None) -> None:
    other = uow.products.get_by_sku(sku)
    if other is not None and other.id != own_id:
        raise DuplicateSku(details={"sku": [f"{sku!r} is taken."]})


def _check_category(uow: UnitOfWork, category_id: str | None) -> None:
    if category_id is not None and uow.categories.get(category_id) is None:
        raise invalid("category_id", "No category has this id.")


# --- stock ---------------------------------------------------------------------------


def get_stock(uow: UnitOfWork, principal: Principal, product_id: str) -> StockLevel:
    require_admin(principal)
    with uow:
        return _product(uow, product_id).stock


def set_stock(uow: UnitOfWork, principal: Principal, product_id: str, on_hand: int) -> StockLevel:
    require_admin(principal)
    with uow:
        product_id = _product(uow, product_id).product.id
        level = uow.stock.lock([product_id])[product_id]
        level.set_on_hand(on_hand)
        uow.stock.save([level])
        uow.commit()
    return level


def price_items(uow: UnitOfWork, principal: Principal,
                read: Callable[[], tuple[ReservedItem, ...]]) -> pricing.Quote:
    """Price an order's items at the current prices of active products (stock operators, admins)."""
    require_stock_operator(principal)
    items = pricing.order_items(read())
    with uow:
        products = uow.products.get_many([item.product_id for item in items])
    return pricing.quote(items, products)


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
