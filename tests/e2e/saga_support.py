"""What the saga's end-to-end tests share: placing orders and waiting for the saga to settle."""
import time
import uuid

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
FINAL = {"confirmed", "cancelled", "shipped", "delivered"}
SAGA_TIMEOUT = 30.0


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def place(client, token, product_id, quantity=1, card="tok_visa", key=None, headers=None):
    body = {"items": [{"product_id": product_id, "quantity": quantity}], "shipping_address": ADDRESS,
            "payment": {"token": card}}
    headers = {**bearer(token), "Idempotency-Key": key or uuid.uuid4().hex, **(headers or {})}
    return client.post("/api/v1/orders", json=body, headers=headers)


def order_once(client, token, order_id, done, timeout=SAGA_TIMEOUT):
    """The order once ``done(order)`` holds, or as it is when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        order = client.get(f"/api/v1/orders/{order_id}", headers=bearer(token)).json()
        if done(order) or time.monotonic() > deadline:
            return order
        time.sleep(0.2)


def wait_for(client, token, order_id, statuses, timeout=SAGA_TIMEOUT):
    return order_once(client, token, order_id, lambda order: order["status"] in statuses, timeout)


def stock(client, admin_token, product_id):
    return client.get(f"/api/v1/products/{product_id}/stock", headers=bearer(admin_token)).json()


def settled_stock(client, admin_token, product_id, on_hand, timeout=SAGA_TIMEOUT):
    """The stock once the catalog has applied the saga's last event (it lags the order a little)."""
    expected = {"product_id": product_id, "on_hand": on_hand, "reserved": 0, "available": on_hand}
    deadline = time.monotonic() + timeout
    while (current := stock(client, admin_token, product_id)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return current, expected


def payments_of(client, token, order_id):
    return client.get(f"/api/v1/payments?order_id={order_id}", headers=bearer(token)).json()["items"]


def wait_for_payments(client, token, order_id, statuses, timeout=SAGA_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        payments = payments_of(client, token, order_id)
        if (payments and all(p["status"] in statuses for p in payments)) or time.monotonic() > deadline:
            return payments
        time.sleep(0.2)


def new_product(client, admin_token, stock=5, price=1250):
    """A fresh product (name Kettle, EUR) with ``stock`` units, made by an admin."""
    body = {"sku": f"SAGA-{uuid.uuid4().hex[:8]}", "name": "Kettle", "price": price,
            "currency": "EUR", "stock": stock}
    response = client.post("/api/v1/products", headers=bearer(admin_token), json=body)
    assert response.status_code == 201, response.text
    return response.json()
