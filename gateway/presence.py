"""Whether a service has a running instance, asked before each call so a stopped one fails fast.

nameko serves a service's calls from the durable queue ``rpc-<service>``, bound to ``nameko-rpc``
with ``<service>.*``. When every instance has stopped, the queue stays and keeps taking requests
that nobody reads, so a call would wait its whole deadline for a 504. A passive declare of the
queue answers with its consumer count in one round trip: no consumers, or no queue, means no
instance. Answers are kept per service for ``ttl`` seconds and concurrent callers share one
question, so a busy gateway asks the broker about once a second per service.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiormq
from aio_pika.abc import AbstractRobustChannel

# nameko.rpc.RPC_QUEUE_TEMPLATE; not imported from there, nameko pulls in eventlet.
RPC_QUEUE = "rpc-{}"
PRESENCE_TTL = 1.0
# A passive declare is one round trip (~1 ms); a broker silent this long is in trouble.
ASK_TIMEOUT = 1.0


class PresenceCache:
    """The last answer per service, trusted for ``ttl`` seconds after it was given."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._answers: dict[str, tuple[bool, float]] = {}

    def get(self, service: str) -> bool | None:
        """The answer for ``service``, or None when there is none or it is ``ttl`` old."""
        answer = self._answers.get(service)
        if answer is None or self._clock() - answer[1] >= self.ttl:
            return None
        return answer[0]

    def put(self, service: str, running: bool) -> None:
        """Remember an answer from now on."""
        self._answers[service] = (running, self._clock())


class ServicePresence:
    """Asks the broker whether anyone consumes a service's RPC queue, on a channel of its own.

    The channel is its own because the broker closes a channel on a passive declare of a
    missing queue; it is reopened before the next question.
    """

    def __init__(self, channel: AbstractRobustChannel, ttl: float = PRESENCE_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._channel = channel
        self._cache = PresenceCache(ttl, clock)
        self._asking: dict[str, asyncio.Task[bool]] = {}

    async def is_running(self, service: str) -> bool:
        """Whether an instance of ``service`` consumes its queue; broker errors propagate."""
        cached = self._cache.get(service)
        if cached is not None:
            return cached
        task = self._asking.get(service)
        if task is None:
            task = self._asking[service] = asyncio.create_task(self._ask(service))
            task.add_done_callback(lambda _: self._asking.pop(service, None))
        # Shielded: one caller giving up (its own deadline) does not cancel the others' answer.
        return await asyncio.shield(task)

    async def _ask(self, service: str) -> bool:
        async with asyncio.timeout(ASK_TIMEOUT):
            running = await self._consumers(RPC_QUEUE.format(service)) > 0
        self._cache.put(service, running)
        return running

    async def _consumers(self, queue: str) -> int:
        """The queue's consumer count; 0 when there is no such queue."""
        if self._channel.is_closed:
            await self._channel.reopen()
        try:
            # robust=False: a robust channel would remember the queue and answer later
            # passive declares from memory, and re-declare it after a reconnection.
            declared = await self._channel.declare_queue(queue, passive=True, robust=False)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return 0
        return int(declared.declaration_result.consumer_count or 0)
