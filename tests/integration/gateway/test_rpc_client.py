"""The gateway's asyncio RPC client against RabbitMQ and a nameko service."""
from __future__ import annotations

import asyncio
import time

import pytest

from gateway.context import request_id
from gateway.errors import BadGateway, status_for
from gateway.rpc import AmqpRpcClient
from nameko_services.common.auth import Principal
from nameko_services.common.errors import (
    REGISTRY,
    Conflict,
    EmailTaken,
    ServiceTimeout,
    ServiceUnavailable,
)
from nameko_services.ops.endpoints import with_vhost

ADA = Principal(user_id="0b7c1f2e-4a5d-4e6f-8a9b-0c1d2e3f4a5b", roles=("customer", "admin"))


async def test_a_call_returns_the_result_and_carries_caller_and_context(client):
    token = request_id.set("req-42")
    try:
        answer = await client.call("echo", "echo", principal=ADA, text="hello", n=3)
    finally:
        request_id.reset(token)
    assert answer["kwargs"] == {"text": "hello", "n": 3}
    assert (answer["user_id"], answer["roles"]) == (ADA.user_id, ["customer", "admin"])
    assert answer["service"] == "gateway"
    assert answer["correlation_id"] == "req-42"
    assert answer["call_id_stack"][0].startswith("gateway.echo.")


async def test_an_anonymous_call_reaches_the_service_as_the_gateway_only(client):
    answer = await client.call("echo", "echo")
    assert (answer["user_id"], answer["roles"], answer["service"]) == (None, [], "gateway")


async def test_a_typed_remote_error_is_rebuilt_with_its_details(client):
    with pytest.raises(EmailTaken) as caught:
        await client.call("echo", "fail", kind="email_taken")
    assert caught.value.message == "Taken."
    assert caught.value.details == {"email": ["Already registered."], "attempts": 2}


async def test_an_error_class_the_gateway_does_not_know_arrives_as_its_base_with_its_code(client):
    assert "GiftCardExpired" not in REGISTRY  # defined in the echo service only
    with pytest.raises(Conflict) as caught:
        await client.call("echo", "fail", kind="gift_card_expired")
    assert type(caught.value) is Conflict
    assert status_for(type(caught.value)) == (409, "conflict")
    assert (caught.value.code, caught.value.message, caught.value.details) == (
        "gift_card_expired", "The gift card has expired.", {"card": "c-1"})


async def test_an_unexpected_remote_error_is_a_bad_gateway(client):
    with pytest.raises(BadGateway) as caught:
        await client.call("echo", "fail", kind="boom")
    assert "internal_table_name" not in str(caught.value)


async def test_an_unknown_method_and_a_bad_signature_are_bad_gateways(client):
    with pytest.raises(BadGateway):
        await client.call("echo", "no_such_method")
    with pytest.raises(BadGateway):
        await client.call("echo", "sleep", minutes=1)


async def test_a_slow_service_times_out_within_the_bound_and_the_client_recovers(client):
    started = time.monotonic()
    with pytest.raises(ServiceTimeout):
        await client.call("echo", "sleep", seconds=4)
    assert 1.9 <= time.monotonic() - started < 3.0
    assert client.in_flight == 0
    assert (await client.call("echo", "echo", x=1))["kwargs"] == {"x": 1}


async def test_a_service_without_a_queue_fails_fast(client):
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        await client.call("nobody", "anything")
    assert time.monotonic() - started < 1.0
    assert client.in_flight == 0


async def test_many_calls_in_flight_each_get_their_own_answer(client):
    answers = await asyncio.gather(*(client.call("echo", "echo", i=i) for i in range(300)))
    assert [a["kwargs"]["i"] for a in answers] == list(range(300))
    assert client.in_flight == 0


async def test_slow_and_fast_calls_in_flight_do_not_wait_for_each_other(client):
    slow = asyncio.create_task(client.call("echo", "sleep", seconds=1.5))
    started = time.monotonic()
    assert (await client.call("echo", "echo", fast=True))["kwargs"] == {"fast": True}
    assert time.monotonic() - started < 1.0
    assert await slow == "awake"


async def _eventually_answers(client: AmqpRpcClient, within: float = 15.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        try:
            return await client.call("echo", "echo", again=True)
        except ServiceUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def test_the_client_reconnects_after_the_broker_closes_its_connection(client, broker):
    await asyncio.to_thread(broker._connections_named, client.reply_to)
    closing = asyncio.create_task(asyncio.to_thread(broker.close_connections, client.reply_to))
    while not closing.done():  # keep a call in flight until the broker drops the connection
        started = time.monotonic()
        try:
            await client.call("echo", "sleep", seconds=1.5)
        except ServiceUnavailable:
            break
    else:
        pytest.fail("no call was in flight when the connection closed")
    assert time.monotonic() - started < 1.9  # it failed at once, it did not wait for the timeout
    assert await closing == 1
    # The answer came back, so the reply queue was declared, bound and consumed again.
    assert (await _eventually_answers(client))["kwargs"] == {"again": True}
    assert await asyncio.to_thread(broker.queue, client.reply_to) is not None


async def test_the_client_reconnects_when_every_connection_of_the_vhost_is_closed(client, broker):
    await asyncio.to_thread(broker.close_connections, None, 2)  # the echo service's too
    assert (await _eventually_answers(client, within=30))["kwargs"] == {"again": True}


async def test_the_client_reconnects_after_its_socket_is_closed(client):
    transport = client._connection.transport  # type: ignore[union-attr]
    await transport.connection.close()
    assert (await _eventually_answers(client))["kwargs"] == {"again": True}


async def test_without_a_broker_calls_fail_fast_with_503_and_start_does_not_crash(keys_dir):
    rpc = AmqpRpcClient("amqp://guest:guest@127.0.0.1:1/", timeout=2.0, reconnect_interval=0.2)
    await rpc.start()
    try:
        assert not rpc.connected
        started = time.monotonic()
        with pytest.raises(ServiceUnavailable):
            await rpc.call("echo", "echo")
        assert time.monotonic() - started < 0.5
    finally:
        await rpc.close()




async def test_a_client_started_before_its_vhost_exists_connects_once_it_does(broker, keys_dir):
    vhost = f"{broker.vhost}-late"
    rpc = AmqpRpcClient(with_vhost(broker.uri, vhost), timeout=2.0, reconnect_interval=0.2)
    await rpc.start()
    try:
        assert not rpc.connected
        await asyncio.to_thread(broker.create_vhost, vhost)
        deadline = time.monotonic() + 10
        while not rpc.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert rpc.connected
    finally:
        await rpc.close()
        await asyncio.to_thread(broker.delete_vhost, vhost)
