"""``ShopService``: the dependencies every service class has, declared once.

A service derives from it and adds its own ``name``, ``db``, outbox relay and RPC proxies;
nameko collects dependency providers from base classes too, so each container gets these.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nameko.dependency_providers import Config

from nameko_services.common.call_context import CallContext
from nameko_services.common.logging import LoggingContext, bind
from nameko_services.common.metrics import Metrics
from nameko_services.common.rpc import Caller
from nameko_services.common.sentry import SentryReporter
from nameko_services.common.tracing import Tracing


class ShopService:
    """Base of the four services: who calls, log fields, error reports, config, call ids,
    metrics and traces."""

    caller = Caller()  # the verified Principal of an RPC call
    logging = LoggingContext()  # call id and correlation id on every log line
    sentry = SentryReporter()  # failed workers reported when SENTRY_DSN is set
    config = Config()  # the service's config (nameko run --config)
    context = CallContext()  # event id and correlation id of the current worker
    metrics = Metrics()  # entrypoint timings; /metrics and /health on METRICS_PORT (0: off)
    tracing = Tracing()  # a span per worker, exported when OTEL_EXPORTER_OTLP_ENDPOINT is set

    def handling(self, payload: Any, *fields: str) -> str:
        """Bind the event's id and the payload's ``fields`` to the log lines; return the id
        (the event token check of ``common.events`` has already refused an event without one)."""
        event_id = str(self.context.event_id)
        known: Mapping[str, Any] = payload if isinstance(payload, Mapping) else {}
        bind(**{name: known.get(name) for name in fields}, event_id=event_id)
        return event_id
