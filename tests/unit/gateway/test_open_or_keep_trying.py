"""The gateway starts without the broker and opens its RPC client and subscriptions once it is back."""
import asyncio

from gateway.rpc import open_or_keep_trying


def test_an_open_that_works_at_once_leaves_nothing_running():
    calls = []

    async def open_():
        calls.append(1)

    assert asyncio.run(open_or_keep_trying(open_, 0.01, "test")) is None
    assert calls == [1]


def test_a_broker_that_is_away_is_retried_until_it_answers():
    attempts = []

    async def open_():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError("connection refused")

    async def scenario():
        task = await open_or_keep_trying(open_, 0.01, "test")
        assert task is not None and len(attempts) == 1  # start() returned: the gateway serves (503s)
        await asyncio.wait_for(task, 2)

    asyncio.run(scenario())
    assert len(attempts) == 3
