"""SQL repositories and the unit of work of the orders service (one transaction per use case)."""
from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from nameko_services.common.event_store import EventStore, NewEvent
from nameko_services.common.idempotency import first_delivery
from nameko_services.common.outbox import SessionOutbox
from nameko_services.orders import projection
from nameko_services.orders.domain import OPEN_STATUSES, Event, Order
from nameko_services.orders.keys import DONE, IN_PROGRESS, KeyRecord
from nameko_services.orders.models import IdempotencyKeyRow, OrderRow, order_events, outbox, processed_events


class SqlOrders:
    """Orders as event streams, with the ``orders`` projection written alongside."""

    def __init__(self, session: Session, correlation_id: str | None = None) -> None:
        self.session = session
        self.store = EventStore(session, order_events)
        self.correlation_id = correlation_id

    def _load(self, order_id: str) -> Order | None:
        events = self.store.load(order_id)
        return projection.fold(order_id, events) if events else None

    def lock(self, order_id: str) -> Order | None:
        # Every writer of an order locks its row first: writers take turns, readers never wait.
        found = self.session.scalar(select(OrderRow.id).where(OrderRow.id == order_id).with_for_update())
        return None if found is None else self._load(order_id)

    def lock_next_due(self, now: datetime) -> Order | None:
        found = self.session.scalar(
            select(OrderRow.id).where(OrderRow.status.in_(OPEN_STATUSES), OrderRow.deadline_at <= now)
            .order_by(OrderRow.deadline_at).limit(1).with_for_update(skip_locked=True))
        return None if found is None else self._load(str(found))

    def record(self, order: Order, events: Sequence[Event], *, now: datetime,
               causation_id: str | None = None) -> Order:
        stored = self.store.append(order.id, order.version, [NewEvent(e.type, e.data) for e in events],
                                   correlation_id=self.correlation_id, causation_id=causation_id, now=now)
        after = copy.deepcopy(order)
        for event in stored:
            after.apply(event.type, event.data, event.version, event.occurred_at)
        projection.upsert(self.session, after)
        return after

    def document(self, order_id: str) -> dict[str, Any] | None:
        row = self.session.execute(
            select(OrderRow.__table__).where(OrderRow.id == order_id)).mappings().first()
        return None if row is None else projection.document(row)

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
        return [projection.document(row) for row in rows], int(total or 0)

    def history(self, order_id: str) -> list[dict[str, Any]]:
        return [event.to_dict() for event in self.store.load(order_id)]


def _record(row: Any) -> KeyRecord:
    return KeyRecord(str(row.user_id), row.key, row.request_hash, row.state,
                     None if row.order_id is None else str(row.order_id), row.created_at)


class SqlIdempotencyKeys:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _where(self, user_id: str, key: str) -> Any:
        return (IdempotencyKeyRow.user_id == user_id) & (IdempotencyKeyRow.key == key)

    def claim(self, user_id: str, key: str, request_hash: str, now: datetime) -> KeyRecord | None:
        # A concurrent claim of the same key waits here until the other transaction ends.
        inserted = self.session.execute(
            insert(IdempotencyKeyRow).values(user_id=user_id, key=key, request_hash=request_hash,
                                             state=IN_PROGRESS, created_at=now)
            .on_conflict_do_nothing(index_elements=["user_id", "key"])
            .returning(IdempotencyKeyRow.key)).first()
        if inserted is not None:
            return None
        return _record(self.session.execute(
            select(IdempotencyKeyRow).where(self._where(user_id, key))).scalar_one())

    def take_over(self, record: KeyRecord, now: datetime) -> bool:
        taken = self.session.execute(
            update(IdempotencyKeyRow)
            .where(self._where(record.user_id, record.key), IdempotencyKeyRow.state == IN_PROGRESS,
                   IdempotencyKeyRow.created_at == record.created_at)
            .values(created_at=now).returning(IdempotencyKeyRow.key)).first()
        return taken is not None

    def complete(self, user_id: str, key: str, order_id: str) -> None:
        self.session.execute(update(IdempotencyKeyRow).where(self._where(user_id, key))
                             .values(state=DONE, order_id=order_id))

    def release(self, user_id: str, key: str) -> None:
        self.session.execute(delete(IdempotencyKeyRow).where(
            self._where(user_id, key), IdempotencyKeyRow.state == IN_PROGRESS))


class SqlUnitOfWork:
    """Repositories over one session; leaving the block rolls back what was not committed."""

    def __init__(self, session: Session, correlation_id: str | None = None) -> None:
        self.session = session
        self.orders = SqlOrders(session, correlation_id)
        self.keys = SqlIdempotencyKeys(session)
        self.outbox = SessionOutbox(session, outbox, correlation_id)

    def first_delivery(self, event_id: str, handler: str) -> bool:
        return first_delivery(self.session, processed_events, event_id, handler)

    def __enter__(self) -> SqlUnitOfWork:
        return self

    def __exit__(self, exc_type: object, error: object, traceback: object) -> None:
        self.session.rollback()

    def commit(self) -> None:
        self.session.commit()
