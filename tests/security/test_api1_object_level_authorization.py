"""OWASP API1:2023 Broken Object Level Authorization.

Another customer asking for the victim's order, payment or profile by id gets the same 404 as
for an id that does not exist: the answer does not even confirm the object is there.
"""
import uuid

import pytest

from tests.security.support import ADDRESS, bearer

NOT_YOURS = 404


def _paths(victim):
    order, payment = victim.order["id"], victim.payment["id"]
    return [f"/api/v1/orders/{order}", f"/api/v1/orders/{order}/events",
            f"/api/v1/payments/{payment}", f"/api/v1/payments/{payment}/events"]


def test_another_customer_cannot_read_the_victims_order_or_payment(client, victim, other_customer):
    _, attacker = other_customer
    for path in _paths(victim):
        response = client.get(path, headers=bearer(attacker))
        assert response.status_code == NOT_YOURS, (path, response.text)
        # The 404 may name the id the caller sent, but nothing of the victim's.
        assert victim.user["id"] not in response.text and "shipping_address" not in response.text


def test_not_yours_looks_exactly_like_not_there(client, victim, other_customer):
    _, attacker = other_customer
    for path in _paths(victim):
        mine = client.get(path, headers=bearer(attacker))
        kind = path.split("/")[3]
        made_up = client.get(path.replace(victim.order["id"] if kind == "orders" else victim.payment["id"],
                                          str(uuid.uuid4())), headers=bearer(attacker))
        assert (mine.status_code, mine.json()["error"]["code"]) == (made_up.status_code,
                                                                    made_up.json()["error"]["code"])


def test_the_owner_and_an_admin_can_read_them(client, victim, admin_token):
    for token in (victim.token, admin_token):
        for path in _paths(victim):
            assert client.get(path, headers=bearer(token)).status_code == 200, path


def test_listing_payments_by_the_victims_order_id_shows_nothing(client, victim, other_customer):
    _, attacker = other_customer
    listed = client.get(f"/api/v1/payments?order_id={victim.order['id']}", headers=bearer(attacker))
    assert listed.status_code == 200 and listed.json()["items"] == []


def test_filtering_orders_by_the_victims_user_id_shows_none_of_theirs(client, victim, other_customer):
    _, attacker = other_customer
    listed = client.get(f"/api/v1/orders?user_id={victim.user['id']}", headers=bearer(attacker))
    # Refusing the filter or ignoring it are both fine; leaking the victim's orders is not.
    assert listed.status_code in (200, 403, 422), listed.text
    if listed.status_code == 200:
        assert all(order["user_id"] != victim.user["id"] for order in listed.json()["items"])


def test_another_customers_lists_never_contain_the_victims_objects(client, victim, other_customer):
    _, attacker = other_customer
    for path in ("/api/v1/orders", "/api/v1/payments"):
        listed = client.get(path, headers=bearer(attacker))
        assert listed.status_code == 200 and victim.order["id"] not in listed.text, path


@pytest.mark.parametrize("action", ["cancel"])
def test_another_customer_cannot_act_on_the_victims_order(client, victim, other_customer, action):
    _, attacker = other_customer
    response = client.post(f"/api/v1/orders/{victim.order['id']}/{action}", headers=bearer(attacker))
    assert response.status_code == NOT_YOURS, response.text
    assert client.get(f"/api/v1/orders/{victim.order['id']}",
                      headers=bearer(victim.token)).json()["status"] == victim.order["status"]


def test_another_customer_cannot_change_the_victims_order(client, victim, other_customer):
    _, attacker = other_customer
    response = client.patch(f"/api/v1/orders/{victim.order['id']}", headers=bearer(attacker),
                            json={"shipping_address": {**ADDRESS, "line1": "The attacker's place"}})
    assert response.status_code == NOT_YOURS, response.text
    order = client.get(f"/api/v1/orders/{victim.order['id']}", headers=bearer(victim.token)).json()
    assert order["shipping_address"] == victim.order["shipping_address"]


def test_a_customer_cannot_read_another_profile_by_id(client, victim, other_customer):
    _, attacker = other_customer
    response = client.get(f"/api/v1/users/{victim.user['id']}", headers=bearer(attacker))
    # The users-by-id route is admin-only: a customer is refused before any lookup.
    assert response.status_code == 403, response.text
    assert victim.user["email"] not in response.text


def test_users_me_is_always_the_caller(client, victim, other_customer):
    user, attacker = other_customer
    me = client.get("/api/v1/users/me", headers=bearer(attacker))
    assert me.json()["id"] == user["id"] != victim.user["id"]


def test_guessing_ids_finds_nothing(client, other_customer):
    _, attacker = other_customer
    guesses = [str(uuid.UUID(int=n)) for n in range(1, 6)] + ["1", "0", "-1", "null", "%2e%2e"]
    for guess in guesses:
        for path in (f"/api/v1/orders/{guess}", f"/api/v1/payments/{guess}"):
            response = client.get(path, headers=bearer(attacker))
            assert response.status_code == 404, (path, response.text)
