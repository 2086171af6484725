"""The orders service over RabbitMQ and PostgreSQL, with stand-ins for catalog and payments.

The stand-ins take the names "catalog" and "payments" (their service keys are trusted), answer
the RPCs and emit the events of docs/SAGA.md; a listener records what orders announces.
"""
import uuid

import eventlet
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from nameko.dependency_providers import Config
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from nameko_services.catalog.service import CatalogService
from nameko_services.common import schema_revisions
from nameko_services.common.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    InvalidInput,
    OrderNotFound,
    OrderNotModifiable,
    OrderNotShippable,
    OutOfStock,
    ProductNotFound,
)
from nameko_services.common.events import event_handler
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import event_publisher
from nameko_services.common.rpc import rpc
from nameko_services.orders import projection
from nameko_services.orders.models import Base
from nameko_services.orders.service import OrdersService
from tests.integration.services.event_listeners import wait_for

CUSTOMER = ("00000000-0000-4000-8000-0000000000c1", ["customer"])
OTHER = ("00000000-0000-4000-8000-0000000000c2", ["customer"])
ADMIN = ("00000000-0000-4000-8000-0000000000ad", ["customer", "admin"])
MUG = "00000000-0000-4000-8000-0000000000f1"
PLATE = "00000000-0000-4000-8000-0000000000f2"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
ORDERS_EVENTS = ("order_placed", "stock_adjustment_requested", "payment_requested", "capture_requested",
                 "void_requested", "order_confirmed", "order_cancelled")


def publish(config, service, event_type, payload, event_id=None):
    """Emit an event with a service's outbox relay publisher: confirmed, signed, with an event id."""
    event_id = event_id or str(uuid.uuid4())
    event_publisher(config, service)(OutboxMessage(event_id, event_type, payload, {}))
    return event_id


class Listener:
    """Records every event orders announces."""

    name = "orders_listener"
    received = []

    def _record(self, event_type, payload):
        Listener.received.append((event_type, payload))

    @event_handler("orders", "order_placed")
    def on_order_placed(self, payload):
        self._record("order_placed", payload)

    @event_handler("orders", "stock_adjustment_requested")
    def on_stock_adjustment_requested(self, payload):
        self._record("stock_adjustment_requested", payload)

    @event_handler("orders", "payment_requested")
    def on_payment_requested(self, payload):
        self._record("payment_requested", payload)

    @event_handler("orders", "capture_requested")
    def on_capture_requested(self, payload):
        self._record("capture_requested", payload)

    @event_handler("orders", "void_requested")
    def on_void_requested(self, payload):
        self._record("void_requested", payload)

    @event_handler("orders", "order_confirmed")
    def on_order_confirmed(self, payload):
        self._record("order_confirmed", payload)

    @event_handler("orders", "order_cancelled")
    def on_order_cancelled(self, payload):
        self._record("order_cancelled", payload)


