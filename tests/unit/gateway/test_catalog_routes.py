"""Catalog routes: anyone browses, admins manage; input is checked before any call."""
from __future__ import annotations

import uuid

import pytest

PRODUCT_ID = str(uuid.uuid4())
CATEGORY_ID = str(uuid.uuid4())
PRODUCT = {"id": PRODUCT_ID, "sku": "TEA-1", "name": "Tea pot", "description": "", "price": 1999,
           "currency": "EUR", "category_id": None, "active": True, "available": 5}
PAGE = {"items": [PRODUCT], "total": 1, "page": 1, "per_page": 20}


async def test_anyone_lists_categories_and_products(client, rpc):
    rpc.answer("catalog", "list_categories", [{"id": CATEGORY_ID, "name": "Kitchen", "slug": "kitchen",
                                               "parent_id": None}])
    rpc.answer("catalog", "list_products", PAGE)
    assert (await client.get("/api/v1/categories")).status_code == 200
    response = await client.get(f"/api/v1/products?category_id={CATEGORY_ID}&q=blue&page=1&per_page=10")
    assert response.json() == PAGE
    assert rpc.calls_to("catalog", "list_products")[0].kwargs == {
        "category_id": CATEGORY_ID, "q": "blue", "page": 1, "per_page": 10, "include_inactive": False}


async def test_only_admins_may_list_inactive_products(client, rpc, customer, admin):
    rpc.answer("catalog", "list_products", PAGE)
    assert (await client.get("/api/v1/products?include_inactive=true")).status_code == 401
    assert (await client.get("/api/v1/products?include_inactive=true", headers=customer)).status_code == 403
    assert (await client.get("/api/v1/products?include_inactive=true", headers=admin)).status_code == 200
    [call] = rpc.calls_to("catalog", "list_products")
    assert call.kwargs["include_inactive"] is True and call.principal.is_admin


@pytest.mark.parametrize(("query", "field"), [
    ("per_page=101", "per_page"), ("page=-1", "page"), ("category_id=kitchen", "category_id"),
    ("colour=red", "colour")])
async def test_bad_product_queries_are_a_422_naming_the_parameter(client, rpc, query, field):
    response = await client.get(f"/api/v1/products?{query}")
    assert response.status_code == 422 and field in response.json()["error"]["details"]
    assert rpc.calls == []


async def test_a_product_is_fetched_by_its_canonical_id(client, rpc):
    rpc.answer("catalog", "get_product", PRODUCT)
    assert (await client.get(f"/api/v1/products/{PRODUCT_ID.upper()}")).json() == PRODUCT
    assert rpc.calls_to("catalog", "get_product")[0].kwargs == {"product_id": PRODUCT_ID}


async def test_a_malformed_product_id_is_a_404_without_a_call(client, rpc):
    response = await client.get("/api/v1/products/not-a-uuid")
    assert response.status_code == 404 and rpc.calls == []


async def test_customers_cannot_change_the_catalog(client, rpc, customer):
    body = {"sku": "X-1", "name": "x", "price": 1, "currency": "EUR"}
    assert (await client.post("/api/v1/products", json=body)).status_code == 401
    assert (await client.post("/api/v1/products", headers=customer, json=body)).status_code == 403
    assert (await client.delete(f"/api/v1/categories/{CATEGORY_ID}", headers=customer)).status_code == 403
    assert (await client.get(f"/api/v1/products/{PRODUCT_ID}/stock", headers=customer)).status_code == 403
    assert [c for c in rpc.calls if c.service == "catalog"] == []


async def test_an_admin_creates_a_product_with_a_201(client, rpc, admin):
    rpc.answer("catalog", "create_product", PRODUCT)
    body = {"sku": "TEA-1", "name": "Tea pot", "price": 1999, "currency": "EUR", "category_id": CATEGORY_ID,
            "stock": 5}
    response = await client.post("/api/v1/products", headers=admin, json=body)
    assert response.status_code == 201
    assert rpc.calls_to("catalog", "create_product")[0].kwargs == {"payload": body}


