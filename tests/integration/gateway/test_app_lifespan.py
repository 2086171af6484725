"""The app opens its own RPC client in the lifespan and speaks for missing services."""
from __future__ import annotations

import time

import httpx

from gateway.app import create_app
from gateway.settings import Settings


async def test_the_lifespan_opens_the_client_and_the_services_health_names_the_missing_ones(broker, keys_dir):
    app = create_app(Settings(amqp_uri=broker.uri, rpc_timeout=2.0, ready_timeout=1.0))
    async with app.router.lifespan_context(app):
        assert app.state.rpc.connected
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            assert (await http.get("/health")).status_code == 200
            assert (await http.get("/ready")).json() == {"status": "ready", "checks": {"broker": "ok"}}
            services = await http.get("/health/services")
            assert services.json() == {"status": "degraded", "services": {
                "users": "service_unavailable", "catalog": "service_unavailable",
                "orders": "service_unavailable", "payments": "service_unavailable"}}
            started = time.monotonic()
            categories = await http.get("/api/v1/categories", headers={"X-Request-ID": "it-1"})
            assert categories.status_code == 503 and time.monotonic() - started < 1.0
            assert categories.json()["error"]["code"] == "service_unavailable"
            assert categories.headers["x-request-id"] == "it-1"
    assert not app.state.rpc.connected
