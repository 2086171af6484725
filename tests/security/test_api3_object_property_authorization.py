"""OWASP API3:2023 Broken Object Property Level Authorization.

Mass assignment: a field the caller may not set (roles, prices, statuses, ids, owners) is refused
with a 422 naming it, never silently applied. Excessive exposure: no answer carries secrets.
"""
import uuid

import pytest

from tests.security.conftest import CUSTOMER_PASSWORD
from tests.security.support import ADDRESS, bearer, order_body, place

SECRET_WORDS = ("password", "hash", "argon", "secret", "refresh_token_hash", "private")


def _unknown_field(response, name):
    assert response.status_code == 422, response.text
    assert name in response.json()["error"]["details"], response.text


@pytest.mark.parametrize("extra", [{"roles": ["admin"]}, {"id": str(uuid.uuid4())}, {"is_admin": True},
                                   {"created_at": "2000-01-01T00:00:00Z"}])
def test_registering_with_fields_a_customer_may_not_set_is_a_422(client, extra):
    body = {"email": f"mass-{uuid.uuid4().hex[:8]}@example.com", "password": CUSTOMER_PASSWORD, "name": "M",
            **extra}
    _unknown_field(client.post("/api/v1/users", json=body), next(iter(extra)))


@pytest.mark.parametrize("extra", [{"roles": ["admin"]}, {"email": "other@example.com"},
                                   {"id": str(uuid.uuid4())}, {"password": "x" * 12}])
def test_a_customer_cannot_set_protected_profile_fields(client, customer, extra):
    user, token = customer
    _unknown_field(client.patch("/api/v1/users/me", headers=bearer(token), json=extra), next(iter(extra)))
    me = client.get("/api/v1/users/me", headers=bearer(token)).json()
    assert (me["roles"], me["email"], me["id"]) == (["customer"], user["email"], user["id"])


@pytest.mark.parametrize("line_extra", [{"price": 1}, {"unit_price": 1}, {"line_total": 0}, {"name": "Free"}])
def test_order_lines_cannot_carry_prices_or_names(client, customer, product, line_extra):
    _, token = customer
    body = order_body(product["id"])
    body["items"][0].update(line_extra)
    response = place(client, token, body)
    assert response.status_code == 422, response.text
    assert "items" in response.json()["error"]["details"]


@pytest.mark.parametrize("extra", [{"status": "confirmed"}, {"total": 0}, {"user_id": str(uuid.uuid4())},
                                   {"currency": "XXX"}, {"payment_id": str(uuid.uuid4())}])
def test_an_order_cannot_be_placed_with_a_status_total_or_owner(client, customer, product, extra):
    _, token = customer
    _unknown_field(place(client, token, {**order_body(product["id"]), **extra}), next(iter(extra)))


@pytest.mark.parametrize("extra", [{"status": "confirmed"}, {"total": 0}, {"user_id": str(uuid.uuid4())}])
def test_an_order_cannot_be_changed_to_another_status_total_or_owner(client, victim, extra):
    response = client.patch(f"/api/v1/orders/{victim.order['id']}", headers=bearer(victim.token),
                            json={"shipping_address": ADDRESS, **extra})
    _unknown_field(response, next(iter(extra)))


def test_the_price_charged_is_the_catalogs_whatever_the_client_says(client, customer, product):
    _, token = customer
    placed = place(client, token, order_body(product["id"], quantity=2))
    assert placed.status_code == 201, placed.text
    assert placed.json()["total"] == 2 * product["price"]


@pytest.mark.parametrize("extra", [{"available": 10**6}, {"reserved": 0}, {"id": str(uuid.uuid4())}])
def test_even_an_admin_cannot_write_derived_product_fields(client, admin_token, extra):
    body = {"sku": f"MA-{uuid.uuid4().hex[:8]}", "name": "X", "price": 1, "currency": "EUR", **extra}
    _unknown_field(client.post("/api/v1/products", headers=bearer(admin_token), json=body), next(iter(extra)))


def _no_secrets(payload):
    text = str(payload).lower()
    leaked = [word for word in SECRET_WORDS if word in text]
    assert not leaked, f"{leaked} in {payload}"


def test_profiles_never_expose_password_hashes(client, customer, admin_token):
    user, token = customer
    _no_secrets(user)
    _no_secrets(client.get("/api/v1/users/me", headers=bearer(token)).json())
    _no_secrets(client.get(f"/api/v1/users/{user['id']}", headers=bearer(admin_token)).json())
    _no_secrets(client.get("/api/v1/users?per_page=100", headers=bearer(admin_token)).json())


def test_orders_and_payments_never_expose_the_card_token_or_provider_secrets(client, victim):
    order, payment = f"/api/v1/orders/{victim.order['id']}", f"/api/v1/payments/{victim.payment['id']}"
    for path in (order, payment, f"{order}/events", f"{payment}/events"):
        body = client.get(path, headers=bearer(victim.token)).text
        assert "tok_visa" not in body, f"{path} echoes the payment token"
        _no_secrets(body)


def test_the_public_product_view_hides_stock_internals(client, product):
    public = client.get(f"/api/v1/products/{product['id']}").json()
    assert not {"on_hand", "reserved"} & set(public), public
