"""A customer in the storefront: register, sign in, search, buy, watch the order, cancel."""
from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    CUSTOMER_PASSWORD,
    MEASURES,
    check_accessibility,
    fill_sign_in_page,
    screenshot,
    sign_in,
)
from tests.e2e.saga_support import bearer

CONFIRMED_WITHIN = 15_000  # ms: the saga takes well under a second here; slack for a busy machine
ADDRESS = {"Recipient name": "Ada Lovelace", "Address line 1": "1 Main St", "City": "Berlin",
           "Postal code": "10115", "Country (two-letter code, e.g. DE)": "DE"}


def _products(client, admin_token, word: str, *names: str, stock: int = 5, price: int = 1250) -> list[dict]:
    made = []
    for name in names:
        body = {"sku": f"WEB-{uuid.uuid4().hex[:8]}", "name": f"{name} {word}", "price": price,
                "currency": "EUR", "stock": stock, "description": f"A {name.lower()} for the browser tests."}
        response = client.post("/api/v1/products", headers=bearer(admin_token), json=body)
        assert response.status_code == 201, response.text
        made.append(response.json())
    return made


def _checkout(page: Page, card: str) -> None:
    page.get_by_role("link", name="Cart").click()
    page.get_by_role("button", name="Checkout").click()
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label(card).check()
    page.get_by_role("button", name="Place order").click()
    expect(page).to_have_url(re.compile(r"#/order/"))


def _open_product(page: Page, product: dict) -> None:
    page.goto(f"/#/product/{product['id']}")
    expect(page.get_by_role("heading", name=product["name"], level=1)).to_be_visible()


def _registered(register_customer) -> str:
    user, _ = register_customer(name="Grace")
    return str(user["email"])


def test_the_first_product_list_is_light_and_paints_fast(new_page, client, admin_token):
    _products(client, admin_token, uuid.uuid4().hex[:6], "Mug", "Plate")
    page = new_page()  # a cold cache: everything is transferred
    page.goto("/")
    expect(page.locator(".product").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    transferred = page.evaluate("""() => performance.getEntriesByType('navigation')
        .concat(performance.getEntriesByType('resource')).reduce((sum, e) => sum + e.transferSize, 0)""")
    paints = page.evaluate(
        "() => Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]))")
    assert 0 < transferred < 100_000, f"{transferred} bytes for the first product list"
    assert paints.get("first-contentful-paint", 0) > 0
    MEASURES["first product list: bytes transferred"] = transferred
    MEASURES["first product list: paint (ms)"] = {name: round(ms, 1) for name, ms in paints.items()}
    check_accessibility(page, "product list")
    screenshot(page, "storefront-products")


def test_a_customer_registers_signs_in_searches_and_sees_the_order_confirmed_without_reloading(
        page, client, admin_token):
    word = f"w{uuid.uuid4().hex[:8]}"
    lamp, shade = _products(client, admin_token, word, "Lamp", "Shade")
    email = f"shopper-{uuid.uuid4().hex[:8]}@example.com"
    page.goto("/")
    page.get_by_role("link", name="Create account").click()
    check_accessibility(page, "create account")
    page.get_by_label("Name").fill("Shopper")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(CUSTOMER_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    # Registered; signing in is the code flow's page on the gateway.
    expect(page).to_have_url(re.compile(r"/api/v1/oauth/authorize\?.*code_challenge_method=S256"))
    fill_sign_in_page(page, email, CUSTOMER_PASSWORD)
    expect(page.get_by_role("link", name="Sign out")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('shop.session')") is not None

    page.get_by_label("Search products").fill(word)
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".product")).to_have_count(2)
    for product in (lamp, shade):
        card = page.locator(".product", has_text=product["name"])
        expect(card).to_contain_text("€12.50")
        expect(card).to_contain_text("In stock (5 available)")
        card.get_by_role("button", name="Add to cart").click()
    page.get_by_role("link", name=lamp["name"]).click()
    expect(page.get_by_role("heading", name=lamp["name"])).to_be_visible()
    check_accessibility(page, "product page")
    screenshot(page, "storefront-product")

    page.reload()  # the cart survives it
    page.get_by_role("link", name="Cart").click()
    expect(page.locator("tbody tr")).to_have_count(2)
    expect(page.get_by_text("Total: €25.00")).to_be_visible()
    check_accessibility(page, "cart")
    screenshot(page, "storefront-cart")
    page.get_by_role("button", name="Checkout").click()
    check_accessibility(page, "checkout")
    screenshot(page, "storefront-checkout")
    page.go_back()

    _checkout(page, "Visa ending 4242: approved")
    page.evaluate("() => { window.notReloaded = true; }")
    expect(page.locator("#order-status")).to_have_text("Confirmed", timeout=CONFIRMED_WITHIN)
    assert page.evaluate("() => window.notReloaded === true"), "the page was reloaded"
    check_accessibility(page, "order page")
    screenshot(page, "storefront-order-confirmed")
    page.get_by_role("link", name="My orders").first.click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("Confirmed")


def test_a_declined_card_shows_the_reason_and_the_stock_comes_back(page, client, admin_token,
                                                                   register_customer):
    [kettle] = _products(client, admin_token, uuid.uuid4().hex[:6], "Kettle", stock=2)
    sign_in(page, _registered(register_customer), CUSTOMER_PASSWORD)
    _open_product(page, kettle)
    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    _checkout(page, "Card declined")
    expect(page.locator("#order-status")).to_have_text("Cancelled", timeout=CONFIRMED_WITHIN)
    expect(page.locator("#order-reason")).to_have_text("The payment failed. The card was declined.")
    _open_product(page, kettle)
    expect(page.get_by_text("In stock (2 available)")).to_be_visible()


def test_a_customer_cancels_an_order(page, client, admin_token, register_customer):
    [clock] = _products(client, admin_token, uuid.uuid4().hex[:6], "Clock", stock=3)
    sign_in(page, _registered(register_customer), CUSTOMER_PASSWORD)
    _open_product(page, clock)
    page.get_by_role("button", name="Add to cart").click()
    _checkout(page, "Visa ending 4242: approved")
    expect(page.locator("#order-status")).to_have_text("Confirmed", timeout=CONFIRMED_WITHIN)
    page.get_by_role("button", name="Cancel order").click()
    expect(page.locator("#order-status")).to_have_text("Cancelled")
    expect(page.locator("#order-reason")).to_have_text("You cancelled the order.")
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)


