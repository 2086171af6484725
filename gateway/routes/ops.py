"""Operations: liveness, readiness, metrics and the OpenAPI document."""
from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from gateway.routing import PUBLIC, Context, Endpoint
from nameko_services.common.errors import ServiceError

# One cheap call per service that must answer for the gateway to be useful.
READINESS_PROBES = {"users": "get_jwks", "catalog": "list_categories", "orders": "ping", "payments": "ping"}


async def health(ctx: Context) -> Response:
    return JSONResponse({"status": "ok"})


async def _probe(ctx: Context, service: str, method: str, timeout: float) -> str:
    try:
        async with asyncio.timeout(timeout):
            await ctx.rpc.call(service, method)
    except TimeoutError:
        return "timeout"
    except ServiceError as exc:
        return exc.code
    return "ok"


async def ready(ctx: Context) -> Response:
    if not ctx.rpc.connected:
        return JSONResponse({"status": "unavailable", "checks": {"broker": "unreachable"}}, status_code=503)
    timeout = ctx.request.app.state.settings.ready_timeout
    results = await asyncio.gather(*(_probe(ctx, service, method, timeout)
                                     for service, method in READINESS_PROBES.items()))
    checks = {"broker": "ok", **dict(zip(READINESS_PROBES, results, strict=True))}
    ok = all(result == "ok" for result in checks.values())
    return JSONResponse({"status": "ready" if ok else "unavailable", "checks": checks},
                        status_code=200 if ok else 503)


async def metrics(ctx: Context) -> Response:
    return Response(generate_latest(ctx.request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)


async def openapi(ctx: Context) -> Response:
    return JSONResponse(ctx.request.app.state.openapi)


ENDPOINTS = [
    Endpoint("GET", "/health", health, "The gateway is alive", "operations", PUBLIC),
    Endpoint("GET", "/ready", ready, "The broker and every service answer", "operations", PUBLIC,
             errors=(503,)),
    Endpoint("GET", "/metrics", metrics, "Prometheus metrics", "operations", PUBLIC),
    Endpoint("GET", "/api/v1/openapi.json", openapi, "This API's OpenAPI 3.1 document", "operations", PUBLIC),
]
