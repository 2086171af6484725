"""The outbox relay and the event store against the real PostgreSQL and RabbitMQ."""
import uuid
from collections import Counter

import eventlet
import pytest
from nameko.events import event_handler
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from nameko_services.common.event_store import EventStore, NewEvent, StreamConflict, event_table
from nameko_services.common.outbox import OutboxRelay, add_to_outbox, outbox_table
from nameko_services.common.relay import event_publisher
from tests.integration.services.scratch_database import scratch_engine

metadata = MetaData()
events = event_table("thing_events", metadata)
outbox = outbox_table(metadata)


@pytest.fixture(scope="module")
def engine():
    with scratch_engine("plumbing", metadata, pool_size=10) as made:
        yield made


@pytest.fixture(autouse=True)
def empty_tables(engine):
    yield
    with engine.begin() as conn:
        conn.execute(events.delete())
        conn.execute(outbox.delete())


class Listener:
    name = "listener"
    received = []

    @event_handler("things", "thing_happened")
    def on_thing(self, payload):
        Listener.received.append(payload["n"])


@pytest.fixture
def listener(container_factory, rabbit_config):
    Listener.received = []
    container = container_factory(Listener, rabbit_config)
    container.start()  # declares the handler queue before anything is published
    return container


def _queue(engine, *numbers):
    with Session(engine) as session, session.begin():
        for n in numbers:
            add_to_outbox(session, outbox, "thing_happened", {"n": n})


def test_appended_events_load_back_in_version_order(engine):
    stream = str(uuid.uuid4())
    with Session(engine) as session, session.begin():
        store = EventStore(session, events)
        store.append(stream, 0, [NewEvent("created", {"a": 1}), NewEvent("renamed", {"a": 2})],
                     correlation_id="c-1")
    with Session(engine) as session:
        loaded = EventStore(session, events).load(stream)
    assert [(e.version, e.type, e.data) for e in loaded] == [
        (1, "created", {"a": 1}), (2, "renamed", {"a": 2})]
    assert loaded[0].correlation_id == "c-1"


def test_two_writers_expecting_the_same_version_cannot_both_append(engine):
    stream = str(uuid.uuid4())
    with Session(engine) as first, Session(engine) as second:
        first.begin()
        second.begin()
        EventStore(first, events).append(stream, 0, [NewEvent("created", {})])
        first.commit()
        with pytest.raises(StreamConflict):
            EventStore(second, events).append(stream, 0, [NewEvent("created", {})])
        second.rollback()
    with Session(engine) as session:
        assert len(EventStore(session, events).load(stream)) == 1


def test_committed_outbox_rows_reach_nameko_event_handlers(engine, listener, rabbit_config):
    _queue(engine, 1, 2, 3)
    relay = OutboxRelay(engine, outbox, event_publisher(rabbit_config, "things"))
    with entrypoint_waiter(listener, "on_thing", timeout=10, callback=lambda *a: len(Listener.received) == 3):
        assert relay.relay_all() == 3
    assert sorted(Listener.received) == [1, 2, 3]
    assert relay.pending() == 0


def test_an_outbox_row_of_a_rolled_back_transaction_is_never_published(engine, rabbit_config):
    with Session(engine) as session:
        session.begin()
        add_to_outbox(session, outbox, "thing_happened", {"n": 1})
        session.rollback()
    published = []
    assert OutboxRelay(engine, outbox, published.append).relay_all() == 0
    assert published == []


def test_a_relay_that_dies_before_marking_rows_sent_loses_nothing(engine):
    _queue(engine, 1, 2, 3)
    published = []

    def crash_on_third(message):
        if len(published) == 2:
            raise ConnectionError("broker went away")
        published.append(message.payload["n"])

    with pytest.raises(ConnectionError):
        OutboxRelay(engine, outbox, crash_on_third).relay_batch()
    relay = OutboxRelay(engine, outbox, lambda m: published.append(m.payload["n"]))
    assert relay.pending() == 3  # nothing was marked sent
    assert relay.relay_all() == 3
    assert set(published) == {1, 2, 3}  # at least once: 1 and 2 went twice
    assert relay.pending() == 0


def test_relays_running_at_once_publish_each_row_exactly_once(engine):
    _queue(engine, *range(300))
    published = Counter()

    def slow_publish(message):
        eventlet.sleep(0.001)  # let the other relays run while this one holds its rows
        published[message.event_id] += 1

    relays = [OutboxRelay(engine, outbox, slow_publish, batch_size=25) for _ in range(4)]
    pool = eventlet.GreenPool()
    totals = list(pool.imap(lambda r: r.relay_all(), relays))
    assert sum(totals) == 300
    assert len(published) == 300 and set(published.values()) == {1}
    assert max(totals) < 300  # the work really was shared
