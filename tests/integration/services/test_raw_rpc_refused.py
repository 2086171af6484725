"""RPC requests published with kombu alone, past any nameko client, still need a valid service token.

Someone who reaches RabbitMQ publishes to ``nameko-rpc`` with routing key ``catalog.set_stock``
or ``payments.refund_payment`` and no, a garbled, a forged or a misdirected
``nameko.authorization`` header: the reply is ``NotAuthenticated`` and nothing changes.
"""
import uuid

import pytest

from nameko_services.catalog.service import CatalogService
from nameko_services.common import auth, keys
from nameko_services.common.event_auth import sign_event
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import event_publisher
from nameko_services.payments.service import PaymentsService
from tests.integration.services.event_listeners import wait_for
from tests.integration.services.forgery import forged_key, raw_rpc

ADMIN = ("00000000-0000-4000-8000-0000000000ad", ["customer", "admin"])


def admin_token(audience, key=None, **kwargs):
    """A gateway token for an admin, signed with ``key`` (the gateway's own by default)."""
    return auth.issue_service_token(key or keys.load_signing_key("service-gateway"), service="gateway",
                                    audience=audience, principal=auth.Principal(ADMIN[0], tuple(ADMIN[1])),
                                    **kwargs)


def forged_tokens(audience):
    """Every header value a forger might try on a call to ``audience``."""
    return {
        "none": None,
        "garbage": "not.a.jwt",
        "unknown-key": admin_token(audience, key=forged_key()),
        "other-audience": admin_token("users"),
        "expired": admin_token(audience, now=1_000_000),
        "event-token": sign_event(keys.load_signing_key("service-gateway"), service="gateway",
                                  event_type="x", event_id=str(uuid.uuid4()), payload={}),
    }


VARIANTS = list(forged_tokens("catalog"))


def refused_as_unauthenticated(reply):
    return reply["result"] is None and reply["error"]["exc_type"] == "NotAuthenticated"


# --- catalog.set_stock -------------------------------------------------------------------------

@pytest.fixture
def catalog_product(container_factory, core_config, call):
    """A running catalog and a product with 10 on hand; returns (product_id, on-hand getter)."""
    container_factory(CatalogService, core_config).start()
    product = call("catalog", "create_product", {"sku": "MUG-1", "name": "Mug", "price": 999,
                                                 "currency": "EUR", "stock": 10}, as_user=ADMIN)
    return product["id"], lambda: call("catalog", "get_stock", product["id"], as_user=ADMIN)["on_hand"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_raw_set_stock_without_a_valid_token_is_refused_and_changes_nothing(
        variant, catalog_product, core_config):
    product_id, on_hand = catalog_product
    reply = raw_rpc(core_config, "catalog", "set_stock", [product_id, 0],
                    token=forged_tokens("catalog")[variant])
    assert refused_as_unauthenticated(reply), reply
    assert on_hand() == 10


def test_a_raw_set_stock_with_a_genuine_token_sets_it(catalog_product, core_config):
    product_id, on_hand = catalog_product
    reply = raw_rpc(core_config, "catalog", "set_stock", [product_id, 0], token=admin_token("catalog"))
    assert reply["error"] is None
    assert on_hand() == 0


# --- payments.refund_payment -------------------------------------------------------------------

@pytest.fixture
def captured_payment(container_factory, payments_config, call):
    """A running payments service and a captured 25.00 EUR payment; returns (id, status getter)."""
    config = dict(payments_config, EVENT_RETRY_DELAYS=[0.1], PAYMENT_PROVIDER="sandbox")
    container_factory(PaymentsService, config).start()
    publish, order_id = event_publisher(config, "orders"), str(uuid.uuid4())
    publish(OutboxMessage(str(uuid.uuid4()), "payment_requested", {
        "order_id": order_id, "order_version": 1, "user_id": str(uuid.uuid4()), "amount": 2500,
        "currency": "EUR", "payment_token": "tok_visa"}, {}))

    def payment():
        items = call("payments", "list_payments", order_id, as_user=ADMIN)["items"]
        return items[0] if items else None

    wait_for(lambda: payment() is not None and payment()["status"] == "authorised")
    publish(OutboxMessage(str(uuid.uuid4()), "capture_requested",
                          {"order_id": order_id, "order_version": 2, "payment_id": payment()["id"]}, {}))
    wait_for(lambda: payment()["status"] == "captured")
    return payment()["id"], lambda: payment()["status"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_raw_refund_without_a_valid_token_is_refused_and_refunds_nothing(
        variant, captured_payment, payments_config):
    payment_id, status = captured_payment
    reply = raw_rpc(payments_config, "payments", "refund_payment", [payment_id],
                    token=forged_tokens("payments")[variant])
    assert refused_as_unauthenticated(reply), reply
    assert status() == "captured"


def test_a_raw_refund_with_a_genuine_admin_token_refunds(captured_payment, payments_config):
    payment_id, status = captured_payment
    reply = raw_rpc(payments_config, "payments", "refund_payment", [payment_id],
                    token=admin_token("payments"))
    assert reply["error"] is None
    assert status() == "refunded"
