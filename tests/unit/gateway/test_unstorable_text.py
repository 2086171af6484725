"""Text PostgreSQL cannot store (issue 9): a lone surrogate in any field is a 422 naming it.

Bodies are sent as raw bytes: a lone surrogate such as ``"\\ud800"`` is valid JSON text (an
escape), but httpx cannot encode it from a Python string.
"""
from __future__ import annotations

import json
import uuid

import pytest

LONE = "\\ud800"  # the JSON escape of a lone UTF-16 surrogate, as a client sends it
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
ORDER = {"items": [{"product_id": str(uuid.uuid4()), "quantity": 1}], "shipping_address": ADDRESS,
         "payment": {"token": "tok_visa"}}
PRODUCT = {"sku": "TEA-1", "name": "Tea pot", "price": 1999, "currency": "EUR"}
REGISTRATION = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}


def with_lone_surrogate(body: dict, *path: str) -> bytes:
    """``body`` as JSON with the string at ``path`` replaced by a lone surrogate escape."""
    marker = "@@LONE@@"
    target = json.loads(json.dumps(body))
    inner = target
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = f"a{marker}b"
    return json.dumps(target).replace(marker, LONE).encode()


SURROGATE_CASES = [
    ("POST", "/api/v1/users", None, REGISTRATION, ("name",)),
    ("POST", "/api/v1/users", None, REGISTRATION, ("password",)),
    ("POST", "/api/v1/users", None, REGISTRATION, ("email",)),
    ("PATCH", "/api/v1/users/me", "customer", {"name": "Ada"}, ("name",)),
    ("PATCH", "/api/v1/users/me", "customer", {"shipping_address": ADDRESS}, ("shipping_address", "line1")),
    ("POST", "/api/v1/users/me/password", "customer",
     {"current_password": "old secret", "new_password": "new secret"}, ("new_password",)),
    ("POST", "/api/v1/products", "admin", PRODUCT, ("name",)),
    ("POST", "/api/v1/products", "admin", dict(PRODUCT, description="x"), ("description",)),
    ("POST", "/api/v1/products", "admin", PRODUCT, ("sku",)),
    ("POST", "/api/v1/categories", "admin", {"name": "Kitchen"}, ("name",)),
    ("POST", "/api/v1/orders", "customer", ORDER, ("payment", "token")),
    ("POST", "/api/v1/orders", "customer", ORDER, ("shipping_address", "city")),
]


@pytest.mark.parametrize(("method", "path", "who", "body", "field"), SURROGATE_CASES,
                         ids=[f"{case[1]}:{'.'.join(case[4])}" for case in SURROGATE_CASES])
async def test_a_lone_surrogate_in_any_string_field_is_a_422_naming_that_field(
        client, rpc, customer, admin, method, path, who, body, field):
    headers = {"content-type": "application/json", "Idempotency-Key": "k-1",
               **({"customer": customer, "admin": admin}.get(who) or {})}
    response = await client.request(method, path, content=with_lone_surrogate(body, *field),
                                    headers=headers)
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    for key in field:
        assert key in details, details
        details = details[key]
    assert rpc.service_calls() == []


async def test_a_field_name_holding_a_lone_surrogate_is_named_in_escaped_form(client, rpc):
    body = b'{"email": "ada@example.com", "password": "p", "name": "Ada", "x' + LONE.encode() + b'": 1}'
    response = await client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"x\\ud800": ["Must be valid Unicode text "
                                                               "(no NUL, no lone surrogate)."]}
    assert rpc.calls == []


async def test_a_valid_surrogate_pair_is_ordinary_text(client, rpc):
    rpc.answer("users", "register", {"id": "u"})
    body = json.dumps(dict(REGISTRATION, name="Ada \U0001F600")).encode()  # escaped as \ud83d\ude00
    assert b"\\ud83d\\ude00" in body
    response = await client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 201
    assert rpc.calls_to("users", "register")[0].kwargs["payload"]["name"] == "Ada \U0001F600"


async def test_a_lone_surrogate_in_an_oauth_json_parameter_is_an_invalid_request(client, rpc):
    body = b'{"grant_type": "password", "username": "a' + LONE.encode() + b'", "password": "p"}'
    response = await client.post("/api/v1/oauth/token", content=body,
                                 headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert rpc.calls == []
