"""What the handlers need from storage: repositories and a unit of work (SQL or in-memory fakes)."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from nameko_services.common.event_store import StoredEvent
from nameko_services.common.unit_of_work import EventUnitOfWork
from nameko_services.payments.domain import Payment


class PaymentRepository(Protocol):
    def load(self, payment_id: str) -> Payment | None:
        """The payment folded from its stream (the truth, for changes)."""
    def for_order_version(self, order_id: str, order_version: int) -> Payment | None: ...
    def of_order(self, order_id: str) -> list[Payment]: ...
    def save(self, payment: Payment, *, causation_id: str | None = None, now: datetime | None = None) -> None:
        """Append what the payment recorded after the version it was loaded at (StreamConflict if
        another writer got there first), write its projection row, queue what it announced."""
    def history(self, payment_id: str) -> list[StoredEvent]: ...
    def page(self, user_id: str | None, order_id: str | None, page: int,
             per_page: int) -> tuple[list[Payment], int]:
        """Payments newest first (of one user / one order when given) and how many match."""
    def pending_ids(self, started_before: datetime) -> list[str]:
        """Payments with a processor call started before ``started_before`` and no result yet."""
    def by_reference(self, provider: str, reference: str) -> Payment | None:
        """The payment the provider knows as ``reference``."""


class CancelledOrders(Protocol):
    def add(self, order_id: str) -> None:
        """Remember the order as cancelled (idempotent)."""
    def contains(self, order_id: str) -> bool: ...


class UnitOfWork(EventUnitOfWork, Protocol):
    @property
    def payments(self) -> PaymentRepository: ...
    @property
    def cancelled_orders(self) -> CancelledOrders: ...

    def lock_order(self, order_id: str) -> None:
        """Serialise the changes to one order's payments until the unit of work ends."""
