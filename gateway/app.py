"""The Starlette application: ``uvicorn --factory gateway.app:create_app``."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway.auth import TokenVerifier
from gateway.context import configure_logging
from gateway.errors import EXCEPTION_HANDLERS
from gateway.middleware import BodyLimitMiddleware, Metrics, RequestContextMiddleware
from gateway.openapi import build_openapi
from gateway.routes import catalog, oauth, ops, orders, payments, users
from gateway.routing import Endpoint, mount
from gateway.rpc import AmqpRpcClient, RpcClient
from gateway.settings import Settings

ENDPOINTS: list[Endpoint] = [*ops.ENDPOINTS, *oauth.ENDPOINTS, *users.ENDPOINTS, *catalog.ENDPOINTS,
                             *orders.ENDPOINTS, *payments.ENDPOINTS]


def create_app(settings: Settings | None = None, rpc: RpcClient | None = None) -> Starlette:
    """Build the gateway; its lifespan opens an AMQP RPC client unless ``rpc`` is given.

    Without ``settings`` (the uvicorn factory path) settings come from config/gateway.yaml
    and the process is set up for production: JSON logs, Sentry when a DSN is set.
    """
    if settings is None:
        settings = Settings.load()
        configure_logging(settings.log_level)
        if settings.sentry_dsn:
            # Imported only when used: sentry_sdk probes eventlet at import time.
            from nameko_services.common.sentry import init_sentry
            init_sentry(settings.sentry_dsn, "gateway")
    config: Settings = settings
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = None
        if rpc is None:
            owned = AmqpRpcClient(config.amqp_uri, timeout=config.rpc_timeout)
            await owned.start()
            app.state.rpc = owned
        try:
            yield
        finally:
            if owned is not None:
                await owned.close()

    app = Starlette(
        routes=[mount(endpoint) for endpoint in ENDPOINTS],
        middleware=[Middleware(RequestContextMiddleware, metrics=metrics),
                    Middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.settings = config
    app.state.metrics = metrics
    app.state.openapi = build_openapi(ENDPOINTS)
    app.state.rpc = rpc
    app.state.verifier = TokenVerifier(lambda: _fetch_jwks(app), issuer=config.token_issuer,
                                       audience=config.token_audience)
    return app


async def _fetch_jwks(app: Starlette) -> Any:
    client: RpcClient = app.state.rpc
    return await client.call("users", "get_jwks")
