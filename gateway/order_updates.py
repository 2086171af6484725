"""Who is watching which order in this gateway process, woken when a service announces it.

``OrderUpdates.heard`` is the ``gateway.events`` handler for ``orders.events`` and
``payments.events``: every event of the saga names its ``order_id``. A watcher is an
``asyncio.Event`` set on each such event (many events before the watcher wakes are one wake-up: it
reads the order once). Changes no event announces (ship, deliver) are caught by the stream's
periodic re-read instead.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

HEARTBEAT_SECONDS = 15.0  # proxies close idle streams; the stream also re-reads the order then


class OrderUpdates:
    """The orders being watched here, each with its watchers."""

    def __init__(self, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.heartbeat = heartbeat
        self._watchers: dict[str, set[asyncio.Event]] = defaultdict(set)

    def watch(self, order_id: str) -> asyncio.Event:
        """A new watcher of ``order_id``; ``unwatch`` it when done."""
        changed = asyncio.Event()
        self._watchers[order_id].add(changed)
        return changed

    def unwatch(self, order_id: str, changed: asyncio.Event) -> None:
        watchers = self._watchers.get(order_id)
        if watchers is not None:
            watchers.discard(changed)
            if not watchers:
                del self._watchers[order_id]

    def watched(self) -> int:
        """How many streams are open in this process."""
        return sum(len(watchers) for watchers in self._watchers.values())

    def heard(self, event_type: str, payload: dict[str, Any]) -> None:
        """An orders or payments event: wake whoever watches its order."""
        order_id = payload.get("order_id")
        for changed in self._watchers.get(order_id, ()) if isinstance(order_id, str) else ():
            changed.set()
