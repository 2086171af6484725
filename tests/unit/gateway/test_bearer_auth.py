"""Access tokens are checked at the edge; roles decide between 401 and 403."""
from __future__ import annotations

import base64
import json
import time

import pytest

from gateway.auth import TokenVerifier
from gateway.errors import InvalidToken
from nameko_services.common.auth import issue_service_token
from tests.unit.gateway.gateway_fakes import access_token, new_key


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _refused(client, token: str):
    response = await client.get("/api/v1/users/me", headers=_auth(token))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"]["code"] == "not_authenticated"
    return response


async def test_no_token_on_a_protected_route_is_a_401_with_a_bearer_challenge(client, rpc):
    response = await client.get("/api/v1/users/me")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert rpc.calls == []


async def test_a_customer_on_an_admin_route_is_a_403(client, rpc, customer):
    response = await client.get("/api/v1/users", headers=customer)
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert rpc.calls_to("users", "list_users") == []


async def test_an_admin_passes_and_the_service_learns_who_calls(client, rpc, admin):
    rpc.answer("users", "list_users", {"items": [], "total": 0, "page": 1, "per_page": 20})
    assert (await client.get("/api/v1/users", headers=admin)).status_code == 200
    [call] = rpc.calls_to("users", "list_users")
    assert call.principal.user_id and call.principal.is_admin


async def test_a_token_with_a_forged_role_is_refused(client, signing_key):
    header, _, signature = access_token(signing_key).split(".")
    claims = _claims(access_token(signing_key)) | {"roles": ["customer", "admin"]}
    await _refused(client, f"{header}.{_b64(claims)}.{signature}")


async def test_an_unsigned_alg_none_token_is_refused(client, signing_key):
    claims = _claims(access_token(signing_key))
    kid = json.loads(base64.urlsafe_b64decode(access_token(signing_key).split(".")[0] + "=="))["kid"]
    await _refused(client, f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{_b64(claims)}.")


async def test_a_token_signed_by_another_key_is_refused(client):
    await _refused(client, access_token(new_key()))


async def test_an_expired_token_is_refused(client, signing_key):
    await _refused(client, access_token(signing_key, ttl=60, now=time.time() - 3600))


async def test_a_token_for_another_audience_is_refused(client, signing_key):
    await _refused(client, access_token(signing_key, audience="someone-else"))


async def test_a_token_from_another_issuer_is_refused(client, signing_key):
    await _refused(client, access_token(signing_key, issuer="https://evil.test"))


async def test_a_service_token_is_not_an_access_token(client, signing_key):
    await _refused(client, issue_service_token(signing_key, service="gateway", audience="nameko-shop"))


@pytest.mark.parametrize("authorization", ["Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt"])
async def test_a_malformed_authorization_header_is_refused(client, authorization):
    response = await client.get("/api/v1/users/me", headers={"Authorization": authorization})
    assert response.status_code == 401


async def test_a_bad_token_on_a_public_route_is_still_refused(client):
    response = await client.get("/api/v1/categories", headers=_auth("not-a-jwt"))
    assert response.status_code == 401


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _verifier(keys, clock, fetches):
    async def fetch():
        fetches.append(clock.now)
        return {"keys": [key.jwk() for key in keys]}
    return TokenVerifier(fetch, issuer="https://shop.test", audience="nameko-shop", clock=clock)


async def test_the_jwks_is_fetched_once_and_cached():
    key, clock, fetches = new_key(), Clock(), []
    verifier = _verifier([key], clock, fetches)
    for _ in range(3):
        assert (await verifier.verify(access_token(key))).user_id
    assert len(fetches) == 1


async def test_an_unknown_kid_refetches_at_most_once_every_30_seconds():
    old, rotated, clock, fetches = new_key(), new_key(), Clock(), []
    keys = [old]
    verifier = _verifier(keys, clock, fetches)
    await verifier.verify(access_token(old))
    keys.append(rotated)
    clock.now += 31
    assert (await verifier.verify(access_token(rotated))).user_id  # rotation picked up
    stranger = new_key()
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await verifier.verify(access_token(stranger))
    assert len(fetches) == 2
    clock.now += 31
    with pytest.raises(InvalidToken):
        await verifier.verify(access_token(stranger))
    assert len(fetches) == 3