class StandInCatalog:
    """Prices two products, reserves from ``stock`` on order_placed and adjusts (unless ``silent``)."""

    name = "catalog"
    config = Config()
    products = {MUG: ("Mug", 999), PLATE: ("Plate", 1500)}
    stock = {}
    silent = False
    price_delay = 0.0
    adjusted = []

    @rpc
    def price_items(self, items):
        eventlet.sleep(StandInCatalog.price_delay)
        missing = [i["product_id"] for i in items if i["product_id"] not in self.products]
        if missing:
            raise ProductNotFound(details={"product_ids": missing})
        lines = [{"product_id": i["product_id"], "name": self.products[i["product_id"]][0],
                  "unit_price": self.products[i["product_id"]][1], "quantity": i["quantity"],
                  "line_total": self.products[i["product_id"]][1] * i["quantity"]} for i in items]
        return {"currency": "EUR", "items": lines, "total": sum(line["line_total"] for line in lines)}

    @event_handler("orders", "stock_adjustment_requested")
    def on_stock_adjustment_requested(self, payload):
        if self.silent:
            return
        answer = {"order_id": payload["order_id"], "order_version": payload["order_version"]}
        short = [i for i in payload["items"] if i["quantity"] > self.stock.get(i["product_id"], 0)]
        if short:
            publish(self.config, "catalog", "stock_adjustment_failed", dict(
                answer, reason="out_of_stock", details={"items": short}, items=payload["current_items"]))
        else:
            StandInCatalog.adjusted.append((payload["order_id"], payload["order_version"], payload["items"]))
            publish(self.config, "catalog", "stock_adjusted", dict(answer, items=payload["items"]))

    @event_handler("orders", "order_placed")
    def on_order_placed(self, payload):
        if self.silent:
            return
        short = [i for i in payload["items"] if i["quantity"] > self.stock.get(i["product_id"], 0)]
        if short:
            publish(self.config, "catalog", "stock_reservation_failed", {
                "order_id": payload["order_id"], "order_version": payload["order_version"],
                "reason": "out_of_stock", "details": {"items": short}})
        else:
            publish(self.config, "catalog", "stock_reserved", {
                "order_id": payload["order_id"], "order_version": payload["order_version"],
                "items": payload["items"]})


class StandInPayments:
    """Authorises (``tok_visa``) or declines payment requests and captures, unless ``silent``; as
    payments of schema 1.0 does (it never heard of capture_at_once) unless ``at_once``."""

    name = "payments"
    config = Config()
    silent = False
    at_once = False

    @event_handler("orders", "payment_requested")
    def on_payment_requested(self, payload):
        if self.silent:
            return
        reply = {"order_id": payload["order_id"], "order_version": payload["order_version"],
                 "payment_id": str(uuid.uuid4()), "amount": payload["amount"],
                 "currency": payload["currency"]}
        if payload["payment_token"] == "tok_visa" and self.at_once and payload["capture_at_once"]:
            publish(self.config, "payments", "payment_captured", reply)
        elif payload["payment_token"] == "tok_visa":
            publish(self.config, "payments", "payment_authorised", reply)
        else:
            publish(self.config, "payments", "payment_failed", dict(
                reply, reason="declined", message="The card was declined."))

    @event_handler("orders", "capture_requested")
    def on_capture_requested(self, payload):
        publish(self.config, "payments", "payment_captured", {
            "order_id": payload["order_id"], "order_version": payload["order_version"],
            "payment_id": payload["payment_id"], "amount": 0, "currency": "EUR"})


@pytest.fixture
def deadline_seconds():
    return 60


@pytest.fixture
def config(orders_config, deadline_seconds):
    return dict(orders_config, EVENT_RETRY_DELAYS=[0.1, 0.2], PAYMENT_DEADLINE_SECONDS=deadline_seconds,
                DEADLINE_SCAN_INTERVAL=0.2, RPC_TIMEOUT=5, MODIFICATION_WAIT_SECONDS=0.5,
                max_workers=20)


@pytest.fixture
def stand_ins(config, container_factory):
    # ``config`` (and its database) first: torn down after the containers, which use it.
    Listener.received = []
    StandInCatalog.stock, StandInCatalog.silent, StandInCatalog.adjusted = {MUG: 10, PLATE: 10}, False, []
    StandInCatalog.price_delay = 0.0
    StandInPayments.silent = StandInPayments.at_once = False
    for cls in (Listener, StandInCatalog, StandInPayments):
        container_factory(cls, config).start()  # their queues exist before orders publishes


@pytest.fixture
def orders(config, container_factory, stand_ins):
    container = container_factory(OrdersService, config)
    container.start()
    return container


@pytest.fixture
def as_customer(call, orders):
    return lambda method, *args, **kwargs: call("orders", method, *args, as_user=CUSTOMER, **kwargs)


@pytest.fixture
def as_admin(call, orders):
    return lambda method, *args, **kwargs: call("orders", method, *args, as_user=ADMIN, **kwargs)


