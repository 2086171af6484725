"""Events are trusted only with a token of the service whose exchange they came from.

Someone who reaches RabbitMQ without a service key publishes ``order_cancelled`` to release
stock or ``payment_captured`` to confirm an unpaid order: each forgery is dead-lettered with
the reason and changes nothing; the genuine event, signed by the relay, does its work.
"""
import uuid

import pytest
from kombu import Connection
from sqlalchemy import text

from nameko_services.catalog.service import CatalogService
from nameko_services.common.event_keys import event_resigner
from nameko_services.common.events import REFUSED_HEADER, dead_letter_queue_name, replay_dead_letters
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import event_publisher
from nameko_services.common.rpc import rpc
from nameko_services.orders.service import OrdersService
from tests.integration.services.event_listeners import wait_for
from tests.integration.services.forgery import (
    EVENT_FORGERIES,
    dead_letters,
    event_token,
    publish_event,
    refused,
)

ADMIN = ("00000000-0000-4000-8000-0000000000ad", ["customer", "admin"])
CUSTOMER = ("00000000-0000-4000-8000-0000000000c1", ["customer"])
MUG = "00000000-0000-4000-8000-0000000000f1"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
CANCELLED_QUEUE = "evt-orders-order_cancelled--catalog.on_order_cancelled"
CAPTURED_QUEUE = "evt-payments-payment_captured--orders.on_payment_captured"


def emit(config, service, event_type, payload):
    """Publish a genuine event, signed as ``service``'s relay signs it."""
    event_publisher(config, service)(OutboxMessage(str(uuid.uuid4()), event_type, payload, {}))


def forge(config, variant, service, event_type, payload):
    event_id = str(uuid.uuid4())
    token = event_token(variant, service=service, event_type=event_type, event_id=event_id, payload=payload)
    publish_event(config, service, event_type, payload, token, event_id=event_id)


# --- catalog: a forged order_cancelled must not release stock ------------------------------------

@pytest.fixture
def catalog_config(core_config):
    return dict(core_config, EVENT_RETRY_DELAYS=[0.1, 0.2])


@pytest.fixture
def catalog_admin(container_factory, catalog_config, call):
    container_factory(CatalogService, catalog_config).start()
    return lambda method, *args: call("catalog", method, *args, as_user=ADMIN)


@pytest.fixture
def reservation(catalog_admin, catalog_config):
    """An order holding 3 of 10 mugs, reserved through a genuine order_placed."""
    product = catalog_admin("create_product", {"sku": "MUG-1", "name": "Mug", "price": 999,
                                               "currency": "EUR", "stock": 10})
    order_id = str(uuid.uuid4())
    emit(catalog_config, "orders", "order_placed", {
        "order_id": order_id, "order_version": 1, "user_id": CUSTOMER[0], "total": 2997, "currency": "EUR",
        "items": [{"product_id": product["id"], "quantity": 3}]})
    wait_for(lambda: catalog_admin("get_stock", product["id"])["reserved"] == 3)
    return order_id, product["id"]


def dead_letter_count(config, queue_name):
    with Connection(config["AMQP_URI"]) as conn:
        return conn.channel().queue_declare(dead_letter_queue_name(queue_name), passive=True).message_count


def wait_for_dead_letters(config, queue_name):
    wait_for(lambda: dead_letter_count(config, queue_name) > 0)
    return dead_letters(config, queue_name)


def released_rows(core_db, order_id):
    with core_db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM outbox WHERE event_type = 'stock_released' "
                                 "AND payload->>'order_id' = :o"), {"o": order_id}).scalar()


@pytest.mark.parametrize("variant", EVENT_FORGERIES)
def test_a_forged_order_cancelled_is_dead_lettered_and_releases_nothing(variant, reservation, catalog_admin,
                                                                        catalog_config, core_db):
    order_id, product_id = reservation
    cancelled = {"order_id": order_id, "order_version": 2, "reason": "cancelled_by_customer"}
    forge(catalog_config, variant, "orders", "order_cancelled", cancelled)
    payload, reason = refused(catalog_config, CANCELLED_QUEUE)
    assert payload == cancelled
    assert EVENT_FORGERIES[variant] in reason
    assert catalog_admin("get_stock", product_id)["reserved"] == 3
    assert released_rows(core_db, order_id) == 0


def test_the_genuine_order_cancelled_releases_the_stock(reservation, catalog_admin, catalog_config, core_db):
    order_id, product_id = reservation
    emit(catalog_config, "orders", "order_cancelled",
         {"order_id": order_id, "order_version": 2, "reason": "cancelled_by_customer"})
    wait_for(lambda: catalog_admin("get_stock", product_id)["reserved"] == 0)
    assert released_rows(core_db, order_id) == 1
    assert dead_letters(catalog_config, CANCELLED_QUEUE) == []


# --- replaying refused events -------------------------------------------------------------------

