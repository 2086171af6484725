"""Cards that need the customer (3-D Secure): the sandbox's challenge, the payment waiting in
``requires_action``, then authorised, failed, or voided when the order is cancelled first."""
import uuid

import pytest

from nameko_services.common.auth import Principal
from nameko_services.common.errors import PaymentNotAwaitingAction, PaymentNotFound
from nameko_services.payments import domain, handlers, saga
from nameko_services.payments.commands import RequestPayment
from nameko_services.payments.gateways import ActionStillRequired, PaymentDeclined

ORDER, USER = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-0000000000c1"
THREE_DS = "tok_threeDSecure2Required"
OWNER = Principal(user_id=USER, roles=("customer",))


def request(uow, processor, token=THREE_DS, version=1, at_once=False):
    return saga.on_payment_requested(uow, processor, str(uuid.uuid4()),
                                     RequestPayment(ORDER, version, USER, 2500, "EUR", token, at_once))


def test_the_sandbox_answers_a_3d_secure_card_with_its_challenge_page(sandbox):
    auth = sandbox.authorise(2500, "EUR", THREE_DS, "k-1")
    assert auth.action == {"type": "redirect", "url": f"/sandbox/3ds/{auth.reference}"}
    with pytest.raises(ActionStillRequired):
        sandbox.confirm(auth.reference)
    assert sandbox.authorise(2500, "EUR", THREE_DS, "k-1") == auth  # the same key, the same answer
    assert sandbox.authorise(2500, "EUR", "tok_visa", "k-2").action is None


@pytest.mark.parametrize(("passed", "status"), [(True, "requires_capture"), (False, "challenge_failed")])
def test_the_customer_s_answer_is_kept_once_by_the_sandbox(sandbox, passed, status):
    auth = sandbox.authorise(2500, "EUR", THREE_DS, "k-1")
    sandbox.answer_challenge(auth.reference, passed)
    assert sandbox.challenge(auth.reference).status == status
    if passed:
        assert sandbox.confirm(auth.reference).reference == auth.reference
    else:
        with pytest.raises(PaymentDeclined) as declined:
            sandbox.confirm(auth.reference)
        assert declined.value.reason == "authentication_failed"
    with pytest.raises(Exception, match="payment_intent_unexpected_state"):
        sandbox.answer_challenge(auth.reference, not passed)


def test_a_payment_whose_card_needs_the_customer_waits_and_says_where(uow, processor):
    payment = request(uow, processor)
    assert payment.status == domain.REQUIRES_ACTION and payment.pending is None
    url = f"/sandbox/3ds/{payment.provider_reference}"
    assert payment.next_action == {"type": "redirect", "url": url}
    assert uow.outbox.rows == [("payment_action_required", {
        "order_id": ORDER, "order_version": 1, "payment_id": payment.id,
        "next_action": {"type": "redirect", "url": url}})]
    assert [e.type for e in uow.payments.history(payment.id)] == ["PaymentInitiated", "PaymentActionRequired"]


def test_passing_the_challenge_authorises_the_payment_and_tells_orders(uow, processor):
    payment = request(uow, processor)
    done = handlers.answer_sandbox_challenge(uow, processor, payment.provider_reference, True)
    assert (done.status, done.next_action) == (domain.AUTHORISED, None)
    assert uow.outbox.of_type("payment_authorised") == [{
        "order_id": ORDER, "order_version": 1, "payment_id": payment.id, "amount": 2500, "currency": "EUR"}]
    assert uow.payments.load(payment.id).status == domain.AUTHORISED


def test_passing_the_challenge_of_a_payment_to_capture_at_once_captures_it(uow, processor):
    payment = request(uow, processor, at_once=True)
    assert [kind for kind, _ in uow.outbox.rows] == ["payment_action_required"]
    done = handlers.answer_sandbox_challenge(uow, processor, payment.provider_reference, True)
    assert done.status == domain.CAPTURED
    assert [kind for kind, _ in uow.outbox.rows] == ["payment_action_required", "payment_captured"]


def test_failing_the_challenge_fails_the_payment_with_authentication_failed(uow, processor):
    payment = request(uow, processor)
    done = handlers.answer_sandbox_challenge(uow, processor, payment.provider_reference, False)
    assert done.status == domain.FAILED
    [failed] = uow.outbox.of_type("payment_failed")
    assert (failed["reason"], failed["order_version"]) == ("authentication_failed", 1)


def test_a_challenge_is_answered_once(uow, processor):
    payment = request(uow, processor)
    handlers.answer_sandbox_challenge(uow, processor, payment.provider_reference, True)
    with pytest.raises(PaymentNotAwaitingAction):
        handlers.answer_sandbox_challenge(uow, processor, payment.provider_reference, False)
    assert uow.payments.load(payment.id).status == domain.AUTHORISED


def test_an_order_cancelled_while_the_customer_waits_voids_the_payment(uow, processor, sandbox):
    payment = request(uow, processor)
    assert saga.on_order_cancelled(uow, processor, str(uuid.uuid4()), ORDER) == 1
    assert uow.payments.load(payment.id).status == domain.VOIDED
    assert uow.outbox.of_type("payment_voided") == [{"order_id": ORDER, "payment_id": payment.id}]
    assert sandbox.challenge(payment.provider_reference).status == "canceled"
    with pytest.raises(PaymentNotAwaitingAction):  # the page is too late now
        handlers.answer_sandbox_challenge(uow, processor, payment.provider_reference, True)


def test_confirming_before_the_customer_answered_changes_nothing(uow, processor):
    payment = request(uow, processor)
    again = handlers.confirm_payment_action(uow, processor, OWNER, payment.id)
    assert again.status == domain.REQUIRES_ACTION
    assert [kind for kind, _ in uow.outbox.rows] == ["payment_action_required"]


def test_another_customer_cannot_confirm_and_unknown_references_do_not_exist(uow, processor):
    payment = request(uow, processor)
    stranger = Principal(user_id="00000000-0000-4000-8000-0000000000c2", roles=("customer",))
    with pytest.raises(PaymentNotFound):
        handlers.confirm_payment_action(uow, processor, stranger, payment.id)
    with pytest.raises(PaymentNotFound):
        handlers.sandbox_challenge(uow, processor, "sbx_pi_" + "0" * 32)


def test_a_card_that_needs_no_challenge_is_not_awaiting_one(uow, processor):
    payment = request(uow, processor, token="tok_visa")
    with pytest.raises(PaymentNotFound):  # it has a reference, but no challenge is waiting
        handlers.answer_sandbox_challenge(uow, processor, "sbx_pi_" + "f" * 32, True)
    with pytest.raises(PaymentNotAwaitingAction):
        handlers.answer_sandbox_challenge(uow, processor, payment.provider_reference, True)