def body(quantity=2, token="tok_visa", product=MUG):
    return {"items": [{"product_id": product, "quantity": quantity}], "shipping_address": ADDRESS,
            "payment": {"token": token}}


def place(as_customer, key=None, **kwargs):
    key = key or str(uuid.uuid4())
    return as_customer("place_order", idempotency_key=key, payload=body(**kwargs))["order"]


def announced(event_type, order_id):
    return [p for t, p in Listener.received if t == event_type and p["order_id"] == order_id]


def announced_once(event_type, order_id, count=1):
    wait_for(lambda: len(announced(event_type, order_id)) >= count)
    return announced(event_type, order_id)


def status_becomes(as_customer, order_id, status):
    wait_for(lambda: as_customer("get_order", order_id)["status"] == status)
    return as_customer("get_order", order_id)


# --- the saga -------------------------------------------------------------------------------

def test_the_happy_path_runs_from_pending_to_confirmed_announcing_every_step(as_customer):
    order = place(as_customer)
    assert (order["status"], order["total"], order["currency"]) == ("pending", 1998, "EUR")
    confirmed = status_becomes(as_customer, order["id"], "confirmed")
    oid = order["id"]
    assert announced("order_placed", oid) == [{"order_id": oid, "order_version": 1, "user_id": CUSTOMER[0],
                                               "items": [{"product_id": MUG, "quantity": 2}],
                                               "total": 1998, "currency": "EUR"}]
    [requested] = announced("payment_requested", oid)
    assert (requested["order_version"], requested["amount"]) == (2, 1998)
    assert requested["payment_token"] == "tok_visa"
    [capture] = announced("capture_requested", oid)
    assert capture["order_version"] == 3
    [confirmation] = announced_once("order_confirmed", oid)
    assert confirmation == {"order_id": oid, "order_version": 4, "payment_id": capture["payment_id"]}
    history = as_customer("get_order_events", oid)
    assert [(e["version"], e["type"]) for e in history] == [
        (1, "OrderPlaced"), (2, "StockReserved"), (3, "CaptureRequested"), (4, "PaymentCaptured")]
    assert "tok_visa" not in repr(history)
    assert confirmed["updated_at"] == history[-1]["occurred_at"]


def test_a_payment_captured_at_once_confirms_the_order_in_one_step(as_customer):
    StandInPayments.at_once = True
    order = place(as_customer)
    oid = order["id"]
    status_becomes(as_customer, oid, "confirmed")
    [requested] = announced("payment_requested", oid)
    assert requested["capture_at_once"] is True
    [confirmation] = announced_once("order_confirmed", oid)
    assert confirmation["order_version"] == 3 and announced("capture_requested", oid) == []
    history = as_customer("get_order_events", oid)
    assert [e["type"] for e in history] == ["OrderPlaced", "StockReserved", "PaymentCaptured"]
    assert as_customer("get_order", oid)["payment_status"] == "paid"


def test_a_capture_made_at_once_for_an_older_version_is_sent_back_for_a_refund(as_customer, config):
    StandInPayments.silent = True
    order = place(as_customer, quantity=1)
    status_becomes(as_customer, order["id"], "awaiting_payment")
    as_customer("modify_order", order["id"], {"items": [{"product_id": MUG, "quantity": 3}]})
    wait_for(lambda: as_customer("get_order", order["id"])["total"] == 2997)
    stray = str(uuid.uuid4())  # the old total's payment, captured while the order changed
    publish(config, "payments", "payment_captured", {
        "order_id": order["id"], "order_version": 2, "payment_id": stray, "amount": 999, "currency": "EUR"})
    assert announced_once("void_requested", order["id"]) == [{"order_id": order["id"], "payment_id": stray}]
    after = as_customer("get_order", order["id"])
    assert (after["status"], after["payment_status"]) == ("awaiting_payment", "pending")


