"""One function per catalog use case; each runs in one unit of work.

Each use case is given the caller (``principal``) and decides first who may: admins and
``catalog:write`` clients change the catalog, stock operators price orders, everybody reads
active products. A use case that refuses some callers reads its input only after that check:
``read`` is the entrypoint's load of the payload, so a refused caller learns nothing of its rules.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from nameko_services.catalog import pricing
from nameko_services.catalog.commands import (
    CreateCategory,
    CreateProduct,
    ProductQuery,
    ProductView,
)
from nameko_services.catalog.domain import (
    Category,
    Product,
    ReservedItem,
    StockLevel,
    becomes_own_ancestor,
    invalid,
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
    DuplicateSku,
    DuplicateSlug,
    ProductNotFound,
)
from nameko_services.common.pagination import Page

# --- categories ----------------------------------------------------------------------


def list_categories(uow: UnitOfWork, principal: Principal, include_inactive: bool = False) -> list[Category]:
    """Every category by name; inactive ones only for an admin who asks for them."""
    with uow:
        return uow.categories.list(include_inactive=include_inactive and principal.is_admin)


def create_category(uow: UnitOfWork, principal: Principal, read: Callable[[], CreateCategory]) -> Category:
    require_admin(principal)
    cmd = read()
    with uow:
        slug = validate_slug(cmd.slug) if cmd.slug else slugify(cmd.name)
        _check_parent(uow, cmd.parent_id)
        _check_slug_free(uow, slug)
        category = Category(new_id(), cmd.name, slug, cmd.parent_id)
        uow.categories.add(category)
        uow.outbox.add("category_changed", {"category_id": category.id})
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
        uow.outbox.add("category_changed", {"category_id": category.id})
        uow.commit()
    return category


def delete_category(uow: UnitOfWork, principal: Principal, category_id: str) -> None:
    require_admin(principal)
    with uow:
        category = _category(uow, category_id)
        if uow.categories.in_use(category.id):
            raise CategoryInUse(details={"category_id": category.id})
        uow.categories.delete(category.id)
        uow.outbox.add("category_changed", {"category_id": category.id})
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
        _announce_product(uow, product.id)
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
        _announce_product(uow, product.id)
        uow.commit()
    return ProductView(product, stock)


def deactivate_product(uow: UnitOfWork, principal: Principal, product_id: str) -> ProductView:
    return update_product(uow, principal, product_id, lambda: {"active": False})


def _announce_product(uow: UnitOfWork, product_id: str) -> None:
    """``product_changed``: what a reader sees of the product (price, stock, active...) changed;
    the gateways' caches of public reads drop it (``gateway.catalog_cache``)."""
    uow.outbox.add("product_changed", {"product_id": product_id})


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
        _announce_product(uow, product_id)
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
