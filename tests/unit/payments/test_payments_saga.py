"""The payments side of the saga and the RPC use cases against an in-memory unit of work."""
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from nameko_services.common.auth import Principal
from nameko_services.common.errors import PaymentNotFound, PaymentProviderError, PermissionDenied
from nameko_services.payments import domain, handlers, saga
from nameko_services.payments.commands import RequestPayment
from nameko_services.payments.processor import carry_out, resume_pending

ORDER, USER = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000c1"
ADMIN = Principal(user_id="00000000-0000-4000-8000-0000000000ad", roles=("customer", "admin"))


def eid():
    return str(uuid.uuid4())


def request(uow, processor, token="tok_visa", version=1, event=None, amount=1000, at_once=False):
    return saga.on_payment_requested(uow, processor, event or eid(),
                                     RequestPayment(ORDER, version, USER, amount, "EUR", token, at_once))


def captured(uow, processor):
    payment = request(uow, processor)
    saga.on_capture_requested(uow, processor, eid(), ORDER, 2, payment.id)
    return uow.payments.load(payment.id)


def test_a_payment_request_authorises_and_announces_it(uow, processor):
    payment = request(uow, processor)
    assert payment.status == domain.AUTHORISED
    assert uow.outbox.rows == [("payment_authorised", {
        "order_id": ORDER, "order_version": 1, "payment_id": payment.id, "amount": 1000, "currency": "EUR"})]
    assert [e.type for e in uow.payments.history(payment.id)] == ["PaymentInitiated", "PaymentAuthorised"]


@pytest.mark.parametrize("token, reason", [("tok_chargeDeclined", "declined"),
                                           ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds"),
                                           ("tok_processingError", "processing_error")])
def test_a_refused_card_fails_the_payment_with_its_reason(uow, processor, token, reason):
    payment = request(uow, processor, token)
    [failed] = uow.outbox.of_type("payment_failed")
    assert (payment.status, failed["reason"], failed["order_version"]) == (domain.FAILED, reason, 1)


def test_a_transient_error_then_success_authorises_with_one_charge(uow, processor, sandbox):
    assert request(uow, processor, "tok_processingErrorOnce").status == domain.AUTHORISED
    assert sandbox.charges == 1


def test_the_same_request_twice_charges_once(uow, processor, sandbox):
    event = eid()
    request(uow, processor, event=event)
    assert request(uow, processor, event=event) is None
    assert request(uow, processor) is None  # another event id, same order version
    assert sandbox.charges == 1 and len(uow.outbox.of_type("payment_authorised")) == 1


def test_a_new_order_version_gets_its_own_payment(uow, processor):
    first, second = request(uow, processor), request(uow, processor, version=3)
    assert first.id != second.id and second.order_version == 3


def test_capture_announces_the_capture_at_the_requested_order_version(uow, processor):
    payment = captured(uow, processor)
    assert payment.status == domain.CAPTURED
    [announced] = uow.outbox.of_type("payment_captured")
    captured_at = datetime.fromisoformat(announced.pop("captured_at"))
    assert announced == {
        "order_id": ORDER, "order_version": 2, "payment_id": payment.id, "amount": 1000, "currency": "EUR"}
    assert abs(datetime.now(UTC) - captured_at) < timedelta(seconds=5)


def test_capturing_a_voided_payment_answers_capture_failed(uow, processor):
    payment = request(uow, processor)
    saga.on_void_requested(uow, processor, eid(), ORDER, payment.id)
    saga.on_capture_requested(uow, processor, eid(), ORDER, 2, payment.id)
    [failed] = uow.outbox.of_type("payment_failed")
    assert failed["reason"] == "capture_failed" and uow.payments.load(payment.id).status == domain.VOIDED
    assert uow.outbox.of_type("payment_voided") == [{"order_id": ORDER, "payment_id": payment.id}]


def test_a_capture_request_for_another_order_is_refused(uow, processor):
    payment = request(uow, processor)
    with pytest.raises(PaymentNotFound):
        saga.on_capture_requested(uow, processor, eid(), str(uuid.uuid4()), 2, payment.id)


def test_cancelling_refunds_a_captured_payment(uow, processor):
    payment = captured(uow, processor)
    assert saga.on_order_cancelled(uow, processor, eid(), ORDER) == 1
    assert uow.payments.load(payment.id).status == domain.REFUNDED
    assert uow.outbox.of_type("payment_refunded") == [{"order_id": ORDER, "payment_id": payment.id,
                                                       "amount": 1000, "currency": "EUR",
                                                       "refunded_total": 1000}]


def test_cancelling_voids_an_authorised_payment(uow, processor):
    payment = request(uow, processor)
    saga.on_order_cancelled(uow, processor, eid(), ORDER)
    assert uow.payments.load(payment.id).status == domain.VOIDED


def test_a_request_after_the_cancellation_is_ignored(uow, processor, sandbox):
    saga.on_order_cancelled(uow, processor, eid(), ORDER)
    assert request(uow, processor) is None
    assert sandbox.charges == 0 and uow.outbox.rows == []


def test_a_failing_compensation_is_announced_and_flagged_then_retried(uow, processor):
    payment = request(uow, processor, "tok_refundFail")
    saga.on_order_cancelled(uow, processor, eid(), ORDER)
    [failed] = uow.outbox.of_type("payment_compensation_failed")
    assert failed == {"order_id": ORDER, "payment_id": payment.id, "action": "void",
                      "reason": "processing_error"}
    assert uow.payments.load(payment.id).needs_attention


