"""Prometheus metrics of the nameko services: the series (names fixed here, once), and the
``Metrics`` dependency that times every RPC and timer entrypoint and serves ``/metrics`` and
``/health`` on the service's own port (``METRICS_PORT`` in its config; 0 or absent: off).

Event handlers record their own outcome (``common/events.py``: ok, retried, dead_lettered,
refused), the relay counts what it publishes (``common/relay.py``), and a service adds
collectors read at scrape time (outbox lag, connection pool in use, orders needing attention).
The names and labels are the contract of deploy/prometheus and deploy/grafana: change both.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from prometheus_client import REGISTRY, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SAGA_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

ENTRYPOINT_DURATION = Histogram(
    "shop_entrypoint_duration_seconds", "Time spent in an RPC method, event handler or timer, by outcome.",
    ["service", "entrypoint", "kind", "outcome"], buckets=SECONDS)
RELAY_PUBLISHED = Counter("shop_relay_published", "Outbox rows published to the service's events exchange.",
                          ["service"])
SAGA_STEP = Histogram("shop_saga_step_seconds", "Time an order took from one saga step to the next.",
                      ["step", "reason"], buckets=SAGA_SECONDS)
ORDERS = Counter("shop_orders", "Orders that reached a final step (confirmed, or cancelled with a reason).",
                 ["status", "reason"])
PAYMENTS = Counter("shop_payments", "Payment outcomes (authorised, failed, captured, voided, refunded).",
                   ["outcome"])
PAYMENT_AMOUNT = Counter("shop_payments_amount_minor", "Money moved, in minor units.", ["currency", "kind"])


def observe_entrypoint(service: str, entrypoint: str, kind: str, outcome: str, seconds: float) -> None:
    ENTRYPOINT_DURATION.labels(service, entrypoint, kind, outcome).observe(seconds)


Reader = Callable[[], Iterable[tuple[list[str], Sequence[float]]]]


class ScrapeTimeGauge(Collector):
    """Gauge families read when Prometheus scrapes, from every source a container added.

    A reader answers ``(label values, [one value per family])``: families that come from one
    query (the outbox's pending rows and their oldest age) cost one read per scrape.
    Registered once per process (several containers may run in one, as in the tests); each
    container adds its reader when it starts and removes it when it stops.
    """

    def __init__(self, families: list[tuple[str, str]], labels: list[str]) -> None:
        self.families, self.labels = families, labels
        self.readers: dict[object, Reader] = {}
        REGISTRY.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauges = [GaugeMetricFamily(name, documentation, labels=self.labels)
                  for name, documentation in self.families]
        for read in list(self.readers.values()):
            try:
                for labels, values in read():
                    for gauge, value in zip(gauges, values, strict=True):
                        gauge.add_metric(labels, value)
            except Exception:  # a scrape never fails because a database is away: the gap shows it
                log.warning("metrics %s could not be read", [name for name, _ in self.families],
                            exc_info=True)
        yield from gauges


OUTBOX_LAG = ScrapeTimeGauge([("shop_outbox_pending", "Outbox rows not published yet."),
                              ("shop_outbox_oldest_age_seconds",
                               "Age of the oldest unpublished outbox row (0 when none).")], ["service"])
ORDERS_NEEDING_ATTENTION = ScrapeTimeGauge(
    [("shop_orders_needing_attention", "Orders whose compensation keeps failing (shopctl attention).")], [])
DB_POOL_IN_USE = ScrapeTimeGauge([("shop_db_pool_in_use", "Database connections checked out of the pool.")],
                                 ["service", "database"])


class ScrapeTimeCount(DependencyProvider):
    """Feeds ``gauge`` (no labels) with ``count(engine)`` of the service's database at each scrape."""

    def __init__(self, gauge: ScrapeTimeGauge, count: Callable[[Any], int],
                 database_attr: str = "db") -> None:
        self.gauge, self.count, self.database_attr = gauge, count, database_attr

    def start(self) -> None:
        database = next(dep for dep in self.container.dependencies
                        if getattr(dep, "attr_name", None) == self.database_attr)
        self.gauge.readers[self] = lambda: [([], [float(self.count(database.engine))])]

    def stop(self) -> None:
        self.gauge.readers.pop(self, None)

    kill = stop


def _kind(entrypoint: Any) -> str | None:
    if isinstance(entrypoint, Rpc):
        return "rpc"
    if isinstance(entrypoint, Timer):
        return "timer"
    return None  # event handlers record their own outcome


def _health(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status": "ok"}']


class Metrics(DependencyProvider):
    """Times RPC and timer entrypoints; serves ``/metrics`` and ``/health`` (liveness) on ``METRICS_PORT``."""

    def setup(self) -> None:
        self.port = int(self.container.config.get("METRICS_PORT") or 0)
        self.host = str(self.container.config.get("METRICS_HOST") or "127.0.0.1")
        self.started: dict[Any, float] = {}
        self.server: Any = None

    def start(self) -> None:
        if self.port:
            import eventlet
            import eventlet.wsgi

            self.server = eventlet.listen((self.host, self.port))
            metrics_app = make_wsgi_app(REGISTRY)

            def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
                serve = _health if environ.get("PATH_INFO") == "/health" else metrics_app
                return serve(environ, start_response)

            self.container.spawn_managed_thread(
                lambda: eventlet.wsgi.server(self.server, app, log_output=False), identifier="metrics-http")
            log.info("metrics on http://%s:%s/metrics", self.host, self.port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    kill = stop

    def worker_setup(self, worker_ctx: Any) -> None:
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        started = self.started.pop(worker_ctx, None)
        kind = _kind(worker_ctx.entrypoint)
        if started is None or kind is None:
            return
        observe_entrypoint(self.container.service_name, worker_ctx.entrypoint.method_name, kind,
                           "ok" if exc_info is None else "error", time.perf_counter() - started)

    def worker_teardown(self, worker_ctx: Any) -> None:
        self.started.pop(worker_ctx, None)

    def get_dependency(self, worker_ctx: Any) -> None:
        return None
