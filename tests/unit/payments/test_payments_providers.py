"""Each payment's calls go to the provider that authorised it, whatever PAYMENT_PROVIDER says now.

``processor_of(alpha, beta)`` is the service configured with ``PAYMENT_PROVIDER=alpha`` and beta
also configured; ``processor_of(beta)`` is one where alpha's settings were removed.
"""
import uuid
from datetime import timedelta

import pytest

from nameko_services.common.auth import Principal
from nameko_services.common.errors import PaymentProviderError
from nameko_services.payments import domain, handlers, saga
from nameko_services.payments.commands import RequestPayment
from nameko_services.payments.processor import resume_pending

USER = "00000000-0000-4000-8000-0000000000c1"
ADMIN = Principal(user_id="00000000-0000-4000-8000-0000000000ad", roles=("customer", "admin"))


def eid():
    return str(uuid.uuid4())


def authorised(uow, processor):
    request = RequestPayment(str(uuid.uuid4()), 1, USER, 1000, "EUR", "tok_visa")
    return saga.on_payment_requested(uow, processor, eid(), request)


def captured(uow, processor):
    payment = authorised(uow, processor)
    saga.on_capture_requested(uow, processor, eid(), payment.order_id, 2, payment.id)
    return uow.payments.load(payment.id)


def test_after_a_switch_a_payment_is_captured_and_refunded_by_its_provider_and_new_ones_use_the_new(
        uow, alpha, beta, processor_of):
    payment = authorised(uow, processor_of(alpha, beta))
    switched = processor_of(beta, alpha)
    saga.on_capture_requested(uow, switched, eid(), payment.order_id, 2, payment.id)
    assert handlers.refund_payment(uow, switched, ADMIN, payment.id, 400).status == \
        domain.PARTIALLY_REFUNDED
    assert alpha.calls == [("authorise", payment.provider_reference), ("capture", payment.provider_reference),
                           ("refund", payment.provider_reference)]
    assert beta.calls == []
    newer = authorised(uow, switched)
    assert (payment.provider, newer.provider) == ("alpha", "beta")
    assert beta.actions() == ["authorise"] and len(alpha.calls) == 3


def test_after_a_switch_cancelling_voids_the_authorisation_with_its_provider(uow, alpha, beta,
                                                                             processor_of):
    payment = authorised(uow, processor_of(alpha, beta))
    assert saga.on_order_cancelled(uow, processor_of(beta, alpha), eid(), payment.order_id) == 1
    assert uow.payments.load(payment.id).status == domain.VOIDED
    assert alpha.actions() == ["authorise", "void"] and beta.calls == []


def test_after_a_switch_an_interrupted_authorisation_is_resumed_with_the_provider_it_was_started_with(
        uow, alpha, beta, processor_of):
    with uow:  # the intent was recorded with alpha configured, then the process died
        payment = domain.initiate(eid(), eid(), 1, USER, 1000, "EUR", "tok_visa", "alpha")
        uow.payments.save(payment)
        uow.commit()
    assert resume_pending(uow, processor_of(beta, alpha), payment.updated_at + timedelta(seconds=1)) == 1
    assert uow.payments.load(payment.id).status == domain.AUTHORISED
    assert alpha.actions() == ["authorise"] and beta.calls == []


def test_a_compensation_for_a_provider_no_longer_configured_needs_attention_naming_it(uow, alpha, beta,
                                                                                      processor_of):
    payment = authorised(uow, processor_of(alpha, beta))
    saga.on_order_cancelled(uow, processor_of(beta), eid(), payment.order_id)
    [failed] = uow.outbox.of_type("payment_compensation_failed")
    assert failed["action"] == "void" and "alpha" in failed["reason"]
    stored = uow.payments.load(payment.id)
    assert stored.status == domain.AUTHORISED and stored.needs_attention
    assert "provider_not_configured" in stored.attention_reason and "alpha" in stored.attention_reason
    assert alpha.actions() == ["authorise"] and beta.calls == []


def test_a_capture_for_a_provider_no_longer_configured_fails_naming_it(uow, alpha, beta, processor_of):
    payment = authorised(uow, processor_of(alpha, beta))
    saga.on_capture_requested(uow, processor_of(beta), eid(), payment.order_id, 2, payment.id)
    [failed] = uow.outbox.of_type("payment_failed")
    assert failed["reason"] == domain.CAPTURE_FAILED_REASON and "'alpha'" in failed["message"]
    assert uow.payments.load(payment.id).status == domain.AUTHORISED and beta.calls == []


def test_an_admin_refund_for_a_provider_no_longer_configured_is_refused_naming_it(uow, alpha, beta,
                                                                                processor_of):
    payment = captured(uow, processor_of(alpha, beta))
    with pytest.raises(PaymentProviderError) as refused:
        handlers.refund_payment(uow, processor_of(beta), ADMIN, payment.id, None)
    assert refused.value.details == {"payment_id": payment.id, "provider": "alpha"}
    assert "'alpha'" in refused.value.message
    assert uow.payments.load(payment.id).status == domain.CAPTURED and beta.calls == []
