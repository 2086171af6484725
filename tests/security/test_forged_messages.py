"""Messages published straight to RabbitMQ, past the gateway, by someone without service keys.

The broker is a trust boundary of its own: whoever reaches it (a leaked password, a
compromised host) must not be able to move money or stock. An RPC call needs a service token
addressed to the receiving service; an event needs an event token signed by the service whose
exchange it comes from. Both are checked here against the running platform: the forged message
is refused, and nothing changes.
"""
import json
import os
import signal
import time
import uuid

import pytest
from kombu import Connection, Exchange, Producer, Queue

from nameko_services.common.auth import Principal, issue_service_token
from nameko_services.common.event_auth import EVENT_TOKEN_HEADER, sign_event
from nameko_services.common.events import REFUSED_HEADER, dead_letter_queue_name
from nameko_services.common.outbox import EVENT_ID_HEADER
from nameko_services.common.rpc import AUTH_HEADER
from tests.security.support import bearer, load_signing_key_from, order_body, place, stranger_key, wait_for

RPC_EXCHANGE = "nameko-rpc"
REPLY_TIMEOUT = 15.0
REFUSAL_TIMEOUT = 20.0


def rpc_call(amqp_uri, service, method, kwargs, token=None):
    """Call ``service.method`` as nameko's wire protocol says; the raw reply ``{result, error}``."""
    reply_to = f"rpc.reply-security-{uuid.uuid4().hex}"
    exchange = Exchange(RPC_EXCHANGE, type="topic", durable=True)
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        replies = Queue(reply_to, exchange=exchange, routing_key=reply_to, exclusive=True, auto_delete=True)
        replies(channel).declare()
        headers = {"nameko.correlation_id": uuid.uuid4().hex, "nameko.call_id_stack": ["security.forger.0"]}
        if token is not None:
            headers[AUTH_HEADER] = token
        Producer(channel).publish({"args": [], "kwargs": kwargs}, exchange=exchange,
                                  routing_key=f"{service}.{method}", reply_to=reply_to,
                                  correlation_id=uuid.uuid4().hex, headers=headers, serializer="json",
                                  mandatory=True)
        deadline = time.monotonic() + REPLY_TIMEOUT
        while time.monotonic() < deadline:
            message = replies(channel).get(no_ack=True)
            if message is not None:
                return json.loads(message.body)
            time.sleep(0.05)
    pytest.fail(f"no reply to {service}.{method} within {REPLY_TIMEOUT} s")


@pytest.fixture
def admin_principal(client, admin_token):
    me = client.get("/api/v1/users/me", headers=bearer(admin_token)).json()
    return Principal(user_id=me["id"], roles=tuple(me["roles"]))


def _stock(client, admin_token, product_id):
    return client.get(f"/api/v1/products/{product_id}/stock", headers=bearer(admin_token)).json()


def test_a_genuine_service_token_gets_an_answer(vhost_uri, keys_dir, admin_principal, product):
    # The control: the same raw call with a real token works, so the refusals below are auth.
    gateway = load_signing_key_from(keys_dir, "service-gateway")
    token = issue_service_token(gateway, service="gateway", audience="catalog", principal=admin_principal)
    reply = rpc_call(vhost_uri, "catalog", "get_stock", {"product_id": product["id"]}, token)
    assert reply["error"] is None and reply["result"]["product_id"] == product["id"]


def _forged_tokens(keys_dir, principal):
    gateway = load_signing_key_from(keys_dir, "service-gateway")
    return {
        "no token": None,
        "garbage": "not-a-jwt",
        "unknown key": issue_service_token(stranger_key(), service="gateway", audience="catalog",
                                           principal=principal),
        "for another service": issue_service_token(gateway, service="gateway", audience="users",
                                                   principal=principal),
        "expired": issue_service_token(gateway, service="gateway", audience="catalog", principal=principal,
                                       now=time.time() - 3600),
    }


