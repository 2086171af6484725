"""The order stream: the document first, each announced change, heartbeats, the end at a final status."""
from __future__ import annotations

import asyncio
import json
import uuid

from gateway.order_updates import OrderUpdates
from nameko_services.common.errors import NotFound

ORDER_ID = str(uuid.uuid4())
STREAM = f"/api/v1/orders/{ORDER_ID}/stream"


def _events(text: str) -> list[dict]:
    """The data of each ``order`` event, in order."""
    return [json.loads(block.split("data: ", 1)[1]) for block in text.split("\n\n")
            if block.startswith("event: order\n")]


def _scripted(rpc, *statuses: str) -> list[str]:
    """get_order answers these statuses one read after another (the last one from then on)."""
    answers = list(statuses)

    def get_order(order_id: str) -> dict:
        status = answers.pop(0) if len(answers) > 1 else answers[0]
        return {"id": order_id, "status": status}
    rpc.handlers[("orders", "get_order")] = get_order
    return answers


def _updates(client) -> OrderUpdates:
    return client._transport.app.state.order_updates


async def _announce_while_streaming(client, *events: str) -> None:
    """Announce ``events`` for the order as the orders service would, once the stream watches it."""
    updates = _updates(client)
    for event in events:
        while updates.watched() == 0:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.02)
        updates.heard(event, {"order_id": ORDER_ID, "order_version": 1})


async def test_the_stream_sends_the_order_then_each_change_and_ends_at_a_final_status(client, rpc, customer):
    _scripted(rpc, "pending", "awaiting_payment", "cancelled")
    _updates(client).heartbeat = 30  # no re-read by the clock: only the events wake it
    announcing = asyncio.create_task(_announce_while_streaming(client, "payment_requested",
                                                               "order_cancelled"))
    response = await asyncio.wait_for(client.get(STREAM, headers=customer), 5)
    await announcing
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    statuses = [order["status"] for order in _events(response.text)]
    assert statuses == ["pending", "awaiting_payment", "cancelled"]
    assert _updates(client).watched() == 0  # the watcher is let go


async def test_an_event_for_another_order_does_not_wake_the_stream(client, rpc, customer):
    reads = _scripted(rpc, "pending", "cancelled")
    updates = _updates(client)
    updates.heartbeat = 0.3

    async def other_order() -> None:
        while updates.watched() == 0:
            await asyncio.sleep(0.01)
        updates.heard("order_cancelled", {"order_id": str(uuid.uuid4())})
        await asyncio.sleep(0.1)
        assert reads == ["cancelled"] and len(rpc.calls_to("orders", "get_order")) == 1  # not read again

    checking = asyncio.create_task(other_order())
    response = await asyncio.wait_for(client.get(STREAM, headers=customer), 5)
    await checking
    # Only the heartbeat's re-read found the cancellation, after a heartbeat line.
    assert ": heartbeat" in response.text
    assert [order["status"] for order in _events(response.text)] == ["pending", "cancelled"]


async def test_an_unchanged_order_is_not_sent_twice(client, rpc, customer):
    _scripted(rpc, "pending", "pending", "delivered")
    _updates(client).heartbeat = 30
    announcing = asyncio.create_task(_announce_while_streaming(client, "stock_adjustment_requested",
                                                               "order_confirmed"))
    response = await asyncio.wait_for(client.get(STREAM, headers=customer), 5)
    await announcing
    assert [order["status"] for order in _events(response.text)] == ["pending", "delivered"]


async def test_a_stream_of_an_order_the_caller_may_not_see_is_a_404_before_anything_streams(client, rpc,
                                                                                            customer):
    rpc.fail("orders", "get_order", NotFound("No such order."))
    response = await client.get(STREAM, headers=customer)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert _updates(client).watched() == 0


async def test_the_stream_needs_a_signed_in_caller_and_a_well_formed_id(client, rpc, customer):
    assert (await client.get(STREAM)).status_code == 401
    assert (await client.get("/api/v1/orders/not-a-uuid/stream", headers=customer)).status_code == 404
    assert rpc.calls_to("orders", "get_order") == []


async def test_the_stream_reads_the_order_as_the_caller(client, rpc, bearer):
    _scripted(rpc, "cancelled")
    user = str(uuid.uuid4())
    response = await client.get(STREAM, headers=bearer("customer", user_id=user))
    assert _events(response.text)[0]["status"] == "cancelled"
    [call] = rpc.calls_to("orders", "get_order")
    assert call.principal is not None and call.principal.user_id == user


async def test_an_event_the_orders_service_has_not_applied_yet_is_read_again_soon(client, rpc, customer):
    # A payments event reaches the gateway as it reaches orders: the first read may not show it.
    _scripted(rpc, "pending", "pending", "cancelled")
    _updates(client).heartbeat = 30
    announcing = asyncio.create_task(_announce_while_streaming(client, "payment_failed"))
    response = await asyncio.wait_for(client.get(STREAM, headers=customer), 5)
    await announcing
    assert [order["status"] for order in _events(response.text)] == ["pending", "cancelled"]
    assert ": heartbeat" not in response.text  # a follow-up read, not the heartbeat's
