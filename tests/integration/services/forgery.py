"""Messages as someone who reaches RabbitMQ but holds no service key would publish them."""
import json
import time
import uuid

import eventlet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kombu import Connection, Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.standalone.events import get_event_exchange

from nameko_services.common import auth, keys
from nameko_services.common.event_auth import EVENT_TOKEN_HEADER, sign_event
from nameko_services.common.events import REFUSED_HEADER, dead_letter_queue_name
from nameko_services.common.outbox import EVENT_ID_HEADER
from nameko_services.common.rpc import AUTH_HEADER

DAY = 24 * 3600
# variant -> what the receiver's refusal says
EVENT_FORGERIES = {
    "no-token": "no event token",
    "unknown-key": "unknown key",
    "gateway-key": "unknown key",        # a genuine service, but not the one whose exchange it is
    "other-payload": "another event",    # a genuine token lifted onto another payload
    "expired": "expired",                # signed by the right service, 8 days ago
    "rpc-token": "wrong type",           # a genuine RPC service token is not an event token
}


def forged_key():
    return keys.SigningKey("forged", Ed25519PrivateKey.generate())


def event_token(variant, *, service, event_type, event_id, payload):
    """The ``nameko.event_token`` a forger would put on this event, per ``variant``."""
    own = keys.load_signing_key(f"service-{service}")
    claims = {"event_type": event_type, "event_id": event_id}
    if variant == "no-token":
        return None
    if variant == "unknown-key":
        return sign_event(forged_key(), service=service, payload=payload, **claims)
    if variant == "gateway-key":
        gateway = keys.load_signing_key("service-gateway")
        return sign_event(gateway, service=service, payload=payload, **claims)
    if variant == "other-payload":
        return sign_event(own, service=service, payload=dict(payload, order_id=str(uuid.uuid4())), **claims)
    if variant == "expired":
        return sign_event(own, service=service, payload=payload, now=time.time() - 8 * DAY, **claims)
    if variant == "rpc-token":
        return auth.issue_service_token(own, service=service, audience="events")
    raise ValueError(variant)


def publish_event(config, service, event_type, payload, token, event_id=None):
    """Publish straight to ``<service>.events``, with whatever token (or none) is given."""
    exchange = get_event_exchange(service, config)
    headers = {EVENT_ID_HEADER: event_id or str(uuid.uuid4())}
    if token is not None:
        headers[EVENT_TOKEN_HEADER] = token
    Publisher(config["AMQP_URI"], serializer="json", declare=[exchange]).publish(
        payload, exchange=exchange, routing_key=event_type, extra_headers=headers, use_confirms=True)


def dead_letters(config, queue_name):
    """Take every message out of the handler queue's dead-letter queue: ``[(payload, headers)]``."""
    taken = []
    with Connection(config["AMQP_URI"]) as conn:
        queue = Queue(dead_letter_queue_name(queue_name)).bind(conn.channel())
        while (message := queue.get(no_ack=True)) is not None:
            taken.append((json.loads(message.body), message.headers))
    return taken


def refused(config, queue_name, timeout=10):
    """Wait for the dead-lettered event of ``queue_name``; return its payload and refusal reason."""
    with eventlet.Timeout(timeout):
        while not (taken := dead_letters(config, queue_name)):
            eventlet.sleep(0.05)
    [(payload, headers)] = taken
    return payload, headers[REFUSED_HEADER]


def raw_rpc(config, service, method, args, token=None, timeout=10):
    """Send an RPC request with kombu alone (no nameko client); return the decoded reply body."""
    reply_to = f"forger-replies-{uuid.uuid4().hex}"
    correlation_id = uuid.uuid4().hex
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    headers = {} if token is None else {AUTH_HEADER: token}
    with Connection(config["AMQP_URI"]) as conn:
        channel = conn.channel()
        replies = Queue(reply_to, exchange=exchange, routing_key=reply_to, auto_delete=True).bind(channel)
        replies.declare()
        conn.Producer(channel).publish(
            {"args": list(args), "kwargs": {}}, exchange=exchange, routing_key=f"{service}.{method}",
            serializer="json", headers=headers, reply_to=reply_to, correlation_id=correlation_id)
        with eventlet.Timeout(timeout):
            while (message := replies.get(no_ack=True)) is None:
                eventlet.sleep(0.05)
        assert message.properties["correlation_id"] == correlation_id
        return json.loads(message.body)
