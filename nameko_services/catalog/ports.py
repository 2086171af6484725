"""What the handlers need from storage: repositories and a unit of work (SQL or in-memory fakes)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from nameko_services.catalog.commands import ProductQuery, ProductView
from nameko_services.catalog.domain import Category, Product, Reservation, StockLevel
from nameko_services.common.unit_of_work import EventUnitOfWork


class CategoryRepository(Protocol):
    def get(self, category_id: str) -> Category | None: ...
    def get_by_slug(self, slug: str) -> Category | None: ...
    def parent_of(self, category_id: str) -> str | None: ...
    def list(self, include_inactive: bool = False) -> list[Category]: ...
    def add(self, category: Category) -> None: ...
    def update(self, category: Category) -> None: ...
    def delete(self, category_id: str) -> None: ...
    def in_use(self, category_id: str) -> bool:
        """Do products or child categories point at it?"""
    def lock_tree(self) -> None:
        """Serialise changes to the tree's shape until the unit of work ends."""


class ProductRepository(Protocol):
    def get(self, product_id: str) -> ProductView | None: ...
    def get_by_sku(self, sku: str) -> Product | None:
        """Case-insensitive."""
    def get_many(self, product_ids: Iterable[str]) -> dict[str, Product]: ...
    def search(self, query: ProductQuery) -> tuple[list[ProductView], int]:
        """One page of matches ordered by (name, id), and the number of all matches."""
    def add(self, product: Product, stock: StockLevel) -> None: ...
    def update(self, product: Product) -> None: ...


class StockRepository(Protocol):
    def lock(self, product_ids: Iterable[str]) -> dict[str, StockLevel]:
        """The stock rows, locked in product id order until the unit of work ends."""
    def save(self, levels: Iterable[StockLevel]) -> None: ...


class ReservationRepository(Protocol):
    def claim(self, order_id: str, status: str, order_version: int = 1) -> Reservation | None:
        """Create the order's reservation with ``status`` and return None, or return the
        existing one, locked; waits while another unit of work is claiming the same order."""
    def lock(self, order_id: str) -> Reservation | None: ...
    def add_items(self, reservation: Reservation) -> None: ...
    def replace_items(self, reservation: Reservation) -> None:
        """Store the reservation's items and order version in place of the old ones."""
    def update_status(self, reservation: Reservation) -> None: ...
    def discard(self, order_id: str) -> None:
        """Drop a claim that reserved nothing (a failed reservation keeps no row)."""


class UnitOfWork(EventUnitOfWork, Protocol):
    @property
    def categories(self) -> CategoryRepository: ...
    @property
    def products(self) -> ProductRepository: ...
    @property
    def stock(self) -> StockRepository: ...
    @property
    def reservations(self) -> ReservationRepository: ...
