"""Use cases behind the RPC methods: read payments (owners and admins) and refund them (admins)."""
from __future__ import annotations

from typing import Any

from nameko_services.common.auth import READ_ALL_PAYMENTS, Principal
from nameko_services.common.errors import PaymentNotFound, PaymentProviderError, PermissionDenied
from nameko_services.common.pagination import Page
from nameko_services.payments import domain
from nameko_services.payments.commands import PaymentQuery
from nameko_services.payments.domain import Payment
from nameko_services.payments.ports import UnitOfWork
from nameko_services.payments.processor import Processor, carry_out, require_provider


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


def _visible(uow: UnitOfWork, principal: Principal, payment_id: str) -> Payment:
    payment = uow.payments.load(payment_id)
    if payment is None or not (sees_all(principal) or payment.user_id == principal.user_id):
        raise PaymentNotFound(details={"payment_id": payment_id})
    return payment
