"""Health, readiness, metrics, request ids, body limits and the OpenAPI document."""
from __future__ import annotations

import asyncio
import subprocess
import sys

from starlette.routing import Route

from gateway.app import ENDPOINTS, create_app
from gateway.routes import pages
from gateway.settings import Settings
from nameko_services.common.errors import ServiceUnavailable
from tests.unit.gateway.gateway_fakes import MAX_BODY, ROOT


async def test_health_is_always_ok(client, rpc):
    rpc.connected = False
    response = await client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def _all_answer(rpc):
    rpc.answer("catalog", "list_categories", [])
    rpc.answer("orders", "ping", "pong")
    rpc.answer("payments", "ping", "pong")


async def test_ready_means_this_gateway_can_serve_even_when_a_service_is_down(client, rpc):
    rpc.fail("payments", "ping", ServiceUnavailable())
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"broker": "ok"}}
    assert rpc.calls == []  # no backend is asked: a probe every few seconds costs nothing


async def test_not_ready_without_a_broker(client, rpc):
    rpc.connected = False
    response = await client.get("/ready")
    assert response.status_code == 503 and response.json()["checks"]["broker"] == "unreachable"


async def test_the_services_health_is_ok_when_every_service_answers(client, rpc):
    _all_answer(rpc)
    response = await client.get("/health/services")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "services": {"users": "ok", "catalog": "ok", "orders": "ok",
                                                            "payments": "ok"}}


async def test_the_services_health_names_the_service_that_failed(client, rpc):
    _all_answer(rpc)
    rpc.fail("payments", "ping", ServiceUnavailable())
    body = (await client.get("/health/services")).json()
    assert body["status"] == "degraded"
    assert (body["services"]["payments"], body["services"]["catalog"]) == ("service_unavailable", "ok")


async def test_the_services_health_names_a_slow_service(client, rpc):
    async def slow(**_):
        await asyncio.sleep(5)
    _all_answer(rpc)
    rpc.handlers[("users", "get_jwks")] = slow
    body = (await client.get("/health/services")).json()
    assert body["status"] == "degraded" and body["services"]["users"] == "timeout"


async def test_the_services_health_without_a_broker_says_so_for_each(client, rpc):
    rpc.connected = False
    body = (await client.get("/health/services")).json()
    assert body == {"status": "degraded", "services": {name: "broker_unreachable" for name in
                                                       ("users", "catalog", "orders", "payments")}}


async def test_metrics_count_requests_by_route_template_and_status(client, rpc):
    rpc.answer("catalog", "get_product", {"id": "x"})
    await client.get("/api/v1/products/2b8e8a4e-8f4e-4a55-9a59-6a3f5b0c1d2e")
    await client.get("/api/v1/products/not-a-uuid")
    text = (await client.get("/metrics")).text
    assert ('gateway_http_requests_total{method="GET",route="/api/v1/products/{product_id}",status="200"} 1.0'
            in text)
    assert 'route="/api/v1/products/{product_id}",status="404"} 1.0' in text
    assert "gateway_http_request_duration_seconds_bucket" in text


async def test_a_request_id_is_echoed_or_made_and_sent_to_services(client, rpc):
    rpc.answer("catalog", "list_categories", [])
    echoed = await client.get("/api/v1/categories", headers={"X-Request-ID": "req-123"})
    assert echoed.headers["x-request-id"] == "req-123"
    made = await client.get("/api/v1/categories", headers={"X-Request-ID": "bad id\nwith newline"})
    assert made.headers["x-request-id"] != "bad id\nwith newline" and len(made.headers["x-request-id"]) == 36


