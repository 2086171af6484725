"""Pricing an order's items at the catalog's current prices: pure rules, no I/O.

The orders service asks for a quote when an order is placed or modified; the prices
are always the catalog's own, never whatever a client sent.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nameko_services.catalog.domain import Product, ReservedItem, invalid, merge_items
from nameko_services.common.errors import ProductNotFound
from nameko_services.common.limits import MAX_LINE_QUANTITY, MAX_ORDER_LINES

__all__ = ["MAX_LINE_QUANTITY", "MAX_ORDER_LINES", "PricedLine", "Quote", "order_items", "quote"]


@dataclass(frozen=True)
class PricedLine:
    """One product of an order at its current price."""

    product_id: str
    name: str
    unit_price: int
    quantity: int

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Quote:
    """An order's items priced in one currency."""

    currency: str
    lines: tuple[PricedLine, ...]

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines)


def order_items(items: Iterable[ReservedItem]) -> tuple[ReservedItem, ...]:
    """Merge duplicate products; an order holds 1..50 lines of 1..100 units each."""
    merged = merge_items(items)
    if not 1 <= len(merged) <= MAX_ORDER_LINES:
        raise invalid("items", f"An order holds 1 to {MAX_ORDER_LINES} different products.")
    too_many = [item.product_id for item in merged if not 1 <= item.quantity <= MAX_LINE_QUANTITY]
    if too_many:
        raise invalid("items", f"At most {MAX_LINE_QUANTITY} units of a product per order "
                               f"(too many of {', '.join(too_many)}).")
    return merged


def quote(items: Iterable[ReservedItem], products: Mapping[str, Product]) -> Quote:
    """Price ``items`` with ``products``; unknown or inactive ones are not found."""
    items = order_items(items)
    missing = [i.product_id for i in items
               if i.product_id not in products or not products[i.product_id].active]
    if missing:
        raise ProductNotFound(details={"product_ids": missing})
    currencies = sorted({products[i.product_id].currency for i in items})
    if len(currencies) > 1:
        raise invalid("items", f"The products are priced in different currencies ({', '.join(currencies)}).")
    lines = tuple(PricedLine(i.product_id, products[i.product_id].name, products[i.product_id].price,
                             i.quantity) for i in items)
    return Quote(currencies[0], lines)
