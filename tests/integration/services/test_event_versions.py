"""Versioned events through the real handler plumbing (common.events, common.event_contracts): a
newer minor version with added fields is handled as this code knows it, an unversioned event is
1.0, an unknown major is dead-lettered with its reason and never handled; the outbox writes this
code's schema_version into every row."""
import uuid

import eventlet
import pytest
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.orm import Session

from nameko_services.common.events import event_handler
from nameko_services.common.outbox import OutboxMessage, add_to_outbox, outbox_table
from nameko_services.common.relay import event_publisher
from tests.integration.services.forgery import dead_letters, refused

QUEUE = "evt-orders-order_confirmed--ledger.on_order_confirmed"
CONFIRMED = {"order_id": "o-1", "order_version": 4, "payment_id": "p-1"}


class Ledger:
    """A consumer of orders' order_confirmed built from this code's contracts (major 1, minor 0)."""

    name = "ledger"
    received = []

    @event_handler("orders", "order_confirmed")
    def on_order_confirmed(self, payload):
        Ledger.received.append(payload)


@pytest.fixture
def ledger(container_factory, rabbit_config):
    Ledger.received = []
    container = container_factory(Ledger, dict(rabbit_config, EVENT_RETRY_DELAYS=[0.1]))
    container.start()
    return container


def _emit(rabbit_config, payload):
    """Publish as orders' relay does: signed with its key."""
    event_publisher(rabbit_config, "orders")(OutboxMessage(str(uuid.uuid4()), "order_confirmed", payload, {}))


def _wait_for(predicate, timeout=10):
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.05)


def test_a_newer_minor_version_is_handled_without_the_fields_this_code_does_not_know(ledger, rabbit_config):
    _emit(rabbit_config, {**CONFIRMED, "schema_version": "1.7", "loyalty_points": 12})
    _wait_for(lambda: Ledger.received)
    assert Ledger.received == [CONFIRMED]
    eventlet.sleep(0.3)
    assert dead_letters(rabbit_config, QUEUE) == []


@pytest.mark.parametrize("payload", [CONFIRMED, {**CONFIRMED, "schema_version": "1.0"}],
                         ids=["unversioned", "1.0"])
def test_an_event_of_this_codes_version_or_without_one_is_handled_as_it_came(ledger, rabbit_config, payload):
    _emit(rabbit_config, payload)
    _wait_for(lambda: Ledger.received)
    assert Ledger.received == [CONFIRMED]


def test_an_unknown_major_version_is_dead_lettered_with_its_reason_and_never_handled(
        ledger, rabbit_config, caplog):
    _emit(rabbit_config, {**CONFIRMED, "schema_version": "2.0", "payment": {"id": "p-1"}})
    payload, reason = refused(rabbit_config, QUEUE)
    assert payload["schema_version"] == "2.0"  # kept as it came, for a replay once code reads 2.x
    assert reason == "order_confirmed schema_version 2.0: this code reads 1.x"
    assert Ledger.received == []
    assert any("cannot read" in record.getMessage() and record.levelname == "ERROR"
               for record in caplog.records)


def test_the_outbox_writes_this_codes_schema_version_into_every_row(orders_db_url):
    metadata = MetaData()
    outbox = outbox_table(metadata)
    engine = create_engine(orders_db_url)
    try:
        with Session(engine) as session, session.begin():
            add_to_outbox(session, outbox, "order_confirmed", dict(CONFIRMED), event_id=str(uuid.uuid4()))
            event_id = add_to_outbox(session, outbox, "order_confirmed", dict(CONFIRMED, order_id="o-2"))
        with engine.connect() as conn:
            row = conn.execute(select(outbox.c.payload).where(outbox.c.event_id == event_id)).scalar_one()
            conn.execute(outbox.delete())
            conn.commit()
    finally:
        engine.dispose()
    assert row == {**CONFIRMED, "order_id": "o-2", "schema_version": "1.0"}
