"""Pure ASGI middleware: request ids and metrics, and the request body size limit."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.context import REQUEST_ID_HEADER, accept_request_id, request_id
from gateway.errors import PayloadTooLarge, error_response

log = logging.getLogger("gateway.access")
UNMATCHED = "<unmatched>"


@dataclass
class Metrics:
    """Request count and latency by route template and status, in the app's own registry."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter("gateway_http_requests_total", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("gateway_http_request_duration_seconds", "Time to answer HTTP requests",
                                 ["method", "route", "status"], registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)


class RequestContextMiddleware:
    """Gives each request an id (X-Request-ID in and out), logs and measures it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        token = request_id.set(rid)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", UNMATCHED)
            self.metrics.observe(scope["method"], route, status, elapsed)
            log.info("%s %s %s", scope["method"], route, status,
                     extra={"status": status, "duration_ms": round(elapsed * 1000, 1), "path": scope["path"]})
            request_id.reset(token)


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: by Content-Length up front, else while it streams."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            response = error_response("payload_too_large", PayloadTooLarge.default_message, 413,
                                      {"max_bytes": self.max_bytes})
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the handler's body read: the error handlers answer 413.
                    raise PayloadTooLarge(details={"max_bytes": self.max_bytes})
            return message

        await self.app(scope, receive if self.max_bytes <= 0 else limited_receive, send)
