"""What the saga's end-to-end tests share: placing orders and waiting for the saga to settle."""
import time
import uuid
from urllib.parse import quote, urlsplit

import httpx

from nameko_services.ops.endpoints import amqp_credentials, management_url

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
FINAL = {"confirmed", "cancelled", "shipped", "delivered"}
SAGA_TIMEOUT = 30.0
RETRYABLE = {409, 502, 503, 504}  # 409: the first attempt with this key is still in progress
PLACE_DEADLINE = 120.0


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


def token_for(client, email, password):
    response = client.post("/api/v1/oauth/token",
                           data={"grant_type": "password", "username": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def place_until_accepted(gateway, token, product_id, key, not_before=0.0, quantity=1, card="tok_visa"):
    """Place one order as a frontend does: an answer of 5xx, 409 or none is retried with the same
    key, at ``gateway(attempt)`` (the base URL to try that attempt at), the first attempt not
    before ``not_before`` (``time.monotonic()``). (the order's id, attempts)."""
    time.sleep(max(0.0, not_before - time.monotonic()))
    deadline = time.monotonic() + PLACE_DEADLINE
    attempts, last = 0, "no attempt"
    while time.monotonic() < deadline:
        try:
            with httpx.Client(base_url=gateway(attempts), timeout=15) as client:
                attempts += 1
                response = place(client, token, product_id, quantity, card, key)
        except httpx.HTTPError as exc:
            response, last = None, repr(exc)
        if response is not None and response.status_code in (200, 201):
            return response.json()["id"], attempts
        if response is not None and response.status_code not in RETRYABLE:
            raise AssertionError(f"order {key}: {response.status_code} {response.text}")
        if response is not None:
            last = f"{response.status_code} {response.text[:200]}"
        time.sleep(0.5)
    raise AssertionError(f"order {key} was never accepted after {attempts} attempts (last: {last})")


def wait_until(condition, timeout=SAGA_TIMEOUT, interval=0.2):
    """``condition()``'s first truthy result, or its last one when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(interval)
    return result


def management(vhost_uri, path, api=None):
    """The management API's answer about ``vhost_uri``'s vhost: ``path`` is e.g. ``queues``; ``api``
    the API's root (by default the broker host's, or ``SHOP_RABBIT_MANAGEMENT_URL``)."""
    api, auth = api or management_url(vhost_uri), amqp_credentials(vhost_uri)
    vhost = quote(urlsplit(vhost_uri).path.lstrip("/") or "/", safe="")
    response = httpx.get(f"{api}/api/{path}/{vhost}", auth=auth, timeout=10)
    response.raise_for_status()
    return response.json()


def queues(vhost_uri, api=None):
    """{name: (ready messages, consumers)} of the vhost's durable queues, exact (a passive declare
    each: the management API's figures lag by seconds); reply queues left out."""
    from kombu import Connection

    names = [q["name"] for q in management(vhost_uri, "queues", api)
             if not (q.get("exclusive") or q.get("auto_delete") or q["name"].startswith("rpc.reply-"))]
    with Connection(vhost_uri) as connection:
        channel = connection.channel()
        declared = {name: channel.queue_declare(name, passive=True) for name in names}
    return {name: (ok.message_count, ok.consumer_count) for name, ok in declared.items()}


def is_work_queue(name):
    """An RPC or handler queue (not one of a handler's retry or dead-letter queues)."""
    return not (name.endswith(".dead-letter") or ".retry-" in name)


def ready_messages(vhost_uri):
    """How many messages wait in the vhost's RPC and handler queues."""
    return sum(messages for name, (messages, _) in queues(vhost_uri).items() if is_work_queue(name))


def wait_for_consumers(vhost_uri, instances, timeout=60.0, api=None):
    """Each RPC and handler queue's consumers, once every one has ``instances`` (or at ``timeout``)."""
    def consumers():
        return {name: count for name, (_, count) in queues(vhost_uri, api).items() if is_work_queue(name)}

    wait_until(lambda: min(consumers().values()) >= instances, timeout, 0.5)
    return consumers()
