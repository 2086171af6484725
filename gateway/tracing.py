"""A span per HTTP request: the root of the trace of everything the request causes.

The outermost middleware (``gateway.app``), so the access log line and every other line of the
request carry its ``trace_id``. A client's ``traceparent`` (and ``tracestate``) is honoured: the
request continues the client's trace; without one, a trace starts here. The RPC client injects
the current span into each call (``gateway.rpc``), so the services' spans are its children.
Named ``<METHOD> <route template>`` once routed (never the path: ids would make every name
unique); a 5xx is an error, a 4xx is the client's (OpenTelemetry's HTTP server conventions).
Probes and scrapes (``UNTRACED``: every few seconds, calling no service) are not traced.
"""
from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.context import REQUEST_ID_HEADER

UNTRACED = frozenset({"/health", "/ready", "/metrics"})


class TracingMiddleware:
    """Starts the request's SERVER span, child of the client's ``traceparent`` if it sent one."""

    def __init__(self, app: ASGIApp, tracer: Tracer | None = None) -> None:
        self.app = app
        self.tracer = tracer or trace.get_tracer(__name__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        parent = propagate.extract(Headers(scope=scope))
        attributes = {"http.request.method": method, "url.path": scope["path"],
                      "url.scheme": scope.get("scheme", "http")}
        with self.tracer.start_as_current_span(method, context=parent, kind=SpanKind.SERVER,
                                               attributes=attributes) as span:
            status = 500

            async def traced_send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("shop.correlation_id", MutableHeaders(scope=message).get(
                        REQUEST_ID_HEADER, ""))
                await send(message)

            try:
                await self.app(scope, receive, traced_send)
            finally:
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                    span.set_attribute("error.type", str(status))