def test_an_order_the_stock_cannot_cover_is_cancelled_as_out_of_stock(as_customer):
    order = place(as_customer, quantity=11)
    cancelled = status_becomes(as_customer, order["id"], "cancelled")
    assert cancelled["cancellation_reason"] == "out_of_stock"
    assert announced_once("order_cancelled", order["id"])[0]["reason"] == "out_of_stock"
    assert announced("payment_requested", order["id"]) == []


def test_a_declined_payment_cancels_the_order_and_announces_it(as_customer):
    order = place(as_customer, token="tok_chargeDeclined")
    cancelled = status_becomes(as_customer, order["id"], "cancelled")
    assert cancelled["cancellation_reason"] == "payment_failed"
    assert announced_once("order_cancelled", order["id"]) == [
        {"order_id": order["id"], "order_version": 3, "reason": "payment_failed"}]
    assert announced("capture_requested", order["id"]) == []


def test_the_same_event_twice_has_one_effect_and_stale_events_are_ignored(as_customer, orders, config):
    StandInCatalog.silent = StandInPayments.silent = True
    order = place(as_customer)
    oid = order["id"]
    reserved = {"order_id": oid, "order_version": 1, "items": [{"product_id": MUG, "quantity": 2}]}
    event_id = publish(config, "catalog", "stock_reserved", reserved)
    announced_once("payment_requested", oid)
    with entrypoint_waiter(orders, "on_stock_reserved", timeout=10):
        publish(config, "catalog", "stock_reserved", reserved, event_id=event_id)  # redelivered
    with entrypoint_waiter(orders, "on_stock_reserved", timeout=10):
        publish(config, "catalog", "stock_reserved", dict(reserved, order_version=7))  # stale
    with entrypoint_waiter(orders, "on_stock_reservation_failed", timeout=10):
        publish(config, "catalog", "stock_reservation_failed", dict(reserved, reason="out_of_stock"))
    eventlet.sleep(0.5)
    assert len(announced("payment_requested", oid)) == 1
    assert as_customer("get_order", oid)["status"] == "awaiting_payment"
    assert len(as_customer("get_order_events", oid)) == 2


def test_a_stale_authorisation_is_voided_and_leaves_the_order_alone(as_customer, orders, config):
    StandInPayments.silent = True
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "awaiting_payment")
    stray = str(uuid.uuid4())
    publish(config, "payments", "payment_authorised", {
        "order_id": order["id"], "order_version": 1, "payment_id": stray, "amount": 1998, "currency": "EUR"})
    assert announced_once("void_requested", order["id"]) == [{"order_id": order["id"], "payment_id": stray}]
    assert as_customer("get_order", order["id"])["status"] == "awaiting_payment"
    assert announced("capture_requested", order["id"]) == []


@pytest.mark.parametrize("deadline_seconds", [1])
def test_an_order_nobody_answers_times_out_and_is_announced_cancelled(as_customer):
    StandInCatalog.silent = True
    order = place(as_customer)
    cancelled = status_becomes(as_customer, order["id"], "cancelled")
    assert cancelled["cancellation_reason"] == "timed_out"
    assert announced_once("order_cancelled", order["id"])[0]["reason"] == "timed_out"


def test_a_failing_compensation_flags_the_order_and_a_retry_announces_the_cancellation_again(
        as_customer, as_admin, config):
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "confirmed")
    as_customer("cancel_order", order["id"])
    payment_id = announced_once("order_confirmed", order["id"])[0]["payment_id"]
    publish(config, "payments", "payment_compensation_failed", {
        "order_id": order["id"], "payment_id": payment_id, "action": "refund", "reason": "provider down"})
    wait_for(lambda: as_admin("list_orders_needing_attention")["total"] == 1)
    flagged = as_admin("list_orders_needing_attention")["items"][0]
    assert flagged["id"] == order["id"] and flagged["needs_attention"]
    assert flagged["attention_reason"] == f"refund of payment {payment_id} failed: provider down"
    retried = as_admin("retry_compensation", order["id"])
    assert not retried["needs_attention"]
    first, again = announced_once("order_cancelled", order["id"], count=2)
    assert first == again == {"order_id": order["id"], "order_version": 5, "reason": "cancelled_by_customer"}
    with pytest.raises(Exception) as raised:
        as_admin("retry_compensation", order["id"])
    assert type(raised.value).__name__ == "NoCompensationPending"