async def test_bad_product_fields_are_each_named(client, rpc, admin):
    response = await client.post("/api/v1/products", headers=admin, json={
        "sku": "", "name": "x", "price": -5, "currency": "euro", "colour": "red", "stock": 1.5})
    assert response.status_code == 422
    assert {"sku", "price", "currency", "colour", "stock"} <= set(response.json()["error"]["details"])
    assert rpc.calls == [c for c in rpc.calls if c.method == "get_jwks"]


async def test_a_price_must_be_whole_minor_units(client, rpc, admin):
    response = await client.post("/api/v1/products", headers=admin,
                                 json={"sku": "A", "name": "x", "price": 19.99, "currency": "EUR"})
    assert response.status_code == 422 and "price" in response.json()["error"]["details"]


async def test_admins_update_and_deactivate_products(client, rpc, admin):
    rpc.answer("catalog", "update_product", PRODUCT | {"price": 2500})
    rpc.answer("catalog", "deactivate_product", PRODUCT | {"active": False})
    patched = await client.patch(f"/api/v1/products/{PRODUCT_ID}", headers=admin, json={"price": 2500})
    assert patched.status_code == 200
    assert rpc.calls_to("catalog", "update_product")[0].kwargs == {"product_id": PRODUCT_ID,
                                                                   "changes": {"price": 2500}}
    deleted = await client.delete(f"/api/v1/products/{PRODUCT_ID}", headers=admin)
    assert deleted.status_code == 200 and deleted.json()["active"] is False


async def test_admins_manage_categories(client, rpc, admin):
    category = {"id": CATEGORY_ID, "name": "Kitchen", "slug": "kitchen", "parent_id": None}
    rpc.answer("catalog", "create_category", category)
    rpc.answer("catalog", "update_category", category | {"name": "Cooking"})
    rpc.answer("catalog", "delete_category", None)
    created = await client.post("/api/v1/categories", headers=admin,
                                json={"name": "Kitchen", "slug": "kitchen"})
    assert created.status_code == 201
    patched = await client.patch(f"/api/v1/categories/{CATEGORY_ID}", headers=admin, json={"name": "Cooking"})
    assert patched.json()["name"] == "Cooking"
    assert rpc.calls_to("catalog", "update_category")[0].kwargs == {"category_id": CATEGORY_ID,
                                                                    "changes": {"name": "Cooking"}}
    deleted = await client.delete(f"/api/v1/categories/{CATEGORY_ID}", headers=admin)
    assert deleted.status_code == 204 and deleted.content == b""


async def test_a_bad_slug_is_a_422(client, admin):
    response = await client.post("/api/v1/categories", headers=admin,
                                 json={"name": "K", "slug": "Not A Slug"})
    assert response.status_code == 422 and "slug" in response.json()["error"]["details"]


async def test_admins_read_and_set_stock(client, rpc, admin):
    stock = {"product_id": PRODUCT_ID, "on_hand": 12, "reserved": 0, "available": 12}
    rpc.answer("catalog", "get_stock", stock)
    rpc.answer("catalog", "set_stock", stock)
    assert (await client.get(f"/api/v1/products/{PRODUCT_ID}/stock", headers=admin)).json() == stock
    assert (await client.put(f"/api/v1/products/{PRODUCT_ID}/stock", headers=admin,
                             json={"on_hand": 12})).status_code == 200
    assert rpc.calls_to("catalog", "set_stock")[0].kwargs == {"product_id": PRODUCT_ID, "on_hand": 12}


@pytest.mark.parametrize("body", [{"on_hand": -1}, {"on_hand": "12"}, {}, {"on_hand": 1, "reserved": 0}])
async def test_bad_stock_levels_are_a_422(client, rpc, admin, body):
    response = await client.put(f"/api/v1/products/{PRODUCT_ID}/stock", headers=admin, json=body)
    assert response.status_code == 422
    assert rpc.calls_to("catalog", "set_stock") == []
