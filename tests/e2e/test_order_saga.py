"""The order saga through the gateway: stock, money and statuses agree at the end of every path."""
import os
import signal
import time
import uuid

import pytest

from tests.e2e.saga_support import (
    FINAL,
    bearer,
    payments_of,
    place,
    settled_stock,
    stock,
    wait_for,
    wait_for_payments,
)


def test_a_paid_order_is_confirmed_with_stock_taken_and_money_captured(client, admin_token,
                                                                       register_customer, product):
    _, token = register_customer()
    item = product(stock=5, price=1250)
    placed = place(client, token, item["id"], quantity=2)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "pending" and order["total"] == 2500 and order["currency"] == "EUR"
    assert order["items"][0]["unit_price"] == 1250 and order["items"][0]["name"] == "Kettle"

    order = wait_for(client, token, order["id"], FINAL)
    assert order["status"] == "confirmed"
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=3)
    assert current == expected
    [payment] = payments_of(client, token, order["id"])
    assert (payment["status"], payment["amount"], payment["currency"]) == ("captured", 2500, "EUR")
    types = [e["type"] for e in client.get(f"/api/v1/orders/{order['id']}/events",
                                           headers=bearer(token)).json()]
    assert types[0] == "OrderPlaced" and types[-1] == "PaymentCaptured"


def test_an_order_for_more_than_is_in_stock_is_cancelled_out_of_stock(client, admin_token,
                                                                      register_customer, product):
    _, token = register_customer()
    item = product(stock=1)
    order = wait_for(client, token, place(client, token, item["id"], quantity=3).json()["id"], FINAL)
    assert (order["status"], order["cancellation_reason"]) == ("cancelled", "out_of_stock")
    assert stock(client, admin_token, item["id"])["available"] == 1
    assert payments_of(client, token, order["id"]) == []


@pytest.mark.parametrize("card", ["tok_chargeDeclined", "tok_chargeDeclinedInsufficientFunds",
                                  "tok_processingError"])
def test_a_failed_payment_cancels_the_order_and_releases_the_stock(client, admin_token, register_customer,
                                                                   product, card):
    _, token = register_customer()
    item = product(stock=2)
    order = wait_for(client, token, place(client, token, item["id"], card=card).json()["id"], FINAL)
    assert (order["status"], order["cancellation_reason"]) == ("cancelled", "payment_failed")
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=2)
    assert current == expected


def test_a_transient_payment_error_is_retried_and_the_order_confirmed(client, register_customer, product):
    _, token = register_customer()
    item = product()
    order = place(client, token, item["id"], card="tok_processingErrorOnce").json()
    assert wait_for(client, token, order["id"], FINAL)["status"] == "confirmed"


def test_cancelling_a_paid_order_refunds_the_money_and_restocks(client, admin_token, register_customer,
                                                                product):
    _, token = register_customer()
    item = product(stock=4)
    order = wait_for(client, token, place(client, token, item["id"], quantity=2).json()["id"], FINAL)
    assert order["status"] == "confirmed"
    cancelled = client.post(f"/api/v1/orders/{order['id']}/cancel", headers=bearer(token))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancellation_reason"] == "cancelled_by_customer"
    [payment] = wait_for_payments(client, token, order["id"], {"refunded"})
    assert payment["status"] == "refunded"
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=4)
    assert current == expected


def test_an_order_cancelled_at_once_keeps_no_stock_and_no_money(client, admin_token, register_customer,
                                                                 product):
    _, token = register_customer()
    item = product(stock=3)
    order = place(client, token, item["id"]).json()
    assert client.post(f"/api/v1/orders/{order['id']}/cancel", headers=bearer(token)).status_code == 200
    time.sleep(2)  # let every compensation land, whichever step the saga had reached
    assert wait_for(client, token, order["id"], {"cancelled"})["status"] == "cancelled"
    payments = wait_for_payments(client, token, order["id"], {"voided", "refunded", "failed"})
    assert all(p["status"] in {"voided", "refunded", "failed"} for p in payments)
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=3)
    assert current == expected


