"""A call to a service whose every instance has stopped fails at once, not at its deadline.

nameko's queue ``rpc-<service>`` outlives the service, so the request is routable and the
mandatory publish cannot tell; the client's presence check (``gateway.presence``) can.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from gateway.errors import status_for
from gateway.presence import PRESENCE_TTL
from nameko_services.common.errors import ServiceTimeout, ServiceUnavailable

# Far below the client's 2 s deadline: one round trip to the broker, or none (cached).
FAST = 0.25


async def _timed_failure(call) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        await call
    return caught.value, time.monotonic() - started


async def test_a_slow_service_still_times_out_but_a_stopped_one_is_unavailable_at_once_to_every_call(
        client, stoppable_service, broker):
    error, elapsed = await _timed_failure(client.call("stoppable", "sleep", seconds=4))
    assert isinstance(error, ServiceTimeout) and 1.9 <= elapsed < 3.0

    await asyncio.to_thread(stoppable_service.stop)
    assert await asyncio.to_thread(broker.queue, "rpc-stoppable") is not None  # still routable
    await asyncio.sleep(PRESENCE_TTL)  # an answer of "running" may be remembered this long

    error, elapsed = await _timed_failure(client.call("stoppable", "echo"))
    assert type(error) is ServiceUnavailable and elapsed < FAST
    assert error.details == {"service": "stoppable"}
    assert status_for(type(error)) == (503, "service_unavailable")

    started = time.monotonic()  # and so does every other call, together
    results = await asyncio.gather(*(client.call("stoppable", "echo", i=i) for i in range(50)),
                                   return_exceptions=True)
    assert time.monotonic() - started < FAST
    assert {type(result) for result in results} == {ServiceUnavailable}
    assert client.in_flight == 0


async def test_a_service_started_again_is_called_again_once_the_answer_expires(client, stoppable_service):
    await asyncio.to_thread(stoppable_service.stop)
    await asyncio.sleep(PRESENCE_TTL)
    await _timed_failure(client.call("stoppable", "echo"))

    await asyncio.to_thread(stoppable_service.start)
    started = time.monotonic()
    while True:
        try:
            answer = await client.call("stoppable", "echo", back=True)
            break
        except ServiceUnavailable:
            assert time.monotonic() - started < PRESENCE_TTL + 0.5
            await asyncio.sleep(0.05)
    assert answer["kwargs"] == {"back": True}