@pytest.mark.parametrize("forgery", ["no token", "garbage", "unknown key", "for another service", "expired"])
def test_a_forged_rpc_call_is_refused_and_changes_nothing(vhost_uri, keys_dir, client, admin_token,
                                                         admin_principal, product, forgery):
    before = _stock(client, admin_token, product["id"])
    token = _forged_tokens(keys_dir, admin_principal)[forgery]
    reply = rpc_call(vhost_uri, "catalog", "set_stock", {"product_id": product["id"], "on_hand": 0}, token)
    assert reply["result"] is None
    assert reply["error"]["exc_type"] == "NotAuthenticated", reply
    assert _stock(client, admin_token, product["id"]) == before


def _publish_event(amqp_uri, service, event_type, payload, token, event_id):
    headers = {EVENT_ID_HEADER: event_id}
    if token is not None:
        headers[EVENT_TOKEN_HEADER] = token
    with Connection(amqp_uri) as conn:
        Producer(conn.channel()).publish(payload, exchange=f"{service}.events", routing_key=event_type,
                                         headers=headers, serializer="json", delivery_mode=2)


def _refusal(amqp_uri, queue_name, event_id):
    """The refusal reason of the dead-lettered event ``event_id`` (waits for it)."""
    deadline = time.monotonic() + REFUSAL_TIMEOUT
    with Connection(amqp_uri) as conn:
        queue = Queue(dead_letter_queue_name(queue_name))(conn.channel())
        while time.monotonic() < deadline:
            message = queue.get(no_ack=False)
            if message is None:
                time.sleep(0.1)
                continue
            if message.headers.get(EVENT_ID_HEADER) == event_id:
                message.ack()
                return message.headers.get(REFUSED_HEADER)
            message.requeue()
    pytest.fail(f"event {event_id} never reached {dead_letter_queue_name(queue_name)}")


def _handler_queue(event_type, handler):
    return f"evt-payments-{event_type}--orders.{handler}"


@pytest.mark.parametrize("forgery", ["no token", "unknown key", "another service's key"])
def test_forged_payment_events_do_not_pay_for_an_order(platform, client, vhost_uri, keys_dir, customer,
                                                       product, forgery):
    """With the payments service paused, the order waits for its money; forged authorisation and
    capture events for it are refused, and it is confirmed only by the real payment afterwards."""
    _, token = customer
    payments = platform.processes["payments"]
    os.kill(payments.pid, signal.SIGSTOP)
    try:
        placed = place(client, token, order_body(product["id"]))
        assert placed.status_code == 201, placed.text
        order = wait_for(client, token, placed.json()["id"], {"awaiting_payment", "cancelled"})
        assert order["status"] == "awaiting_payment", order
        version = max(e["version"] for e in client.get(f"/api/v1/orders/{order['id']}/events",
                                                       headers=bearer(token)).json())
        fake_payment = str(uuid.uuid4())
        base = {"order_id": order["id"], "order_version": version, "payment_id": fake_payment,
                "amount": order["total"], "currency": order["currency"]}
        for event_type, handler in (("payment_authorised", "on_payment_authorised"),
                                    ("payment_captured", "on_payment_captured")):
            key = {"no token": None, "unknown key": stranger_key(),
                   "another service's key": load_signing_key_from(keys_dir, "service-orders")}[forgery]
            # Bound to this very event, so the key is the only thing wrong with the token.
            event_id = str(uuid.uuid4())
            event_token = None if key is None else sign_event(
                key, service="payments", event_type=event_type, event_id=event_id, payload=base)
            _publish_event(vhost_uri, "payments", event_type, base, event_token, event_id)
            assert _refusal(vhost_uri, _handler_queue(event_type, handler), event_id)
        still = client.get(f"/api/v1/orders/{order['id']}", headers=bearer(token)).json()
        assert still["status"] == "awaiting_payment", still
        assert fake_payment not in json.dumps(client.get(f"/api/v1/orders/{order['id']}/events",
                                                         headers=bearer(token)).json())
    finally:
        os.kill(payments.pid, signal.SIGCONT)
    confirmed = wait_for(client, token, order["id"], {"confirmed", "cancelled"})
    assert confirmed["status"] == "confirmed", confirmed
    [payment] = client.get(f"/api/v1/payments?order_id={order['id']}", headers=bearer(token)).json()["items"]
    assert payment["id"] != fake_payment and payment["status"] == "captured"
