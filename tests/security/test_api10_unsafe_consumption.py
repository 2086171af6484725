"""OWASP API10:2023 Unsafe Consumption of APIs: the payment provider's answers are not trusted.

The Stripe adapter is pointed at a local server that answers with broken, hostile or
surprising bodies. Each must end as a ``GatewayError`` (so the processor fails the payment
cleanly, with a reason), never as a crash of the handler nor as a value used unchecked, such
as a payment intent id that would steer later requests to another path.
"""
import json

import pytest

from nameko_services.payments import domain
from nameko_services.payments.domain import Pending
from nameko_services.payments.gateways import Adapters, GatewayError, StripeGateway
from nameko_services.payments.processor import Processor, call
from tests.local_http import LocalHttpServer

API_KEY = "sk_test_security"
INTENT = {"object": "payment_intent", "status": "requires_capture", "amount": 1000, "currency": "eur"}


class ScriptedProvider:
    """Answers every POST with the next (status, raw body) of its script."""

    def __init__(self):
        self.script = []
        self.paths = []
        self.http = LocalHttpServer(self.respond)
        self.base_url = self.http.base_url

    def respond(self, method, path, headers, body):
        self.paths.append(path)
        return self.script.pop(0) if self.script else (500, b"{}")

    def answer(self, status, body):
        self.script.append((status, body if isinstance(body, bytes) else json.dumps(body).encode()))

    def close(self):
        self.http.close()


@pytest.fixture
def provider():
    server = ScriptedProvider()
    yield server
    server.close()


@pytest.fixture
def stripe(provider):
    return StripeGateway(API_KEY, provider.base_url, timeout=2)


MALFORMED_INTENTS = {
    "html": b"<html>502 Bad Gateway</html>",
    "empty": b"",
    "json array": [1, 2],
    "json number": 42,
    "json string": "requires_capture",
    "json null": None,
    "no id": INTENT,
    "null id": {**INTENT, "id": None},
    "numeric id": {**INTENT, "id": 12345},
    "object id": {**INTENT, "id": {"$gt": ""}},
    "path in id": {**INTENT, "id": "pi_1/../../v1/refunds"},
    "query in id": {**INTENT, "id": "pi_1?amount=999999"},
    "empty id": {**INTENT, "id": ""},
    "huge id": {**INTENT, "id": "pi_" + "a" * 10_000},
    "unknown status": {**INTENT, "id": "pi_123", "status": "succeeded_maybe"},
    "status not a string": {**INTENT, "id": "pi_123", "status": ["requires_capture"]},
}


@pytest.mark.parametrize("body", MALFORMED_INTENTS.values(), ids=MALFORMED_INTENTS.keys())
def test_a_malformed_authorisation_answer_is_a_gateway_error(stripe, provider, body):
    provider.answer(200, body)
    with pytest.raises(GatewayError):
        stripe.authorise(1000, "EUR", "pm_card_visa", "pay-1:authorise:1")


MALFORMED_REFUNDS = {"no id": {"object": "refund"}, "null id": {"id": None}, "list": [],
                     "path in id": {"id": "re_1/../../v1/payment_intents"}}


@pytest.mark.parametrize("body", MALFORMED_REFUNDS.values(), ids=MALFORMED_REFUNDS.keys())
def test_a_malformed_refund_answer_is_a_gateway_error(stripe, provider, body):
    provider.answer(200, body)
    with pytest.raises(GatewayError):
        stripe.refund("pi_123", 500, "pay-1:refund:1")


MALFORMED_ERRORS = {"error is a list": [1], "error is a string": {"error": "nope"},
                    "error fields of the wrong type": {"error": {"type": 1, "code": ["x"], "message": {}}},
                    "html": b"<html>oops</html>"}


@pytest.mark.parametrize("body", MALFORMED_ERRORS.values(), ids=MALFORMED_ERRORS.keys())
@pytest.mark.parametrize("status", [400, 402, 500])
def test_a_malformed_error_answer_is_a_gateway_error(stripe, provider, body, status):
    provider.answer(status, body)
    with pytest.raises(GatewayError):
        stripe.capture("pi_123", 500, "pay-1:capture:1")


def test_a_valid_answer_still_works(stripe, provider):
    # The control: the checks above refuse what is broken, not everything.
    provider.answer(200, {**INTENT, "id": "pi_3MtwBwLkdIwHu7ix28a3tqPa"})
    assert stripe.authorise(1000, "EUR", "pm_card_visa", "k").reference == "pi_3MtwBwLkdIwHu7ix28a3tqPa"
    provider.answer(200, {"id": "re_1Nispe2eZvKYlo2Cd31jOCgZ", "object": "refund"})
    assert stripe.refund("pi_3MtwBwLkdIwHu7ix28a3tqPa", 10, "r") == "re_1Nispe2eZvKYlo2Cd31jOCgZ"


@pytest.mark.parametrize("body", [MALFORMED_INTENTS["json number"], MALFORMED_INTENTS["no id"],
                                  MALFORMED_INTENTS["path in id"]], ids=["number", "no id", "path in id"])
def test_the_processor_fails_the_payment_cleanly_on_a_malformed_answer(stripe, provider, body):
    processor = Processor(Adapters.of(stripe), retry_delays=(0.0,), sleep=lambda _: None)
    for _ in range(3):
        provider.answer(200, body)
    payment = domain.Payment("pay-1", order_id="order-1", order_version=1, user_id="user-1", amount=1000,
                             currency="EUR", provider="stripe", payment_token="pm_card_visa")
    outcome = call(processor, payment, Pending(domain.AUTHORISE, 1000, "pay-1:authorise:1", 1))
    assert outcome.reference is None and outcome.failure is not None
    assert outcome.failure[0] == domain.PROCESSING_ERROR
