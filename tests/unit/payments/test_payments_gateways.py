"""The sandbox processor, the retry helper and the registry of configured providers."""
import pytest

from nameko_services.payments.gateways import (
    GatewayError,
    PaymentDeclined,
    ProviderNotConfigured,
    SandboxGateway,
    TransientGatewayError,
    adapters_from_config,
    with_retries,
)


def test_retries_stop_at_the_first_success_and_wait_the_given_delays():
    waits, answers = [], iter([TransientGatewayError("x"), TransientGatewayError("x"), "ok"])

    def call():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert with_retries(call, [0.1, 0.2, 0.4], sleep=waits.append) == "ok"
    assert waits == [0.1, 0.2]


def test_retries_give_up_with_the_last_transient_error():
    calls = []

    def call():
        calls.append(1)
        raise TransientGatewayError("down")

    with pytest.raises(TransientGatewayError):
        with_retries(call, [0, 0], sleep=lambda _: None)
    assert len(calls) == 3


def test_permanent_errors_are_not_retried():
    calls = []

    def call():
        calls.append(1)
        raise PaymentDeclined("declined")

    with pytest.raises(PaymentDeclined):
        with_retries(call, [0, 0], sleep=lambda _: None)
    assert len(calls) == 1


def test_the_sandbox_authorises_tok_visa_and_captures_and_refunds_it():
    sandbox = SandboxGateway()
    auth = sandbox.authorise(1000, "EUR", "tok_visa", "k1")
    sandbox.capture(auth.reference, 1000, "k2")
    assert sandbox.refund(auth.reference, 400, "k3").startswith("sbx_re_")
    with pytest.raises(GatewayError):
        sandbox.refund(auth.reference, 601, "k4")


@pytest.mark.parametrize("token, reason", [("tok_chargeDeclined", "declined"),
                                           ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds")])
def test_the_sandbox_declines_its_decline_tokens(token, reason):
    with pytest.raises(PaymentDeclined) as declined:
        SandboxGateway().authorise(1000, "EUR", token, "k")
    assert declined.value.reason == reason


def test_the_same_idempotency_key_never_charges_twice():
    sandbox = SandboxGateway()
    first = sandbox.authorise(1000, "EUR", "tok_visa", "same")
    assert sandbox.authorise(1000, "EUR", "tok_visa", "same") == first
    assert sandbox.charges == 1


def test_tok_processing_error_fails_transiently_every_time():
    sandbox = SandboxGateway()
    for _ in range(3):
        with pytest.raises(TransientGatewayError):
            sandbox.authorise(1000, "EUR", "tok_processingError", "k")
    assert sandbox.charges == 0


def test_tok_processing_error_once_succeeds_on_the_retry_with_the_same_key():
    sandbox = SandboxGateway()
    auth = with_retries(lambda: sandbox.authorise(1000, "EUR", "tok_processingErrorOnce", "k"), [0],
                        sleep=lambda _: None)
    assert auth.reference.startswith("sbx_pi_") and sandbox.charges == 1


def test_the_sandbox_refuses_to_capture_a_voided_authorisation():
    sandbox = SandboxGateway()
    auth = sandbox.authorise(1000, "EUR", "tok_visa", "k1")
    sandbox.void(auth.reference, "k2")
    with pytest.raises(GatewayError) as refused:
        sandbox.capture(auth.reference, 1000, "k3")
    assert refused.value.code == "payment_intent_unexpected_state"


def test_tok_refund_fail_cannot_be_voided_or_refunded():
    sandbox = SandboxGateway()
    auth = sandbox.authorise(1000, "EUR", "tok_refundFail", "k1")
    with pytest.raises(GatewayError):
        sandbox.void(auth.reference, "k2")


def test_the_sandbox_alone_is_configured_by_default_and_takes_new_payments():
    adapters = adapters_from_config({})
    assert (adapters.for_new_payments, set(adapters.by_provider)) == ("sandbox", {"sandbox"})


def test_stripe_is_configured_by_its_api_key_and_the_sandbox_stays_for_its_old_payments():
    adapters = adapters_from_config({"PAYMENT_PROVIDER": "stripe", "STRIPE_API_KEY": "sk"})
    assert adapters.for_new_payments == "stripe" and set(adapters.by_provider) == {"sandbox", "stripe"}
    assert adapters.of_provider("sandbox").name == "sandbox"
    back = adapters_from_config({"PAYMENT_PROVIDER": "sandbox", "STRIPE_API_KEY": "sk"})
    assert back.for_new_payments == "sandbox" and back.of_provider("stripe").name == "stripe"


def test_a_provider_without_its_settings_is_not_configured():
    adapters = adapters_from_config({"STRIPE_API_BASE": "https://api.stripe.com", "STRIPE_API_KEY": ""})
    with pytest.raises(ProviderNotConfigured) as missing:
        adapters.of_provider("stripe")
    assert (missing.value.code, missing.value.provider) == ("provider_not_configured", "stripe")
    assert "'stripe'" in missing.value.message


@pytest.mark.parametrize("config, named", [({"PAYMENT_PROVIDER": "paypal"}, "paypal"),
                                           ({"PAYMENT_PROVIDER": "stripe"}, "STRIPE_API_KEY")])
def test_new_payments_need_a_known_and_configured_provider(config, named):
    with pytest.raises(ValueError, match=named):
        adapters_from_config(config)
