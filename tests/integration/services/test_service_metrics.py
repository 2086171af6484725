"""Every service serves Prometheus metrics on its own port: entrypoint timings by outcome, the
relay, the outbox lag, the connection pool; and a liveness /health there (issue 10)."""
import socket
import uuid

import eventlet
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from nameko_services.catalog.service import CatalogService
from nameko_services.common.errors import InvalidInput
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import event_publisher

ADMIN = ("00000000-0000-4000-8000-0000000000ad", ["customer", "admin"])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def catalog(container_factory, core_config, port):
    container = container_factory(CatalogService, dict(core_config, METRICS_PORT=port, max_workers=10,
                                                       EVENT_RETRY_DELAYS=[0.1]))
    container.start()
    return container


def scrape(port):
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_until(predicate, timeout=10):
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.05)


def counted(port, **labels):
    """How many entrypoint runs with these labels the service counted so far (the registry is
    the process's, shared by every container a test run starts: compare before and after)."""
    return value(scrape(port), "shop_entrypoint_duration_seconds_count", service="catalog", **labels)


def test_rpc_calls_are_timed_by_outcome_and_health_answers(call, catalog, port):
    ok = {"entrypoint": "list_categories", "kind": "rpc", "outcome": "ok"}
    error = {"entrypoint": "create_category", "kind": "rpc", "outcome": "error"}
    before = counted(port, **ok), counted(port, **error)
    call("catalog", "list_categories")
    with pytest.raises(InvalidInput):
        call("catalog", "create_category", {"name": ""}, as_user=ADMIN)
    assert (counted(port, **ok), counted(port, **error)) == (before[0] + 1, before[1] + 1)
    assert value(scrape(port), "shop_entrypoint_duration_seconds_bucket", service="catalog", le="+Inf",
                 **ok) == before[0] + 1
    health = requests.get(f"http://127.0.0.1:{port}/health", timeout=5)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})


def test_events_are_timed_by_outcome_and_the_relay_and_outbox_are_counted(call, catalog, core_config, port):
    product = call("catalog", "create_product", {"sku": "MUG-1", "name": "Mug", "price": 999,
                                                 "currency": "EUR", "stock": 1}, as_user=ADMIN)
    publish = event_publisher(core_config, "orders")

    def send_events():
        publish(OutboxMessage(str(uuid.uuid4()), "order_placed", {
            "order_id": str(uuid.uuid4()), "order_version": 1, "user_id": str(uuid.uuid4()), "total": 999,
            "currency": "EUR", "items": [{"product_id": product["id"], "quantity": 1}]}, {}))
        publish(OutboxMessage(str(uuid.uuid4()), "order_confirmed", {  # no reservation: fails, is retried
            "order_id": str(uuid.uuid4()), "order_version": 4, "payment_id": str(uuid.uuid4())}, {}))
    placed = {"entrypoint": "on_order_placed", "kind": "event", "outcome": "ok"}
    retried = {"entrypoint": "on_order_confirmed", "kind": "event", "outcome": "retried"}
    dead = {"entrypoint": "on_order_confirmed", "kind": "event", "outcome": "dead_lettered"}
    before = {name: counted(port, **labels) for name, labels in
              (("placed", placed), ("retried", retried), ("dead", dead))}
    published = value(scrape(port), "shop_relay_published_total", service="catalog")
    send_events()
    wait_until(lambda: counted(port, **placed) == before["placed"] + 1)
    wait_until(lambda: counted(port, **dead) == before["dead"] + 1)
    assert counted(port, **retried) == before["retried"] + 1  # one retry (EVENT_RETRY_DELAYS), then parked
    wait_until(lambda: value(scrape(port), "shop_relay_published_total", service="catalog") > published)
    samples = scrape(port)
    assert value(samples, "shop_outbox_pending", service="catalog") == 0
    assert value(samples, "shop_outbox_oldest_age_seconds", service="catalog") == 0
    assert ("shop_db_pool_in_use", (("database", "core"), ("service", "catalog"))) in samples


def test_a_service_without_a_metrics_port_serves_none(container_factory, core_config):
    container = container_factory(CatalogService, core_config)
    container.start()
    metrics = next(dep for dep in container.dependencies if dep.attr_name == "metrics")
    assert metrics.server is None
