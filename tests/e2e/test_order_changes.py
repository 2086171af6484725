"""Changing an order while the catalog is frozen, free orders, and totals too large to pay (issue 9).

The freeze is another session holding the product's stock row ``FOR UPDATE``, as a slow or
stuck catalog transaction would: the change must never leave the order saying one thing and
the reservation (and the money captured later) another.
"""
import threading
import time

import pytest
import sqlalchemy as sa

from nameko_services.common.limits import MAX_PAYMENT_AMOUNT
from tests.e2e.saga_support import (
    FINAL,
    bearer,
    order_once,
    payments_of,
    place,
    settled_stock,
    wait_for,
)

pytestmark = pytest.mark.slow
FREEZE_SECONDS = 6.0  # longer than the orders service waits for the catalog's answer (3 s)


def frozen_stock_row(core_url, product_id, seconds):
    """Hold the product's stock row locked for ``seconds`` in a thread; returns it (join to wait)."""
    locked = threading.Event()

    def hold():
        engine = sa.create_engine(core_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("SELECT on_hand FROM stock_levels WHERE product_id = :p FOR UPDATE"),
                             {"p": product_id})
                locked.set()
                time.sleep(seconds)
        finally:
            engine.dispose()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert locked.wait(10), "could not lock the stock row"
    return thread


def settled(client, token, order_id):
    """The order once no modification of it is pending any more."""
    return order_once(client, token, order_id, lambda order: order["pending_modification"] is None)


def test_a_change_while_the_catalog_is_frozen_leaves_order_stock_and_money_agreeing(
        platform, client, admin_token, register_customer, product, database_urls):
    _, token = register_customer()
    item = product(stock=20)  # 1250 each
    platform.end("payments")  # the orders wait for their payment, still modifiable
    try:
        growing = place(client, token, item["id"], quantity=1).json()
        shrinking = place(client, token, item["id"], quantity=5).json()
        for order in (growing, shrinking):
            assert wait_for(client, token, order["id"], {"awaiting_payment"})["status"] == "awaiting_payment"
        freeze = frozen_stock_row(database_urls["core"], item["id"], FREEZE_SECONDS)
        changes = {growing["id"]: 5, shrinking["id"]: 1}
        for order_id, quantity in changes.items():
            changed = client.patch(f"/api/v1/orders/{order_id}", headers=bearer(token),
                                   json={"items": [{"product_id": item["id"], "quantity": quantity}]})
            # The catalog cannot answer yet: the change is accepted, pending, and the order unchanged.
            assert changed.status_code == 202, changed.text
            assert changed.json()["pending_modification"]["total"] == 1250 * quantity
            assert changed.json()["total"] == 1250 * (6 - quantity)
            refused = client.patch(f"/api/v1/orders/{order_id}", headers=bearer(token),
                                   json={"items": [{"product_id": item["id"], "quantity": 2}]})
            assert refused.status_code == 409  # one change at a time
        freeze.join()
        for order_id, quantity in changes.items():
            order = settled(client, token, order_id)
            assert (order["pending_modification"], order["items"][0]["quantity"]) == (None, quantity)
        stock = client.get(f"/api/v1/products/{item['id']}/stock", headers=bearer(admin_token)).json()
        assert stock["reserved"] == 6
    finally:
        platform.restart("payments")
    platform.wait_ready()

    for order_id, quantity in changes.items():
        order = wait_for(client, token, order_id, FINAL)
        assert (order["status"], order["total"]) == ("confirmed", 1250 * quantity)
        captured = [p for p in payments_of(client, token, order_id) if p["status"] == "captured"]
        assert [p["amount"] for p in captured] == [1250 * quantity]
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=14)
    assert current == expected


def test_a_free_order_is_confirmed_once_its_stock_is_held_and_asks_for_no_payment(
        client, admin_token, register_customer, product):
    _, token = register_customer()
    item = product(stock=3, price=0)
    placed = place(client, token, item["id"], quantity=2)
    assert placed.status_code == 201, placed.text
    assert placed.json()["total"] == 0
    order = wait_for(client, token, placed.json()["id"], FINAL)
    assert order["status"] == "confirmed"
    assert payments_of(client, token, order["id"]) == []
    current, expected = settled_stock(client, admin_token, item["id"], on_hand=1)
    assert current == expected


def test_an_order_above_the_largest_payment_is_refused_naming_the_limit(
        client, admin_token, register_customer, product):
    _, token = register_customer()
    item = product(stock=5, price=MAX_PAYMENT_AMOUNT)
    refused = place(client, token, item["id"], quantity=2)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "order_total_too_large"
    assert error["details"]["max_total"] == MAX_PAYMENT_AMOUNT
    assert client.get("/api/v1/orders", headers=bearer(token)).json()["total"] == 0


def payment_status_becomes(client, token, order_id, status):
    return order_once(client, token, order_id, lambda order: order["payment_status"] == status)


def test_refunds_show_on_the_order_and_a_fully_refunded_order_is_not_shipped(
        client, admin_token, register_customer, product):
    _, token = register_customer()
    item = product(stock=2)
    order = wait_for(client, token, place(client, token, item["id"], quantity=2).json()["id"], FINAL)
    assert (order["status"], order["payment_status"]) == ("confirmed", "paid")
    [payment] = payments_of(client, token, order["id"])
    refund = f"/api/v1/payments/{payment['id']}/refund"
    assert client.post(refund, headers=bearer(admin_token), json={"amount": 500}).status_code == 200
    assert payment_status_becomes(client, token, order["id"], "partially_refunded")[
        "payment_status"] == "partially_refunded"
    assert client.post(refund, headers=bearer(admin_token), json={}).status_code == 200
    assert payment_status_becomes(client, token, order["id"], "refunded")["payment_status"] == "refunded"
    shipped = client.post(f"/api/v1/orders/{order['id']}/ship", headers=bearer(admin_token))
    assert shipped.status_code == 409, shipped.text
    assert shipped.json()["error"]["details"]["payment_status"] == "refunded"
