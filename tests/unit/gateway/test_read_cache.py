"""The gateway's read cache: kept for the TTL, dropped on demand, one load per key at a time."""
from __future__ import annotations

import asyncio

import pytest

from gateway.read_cache import CachedBody, ReadCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Answers with the current ``value``; counts its loads; can be held until released."""

    def __init__(self, value: object = None) -> None:
        self.value = value
        self.loads = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> object:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> ReadCache:
    return ReadCache(ttl=1.0, clock=clock)


async def test_an_answer_is_kept_until_its_ttl_is_over(cache, clock):
    load = Loader({"price": 1})
    assert (await cache.get(("product", "a"), load)).body == b'{"price":1}'
    load.value = {"price": 2}
    clock.now += 0.99
    assert (await cache.get(("product", "a"), load)).body == b'{"price":1}'
    clock.now += 0.01
    assert (await cache.get(("product", "a"), load)).body == b'{"price":2}'
    assert load.loads == 2 and (cache.hits, cache.misses) == (1, 2)


async def test_a_dropped_key_is_loaded_again_and_others_are_kept(cache):
    load = Loader({"n": 1})
    await cache.get(("product", "a"), load)
    await cache.get(("product", "b"), load)
    cache.drop(lambda key: key == ("product", "a"))
    await cache.get(("product", "a"), load)
    await cache.get(("product", "b"), load)
    assert load.loads == 3
    cache.drop_all()
    await cache.get(("product", "b"), load)
    assert load.loads == 4


async def test_concurrent_misses_of_one_key_share_one_load(cache):
    load = Loader({"n": 1})
    load.gate = asyncio.Event()
    waiting = [asyncio.create_task(cache.get(("product", "a"), load)) for _ in range(20)]
    await asyncio.sleep(0)
    load.gate.set()
    answers = await asyncio.gather(*waiting)
    assert load.loads == 1 and {answer.body for answer in answers} == {b'{"n":1}'}


async def test_a_load_running_when_its_key_is_dropped_answers_but_is_not_kept(cache):
    load = Loader({"price": 1})
    load.gate = asyncio.Event()
    before = asyncio.create_task(cache.get(("product", "a"), load))
    await asyncio.sleep(0)
    cache.drop(lambda key: True)  # the price changed while the old one was being read
    load.gate.set()
    assert (await before).body == b'{"price":1}'
    load.value, load.gate = {"price": 2}, None
    assert (await cache.get(("product", "a"), load)).body == b'{"price":2}'
    assert load.loads == 2


async def test_a_failed_load_reaches_its_callers_and_is_never_kept(cache):
    load = Loader(LookupError("no such product"))
    for _ in range(2):
        with pytest.raises(LookupError):
            await cache.get(("product", "a"), load)
    assert load.loads == 2 and len(cache) == 0


async def test_a_caller_that_gives_up_does_not_cancel_the_load_for_the_others(cache):
    load = Loader({"n": 1})
    load.gate = asyncio.Event()
    impatient = asyncio.create_task(cache.get(("product", "a"), load))
    patient = asyncio.create_task(cache.get(("product", "a"), load))
    await asyncio.sleep(0)
    impatient.cancel()
    load.gate.set()
    assert (await patient).body == b'{"n":1}'
    assert load.loads == 1


async def test_the_oldest_entries_leave_first_when_it_is_full(clock):
    cache = ReadCache(ttl=60, max_entries=2, clock=clock)
    load = Loader({})
    for key in ("a", "b", "c"):
        await cache.get(("product", key), load)
    assert len(cache) == 2
    await cache.get(("product", "a"), load)  # "a" went first
    assert load.loads == 4


async def test_a_zero_ttl_keeps_nothing(clock):
    cache = ReadCache(ttl=0, clock=clock)
    load = Loader({})
    await cache.get(("product", "a"), load)
    await cache.get(("product", "a"), load)
    assert load.loads == 2


def test_the_etag_is_strong_and_follows_the_body():
    one, same, other = CachedBody.of({"a": 1}), CachedBody.of({"a": 1}), CachedBody.of({"a": 2})
    assert one.etag == same.etag != other.etag
    assert one.etag.startswith('"') and one.etag.endswith('"') and not one.etag.startswith("W/")
