"""Public catalog reads: served from the gateway's cache, cacheable by browsers and proxies
(ETag, 304), dropped by catalog events and by the gateway's own writes, and never holding
anything but what an anonymous reader gets."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.catalog_cache import etag_matches, listener

PRODUCT_ID = str(uuid.uuid4())
OTHER_ID = str(uuid.uuid4())
PRODUCT = {"id": PRODUCT_ID, "name": "Tea pot", "price": 1999, "currency": "EUR", "active": True,
           "available": 5}


@pytest.fixture
def app(settings, rpc) -> Starlette:
    return create_app(settings, rpc)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


class Catalog:
    """The fake catalog's products, changeable between requests."""

    def __init__(self, rpc) -> None:
        self.price = 1999
        rpc.handlers[("catalog", "get_product")] = lambda product_id: dict(PRODUCT, id=product_id,
                                                                          price=self.price)
        rpc.handlers[("catalog", "list_products")] = lambda **query: {
            "items": [dict(PRODUCT, price=self.price)], "total": 1, "page": 1, "per_page": 20}


@pytest.fixture
def catalog(rpc) -> Catalog:
    return Catalog(rpc)


def product(client, **headers):
    return client.get(f"/api/v1/products/{PRODUCT_ID}", headers=headers)


async def test_a_product_read_twice_crosses_to_the_catalog_once_and_says_it_is_cacheable(
        client, rpc, catalog):
    first, second = await product(client), await product(client)
    assert first.json() == second.json() == PRODUCT
    assert len(rpc.calls_to("catalog", "get_product")) == 1
    assert first.headers["cache-control"] == "public, max-age=1"
    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["content-type"] == "application/json"


async def test_the_cache_is_filled_as_an_anonymous_reader_whoever_asks(client, rpc, catalog, customer):
    answer = await product(client, **customer)
    assert answer.status_code == 200 and answer.headers["cache-control"] == "public, max-age=1"
    [call] = rpc.calls_to("catalog", "get_product")
    assert call.principal is None  # the catalog answers the gateway itself, no end user
    assert (await product(client)).json() == answer.json()
    assert len(rpc.calls_to("catalog", "get_product")) == 1


async def test_an_admin_neither_reads_from_the_cache_nor_fills_it(client, rpc, admin):
    inactive = dict(PRODUCT, active=False)
    rpc.answer("catalog", "get_product", inactive)  # what only an admin is shown
    seen = await product(client, **admin)
    assert seen.json() == inactive and seen.headers["cache-control"] == "no-store"
    assert "etag" not in seen.headers
    rpc.answer("catalog", "get_product", PRODUCT)
    assert (await product(client)).json() == PRODUCT  # anonymous: not the admin's answer
    await product(client, **admin)
    calls = rpc.calls_to("catalog", "get_product")
    assert [call.principal is not None and call.principal.is_admin for call in calls] == [True, False, True]


async def test_inactive_listings_stay_private_and_uncached(client, rpc, catalog, admin):
    for _ in range(2):
        page = await client.get("/api/v1/products?include_inactive=true", headers=admin)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert len(rpc.calls_to("catalog", "list_products")) == 2
    public = await client.get("/api/v1/products")
    assert public.headers["cache-control"] == "public, max-age=1"
    [*_, call] = rpc.calls_to("catalog", "list_products")
    assert call.principal is None and call.kwargs["include_inactive"] is False


async def test_a_product_not_found_is_not_cached_nor_cacheable(client, rpc):
    from nameko_services.common.errors import ProductNotFound
    rpc.fail("catalog", "get_product", ProductNotFound())
    for _ in range(2):
        missing = await product(client)
        assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    assert len(rpc.calls_to("catalog", "get_product")) == 2


