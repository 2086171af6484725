"""The relay publishes what a unit of work commits at once (handed off), and sweeps what nobody did.

Every relay here sweeps only every 30 s, leaving rows younger than 5 s alone, unless a test says
otherwise: a row published within 5 s was handed off, not swept.
"""

import eventlet
import pytest
from nameko.events import event_handler
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session

from nameko_services.common.db import Database
from nameko_services.common.idempotency import processed_events_table
from nameko_services.common.outbox import OutboxRelay, add_to_outbox, outbox_table
from nameko_services.common.relay import (
    SWEEP_GRACE_KEY,
    SWEEP_INTERVAL_KEY,
    HandOff,
    OutboxRelayRunner,
    RelayLoop,
)
from nameko_services.common.unit_of_work import SqlEventUnitOfWork
from tests.integration.services.event_listeners import wait_for
from tests.integration.services.scratch_database import scratch_engine

metadata = MetaData()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
LONG = 30.0
PROMPTLY = 5.0


class UnitOfWork(SqlEventUnitOfWork):
    outbox_table = outbox
    processed_events = processed


@pytest.fixture(scope="module")
def engine():
    with scratch_engine("hand_off", metadata, pool_size=5) as made:
        yield made


@pytest.fixture(autouse=True)
def empty_outbox(engine):
    yield
    with engine.begin() as conn:
        conn.execute(outbox.delete())


def _unsent(engine):
    with engine.connect() as conn:
        return conn.execute(select(outbox.c.payload).where(outbox.c.published_at.is_(None))).scalars().all()


@pytest.fixture
def relaying(engine):
    """A relay loop publishing into a list, its hand-off, and a unit of work whose commits it hears."""
    loops = []

    def start(sweep_interval=LONG, sweep_grace=PROMPTLY, publish=None):
        published = []
        hand_off = HandOff()
        relay = OutboxRelay(engine, outbox, publish or (lambda m: published.append(m.payload["n"])))
        loop = RelayLoop(relay, hand_off, sweep_interval=sweep_interval, sweep_grace=sweep_grace,
                         error_pause=0.05)
        running = [True]
        loops.append((running, eventlet.spawn(loop.run, lambda: running[0])))

        def unit_of_work():
            return UnitOfWork(Session(engine, info={"shop_outbox_hand_off": hand_off}))
        return published, unit_of_work

    yield start
    for running, thread in loops:
        running[0] = False
        thread.kill()


def _commit(unit_of_work, *numbers, commit=True):
    uow = unit_of_work()
    with uow:
        for n in numbers:
            uow.outbox.add("thing_happened", {"n": n})
        if commit:
            uow.commit()
    uow.session.close()


def test_a_committed_unit_of_work_is_published_at_once_and_its_rows_marked_sent(engine, relaying):
    published, unit_of_work = relaying()
    _commit(unit_of_work, 1)
    wait_for(lambda: published == [1], timeout=PROMPTLY)
    _commit(unit_of_work, 2, 3)
    wait_for(lambda: sorted(published) == [1, 2, 3], timeout=PROMPTLY)
    wait_for(lambda: _unsent(engine) == [], timeout=PROMPTLY)


def test_a_rolled_back_unit_of_work_hands_off_nothing(engine, relaying):
    published, unit_of_work = relaying()
    _commit(unit_of_work, 1, commit=False)
    _commit(unit_of_work, 2)
    wait_for(lambda: published == [2], timeout=PROMPTLY)
    eventlet.sleep(0.3)
    assert published == [2] and _unsent(engine) == []


def test_rows_a_dead_process_left_are_published_when_a_relay_starts(engine, relaying):
    with Session(engine) as session, session.begin():
        add_to_outbox(session, outbox, "thing_happened", {"n": 1})  # committed, never published
    eventlet.sleep(0.5)
    published, _ = relaying(sweep_grace=0.5)  # its first sweep: at once
    wait_for(lambda: published == [1], timeout=0.5)


def test_a_row_nobody_handed_off_is_swept_once_older_than_the_grace(engine, relaying):
    published, _ = relaying(sweep_interval=0.2, sweep_grace=1.0)
    eventlet.sleep(0.3)  # the first sweep has run
    with Session(engine) as session, session.begin():
        add_to_outbox(session, outbox, "thing_happened", {"n": 1})  # outside any unit of work
    eventlet.sleep(0.6)
    assert published == []  # younger than the grace: perhaps its own process is publishing it
    wait_for(lambda: published == [1], timeout=PROMPTLY)


def test_a_hand_off_the_broker_refused_is_published_by_a_later_sweep(engine, relaying):
    published, attempts = [], []

    def flaky(message):
        attempts.append(message.payload["n"])
        if len(attempts) == 1:
            raise ConnectionError("broker restarting")
        published.append(message.payload["n"])

    _, unit_of_work = relaying(sweep_interval=0.2, sweep_grace=0.5, publish=flaky)
    _commit(unit_of_work, 1)
    # the row is marked sent after the publish returns: wait for both
    wait_for(lambda: published == [1] and _unsent(engine) == [], timeout=PROMPTLY)
    assert attempts == [1, 1]


def test_a_unit_of_work_retried_after_a_conflict_publishes_only_what_its_last_attempt_committed(
        engine, relaying):
    published, unit_of_work = relaying()
    uow = unit_of_work()
    with uow:
        uow.outbox.add("thing_happened", {"n": 1})  # this attempt fails before committing
    with uow:
        uow.outbox.add("thing_happened", {"n": 2})
        uow.commit()
    uow.session.close()
    wait_for(lambda: published == [2], timeout=PROMPTLY)
    eventlet.sleep(0.3)
    assert published == [2]


class Emitter:
    name = "things"
    db = Database("core")
    relay = OutboxRelayRunner(outbox)


class Receiver:
    name = "receiver"
    received = []

    @event_handler("things", "thing_happened")
    def on_thing(self, payload):
        Receiver.received.append(payload["n"])


def test_a_service_s_sessions_hand_its_commits_to_its_relay(engine, container_factory, rabbit_config,
                                                             monkeypatch):
    from nameko_services.common import migrate

    monkeypatch.setattr(migrate, "ensure_compatible_schema", lambda *args: None)  # scratch tables
    Receiver.received = []
    receiver = container_factory(Receiver, rabbit_config)
    receiver.start()  # its queue exists before anything is published
    url = engine.url.render_as_string(hide_password=False)
    emitter = container_factory(Emitter, dict(rabbit_config, DATABASE_URL=url,
                                              **{SWEEP_INTERVAL_KEY: LONG, SWEEP_GRACE_KEY: LONG}))
    emitter.start()
    database = next(dep for dep in emitter.dependencies if isinstance(dep, Database))
    for n in (1, 2):
        with entrypoint_waiter(receiver, "on_thing", timeout=PROMPTLY):
            uow = UnitOfWork(database.get_dependency(object()))  # a worker's session
            with uow:
                uow.outbox.add("thing_happened", {"n": n})
                uow.commit()
    assert Receiver.received == [1, 2]
    wait_for(lambda: _unsent(engine) == [], timeout=PROMPTLY)
