"""The Stripe-style adapter against a local fake server that checks every request."""
import socket

import pytest

from nameko_services.payments.gateways import (
    ActionStillRequired,
    Authorisation,
    GatewayError,
    PaymentDeclined,
    StripeGateway,
    TransientGatewayError,
    with_retries,
)
from tests.unit.payments.fake_stripe import API_KEY


@pytest.fixture
def stripe(stripe_server):
    return StripeGateway(API_KEY, stripe_server.base_url, timeout=2)


def requests_to(server, path):
    return [r for r in server.requests if r[1] == path]


def test_authorise_creates_a_confirmed_manual_capture_payment_intent(stripe, stripe_server):
    auth = stripe.authorise(1250, "EUR", "tok_visa", "pay-1:authorise:1")
    assert auth.reference.startswith("pi_")
    [(method, _, form, headers)] = requests_to(stripe_server, "/v1/payment_intents")
    assert method == "POST"
    assert form == {"amount": "1250", "currency": "eur", "payment_method": "tok_visa", "confirm": "true",
                    "capture_method": "manual"}
    assert headers["Idempotency-Key"] == "pay-1:authorise:1"


def test_capture_void_and_refund_use_their_endpoints(stripe, stripe_server):
    first = stripe.authorise(1000, "EUR", "tok_visa", "a1")
    stripe.capture(first.reference, 1000, "c1")
    refund = stripe.refund(first.reference, 300, "r1")
    second = stripe.authorise(500, "USD", "tok_visa", "a2")
    stripe.void(second.reference, "v1")
    assert refund.startswith("re_")
    assert [(r[1], r[2]) for r in stripe_server.requests[1:]] == [
        (f"/v1/payment_intents/{first.reference}/capture", {"amount_to_capture": "1000"}),
        ("/v1/refunds", {"payment_intent": first.reference, "amount": "300"}),
        ("/v1/payment_intents", {"amount": "500", "currency": "usd", "payment_method": "tok_visa",
                                 "confirm": "true", "capture_method": "manual"}),
        (f"/v1/payment_intents/{second.reference}/cancel", {}),
    ]
    assert stripe_server.intents[second.reference]["status"] == "canceled"


def test_a_declined_card_is_a_payment_declined(stripe):
    with pytest.raises(PaymentDeclined) as declined:
        stripe.authorise(1000, "EUR", "tok_chargeDeclined", "k")
    assert declined.value.reason == "declined"


def test_insufficient_funds_is_its_own_decline_reason(stripe):
    with pytest.raises(PaymentDeclined) as declined:
        stripe.authorise(1000, "EUR", "tok_chargeDeclinedInsufficientFunds", "k")
    assert declined.value.reason == "insufficient_funds"


def test_a_server_error_then_success_is_retried_with_the_same_idempotency_key(stripe, stripe_server):
    stripe_server.script = [(500, {"error": {"type": "api_error", "message": "boom"}})]
    auth = with_retries(lambda: stripe.authorise(1000, "EUR", "tok_visa", "pay-9:authorise:1"), [0, 0],
                        sleep=lambda _: None)
    tries = requests_to(stripe_server, "/v1/payment_intents")
    assert len(tries) == 2 and auth.reference in stripe_server.intents
    assert {headers["Idempotency-Key"] for *_, headers in tries} == {"pay-9:authorise:1"}
    assert tries[0][2] == tries[1][2]


def test_a_repeated_idempotency_key_gets_the_first_answer_and_no_second_intent(stripe, stripe_server):
    first = stripe.authorise(1000, "EUR", "tok_visa", "same")
    assert stripe.authorise(1000, "EUR", "tok_visa", "same") == first
    assert len(stripe_server.intents) == 1


@pytest.mark.parametrize("status", [429, 502, 503])
def test_rate_limits_and_server_errors_are_transient(stripe, stripe_server, status):
    stripe_server.script = [(status, {"error": {"type": "api_error"}})]
    with pytest.raises(TransientGatewayError):
        stripe.authorise(1000, "EUR", "tok_visa", "k")


@pytest.mark.parametrize("status, error", [
    (400, {"type": "invalid_request_error", "code": "parameter_invalid_integer"}),
    (401, {"type": "authentication_error", "message": "Invalid API Key"}),
    (404, {"type": "invalid_request_error", "code": "resource_missing"})])
