"""A bug answers a sealed 500 (request id only); credentials and tokens never reach the logs."""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from gateway.app import create_app
from gateway.context import configure_logging

PASSWORD = "S3cret-Passw0rd!-7f1c"
ACCESS = "at.3f9a77c1-access-token-value"
REFRESH = "rt.b81d0e44-refresh-token-value"
CLIENT_SECRET = "cs.5be1-client-secret-value"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The gateway's production log configuration (JSON lines), at DEBUG, into a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("DEBUG")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


async def test_an_unexpected_exception_is_a_500_with_the_request_id_and_nothing_else(settings, rpc, customer):
    rpc.fail("users", "get_me", RuntimeError("psycopg2 password=hunter2 in nameko_services.users.repository"))
    # raise_app_exceptions=True: the error must not escape the app (uvicorn would log it twice).
    transport = httpx.ASGITransport(app=create_app(settings, rpc), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        response = await http.get("/api/v1/users/me", headers={**customer, "X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-42"
    assert response.json() == {"error": {"code": "internal_error",
                                         "message": "Something went wrong on our side.",
                                         "details": {"request_id": "req-42"}}}
    for leak in ("psycopg2", "hunter2", "nameko_services", "RuntimeError", "Traceback", "users"):
        assert leak not in response.text


async def test_the_500_is_logged_in_full_under_the_same_request_id(client, rpc, customer, log_lines):
    rpc.fail("users", "get_me", RuntimeError("the real cause"))
    await client.get("/api/v1/users/me", headers={**customer, "X-Request-ID": "req-43"})
    records = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    [error] = [r for r in records if r["level"] == "ERROR"]
    assert error["correlation_id"] == "req-43"
    assert "RuntimeError: the real cause" in error["exc_info"]


async def test_a_sign_in_and_its_tokens_leave_no_secret_in_the_logs(client, rpc, customer, log_lines):
    rpc.answer("users", "issue_token", {"access_token": ACCESS, "refresh_token": REFRESH,
                                        "token_type": "Bearer", "expires_in": 900})
    rpc.answer("users", "revoke_token", None)
    rpc.answer("users", "get_me", {"id": "u"})
    rpc.answer("users", "change_password", None)
    rpc.answer("catalog", "list_products", {"items": [], "total": 0, "page": 1, "per_page": 20})
    basic = httpx.BasicAuth("shop-web", CLIENT_SECRET)

    signed_in = await client.post("/api/v1/oauth/token", auth=basic, data={
        "grant_type": "password", "username": "ada@example.com", "password": PASSWORD})
    assert signed_in.json()["access_token"] == ACCESS
    await client.post("/api/v1/oauth/token", data={"grant_type": "refresh_token", "refresh_token": REFRESH,
                                                   "client_secret": CLIENT_SECRET})
    await client.post("/api/v1/oauth/revoke", data={"token": REFRESH})
    await client.get("/api/v1/users/me", headers=customer)
    await client.post("/api/v1/users/me/password", headers=customer,
                      json={"current_password": PASSWORD, "new_password": PASSWORD[::-1]})
    await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {ACCESS}"})  # not a JWT: 401
    await client.get(f"/api/v1/products?access_token={ACCESS}")  # a token in the query string: 422

    # Every line but the test client's own (httpx logs the URLs it requests, query included).
    lines = [line for line in log_lines.getvalue().splitlines()
             if not json.loads(line)["name"].startswith(("httpx", "httpcore"))]
    assert any(json.loads(line)["message"] == "POST /api/v1/oauth/token 200" for line in lines)
    logged = "\n".join(lines)
    bearer = customer["Authorization"].removeprefix("Bearer ")
    for secret in (PASSWORD, PASSWORD[::-1], ACCESS, REFRESH, CLIENT_SECRET, bearer, "Authorization",
                   "authorization"):
        assert secret not in logged, secret
