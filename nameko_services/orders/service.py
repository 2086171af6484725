"""The orders nameko service: thin entrypoints that load, hand the caller to the use case and dump.

Orders are event-sourced (``order_events``; ``orders`` is the projection). The service takes
part in the order saga of docs/SAGA.md: its announcements leave through the outbox to
``orders.events``; it reacts to ``catalog.events`` and ``payments.events``; a timer cancels
orders that waited too long for stock or payment.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from nameko.timer import Timer

from nameko_services.common.auth import ACT_AS_ADMIN, Principal
from nameko_services.common.db import Database
from nameko_services.common.events import event_handler
from nameko_services.common.metrics import ORDERS_NEEDING_ATTENTION, ScrapeTimeCount
from nameko_services.common.relay import OutboxRelayRunner
from nameko_services.common.rpc import rpc
from nameko_services.common.service import ShopService
from nameko_services.common.service_rpc import ServiceRpc
from nameko_services.common.validation import load, valid_idempotency_key
from nameko_services.orders import handlers, queries, saga, schemas
from nameko_services.orders.catalog_client import RemoteCatalog
from nameko_services.orders.domain import Actor
from nameko_services.orders.models import outbox
from nameko_services.orders.repository import SqlUnitOfWork, needing_attention

Json = dict[str, Any]


class ConfiguredTimer(Timer):
    """A ``@timer`` whose interval comes from the service config (key, default)."""

    def __init__(self, config_key: str, default: float, **kwargs: Any) -> None:
        self.config_key = config_key
        self.default_interval = default
        super().__init__(default, **kwargs)

    def setup(self) -> None:
        self.interval = float(self.container.config.get(self.config_key, self.default_interval))


configured_timer = ConfiguredTimer.decorator


def actor_of(principal: Principal) -> Actor:
    """The end user of the call; ``shopctl`` without a user acts as an admin."""
    operator = principal.user_id is None and principal.service_may(ACT_AS_ADMIN)
    return Actor(principal.user_id, principal.is_admin or operator)


class OrdersService(ShopService):
    """Orders: placed and changed by customers, moved along by the saga and by admins."""

    name = "orders"

    db = Database("orders")
    catalog_rpc = ServiceRpc("catalog")
    relay = OutboxRelayRunner(outbox)
    attention = ScrapeTimeCount(ORDERS_NEEDING_ATTENTION, needing_attention)

    @property
    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, self.context.correlation_id)

    @property
    def actor(self) -> Actor:
        return actor_of(self.caller)

    @property
    def settings(self) -> handlers.Settings:
        seconds = self.config.get
        return handlers.Settings(
            payment_deadline=timedelta(seconds=float(seconds("PAYMENT_DEADLINE_SECONDS", 900))),
            key_abandoned_after=timedelta(seconds=float(seconds("IDEMPOTENCY_KEY_ABANDONED_SECONDS", 60))),
            # Half the callers' deadline at most, so the answer (202 if need be) is never late.
            modification_wait=timedelta(seconds=min(float(seconds("MODIFICATION_WAIT_SECONDS", 3)),
                                                    float(seconds("RPC_TIMEOUT", 10)) / 2)))

    def _react(self, handler: str, payload: Json) -> None:
        """One catalog or payments event, applied to its order once."""
        event_id = self.handling(payload, "order_id")
        saga.react(self.uow, handler, event_id, load(schemas.ReplySchema, payload))

    @rpc
    def ping(self) -> str:
        """Readiness probe: answers when the service is up and consuming."""
        return "pong"

    @rpc
    def place_order(self, idempotency_key: str, payload: Json) -> Json:
        """Place an order at the catalog's prices; the same Idempotency-Key and body again replays it."""
        key, cmd = valid_idempotency_key(idempotency_key), load(schemas.PlaceOrderSchema, payload)
        order, replayed = handlers.place_order(self.uow, RemoteCatalog(self.catalog_rpc), self.settings,
                                               self.actor, key, cmd)
        return {"order": order, "replayed": replayed}

    @rpc
    def get_order(self, order_id: str) -> Json:
        """One order (the owner's, or any for an admin)."""
        return queries.get_order(self.uow, self.actor, order_id)

    @rpc
    def list_orders(self, status: str | None = None, user_id: str | None = None, page: int = 1,
                    per_page: int = 20) -> Json:
        """A page of orders: customers their own, admins all (filtered by status and user)."""
        query = load(schemas.OrderQuerySchema, {
            "status": status, "user_id": user_id, "page": page, "per_page": per_page})
        return queries.list_orders(self.uow, self.actor, query)

    @rpc
    def get_order_events(self, order_id: str) -> list[Json]:
        """The order's history, oldest first (without the payment token)."""
        return queries.get_order_events(self.uow, self.actor, order_id)

    @rpc
    def modify_order(self, order_id: str, changes: Json) -> Json:
        """Change items and/or address before the capture is requested; new items go through the saga."""
        command = load(schemas.ModifyOrderSchema, changes)
        return handlers.modify_order(self.uow, RemoteCatalog(self.catalog_rpc), self.settings, self.actor,
                                     order_id, command)

    @rpc
    def cancel_order(self, order_id: str) -> Json:
        """Cancel: the owner before shipping, an admin before delivery."""
        return handlers.change_order(self.uow, self.actor, order_id, lambda order: order.cancel(self.actor))

    @rpc
    def ship_order(self, order_id: str) -> Json:
        """Mark a confirmed order shipped (admin)."""
        return handlers.change_order(self.uow, self.actor, order_id, lambda order: order.ship(self.actor))

    @rpc
    def deliver_order(self, order_id: str) -> Json:
        """Mark a shipped order delivered (admin)."""
        return handlers.change_order(self.uow, self.actor, order_id, lambda order: order.deliver(self.actor))

    @rpc
    def list_orders_needing_attention(self, page: int = 1, per_page: int = 20) -> Json:
        """Orders whose compensation keeps failing (admin)."""
        query = load(schemas.PageSchema, {"page": page, "per_page": per_page})
        return queries.list_needing_attention(self.uow, self.actor, query["page"], query["per_page"])

    @rpc
    def retry_compensation(self, order_id: str) -> Json:
        """Ask again for the compensation that failed (admin, shopctl)."""
        return handlers.change_order(self.uow, self.actor, order_id,
                                     lambda order: order.retry_compensation(self.actor))

    @event_handler("catalog", "stock_reserved")
    def on_stock_reserved(self, payload: Json) -> None:
        """The stock is held: ask for the payment."""
        self._react(saga.ON_STOCK_RESERVED, payload)

    @event_handler("catalog", "stock_reservation_failed")
    def on_stock_reservation_failed(self, payload: Json) -> None:
        """No stock: cancel (out_of_stock)."""
        self._react(saga.ON_STOCK_RESERVATION_FAILED, payload)

    @event_handler("catalog", "stock_adjusted")
    def on_stock_adjusted(self, payload: Json) -> None:
        """The catalog holds a modification's items: apply it, ask for the new amount."""
        self._react(saga.ON_STOCK_ADJUSTED, payload)

    @event_handler("catalog", "stock_adjustment_failed")
    def on_stock_adjustment_failed(self, payload: Json) -> None:
        """The catalog cannot hold a modification's items: reject it (or cancel if nothing is held)."""
        self._react(saga.ON_STOCK_ADJUSTMENT_FAILED, payload)

    @event_handler("payments", "payment_authorised")
    def on_payment_authorised(self, payload: Json) -> None:
        """Capture a current authorisation; void a stale one."""
        self._react(saga.ON_PAYMENT_AUTHORISED, payload)

    @event_handler("payments", "payment_action_required")
    def on_payment_action_required(self, payload: Json) -> None:
        """The card needs the customer (3-D Secure): show their step while the order waits."""
        self._react(saga.ON_PAYMENT_ACTION_REQUIRED, payload)

    @event_handler("payments", "payment_failed")
    def on_payment_failed(self, payload: Json) -> None:
        """The payment failed: cancel (payment_failed)."""
        self._react(saga.ON_PAYMENT_FAILED, payload)

    @event_handler("payments", "payment_captured")
    def on_payment_captured(self, payload: Json) -> None:
        """Paid: confirm the order."""
        self._react(saga.ON_PAYMENT_CAPTURED, payload)

    @event_handler("payments", "payment_compensation_failed")
    def on_payment_compensation_failed(self, payload: Json) -> None:
        """A void or refund keeps failing: flag the order for an operator."""
        self._react(saga.ON_PAYMENT_COMPENSATION_FAILED, payload)

    @event_handler("payments", "payment_refunded")
    def on_payment_refunded(self, payload: Json) -> None:
        """Money went back: the order's payment_status becomes partially_refunded or refunded."""
        self._react(saga.ON_PAYMENT_REFUNDED, payload)

    @event_handler("payments", "payment_voided")
    def on_payment_voided(self, payload: Json) -> None:
        """The order's authorised payment was voided: payment_status voided."""
        self._react(saga.ON_PAYMENT_VOIDED, payload)

    @configured_timer("DEADLINE_SCAN_INTERVAL", 5)
    def time_out_orders(self) -> None:
        """Cancel (timed_out) orders still waiting for stock or payment after their deadline."""
        handlers.time_out_due_orders(self.uow)
