"""Catalog entities and rules: no nameko, no SQLAlchemy, no marshmallow.

Stock is ``on_hand`` (physically in the warehouse) and ``reserved`` (promised to
orders that are not yet paid); ``available = on_hand - reserved`` is what can still
be sold. A reservation belongs to one order and moves ``reserved`` → ``committed``
(the goods leave: on_hand and reserved drop) or ``reserved`` → ``released``; a cancelled
order's committed reservation goes ``committed`` → ``restocked`` (the goods come back).
Its ``order_version`` is the order version whose items it holds: a request for an older
version is stale and changes nothing.
"""
from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from nameko_services.common import limits
from nameko_services.common.auth import CATALOG_WRITE, PRICE_ITEMS
from nameko_services.common.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OutOfStock,
    PermissionDenied,
    StockBelowReserved,
)
from nameko_services.common.text import matches

if TYPE_CHECKING:
    from nameko_services.common.auth import Principal

# ISO 4217 codes the shop sells in; extend the set, never accept free text.
CURRENCIES = frozenset({"EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "JPY",
                        "CAD", "AUD", "NZD"})
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SKU_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_SLUG = 120
MAX_PER_PAGE = limits.MAX_PER_PAGE
MAX_PRICE = limits.MAX_PRICE
MAX_QUANTITY = limits.MAX_STOCK

RESERVED, RELEASED, COMMITTED, RESTOCKED = "reserved", "released", "committed", "restocked"


def invalid(field_name: str, message: str) -> InvalidInput:
    """An ``InvalidInput`` naming one field."""
    return InvalidInput(f"{field_name}: {message}", {field_name: [message]})


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def parse_id(value: Any, not_found: type[NotFound]) -> str:
    """The canonical form of a UUID string; anything else is simply not found."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise not_found(details={"id": str(value)}) from None


# --- authorisation -----------------------------------------------------------------

def require_admin(principal: Principal) -> None:
    """Only admins, and machine clients granted ``catalog:write``, manage the catalog."""
    if not (principal.is_admin or CATALOG_WRITE in principal.scopes):
        raise PermissionDenied("Only an admin may do this.")


def require_stock_operator(principal: Principal) -> None:
    """Orders are priced for the orders service, shopctl (``PRICE_ITEMS``) or an admin."""
    if not (principal.is_admin or principal.service_may(PRICE_ITEMS)):
        raise PermissionDenied("Only the orders service or an admin may move reserved stock.")


# --- value rules -------------------------------------------------------------------

def slugify(text: str) -> str:
    """``"Crème Brûlée & Co"`` → ``"creme-brulee-co"``; ASCII letters, digits and dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:MAX_SLUG].strip("-")
    if not slug:
        raise invalid("slug", "Cannot make a slug from this name; give one explicitly.")
    return slug


def validate_slug(slug: str) -> str:
    if len(slug) > MAX_SLUG or not matches(SLUG_RE, slug):
        raise invalid("slug", "Use lower-case letters, digits and single dashes.")
    return slug


def validate_sku(sku: str) -> str:
    """Surrounding spaces are trimmed (pasted), never a line break: "abc\\n" is not "abc"."""
    sku = sku.strip(" ")
    if not 1 <= len(sku) <= 64 or not matches(SKU_RE, sku):
        raise invalid("sku", "Use 1-64 letters, digits, dots, dashes or underscores.")
    return sku


def validate_price(price: int) -> int:
    """Money is integer minor units, never negative, never a float."""
    if isinstance(price, bool) or not isinstance(price, int) or not 0 <= price <= MAX_PRICE:
        raise invalid("price", f"Must be a whole number of minor units from 0 to {MAX_PRICE}.")
    return price


def validate_currency(currency: str) -> str:
    if currency not in CURRENCIES:
        raise invalid("currency", f"Must be one of {', '.join(sorted(CURRENCIES))}.")
    return currency


