"""The outbox relay wakes on the outbox's NOTIFY, and still polls when notifications are lost.

Every relay here polls only every 30 s, so a row published within 5 s was published
because of its notification (or a reconnection), not because of the fallback poll.
"""

import eventlet
import pytest
from nameko.events import event_handler
from nameko.extensions import DependencyProvider
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.orm import Session

from nameko_services.common.backoff import Backoff
from nameko_services.common.listen import ChannelListener, psycopg2_connector
from nameko_services.common.outbox import OutboxRelay, add_to_outbox, outbox_channel, outbox_table
from nameko_services.common.relay import FALLBACK_INTERVAL_KEY, OutboxRelayRunner, RelayLoop
from tests.integration.services.scratch_database import scratch_engine

metadata = MetaData()
outbox = outbox_table(metadata)
LONG_FALLBACK = 30.0
PROMPTLY = 5.0


@pytest.fixture(scope="module")
def engine():
    with scratch_engine("relay", metadata, pool_size=5) as made:
        yield made


@pytest.fixture(autouse=True)
def empty_outbox(engine):
    yield
    with engine.begin() as conn:
        conn.execute(outbox.delete())


def _listener(engine, **kwargs):
    return ChannelListener(psycopg2_connector(engine, "test-outbox-relay"), outbox_channel(outbox),
                           **kwargs)


def _queue(engine, n, *, commit=True):
    with Session(engine) as session:
        session.begin()
        add_to_outbox(session, outbox, "thing_happened", {"n": n})
        session.commit() if commit else session.rollback()


def _until(condition, timeout=PROMPTLY):
    with eventlet.Timeout(timeout):
        while not condition():
            eventlet.sleep(0.01)


@pytest.fixture
def relaying(engine):
    """Start a relay loop (fallback 30 s) publishing into a list; stop it afterwards."""
    loops = []

    def start(listener=None, fallback=LONG_FALLBACK):
        published = []
        listener = listener or _listener(engine)
        loop = RelayLoop(OutboxRelay(engine, outbox, lambda m: published.append(m.payload["n"])),
                         listener, fallback_interval=fallback)
        running = [True]
        thread = eventlet.spawn(loop.run, lambda: running[0])
        loops.append((running, thread))
        return published, listener

    yield start
    for running, thread in loops:
        running[0] = False
        thread.kill()  # wakes it from its 30 s wait; the loop closes its connection


def test_a_committed_row_is_published_long_before_the_fallback_poll(engine, relaying):
    published, listener = relaying()
    _until(lambda: listener.backend_pid is not None)  # listening, initial pass done or under way
    _queue(engine, 1)
    _until(lambda: published == [1])
    _queue(engine, 2)
    _queue(engine, 3)
    _until(lambda: sorted(published) == [1, 2, 3])


def test_rows_queued_before_the_relay_listens_are_published_when_it_starts(engine, relaying):
    _queue(engine, 1)
    published, _ = relaying()
    _until(lambda: published == [1])


def test_a_rolled_back_transaction_notifies_nothing_and_publishes_nothing(engine, relaying):
    listener = _listener(engine)
    try:
        assert listener.wait(PROMPTLY)  # connected
        _queue(engine, 1, commit=False)
        assert not listener.wait(0.5)
        _queue(engine, 2)
        assert listener.wait(PROMPTLY)
    finally:
        listener.close()

    published, _ = relaying()
    _queue(engine, 3, commit=False)
    _queue(engine, 4)
    _until(lambda: 4 in published)
    assert sorted(published) == [2, 4]


def test_many_commits_wake_the_listener_once(engine):
    listener = _listener(engine)
    try:
        assert listener.wait(PROMPTLY)
        for n in range(5):
            _queue(engine, n)
        assert listener.wait(PROMPTLY)
        assert not listener.wait(0.2)  # all five notifications were drained by one wait
    finally:
        listener.close()


def _terminate(engine, pid):
    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()


def test_rows_are_published_after_the_listen_connection_is_killed(engine, relaying):
    published, listener = relaying()
    _until(lambda: listener.backend_pid is not None)
    first = listener.backend_pid
    _terminate(engine, first)
    _queue(engine, 1)  # its notification went to the dead connection, or nowhere
    _until(lambda: published == [1])
    _until(lambda: listener.backend_pid not in (None, first))  # listening again
    _queue(engine, 2)
    _until(lambda: published == [1, 2])


def test_without_any_listen_connection_the_fallback_poll_publishes(engine, relaying):
    def refuse():
        raise ConnectionRefusedError("no LISTEN today")

    listener = ChannelListener(refuse, outbox_channel(outbox), backoff=Backoff(0.05, 0.2))
    published, _ = relaying(listener, fallback=0.2)
    _queue(engine, 1)
    _until(lambda: published == [1])


class Engine(DependencyProvider):
    """What OutboxRelayRunner needs of the service's ``Database``: an ``engine``."""

    def setup(self):
        self.engine = create_engine(self.container.config["DATABASE_URL"])

    def stop(self):
        self.engine.dispose()


class Emitter:
    name = "things"
    db = Engine()
    relay = OutboxRelayRunner(outbox)


class Receiver:
    name = "receiver"
    received = []

    @event_handler("things", "thing_happened")
    def on_thing(self, payload):
        Receiver.received.append(payload["n"])


def test_the_runner_in_a_service_relays_a_commit_to_handlers_promptly(
        engine, container_factory, rabbit_config):
    Receiver.received = []
    receiver = container_factory(Receiver, rabbit_config)
    receiver.start()  # its queue exists before anything is published
    url = engine.url.render_as_string(hide_password=False)
    emitter = container_factory(Emitter, dict(rabbit_config, DATABASE_URL=url,
                                              **{FALLBACK_INTERVAL_KEY: LONG_FALLBACK}))
    emitter.start()
    with entrypoint_waiter(receiver, "on_thing", timeout=PROMPTLY):
        _queue(engine, 1)
    with entrypoint_waiter(receiver, "on_thing", timeout=PROMPTLY):
        _queue(engine, 2)
    assert Receiver.received == [1, 2]
