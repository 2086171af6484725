"""gateway.events against the real broker: one exclusive queue per subscriber hears every event."""
from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

import aio_pika

from gateway.events import EventSubscriber


async def _publish(uri: str, routing_key: str, body: bytes) -> None:
    """As a service's relay publishes: to the durable topic exchange ``orders.events``."""
    connection = await aio_pika.connect(uri)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange("orders.events", aio_pika.ExchangeType.TOPIC, durable=True)
        await exchange.publish(aio_pika.Message(body, content_type="application/json"), routing_key)


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _subscriber_queues(broker) -> list[dict]:
    bindings = broker.get(f"exchanges/{quote(broker.vhost, safe='')}/orders.events/bindings/source").json()
    return [broker.queue(binding["destination"]) for binding in bindings]


async def test_every_subscriber_hears_every_event_on_a_queue_of_its_own_that_goes_with_it(broker):
    heard_a, heard_b = [], []
    first = EventSubscriber(broker.uri, "orders", lambda event, payload: heard_a.append((event, payload)))
    second = EventSubscriber(broker.uri, "orders", lambda event, payload: heard_b.append((event, payload)))
    await first.start()
    await second.start()
    try:
        queues = _subscriber_queues(broker)
        assert len(queues) == 2
        assert all(q["exclusive"] and q["auto_delete"] and not q["durable"] for q in queues)
        await _publish(broker.uri, "not json", b"{oops")
        await _publish(broker.uri, "order_confirmed", json.dumps({"order_id": "o-1"}).encode())
        await _until(lambda: heard_a and heard_b)
        assert heard_a == heard_b == [("order_confirmed", {"order_id": "o-1"})]  # the bad one is dropped
    finally:
        await first.close()
        await second.close()
    await _until(lambda: _subscriber_queues(broker) == [])