def test_client_errors_are_permanent_and_not_retried(stripe, stripe_server, status, error):
    stripe_server.script = [(status, {"error": error})]
    with pytest.raises(GatewayError) as refused:
        with_retries(lambda: stripe.capture("pi_x", 1000, "k"), [0, 0], sleep=lambda _: None)
    assert not isinstance(refused.value, TransientGatewayError)
    assert len(stripe_server.requests) == 1


def test_capturing_an_unknown_intent_is_a_permanent_error(stripe):
    with pytest.raises(GatewayError) as refused:
        stripe.capture("pi_missing", 1000, "k")
    assert refused.value.code == "resource_missing"


def test_a_card_processing_error_is_transient(stripe, stripe_server):
    stripe_server.script = [(402, {"error": {"type": "card_error", "code": "processing_error"}})]
    with pytest.raises(TransientGatewayError):
        stripe.authorise(1000, "EUR", "tok_visa", "k")


def test_an_unreachable_server_is_transient():
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientGatewayError):
        StripeGateway(API_KEY, f"http://127.0.0.1:{port}", timeout=1).authorise(1, "EUR", "tok_visa", "k")


def test_a_server_that_does_not_answer_in_time_is_transient():
    with socket.socket() as listener:  # accepts, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        base = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(TransientGatewayError):
            StripeGateway(API_KEY, base, timeout=0.3).void("pi_x", "k")


def test_the_adapter_refuses_to_run_without_an_api_key():
    with pytest.raises(GatewayError):
        StripeGateway("")


def test_a_card_that_needs_3d_secure_is_an_authorisation_with_the_customer_s_redirect(stripe, stripe_server):
    auth = stripe.authorise(1250, "EUR", "tok_threeDSecure2Required", "pay-3ds:authorise:1")
    assert auth.reference.startswith("pi_")
    assert auth.action == {"type": "redirect",
                           "url": f"https://hooks.stripe.test/3d_secure_2/{auth.reference}"}


def test_the_return_url_is_sent_when_configured(stripe_server):
    gateway = StripeGateway(API_KEY, stripe_server.base_url, timeout=2,
                            return_url="https://shop.example/payments/return")
    gateway.authorise(1250, "EUR", "tok_threeDSecure2Required", "pay-3ds:authorise:2")
    [(_, _, form, _)] = requests_to(stripe_server, "/v1/payment_intents")
    assert form["return_url"] == "https://shop.example/payments/return"


def test_confirm_reads_the_intent_after_the_challenge_passed_or_failed(stripe, stripe_server):
    waiting = stripe.authorise(1250, "EUR", "tok_threeDSecure2Required", "pay-3ds:authorise:3")
    with pytest.raises(ActionStillRequired):
        stripe.confirm(waiting.reference)
    stripe_server.authenticate(waiting.reference, passed=True)
    assert stripe.confirm(waiting.reference) == Authorisation(waiting.reference)
    failing = stripe.authorise(1250, "EUR", "tok_threeDSecure2Required", "pay-3ds:authorise:4")
    stripe_server.authenticate(failing.reference, passed=False)
    with pytest.raises(PaymentDeclined) as declined:
        stripe.confirm(failing.reference)
    assert declined.value.reason == "authentication_failed"
    [(method, _, _, headers)] = requests_to(stripe_server, f"/v1/payment_intents/{waiting.reference}")[:1]
    assert method == "GET" and "Idempotency-Key" not in headers


def test_an_intent_waiting_for_the_customer_can_be_cancelled(stripe, stripe_server):
    waiting = stripe.authorise(1250, "EUR", "tok_threeDSecure2Required", "pay-3ds:authorise:5")
    stripe.void(waiting.reference, "pay-3ds:void:6")
    assert stripe_server.intents[waiting.reference]["status"] == "canceled"


def _redirect(url):
    return {"type": "redirect_to_url", "redirect_to_url": {"url": url}}


@pytest.mark.parametrize("next_action", [None, {"type": "use_stripe_sdk", "use_stripe_sdk": {}},
                                         _redirect("javascript:x"), _redirect("http://x.test/")])
def test_a_next_action_without_a_safe_redirect_is_refused_not_followed(stripe, stripe_server, next_action):
    intent = {"id": "pi_scripted123", "object": "payment_intent", "status": "requires_action",
              "next_action": next_action}
    stripe_server.script.append((200, intent))
    with pytest.raises(GatewayError) as refused:
        stripe.authorise(1250, "EUR", "tok_visa", "pay-3ds:authorise:7")
    assert refused.value.code == "unsupported_next_action"
    assert not isinstance(refused.value, PaymentDeclined)
