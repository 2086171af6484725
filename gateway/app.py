"""The Starlette application: ``uvicorn --factory gateway.app:create_app``."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway.auth import TokenVerifier
from gateway.catalog_cache import listener
from gateway.client_address import TrustedProxies
from gateway.context import configure_logging
from gateway.errors import EXCEPTION_HANDLERS
from gateway.events import EventSubscriber
from gateway.middleware import (
    BodyLimitMiddleware,
    ErrorBoundary,
    Metrics,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
    StrictCORSMiddleware,
)
from gateway.openapi import build_openapi
from gateway.order_updates import OrderUpdates
from gateway.ratelimit import AUTH, EXPENSIVE, RateClass, RateLimiter
from gateway.read_cache import ReadCache
from gateway.routes import authorize, catalog, oauth, ops, order_stream, orders, pages, payments, users
from gateway.routing import Endpoint, mount
from gateway.rpc import AmqpRpcClient, RpcClient
from gateway.settings import Settings
from gateway.tracing import TracingMiddleware
from nameko_services.common.telemetry import configure_tracing, tracing_active

ENDPOINTS: list[Endpoint] = [*ops.ENDPOINTS, *oauth.ENDPOINTS, *authorize.ENDPOINTS, *users.ENDPOINTS,
                             *catalog.ENDPOINTS, *orders.ENDPOINTS, *order_stream.ENDPOINTS,
                             *payments.ENDPOINTS]


def create_app(settings: Settings | None = None, rpc: RpcClient | None = None) -> Starlette:
    """Build the gateway; its lifespan opens an AMQP RPC client unless ``rpc`` is given.

    Without ``settings`` (the uvicorn factory path) settings come from config/gateway.yaml
    and the process is set up for production: JSON logs, Sentry when a DSN is set, traces
    exported when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. A span per request whenever this
    process records spans (``common.telemetry``).
    """
    if settings is None:
        settings = Settings.load()
        configure_logging(settings.log_level)
        configure_tracing("gateway")
        if settings.sentry_dsn:
            # Imported only when used: sentry_sdk probes eventlet at import time.
            from nameko_services.common.sentry import init_sentry
            init_sentry(settings.sentry_dsn, "gateway")
    config: Settings = settings
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned: AmqpRpcClient | None = None
        order_events: list[EventSubscriber] = []
        catalog_events: EventSubscriber | None = None
        if rpc is None:
            owned = AmqpRpcClient(config.amqp_uri, timeout=config.rpc_timeout)
            await owned.start()
            app.state.rpc = owned
            # The order streams' wake-ups: queues of this process's own on orders and payments events.
            order_events = [EventSubscriber(config.amqp_uri, service, app.state.order_updates.heard)
                            for service in ("orders", "payments")]
            for subscriber in order_events:
                await subscriber.start()
            # The public catalog reads' cache drops what catalog events say changed.
            catalog_events = EventSubscriber(config.amqp_uri, "catalog", listener(app.state.read_cache))
            await catalog_events.start()
        try:
            yield
        finally:
            if catalog_events is not None:
                await catalog_events.close()
            for subscriber in order_events:
                await subscriber.close()
            if owned is not None:
                await owned.close()

    app = Starlette(
        routes=[*(mount(endpoint) for endpoint in ENDPOINTS), *pages.ROUTES],  # pages: not in the API
        middleware=_middleware(config, metrics),
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.settings = config
    app.state.metrics = metrics
    app.state.trusted_proxies = TrustedProxies.parse(config.trusted_proxies)
    app.state.rate_limiter = _rate_limiter(config, metrics)
    app.state.openapi = build_openapi(ENDPOINTS)
    app.state.rpc = rpc
    app.state.order_updates = OrderUpdates()
    app.state.read_cache = ReadCache(config.read_cache_ttl)
    app.state.verifier = TokenVerifier(lambda: _fetch_jwks(app), issuer=config.token_issuer,
                                       audience=config.token_audience)
    return app


def _middleware(config: Settings, metrics: Metrics) -> list[Middleware]:
    """Outermost first; see gateway.middleware for why in this order (the request's span, when
    tracing, outside them all: every log line of the request is inside it)."""
    tracing = [Middleware(TracingMiddleware)] if tracing_active() else []
    stack = [*tracing, Middleware(RequestContextMiddleware, metrics=metrics),
             Middleware(SecurityHeadersMiddleware, hsts_max_age=config.hsts_max_age)]
    if config.cors_allow_origins:  # none configured: no CORS headers at all, browsers refuse
        origins = StrictCORSMiddleware.checked_origins(config.cors_allow_origins)
        stack.append(Middleware(StrictCORSMiddleware, allow_origins=origins))
    return [*stack, Middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes),
            Middleware(ErrorBoundary)]


def _rate_limiter(config: Settings, metrics: Metrics) -> RateLimiter | None:
    if not config.rate_limit_enabled:
        return None
    classes = {AUTH: RateClass.parse(config.rate_limit_auth_per_address, config.rate_limit_auth_per_client),
               EXPENSIVE: RateClass.parse(config.rate_limit_expensive_per_address,
                                          config.rate_limit_expensive_per_client)}
    return RateLimiter(classes, config.rate_limit_storage, on_limited=metrics.rate_limited)


async def _fetch_jwks(app: Starlette) -> Any:
    client: RpcClient = app.state.rpc
    return await client.call("users", "get_jwks")