def test_the_profile_keeps_the_address_and_checkout_offers_it(page, register_customer):
    sign_in(page, _registered(register_customer), CUSTOMER_PASSWORD)
    page.get_by_role("link", name="Profile").click()
    for label, value in ADDRESS.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Phone (optional, e.g. +4930123456)").fill("+4930123456")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    page.reload()
    expect(page.get_by_label("City", exact=True)).to_have_value("Berlin")
    expect(page.get_by_label("Phone (optional, e.g. +4930123456)")).to_have_value("+4930123456")
    check_accessibility(page, "profile")


def test_signing_out_revokes_the_refresh_token(page, client, register_customer):
    sign_in(page, _registered(register_customer), CUSTOMER_PASSWORD)
    refresh = page.evaluate("() => JSON.parse(sessionStorage.getItem('shop.session')).refresh")
    page.get_by_role("link", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    answer = client.post("/api/v1/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh,
                                                      "client_id": "shop-storefront"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_the_access_token_is_refreshed_before_it_expires(page, register_customer):
    sign_in(page, _registered(register_customer), CUSTOMER_PASSWORD)
    before = page.evaluate("() => JSON.parse(sessionStorage.getItem('shop.session'))")
    # As if the token had 30 s left: the page refreshes it now, not after a 401.
    page.evaluate("() => { const s = JSON.parse(sessionStorage.getItem('shop.session'));"
                  " s.expiresAt = Date.now() + 30000;"
                  " sessionStorage.setItem('shop.session', JSON.stringify(s)); }")
    with page.expect_request(lambda request: request.url.endswith("/api/v1/oauth/token")
                             and "grant_type=refresh_token" in (request.post_data or "")) as refreshing:
        page.reload()
    assert refreshing.value.response().status == 200
    page.wait_for_function("(old) => JSON.parse(sessionStorage.getItem('shop.session')).refresh !== old",
                           arg=before["refresh"])
    after = page.evaluate("() => JSON.parse(sessionStorage.getItem('shop.session'))")
    assert after["access"] != before["access"] and after["expiresAt"] > before["expiresAt"] - 1000
    page.get_by_role("link", name="My orders").click()
    expect(page.get_by_text("You have no orders yet.")).to_be_visible()


def _three_d_secure_order(page: Page, client, admin_token, register_customer) -> None:
    [vase] = _products(client, admin_token, uuid.uuid4().hex[:6], "Vase", stock=2)
    sign_in(page, _registered(register_customer), CUSTOMER_PASSWORD)
    _open_product(page, vase)
    page.get_by_role("button", name="Add to cart").click()
    _checkout(page, "Needs 3-D Secure: your bank asks you to confirm")
    # The order waits for the customer; the page offers the bank's step as soon as it is known.
    expect(page.locator("#order-status")).to_have_text("Awaiting payment", timeout=CONFIRMED_WITHIN)
    page.get_by_role("link", name="Confirm the payment with your bank").click()
    expect(page).to_have_url(re.compile(r"/sandbox/3ds/"))


def test_a_3d_secure_card_passes_its_challenge_and_the_order_is_confirmed(page, client, admin_token,
                                                                          register_customer):
    _three_d_secure_order(page, client, admin_token, register_customer)
    screenshot(page, "sandbox-3ds-challenge")
    page.get_by_role("button", name="Pass").click()
    expect(page).to_have_url(re.compile(r"/#/order/"))  # back in the shop, on the order
    expect(page.locator("#order-status")).to_have_text("Confirmed", timeout=CONFIRMED_WITHIN)
    expect(page.locator("#payment-action")).to_be_empty()


def test_a_3d_secure_card_that_fails_its_challenge_cancels_the_order_with_the_reason(
        page, client, admin_token, register_customer):
    _three_d_secure_order(page, client, admin_token, register_customer)
    page.get_by_role("button", name="Fail").click()
    expect(page).to_have_url(re.compile(r"/#/order/"))
    expect(page.locator("#order-status")).to_have_text("Cancelled", timeout=CONFIRMED_WITHIN)
    expect(page.locator("#order-reason")).to_have_text(
        "The payment failed. You did not confirm the payment with your bank.")


def test_a_customer_can_shop_with_the_keyboard_alone(page, client, admin_token):
    [bowl] = _products(client, admin_token, uuid.uuid4().hex[:6], "Bowl")
    _open_product(page, bowl)
    page.get_by_label("Quantity").focus()
    page.keyboard.press("Tab")  # the next stop after the quantity is the button
    assert page.evaluate("() => document.activeElement.textContent") == "Add to cart"
    page.keyboard.press("Enter")
    expect(page.get_by_text(f"{bowl['name']} added to the cart.")).to_be_visible()
    page.get_by_role("link", name="Cart").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Checkout")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(1)
