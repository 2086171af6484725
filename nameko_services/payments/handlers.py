"""Use cases behind the RPC methods: read payments (owners and admins), refund them (admins), and
learn how a customer answered a card's challenge (the provider's return, the sandbox's challenge page)."""
from __future__ import annotations

from typing import Any

from nameko_services.common.auth import READ_ALL_PAYMENTS, Principal
from nameko_services.common.errors import (
    PaymentNotAwaitingAction,
    PaymentNotFound,
    PaymentProviderError,
    PermissionDenied,
)
from nameko_services.common.pagination import Page
from nameko_services.payments import domain
from nameko_services.payments.commands import PaymentQuery
from nameko_services.payments.domain import Payment
from nameko_services.payments.gateways import GatewayError, SandboxGateway
from nameko_services.payments.ports import UnitOfWork
from nameko_services.payments.processor import Processor, carry_out, confirm_action, require_provider


def sees_all(principal: Principal) -> bool:
    """Admins, and services that may read every payment calling without an end user."""
    return principal.is_admin or (principal.user_id is None and principal.service_may(READ_ALL_PAYMENTS))


def list_payments(uow: UnitOfWork, principal: Principal, query: PaymentQuery) -> Page[Payment]:
    """Admins see every payment; a customer only theirs."""
    if not sees_all(principal) and principal.user_id is None:
        raise PermissionDenied("Only a signed-in customer or an admin may list payments.")
    owner = None if sees_all(principal) else principal.user_id
    with uow:
        payments, total = uow.payments.page(owner, query.order_id, query.page, query.per_page)
    return Page(payments, total, query.page, query.per_page)


def get_payment(uow: UnitOfWork, principal: Principal, payment_id: str) -> Payment:
    """One payment; another customer's is not found."""
    with uow:
        return _visible(uow, principal, payment_id)


def get_payment_events(uow: UnitOfWork, principal: Principal, payment_id: str) -> list[dict[str, Any]]:
    """The payment's history, oldest first, without secrets."""
    with uow:
        _visible(uow, principal, payment_id)
        return [{**event.to_dict(), "data": domain.public_data(event.data)}
                for event in uow.payments.history(payment_id)]


def refund_payment(uow: UnitOfWork, processor: Processor, principal: Principal, payment_id: str,
                   amount: int | None) -> Payment:
    """Give back part or all of what remains of a captured payment (admins)."""
    if not principal.is_admin:
        raise PermissionDenied("Only an admin may refund a payment.")
    with uow:
        payment = uow.payments.load(payment_id)
        if payment is None:
            raise PaymentNotFound(details={"payment_id": payment_id})
        uow.lock_order(payment.order_id)
        payment = uow.payments.load(payment_id) or payment  # fresh, under the order's lock
        payment.start_refund(amount)
        require_provider(processor, payment)
        uow.payments.save(payment)
        uow.commit()
    done = carry_out(uow, processor, payment)
    if done.refunded_amount == payment.refunded_amount:
        raise PaymentProviderError("The payment processor refused the refund.",
                                   {"payment_id": payment_id})
    return done


def confirm_payment_action(uow: UnitOfWork, processor: Processor, principal: Principal,
                           payment_id: str) -> Payment:
    """The customer is back from the card's challenge (the provider's return URL): ask the
    provider how it went and record it. Asking again changes nothing."""
    with uow:
        payment = _visible(uow, principal, payment_id)
    return confirm_action(uow, processor, payment)


def sandbox_challenge(uow: UnitOfWork, processor: Processor, reference: str) -> Payment:
    """The payment a sandbox challenge page is for: its reference is the capability (unguessable,
    as a provider's challenge URL is), so no caller check; unknown is not found."""
    _sandbox(processor)
    with uow:
        payment = uow.payments.by_reference(SANDBOX, reference)
    if payment is None:
        raise PaymentNotFound(details={"reference": reference})
    return payment


def answer_sandbox_challenge(uow: UnitOfWork, processor: Processor, reference: str, passed: bool) -> Payment:
    """The customer passes or fails the sandbox's challenge: the sandbox records it (the
    provider's side), then the payment learns it as from any provider (``confirm_action``)."""
    payment = sandbox_challenge(uow, processor, reference)
    if payment.status != domain.REQUIRES_ACTION:
        raise PaymentNotAwaitingAction(details={"status": payment.status})
    try:
        _sandbox(processor).answer_challenge(reference, passed)
    except GatewayError as refused:  # answered meanwhile, or voided at the provider
        raise PaymentNotAwaitingAction(refused.message, {"status": payment.status}) from None
    return confirm_action(uow, processor, payment)


SANDBOX = "sandbox"


def _sandbox(processor: Processor) -> SandboxGateway:
    gateway = processor.adapters.by_provider.get(SANDBOX)
    assert isinstance(gateway, SandboxGateway)  # the sandbox is always configured
    return gateway


def _visible(uow: UnitOfWork, principal: Principal, payment_id: str) -> Payment:
    payment = uow.payments.load(payment_id)
    if payment is None or not (sees_all(principal) or payment.user_id == principal.user_id):
        raise PaymentNotFound(details={"payment_id": payment_id})
    return payment
