"""shopctl migrate-queues against the real broker: a stopped catalog's classic queues, with messages
in them, become quorum queues with the same messages and bindings, which the service then declares
as its own; it refuses while a service runs, and a run interrupted midway is finished by the next."""
import json
from urllib.parse import quote

import httpx
import pytest
from kombu import Connection, Exchange

from nameko_services.catalog.service import CatalogService
from nameko_services.common.events import dead_letter_queue_name, retry_queue_name
from nameko_services.ops import queue_migration
from nameko_services.ops.endpoints import amqp_credentials, management_url
from nameko_services.ops.queue_migration import ServicesRunning, migrate_queues

HANDLER = "evt-orders-order_placed--catalog.on_order_placed"
RETRY = retry_queue_name(HANDLER, 60.0)


class Api:
    def __init__(self, rabbit_config):
        self.uri, vhost = rabbit_config["AMQP_URI"], quote(rabbit_config["vhost"], safe="")
        self.root, self.auth = f"{management_url(self.uri)}/api", amqp_credentials(self.uri)
        self.vhost = vhost

    def get(self, path):
        response = httpx.get(f"{self.root}/{path}", auth=self.auth, timeout=10)
        response.raise_for_status()
        return response.json()

    def queues(self):
        return {q["name"]: q for q in self.get(f"queues/{self.vhost}")}

    def bindings(self):
        return sorted((b["source"], b["destination"], b["routing_key"])
                      for b in self.get(f"bindings/{self.vhost}") if b["source"])

    def wait_for_counts(self, expected, timeout=10):
        """The management API's message counts lag the broker by a few seconds."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            queues = self.queues()
            counts = {name: queues.get(name, {}).get("messages") for name in expected}
            if counts == expected or time.monotonic() > deadline:
                return counts
            time.sleep(0.5)


@pytest.fixture
def api(rabbit_config):
    return Api(rabbit_config)


@pytest.fixture
def config(core_config):
    return dict(core_config, EVENT_RETRY_DELAYS=[60])  # retries wait: their queue keeps a message


@pytest.fixture
def classic_queues_with_messages(container_factory, config, api):
    """The catalog's queues as an earlier version left them: classic, the service stopped, and a
    message each in its RPC queue, a handler queue, a retry queue and a dead-letter queue."""
    earlier = container_factory(CatalogService, dict(config, QUEUE_TYPE="classic"))
    earlier.start()
    earlier.stop()
    with Connection(api.uri) as connection:
        producer = connection.Producer()
        sends = [("nameko-rpc", "catalog.list_products"), ("orders.events", "order_placed"),
                 ("", RETRY), ("", dead_letter_queue_name(HANDLER))]
        for exchange, routing_key in sends:
            producer.publish(json.dumps({"to": routing_key}), exchange=Exchange(exchange),
                             routing_key=routing_key, headers={"x-shop-test": routing_key},
                             content_type="application/json", mandatory=True, retry=True)
    expected = {"rpc-catalog": 1, HANDLER: 1, RETRY: 1, dead_letter_queue_name(HANDLER): 1}
    assert api.wait_for_counts(expected) == expected
    return expected


def taken(uri, queue):
    """The messages of ``queue`` as (payload, header), taken off it."""
    found = []
    with Connection(uri) as connection:
        simple = connection.SimpleQueue(queue, no_ack=True, queue_opts={"no_declare": True})
        while True:
            try:
                message = simple.get(timeout=1)
            except simple.Empty:
                return found
            found.append((message.payload, message.headers.get("x-shop-test")))


def test_classic_queues_become_quorum_queues_with_their_messages_and_bindings(
        classic_queues_with_messages, api, container_factory, config):
    queues_before, bindings_before = api.queues(), api.bindings()
    assert {q["type"] for q in queues_before.values()} == {"classic"}

    said = []
    moves = migrate_queues(api.uri, "quorum", said.append, management=management_url(api.uri))

    queues = api.queues()
    assert set(queues) == set(queues_before)  # none lost, no temporary queue left
    assert {name: q["type"] for name, q in queues.items()} == dict.fromkeys(queues, "quorum")
    assert api.bindings() == bindings_before
    assert {m.name for m in moves} == set(queues_before) and len(said) == len(moves)
    assert queues[RETRY]["arguments"]["x-dead-letter-strategy"] == "at-least-once"
    assert api.wait_for_counts(classic_queues_with_messages) == classic_queues_with_messages
    sent = {"rpc-catalog": "catalog.list_products", HANDLER: "order_placed", RETRY: RETRY,
            dead_letter_queue_name(HANDLER): dead_letter_queue_name(HANDLER)}
    assert {queue: taken(api.uri, queue) for queue in sent} == {
        queue: [({"to": key}, key)] for queue, key in sent.items()}
    # The service declares exactly these queues: it starts on them (a mismatch would refuse).
    container_factory(CatalogService, config).start()


def test_nothing_is_touched_while_a_service_consumes(container_factory, config, api):
    container_factory(CatalogService, dict(config, QUEUE_TYPE="classic")).start()

    with pytest.raises(ServicesRunning, match="rpc-catalog"):
        migrate_queues(api.uri, "quorum", print, management=management_url(api.uri))
    assert {q["type"] for q in api.queues().values() if not q["name"].startswith("rpc.reply")} == {"classic"}


def test_a_run_interrupted_after_deleting_a_queue_is_finished_by_the_next(
        classic_queues_with_messages, api, monkeypatch):
    declare = queue_migration.QueueMover._declare

    def crash_when_declaring_the_handler_queue_again(self, name, arguments):
        if name == HANDLER:
            raise ConnectionError("the operator's laptop went to sleep")
        declare(self, name, arguments)

    monkeypatch.setattr(queue_migration.QueueMover, "_declare", crash_when_declaring_the_handler_queue_again)
    with pytest.raises(ConnectionError):
        migrate_queues(api.uri, "quorum", print, management=management_url(api.uri))
    assert HANDLER not in api.queues() and f"{HANDLER}.migrating" in api.queues()

    monkeypatch.setattr(queue_migration.QueueMover, "_declare", declare)
    migrate_queues(api.uri, "quorum", print, management=management_url(api.uri))

    queues = api.queues()
    assert queues[HANDLER]["type"] == "quorum" and f"{HANDLER}.migrating" not in queues
    assert ("orders.events", HANDLER, "order_placed") in api.bindings()
    assert api.wait_for_counts(classic_queues_with_messages) == classic_queues_with_messages
    assert taken(api.uri, HANDLER) == [({"to": "order_placed"}, "order_placed")]
