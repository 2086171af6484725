"""One function per use case of the orders service: RPC commands and the deadline timer.

Every change is: lock the order's row, rebuild it from its events, decide (decisions.py),
then append the events, update the projection and queue the messages in one transaction.
A concurrent append (``StreamConflict``) reruns the whole use case from fresh state.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from nameko_services.common.errors import IdempotencyKeyInUse, OrderNotFound, PermissionDenied
from nameko_services.common.event_store import StreamConflict
from nameko_services.common.logging import bind
from nameko_services.orders import decisions, keys, projection
from nameko_services.orders.domain import MODIFICATION_REJECTED, Actor, Order, Outcome
from nameko_services.orders.ports import Catalog, Document, UnitOfWork

log = logging.getLogger(__name__)
T = TypeVar("T")
STREAM_ATTEMPTS = 3
DUE_PER_TICK = 100
ANSWER_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class Settings:
    """Timing rules from the service config."""

    payment_deadline: timedelta = timedelta(seconds=900)
    key_abandoned_after: timedelta = timedelta(seconds=60)
    # How long modify_order waits for the catalog's answer before it returns the order with
    # its modification still pending (202 at the gateway); keep it under the RPC deadline.
    modification_wait: timedelta = timedelta(seconds=3)


@dataclass(frozen=True)
class PlaceOrder:
    """A validated order request; ``items`` merged per product."""

    items: tuple[dict[str, Any], ...]
    shipping_address: dict[str, Any]
    payment_token: str = field(repr=False)

    def fingerprint(self) -> dict[str, Any]:
        return {"items": list(self.items), "shipping_address": self.shipping_address,
                "payment": {"token": self.payment_token}}


@dataclass(frozen=True)
class ModifyOrder:
    """New items (``[{product_id, quantity}]``) and/or a new shipping address."""

    items: tuple[dict[str, Any], ...] | None = None
    shipping_address: dict[str, Any] | None = None


def now() -> datetime:
    return datetime.now(UTC)


def parse_id(order_id: Any) -> str:
    """A canonical UUID string; anything else names no order."""
    try:
        return str(uuid.UUID(str(order_id)))
    except ValueError:
        raise OrderNotFound(details={"order_id": str(order_id)[:64]}) from None


def retrying(action: Callable[[], T]) -> T:
    """Run ``action`` again (from fresh state) when another writer appended first."""
    for attempt in range(1, STREAM_ATTEMPTS + 1):
        try:
            return action()
        except StreamConflict:
            if attempt == STREAM_ATTEMPTS:
                raise
            log.info("order changed concurrently; retrying", extra={"attempt": attempt})
    raise AssertionError("unreachable")


def stage(uow: UnitOfWork, order: Order, outcome: Outcome, *, at: datetime,
          causation_id: str | None = None) -> Order:
    """Append the outcome's events and queue its messages (the caller commits)."""
    if outcome.note:
        log.info(outcome.note, extra={"order_id": order.id})
    if outcome.events:
        order = uow.orders.record(order, outcome.events, now=at, causation_id=causation_id)
    for message in outcome.messages:
        uow.outbox.add(message.type, message.payload)
    return order


def as_document(order: Order) -> Document:
    return projection.document(projection.columns(order))


# --- placing ---------------------------------------------------------------------------

def place_order(uow: UnitOfWork, catalog: Catalog, settings: Settings, actor: Actor, key: str,
                cmd: PlaceOrder) -> tuple[Document, bool]:
    """Place an order once per Idempotency-Key; return it and whether this was a replay."""
    if not actor.user_id:
        raise PermissionDenied("Only a customer can place an order.")
    digest = keys.request_hash(cmd.fingerprint())
    replayed = _claim_key(uow, settings, actor.user_id, key, digest)
    if replayed is not None:
        return replayed, True
    try:
        return _place(uow, catalog, settings, actor.user_id, key, cmd), False
    except BaseException:
        _release_key(uow, actor.user_id, key)
        raise


def _claim_key(uow: UnitOfWork, settings: Settings, user_id: str, key: str, digest: str) -> Document | None:
    """Commit the key ``in_progress`` (None), or return the order it already placed."""
    with uow:
        at = now()
        record = uow.keys.claim(user_id, key, digest, at)
        if record is not None:
            if keys.decide(record, digest, at, settings.key_abandoned_after) == keys.REPLAY:
                document = uow.orders.document(record.order_id or "")
                if document is None:  # the key outlived its order: nothing sensible to replay
                    raise OrderNotFound(details={"order_id": record.order_id})
                return document
            if not uow.keys.take_over(record, at):
                raise IdempotencyKeyInUse()
            log.warning("abandoned idempotency key taken over")
        uow.commit()
        return None


