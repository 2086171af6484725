"""The order stream through the whole platform: the saga's steps arrive as they happen."""
from __future__ import annotations

import json
import time
from datetime import datetime

import httpx

from tests.e2e.saga_support import bearer, place

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
