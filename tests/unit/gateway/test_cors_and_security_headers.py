"""CORS from an explicit allow-list only; security headers on every answer."""
from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from gateway.middleware import SecurityHeadersMiddleware
from gateway.settings import Settings
from tests.unit.gateway.gateway_fakes import MAX_BODY, ROOT, FakeRpc

SHOP = "https://shop.example"
EVIL = "https://evil.example"
JSON_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
                "referrer-policy": "no-referrer"}


@contextlib.asynccontextmanager
async def gateway(settings: Settings, rpc: FakeRpc) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, rpc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


@pytest.fixture
async def cors(settings: Settings, rpc: FakeRpc) -> AsyncIterator[httpx.AsyncClient]:
    rpc.answer("catalog", "list_categories", [])
    async with gateway(dataclasses.replace(settings, cors_allow_origins=(SHOP,)), rpc) as http:
        yield http


def preflight(http: httpx.AsyncClient, origin: str, method: str = "POST",
              headers: str = "authorization, content-type, idempotency-key") -> object:
    return http.options("/api/v1/orders", headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                   "Access-Control-Request-Headers": headers})


# --- CORS -------------------------------------------------------------------------------


async def test_a_preflight_from_an_allowed_origin_is_answered_with_explicit_lists(cors):
    response = await preflight(cors, SHOP)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SHOP
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key", "x-request-id"} <= allowed
    assert "*" not in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_is_a_json_400_without_allow_origin(cors):
    response = await preflight(cors, EVIL)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "cors_refused"
    assert response.json()["error"]["details"]["refused"] == ["origin"]
    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_asking_for_an_unlisted_header_is_refused(cors):
    response = await preflight(cors, SHOP, headers="authorization, x-debug")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["refused"] == ["headers"]


async def test_an_allowed_origin_may_read_the_request_id_and_retry_after(cors):
    response = await cors.get("/api/v1/categories", headers={"Origin": SHOP})
    assert response.headers["access-control-allow-origin"] == SHOP
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert exposed == {"x-request-id", "retry-after"}


async def test_another_origin_gets_no_allow_origin(cors):
    response = await cors.get("/api/v1/categories", headers={"Origin": EVIL})
    assert response.status_code == 200  # the browser, not the server, withholds the answer
    assert "access-control-allow-origin" not in response.headers


async def test_without_configured_origins_there_is_no_cors_at_all(client):
    response = await preflight(client, SHOP)
    assert response.status_code == 405
    assert not any(name.startswith("access-control-") for name in response.headers)


async def test_a_429_carries_cors_headers_so_the_browser_can_read_retry_after(settings, rpc):
    rpc.answer("users", "register", {"id": "u"})
    config = dataclasses.replace(settings, cors_allow_origins=(SHOP,), rate_limit_auth_per_address="1/minute")
    body = {"email": "ada@example.com", "password": "pw", "name": "Ada"}
    async with gateway(config, rpc) as http:
        await http.post("/api/v1/users", json=body, headers={"Origin": SHOP})
        refused = await http.post("/api/v1/users", json=body, headers={"Origin": SHOP})
    assert refused.status_code == 429
    assert refused.headers["access-control-allow-origin"] == SHOP


@pytest.mark.parametrize("origin", ["*", "https://shop.example/app", "shop.example", "https://"])
def test_anything_but_a_plain_origin_stops_the_gateway_from_starting(settings, rpc, origin):
    with pytest.raises(ValueError, match="CORS_ALLOW_ORIGINS"):
        create_app(dataclasses.replace(settings, cors_allow_origins=(SHOP, origin)), rpc)


def test_the_origins_are_read_comma_separated_without_trailing_slashes():
    settings = Settings.from_mapping({"CORS_ALLOW_ORIGINS": "https://a.example/, http://localhost:5173"})
    assert settings.cors_allow_origins == ("https://a.example", "http://localhost:5173")
    assert Settings.from_mapping({}).cors_allow_origins == ()


# --- security headers -------------------------------------------------------------------


async def test_every_kind_of_answer_carries_the_security_headers(client, rpc, customer, admin):
    rpc.answer("catalog", "get_product", {"id": "p"})
    rpc.fail("users", "get_me", RuntimeError("boom"))
    answers = {
        200: await client.get(f"/api/v1/products/{uuid.uuid4()}", headers=admin),  # admins: never public
        401: await client.get("/api/v1/users/me"),
        404: await client.get("/nowhere"),
        413: await client.post("/api/v1/users", content=b"x" * (MAX_BODY + 1)),
        422: await client.post("/api/v1/users", json={}),
        500: await client.get("/api/v1/users/me", headers=customer),
    }
    for status, response in answers.items():
        assert response.status_code == status
        for name, value in JSON_HEADERS.items():
            assert response.headers.get(name) == value, (status, name)
        assert response.headers["cache-control"] == "no-store", status
        assert "strict-transport-security" not in response.headers
        assert "server" not in response.headers
        assert response.headers["x-request-id"]


async def test_a_handler_that_chose_caching_keeps_it(client):
    response = await client.get("/.well-known/jwks.json")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_public_catalog_reads_are_cacheable_with_every_other_security_header(client, rpc):
    rpc.answer("catalog", "list_categories", [])
    response = await client.get("/api/v1/categories")
    assert response.headers["cache-control"] == "public, max-age=1" and response.headers["etag"]
    for name, value in JSON_HEADERS.items():
        assert response.headers.get(name) == value, name


async def test_hsts_is_sent_only_when_configured(settings, rpc):
    rpc.answer("catalog", "list_categories", [])
    async with gateway(dataclasses.replace(settings, hsts_max_age=31536000), rpc) as http:
        response = await http.get("/api/v1/categories")
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


async def test_a_page_with_its_own_policy_keeps_it_but_still_gets_nosniff():
    page_policy = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'"

    async def html_page(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html"),
                                (b"content-security-policy", page_policy.encode()),
                                (b"x-content-type-options", b"whatever")]})
        await send({"type": "http.response.body", "body": b"<form></form>"})

    transport = httpx.ASGITransport(app=SecurityHeadersMiddleware(html_page))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        response = await http.get("/login")
    assert response.headers["content-security-policy"] == page_policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_uvicorn_sends_no_server_header_and_leaves_forwarded_for_to_the_gateway():
    gateway_line = next(line for line in (ROOT / "Procfile").read_text().splitlines()
                        if line.startswith("gateway:"))
    assert "--no-server-header" in gateway_line.split()
    assert "--no-proxy-headers" in gateway_line.split()
