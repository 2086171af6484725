"""The presence check's rules: one question per service per ttl, shared, a missing queue is no one."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiormq
import pytest

from gateway.presence import PresenceCache, ServicePresence


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeChannel:
    """Answers passive declares from ``consumers`` (queue → count); like RabbitMQ, it closes
    itself on a missing queue and refuses further work until reopened."""

    def __init__(self, consumers: dict[str, int], delay: float = 0.0) -> None:
        self.consumers = consumers
        self.delay = delay
        self.asked: list[str] = []
        self.is_closed = False
        self.reopened = 0
        self.fail_with: BaseException | None = None

    async def reopen(self) -> None:
        self.is_closed, self.reopened = False, self.reopened + 1

    async def declare_queue(self, name: str, *, passive: bool, robust: bool) -> SimpleNamespace:
        assert passive and not robust and not self.is_closed
        self.asked.append(name)
        await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        if name not in self.consumers:
            self.is_closed = True
            raise aiormq.exceptions.ChannelNotFoundEntity(f"NOT_FOUND - no queue '{name}'")
        return SimpleNamespace(declaration_result=SimpleNamespace(consumer_count=self.consumers[name]))


def test_an_answer_is_trusted_for_the_ttl_and_then_forgotten():
    clock = FakeClock()
    cache = PresenceCache(ttl=1.0, clock=clock)
    assert cache.get("orders") is None
    cache.put("orders", False)
    clock.now += 0.99
    assert cache.get("orders") is False
    clock.now += 0.01
    assert cache.get("orders") is None


def test_answers_are_kept_per_service():
    cache = PresenceCache(ttl=1.0, clock=FakeClock())
    cache.put("orders", True)
    cache.put("payments", False)
    assert (cache.get("orders"), cache.get("payments"), cache.get("users")) == (True, False, None)


async def test_a_queue_with_consumers_is_running_and_one_without_is_not():
    presence = ServicePresence(FakeChannel({"rpc-orders": 2, "rpc-payments": 0}))
    assert await presence.is_running("orders") is True
    assert await presence.is_running("payments") is False


async def test_within_the_ttl_the_cache_answers_and_after_it_the_broker_is_asked_again():
    clock, channel = FakeClock(), FakeChannel({"rpc-payments": 1})
    presence = ServicePresence(channel, ttl=1.0, clock=clock)
    assert await presence.is_running("payments")
    channel.consumers["rpc-payments"] = 0  # every instance stops
    clock.now += 0.5
    assert await presence.is_running("payments")
    clock.now += 0.5
    assert not await presence.is_running("payments")
    assert channel.asked == ["rpc-payments", "rpc-payments"]


async def test_concurrent_questions_about_one_service_share_one_declare():
    channel = FakeChannel({"rpc-orders": 1}, delay=0.01)
    presence = ServicePresence(channel)
    assert await asyncio.gather(*(presence.is_running("orders") for _ in range(20))) == [True] * 20
    assert channel.asked == ["rpc-orders"]


async def test_a_missing_queue_is_no_one_and_the_closed_channel_is_reopened_for_the_next_question():
    clock, channel = FakeClock(), FakeChannel({"rpc-orders": 1})
    presence = ServicePresence(channel, clock=clock)
    assert not await presence.is_running("nobody")
    assert await presence.is_running("orders")
    assert channel.reopened == 1


async def test_a_broker_error_propagates_and_is_not_remembered():
    channel = FakeChannel({"rpc-orders": 1})
    presence = ServicePresence(channel)
    channel.fail_with = aiormq.exceptions.ChannelInvalidStateError("closed")
    with pytest.raises(aiormq.exceptions.ChannelInvalidStateError):
        await presence.is_running("orders")
    channel.fail_with = None
    assert await presence.is_running("orders")
    assert channel.asked == ["rpc-orders", "rpc-orders"]