# --- placing with an Idempotency-Key ---------------------------------------------------------------

def test_the_same_key_and_body_replay_the_order_and_another_body_is_refused(as_customer, orders_db):
    StandInCatalog.silent = True  # the order stays as placed while it is compared
    first = as_customer("place_order", idempotency_key="k-1", payload=body())
    again = as_customer("place_order", idempotency_key="k-1", payload=body())
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["order"] == first["order"]
    with pytest.raises(IdempotencyKeyReused):
        as_customer("place_order", idempotency_key="k-1", payload=body(quantity=3))
    with orders_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 1


def test_two_concurrent_requests_with_one_key_place_one_order(as_customer, orders_db):
    StandInCatalog.price_delay = 0.5  # the first request is still running when the second arrives

    def attempt():
        try:
            return as_customer("place_order", idempotency_key="k-2", payload=body())["order"]["id"]
        except IdempotencyKeyInUse:
            return "in use"

    results = [t.wait() for t in [eventlet.spawn(attempt) for _ in range(2)]]
    order_ids = {r for r in results if r != "in use"}
    assert len(order_ids) == 1 and "in use" in results
    with orders_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 1
    assert as_customer("place_order", idempotency_key="k-2", payload=body())["replayed"] is True


def test_a_request_that_fails_frees_its_key(as_customer, orders_db):
    with pytest.raises(ProductNotFound):
        as_customer("place_order", idempotency_key="k-3", payload=body(product=str(uuid.uuid4())))
    with orders_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM idempotency_keys")).scalar() == 0
    assert as_customer("place_order", idempotency_key="k-3", payload=body())["replayed"] is False


def test_a_call_without_a_valid_idempotency_key_is_the_same_400_error_as_at_the_gateway(as_customer):
    for key in ("", "has space", "x" * 256):
        with pytest.raises(IdempotencyKeyMissing):
            as_customer("place_order", idempotency_key=key, payload=body())


def test_unknown_fields_are_refused_by_name(as_customer):
    with pytest.raises(InvalidInput) as raised:
        as_customer("place_order", idempotency_key="k-4", payload=dict(body(), discount=100))
    assert raised.value.details == {"discount": ["Unknown field."]}


# --- modification, cancellation, ownership ---------------------------------------------------------

def test_a_modification_re_reserves_and_asks_for_the_new_amount(as_customer):
    StandInPayments.silent = True
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "awaiting_payment")
    changed = as_customer("modify_order", order["id"], {"items": [{"product_id": PLATE, "quantity": 3}]})
    assert (changed["status"], changed["total"], changed["pending_modification"]) == (
        "awaiting_payment", 4500, None)
    assert StandInCatalog.adjusted == [(order["id"], 3, [{"product_id": PLATE, "quantity": 3}])]
    requested = announced_once("payment_requested", order["id"], count=2)
    assert [(r["order_version"], r["amount"]) for r in requested] == [(2, 1998), (4, 4500)]
    with pytest.raises(OutOfStock):
        as_customer("modify_order", order["id"], {"items": [{"product_id": PLATE, "quantity": 50}]})
    kept = as_customer("get_order", order["id"])
    assert (kept["items"], kept["total"], kept["pending_modification"]) == (changed["items"], 4500, None)
    requested = announced_once("payment_requested", order["id"], count=3)
    assert [(r["order_version"], r["amount"]) for r in requested][-1] == (6, 4500)


