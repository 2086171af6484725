"""The order stream through the whole platform: the saga's steps arrive as they happen."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import httpx

from tests.e2e.saga_support import bearer, place, wait_for

ARRIVAL_BUDGET = 1.0  # seconds from the order's change to its event at the client


def _read(client: httpx.Client, token: str, order_id: str, until: set[str], timeout: float = 30.0):
    """(order, seconds since its updated_at when it arrived) for each event, until a status in ``until``."""
    seen = []
    with client.stream("GET", f"/api/v1/orders/{order_id}/stream", headers=bearer(token),
                       timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            order = json.loads(line[len("data: "):])
            lag = time.time() - datetime.fromisoformat(order["updated_at"]).timestamp()
            seen.append((order, lag))
            if order["status"] in until:
                break
    return seen


def test_a_placed_order_streams_its_steps_until_confirmed_each_within_a_second(client, register_customer,
                                                                             product):
    _, token = register_customer()
    item = product(stock=3)
    # Transient once: the retry keeps the order awaiting payment long enough to be seen moving.
    placed = place(client, token, item["id"], card="tok_processingErrorOnce")
    assert placed.status_code == 201, placed.text
    seen = _read(client, token, placed.json()["id"], until={"confirmed", "cancelled"})
    statuses = [order["status"] for order, _ in seen]
    assert statuses[-1] == "confirmed", statuses
    assert len(statuses) >= 2 and statuses == sorted(statuses, key=["pending", "awaiting_payment",
                                                                     "confirmed"].index), statuses
    # The first is whatever the order was; every later one was pushed by an orders event.
    late = [round(lag, 3) for _, lag in seen[1:] if lag > ARRIVAL_BUDGET]
    assert late == [], f"events arrived {late} s after the change"


def test_a_cancelled_order_ends_its_stream_and_others_cannot_open_it(client, register_customer, product):
    _, token = register_customer()
    _, stranger = register_customer(name="Eve")
    item = product(stock=3)
    placed = place(client, token, item["id"], card="tok_chargeDeclined")
    order_id = placed.json()["id"]
    assert client.get(f"/api/v1/orders/{order_id}/stream", headers=bearer(stranger)).status_code == 404
    started = time.monotonic()
    # No `until`: the stream must end by itself once the order is cancelled.
    seen = _read(client, token, order_id, until=set())
    assert seen[-1][0]["status"] == "cancelled" and seen[-1][0]["cancellation_reason"] == "payment_failed"
    assert time.monotonic() - started < 15, "the stream should end at the cancellation, not at a timeout"


def test_shipping_and_delivery_reach_the_stream_within_a_second(client, register_customer, product,
                                                                admin_token):
    _, token = register_customer()
    placed = place(client, token, product(stock=3)["id"])
    order_id = placed.json()["id"]
    assert wait_for(client, token, order_id, {"confirmed", "cancelled"})["status"] == "confirmed"
    seen = []

    def read_until_delivered():
        seen.extend(_read(client, token, order_id, until={"delivered"}))

    reader = threading.Thread(target=read_until_delivered)
    reader.start()
    time.sleep(0.5)  # the stream's first event (the confirmed order) is in before the admin acts
    for step in ("ship", "deliver"):
        answer = client.post(f"/api/v1/orders/{order_id}/{step}", headers=bearer(admin_token))
        assert answer.status_code == 200, answer.text
        time.sleep(0.3)
    reader.join(timeout=20)
    statuses = [order["status"] for order, _ in seen]
    assert statuses[-2:] == ["shipped", "delivered"], statuses
    # Pushed by order_shipped / order_delivered, well before the stream's 15 s heartbeat.
    late = [round(lag, 3) for order, lag in seen if order["status"] != "confirmed" and lag > ARRIVAL_BUDGET]
    assert late == [], f"shipping/delivery arrived {late} s after the change"
