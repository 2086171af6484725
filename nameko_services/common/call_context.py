"""The ids a worker runs under, for every service: ``context.event_id``, ``context.correlation_id``.

An event handler's worker has the event's id (``nameko.event_id``: the event token check in
``common/events.py`` refuses an event without one before any handler runs); a worker started
by a request has the request's correlation id, which its events carry on for the logs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nameko.extensions import DependencyProvider


@dataclass(frozen=True)
class CallIds:
    event_id: str | None = None
    correlation_id: str | None = None


class CallContext(DependencyProvider):
    """``self.context`` of a service: the current worker's :class:`CallIds`."""

    def get_dependency(self, worker_ctx: Any) -> CallIds:
        data = worker_ctx.context_data
        return CallIds(data.get("event_id"), data.get("correlation_id"))
