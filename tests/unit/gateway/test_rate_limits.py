"""Rate limits per client address and per client on AUTH and EXPENSIVE routes: 429 + Retry-After."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.app import ENDPOINTS, create_app
from gateway.ratelimit import AUTH, EXPENSIVE, RateClass, RateLimiter, client_identity
from gateway.settings import Settings
from nameko_services.common.auth import Principal
from tests.unit.gateway.gateway_fakes import FakeRpc

PRODUCT_ID = "22222222-2222-4222-8222-222222222222"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
ORDER = {"items": [{"product_id": PRODUCT_ID, "quantity": 1}], "shipping_address": ADDRESS,
         "payment": {"token": "tok_visa"}}
TOO_MANY = "Too many requests; try again later."
BOB = "44444444-4444-4444-8444-444444444444"
PAGE = {"items": [], "total": 0, "page": 1, "per_page": 20}
USER = {"id": "33333333-3333-4333-8333-333333333333", "email": "ada@example.com", "name": "Ada"}
REGISTER = {"email": "ada@example.com", "password": "correct horse", "name": "Ada"}


@contextlib.asynccontextmanager
async def gateway(settings: Settings, rpc: FakeRpc) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, rpc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


def limited(settings: Settings, **limits: str) -> Settings:
    """Settings with tight limits: unnamed ones are generous so they never interfere."""
    generous = {f"rate_limit_{cls}_per_{scope}": "1000/minute"
                for cls in ("auth", "expensive") for scope in ("address", "client")}
    return dataclasses.replace(settings, **(generous | limits))


@pytest.fixture
def answering(rpc: FakeRpc) -> FakeRpc:
    rpc.answer("users", "register", USER)
    rpc.answer("users", "issue_token", {"access_token": "a", "token_type": "Bearer", "expires_in": 900})
    rpc.answer("catalog", "list_products", PAGE)
    rpc.answer("orders", "place_order", {"order": {"id": "o1", "status": "pending"}, "replayed": False})
    return rpc


def place(http: httpx.AsyncClient, headers: dict[str, str], key: str) -> object:
    return http.post("/api/v1/orders", json=ORDER, headers={**headers, "Idempotency-Key": key})


def assert_rate_limited(response: httpx.Response, window: int = 60) -> None:
    assert response.status_code == 429
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= window
    assert response.json() == {"error": {"code": "rate_limited", "message": TOO_MANY,
                                         "details": {"retry_after": int(retry_after)}}}


async def test_an_address_over_the_auth_limit_gets_429_with_retry_after_and_no_rpc(settings, answering):
    async with gateway(limited(settings, rate_limit_auth_per_address="3/minute"), answering) as http:
        answers = [await http.post("/api/v1/users", json=REGISTER) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [201, 201, 201]
    assert_rate_limited(answers[3])
    assert len(answering.calls_to("users", "register")) == 3  # refused before it cost a call


async def test_the_oauth_token_endpoint_refuses_in_rfc_6749_shape(settings, answering):
    grant = {"grant_type": "password", "username": "ada@example.com", "password": "pw"}
    async with gateway(limited(settings, rate_limit_auth_per_address="2/minute"), answering) as http:
        answers = [await http.post("/api/v1/oauth/token", data=grant) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.json() == {"error": "slow_down", "error_description": TOO_MANY}
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["cache-control"] == "no-store"


async def test_a_client_over_its_limit_is_refused_while_another_client_at_the_same_address_is_not(
        settings, answering, bearer):
    ada, bob = bearer("customer"), bearer("customer", user_id=BOB)
    async with gateway(limited(settings, rate_limit_expensive_per_client="2/minute"), answering) as http:
        ada_answers = [await place(http, ada, f"k{i}") for i in range(3)]
        bob_answer = await place(http, bob, "b0")
    assert [a.status_code for a in ada_answers[:2]] == [201, 201]
    assert_rate_limited(ada_answers[2])
    assert bob_answer.status_code == 201


async def test_an_address_over_its_limit_is_refused_whichever_client_it_signs_in_as(settings, answering,
                                                                                    bearer):
    ada, bob = bearer("customer"), bearer("customer", user_id=BOB)
    async with gateway(limited(settings, rate_limit_expensive_per_address="2/minute"), answering) as http:
        answers = [await place(http, ada, "a0"), await place(http, bob, "b0"), await place(http, bob, "b1")]
    assert [a.status_code for a in answers[:2]] == [201, 201]
    assert_rate_limited(answers[2])


async def test_each_limited_route_has_its_own_buckets(settings, answering, customer):
    tight = limited(settings, rate_limit_auth_per_address="1/minute",
                    rate_limit_expensive_per_address="1/minute")
    async with gateway(tight, answering) as http:
        assert (await http.post("/api/v1/users", json=REGISTER)).status_code == 201
        assert (await http.post("/api/v1/users", json=REGISTER)).status_code == 429
        token = await http.post("/api/v1/oauth/token", data={"grant_type": "password", "username": "a",
                                                             "password": "b"})
        assert token.status_code == 200
        assert (await http.get("/api/v1/products?q=lamp")).status_code == 200
        assert (await http.get("/api/v1/products?q=lamp")).status_code == 429
        assert (await place(http, customer, "k1")).status_code == 201


async def test_unlimited_routes_are_never_refused(settings, answering):
    answering.answer("catalog", "list_categories", [])
    tight = limited(settings, rate_limit_auth_per_address="1/minute",
                    rate_limit_expensive_per_address="1/minute")
    async with gateway(tight, answering) as http:
        statuses = {(await http.get("/api/v1/categories")).status_code for _ in range(5)}
    assert statuses == {200}


async def test_forwarded_addresses_count_separately_only_behind_a_trusted_proxy(settings, answering):
    tight = limited(settings, rate_limit_auth_per_address="1/minute")

    async def second_caller_status(config: Settings) -> int:
        async with gateway(config, answering) as http:
            first = await http.post("/api/v1/users", json=REGISTER,
                                    headers={"X-Forwarded-For": "203.0.113.1"})
            assert first.status_code == 201
            other = await http.post("/api/v1/users", json=REGISTER,
                                    headers={"X-Forwarded-For": "203.0.113.2"})
            return other.status_code

    # The in-process transport's peer is 127.0.0.1: trusted, the header tells the two apart.
    assert await second_caller_status(dataclasses.replace(tight, trusted_proxies=("127.0.0.1",))) == 201
    # Untrusted peer: a client cannot pick a fresh bucket by sending the header.
    assert await second_caller_status(tight) == 429


async def test_a_limited_request_is_counted_in_the_metrics(settings, answering):
    async with gateway(limited(settings, rate_limit_auth_per_address="1/minute"), answering) as http:
        for _ in range(3):
            await http.post("/api/v1/users", json=REGISTER)
        metrics = (await http.get("/metrics")).text
    assert 'gateway_rate_limited_total{route="POST /api/v1/users",scope="address"} 2.0' in metrics


async def test_the_window_moves_on(settings, answering):
    async with gateway(limited(settings, rate_limit_auth_per_address="1/second"), answering) as http:
        assert (await http.post("/api/v1/users", json=REGISTER)).status_code == 201
        refused = await http.post("/api/v1/users", json=REGISTER)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        await asyncio.sleep(1.05)
        assert (await http.post("/api/v1/users", json=REGISTER)).status_code == 201


async def test_limits_can_be_switched_off(settings, answering):
    off = dataclasses.replace(limited(settings, rate_limit_auth_per_address="1/minute"),
                              rate_limit_enabled=False)
    async with gateway(off, answering) as http:
        statuses = {(await http.post("/api/v1/users", json=REGISTER)).status_code for _ in range(3)}
    assert statuses == {201}


async def test_an_empty_limit_means_no_limit_for_that_scope(settings, answering):
    async with gateway(limited(settings, rate_limit_auth_per_address=""), answering) as http:
        statuses = {(await http.post("/api/v1/users", json=REGISTER)).status_code for _ in range(3)}
    assert statuses == {201}


@pytest.mark.parametrize("bad", ["lots", "10/fortnight", "-1/minute"])
def test_a_malformed_limit_stops_the_gateway_from_starting(settings, rpc, bad):
    with pytest.raises(ValueError, match="is not a rate limit"):
        create_app(dataclasses.replace(settings, rate_limit_auth_per_client=bad), rpc)


def test_an_unknown_rate_class_is_refused():
    with pytest.raises(ValueError, match="unknown rate limit classes"):
        RateLimiter({"cheap": RateClass.parse("1/second", "")})


async def test_several_limits_in_one_string_all_apply():
    limiter = RateLimiter({AUTH: RateClass.parse("2/second;3/minute", "")})
    waits = [await limiter.retry_after(AUTH, "POST /x", "192.0.2.1", None) for _ in range(3)]
    assert waits[:2] == [None, None] and waits[2] == 1  # the per-second window refuses first


def test_the_auth_and_expensive_routes_are_limited():
    rates = {f"{e.method} {e.path}": e.rate for e in ENDPOINTS}
    for route in ("POST /api/v1/oauth/token", "POST /api/v1/oauth/revoke", "POST /api/v1/users",
                  "POST /api/v1/users/me/password"):
        assert rates[route] == AUTH, route
    for route in ("POST /api/v1/orders", "PATCH /api/v1/orders/{order_id}", "GET /api/v1/products"):
        assert rates[route] == EXPENSIVE, route
    oauth = [route for route in rates if route.split(" ")[1].startswith("/api/v1/oauth/")]
    assert all(rates[route] == AUTH for route in oauth), "every OAuth route guesses at credentials"


async def test_the_openapi_document_promises_429_with_retry_after_on_limited_routes_only(client):
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    limited_answer = paths["/api/v1/users"]["post"]["responses"]["429"]
    assert limited_answer["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "429" not in paths["/api/v1/categories"]["get"]["responses"]


def test_the_per_client_key_comes_from_a_verified_token_only():
    assert client_identity(None) is None
    assert client_identity(Principal()) is None
    assert client_identity(Principal(user_id="u1", roles=("customer",))) == "user:u1"
    machine = Principal(user_id="inventory-sync", scopes=("catalog:write",), client_id="inventory-sync")
    assert client_identity(machine) == "client:inventory-sync"
    # A user signed in through some client is still counted as that user.
    assert client_identity(Principal(user_id="u1", client_id="shop-frontend")) == "user:u1"
