"""OWASP API6:2023 Unrestricted Access to Sensitive Business Flows.

Buying is the flow that moves money and stock: a replayed or raced request cannot make a second
order, a key cannot be reused for another purchase, and the saga cannot be skipped from outside.
"""
import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.security.support import bearer, order_body, place


def _orders_of(client, token):
    return client.get("/api/v1/orders?per_page=100", headers=bearer(token)).json()["items"]


def test_replaying_an_order_request_returns_the_first_order_and_charges_once(client, customer, product):
    _, token = customer
    key, body = uuid.uuid4().hex, order_body(product["id"], quantity=2)
    first = place(client, token, body, key)
    again = place(client, token, body, key)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert [o["id"] for o in _orders_of(client, token)] == [first.json()["id"]]


def test_the_same_key_with_another_body_is_refused(client, customer, product):
    _, token = customer
    key = uuid.uuid4().hex
    assert place(client, token, order_body(product["id"], quantity=1), key).status_code == 201
    other = place(client, token, order_body(product["id"], quantity=3), key)
    assert other.status_code == 422, other.text
    assert len(_orders_of(client, token)) == 1


def test_racing_the_same_request_makes_exactly_one_order(client, customer, product):
    _, token = customer
    key, body = uuid.uuid4().hex, order_body(product["id"])
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: place(client, token, body, key), range(6)))
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {200, 201, 409}, statuses
    assert statuses.count(201) == 1, statuses
    assert len(_orders_of(client, token)) == 1


def test_an_order_request_without_a_key_is_refused(client, customer, product):
    _, token = customer
    response = client.post("/api/v1/orders", json=order_body(product["id"]), headers=bearer(token))
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["error"]["details"]
    assert _orders_of(client, token) == []


def test_keys_are_per_customer_so_one_cannot_replay_anothers_purchase(client, customer, other_customer,
                                                                      product):
    (_, token), (_, attacker) = customer, other_customer
    key, body = uuid.uuid4().hex, order_body(product["id"])
    mine = place(client, token, body, key)
    theirs = place(client, attacker, body, key)
    assert mine.status_code == 201 and theirs.status_code in (201, 409, 422), theirs.text
    # The attacker never gets the victim's order back, whatever the server decides.
    assert theirs.json().get("id") != mine.json()["id"]
    assert all(o["id"] != mine.json()["id"] for o in _orders_of(client, attacker))


def test_a_paid_order_cannot_be_edited_to_more_goods(client, victim, product):
    changed = client.patch(f"/api/v1/orders/{victim.order['id']}", headers=bearer(victim.token),
                           json={"items": [{"product_id": product["id"], "quantity": 50}]})
    assert changed.status_code == 409, changed.text
    order = client.get(f"/api/v1/orders/{victim.order['id']}", headers=bearer(victim.token)).json()
    assert order["items"] == victim.order["items"] and order["total"] == victim.order["total"]
