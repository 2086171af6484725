"""One function per use case of the orders service: RPC commands and the deadline timer.

Every change is: lock the order's row, rebuild it from its events, let it decide (its
rules, order.py), then save its events, projection and messages in one transaction. A
concurrent append (``StreamConflict``) reruns the whole use case from fresh state.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from nameko_services.common.errors import IdempotencyKeyInUse, OrderNotFound, PermissionDenied
from nameko_services.common.event_sourced import retrying
from nameko_services.common.logging import bind
from nameko_services.common.spans import new_trace
from nameko_services.orders import idempotency_keys, projection
from nameko_services.orders.commands import ModifyOrder, PlaceOrder
from nameko_services.orders.domain import MODIFICATION_REJECTED, Actor, parse_order_id
from nameko_services.orders.order import Order, rejection
from nameko_services.orders.ports import Catalog, Document, UnitOfWork

log = logging.getLogger(__name__)
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


def now() -> datetime:
    return datetime.now(UTC)


# --- placing ---------------------------------------------------------------------------

def place_order(uow: UnitOfWork, catalog: Catalog, settings: Settings, actor: Actor, key: str,
                cmd: PlaceOrder) -> tuple[Document, bool]:
    """Place an order once per Idempotency-Key; return it and whether this was a replay."""
    if not actor.user_id:
        raise PermissionDenied("Only a customer can place an order.")
    digest = idempotency_keys.request_hash(cmd.fingerprint())
    claimed_at, replayed = _claim_key(uow, settings, actor.user_id, key, digest)
    if replayed is not None:
        return replayed, True
    try:
        return _place(uow, catalog, settings, actor.user_id, key, claimed_at, cmd), False
    except BaseException:
        _release_key(uow, actor.user_id, key, claimed_at)
        raise


def _claim_key(uow: UnitOfWork, settings: Settings, user_id: str, key: str,
               digest: str) -> tuple[datetime, Document | None]:
    """Commit the key ``in_progress`` (when, None), or return the order it already placed."""
    with uow:
        at = now()
        record = uow.keys.claim(user_id, key, digest, at)
        if record is not None:
            decision = idempotency_keys.decide(record, digest, at, settings.key_abandoned_after)
            if decision == idempotency_keys.REPLAY:
                document = uow.orders.document(record.order_id or "")
                if document is None:  # the key outlived its order: nothing sensible to replay
                    raise OrderNotFound(details={"order_id": record.order_id})
                return at, document
            if not uow.keys.take_over(record, at):
                raise IdempotencyKeyInUse()
            log.warning("abandoned idempotency key taken over")
        uow.commit()
        return at, None


def _place(uow: UnitOfWork, catalog: Catalog, settings: Settings, user_id: str, key: str,
           claimed_at: datetime, cmd: PlaceOrder) -> Document:
    priced = catalog.price_items(list(cmd.items))
    order_id, at = str(uuid.uuid4()), now()
    bind(order_id=order_id)
    order = Order.place(order_id, user_id, priced, cmd.shipping_address, cmd.payment_token,
                        at + settings.payment_deadline, cmd.note)
    with uow:
        uow.orders.save(order, now=at)
        if not uow.keys.complete(user_id, key, claimed_at, order_id):
            # This request ran past key_abandoned_after and a retry took its key over: that
            # retry's order is the key's, so this one is not saved (saving it would make two).
            log.warning("idempotency key taken over while the order was placed; not saved")
            raise IdempotencyKeyInUse()
        uow.commit()
    log.info("order placed", extra={"order_id": order_id, "total": order.total, "currency": order.currency})
    return projection.document(order)


def _release_key(uow: UnitOfWork, user_id: str, key: str, claimed_at: datetime) -> None:
    try:
        with uow:
            uow.keys.release(user_id, key, claimed_at)
            uow.commit()
    except Exception:  # the original error matters more; the key is taken over once abandoned
        log.exception("could not release the idempotency key")


# --- changing --------------------------------------------------------------------------

def change_order(uow: UnitOfWork, actor: Actor, order_id: str, decide: Callable[[Order], object]) -> Document:
    """Apply one command to an order the actor may see (cancel, ship, deliver, retry a compensation)."""
    order_id = parse_order_id(order_id)
    bind(order_id=order_id)

    def attempt() -> Order:
        with uow:
            order = _visible(uow, actor, order_id)
            decide(order)
            uow.orders.save(order)
            uow.commit()
            return order

    return projection.document(retrying(attempt))


def modify_order(uow: UnitOfWork, catalog: Catalog, settings: Settings, actor: Actor, order_id: str,
                 changes: ModifyOrder, sleep: Callable[[float], None] = time.sleep) -> Document:
    """New items and/or address before payment (SAGA.md step 8).

    A new address applies at once. New items are priced, recorded as requested and asked of
    the catalog through the saga; this waits a little for its answer so that most callers
    see the outcome (the new order, or OutOfStock), and returns the order with its
    modification still pending otherwise: the saga settles it either way.
    """
    order_id = parse_order_id(order_id)
    bind(order_id=order_id)
    order = retrying(lambda: _record_modification(uow, catalog, actor, order_id, changes))
    if order.pending_modification is None:
        return projection.document(order)
    return _await_adjustment(uow, order.id, order.version, settings.modification_wait, sleep)


def _record_modification(uow: UnitOfWork, catalog: Catalog, actor: Actor, order_id: str,
                         changes: ModifyOrder) -> Order:
    items = changes.items
    with uow:
        order = _visible(uow, actor, order_id)
        order.modify(actor, None if items is None else (lambda: catalog.price_items(list(items))),
                     changes.shipping_address)
        uow.orders.save(order)
        uow.commit()
    log.info("order modification recorded", extra={"order_id": order_id, "order_version": order.version})
    return order


def _await_adjustment(uow: UnitOfWork, order_id: str, requested_version: int, patience: timedelta,
                      sleep: Callable[[float], None]) -> Document:
    """The order once the catalog has answered (or ``patience`` ran out); a refusal is raised."""
    give_up_at = time.monotonic() + patience.total_seconds()
    while True:
        with uow:
            answer = next((event for event in uow.orders.history(order_id)
                           if event.version > requested_version), None)
        if answer is not None or time.monotonic() >= give_up_at:
            break
        sleep(ANSWER_POLL_SECONDS)
    if answer is not None and answer.type == MODIFICATION_REJECTED:
        raise rejection(answer.data)
    with uow:  # read once, when there is something to show
        return uow.orders.document(order_id) or {}


def _visible(uow: UnitOfWork, actor: Actor, order_id: str) -> Order:
    order = uow.orders.lock(order_id)
    if order is None:
        raise OrderNotFound(details={"order_id": order_id})
    return order.check_visible(actor)


def time_out_due_orders(uow: UnitOfWork, limit: int = DUE_PER_TICK) -> int:
    """Cancel (``timed_out``) open orders past their deadline, one transaction each."""
    done = 0
    while done < limit:
        with uow:
            at = now()
            order = uow.orders.lock_next_due(at)
            if order is None:
                return done
            # Each cancellation is a trace of its own (its order_cancelled and the compensation
            # it causes follow it), linked to the sweep's tick; a tick with nothing due makes none.
            with new_trace("orders.time_out_order", {"shop.order_id": order.id}):
                bind(order_id=order.id)
                order.time_out(at)
                uow.orders.save(order, now=at)
                uow.commit()
                log.info("order timed out", extra={"order_id": order.id})
        done += 1
    return done