def test_a_capture_that_completes_after_the_cancellation_is_refunded(uow, processor):
    payment = request(uow, processor)
    with uow:  # the capture intent is recorded, then the order is cancelled during the call
        fresh = uow.payments.load(payment.id)
        fresh.start_capture(2)
        uow.payments.save(fresh)
        uow.commit()
    assert saga.on_order_cancelled(uow, processor, eid(), ORDER) == 0
    carry_out(uow, processor, uow.payments.load(payment.id))
    assert uow.payments.load(payment.id).status == domain.REFUNDED


def test_a_payment_asked_to_be_captured_at_once_is_authorised_and_captured_in_one_go(uow, processor, sandbox):
    payment = request(uow, processor, at_once=True, version=2)
    assert (payment.status, payment.captured_amount, sandbox.charges) == (domain.CAPTURED, 1000, 1)
    assert [kind for kind, _ in uow.outbox.rows] == ["payment_captured"]  # no payment_authorised
    [announced] = uow.outbox.of_type("payment_captured")
    assert {key: announced[key] for key in ("order_version", "payment_id", "amount")} == {
        "order_version": 2, "payment_id": payment.id, "amount": 1000}
    assert [e.type for e in uow.payments.history(payment.id)] == [
        "PaymentInitiated", "PaymentAuthorised", "CaptureStarted", "PaymentCaptured"]


def test_a_payment_to_capture_at_once_for_an_order_cancelled_during_the_authorisation_is_voided(
        uow, processor):
    """The cancellation found the authorisation in flight: the capture never starts."""
    with uow:
        payment = domain.initiate(eid(), ORDER, 1, USER, 1000, "EUR", "tok_visa", "sandbox", True)
        uow.payments.save(payment)
        uow.commit()
    assert saga.on_order_cancelled(uow, processor, eid(), ORDER) == 0  # busy: undone when it completes
    done = carry_out(uow, processor, uow.payments.load(payment.id))
    assert done.status == domain.VOIDED
    assert [kind for kind, _ in uow.outbox.rows] == ["payment_voided"]


def test_a_refused_card_to_capture_at_once_fails_without_a_capture(uow, processor):
    payment = request(uow, processor, "tok_chargeDeclined", at_once=True)
    assert payment.status == domain.FAILED and uow.outbox.of_type("payment_captured") == []


def test_a_stray_capture_made_at_once_is_refunded_when_orders_asks_for_the_void(uow, processor):
    """The order changed while its old total was captured: orders sends void_requested, the
    captured money goes back; a repeat of that request refunds nothing more."""
    payment = request(uow, processor, at_once=True)
    saga.on_void_requested(uow, processor, eid(), ORDER, payment.id)
    saga.on_void_requested(uow, processor, eid(), ORDER, payment.id)
    assert uow.payments.load(payment.id).status == domain.REFUNDED
    assert [r["refunded_total"] for r in uow.outbox.of_type("payment_refunded")] == [1000]


def test_an_interrupted_authorisation_is_resumed_with_the_same_key(uow, processor, sandbox):
    with uow:  # the process died after recording the intent
        payment = domain.initiate(str(uuid.uuid4()), ORDER, 1, USER, 1000, "EUR", "tok_visa", "sandbox")
        uow.payments.save(payment)
        uow.commit()
    sandbox.authorise(1000, "EUR", "tok_visa", payment.pending.idempotency_key)  # the call got through
    assert resume_pending(uow, processor, payment.updated_at + timedelta(seconds=1)) == 1
    assert uow.payments.load(payment.id).status == domain.AUTHORISED and sandbox.charges == 1


def test_admins_refund_part_then_the_rest(uow, processor):
    payment = captured(uow, processor)
    assert handlers.refund_payment(uow, processor, ADMIN, payment.id, 400).status == domain.PARTIALLY_REFUNDED
    done = handlers.refund_payment(uow, processor, ADMIN, payment.id, None)
    assert (done.status, done.refunded_amount) == (domain.REFUNDED, 1000)
    assert [p["refunded_total"] for p in uow.outbox.of_type("payment_refunded")] == [400, 1000]


def test_customers_may_not_refund(uow, processor):
    payment = captured(uow, processor)
    with pytest.raises(PermissionDenied):
        handlers.refund_payment(uow, processor, Principal(user_id=USER, roles=("customer",)), payment.id, 1)


def test_a_refund_the_processor_refuses_is_reported(uow, processor):
    payment = request(uow, processor, "tok_refundFail")
    saga.on_capture_requested(uow, processor, eid(), ORDER, 2, payment.id)
    with pytest.raises(PaymentProviderError):
        handlers.refund_payment(uow, processor, ADMIN, payment.id, 100)
    assert uow.payments.load(payment.id).status == domain.CAPTURED


def test_customers_see_only_their_own_payments(uow, processor):
    payment = request(uow, processor)
    owner, stranger = Principal(user_id=USER), Principal(user_id=str(uuid.uuid4()))
    assert handlers.get_payment(uow, owner, payment.id).id == payment.id
    with pytest.raises(PaymentNotFound):
        handlers.get_payment(uow, stranger, payment.id)
    assert handlers.list_payments(uow, stranger, handlers.PaymentQuery()).total == 0
    assert handlers.list_payments(uow, ADMIN, handlers.PaymentQuery(order_id=ORDER)).total == 1


def test_the_history_hides_the_card_token(uow, processor):
    payment = request(uow, processor)
    history = handlers.get_payment_events(uow, ADMIN, payment.id)
    assert [e["version"] for e in history] == [1, 2]
    assert "payment_token" not in history[0]["data"]
