"""The OAuth endpoints speak RFC 6749 / RFC 7009, forms first."""
from __future__ import annotations

import pytest

from nameko_services.common.errors import InvalidClient, InvalidGrant

TOKENS = {"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 900, "refresh_token": "r",
          "scope": "shop"}


async def test_a_password_grant_is_forwarded_and_never_cached(client, rpc):
    rpc.answer("users", "issue_token", TOKENS)
    response = await client.post("/api/v1/oauth/token", data={
        "grant_type": "password", "username": "ada@example.com", "password": "secret", "extra": "dropped"})
    assert response.status_code == 200 and response.json() == TOKENS
    assert response.headers["cache-control"] == "no-store"
    assert rpc.calls_to("users", "issue_token")[0].kwargs == {"grant": {
        "grant_type": "password", "username": "ada@example.com", "password": "secret"}}


async def test_a_refresh_grant_is_accepted_as_json_too(client, rpc):
    rpc.answer("users", "issue_token", TOKENS)
    response = await client.post("/api/v1/oauth/token", json={"grant_type": "refresh_token",
                                                               "refresh_token": "r"})
    assert response.status_code == 200
    assert rpc.calls_to("users", "issue_token")[0].kwargs == {"grant": {"grant_type": "refresh_token",
                                                                        "refresh_token": "r"}}


async def test_an_invalid_grant_is_a_400_in_rfc_shape(client, rpc):
    rpc.fail("users", "issue_token", InvalidGrant("Invalid username or password."))
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": "a",
                                                              "password": "b"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid username or password."}


async def test_an_invalid_client_is_a_401_with_a_challenge(client, rpc):
    rpc.fail("users", "issue_token", InvalidClient())
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "password"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_client_credentials_are_not_supported_yet(client, rpc):
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=("client", "secret"))
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    assert rpc.calls_to("users", "issue_token") == []


@pytest.mark.parametrize(("content", "content_type"), [
    (b"", "application/x-www-form-urlencoded"),
    (b"grant_type=password&grant_type=refresh_token", "application/x-www-form-urlencoded"),
    (b"{not json", "application/json"),
    (b"\xff", "application/x-www-form-urlencoded"),
])
async def test_a_missing_or_malformed_grant_is_an_invalid_request(client, rpc, content, content_type):
    response = await client.post("/api/v1/oauth/token", content=content,
                                 headers={"Content-Type": content_type})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert rpc.calls_to("users", "issue_token") == []


async def test_revoking_always_answers_200(client, rpc):
    rpc.answer("users", "revoke_token", None)
    form = {"token": "r", "token_type_hint": "refresh_token"}
    response = await client.post("/api/v1/oauth/revoke", data=form)
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert rpc.calls_to("users", "revoke_token")[0].kwargs == form


async def test_revoking_without_a_token_is_an_invalid_request(client, rpc):
    response = await client.post("/api/v1/oauth/revoke", data={})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_the_jwks_is_served_from_cache(client, rpc):
    first = await client.get("/.well-known/jwks.json")
    second = await client.get("/.well-known/jwks.json")
    assert first.json() == second.json() == rpc.jwks
    assert len(rpc.calls_to("users", "get_jwks")) == 1
