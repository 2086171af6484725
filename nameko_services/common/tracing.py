"""Spans of the services' work: one per worker (an RPC call, an event, a timer run) and one per
event the outbox relay publishes. How the context travels is ``common.trace_context``'s job.

The ``Tracing`` dependency (every ``ShopService`` has it) starts the worker's span in
``worker_setup`` with its caller's span as parent (a timer starts a new trace), makes it the
current span for the worker's greenthread (so the SQL statements it runs, the outbox rows it
writes and its log lines belong to it) and puts it in the worker's context_data, which nameko
sends on with every RPC call the worker makes. The span ends once the worker's result is
handled (the reply sent, the event acked or parked for a retry).

With tracing off (``common.telemetry``) nothing here does more than check a flag.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import Token
from dataclasses import dataclass, field
from typing import Any

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from nameko_services.common.events import ATTEMPT_HEADER
from nameko_services.common.outbox import CORRELATION_HEADER, OutboxMessage
from nameko_services.common.sentry import reportable
from nameko_services.common.spans import record_failure
from nameko_services.common.telemetry import configure_tracing, flush, tracing_active
from nameko_services.common.trace_context import forward, headers_parent, message_headers, worker_parent

tracer = trace.get_tracer(__name__)


@dataclass(frozen=True)
class Work:
    """What a worker's span says: its name, kind and attributes, and whether it starts a trace."""

    name: str
    kind: SpanKind
    attributes: dict[str, Any] = field(default_factory=dict)
    new_trace: bool = False


def describe(service: str, entrypoint: Any, data: Mapping[str, Any]) -> Work:
    """The span of a worker of ``service`` run by ``entrypoint`` with context_data ``data``."""
    method = entrypoint.method_name
    name, common = f"{service}.{method}", {"nameko.service": service, "nameko.entrypoint": method}
    if data.get("correlation_id"):
        common["shop.correlation_id"] = str(data["correlation_id"])
    if data.get(ATTEMPT_HEADER):  # a retried event: how many tries failed before this one
        common["shop.failed_attempts"] = int(data[ATTEMPT_HEADER])
    if isinstance(entrypoint, Rpc):
        return Work(name, SpanKind.SERVER, {**common, "rpc.system": "nameko", "rpc.service": service,
                                            "rpc.method": method})
    if isinstance(entrypoint, EventHandler):
        return Work(name, SpanKind.CONSUMER, {
            **common, "messaging.system": "rabbitmq", "messaging.operation.type": "process",
            "messaging.destination.name": f"{entrypoint.source_service}.events",
            "messaging.rabbitmq.destination.routing_key": entrypoint.event_type,
            "messaging.message.id": str(data.get("event_id") or "")})
    return Work(name, SpanKind.INTERNAL, common, new_trace=isinstance(entrypoint, Timer))


class Tracing(DependencyProvider):
    """A span per worker, continuing the caller's trace (see the module's docstring)."""

    def setup(self) -> None:
        self.enabled = configure_tracing(self.container.service_name)
        self.spans: dict[Any, tuple[Span, Token[Context]]] = {}

    def stop(self) -> None:
        if self.enabled:
            flush()

    def worker_setup(self, worker_ctx: Any) -> None:
        if not self.enabled:
            return
        work = describe(self.container.service_name, worker_ctx.entrypoint, worker_ctx.data)
        span = tracer.start_span(work.name, context=worker_parent(worker_ctx.data, new_trace=work.new_trace),
                                 kind=work.kind, attributes=work.attributes)
        token = context.attach(trace.set_span_in_context(span))
        forward(worker_ctx.data)  # context_data is a copy of .data: the calls the worker makes
        self.spans[worker_ctx] = (span, token)

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        entry = self.spans.get(worker_ctx)
        if entry is None or exc_info is None:
            return
        # An RPC's ServiceError is its answer; an event handler or a timer that raises failed.
        fault = not isinstance(worker_ctx.entrypoint, Rpc) or reportable(exc_info[1])
        record_failure(entry[0], exc_info[1], fault=fault)

    def worker_teardown(self, worker_ctx: Any) -> None:
        entry = self.spans.pop(worker_ctx, None)
        if entry is not None:
            span, token = entry
            span.end()
            context.detach(token)


@contextmanager
def publishing(service: str, message: OutboxMessage) -> Iterator[dict[str, str]]:
    """A span around the relay's publish of ``message``, child of the span that wrote its row;
    yields the trace headers the event goes with (none to add with tracing off: the row's own)."""
    if not tracing_active():
        yield {}
        return
    attributes = {"messaging.system": "rabbitmq", "messaging.operation.type": "send",
                  "messaging.destination.name": f"{service}.events",
                  "messaging.rabbitmq.destination.routing_key": message.event_type,
                  "messaging.message.id": message.event_id, "nameko.service": service}
    if message.headers.get(CORRELATION_HEADER):
        attributes["shop.correlation_id"] = str(message.headers[CORRELATION_HEADER])
    parent = headers_parent(message.headers)
    with tracer.start_as_current_span(f"{message.event_type} publish", context=parent, kind=SpanKind.PRODUCER,
                                      attributes=attributes):
        yield message_headers()
