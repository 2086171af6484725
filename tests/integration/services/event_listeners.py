"""A nameko service for tests that records the events it hears, the way a consumer service would."""
from __future__ import annotations

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
