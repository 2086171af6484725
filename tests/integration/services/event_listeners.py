"""Hearing events in tests: a nameko service that records them the way a consumer service would,
and waiting for what it heard."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import eventlet

from nameko_services.common.events import event_handler


def recording_listener(name: str, source: str, events: tuple[str, ...]) -> type:
    """A service class called ``name`` with a handler for each of ``events`` of ``source``; each
    heard ``(event_type, payload)`` is appended to the class's ``received`` (reset it per test)."""
    listener = type(name, (), {"name": name, "received": [],
                               "__doc__": f"Listens to {source}.events as a consumer service does."})
    for event_type in events:
        def handle(self, payload, _type=event_type):
            listener.received.append((_type, payload))
        setattr(listener, f"on_{event_type}", event_handler(source, event_type)(handle))
    return listener


def wait_for(predicate: Callable[[], Any], timeout: float = 15) -> None:
    """Poll ``predicate`` until it holds; ``eventlet.Timeout`` after ``timeout`` seconds."""
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.05)


def answers(listener: type, event_type: str, order_id: str) -> list[dict]:
    """The payloads of ``event_type`` about ``order_id`` that ``listener`` heard so far."""
    return [p for t, p in listener.received if t == event_type and p["order_id"] == order_id]  # type: ignore[attr-defined]


def answered(listener: type, event_type: str, order_id: str, count: int = 1) -> list[dict]:
    """Wait until ``listener`` heard ``count`` such events; all it heard of them."""
    wait_for(lambda: len(answers(listener, event_type, order_id)) >= count)
    return answers(listener, event_type, order_id)