def test_a_modification_the_catalog_does_not_answer_in_time_stays_pending_until_it_does(call, config,
                                                                                       as_customer):
    StandInPayments.silent = True
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "awaiting_payment")
    StandInCatalog.silent = True
    pending = as_customer("modify_order", order["id"], {"items": [{"product_id": PLATE, "quantity": 2}]})
    assert (pending["status"], pending["total"]) == ("awaiting_payment", 1998)
    assert pending["pending_modification"]["total"] == 3000
    [request] = announced_once("stock_adjustment_requested", order["id"])
    publish(config, "catalog", "stock_adjusted", {"order_id": order["id"], "order_version": 3,
                                                  "items": request["items"]})  # the catalog, later
    wait_for(lambda: as_customer("get_order", order["id"])["total"] == 3000)
    assert as_customer("get_order", order["id"])["pending_modification"] is None


def test_an_order_being_paid_can_no_longer_be_modified(as_customer):
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "confirmed")
    with pytest.raises(OrderNotModifiable):
        as_customer("modify_order", order["id"], {"shipping_address": ADDRESS})


def test_a_cancellation_before_payment_is_announced_for_the_stock_to_be_released(as_customer):
    StandInPayments.silent = True
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "awaiting_payment")
    cancelled = as_customer("cancel_order", order["id"])
    assert (cancelled["status"], cancelled["cancellation_reason"]) == ("cancelled", "cancelled_by_customer")
    assert announced_once("order_cancelled", order["id"]) == [
        {"order_id": order["id"], "order_version": 3, "reason": "cancelled_by_customer"}]


def test_a_cancellation_after_payment_is_announced_for_a_refund_and_a_restock(as_customer, as_admin):
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "confirmed")
    as_admin("ship_order", order["id"])
    with pytest.raises(Exception) as refused:
        as_customer("cancel_order", order["id"])
    assert type(refused.value).__name__ == "OrderNotCancellable"
    cancelled = as_admin("cancel_order", order["id"])
    assert cancelled["cancellation_reason"] == "cancelled_by_admin"
    assert announced_once("order_cancelled", order["id"])[0]["reason"] == "cancelled_by_admin"


def test_another_customers_order_does_not_exist_for_a_customer(call, as_customer, as_admin):
    StandInCatalog.silent = True  # the order stays as placed while it is compared
    order = place(as_customer)
    for method in ("get_order", "get_order_events", "cancel_order"):
        with pytest.raises(OrderNotFound):
            call("orders", method, order["id"], as_user=OTHER)
    assert call("orders", "list_orders", user_id=CUSTOMER[0], as_user=OTHER)["total"] == 0
    assert as_admin("list_orders", user_id=CUSTOMER[0])["items"][0]["id"] == order["id"]
    assert as_admin("get_order", order["id"]) == as_customer("get_order", order["id"])


def test_refunds_move_the_payment_status_and_a_fully_refunded_order_is_not_shipped(config, as_customer,
                                                                                    as_admin):
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "confirmed")
    paid = as_customer("get_order", order["id"])
    assert paid["payment_status"] == "paid"
    [capture] = announced_once("capture_requested", order["id"])
    refund = {"order_id": order["id"], "payment_id": capture["payment_id"], "currency": "EUR"}
    publish(config, "payments", "payment_refunded", dict(refund, amount=500, refunded_total=500))
    wait_for(lambda: as_customer("get_order", order["id"])["payment_status"] == "partially_refunded")
    publish(config, "payments", "payment_refunded", dict(refund, amount=1498, refunded_total=1998))
    wait_for(lambda: as_customer("get_order", order["id"])["payment_status"] == "refunded")
    with pytest.raises(OrderNotShippable):
        as_admin("ship_order", order["id"])
    assert as_customer("get_order", order["id"])["status"] == "confirmed"


def test_an_admin_ships_and_delivers_a_confirmed_order(as_customer, as_admin):
    order = place(as_customer)
    status_becomes(as_customer, order["id"], "confirmed")
    assert as_admin("ship_order", order["id"])["status"] == "shipped"
    assert as_admin("deliver_order", order["id"])["status"] == "delivered"
    assert [o["status"] for o in as_admin("list_orders", status="delivered")["items"]] == ["delivered"]


