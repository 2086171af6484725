"""Fault tests: the saga loses nothing and does nothing twice when its processes fail.

Each test breaks the running platform in one way (a relay dies with committed, unpublished
events; a service is down while orders arrive; every event of an order is delivered again), then
checks the end state: every order final, stock and money agreeing with the orders.
"""
import signal
import time
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy as sa

from gateway.presence import PRESENCE_TTL
from nameko_services.ops.endpoints import amqp_credentials, management_url
from tests.e2e.saga_support import (
    FINAL,
    bearer,
    payments_of,
    place,
    ready_messages,
    settled_stock,
    wait_for,
    wait_until,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def database(database_urls):
    """``database("orders")`` → an engine on that database of the platform (disposed afterwards)."""
    engines = {}

    def engine(name):
        if name not in engines:
            engines[name] = sa.create_engine(database_urls[name])
        return engines[name]

    yield engine
    for made in engines.values():
        made.dispose()


@pytest.fixture
def restricted_amqp_user(vhost_uri):
    """``restricted_amqp_user(write=regex)`` → an AMQP URI of a new user that may only write there."""
    api, auth = management_url(vhost_uri), amqp_credentials(vhost_uri)
    vhost = quote(urlsplit(vhost_uri).path.lstrip("/") or "/", safe="")
    made = []

    def create(write):
        name, password = f"shop-e2e-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
        httpx.put(f"{api}/api/users/{name}", auth=auth, timeout=10,
                  json={"password": password, "tags": ""}).raise_for_status()
        httpx.put(f"{api}/api/permissions/{vhost}/{name}", auth=auth, timeout=10,
                  json={"configure": ".*", "write": write, "read": ".*"}).raise_for_status()
        made.append(name)
        parts = urlsplit(vhost_uri)
        return urlunsplit(parts._replace(netloc=f"{name}:{password}@{parts.hostname}:{parts.port}"))

    yield create
    for name in made:
        httpx.delete(f"{api}/api/users/{name}", auth=auth, timeout=10)


def unpublished(engine, order_ids):
    """The outbox rows about ``order_ids`` that are committed but not published yet."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT event_type FROM outbox WHERE published_at IS NULL AND payload->>'order_id' = ANY(:ids)"
        ), {"ids": list(order_ids)}).scalars().all()


def assert_every_order_confirmed_once(client, admin_token, token, order_ids, product_id, on_hand):
    """Each order confirmed, one captured payment of its total each, the stock taken once per unit."""
    orders = [wait_for(client, token, order_id, FINAL) for order_id in order_ids]
    assert [o["status"] for o in orders] == ["confirmed"] * len(orders)
    for order in orders:
        payments = payments_of(client, token, order["id"])
        assert [(p["status"], p["amount"]) for p in payments] == [("captured", order["total"])]
    current, expected = settled_stock(client, admin_token, product_id, on_hand=on_hand)
    assert current == expected


def test_events_committed_when_the_relay_dies_unpublished_are_published_after_a_restart(
        platform, client, admin_token, register_customer, product, database, restricted_amqp_user):
    _, token = register_customer()
    item = product(stock=5)
    # An orders process whose relay cannot publish: its events are committed and stay unsent.
    no_events = restricted_amqp_user(write=r"^(?!orders\.events$).*")
    platform.restart("orders", env={"SHOP_AMQP_URI": no_events})
    platform.wait_ready()
    try:
        order_ids = []
        for _ in range(3):
            placed = place(client, token, item["id"])
            assert placed.status_code == 201, placed.text
            order_ids.append(placed.json()["id"])
        assert wait_until(lambda: len(unpublished(database("orders"), order_ids)) == 3)
        assert {wait_for(client, token, o, FINAL, timeout=1)["status"] for o in order_ids} == {"pending"}

        platform.end("orders", signal.SIGKILL)  # the relay dies between commit and publish
    finally:
        platform.restart("orders")
    platform.wait_ready()

    assert_every_order_confirmed_once(client, admin_token, token, order_ids, item["id"], on_hand=2)
    assert unpublished(database("orders"), order_ids) == []


def test_orders_placed_while_payments_is_down_are_all_confirmed_once_it_is_back(
        platform, client, admin_token, register_customer, product):
    _, token = register_customer()
    item = product(stock=10)
    platform.end("payments")
    stopped = time.monotonic()
    try:
        order_ids = []
        for _ in range(6):
            placed = place(client, token, item["id"])
            assert placed.status_code == 201, placed.text
            order_ids.append(placed.json()["id"])
        # The saga goes as far as it can without payments, and waits there.
        statuses = {wait_for(client, token, o, {"awaiting_payment"})["status"] for o in order_ids}
        assert statuses == {"awaiting_payment"}
        # Asked directly, the gateway says at once that payments is down (no 504 after the deadline).
        time.sleep(max(0.0, stopped + PRESENCE_TTL - time.monotonic()))  # a "running" answer expires
        started = time.monotonic()
        direct = client.get(f"/api/v1/payments?order_id={order_ids[0]}", headers=bearer(token))
        assert time.monotonic() - started < 0.5
        assert direct.status_code == 503, direct.text
        assert direct.json()["error"]["code"] == "service_unavailable"
        assert direct.json()["error"]["details"] == {"service": "payments"}
        # This gateway still serves everything else: ready for its orchestrator, payments degraded.
        assert client.get("/ready").status_code == 200
        services = client.get("/health/services").json()
        assert (services["status"], services["services"]["payments"]) == ("degraded", "service_unavailable")
    finally:
        platform.restart("payments")
    platform.wait_ready()

    assert_every_order_confirmed_once(client, admin_token, token, order_ids, item["id"], on_hand=4)


def test_every_event_of_an_order_delivered_again_changes_nothing(
        client, admin_token, register_customer, product, database, vhost_uri):
    _, token = register_customer()
    item = product(stock=4)
    order = wait_for(client, token, place(client, token, item["id"], quantity=2).json()["id"], FINAL)
    assert order["status"] == "confirmed"
    history = client.get(f"/api/v1/orders/{order['id']}/events", headers=bearer(token)).json()
    [payment] = payments_of(client, token, order["id"])
    payment_history = client.get(f"/api/v1/payments/{payment['id']}/events", headers=bearer(token)).json()

    # Every service's relay publishes every event of this order a second time.
    republished = 0
    for name in ("core", "orders", "payments"):
        with database(name).begin() as conn:
            republished += conn.execute(sa.text(
                "UPDATE outbox SET published_at = NULL WHERE payload->>'order_id' = :id"
            ), {"id": order["id"]}).rowcount
    assert republished >= 6  # placed, reserved, payment requested, authorised, capture, captured...
    for name in ("core", "orders", "payments"):
        assert wait_until(lambda name=name: unpublished(database(name), [order["id"]]) == [])
    assert wait_until(lambda: ready_messages(vhost_uri) == 0)
    time.sleep(1)  # the last deliveries, taken but maybe not yet acked, finish in milliseconds

    assert client.get(f"/api/v1/orders/{order['id']}/events", headers=bearer(token)).json() == history
    assert client.get(f"/api/v1/payments/{payment['id']}/events",
                      headers=bearer(token)).json() == payment_history
    assert payments_of(client, token, order["id"]) == [payment]
    assert wait_for(client, token, order["id"], FINAL)["status"] == "confirmed"
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=2)
    assert current == expected
