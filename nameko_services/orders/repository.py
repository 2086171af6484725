"""SQL repositories and the unit of work of the orders service (one transaction per use case)."""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nameko_services.common.event_sourced import AggregateRepository
from nameko_services.common.outbox import SessionOutbox
from nameko_services.common.precompiled import binds, precompile
from nameko_services.common.unit_of_work import SqlEventUnitOfWork, after_commit
from nameko_services.orders import metrics, projection
from nameko_services.orders.domain import OPEN_STATUSES
from nameko_services.orders.idempotency_keys import DONE, IN_PROGRESS, KeyRecord
from nameko_services.orders.models import IdempotencyKeyRow, OrderRow, order_events, outbox, processed_events
from nameko_services.orders.order import Order


class SqlOrders(AggregateRepository[Order]):
    """Orders as event streams (the kernel's load, lock, save) and the ``orders`` projection's reads."""

    def __init__(self, session: Session, outbox: SessionOutbox, correlation_id: str | None = None) -> None:
        super().__init__(session, order_events, projection.PROJECTION, outbox, correlation_id)
        self._first: dict[str, dict[str, datetime]] = {}  # stream -> when each event type first happened

    def load(self, stream_id: str) -> Order | None:
        events = self.store.load(stream_id)
        first = self._first[stream_id] = {}
        for event in events:  # kept for the metrics: no second read of the stream after the commit
            first.setdefault(event.type, event.occurred_at)
        return self.projection.fold(stream_id, events) if events else None

    def save(self, order: Order, *, causation_id: str | None = None, now: datetime | None = None) -> None:
        saved = [change.type for change in order.pending_events]
        super().save(order, causation_id=causation_id, now=now)
        if saved and order.updated_at is not None:
            first = self._first.setdefault(order.id, {})
            for event_type in saved:  # appended together, at the order's updated_at
                first.setdefault(event_type, order.updated_at)
            # Counted once the transaction commits, as the order stood when it was saved.
            after, times = copy.copy(order), dict(first)
            after_commit(self.session, lambda: metrics.observe(after, saved, lambda: times))

    def lock_next_due(self, now: datetime) -> Order | None:
        found = self.session.scalar(
            select(OrderRow.id).where(OrderRow.status.in_(OPEN_STATUSES), OrderRow.deadline_at <= now)
            .order_by(OrderRow.deadline_at).limit(1).with_for_update(skip_locked=True))
        return None if found is None else self.load(str(found))

    def document(self, order_id: str) -> dict[str, Any] | None:
        row = self.session.execute(
            select(OrderRow.__table__).where(OrderRow.id == order_id)).mappings().first()
        return None if row is None else projection.row_document(row)

    def owner_of(self, order_id: str) -> str | None:
        return self.session.scalar(select(OrderRow.user_id).where(OrderRow.id == order_id))

    def page(self, *, status: str | None, user_id: str | None, needs_attention: bool | None,
             page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
        conditions = []
        if status is not None:
            conditions.append(OrderRow.status == status)
        if user_id is not None:
            conditions.append(OrderRow.user_id == user_id)
        if needs_attention is not None:
            conditions.append(OrderRow.needs_attention.is_(needs_attention))
        total = self.session.scalar(select(func.count()).select_from(OrderRow).where(*conditions))
        rows = self.session.execute(
            select(OrderRow.__table__).where(*conditions)
            .order_by(OrderRow.created_at.desc(), OrderRow.id)
            .offset((page - 1) * per_page).limit(per_page)).mappings()
        return [projection.row_document(row) for row in rows], int(total or 0)


def _record(row: Any) -> KeyRecord:
    return KeyRecord(str(row.user_id), row.key, row.request_hash, row.state,
                     None if row.order_id is None else str(row.order_id), row.created_at)


# Every placement claims its key and completes it: both compiled once (common/precompiled.py).
_CLAIM = precompile(
    insert(IdempotencyKeyRow).values(**binds("user_id", "key", "request_hash", "created_at"),
                                     state=IN_PROGRESS)
    .on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(IdempotencyKeyRow.key))
# A claim is its claiming time: a take-over replaces it, so a request that was taken over can
# neither complete nor release the key any more. Every change of a claimed key names it so.
_HELD = ((IdempotencyKeyRow.user_id == bindparam("claim_user_id"))
         & (IdempotencyKeyRow.key == bindparam("claim_key")) & (IdempotencyKeyRow.state == IN_PROGRESS)
         & (IdempotencyKeyRow.created_at == bindparam("claimed_at")))
_COMPLETE = precompile(update(IdempotencyKeyRow).where(_HELD)
                       .values(state=DONE, order_id=bindparam("placed_order_id"))
                       .returning(IdempotencyKeyRow.key))
_TAKE_OVER = precompile(update(IdempotencyKeyRow).where(_HELD).values(created_at=bindparam("taken_at"))
                        .returning(IdempotencyKeyRow.key))
_RELEASE = precompile(delete(IdempotencyKeyRow).where(_HELD))


def _held(user_id: str, key: str, claimed_at: datetime) -> dict[str, Any]:
    return {"claim_user_id": user_id, "claim_key": key, "claimed_at": claimed_at}


class SqlIdempotencyKeys:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _where(self, user_id: str, key: str) -> Any:
        return (IdempotencyKeyRow.user_id == user_id) & (IdempotencyKeyRow.key == key)

    def claim(self, user_id: str, key: str, request_hash: str, now: datetime) -> KeyRecord | None:
        # A concurrent claim of the same key waits here until the other transaction ends.
        inserted = _CLAIM.execute(self.session, {"user_id": user_id, "key": key,
                                                 "request_hash": request_hash, "created_at": now}).first()
        if inserted is not None:
            return None
        return _record(self.session.execute(
            select(IdempotencyKeyRow).where(self._where(user_id, key))).scalar_one())

    def take_over(self, record: KeyRecord, now: datetime) -> bool:
        held = _held(record.user_id, record.key, record.created_at)
        return _TAKE_OVER.execute(self.session, {**held, "taken_at": now}).first() is not None

    def complete(self, user_id: str, key: str, claimed_at: datetime, order_id: str) -> bool:
        held = _held(user_id, key, claimed_at)
        return _COMPLETE.execute(self.session, {**held, "placed_order_id": order_id}).first() is not None

    def release(self, user_id: str, key: str, claimed_at: datetime) -> None:
        _RELEASE.execute(self.session, _held(user_id, key, claimed_at))


def needing_attention(engine: Engine) -> int:
    """How many orders wait for an operator (the ``shop_orders_needing_attention`` gauge)."""
    with engine.connect() as conn:
        flagged = select(func.count()).select_from(OrderRow).where(OrderRow.needs_attention)
        return int(conn.scalar(flagged) or 0)


class SqlUnitOfWork(SqlEventUnitOfWork):
    """The orders repositories over one session; their events carry the request's correlation id."""

    outbox_table = outbox
    processed_events = processed_events

    def __init__(self, session: Session, correlation_id: str | None = None) -> None:
        super().__init__(session, correlation_id)
        self.orders = SqlOrders(session, self.outbox, correlation_id)
        self.keys = SqlIdempotencyKeys(session)
