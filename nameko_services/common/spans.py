"""Spans for parts of the current work: a database transaction, a payment provider's call.

Children of the current span (a worker's, see ``common.tracing``), and current inside their
block, so what runs there (SQL statement spans, an HTTP call) nests under them. With tracing off
(``common.telemetry``) they are not even started. No nameko here: the payment adapters use it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from nameko_services.common.telemetry import tracing_active

tracer = trace.get_tracer(__name__)


def record_failure(span: Span, error: BaseException, *, fault: bool) -> None:
    """Keep the exception on the span; the span is an error only if the work failed (``fault``),
    not when it ended with an answer on purpose (not found, invalid input, a declined card...)."""
    span.record_exception(error)
    span.set_attribute("error.type", type(error).__name__)
    if fault:
        span.set_status(Status(StatusCode.ERROR, str(error)[:200]))


@contextmanager
def child_span(name: str, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None,
               *, fault: Callable[[BaseException], bool] = lambda error: True) -> Iterator[Span | None]:
    """A span around the block (None with tracing off); an exception leaving the block is
    recorded, and makes the span an error when ``fault(exception)`` says so."""
    if not tracing_active():
        yield None
        return
    with tracer.start_as_current_span(name, kind=kind, attributes=dict(attributes or {}),
                                      record_exception=False, set_status_on_exception=False) as span:
        try:
            yield span
        except Exception as error:
            record_failure(span, error, fault=fault(error))
            raise


@contextmanager
def new_trace(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span | None]:
    """A span that starts a trace of its own (linked to the current span, say a timer's tick),
    current inside the block: one trace per piece of work a sweep does, not one per sweep."""
    if not tracing_active():
        yield None
        return
    tick = trace.get_current_span().get_span_context()
    links = [trace.Link(tick)] if tick.is_valid else []
    with tracer.start_as_current_span(name, context=Context(), attributes=dict(attributes or {}), links=links,
                                      record_exception=False, set_status_on_exception=False) as span:
        try:
            yield span
        except Exception as error:
            record_failure(span, error, fault=True)
            raise


@contextmanager
def transaction_span(session: Any) -> Iterator[Span | None]:
    """The span of a unit of work's transaction on ``session`` (``transaction <database>``),
    ``shop.transaction`` rolled_back until the unit of work says committed. Raising out of it is
    the use case's answer or failure, recorded by the worker's span, not a database error."""
    if not tracing_active():
        yield None
        return
    database = session.get_bind().url.database or ""
    attributes = {"db.system.name": "postgresql", "db.namespace": database, "shop.transaction": "rolled_back"}
    with child_span(f"transaction {database}", SpanKind.CLIENT, attributes, fault=lambda _: False) as span:
        yield span