def test_a_replayed_old_event_is_refused_again_and_the_replay_ends(reservation, catalog_admin,
                                                                   catalog_config):
    order_id, product_id = reservation
    forge(catalog_config, "expired", "orders", "order_cancelled",
          {"order_id": order_id, "order_version": 2, "reason": "cancelled_by_customer"})
    wait_for(lambda: dead_letter_count(catalog_config, CANCELLED_QUEUE) == 1)
    # the event comes straight back to the dead-letter queue; only what was there is moved
    assert replay_dead_letters(catalog_config["AMQP_URI"], CANCELLED_QUEUE) == 1
    [(_, headers)] = wait_for_dead_letters(catalog_config, CANCELLED_QUEUE)
    assert "expired" in headers[REFUSED_HEADER]
    assert catalog_admin("get_stock", product_id)["reserved"] == 3


def test_replay_with_resign_applies_a_genuine_old_event_and_leaves_forgeries(reservation, catalog_admin,
                                                                             catalog_config):
    order_id, product_id = reservation
    cancelled = {"order_id": order_id, "order_version": 2, "reason": "cancelled_by_customer"}
    forge(catalog_config, "expired", "orders", "order_cancelled", cancelled)
    forge(catalog_config, "unknown-key", "orders", "order_cancelled", cancelled)
    wait_for(lambda: dead_letter_count(catalog_config, CANCELLED_QUEUE) == 2)
    resign = event_resigner(CANCELLED_QUEUE)
    assert replay_dead_letters(catalog_config["AMQP_URI"], CANCELLED_QUEUE, resign=resign) == 1
    wait_for(lambda: catalog_admin("get_stock", product_id)["reserved"] == 0)
    [(_, headers)] = dead_letters(catalog_config, CANCELLED_QUEUE)
    assert "unknown key" in headers[REFUSED_HEADER]


# --- orders: a forged payment_captured must not confirm an order -----------------------------------

class PricingCatalog:
    """Prices mugs for place_order; the rest of the saga is driven by the test's own events."""

    name = "catalog"

    @rpc
    def price_items(self, items):
        lines = [{"product_id": i["product_id"], "name": "Mug", "unit_price": 999, "quantity": i["quantity"],
                  "line_total": 999 * i["quantity"]} for i in items]
        return {"currency": "EUR", "items": lines, "total": sum(line["line_total"] for line in lines)}


@pytest.fixture
def saga_config(orders_config):
    return dict(orders_config, EVENT_RETRY_DELAYS=[0.1, 0.2], RPC_TIMEOUT=5)


@pytest.fixture
def as_customer(container_factory, saga_config, call):
    container_factory(PricingCatalog, saga_config).start()
    container_factory(OrdersService, saga_config).start()
    return lambda method, *args, **kwargs: call("orders", method, *args, as_user=CUSTOMER, **kwargs)


@pytest.fixture
def awaiting_capture(as_customer, saga_config):
    """An order whose stock is reserved and payment authorised: capture requested (version 3)."""
    order = as_customer("place_order", idempotency_key=str(uuid.uuid4()), payload={
        "items": [{"product_id": MUG, "quantity": 2}], "payment": {"token": "tok_visa"},
        "shipping_address": ADDRESS})["order"]
    oid, payment_id = order["id"], str(uuid.uuid4())
    emit(saga_config, "catalog", "stock_reserved",
         {"order_id": oid, "order_version": 1, "items": [{"product_id": MUG, "quantity": 2}]})
    wait_for(lambda: as_customer("get_order", oid)["status"] == "awaiting_payment")
    emit(saga_config, "payments", "payment_authorised",
         {"order_id": oid, "order_version": 2, "payment_id": payment_id, "amount": 1998, "currency": "EUR"})
    wait_for(lambda: len(as_customer("get_order_events", oid)) == 3)
    return oid, payment_id


@pytest.mark.parametrize("variant", EVENT_FORGERIES)
def test_a_forged_payment_captured_is_dead_lettered_and_confirms_nothing(
        variant, awaiting_capture, as_customer, saga_config):
    oid, payment_id = awaiting_capture
    before = as_customer("get_order", oid)
    captured = {"order_id": oid, "order_version": 3, "payment_id": payment_id, "amount": 1998,
                "currency": "EUR"}
    forge(saga_config, variant, "payments", "payment_captured", captured)
    payload, reason = refused(saga_config, CAPTURED_QUEUE)
    assert payload == captured
    assert EVENT_FORGERIES[variant] in reason
    assert as_customer("get_order", oid) == before
    assert before["status"] == "awaiting_payment"
    assert len(as_customer("get_order_events", oid)) == 3


def test_the_genuine_payment_captured_confirms_the_order(awaiting_capture, as_customer, saga_config):
    oid, payment_id = awaiting_capture
    emit(saga_config, "payments", "payment_captured",
         {"order_id": oid, "order_version": 3, "payment_id": payment_id, "amount": 1998, "currency": "EUR"})
    wait_for(lambda: as_customer("get_order", oid)["status"] == "confirmed")
    assert dead_letters(saga_config, CAPTURED_QUEUE) == []
