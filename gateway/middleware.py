"""Pure ASGI middleware: request ids and metrics, security headers, CORS, the body size
limit and the last-resort 500.

Order, outermost first (``gateway.app``): RequestContext → SecurityHeaders → CORS →
BodyLimit → ErrorBoundary → routes, so every answer, a sealed 500 included, gets its
request id, security headers and CORS headers.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.context import REQUEST_ID_HEADER, accept_request_id, request_id
from gateway.errors import PayloadTooLarge, error_response, unexpected_error_handler

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
        self.limited = Counter("gateway_rate_limited_total", "Requests refused by a rate limit (429)",
                               ["route", "scope"], registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def rate_limited(self, route: str, scope: str) -> None:
        """A request to ``route`` went over its limit per ``scope`` (address or client)."""
        self.limited.labels(route, scope).inc()


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


# JSON answers are never framed, never run anything and never leak the page they came from.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    # Responses carry tokens and personal data; a handler that wants caching says so (JWKS, the
    # public catalog reads of gateway.catalog_cache).
    "Cache-Control": "no-store",
}


class SecurityHeadersMiddleware:
    """Adds the security headers to every response; a header the handler set is kept (the
    HTML login page brings its own CSP). HSTS only when ``hsts_max_age`` is set: behind TLS."""

    def __init__(self, app: ASGIApp, hsts_max_age: int = 0) -> None:
        self.app = app
        self.defaults = dict(SECURITY_HEADERS)
        if hsts_max_age > 0:
            self.defaults["Strict-Transport-Security"] = f"max-age={hsts_max_age}; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                for name, value in self.defaults.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", REQUEST_ID_HEADER)
CORS_EXPOSE = (REQUEST_ID_HEADER, "Retry-After")
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


class StrictCORSMiddleware(CORSMiddleware):
    """Starlette's CORS with an explicit allow-list only (no ``*``, no credentials: the API
    takes bearer tokens, not cookies); a refused preflight is a JSON 400 like every error."""

    def __init__(self, app: ASGIApp, allow_origins: Collection[str]) -> None:
        super().__init__(app, allow_origins=self.checked_origins(allow_origins), allow_methods=CORS_METHODS,
                         allow_headers=CORS_HEADERS, expose_headers=CORS_EXPOSE, allow_credentials=False)

    @staticmethod
    def checked_origins(origins: Collection[str]) -> tuple[str, ...]:
        """The origins if each is ``scheme://host[:port]``; ValueError names the first that is not."""
        for origin in origins:
            if not ORIGIN.fullmatch(origin):
                raise ValueError(f"CORS_ALLOW_ORIGINS: {origin!r} is not an origin such as "
                                 "https://shop.example ('*' is not allowed)")
        return tuple(origins)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        # Starlette says "Disallowed CORS origin, headers": keep which parts were refused.
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ").split(", ")
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith(("vary", "access-"))}
        return error_response("cors_refused", "This cross-origin request is not allowed.", 400,
                              {"refused": refused, "origin": request_headers["origin"]}, headers)


class ErrorBoundary:
    """Turns an unexpected exception into the sealed 500 inside the other middleware.

    Starlette's own last-resort handler sits outside every middleware, so its 500 would
    carry no request id and no security or CORS headers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise  # half an answer is out: only dropping the connection is left
            response = await unexpected_error_handler(Request(scope), exc)
            await response(scope, receive, send)
