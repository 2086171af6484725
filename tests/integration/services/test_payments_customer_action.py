"""The payments service over RabbitMQ and PostgreSQL with a card that needs the customer
(3-D Secure): payment_action_required, then the sandbox's challenge answered over RPC (as the
gateway's page does) → payment_authorised or payment_failed; an order cancelled first voids it."""
import uuid

import eventlet
import pytest

from nameko_services.common.errors import PaymentNotAwaitingAction, PaymentNotFound
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import event_publisher
from nameko_services.payments.service import PaymentsService
from tests.integration.services.event_listeners import recording_listener

THREE_DS = "tok_threeDSecure2Required"
EVENTS = ("payment_action_required", "payment_authorised", "payment_failed", "payment_voided")


CustomerActionEvents = recording_listener("payments_action_listener", "payments", EVENTS)


@pytest.fixture
def config(payments_config):
    return dict(payments_config, EVENT_RETRY_DELAYS=[0.1, 0.2], PAYMENT_RETRY_DELAYS=[0.05, 0.05],
                PAYMENT_PROVIDER="sandbox")


@pytest.fixture
def service(container_factory, config):
    CustomerActionEvents.received = []
    container_factory(CustomerActionEvents, config).start()
    container = container_factory(PaymentsService, config)
    container.start()
    return container


@pytest.fixture
def dispatch(config):
    publish = event_publisher(config, "orders")

    def _dispatch(event_type, payload):
        publish(OutboxMessage(str(uuid.uuid4()), event_type, payload, {}))

    return _dispatch


def answered(event_type, order_id, timeout=15):
    def found():
        return [p for t, p in CustomerActionEvents.received if t == event_type and p["order_id"] == order_id]
    with eventlet.Timeout(timeout):
        while not found():
            eventlet.sleep(0.05)
    return found()


def challenged(dispatch, user):
    order = str(uuid.uuid4())
    dispatch("payment_requested", {"order_id": order, "order_version": 1, "user_id": user, "amount": 2500,
                                   "currency": "EUR", "payment_token": THREE_DS})
    [required] = answered("payment_action_required", order)
    return order, required


def test_a_3d_secure_card_asks_for_the_customer_and_passing_authorises_it(service, dispatch, call):
    user = str(uuid.uuid4())
    order, required = challenged(dispatch, user)
    url = required["next_action"]["url"]
    assert required["next_action"]["type"] == "redirect" and url.startswith("/sandbox/3ds/sbx_pi_")
    reference = url.rsplit("/", 1)[1]
    shown = call("payments", "get_sandbox_challenge", reference)
    assert (shown["amount"], shown["currency"], shown["status"]) == (2500, "EUR", "requires_action")
    payment = call("payments", "get_payment", required["payment_id"], as_user=(user, ["customer"]))
    assert (payment["status"], payment["next_action"]) == ("requires_action", required["next_action"])

    done = call("payments", "answer_sandbox_challenge", reference, True)
    assert done["status"] == "authorised"
    [authorised] = answered("payment_authorised", order)
    assert (authorised["payment_id"], authorised["order_version"]) == (required["payment_id"], 1)
    with pytest.raises(PaymentNotAwaitingAction):
        call("payments", "answer_sandbox_challenge", reference, False)


def test_failing_the_challenge_answers_payment_failed_authentication_failed(service, dispatch, call):
    order, required = challenged(dispatch, str(uuid.uuid4()))
    reference = required["next_action"]["url"].rsplit("/", 1)[1]
    assert call("payments", "answer_sandbox_challenge", reference, False)["status"] == "failed"
    [failed] = answered("payment_failed", order)
    assert (failed["reason"], failed["payment_id"]) == ("authentication_failed", required["payment_id"])


def test_an_order_cancelled_while_the_customer_waits_voids_the_payment(service, dispatch, call):
    order, required = challenged(dispatch, str(uuid.uuid4()))
    dispatch("order_cancelled", {"order_id": order, "order_version": 2})
    [voided] = answered("payment_voided", order)
    assert voided["payment_id"] == required["payment_id"]
    reference = required["next_action"]["url"].rsplit("/", 1)[1]
    with pytest.raises(PaymentNotAwaitingAction):
        call("payments", "answer_sandbox_challenge", reference, True)


def test_a_reference_that_is_not_the_sandbox_s_does_not_exist(service, call):
    for reference in ("sbx_pi_" + "0" * 32, "../etc", "pi_123"):
        with pytest.raises(PaymentNotFound):
            call("payments", "get_sandbox_challenge", reference)
