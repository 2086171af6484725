"""The event-sourcing kernel: an event is applied once, when it is decided, and kept for saving."""
from dataclasses import dataclass
from datetime import UTC, datetime

from nameko_services.common.aggregate import Aggregate, Change, Message

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Counter(Aggregate):
    total: int = 0
    applied: int = 0  # how often an event was applied: once each, never twice

    def mutate(self, event_type, data):
        self.applied += 1
        self.total += data["by"]

    def add(self, by):
        self.trigger("Added", {"by": by})
        self.announce(Message("added", {"id": self.id, "total": self.total, "version": self.version}))


def test_triggering_applies_the_event_at_once_and_keeps_it_with_its_message():
    counter = Counter("c")
    counter.add(2)
    counter.add(3)
    assert (counter.total, counter.version, counter.applied) == (5, 2, 2)
    assert counter.pending_events == [Change("Added", {"by": 2}), Change("Added", {"by": 3})]
    assert counter.messages[-1] == Message("added", {"id": "c", "total": 5, "version": 2})
    assert counter.stored_version == 0


def test_collecting_hands_over_what_is_pending_once():
    counter = Counter("c", version=4)
    counter.add(1)
    events, messages = counter.collect()
    assert (len(events), len(messages)) == (1, 1)
    assert counter.collect() == ([], [])
    assert counter.stored_version == counter.version == 5


def test_a_fold_of_the_stored_events_equals_the_aggregate_that_decided_them():
    live = Counter("c")
    live.add(2)
    live.add(5)
    history = [(c.type, c.data, version, T0) for version, c in enumerate(live.pending_events, start=1)]
    rebuilt = Counter.from_history("c", history)
    assert (rebuilt.total, rebuilt.version, rebuilt.created_at, rebuilt.updated_at) == (7, 2, T0, T0)
    assert rebuilt.pending_events == [] and rebuilt.messages == []
