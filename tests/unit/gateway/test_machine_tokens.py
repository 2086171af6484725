"""Client-credentials tokens (``sub`` = ``client_id``, no roles) pass only routes naming their scope."""
from __future__ import annotations

import base64

import pytest

from nameko_services.common.auth import issue_access_token
from tests.unit.gateway.gateway_fakes import AUDIENCE, ISSUER

USER_ID = "22222222-2222-4222-8222-222222222222"


@pytest.fixture
def machine(signing_key):
    def headers(scope: str) -> dict[str, str]:
        token = issue_access_token(signing_key, user_id="robot-1", roles=(), issuer=ISSUER, audience=AUDIENCE,
                                   ttl=300, scope=scope, client_id="robot-1")
        return {"Authorization": f"Bearer {token}"}
    return headers


async def test_a_machine_token_with_catalog_write_manages_the_catalog(client, rpc, machine):
    rpc.answer("catalog", "create_category", {"id": "c1", "name": "Robots"})
    response = await client.post("/api/v1/categories", json={"name": "Robots"},
                                 headers=machine("catalog:write"))
    assert response.status_code == 201
    principal = rpc.calls_to("catalog", "create_category")[0].principal
    assert principal.user_id == "robot-1" and principal.is_client and principal.scopes == ("catalog:write",)


async def test_a_machine_token_without_the_routes_scope_is_a_403(client, rpc, machine):
    response = await client.post("/api/v1/categories", json={"name": "Robots"}, headers=machine(""))
    assert response.status_code == 403 and rpc.calls_to("catalog", "create_category") == []


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/users/me"), ("GET", "/api/v1/orders"), ("GET", f"/api/v1/users/{USER_ID}"),
])
async def test_a_machine_token_never_acts_as_a_customer_or_an_admin(client, rpc, machine, method, path):
    response = await client.request(method, path, headers=machine("catalog:write"))
    assert response.status_code == 403
    assert [c.method for c in rpc.calls if c.method != "get_jwks"] == []


async def test_a_user_token_of_a_third_party_app_is_judged_by_its_roles(client, rpc, signing_key):
    token = issue_access_token(signing_key, user_id=USER_ID, roles=("customer",), issuer=ISSUER,
                               audience=AUDIENCE, ttl=300, scope="shop", client_id="pet-app")
    rpc.answer("users", "get_me", {"id": USER_ID})
    response = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert rpc.calls_to("users", "get_me")[0].principal.client_id == "pet-app"


async def test_revocation_forwards_the_client_credentials_when_given(client, rpc):
    rpc.answer("users", "revoke_token", None)
    basic = "Basic " + base64.b64encode(b"robot-1:secret").decode()
    response = await client.post("/api/v1/oauth/revoke", data={"token": "r"},
                                 headers={"Authorization": basic})
    assert response.status_code == 200
    assert rpc.calls_to("users", "revoke_token")[0].kwargs == {
        "token": "r", "token_type_hint": None, "client": {"client_id": "robot-1", "client_secret": "secret"}}
