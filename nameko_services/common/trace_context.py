"""W3C trace context in nameko's headers: written and read here, once, for every part.

nameko copies each AMQP header ``nameko.<key>`` of a request or event into the worker's
``context_data[<key>]``, and sends the worker's whole context_data on, as ``nameko.<key>``
headers, with every RPC call and event the worker makes. So the trace context travels as
``nameko.traceparent`` and ``nameko.tracestate`` (the fields of the configured propagator:
W3C trace context, and W3C baggage when there is any):

- the gateway injects its request's span into the headers of each call (``message_headers``);
- a service's worker reads its parent from its context_data (``worker_parent``), then puts its
  own span there (``forward``): else nameko would hand the *caller's* span on as the parent of
  everything the worker calls;
- an outbox row stores the span that wrote it in its headers, so the event, published later
  by the relay, continues the trace of the request that caused it (``headers_parent``).

Only the OpenTelemetry API is used: without a configured SDK every function is a cheap no-op
(no span is valid, nothing is injected). The gateway imports it too: no nameko, no eventlet.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

HEADER_PREFIX = "nameko."


def context_fields(context: Context | None = None) -> dict[str, str]:
    """The current span (or ``context``'s) as propagation fields, e.g. ``{"traceparent": ...}``;
    empty when there is no valid span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return carrier


def message_headers(context: Context | None = None) -> dict[str, str]:
    """The same as AMQP headers in nameko's convention: ``{"nameko.traceparent": ...}``."""
    return {HEADER_PREFIX + name: value for name, value in context_fields(context).items()}


def data_parent(data: Mapping[str, Any]) -> Context:
    """The remote parent carried by a worker's context_data (an empty context: none)."""
    return propagate.extract(data)


def headers_parent(headers: Mapping[str, Any]) -> Context:
    """The remote parent carried by ``nameko.``-prefixed headers, an outbox row's."""
    return data_parent({name[len(HEADER_PREFIX):]: value for name, value in headers.items()
                        if name.startswith(HEADER_PREFIX)})


def trace_id_in(headers: Mapping[str, Any]) -> str | None:
    """The trace id (32 lowercase hex) ``nameko.``-prefixed headers carry, if any: what an
    operator looks up in the trace backend."""
    span_context = trace.get_current_span(headers_parent(headers)).get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


def worker_parent(data: Mapping[str, Any], *, new_trace: bool) -> Context:
    """The parent of a worker's span: its caller's (from ``data``), or none at all for work
    that starts a trace of its own (a timer: whatever context it has is not a cause)."""
    return Context() if new_trace else data_parent(data)


def forward(data: MutableMapping[str, Any], context: Context | None = None) -> None:
    """Make ``data``, a worker's context_data, carry the current span instead of its caller's.

    The old fields go first: a tracestate of the caller must not travel on with our span.
    """
    for name in propagate.get_global_textmap().fields:
        data.pop(name, None)
    data.update(context_fields(context))


def log_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current span (32 and 16 lowercase hex), if any."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return {}
    return {"trace_id": trace.format_trace_id(span_context.trace_id),
            "span_id": trace.format_span_id(span_context.span_id)}


class TraceIdsFilter(logging.Filter):
    """Puts the current span's ``trace_id`` and ``span_id`` on each record (the JSON lines carry
    them; Grafana links a line to its trace by ``trace_id``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in log_ids().items():
            setattr(record, name, value)
        return True
