"""Public catalog reads through the gateway: cached, yet a price or stock change is visible to
readers within a second, and conditional requests are answered 304.

A second gateway process reads (``reader``), with a cache TTL far above a second: only the
catalog's events can make it see a change made through the first gateway that soon.
"""
import time

import httpx
import pytest

from nameko_services.ops import procfile
from tests.e2e.conftest import ROOT, _free_port
from tests.e2e.saga_support import bearer, new_product, place, wait_for

VISIBLE_WITHIN = 1.0
READER = "gateway-reader"


@pytest.fixture(scope="module")
def reader(platform):
    """A second gateway whose cached reads only events can refresh (TTL 30 s)."""
    port = _free_port()
    platform.start({READER: procfile.read(ROOT / "Procfile")["gateway"]},
                   {"SHOP_GATEWAY_PORT": str(port), "SHOP_READ_CACHE_TTL": "30"})
    base_url = f"http://127.0.0.1:{port}"
    platform.wait_ready(base_url=base_url)
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http
    platform.end(READER)
    del platform.processes[READER]  # ended on purpose: later readiness checks must not count it


def warm(reader, path):
    """Read twice: the second answer comes from the reader's cache."""
    first, second = reader.get(path), reader.get(path)
    assert first.status_code == second.status_code == 200, first.text
    assert first.headers["etag"] == second.headers["etag"]
    return second.json()


def seen_within(reader, path, changed, timeout=VISIBLE_WITHIN):
    """Seconds until ``changed(document)`` holds for the reader's answer (fails after ``timeout``)."""
    started = time.monotonic()
    while not changed(document := reader.get(path).json()):
        elapsed = time.monotonic() - started
        assert elapsed < timeout, f"still {document} after {elapsed:.2f} s"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_price_change_is_visible_to_a_warm_cache_within_a_second(client, reader, admin_token):
    product = new_product(client, admin_token, stock=5, price=1250)
    path = f"/api/v1/products/{product['id']}"
    page = f"/api/v1/products?q={product['sku']}"
    assert warm(reader, path)["price"] == 1250
    assert [p["price"] for p in warm(reader, page)["items"]] == [1250]
    changed = client.patch(path, headers=bearer(admin_token), json={"price": 1999})
    assert changed.status_code == 200, changed.text
    seen_within(reader, path, lambda doc: doc["price"] == 1999)
    seen_within(reader, page, lambda doc: [p["price"] for p in doc["items"]] == [1999])


def test_a_stock_change_is_visible_to_a_warm_cache_within_a_second(client, reader, admin_token):
    product = new_product(client, admin_token, stock=5)
    path = f"/api/v1/products/{product['id']}"
    assert warm(reader, path)["available"] == 5
    restocked = client.put(f"{path}/stock", headers=bearer(admin_token), json={"on_hand": 12})
    assert restocked.status_code == 200, restocked.text
    seen_within(reader, path, lambda doc: doc["available"] == 12)


def test_stock_an_order_reserves_is_visible_to_a_warm_cache_within_a_second(
        client, reader, admin_token, register_customer):
    product = new_product(client, admin_token, stock=5)
    path = f"/api/v1/products/{product['id']}"
    assert warm(reader, path)["available"] == 5
    _, token = register_customer()
    placed = place(client, token, product["id"], quantity=2)
    assert placed.status_code in (201, 202), placed.text
    assert wait_for(client, token, placed.json()["id"], {"confirmed"})["status"] == "confirmed"
    # Reserved long before the order was confirmed (several saga steps later): visible at once.
    seen_within(reader, path, lambda doc: doc["available"] == 3, timeout=0.2)


def test_a_conditional_read_is_a_304_until_the_product_changes(client, admin_token):
    product = new_product(client, admin_token, stock=5, price=1250)
    path = f"/api/v1/products/{product['id']}"
    first = client.get(path)
    assert first.headers["cache-control"] == "public, max-age=1"
    etag = first.headers["etag"]
    unchanged = client.get(path, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert client.patch(path, headers=bearer(admin_token), json={"price": 1300}).status_code == 200
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["price"] == 1300
    assert changed.headers["etag"] != etag


def test_private_answers_stay_uncacheable(client, admin_token, register_customer):
    product = new_product(client, admin_token)
    path = f"/api/v1/products/{product['id']}"
    assert client.get(path, headers=bearer(admin_token)).headers["cache-control"] == "no-store"
    assert client.delete(path, headers=bearer(admin_token)).status_code == 200
    hidden = client.get(path)  # deactivated: the admin still sees it, nobody else does
    assert hidden.status_code == 404 and hidden.headers["cache-control"] == "no-store"
    _, token = register_customer()
    assert client.get("/api/v1/users/me", headers=bearer(token)).headers["cache-control"] == "no-store"
