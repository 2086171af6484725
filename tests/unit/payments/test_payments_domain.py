"""The payment aggregate's rules, without storage or processor."""
import pytest

from nameko_services.common.errors import InvalidInput, PaymentNotRefundable, RefundExceedsBalance
from nameko_services.payments import domain
from nameko_services.payments.domain import Payment

PID = "00000000-0000-4000-8000-0000000000aa"


def authorised(amount=1000):
    payment = domain.initiate(PID, "o", 1, "u", amount, "EUR", "tok_visa", "sandbox")
    payment.succeed("ref")
    return payment


def captured(amount=1000):
    payment = authorised(amount)
    payment.start_capture(2)
    payment.succeed()
    return payment


def test_a_new_payment_is_pending_with_an_authorisation_intent():
    payment = domain.initiate(PID, "o", 1, "u", 1000, "EUR", "tok_visa", "sandbox")
    assert payment.status == domain.PENDING
    assert payment.pending == domain.Pending(domain.AUTHORISE, 1000, f"{PID}:authorise:1", 1)


def test_a_payment_of_nothing_is_refused():
    with pytest.raises(InvalidInput):
        domain.initiate(PID, "o", 1, "u", 0, "EUR", "tok_visa", "sandbox")


def test_a_declined_authorisation_fails_the_payment():
    payment = domain.initiate(PID, "o", 1, "u", 1000, "EUR", "tok_chargeDeclined", "sandbox")
    payment.fail("declined", "no")
    assert (payment.status, payment.failure_reason, payment.pending) == (domain.FAILED, "declined", None)


def test_capture_takes_the_authorised_amount():
    payment = captured()
    assert (payment.status, payment.captured_amount, payment.refundable) == (domain.CAPTURED, 1000, 1000)


def test_no_capture_after_a_void():
    payment = authorised()
    assert payment.start_void()
    payment.succeed()
    assert payment.status == domain.VOIDED
    assert payment.start_capture(2) is False


def test_no_second_action_while_one_is_in_flight():
    payment = authorised()
    assert payment.start_capture(2)
    assert payment.start_void() is False
    assert payment.start_capture(2) is False


def test_a_failed_capture_leaves_the_authorisation_to_be_voided():
    payment = authorised()
    payment.start_capture(2)
    payment.fail("capture_failed", "expired")
    assert payment.status == domain.AUTHORISED and payment.start_void()


def test_partial_refunds_add_up_to_a_full_refund():
    payment = captured()
    payment.start_refund(300)
    payment.succeed("re_1")
    assert (payment.status, payment.refunded_amount, payment.refundable) == (
        domain.PARTIALLY_REFUNDED, 300, 700)
    payment.start_refund()
    payment.succeed("re_2")
    assert (payment.status, payment.refunded_amount) == (domain.REFUNDED, 1000)


def test_refunds_never_exceed_what_was_captured():
    payment = captured()
    with pytest.raises(RefundExceedsBalance):
        payment.start_refund(1001)
    payment.start_refund(600)
    payment.succeed("re_1")
    with pytest.raises(RefundExceedsBalance):
        payment.start_refund(401)


def test_only_captured_payments_are_refunded():
    with pytest.raises(PaymentNotRefundable):
        authorised().start_refund(1)
    refunded = captured()
    refunded.start_refund()
    refunded.succeed("re")
    with pytest.raises(PaymentNotRefundable):
        refunded.start_refund(1)


def test_each_intent_has_its_own_idempotency_key():
    payment = captured()
    payment.start_refund(100)
    first = payment.pending.idempotency_key
    payment.succeed("re")
    payment.start_refund(100)
    assert first != payment.pending.idempotency_key


def test_a_failed_compensation_flags_the_payment_until_a_retry_succeeds():
    payment = authorised()
    payment.start_undo()
    payment.fail("processing_error", "down")
    assert payment.needs_attention and payment.status == domain.AUTHORISED
    payment.start_undo()
    payment.succeed()
    assert (payment.status, payment.needs_attention) == (domain.VOIDED, False)


def test_undo_refunds_a_captured_payment_and_voids_an_authorised_one():
    refunding = captured()
    refunding.start_undo()
    assert refunding.pending.action == domain.REFUND and refunding.pending.amount == 1000
    voiding = authorised()
    voiding.start_undo()
    assert voiding.pending.action == domain.VOID


def test_the_state_folds_back_from_the_events():
    payment = captured()
    payment.start_refund(250)
    payment.succeed("re")
    history = [(change.type, change.data, version, None)
               for version, change in enumerate(payment.pending_events, 1)]
    again = Payment.from_history(PID, history)
    assert (again.status, again.refunded_amount, again.captured_amount, again.version) == (
        domain.PARTIALLY_REFUNDED, 250, 1000, len(history))


def test_the_public_history_hides_the_card_token():
    assert "payment_token" not in domain.public_data({"payment_token": "tok_visa", "amount": 1})
