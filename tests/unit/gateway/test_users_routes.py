"""Users routes: what reaches the users service, and what never does."""
from __future__ import annotations

import uuid

import pytest

USER = {"id": str(uuid.uuid4()), "email": "ada@example.com", "name": "Ada", "roles": ["customer"],
        "created_at": "2026-01-01T00:00:00+00:00"}
PASSWORD = "correct horse battery"


async def test_registration_forwards_the_payload_and_answers_201(client, rpc):
    rpc.answer("users", "register", USER)
    body = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada"}
    response = await client.post("/api/v1/users", json=body)
    assert response.status_code == 201 and response.json() == USER
    [call] = rpc.calls_to("users", "register")
    assert call.kwargs == {"payload": body} and call.principal is None


async def test_registration_errors_name_every_bad_and_unknown_field(client, rpc):
    response = await client.post("/api/v1/users", json={"email": "nope", "password": "", "name": " ",
                                                        "is_admin": True})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert set(response.json()["error"]["details"]) == {"email", "password", "name", "is_admin"}
    assert rpc.calls == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b'{"email": '])
async def test_a_malformed_body_is_a_400(client, rpc, body):
    response = await client.post("/api/v1/users", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"
    assert rpc.calls == []


async def test_a_json_body_that_is_not_an_object_is_a_422(client):
    response = await client.post("/api/v1/users", json=[1, 2])
    assert response.status_code == 422


async def test_the_profile_is_read_and_changed_as_the_caller(client, rpc, customer):
    rpc.answer("users", "get_me", USER)
    rpc.answer("users", "update_me", USER | {"name": "Ada L"})
    assert (await client.get("/api/v1/users/me", headers=customer)).json() == USER
    address = {"name": "Ada Lovelace", "line1": "1 Main St",
               "city": "London", "postal_code": "N1 9GU", "country": "GB"}
    patched = await client.patch("/api/v1/users/me", headers=customer,
                                 json={"name": "Ada L", "shipping_address": address})
    assert patched.status_code == 200
    [call] = rpc.calls_to("users", "update_me")
    assert call.kwargs == {"changes": {"name": "Ada L", "shipping_address": {
        **address, "line2": None, "region": None, "phone": None}}}
    assert call.principal.user_id == rpc.calls_to("users", "get_me")[0].principal.user_id


async def test_unknown_profile_fields_are_a_422_naming_them(client, rpc, customer):
    body = {"roles": ["admin"], "shipping_address": {"line1": "x", "planet": "Mars"}}
    response = await client.patch("/api/v1/users/me", headers=customer, json=body)
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert "roles" in details and "planet" in details["shipping_address"]
    assert rpc.calls_to("users", "update_me") == []


async def test_changing_the_password_answers_204(client, rpc, customer):
    rpc.answer("users", "change_password", None)
    response = await client.post("/api/v1/users/me/password", headers=customer,
                                 json={"current_password": PASSWORD, "new_password": "a new secret"})
    assert response.status_code == 204 and response.content == b""
    [call] = rpc.calls_to("users", "change_password")
    assert call.kwargs == {"current_password": PASSWORD, "new_password": "a new secret"}


async def test_admins_list_users_with_pagination(client, rpc, admin):
    rpc.answer("users", "list_users", {"items": [USER], "total": 1, "page": 2, "per_page": 5})
    response = await client.get("/api/v1/users?page=2&per_page=5", headers=admin)
    assert response.status_code == 200
    assert rpc.calls_to("users", "list_users")[0].kwargs == {"page": 2, "per_page": 5}


@pytest.mark.parametrize(("query", "field"), [("per_page=1000", "per_page"), ("per_page=0", "per_page"),
                                              ("page=0", "page"), ("page=x", "page"), ("sort=name", "sort")])
async def test_bad_pagination_is_a_422_naming_the_parameter(client, rpc, admin, query, field):
    response = await client.get(f"/api/v1/users?{query}", headers=admin)
    assert response.status_code == 422 and field in response.json()["error"]["details"]
    assert rpc.calls_to("users", "list_users") == []


async def test_a_malformed_user_id_is_a_404_without_a_call(client, rpc, admin):
    response = await client.get("/api/v1/users/not-a-uuid", headers=admin)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert rpc.calls_to("users", "get_user") == []


async def test_admins_read_one_user_and_set_roles(client, rpc, admin):
    rpc.answer("users", "get_user", USER)
    rpc.answer("users", "set_roles", USER | {"roles": ["admin", "customer"]})
    assert (await client.get(f"/api/v1/users/{USER['id'].upper()}", headers=admin)).status_code == 200
    assert rpc.calls_to("users", "get_user")[0].kwargs == {"user_id": USER["id"]}
    response = await client.put(f"/api/v1/users/{USER['id']}/roles", headers=admin,
                                json={"roles": ["customer", "admin"]})
    assert response.status_code == 200
    assert rpc.calls_to("users", "set_roles")[0].kwargs == {"user_id": USER["id"],
                                                            "roles": ["customer", "admin"]}


async def test_an_unknown_role_is_a_422(client, rpc, admin):
    response = await client.put(f"/api/v1/users/{USER['id']}/roles", headers=admin, json={"roles": ["root"]})
    assert response.status_code == 422 and "roles" in response.json()["error"]["details"]