def _place(uow: UnitOfWork, catalog: Catalog, settings: Settings, user_id: str, key: str,
           cmd: PlaceOrder) -> Document:
    priced = catalog.price_items(list(cmd.items))
    order_id, at = str(uuid.uuid4()), now()
    bind(order_id=order_id)
    outcome = decisions.place(order_id, user_id, priced, cmd.shipping_address, cmd.payment_token,
                              at + settings.payment_deadline)
    with uow:
        order = stage(uow, Order(order_id), outcome, at=at)
        uow.keys.complete(user_id, key, order_id)
        uow.commit()
    log.info("order placed", extra={"order_id": order_id, "total": order.total, "currency": order.currency})
    return as_document(order)


def _release_key(uow: UnitOfWork, user_id: str, key: str) -> None:
    try:
        with uow:
            uow.keys.release(user_id, key)
            uow.commit()
    except Exception:  # the original error matters more; the key is taken over once abandoned
        log.exception("could not release the idempotency key")


# --- changing --------------------------------------------------------------------------

def change_order(uow: UnitOfWork, actor: Actor, order_id: str,
                 decide: Callable[[Order], Outcome]) -> Document:
    """Apply one command to a visible order (cancel, ship, deliver, retry a compensation)."""
    order_id = parse_id(order_id)
    bind(order_id=order_id)

    def attempt() -> Document:
        with uow:
            order = decisions.visible(uow.orders.lock(order_id), actor, order_id)
            at = now()
            order = stage(uow, order, decide(order), at=at)
            uow.commit()
            return as_document(order)

    return retrying(attempt)


def modify_order(uow: UnitOfWork, catalog: Catalog, settings: Settings, actor: Actor, order_id: str,
                 changes: ModifyOrder, sleep: Callable[[float], None] = time.sleep) -> Document:
    """New items and/or address before payment (SAGA.md step 8).

    A new address applies at once. New items are priced, recorded as requested and asked of
    the catalog through the saga; this waits a little for its answer so that most callers
    see the outcome (the new order, or OutOfStock), and returns the order with its
    modification still pending otherwise: the saga settles it either way.
    """
    order_id = parse_id(order_id)
    bind(order_id=order_id)

    def attempt() -> Order:
        with uow:
            order = decisions.visible(uow.orders.lock(order_id), actor, order_id)
            decisions.check_modifiable(order, actor)
            priced = catalog.price_items(list(changes.items)) if changes.items is not None else None
            order = stage(uow, order, decisions.modify(order, actor, priced, changes.shipping_address),
                          at=now())
            uow.commit()
            log.info("order modification recorded", extra={"order_id": order_id,
                                                           "order_version": order.version})
            return order

    order = retrying(attempt)
    if order.pending_modification is None:
        return as_document(order)
    return _await_adjustment(uow, order.id, order.version, settings.modification_wait, sleep)


def _await_adjustment(uow: UnitOfWork, order_id: str, requested_version: int, patience: timedelta,
                      sleep: Callable[[float], None]) -> Document:
    """The order once the catalog has answered (or ``patience`` ran out); a refusal is raised."""
    give_up_at = time.monotonic() + patience.total_seconds()
    while True:
        with uow:
            answer = next((event for event in uow.orders.history(order_id)
                           if event["version"] > requested_version), None)
            document = uow.orders.document(order_id)
        if answer is not None or time.monotonic() >= give_up_at:
            break
        sleep(ANSWER_POLL_SECONDS)
    if answer is not None and answer["type"] == MODIFICATION_REJECTED:
        raise decisions.rejection(answer["data"])
    return document or {}


def time_out_due_orders(uow: UnitOfWork, limit: int = DUE_PER_TICK) -> int:
    """Cancel (``timed_out``) open orders past their deadline, one transaction each."""
    done = 0
    while done < limit:
        with uow:
            at = now()
            order = uow.orders.lock_next_due(at)
            if order is None:
                return done
            bind(order_id=order.id)
            stage(uow, order, decisions.time_out(order, at), at=at)
            uow.commit()
            log.info("order timed out", extra={"order_id": order.id})
        done += 1
    return done