async def test_if_none_match_with_the_current_etag_is_a_304_without_a_body(client, catalog):
    etag = (await product(client)).headers["etag"]
    unchanged = await product(client, **{"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == etag and unchanged.headers["cache-control"] == "public, max-age=1"
    assert (await product(client, **{"If-None-Match": f'"other", W/{etag}'})).status_code == 304
    assert (await product(client, **{"If-None-Match": '"other"'})).status_code == 200


async def test_a_changed_product_has_a_new_etag_and_a_stale_one_gets_the_body(app, client, catalog):
    etag = (await product(client)).headers["etag"]
    catalog.price = 2499
    listener(app.state.read_cache)("product_changed", {"product_id": PRODUCT_ID})
    changed = await product(client, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["price"] == 2499
    assert changed.headers["etag"] != etag


@pytest.mark.parametrize(("event", "payload"), [
    ("product_changed", {"product_id": PRODUCT_ID}),
    ("stock_reserved", {"order_id": "o", "items": [{"product_id": PRODUCT_ID, "quantity": 1}]}),
    ("stock_released", {"order_id": "o"}),
    ("stock_adjusted", {"order_id": "o", "items": []}),
    ("category_changed", {"category_id": "c"}),
    ("an_event_from_a_newer_catalog", {}),
])
async def test_catalog_events_that_may_change_a_product_drop_it_and_every_page(
        app, client, rpc, catalog, event, payload):
    await product(client)
    await client.get("/api/v1/products?q=tea")
    catalog.price = 2499
    listener(app.state.read_cache)(event, payload)
    assert (await product(client)).json()["price"] == 2499
    assert (await client.get("/api/v1/products?q=tea")).json()["items"][0]["price"] == 2499


@pytest.mark.parametrize(("event", "payload"), [
    ("stock_committed", {"order_id": "o"}),
    ("stock_reservation_failed", {"order_id": "o", "reason": "out_of_stock"}),
    ("product_changed", {"product_id": OTHER_ID}),
    ("stock_reserved", {"order_id": "o", "items": [{"product_id": OTHER_ID, "quantity": 1}]}),
])
async def test_events_that_change_nothing_a_reader_sees_of_a_product_keep_it(
        app, client, rpc, catalog, event, payload):
    await product(client)
    listener(app.state.read_cache)(event, payload)
    await product(client)
    assert len(rpc.calls_to("catalog", "get_product")) == 1


async def test_the_gateways_own_price_change_is_read_back_at_once(client, rpc, catalog, admin):
    await product(client)
    catalog.price = 2499
    rpc.answer("catalog", "update_product", dict(PRODUCT, price=2499))
    changed = await client.patch(f"/api/v1/products/{PRODUCT_ID}", headers=admin, json={"price": 2499})
    assert changed.status_code == 200 and changed.headers["cache-control"] == "no-store"
    assert (await product(client)).json()["price"] == 2499


async def test_the_gateways_own_stock_change_is_read_back_at_once(client, rpc, catalog, admin):
    await client.get("/api/v1/products")
    catalog.price = 1  # stands for the page's new available count
    rpc.answer("catalog", "set_stock", {"product_id": PRODUCT_ID, "on_hand": 9, "available": 9})
    assert (await client.put(f"/api/v1/products/{PRODUCT_ID}/stock", headers=admin,
                             json={"on_hand": 9})).status_code == 200
    assert (await client.get("/api/v1/products")).json()["items"][0]["price"] == 1


async def test_pages_are_cached_by_their_validated_query(client, rpc, catalog):
    await client.get("/api/v1/products?q=tea")
    await client.get("/api/v1/products?q=tea&page=1")  # the same query once validated
    await client.get("/api/v1/products?q=cup")
    assert len(rpc.calls_to("catalog", "list_products")) == 2


async def test_categories_are_cached_and_a_category_change_drops_them(client, rpc, admin):
    rpc.answer("catalog", "list_categories", [])
    await client.get("/api/v1/categories")
    await client.get("/api/v1/categories")
    rpc.answer("catalog", "create_category", {"id": "c", "name": "Tea", "slug": "tea", "parent_id": None})
    assert (await client.post("/api/v1/categories", headers=admin, json={"name": "Tea"})).status_code == 201
    await client.get("/api/v1/categories")
    assert len(rpc.calls_to("catalog", "list_categories")) == 2


async def test_inactive_categories_are_for_admins_and_never_cached(client, rpc, admin, customer):
    hidden = {"id": str(uuid.uuid4()), "name": "Hats", "slug": "hats", "parent_id": None, "active": False}
    rpc.answer("catalog", "list_categories", [])
    assert (await client.get("/api/v1/categories")).json() == []  # fills the public cache
    rpc.handlers[("catalog", "list_categories")] = lambda include_inactive=False: (
        [hidden] if include_inactive else [])
    for _ in range(2):
        seen = await client.get("/api/v1/categories?include_inactive=true", headers=admin)
        assert seen.json() == [hidden] and seen.headers["cache-control"] == "no-store"
    assert (await client.get("/api/v1/categories")).json() == []  # not the admin's answer
    assert (await client.get("/api/v1/categories?include_inactive=true")).status_code == 401
    assert (await client.get("/api/v1/categories?include_inactive=true", headers=customer)).status_code == 403
    calls = rpc.calls_to("catalog", "list_categories")
    assert [(call.principal is not None, call.kwargs) for call in calls] == [
        (False, {}), (True, {"include_inactive": True}), (True, {"include_inactive": True})]


def test_if_none_match_compares_weakly_and_accepts_a_star():
    assert etag_matches('"a"', '"a"') and etag_matches('W/"a"', '"a"') and etag_matches("*", '"a"')
    assert etag_matches('"b", "a"', '"a"')
    assert not etag_matches('"b"', '"a"') and not etag_matches(None, '"a"') and not etag_matches("", '"a"')


def test_the_openapi_document_describes_the_304_of_the_public_reads_only():
    from gateway.app import ENDPOINTS
    from gateway.openapi import build_openapi
    paths = build_openapi(ENDPOINTS)["paths"]
    for path in ("/api/v1/products", "/api/v1/products/{product_id}", "/api/v1/categories"):
        get = paths[path]["get"]
        assert "content" not in get["responses"]["304"] and "ETag" in get["responses"]["304"]["headers"]
        assert "ETag" in get["responses"]["200"]["headers"]
        assert "If-None-Match" in [parameter["name"] for parameter in get["parameters"]]
    assert "304" not in paths["/api/v1/products/{product_id}/stock"]["get"]["responses"]
