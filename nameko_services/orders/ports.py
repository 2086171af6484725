"""What the handlers need from the outside: storage (a unit of work) and the catalog."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from nameko_services.common.event_store import StoredEvent
from nameko_services.common.unit_of_work import EventUnitOfWork
from nameko_services.orders.domain import Priced
from nameko_services.orders.idempotency_keys import KeyRecord
from nameko_services.orders.order import Order

Document = dict[str, Any]  # an order in its public shape (docs/API.md)


class OrderRepository(Protocol):
    def lock(self, order_id: str) -> Order | None:
        """The order rebuilt from its events; its row stays locked until the unit of work ends."""
    def lock_next_due(self, now: datetime) -> Order | None:
        """One open order past its deadline that no one else holds, locked (SKIP LOCKED)."""
    def save(self, order: Order, *, causation_id: str | None = None, now: datetime | None = None) -> None:
        """Append what the order triggered (StreamConflict if the stream moved), update the
        projection, queue what it announced."""
    def document(self, order_id: str) -> Document | None: ...
    def owner_of(self, order_id: str) -> str | None: ...
    def page(self, *, status: str | None, user_id: str | None, needs_attention: bool | None,
             page: int, per_page: int) -> tuple[list[Document], int]: ...
    def history(self, order_id: str) -> list[StoredEvent]:
        """Oldest first, as stored (secrets included)."""


class IdempotencyKeys(Protocol):
    def claim(self, user_id: str, key: str, request_hash: str, now: datetime) -> KeyRecord | None:
        """Insert the key ``in_progress`` and return None, or return the existing record."""
    def take_over(self, record: KeyRecord, now: datetime) -> bool:
        """Restart an abandoned ``in_progress`` key; False if someone else got it first."""
    def complete(self, user_id: str, key: str, claimed_at: datetime, order_id: str) -> bool:
        """Mark the claim made at ``claimed_at`` done with its order; False if it was taken over."""
    def release(self, user_id: str, key: str, claimed_at: datetime) -> None:
        """Forget the claim made at ``claimed_at`` of a request that failed (never a later claim)."""


class UnitOfWork(EventUnitOfWork, Protocol):
    @property
    def orders(self) -> OrderRepository: ...
    @property
    def keys(self) -> IdempotencyKeys: ...


class Catalog(Protocol):
    def price_items(self, items: list[dict[str, Any]]) -> Priced:
        """The catalog's current prices and names (ProductNotFound, InvalidInput)."""