async def test_a_body_over_the_limit_by_content_length_is_a_413(client, rpc):
    response = await client.post("/api/v1/users", content=b"x" * (MAX_BODY + 1),
                                 headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert rpc.calls == []


async def test_a_streamed_body_over_the_limit_is_a_413(client, rpc):
    async def chunks():
        for _ in range(4):
            yield b"x" * (MAX_BODY // 2)
    response = await client.post("/api/v1/users", content=chunks(),
                                 headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert rpc.calls == []


async def test_an_unknown_path_and_a_wrong_method_answer_in_the_error_shape(client):
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = await client.put("/health")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_every_mounted_route_is_in_the_openapi_document(settings, rpc):
    app = create_app(settings, rpc)
    paths = app.state.openapi["paths"]
    # The storefront's pages (gateway.routes.pages) are web pages beside the API, not operations.
    mounted = [(route.path, method) for route in app.routes
               if isinstance(route, Route) and route not in pages.ROUTES
               for method in route.methods or () if method != "HEAD"]
    assert len(mounted) == len(ENDPOINTS)
    for path, method in mounted:
        assert method.lower() in paths.get(path, {}), f"{method} {path} is not documented"


def test_the_api_contract_routes_are_all_mounted(settings, rpc):
    app = create_app(settings, rpc)
    mounted = {(method, route.path) for route in app.routes if isinstance(route, Route)
               for method in route.methods or ()}
    contract = {
        ("POST", "/api/v1/users"), ("POST", "/api/v1/oauth/token"), ("POST", "/api/v1/oauth/revoke"),
        ("GET", "/.well-known/jwks.json"), ("GET", "/api/v1/users/me"), ("PATCH", "/api/v1/users/me"),
        ("POST", "/api/v1/users/me/password"), ("GET", "/api/v1/users"), ("GET", "/api/v1/users/{user_id}"),
        ("PUT", "/api/v1/users/{user_id}/roles"), ("GET", "/api/v1/categories"),
        ("POST", "/api/v1/categories"),
        ("PATCH", "/api/v1/categories/{category_id}"), ("DELETE", "/api/v1/categories/{category_id}"),
        ("GET", "/api/v1/products"), ("GET", "/api/v1/products/{product_id}"), ("POST", "/api/v1/products"),
        ("PATCH", "/api/v1/products/{product_id}"), ("DELETE", "/api/v1/products/{product_id}"),
        ("GET", "/api/v1/products/{product_id}/stock"), ("PUT", "/api/v1/products/{product_id}/stock"),
        ("GET", "/health"), ("GET", "/ready"), ("GET", "/health/services"), ("GET", "/metrics"),
        ("GET", "/api/v1/openapi.json"),
    }
    assert contract <= mounted


async def test_the_openapi_document_is_served_and_describes_bodies_and_roles(client):
    document = (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    create = document["paths"]["/api/v1/products"]["post"]
    schema = create["requestBody"]["content"]["application/json"]["schema"]
    assert {"sku", "name", "price", "currency"} <= set(schema["required"])
    assert schema["additionalProperties"] is False and schema["properties"]["price"]["type"] == "integer"
    assert create["security"] == [{"bearer": []}, {"oauth2": ["shop"]}, {"oauth2": ["catalog:write"]}]
    assert {"401", "403", "422"} <= set(create["responses"])
    listing = document["paths"]["/api/v1/products"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"category_id", "q", "page", "per_page"}


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHOP_RPC_TIMEOUT", "3.5")
    monkeypatch.setenv("SHOP_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("SHOP_TOKEN_ISSUER", "https://shop.example.com")
    monkeypatch.setenv("SHOP_GATEWAY_PORT", "9000")
    settings = Settings.load(ROOT / "config" / "gateway.yaml")
    assert (settings.rpc_timeout, settings.max_body_bytes, settings.token_issuer, settings.port) == (
        3.5, 4096, "https://shop.example.com", 9000)


def test_settings_default_to_one_laptop(monkeypatch):
    for name in ("SHOP_AMQP_URI", "SHOP_RPC_TIMEOUT", "SHOP_TOKEN_AUDIENCE", "SHOP_MAX_BODY_BYTES"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.load(ROOT / "config" / "gateway.yaml")
    assert settings == Settings(**{**settings.__dict__, "amqp_uri": "amqp://guest:guest@127.0.0.1:5672/",
                                   "rpc_timeout": 10.0, "token_audience": "nameko-shop",
                                   "max_body_bytes": 1_048_576})


def test_the_gateway_never_imports_eventlet_or_the_nameko_runtime():
    code = ("import sys, gateway.app, gateway.rpc; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'eventlet' "
            "or m in ('nameko.rpc', 'nameko.extensions', 'nameko.containers')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
