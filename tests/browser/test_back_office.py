"""The back office: an admin runs the catalog, stock, orders, refunds and compensations; a
customer never gets in."""
from __future__ import annotations

import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CUSTOMER_PASSWORD,
    check_accessibility,
    screenshot,
    sign_in,
)
from tests.e2e.saga_support import bearer, new_product, place, wait_for, wait_until

ADMIN_CALLS = ("/api/v1/orders/needing-attention", "/stock", "/api/v1/payments")


def _admin(page: Page, admin_token: str) -> None:
    """Signed in to /admin/ as the e2e admin (``admin_token`` made sure the account exists)."""
    sign_in(page, ADMIN_EMAIL, ADMIN_PASSWORD, start="/admin/")
    expect(page.get_by_role("heading", name="Products")).to_be_visible()


def _order(client, token: str, order: dict) -> dict:
    return dict(client.get(f"/api/v1/orders/{order['id']}", headers=bearer(token)).json())


def _confirmed_order(client, register_customer, product_id: str, card: str = "tok_visa") -> tuple[dict, str]:
    _, token = register_customer(name="Buyer")
    placed = place(client, token, product_id, card=card)
    assert placed.status_code == 201, placed.text
    return wait_for(client, token, placed.json()["id"], {"confirmed"}), token


def test_an_admin_creates_a_product_and_sets_its_stock(page, client, admin_token):
    _admin(page, admin_token)
    name = f"Teapot {uuid.uuid4().hex[:6]}"
    page.get_by_label("SKU").fill(f"TEA-{uuid.uuid4().hex[:6]}")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Price in minor units (cents)").fill("2490")
    page.get_by_label("Initial stock on hand").fill("3")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_text(f"Product {name} created.")).to_be_visible()
    check_accessibility(page, "back office products")
    screenshot(page, "admin-products")
    page.get_by_role("link", name=name).click()
    expect(page.locator("#stock-on-hand")).to_have_text("3")
    page.get_by_label("Units on hand").fill("7")
    page.get_by_role("button", name="Set stock").click()
    expect(page.get_by_text("Stock set.")).to_be_visible()
    expect(page.locator("#stock-on-hand")).to_have_text("7")
    expect(page.locator("#stock-available")).to_have_text("7")
    check_accessibility(page, "back office product")
    page.get_by_label("Price in minor units (cents)").fill("2590")
    page.get_by_role("button", name="Save product").click()
    expect(page.get_by_text("Product saved.")).to_be_visible()
    [found] = client.get("/api/v1/products", params={"q": name}).json()["items"]
    assert found["price"] == 2590 and found["available"] == 7
    page.get_by_role("link", name="All products").click()
    page.get_by_role("button", name=f"Deactivate {name}").click()
    expect(page.get_by_text(f"{name} deactivated.")).to_be_visible()
    expect(page.locator("tr", has_text=name)).to_contain_text("Inactive")
    # Customers no longer find it (the gateway's catalog cache hears the change).
    assert wait_until(lambda: client.get("/api/v1/products", params={"q": name}).json()["items"] == [])


def test_an_admin_creates_renames_deactivates_and_deletes_a_category(page, client, admin_token):
    _admin(page, admin_token)
    page.get_by_role("link", name="Categories").click()
    # The products page has a "Name" field too: wait until the categories page has replaced it.
    expect(page.get_by_role("heading", name="New category")).to_be_visible()
    name = f"Garden {uuid.uuid4().hex[:6]}"
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create category").click()
    expect(page.get_by_text("Category created.")).to_be_visible()
    page.get_by_label(f"New name for {name}").fill(f"{name} and patio")
    page.get_by_role("button", name=f"Rename {name}").click()
    expect(page.get_by_text("Category renamed.")).to_be_visible()
    check_accessibility(page, "back office categories")
    renamed = f"{name} and patio"
    public = lambda: [c["name"] for c in client.get("/api/v1/categories").json()]  # noqa: E731
    page.get_by_role("button", name=f"Deactivate {renamed}", exact=True).click()
    expect(page.get_by_text(f"{renamed} deactivated.")).to_be_visible()
    expect(page.locator("tr", has_text=renamed)).to_contain_text("Inactive")
    assert wait_until(lambda: renamed not in public())  # the shop no longer lists it
    page.get_by_role("button", name=f"Activate {renamed}", exact=True).click()
    expect(page.get_by_text(f"{renamed} activated.")).to_be_visible()
    row = page.locator("tr", has_text=renamed)
    expect(row.get_by_role("cell", name="Active", exact=True)).to_be_visible()
    assert wait_until(lambda: renamed in public())
    page.get_by_role("button", name=f"Delete {name} and patio").click()
    expect(page.get_by_text("Category deleted.")).to_be_visible()
    expect(page.get_by_role("cell", name=f"{name} and patio")).to_have_count(0)


def test_an_admin_ships_and_refunds_an_order(page, client, admin_token, register_customer):
    item = new_product(client, admin_token, stock=3, price=1250)
    order, token = _confirmed_order(client, register_customer, item["id"])
    _admin(page, admin_token)
    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_label("Status").select_option("confirmed")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name=f"Order {order['id'][:8]}").click()
    page.get_by_role("button", name="Ship").click()
    expect(page.locator("#order-status")).to_have_text("Shipped")
    refund = page.get_by_label("Amount in cents (empty: all that is left)")
    refund.fill("500")
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_text("Refunded €5.00.")).to_be_visible()
    check_accessibility(page, "back office order")
    screenshot(page, "admin-order")
    payments = client.get("/api/v1/payments", params={"order_id": order["id"]}, headers=bearer(token))
    [payment] = payments.json()["items"]
    assert payment["refunded_amount"] == 500
    page.get_by_label("Amount in cents (empty: all that is left)").fill("")
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_text("Refunded in full.")).to_be_visible()
    assert wait_until(lambda: _order(client, token, order)["payment_status"] == "refunded")
    expect(page.get_by_text("OrderShipped")).to_be_visible()  # the event history


def test_an_admin_retries_a_failed_compensation(page, client, admin_token, register_customer):
    item = new_product(client, admin_token, stock=3)
    # tok_refundFail: captured, but its refund fails, so the cancelled order needs attention.
    order, token = _confirmed_order(client, register_customer, item["id"], card="tok_refundFail")
    assert client.post(f"/api/v1/orders/{order['id']}/cancel", headers=bearer(token)).status_code == 200
    assert wait_until(lambda: _order(client, token, order)["needs_attention"])
    _admin(page, admin_token)
    page.get_by_role("link", name="Needing attention").click()
    row = page.locator("tr", has_text=f"Order {order['id'][:8]}")
    expect(row).to_contain_text("Cancelled")
    check_accessibility(page, "orders needing attention")
    screenshot(page, "admin-attention")
    row.get_by_role("button", name="Retry compensation").click()
    expect(page.get_by_text("Compensation asked for again.")).to_be_visible()
    events = client.get(f"/api/v1/orders/{order['id']}/events", headers=bearer(admin_token)).json()
    assert "CompensationRetried" in [event["type"] for event in events]


def test_a_customer_sees_a_403_page_and_no_admin_data(page, register_customer):
    user, _ = register_customer(name="Mallory")
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    sign_in(page, user["email"], CUSTOMER_PASSWORD, start="/admin/")
    expect(page.get_by_role("heading", name="403 Forbidden")).to_be_visible()
    expect(page.get_by_role("link", name="Products")).to_have_count(0)
    check_accessibility(page, "403 page")
    screenshot(page, "admin-403")
    assert [url for url in asked if "/api/v1/" in url and "/oauth/" not in url] == []
