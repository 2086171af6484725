"""The relay's batches against the real broker and database: many events, one wait for confirms.

Also the pool's ping of connections that idled (common.db.ping_when_idle): a connection the
server dropped while it sat in the pool is replaced before a worker gets it.
"""
import socket
import time
import uuid

import pytest
from kombu import Connection, Queue
from nameko.standalone.events import get_event_exchange
from sqlalchemy import MetaData, text

from nameko_services.common.db import make_engine, ping_when_idle
from nameko_services.common.event_auth import EVENT_TOKEN_HEADER
from nameko_services.common.outbox import EVENT_ID_HEADER, OutboxMessage
from nameko_services.common.relay import event_publisher
from tests.integration.services.scratch_database import scratch_engine


def _messages(count):
    return [OutboxMessage(str(uuid.uuid4()), "thing_happened", {"n": n}, {}) for n in range(count)]


@pytest.fixture
def things_queue(rabbit_config):
    """A queue bound to every event of ``things.events``; yields a function draining it."""
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        exchange = get_event_exchange("things", rabbit_config)
        exchange(connection.channel()).declare()
        queue = Queue(f"things-{uuid.uuid4().hex[:6]}", exchange, routing_key="#", auto_delete=True)
        queue(connection.channel()).declare()

        def drain(expected):
            got, deadline = [], time.monotonic() + 10
            while len(got) < expected and time.monotonic() < deadline:
                message = queue(connection.default_channel).get(no_ack=True)
                if message is None:
                    time.sleep(0.02)
                else:
                    got.append(message)
            return got

        yield drain


def test_a_batch_arrives_whole_in_order_with_its_ids_and_tokens(rabbit_config, things_queue):
    publish = event_publisher(rabbit_config, "things")
    sent = _messages(50)
    try:
        publish.publish_batch(sent)
    finally:
        publish.close()
    got = things_queue(50)
    assert [m.payload["n"] for m in got] == list(range(50))
    assert [m.headers[EVENT_ID_HEADER] for m in got] == [m.event_id for m in sent]
    assert all(m.headers[EVENT_TOKEN_HEADER] for m in got)
    assert {m.properties["delivery_mode"] for m in got} == {2}  # persistent


def test_a_batch_after_the_connection_died_goes_out_on_a_new_one(rabbit_config, things_queue):
    publish = event_publisher(rabbit_config, "things")
    try:
        publish.publish_batch(_messages(3))
        # The broker side of the connection is gone (a restart, a network cut).
        publish.channel._connection.connection.transport.sock.shutdown(socket.SHUT_RDWR)
        publish.publish_batch(_messages(4))
    finally:
        publish.close()
    assert len(things_queue(7)) == 7


@pytest.fixture(scope="module")
def database_url():
    with scratch_engine("idle_ping", MetaData()) as engine:
        yield engine.url.render_as_string(hide_password=False)


def _kill_backends(engine):
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = current_database() AND pid <> pg_backend_pid()"))


def test_a_pooled_connection_killed_while_idle_is_replaced_before_use(database_url):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    admin = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        _kill_backends(admin)
        ping_when_idle(engine, idle_seconds=0.0)  # make_engine's own waits 5 s; this one, none
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
    finally:
        engine.dispose()
        admin.dispose()
