"""Answers an anonymous reader would get, kept in this process for at most ``ttl`` seconds.

An entry is dropped as soon as something says it changed (``gateway.catalog_cache`` maps the
catalog's events to drops), so the TTL is only the safety net for an event that never came
(a broker reconnection, a change no event announces). Concurrent misses of one key share one
load. A load that was running when its key was dropped still answers its waiters but is not
kept: it may have read the state from before the change.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

DEFAULT_TTL = 1.0
DEFAULT_MAX_ENTRIES = 10_000  # searches are keyed by their query: bounded, oldest out first

Key = tuple[Hashable, ...]  # (kind, ...): ("product", id), ("products", query), ("categories",)
Loader = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class CachedBody:
    """A JSON answer as sent (Starlette's JSONResponse encoding) and its strong ETag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, document: Any) -> CachedBody:
        body = json.dumps(document, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8")
        return cls(body, f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"')


class ReadCache:
    """``await cache.get(key, load)``: the cached answer, or ``load()``'s, kept for ``ttl`` s."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[Key, tuple[CachedBody, float]] = {}  # key → (answer, expires at)
        self._loading: dict[Key, asyncio.Task[CachedBody]] = {}
        self.hits = self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    async def get(self, key: Key, load: Loader) -> CachedBody:
        """The answer for ``key``; ``load``'s errors reach every waiter and are never kept."""
        entry = self._entries.get(key)
        if entry is not None and entry[1] > self._clock():
            self.hits += 1
            return entry[0]
        self.misses += 1
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.create_task(self._fill(key, load))
            task.add_done_callback(_retrieve)
        # Shielded: a waiter that goes away (client gone, deadline) does not cancel the others'.
        return await asyncio.shield(task)

    async def _fill(self, key: Key, load: Loader) -> CachedBody:
        this = asyncio.current_task()
        try:
            answer = CachedBody.of(await load())
            if self._loading.get(key) is this:  # not dropped meanwhile: nothing newer exists
                self._keep(key, answer)
            return answer
        finally:
            if self._loading.get(key) is this:
                del self._loading[key]

    def _keep(self, key: Key, answer: CachedBody) -> None:
        self._entries.pop(key, None)  # re-inserted last: the dict's order is the age order
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (answer, self._clock() + self.ttl)

    def drop(self, predicate: Callable[[Key], bool]) -> None:
        """Forget every entry, and every running load, whose key matches."""
        for store in (self._entries, self._loading):
            for key in [key for key in store if predicate(key)]:
                del store[key]

    def drop_all(self) -> None:
        self._entries.clear()
        self._loading.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _retrieve(task: asyncio.Task[CachedBody]) -> None:
    """Mark a load's error as seen: its waiters may all have gone away."""
    if not task.cancelled():
        task.exception()