def test_an_order_changed_before_payment_is_charged_its_new_total(client, admin_token, register_customer,
                                                                  product, platform):
    _, token = register_customer()
    item = product(stock=5, price=1000)
    payments = platform.processes["payments"]
    os.kill(payments.pid, signal.SIGSTOP)  # hold the payment step so the order waits for it
    try:
        order = place(client, token, item["id"], quantity=1).json()
        assert wait_for(client, token, order["id"], {"awaiting_payment"})["status"] == "awaiting_payment"
        changed = client.patch(f"/api/v1/orders/{order['id']}", headers=bearer(token),
                               json={"items": [{"product_id": item["id"], "quantity": 3}]})
        assert changed.status_code == 200, changed.text
        assert changed.json()["total"] == 3000
    finally:
        os.kill(payments.pid, signal.SIGCONT)
    assert wait_for(client, token, order["id"], FINAL)["status"] == "confirmed"
    captured = [p for p in wait_for_payments(client, token, order["id"], {"captured", "voided"})
                if p["status"] == "captured"]
    assert [p["amount"] for p in captured] == [3000]
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=2)
    assert current == expected


def test_admins_ship_and_deliver_a_confirmed_order(client, admin_token, register_customer, product):
    _, token = register_customer()
    order = wait_for(client, token, place(client, token, product()["id"]).json()["id"], FINAL)
    path = f"/api/v1/orders/{order['id']}"
    assert client.post(f"{path}/ship", headers=bearer(token)).status_code == 403
    assert client.post(f"{path}/deliver", headers=bearer(admin_token)).status_code == 409
    assert client.post(f"{path}/ship", headers=bearer(admin_token)).json()["status"] == "shipped"
    assert client.post(f"{path}/cancel", headers=bearer(token)).status_code == 409
    assert client.post(f"{path}/deliver", headers=bearer(admin_token)).json()["status"] == "delivered"


def test_the_same_idempotency_key_returns_the_same_order(client, register_customer, product):
    _, token = register_customer()
    item = product()
    first = place(client, token, item["id"], key="same-key")
    again = place(client, token, item["id"], key="same-key")
    other = place(client, token, item["id"], quantity=2, key="same-key")
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)
    assert again.json()["id"] == first.json()["id"]


def test_an_order_with_an_unknown_product_is_a_404_and_nothing_is_kept(client, register_customer):
    _, token = register_customer()
    response = place(client, token, str(uuid.uuid4()))
    assert response.status_code == 404
    assert client.get("/api/v1/orders", headers=bearer(token)).json()["total"] == 0


def test_another_customers_order_and_payment_are_not_found(client, register_customer, product):
    _, owner = register_customer()
    _, stranger = register_customer("Eve")
    order = wait_for(client, owner, place(client, owner, product()["id"]).json()["id"], FINAL)
    [payment] = payments_of(client, owner, order["id"])
    assert client.get(f"/api/v1/orders/{order['id']}", headers=bearer(stranger)).status_code == 404
    assert client.post(f"/api/v1/orders/{order['id']}/cancel", headers=bearer(stranger)).status_code == 404
    assert client.get(f"/api/v1/payments/{payment['id']}", headers=bearer(stranger)).status_code == 404
    assert payments_of(client, stranger, order["id"]) == []


def test_two_hundred_concurrent_orders_for_fifty_units_confirm_exactly_fifty(client, admin_token, platform,
                                                                             register_customer, product):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    _, token = register_customer()
    item = product(stock=50, price=700)

    def place_one(_):
        with httpx.Client(base_url=platform.base_url, timeout=30) as own:
            answer = place(own, token, item["id"])
            assert answer.status_code == 201, answer.text
            return answer.json()["id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        order_ids = list(pool.map(place_one, range(200)))
    assert len(set(order_ids)) == 200

    orders = [wait_for(client, token, order_id, FINAL, timeout=120) for order_id in order_ids]
    statuses = [o["status"] for o in orders]
    assert set(statuses) <= {"confirmed", "cancelled"}, statuses
    confirmed = [o for o in orders if o["status"] == "confirmed"]
    assert len(confirmed) == 50
    assert {o["cancellation_reason"] for o in orders if o["status"] == "cancelled"} == {"out_of_stock"}
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=0)
    assert current == expected
    every_payment, page = [], 1
    while batch := client.get(f"/api/v1/payments?page={page}&per_page=100",
                              headers=bearer(token)).json()["items"]:
        every_payment += batch
        page += 1
    captured = [p for p in every_payment if p["status"] == "captured"]
    assert sorted(p["order_id"] for p in captured) == sorted(o["id"] for o in confirmed)
    assert all(p["amount"] == 700 for p in captured)
