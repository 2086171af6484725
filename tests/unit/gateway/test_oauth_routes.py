"""The OAuth endpoints speak RFC 6749 / RFC 7009, forms first."""
from __future__ import annotations

import base64

import pytest

from nameko_services.common.errors import InvalidClient, InvalidGrant, LoginThrottled, UnauthorizedClient

TOKENS = {"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 900, "refresh_token": "r",
          "scope": "shop"}


async def test_a_password_grant_is_forwarded_and_never_cached(client, rpc):
    rpc.answer("users", "issue_token", TOKENS)
    response = await client.post("/api/v1/oauth/token", data={
        "grant_type": "password", "username": "ada@example.com", "password": "secret", "extra": "dropped"})
    assert response.status_code == 200 and response.json() == TOKENS
    assert response.headers["cache-control"] == "no-store"
    assert rpc.calls_to("users", "issue_token")[0].kwargs == {"grant": {
        "grant_type": "password", "username": "ada@example.com", "password": "secret"},
        "client_address": "127.0.0.1"}


async def test_a_refresh_grant_is_accepted_as_json_too(client, rpc):
    rpc.answer("users", "issue_token", TOKENS)
    response = await client.post("/api/v1/oauth/token", json={"grant_type": "refresh_token",
                                                               "refresh_token": "r"})
    assert response.status_code == 200
    assert rpc.calls_to("users", "issue_token")[0].kwargs == {"grant": {"grant_type": "refresh_token",
                                                                        "refresh_token": "r"},
                                                              "client_address": "127.0.0.1"}


async def test_an_invalid_grant_is_a_400_in_rfc_shape(client, rpc):
    rpc.fail("users", "issue_token", InvalidGrant("Invalid username or password."))
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": "a",
                                                              "password": "b"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "Invalid username or password."}


async def test_a_throttled_sign_in_is_a_429_slow_down_with_retry_after(client, rpc):
    rpc.fail("users", "issue_token", LoginThrottled("Too many failed sign-ins. Try again in 8 seconds.",
                                                    details={"retry_after": 8}))
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": "a",
                                                              "password": "b"})
    assert response.status_code == 429 and response.headers["retry-after"] == "8"
    assert response.json() == {"error": "slow_down",
                               "error_description": "Too many failed sign-ins. Try again in 8 seconds."}


async def test_an_invalid_client_is_a_401_with_a_challenge(client, rpc):
    rpc.fail("users", "issue_token", InvalidClient())
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "password"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_client_credentials_in_http_basic_are_form_decoded_and_forwarded(client, rpc):
    rpc.answer("users", "issue_token", {"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 900,
                                        "scope": "catalog:write"})
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before Base64 ("a b:c" -> "a+b%3Ac").
    basic = "Basic " + base64.b64encode(b"robot-1:s3cret+with%3Acolon").decode()
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials",
                                                              "scope": "catalog:write"},
                                 headers={"Authorization": basic})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    assert rpc.calls_to("users", "issue_token")[0].kwargs["grant"] == {
        "grant_type": "client_credentials", "scope": "catalog:write", "client_id": "robot-1",
        "client_secret": "s3cret with:colon"}


async def test_client_secret_post_and_the_code_grant_parameters_are_forwarded(client, rpc):
    rpc.answer("users", "issue_token", TOKENS)
    form = {"grant_type": "authorization_code", "code": "c", "redirect_uri": "https://app.test/cb",
            "code_verifier": "v" * 43, "client_id": "app", "client_secret": "s"}
    response = await client.post("/api/v1/oauth/token", data=form)
    assert response.status_code == 200
    assert rpc.calls_to("users", "issue_token")[0].kwargs["grant"] == form


@pytest.mark.parametrize("authorization", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(),
                                           "Basic " + base64.b64encode(b":secret").decode()])
async def test_malformed_basic_credentials_are_an_invalid_client_401(client, rpc, authorization):
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                                 headers={"Authorization": authorization})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert rpc.calls_to("users", "issue_token") == []


async def test_two_client_authentication_methods_at_once_are_refused(client, rpc):
    response = await client.post("/api/v1/oauth/token", auth=("robot", "secret"),
                                 data={"grant_type": "client_credentials", "client_secret": "secret"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert rpc.calls_to("users", "issue_token") == []


async def test_an_unauthorized_client_is_a_400_in_rfc_shape(client, rpc):
    rpc.fail("users", "issue_token", UnauthorizedClient("This client may not use grant_type 'password'."))
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "password", "client_id": "app"})
    assert response.status_code == 400 and response.json()["error"] == "unauthorized_client"
    assert response.headers["cache-control"] == "no-store"


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