def validate_quantity(value: int, field_name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_QUANTITY:
        raise invalid(field_name, f"Must be a whole number from 0 to {MAX_QUANTITY}.")
    return value


def validate_page(page: int, per_page: int) -> None:
    if page < 1:
        raise invalid("page", "Must be 1 or more.")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise invalid("per_page", f"Must be between 1 and {MAX_PER_PAGE}.")


def becomes_own_ancestor(category_id: str, new_parent_id: str | None,
                         parent_of: Callable[[str], str | None]) -> bool:
    """Would making ``new_parent_id`` the parent of ``category_id`` close a loop?"""
    seen: set[str] = set()
    current = new_parent_id
    while current is not None and current not in seen:
        if current == category_id:
            return True
        seen.add(current)
        current = parent_of(current)
    return False


# --- entities ----------------------------------------------------------------------

@dataclass
class Category:
    """A node of the category tree; inactive ones are hidden from customers (their products are not)."""

    id: str
    name: str
    slug: str
    parent_id: str | None = None
    active: bool = True


@dataclass
class Product:
    """Something the shop sells; inactive products are hidden from customers."""

    id: str
    sku: str
    name: str
    price: int
    currency: str
    description: str = ""
    category_id: str | None = None
    active: bool = True
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)

    def __post_init__(self) -> None:
        self.sku = validate_sku(self.sku)
        validate_price(self.price)
        validate_currency(self.currency)

    def changed(self, **changes: Any) -> Product:
        """A copy with ``changes`` applied and validated."""
        return replace(self, **changes, updated_at=now()) if changes else self


@dataclass
class StockLevel:
    """How many units of a product are on hand and how many are promised."""

    product_id: str
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def can_reserve(self, quantity: int) -> bool:
        return 0 < quantity <= self.available

    def reserve(self, quantity: int) -> None:
        if not self.can_reserve(quantity):
            raise OutOfStock(details={"items": [self.shortage(quantity)]})
        self.reserved += quantity

    def release(self, quantity: int) -> None:
        if not 0 < quantity <= self.reserved:
            raise Conflict(f"Cannot release {quantity} of {self.reserved} reserved units.")
        self.reserved -= quantity

    def commit(self, quantity: int) -> None:
        """The reserved units leave the warehouse."""
        self.release(quantity)
        self.on_hand -= quantity

    def restock(self, quantity: int) -> None:
        """Units of a cancelled, already committed order come back on hand."""
        if quantity <= 0:
            raise Conflict(f"Cannot restock {quantity} units.")
        self.on_hand += quantity

    def set_on_hand(self, on_hand: int) -> None:
        validate_quantity(on_hand, "on_hand")
        if on_hand < self.reserved:
            raise StockBelowReserved(details={"on_hand": on_hand, "reserved": self.reserved})
        self.on_hand = on_hand

    def shortage(self, requested: int) -> dict[str, Any]:
        return {"product_id": self.product_id, "requested": requested,
                "available": max(self.available, 0)}


@dataclass(frozen=True)
class ReservedItem:
    product_id: str
    quantity: int


@dataclass
class Reservation:
    """The stock one order holds: reserved, then committed or released, once."""

    order_id: str
    status: str = RESERVED
    items: tuple[ReservedItem, ...] = ()
    order_version: int = 1

    def commit(self) -> bool:
        """Move to committed; False if it already was (idempotent). One that is over is a Conflict."""
        if self.status == COMMITTED:
            return False
        if self.status in (RELEASED, RESTOCKED):
            raise Conflict(f"The reservation of order {self.order_id} is already {self.status}.",
                           {"order_id": self.order_id, "status": self.status})
        self.status = COMMITTED
        return True

    def cancel(self) -> Callable[[StockLevel, int], None] | None:
        """The order is cancelled: the stock move that undoes this reservation, or None if none is due.

        Reserved units are released; committed ones are put back on hand (``restocked``).
        """
        if self.status == RESERVED:
            self.status = RELEASED
            return StockLevel.release
        if self.status == COMMITTED:
            self.status = RESTOCKED
            return StockLevel.restock
        return None

    def is_newer_than(self, order_version: int) -> bool:
        """Does it hold a later version of the order (so a request for ``order_version`` is stale)?"""
        return self.order_version > order_version


def move_reservation(levels: dict[str, StockLevel], old: Iterable[ReservedItem],
                     new: Iterable[ReservedItem]) -> None:
    """Release ``old`` and reserve ``new`` on ``levels`` (locked, covering both).

    Raises ``OutOfStock`` naming every short product of ``new``; the levels are then
    half-changed and must not be saved.
    """
    for item in old:
        levels[item.product_id].release(item.quantity)
    new = tuple(new)
    short = [levels[i.product_id].shortage(i.quantity) for i in new
             if not levels[i.product_id].can_reserve(i.quantity)]
    if short:
        raise OutOfStock(details={"items": short})
    for item in new:
        levels[item.product_id].reserve(item.quantity)


def merge_items(items: Iterable[ReservedItem]) -> tuple[ReservedItem, ...]:
    """One line per product, quantities summed, in product id order (the lock order)."""
    totals: dict[str, int] = {}
    for item in items:
        totals[item.product_id] = totals.get(item.product_id, 0) + item.quantity
    return tuple(ReservedItem(pid, qty) for pid, qty in sorted(totals.items()))
