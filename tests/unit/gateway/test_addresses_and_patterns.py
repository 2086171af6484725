"""Addresses and patterns at the edge (issue 9): countries that exist, whole-value patterns."""
from __future__ import annotations

import uuid

import pytest

from gateway.context import accept_request_id
from nameko_services.common.errors import IdempotencyKeyMissing
from nameko_services.common.validation import valid_idempotency_key

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
ORDER = {"items": [{"product_id": str(uuid.uuid4()), "quantity": 1}], "shipping_address": ADDRESS,
         "payment": {"token": "tok_visa"}}
PRODUCT = {"sku": "TEA-1", "name": "Tea pot", "price": 1999, "currency": "EUR"}


@pytest.mark.parametrize("country", ["ZZ", "XX", "US\n", "us", "DEU", ""])
async def test_an_order_to_a_country_that_does_not_exist_is_a_422(client, rpc, customer, country):
    body = dict(ORDER, shipping_address=dict(ADDRESS, country=country))
    response = await client.post("/api/v1/orders", json=body, headers={**customer, "Idempotency-Key": "k-2"})
    assert response.status_code == 422
    assert "country" in response.json()["error"]["details"]["shipping_address"]
    assert rpc.service_calls() == []


@pytest.mark.parametrize("country", ["ZZ", "US\n", "us"])
async def test_a_profile_address_with_a_country_that_does_not_exist_is_a_422(client, rpc, customer, country):
    body = {"shipping_address": dict(ADDRESS, country=country)}
    response = await client.patch("/api/v1/users/me", json=body, headers=customer)
    assert response.status_code == 422
    assert "country" in response.json()["error"]["details"]["shipping_address"]


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/v1/products", dict(PRODUCT, sku="abc\n"), "sku"),
    ("/api/v1/products", dict(PRODUCT, currency="EUR\n"), "currency"),
    ("/api/v1/categories", {"name": "Kitchen", "slug": "kitchen\n"}, "slug"),
])
async def test_a_trailing_newline_never_satisfies_a_pattern(client, rpc, admin, path, body, field):
    response = await client.post(path, json=body, headers=admin)
    assert response.status_code == 422
    assert field in response.json()["error"]["details"]
    assert rpc.service_calls() == []


def test_header_tokens_with_a_trailing_newline_are_not_accepted():
    assert accept_request_id("req-1\n") != "req-1\n" and accept_request_id("req-1") == "req-1"
    assert valid_idempotency_key("key-1") == "key-1"
    with pytest.raises(IdempotencyKeyMissing):
        valid_idempotency_key("key-1\n")
