"""Catalog management and browsing through the HTTP gateway."""
import os
import signal
import time
import uuid


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _product(client, admin_token, **overrides):
    body = {"sku": f"SKU-{uuid.uuid4().hex[:8]}", "name": "Tea pot", "price": 1999,
            "currency": "EUR", "stock": 5, **overrides}
    response = client.post("/api/v1/products", headers=_bearer(admin_token), json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_an_admin_builds_the_catalog_and_anyone_browses_it(client, admin_token):
    slug = f"kitchen-{uuid.uuid4().hex[:6]}"
    category = client.post("/api/v1/categories", headers=_bearer(admin_token),
                           json={"name": "Kitchen", "slug": slug})
    assert category.status_code == 201, category.text
    category_id = category.json()["id"]
    product = _product(client, admin_token, category_id=category_id, name="Blue tea pot")

    assert any(c["slug"] == slug for c in client.get("/api/v1/categories").json())
    page = client.get(f"/api/v1/products?category_id={category_id}&q=blue&page=1&per_page=10").json()
    assert [p["id"] for p in page["items"]] == [product["id"]] and page["total"] == 1
    shown = client.get(f"/api/v1/products/{product['id']}").json()
    assert (shown["price"], shown["currency"], shown["available"]) == (1999, "EUR", 5)


def test_stock_is_managed_by_admins(client, admin_token):
    product = _product(client, admin_token)
    path = f"/api/v1/products/{product['id']}/stock"
    assert client.get(path, headers=_bearer(admin_token)).json() == {
        "product_id": product["id"], "on_hand": 5, "reserved": 0, "available": 5}
    updated = client.put(path, headers=_bearer(admin_token), json={"on_hand": 12})
    assert updated.status_code == 200 and updated.json()["available"] == 12
    assert client.put(path, headers=_bearer(admin_token), json={"on_hand": -1}).status_code == 422


def test_a_duplicate_sku_is_a_409(client, admin_token):
    product = _product(client, admin_token)
    again = client.post("/api/v1/products", headers=_bearer(admin_token),
                        json={"sku": product["sku"].lower(), "name": "x", "price": 1, "currency": "EUR"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_sku"


def test_a_deleted_product_is_deactivated_and_hidden_from_customers(client, admin_token):
    product = _product(client, admin_token)
    deleted = client.delete(f"/api/v1/products/{product['id']}", headers=_bearer(admin_token))
    assert deleted.status_code == 200 and deleted.json()["active"] is False
    assert client.get(f"/api/v1/products/{product['id']}").status_code == 404


def test_customers_cannot_change_the_catalog(client, register_customer):
    _, token = register_customer()
    body = {"sku": "X-1", "name": "x", "price": 1, "currency": "EUR"}
    assert client.post("/api/v1/products", json=body).status_code == 401
    assert client.post("/api/v1/products", headers=_bearer(token), json=body).status_code == 403


def test_bad_product_fields_are_named(client, admin_token):
    response = client.post("/api/v1/products", headers=_bearer(admin_token),
                           json={"sku": "", "name": "x", "price": -5, "currency": "euro", "colour": "red"})
    assert response.status_code == 422
    assert {"price", "currency", "colour"} <= set(response.json()["error"]["details"])


def test_unknown_products_and_malformed_ids_are_404(client):
    assert client.get(f"/api/v1/products/{uuid.uuid4()}").status_code == 404
    assert client.get("/api/v1/products/not-a-uuid").status_code == 404


def test_a_service_that_does_not_answer_in_time_is_a_504_and_recovers(client, platform):
    catalog = platform.processes["catalog"]
    unknown = f"/api/v1/products/{uuid.uuid4()}"  # a 404 is never cached: every read asks the catalog
    os.kill(catalog.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        response = client.get(unknown)
        elapsed = time.monotonic() - started
    finally:
        os.kill(catalog.pid, signal.SIGCONT)
    assert response.status_code == 504 and response.json()["error"]["code"] == "timeout"
    assert elapsed < 15
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and client.get(unknown).status_code != 404:
        time.sleep(0.5)
    assert client.get(unknown).status_code == 404
