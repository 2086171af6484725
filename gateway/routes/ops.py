"""Operations: liveness, readiness, the services' health, metrics, the OpenAPI document and its page.

``/ready`` is about this gateway process only (a Kubernetes readiness probe must not pull
every gateway out because one backend service died); how each service answers is
``/health/services``, for people and monitors.
"""
from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import JSONResponse, Response

from gateway.responses import Health, OpenApiDocument, Ready, ServicesHealth
from gateway.routes import docs
from gateway.routing import PUBLIC, Context, Endpoint
from nameko_services.common.errors import ServiceError
from nameko_services.common.service_map import service_map

# One cheap call per service: does it answer? (config/services.yaml, health_probes)
SERVICE_PROBES = service_map().health_probes


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
    """This gateway can serve: its broker connection is up (its signing key loaded at start-up)."""
    if not ctx.rpc.connected:
        return JSONResponse({"status": "unavailable", "checks": {"broker": "unreachable"}}, status_code=503)
    return JSONResponse({"status": "ready", "checks": {"broker": "ok"}})


async def services_health(ctx: Context) -> Response:
    """How each service answers right now: ``ok``, or why not (``timeout``, ``service_unavailable``)."""
    if not ctx.rpc.connected:
        return JSONResponse({"status": "degraded", "services": {name: "broker_unreachable"
                                                                for name in SERVICE_PROBES}})
    timeout = ctx.request.app.state.settings.ready_timeout
    results = await asyncio.gather(*(_probe(ctx, service, method, timeout)
                                     for service, method in SERVICE_PROBES.items()))
    services = dict(zip(SERVICE_PROBES, results, strict=True))
    status = "ok" if all(result == "ok" for result in services.values()) else "degraded"
    return JSONResponse({"status": status, "services": services})


async def metrics(ctx: Context) -> Response:
    return Response(generate_latest(ctx.request.app.state.metrics.registry),
                    media_type=CONTENT_TYPE_LATEST)


async def openapi(ctx: Context) -> Response:
    return JSONResponse(ctx.request.app.state.openapi)


ENDPOINTS = [
    Endpoint("GET", "/health", health, "The gateway is alive", "operations", PUBLIC,
             answer=Health),
    Endpoint("GET", "/ready", ready, "This gateway can serve (broker connected)", "operations", PUBLIC,
             errors=(503,), answer=Ready),
    Endpoint("GET", "/health/services", services_health, "How each service answers (ok or degraded)",
             "operations", PUBLIC, answer=ServicesHealth),
    Endpoint("GET", "/metrics", metrics, "Prometheus metrics", "operations", PUBLIC,
             media="text/plain"),
    Endpoint("GET", "/api/v1/openapi.json", openapi, "This API's OpenAPI 3.1 document", "operations", PUBLIC,
             answer=OpenApiDocument),
    *docs.ENDPOINTS,
]
