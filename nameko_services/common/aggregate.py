"""Event-sourced aggregates: the state is the fold of the events; a change is one event,
applied and queued in one step (``trigger``), as pyeventsourcing's ``trigger_event``.

Pure: standard library only. A subclass maps each event type to how it changes the
state (``mutate``) and writes its rules as methods that ``trigger`` events and
``announce`` messages for other services; the repository (common/event_store.py) appends
what was triggered and queues what was announced, in the caller's transaction.

    order = repository.lock(order_id)     # the fold of its stored events
    order.cancel(actor)                   # trigger("OrderCancelled", ...) + announce(...)
    repository.save(order)                # append (optimistic), projection, outbox rows
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

A = TypeVar("A", bound="Aggregate")


@dataclass(frozen=True)
class Change:
    """An event triggered and not stored yet."""

    type: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """An announcement for another service, queued in the outbox when the aggregate is saved."""

    type: str
    payload: dict[str, Any]


@dataclass
class Aggregate:
    """The base of every event-sourced aggregate: id, version, times, what is still to save."""

    id: str
    version: int = field(default=0, kw_only=True)
    created_at: datetime | None = field(default=None, kw_only=True)
    updated_at: datetime | None = field(default=None, kw_only=True)
    pending_events: list[Change] = field(default_factory=list, kw_only=True, repr=False, compare=False)
    messages: list[Message] = field(default_factory=list, kw_only=True, repr=False, compare=False)

    @classmethod
    def from_history(cls: type[A], aggregate_id: str,
                     events: Iterable[tuple[str, Mapping[str, Any], int, datetime]]) -> A:
        """Fold stored ``(type, data, version, occurred_at)`` in version order."""
        aggregate = cls(aggregate_id)
        for event_type, data, version, occurred_at in events:
            aggregate.version = version
            aggregate.mutate(event_type, data)
            aggregate.created_at = aggregate.created_at or occurred_at
            aggregate.updated_at = occurred_at
        return aggregate

    def mutate(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Change the state as one event says (``self.version`` is already the event's)."""
        raise NotImplementedError

    def trigger(self, event_type: str, data: dict[str, Any]) -> None:
        """Decide a new event: apply it now and keep it for the repository."""
        self.version += 1
        self.mutate(event_type, data)
        self.pending_events.append(Change(event_type, data))

    def announce(self, message: Message) -> None:
        """Queue a message for another service; it leaves with the events, or not at all."""
        self.messages.append(message)

    @property
    def stored_version(self) -> int:
        """The version the stream has in the store (before the pending events)."""
        return self.version - len(self.pending_events)

    def collect(self) -> tuple[list[Change], list[Message]]:
        """Hand over (and forget) what is pending: the repository's part of saving."""
        changes, messages = list(self.pending_events), list(self.messages)
        self.pending_events.clear()
        self.messages.clear()
        return changes, messages
