"""A card that needs the customer (3-D Secure), through the gateway: the order waits in
awaiting_payment showing the challenge; Pass confirms it, Fail cancels it with the stock back,
and a customer who never answers is timed out by the deadline sweep, the payment voided.

The platform here is the module's own (a RabbitMQ node of its own, fresh databases), with a
short payment deadline, so the time-out takes seconds and no other test's order can be timed out.
"""
import time
import uuid

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
    order_once,
    payments_of,
    place,
    settled_stock,
    token_for,
    wait_for,
    wait_for_payments,
)

THREE_DS = "tok_threeDSecure2Required"
DEADLINE = 12  # seconds an order may wait for its payment here (production: 900)
OVERRIDES = {"SHOP_ORDER_PAYMENT_DEADLINE": str(DEADLINE), "SHOP_ORDER_DEADLINE_SCAN_INTERVAL": "1"}


@pytest.fixture(scope="module")
def own_platform(keys_dir, platform_overrides, tmp_path_factory):
    with PrivateBroker.running() as broker, fresh_databases("shop_e2e_3ds") as urls, \
            running_platform(broker.uri, urls, keys_dir, tmp_path_factory.mktemp("logs"),
                             platform_overrides | OVERRIDES) as running:
        ensure_admin(urls["core"], ADMIN_EMAIL, ADMIN_PASSWORD)
        yield running


@pytest.fixture(scope="module")
def client(own_platform):
    with httpx.Client(base_url=own_platform.base_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def admin_token(client):
    return token_for(client, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def customer(client):
    email = f"3ds-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": CUSTOMER_PASSWORD, "name": "Ada"}
    created = client.post("/api/v1/users", json=body)
    assert created.status_code == 201, created.text
    return token_for(client, email, CUSTOMER_PASSWORD)


def challenged(client, token, admin_token, stock=3):
    """A product with ``stock`` units and an order of one, waiting for the customer's challenge."""
    item = new_product(client, admin_token, stock=stock)
    placed = place(client, token, item["id"], card=THREE_DS)
    assert placed.status_code == 201, placed.text
    order = order_once(client, token, placed.json()["id"], lambda o: o["payment_action"] is not None)
    assert order["status"] == "awaiting_payment", order
    return item, order


def test_the_order_waits_showing_the_challenge_and_passing_it_confirms_the_order(client, customer,
                                                                                admin_token):
    item, order = challenged(client, customer, admin_token)
    action = order["payment_action"]
    assert action["type"] == "redirect" and action["url"].startswith("/sandbox/3ds/sbx_pi_")
    [payment] = payments_of(client, customer, order["id"])
    assert (payment["status"], payment["next_action"]) == ("requires_action", action)

    page = client.get(action["url"], params={"return_to": f"/orders/{order['id']}"})
    assert page.status_code == 200 and "Pass" in page.text and "12.50 EUR" in page.text
    answered = client.post(action["url"], data={"decision": "pass", "return_to": f"/orders/{order['id']}"},
                           follow_redirects=False)
    assert answered.status_code == 303 and answered.headers["location"] == f"/orders/{order['id']}"

    done = wait_for(client, customer, order["id"], FINAL)
    assert (done["status"], done["payment_status"], done["payment_action"]) == ("confirmed", "paid", None)
    assert settled_stock(client, admin_token, item["id"], on_hand=2)[0]["on_hand"] == 2
    assert [p["status"] for p in payments_of(client, customer, order["id"])] == ["captured"]
    again = client.post(action["url"], data={"decision": "fail"})
    assert again.status_code == 409  # answered: the page is done


def test_failing_the_challenge_cancels_the_order_and_releases_the_stock(client, customer, admin_token):
    item, order = challenged(client, customer, admin_token)
    answered = client.post(order["payment_action"]["url"], data={"decision": "fail"})
    assert answered.status_code == 200 and "declined" in answered.text

    done = wait_for(client, customer, order["id"], FINAL)
    assert (done["status"], done["cancellation_reason"], done["payment_action"]) == (
        "cancelled", "payment_failed", None)
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=3)
    assert current == expected
    [payment] = payments_of(client, customer, order["id"])
    assert payment["status"] == "failed"
    events = client.get(f"/api/v1/payments/{payment['id']}/events", headers=bearer(customer)).json()
    assert events[-1]["type"] == "PaymentFailed" and events[-1]["data"]["reason"] == "authentication_failed"


def test_a_customer_who_never_answers_is_timed_out_and_the_payment_voided(client, customer, admin_token):
    item, order = challenged(client, customer, admin_token)
    started = time.monotonic()
    done = wait_for(client, customer, order["id"], FINAL, timeout=DEADLINE + 30)
    assert (done["status"], done["cancellation_reason"], done["payment_action"]) == (
        "cancelled", "timed_out", None)
    assert time.monotonic() - started < DEADLINE + 30
    [payment] = wait_for_payments(client, customer, order["id"], {"voided"})
    assert payment["status"] == "voided"
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=3)
    assert current == expected
    late = client.post(order["payment_action"]["url"], data={"decision": "pass"})
    assert late.status_code == 409  # the challenge is over: the order stays cancelled
    assert wait_for(client, customer, order["id"], FINAL)["status"] == "cancelled"
