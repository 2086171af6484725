"""SQL repositories and the unit of work of the payments service (one transaction per step)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nameko_services.common.event_sourced import AggregateRepository
from nameko_services.common.outbox import SessionOutbox
from nameko_services.common.precompiled import precompile
from nameko_services.common.unit_of_work import SqlEventUnitOfWork, after_commit
from nameko_services.payments import metrics, projection
from nameko_services.payments.domain import Payment
from nameko_services.payments.models import CancelledOrderRow, outbox, payment_events, processed_events

payments = projection.payments
# Statements every saga step runs, compiled once (common.precompiled).
LOCK_ORDER = precompile(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"))
IS_CANCELLED = precompile(select(CancelledOrderRow.order_id)
                          .where(CancelledOrderRow.order_id == bindparam("order_id")))


class SqlPayments(AggregateRepository[Payment]):
    """Payments as event streams (the kernel's load and save) and the ``payments`` projection's reads."""

    def __init__(self, session: Session, outbox: SessionOutbox) -> None:
        super().__init__(session, payment_events, projection.PROJECTION, outbox)

    def save(self, payment: Payment, *, causation_id: str | None = None, now: datetime | None = None) -> None:
        saved = list(payment.pending_events)
        super().save(payment, causation_id=causation_id, now=now)
        if saved:  # counted once the transaction commits
            after_commit(self.session, lambda: metrics.observe(payment.currency, saved))

    def _id_where(self, *conditions: Any) -> list[str]:
        ids = self.session.scalars(select(payments.c.id).where(*conditions)
                                   .order_by(payments.c.created_at, payments.c.id))
        return [str(i) for i in ids]

    def for_order_version(self, order_id: str, order_version: int) -> Payment | None:
        ids = self._id_where(payments.c.order_id == uuid.UUID(order_id),
                             payments.c.order_version == order_version)
        return self.load(ids[0]) if ids else None

    def of_order(self, order_id: str) -> list[Payment]:
        return [p for i in self._id_where(payments.c.order_id == uuid.UUID(order_id))
                if (p := self.load(i)) is not None]

    def page(self, user_id: str | None, order_id: str | None, page: int,
             per_page: int) -> tuple[list[Payment], int]:
        conditions = []
        if user_id is not None:
            conditions.append(payments.c.user_id == uuid.UUID(user_id))
        if order_id is not None:
            conditions.append(payments.c.order_id == uuid.UUID(order_id))
        total = self.session.scalar(select(func.count()).select_from(payments).where(*conditions)) or 0
        rows = self.session.execute(
            select(payments).where(*conditions)
            .order_by(payments.c.created_at.desc(), payments.c.id.desc())
            .limit(per_page).offset((page - 1) * per_page)).mappings()
        return [projection.from_row(row) for row in rows], total

    def pending_ids(self, started_before: datetime) -> list[str]:
        return self._id_where(payments.c.pending_action.is_not(None),
                              payments.c.updated_at < started_before)

    def by_reference(self, provider: str, reference: str) -> Payment | None:
        ids = self._id_where(payments.c.provider == provider, payments.c.provider_reference == reference)
        return self.load(ids[0]) if ids else None


class SqlCancelledOrders:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, order_id: str) -> None:
        self.session.execute(insert(CancelledOrderRow).values(
            order_id=uuid.UUID(order_id), cancelled_at=datetime.now(UTC)).on_conflict_do_nothing())

    def contains(self, order_id: str) -> bool:
        return IS_CANCELLED.execute(self.session, {"order_id": uuid.UUID(order_id)}).first() is not None


class SqlUnitOfWork(SqlEventUnitOfWork):
    """The payments repositories over one session, and the per-order lock."""

    outbox_table = outbox
    processed_events = processed_events

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.payments = SqlPayments(session, self.outbox)
        self.cancelled_orders = SqlCancelledOrders(session)

    def lock_order(self, order_id: str) -> None:
        # Payments take turns per order, not per payment: the rules span an order's payments
        # (one per order version, none after its cancellation), and a new payment has no row
        # to lock yet. Every writer of a payment holds this lock, so its stream never conflicts.
        LOCK_ORDER.execute(self.session, {"key": f"payments:{order_id}"})
