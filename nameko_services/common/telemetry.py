"""The process's tracing setup: OTLP/HTTP export when an endpoint is configured, else nothing.

Configured by the standard variables: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) switches export on; ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keep it off; the exporter and the batch processor read their own
(``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_BSP_SCHEDULE_DELAY``...), the sampler
``OTEL_TRACES_SAMPLER``, the resource ``OTEL_RESOURCE_ATTRIBUTES``. ``service.name`` is always
the process's own (``users``, ``catalog``, ``orders``, ``payments``, ``gateway``): one environment
serves every process (the Procfile, compose's ``x-shop-env``), so ``OTEL_SERVICE_NAME`` cannot.

Without an endpoint no SDK provider is installed: the OpenTelemetry API stays a no-op and every
tracing hook of the platform checks ``tracing_active()`` first, so off costs next to nothing.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, _get_from_env_or_default
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
NAMESPACE = "nameko-shop"
STATEMENTS_VARIABLE = "SHOP_TRACE_SQL_STATEMENTS"


def export_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def tracing_active() -> bool:
    """Whether this process records spans: an SDK provider is installed (ours, or a test's)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


class WorkSampler(Sampler):
    """The configured sampler (``OTEL_TRACES_SAMPLER``, parent-based always-on by default), except
    that a client span without a parent is dropped.

    Traces start at work: an HTTP request, an RPC call, an event, a timer. A database statement
    or HTTP call made outside all of them (the outbox relay polling, a Prometheus scrape reading
    the outbox lag) would otherwise be a trace of one span, several times a second.
    """

    def __init__(self, delegate: Sampler | None = None) -> None:
        self.delegate = delegate or _get_from_env_or_default()

    def should_sample(self, parent_context: Context | None, trace_id: int, name: str,
                      kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None, trace_state: Any = None) -> SamplingResult:
        orphan = not trace.get_current_span(parent_context).get_span_context().is_valid
        if orphan and kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links,
                                           trace_state)

    def get_description(self) -> str:
        return f"WorkSampler{{{self.delegate.get_description()}}}"


def tracer_provider(service: str, *processors: SpanProcessor) -> TracerProvider:
    """A provider naming ``service``, sampling with ``WorkSampler``, feeding ``processors``."""
    resource = Resource.create({"service.name": service, "service.namespace": NAMESPACE})
    provider = TracerProvider(resource=resource, sampler=WorkSampler())
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def configure_tracing(service: str) -> bool:
    """Export this process's spans as ``service`` when the environment asks; say whether spans
    are recorded. Once per process: a second container in the same process reuses the provider."""
    if tracing_active():
        return True
    if not export_configured():
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    trace.set_tracer_provider(tracer_provider(service, BatchSpanProcessor(OTLPSpanExporter())))
    # The provider calls (the Stripe adapter); the exporter's own requests are never traced.
    RequestsInstrumentor().instrument()
    log.info("tracing: exporting spans of %s over OTLP/HTTP", service)
    return True


def statement_spans_wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """``SHOP_TRACE_SQL_STATEMENTS=true``: a span per SQL statement, under its transaction's.

    Off by default: a unit of work's transaction is a span already (``common.spans``), and an
    order's saga runs some 70 statements, most under a millisecond, which would triple its trace.
    """
    return environ.get(STATEMENTS_VARIABLE, "").strip().lower() == "true"


def instrument_engine(engine: Any) -> None:
    """Spans for ``engine``'s statements (OpenTelemetry's SQLAlchemy instrumentation) when
    tracing and ``statement_spans_wanted()``.

    Decided by the environment, not by ``tracing_active()``: a service's database dependency may
    set up before its tracing one; the spans go to the provider installed by then.
    """
    if not (statement_spans_wanted() and (tracing_active() or export_configured())):
        return
    from opentelemetry.instrumentation.sqlalchemy import __version__
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    # Per engine, as SQLAlchemyInstrumentor().instrument(engine=...) does, without the global
    # patch of Engine.connect that adds an empty "connect" span to every transaction.
    name = "opentelemetry.instrumentation.sqlalchemy"
    usage = get_meter(name, __version__).create_up_down_counter("db.client.connections.usage")
    EngineTracer(trace.get_tracer(name, __version__), engine, usage)


def flush(timeout_millis: int = 5000) -> None:
    """Send what the batch processor still holds (a stopping service's last spans)."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush(timeout_millis)