# --- the projection -----------------------------------------------------------------------------

def _snapshot(engine):
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(text("SELECT * FROM orders ORDER BY id")).mappings()]


def test_the_orders_table_rebuilt_from_the_events_equals_the_one_written_live(as_customer, orders_db):
    StandInPayments.silent = True
    first, second, third = (place(as_customer) for _ in range(3))
    for order in (first, second, third):
        status_becomes(as_customer, order["id"], "awaiting_payment")
    as_customer("modify_order", first["id"], {"items": [{"product_id": PLATE, "quantity": 1}],
                                              "shipping_address": dict(ADDRESS, city="Hamburg")})
    as_customer("cancel_order", second["id"])
    live = _snapshot(orders_db)
    with orders_db.begin() as conn:
        conn.execute(text("UPDATE orders SET status = 'delivered', total = 0, items = '[]'"))
    with Session(orders_db) as session:
        assert projection.rebuild(session) == 3
        session.commit()
    assert _snapshot(orders_db) == live
    assert {row["status"] for row in live} == {"awaiting_payment", "cancelled"}


def test_the_migrated_orders_tables_match_the_models(orders_db_url):
    engine = create_engine(orders_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_name": schema_revisions.not_bookkeeping, "compare_type": True,
                "compare_server_default": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


# --- with the real catalog ------------------------------------------------------------------------

@pytest.fixture
def real_catalog_saga(config, core_config, container_factory):
    Listener.received = []
    StandInPayments.silent = StandInPayments.at_once = False
    for cls, cfg in ((Listener, config), (StandInPayments, config),
                     (CatalogService, dict(core_config, EVENT_RETRY_DELAYS=[0.1, 0.2]))):
        container_factory(cls, cfg).start()
    container_factory(OrdersService, config).start()


def test_with_the_real_catalog_a_paid_order_takes_its_units_out_of_stock(call, real_catalog_saga):
    product = call("catalog", "create_product", {"sku": "MUG-1", "name": "Mug", "price": 999,
                                                 "currency": "EUR", "stock": 5}, as_user=ADMIN)
    order = call("orders", "place_order", idempotency_key="real-1", as_user=CUSTOMER, payload=body(
        quantity=3, product=product["id"]))["order"]
    assert order["items"][0]["name"] == "Mug" and order["total"] == 2997
    wait_for(lambda: call("orders", "get_order", order["id"], as_user=CUSTOMER)["status"] == "confirmed")
    wait_for(lambda: call("catalog", "get_stock", product["id"], as_user=ADMIN)["on_hand"] == 2)
    assert call("catalog", "get_stock", product["id"], as_user=ADMIN)["reserved"] == 0


def test_with_the_real_catalog_a_modification_moves_the_reservation(call, real_catalog_saga):
    StandInPayments.silent = True
    product = call("catalog", "create_product", {"sku": "MUG-2", "name": "Mug", "price": 999,
                                                 "currency": "EUR", "stock": 5}, as_user=ADMIN)
    order = call("orders", "place_order", idempotency_key="real-2", as_user=CUSTOMER, payload=body(
        quantity=1, product=product["id"]))["order"]
    wait_for(lambda: call("orders", "get_order", order["id"],
                          as_user=CUSTOMER)["status"] == "awaiting_payment")
    call("orders", "modify_order", order["id"], {"items": [{"product_id": product["id"], "quantity": 4}]},
         as_user=CUSTOMER)
    assert call("catalog", "get_stock", product["id"], as_user=ADMIN)["reserved"] == 4
    with pytest.raises(OutOfStock):
        call("orders", "modify_order", order["id"], {"items": [{"product_id": product["id"], "quantity": 6}]},
             as_user=CUSTOMER)
    call("orders", "cancel_order", order["id"], as_user=CUSTOMER)
    wait_for(lambda: call("catalog", "get_stock", product["id"], as_user=ADMIN)["reserved"] == 0)
