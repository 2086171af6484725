"""The broker restarted in the middle of a batch of orders: every order accepted once, and final.

The platform here runs on a RabbitMQ node of the test's own (``private_broker.py``), restarted
for real while clients place orders. Clients behave as a frontend should: an answer of 5xx (or no
answer) is retried with the same ``Idempotency-Key``, so an order the platform took before the
broker went away is returned again, never made twice.
"""
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from nameko_services.users.admin import ensure_admin
from tests.e2e.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CUSTOMER_PASSWORD,
    fresh_databases,
    running_platform,
)
from tests.e2e.private_broker import PrivateBroker
from tests.e2e.saga_support import (
    FINAL,
    bearer,
    new_product,
    place_until_accepted,
    settled_stock,
    token_for,
    wait_for,
)

pytestmark = pytest.mark.slow

ORDERS, STOCK, CLIENTS = 30, 20, 30
SPREAD = 0.25  # seconds between the orders' first attempts: the batch outlasts the broker's restart
# A second platform beside the suite's: fewer database connections each, so both fit the server's 100.
SMALL_POOLS = {"SHOP_MAX_WORKERS": "8"}


@pytest.fixture(scope="module")
def broker():
    with PrivateBroker.running() as node:
        yield node


@pytest.fixture(scope="module")
def own_platform(broker, keys_dir, platform_overrides, tmp_path_factory):
    with fresh_databases("shop_e2e_broker") as urls, \
            running_platform(broker.uri, urls, keys_dir, tmp_path_factory.mktemp("logs"),
                             platform_overrides | SMALL_POOLS) as running:
        ensure_admin(urls["core"], ADMIN_EMAIL, ADMIN_PASSWORD)
        yield running


@pytest.fixture
def client(own_platform):
    with httpx.Client(base_url=own_platform.base_url, timeout=30) as http:
        yield http


def test_a_broker_restart_mid_batch_loses_no_order_and_makes_none_twice(broker, own_platform, client):
    admin = token_for(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    email = f"customer-{uuid.uuid4().hex[:10]}@example.com"
    assert client.post("/api/v1/users", json={"email": email, "password": CUSTOMER_PASSWORD,
                                              "name": "Ada"}).status_code == 201
    token = token_for(client, email, CUSTOMER_PASSWORD)
    item = new_product(client, admin, stock=STOCK, price=900)

    keys = [uuid.uuid4().hex for _ in range(ORDERS)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(place_until_accepted, lambda _: own_platform.base_url, token, item["id"],
                               key, started + index * SPREAD) for index, key in enumerate(keys)]
        while sum(f.done() for f in futures) < ORDERS // 4:
            time.sleep(0.05)
        broker.restart()
        placed = [future.result() for future in futures]

    order_ids = [order_id for order_id, _ in placed]
    assert sum(attempts for _, attempts in placed) > ORDERS  # the restart did interrupt the batch
    assert len(set(order_ids)) == ORDERS
    listed = client.get("/api/v1/orders?per_page=100", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == ORDERS  # no retry made a second order
    orders = [wait_for(client, token, order_id, FINAL, timeout=120) for order_id in order_ids]
    confirmed = [o for o in orders if o["status"] == "confirmed"]
    cancelled = [o for o in orders if o["status"] == "cancelled"]
    assert (len(confirmed), len(cancelled)) == (STOCK, ORDERS - STOCK)
    assert {o["cancellation_reason"] for o in cancelled} == {"out_of_stock"}
    current, expected = settled_stock(client, admin, item["id"], on_hand=0)
    assert current == expected
    payments = client.get("/api/v1/payments?per_page=100", headers=bearer(token)).json()["items"]
    captured = sorted((p["order_id"], p["amount"]) for p in payments if p["status"] == "captured")
    assert captured == sorted((o["id"], o["total"]) for o in confirmed)
    assert {p["status"] for p in payments} <= {"captured", "voided", "failed"}
