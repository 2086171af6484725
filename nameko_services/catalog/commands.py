"""What the catalog is asked to do: commands and queries."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from nameko_services.catalog.domain import Product, ReservedItem, StockLevel


@dataclass(frozen=True)
class CreateCategory:
    """Add a category; the slug is made from the name when absent."""

    name: str
    slug: str | None = None
    parent_id: str | None = None


@dataclass(frozen=True)
class CreateProduct:
    """Add a product with ``stock`` units on hand."""

    sku: str
    name: str
    price: int
    currency: str
    description: str = ""
    category_id: str | None = None
    stock: int = 0


@dataclass(frozen=True)
class ProductQuery:
    """Filter, search and page the product list."""

    category_id: str | None = None
    q: str | None = None
    page: int = 1
    per_page: int = 20
    include_inactive: bool = False


@dataclass(frozen=True)
class ReserveStock:
    """Hold stock for version ``order_version`` of an order, all items or none."""

    order_id: str
    items: tuple[ReservedItem, ...]
    order_version: int = 1


@dataclass(frozen=True)
class AdjustReservation:
    """Hold ``items`` for version ``order_version`` of an order instead of what it holds now.

    ``current_items`` are the order's items before the change: held instead when ``items``
    cannot be, if the order's first reservation has not arrived yet.
    """

    order_id: str
    order_version: int
    items: tuple[ReservedItem, ...]
    current_items: tuple[ReservedItem, ...] = ()


class ProductView(NamedTuple):
    """A product with its stock, as every product answer shows it."""

    product: Product
    stock: StockLevel
