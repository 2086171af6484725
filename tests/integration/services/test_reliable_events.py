"""Failed event handlers are retried and dead-lettered; duplicates change nothing."""
import os
import uuid

import eventlet
import pytest
from kombu import Connection
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, update
from sqlalchemy.orm import Session

from nameko_services.common import migrate
from nameko_services.common.dbadmin import create_database, drop_database
from nameko_services.common.events import dead_letter_queue_name, event_handler, replay_dead_letters
from nameko_services.common.idempotency import first_delivery, processed_events_table
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import event_publisher

QUEUE = "evt-source-thing_happened--sink.on_thing"
metadata = MetaData()
processed = processed_events_table(metadata)
counters = Table("counters", metadata, Column("name", String, primary_key=True), Column("value", Integer))


class Sink:
    name = "sink"
    calls = []
    failures_left = 0

    @event_handler("source", "thing_happened")
    def on_thing(self, payload):
        Sink.calls.append(payload["id"])
        if Sink.failures_left:
            Sink.failures_left -= 1
            raise RuntimeError("downstream unavailable")


@pytest.fixture
def sink(container_factory, rabbit_config):
    Sink.calls, Sink.failures_left = [], 0
    container = container_factory(Sink, dict(rabbit_config, EVENT_RETRY_DELAYS=[0.1, 0.2, 0.3]))
    container.start()
    return container


def _emit(rabbit_config, payload):
    """Publish as the source's outbox relay does: signed with its key."""
    event_publisher(rabbit_config, "source")(OutboxMessage(str(uuid.uuid4()), "thing_happened", payload, {}))


def _wait_for(predicate, timeout=10):
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.05)


def _dead_letters(rabbit_config):
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        return conn.channel().queue_declare(dead_letter_queue_name(QUEUE), passive=True).message_count


def test_a_handler_that_fails_twice_gets_the_event_again_until_it_succeeds(sink, rabbit_config):
    Sink.failures_left = 2
    _emit(rabbit_config, {"id": "e-1"})
    _wait_for(lambda: len(Sink.calls) == 3)
    eventlet.sleep(0.5)
    assert Sink.calls == ["e-1", "e-1", "e-1"]
    assert _dead_letters(rabbit_config) == 0


def test_a_handler_that_keeps_failing_dead_letters_the_event_and_a_replay_delivers_it(sink, rabbit_config):
    Sink.failures_left = 4  # the first try and three retries
    _emit(rabbit_config, {"id": "e-2"})
    _wait_for(lambda: _dead_letters(rabbit_config) == 1)
    assert Sink.calls == ["e-2"] * 4

    assert replay_dead_letters(rabbit_config["AMQP_URI"], QUEUE) == 1
    _wait_for(lambda: len(Sink.calls) == 5)
    assert _dead_letters(rabbit_config) == 0


@pytest.fixture
def engine():
    url = migrate.database_url("core").rsplit("/", 1)[0] + f"/shop_test_idem_{os.getpid()}"
    create_database(url, drop_existing=True)
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(counters.insert().values(name="stock", value=0))
    yield engine
    engine.dispose()
    drop_database(url)


def _apply(engine, event_id):
    with Session(engine) as session, session.begin():
        if first_delivery(session, processed, event_id, "sink.on_thing"):
            session.execute(update(counters).values(value=counters.c.value + 1))


def test_the_same_event_delivered_twice_is_applied_once(engine):
    event_id = str(uuid.uuid4())
    _apply(engine, event_id)
    _apply(engine, event_id)
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.value)).scalar() == 1


def test_a_rolled_back_handler_leaves_the_event_unprocessed_for_its_retry(engine):
    event_id = str(uuid.uuid4())
    with pytest.raises(RuntimeError), Session(engine) as session, session.begin():
        first_delivery(session, processed, event_id, "sink.on_thing")
        raise RuntimeError("crashed after recording")
    _apply(engine, event_id)
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.value)).scalar() == 1
