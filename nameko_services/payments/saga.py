"""The payments side of the order saga: reactions to ``orders.events`` (docs/SAGA.md).

Each reaction records the event id with ``first_delivery`` and the processor intent in one
transaction, then carries the call out (``processor.carry_out``): the result and its
announcement on ``payments.events`` commit together. A redelivered event changes nothing.
"""
from __future__ import annotations

import logging
import uuid

from nameko_services.common.errors import PaymentNotFound
from nameko_services.payments import domain, messages
from nameko_services.payments.commands import RequestPayment
from nameko_services.payments.domain import Payment
from nameko_services.payments.ports import UnitOfWork
from nameko_services.payments.processor import Processor, carry_out

log = logging.getLogger(__name__)

ON_PAYMENT_REQUESTED = "payments.on_payment_requested"
ON_CAPTURE_REQUESTED = "payments.on_capture_requested"
ON_VOID_REQUESTED = "payments.on_void_requested"
ON_ORDER_CANCELLED = "payments.on_order_cancelled"


def on_payment_requested(uow: UnitOfWork, processor: Processor, event_id: str,
                         cmd: RequestPayment) -> Payment | None:
    """Authorise the order version's payment, once; a cancelled order's request is ignored."""
    with uow:
        if not uow.first_delivery(event_id, ON_PAYMENT_REQUESTED):
            return None
        uow.lock_order(cmd.order_id)
        if uow.cancelled_orders.contains(cmd.order_id):
            log.info("payment requested for a cancelled order; ignored")
            uow.commit()
            return None
        if uow.payments.for_order_version(cmd.order_id, cmd.order_version) is not None:
            log.info("this order version already has a payment; nothing charged")
            uow.commit()
            return None
        payment = domain.initiate(str(uuid.uuid4()), cmd.order_id, cmd.order_version, cmd.user_id,
                                  cmd.amount, cmd.currency, cmd.payment_token,
                                  processor.adapters.for_new_payments, cmd.capture_at_once)
        uow.payments.save(payment)
        uow.commit()
    return carry_out(uow, processor, payment)


def on_capture_requested(uow: UnitOfWork, processor: Processor, event_id: str, order_id: str,
                         order_version: int, payment_id: str) -> Payment | None:
    """Capture an authorised payment; one voided or failed meanwhile answers capture_failed."""
    with uow:
        if not uow.first_delivery(event_id, ON_CAPTURE_REQUESTED):
            return None
        uow.lock_order(order_id)
        payment = _payment_of(uow, order_id, payment_id)
        started = payment.start_capture(order_version)
        if not started:
            _answer_capture_again(payment, order_version)
        uow.payments.save(payment)
        uow.commit()
    return carry_out(uow, processor, payment) if started else None


def on_void_requested(uow: UnitOfWork, processor: Processor, event_id: str, order_id: str,
                      payment_id: str) -> Payment | None:
    """Undo a stale or unwanted payment: void an authorisation, refund one captured at once (its
    order changed first). A payment already voided answers payment_voided again."""
    with uow:
        if not uow.first_delivery(event_id, ON_VOID_REQUESTED):
            return None
        uow.lock_order(order_id)
        payment = _payment_of(uow, order_id, payment_id)
        started = payment.start_undo()
        if not started and payment.status == domain.VOIDED:
            payment.announce(messages.voided(payment))  # a repeat: same answer
        elif not started:
            log.warning("void requested for a payment with nothing to undo",
                        extra={"status": payment.status, "busy": payment.busy})
        uow.payments.save(payment)
        uow.commit()
    return carry_out(uow, processor, payment) if started else None


def on_order_cancelled(uow: UnitOfWork, processor: Processor, event_id: str, order_id: str) -> int:
    """Remember the cancellation; void authorised and refund captured payments of the order.

    A payment whose processor call is in flight is undone when that call completes
    (``carry_out`` sees the tombstone). Returns how many compensations were started.
    """
    with uow:
        if not uow.first_delivery(event_id, ON_ORDER_CANCELLED):
            return 0
        uow.lock_order(order_id)
        uow.cancelled_orders.add(order_id)
        undoing = [p for p in uow.payments.of_order(order_id) if p.start_undo()]
        for payment in undoing:
            uow.payments.save(payment)
        uow.commit()
    for payment in undoing:
        carry_out(uow, processor, payment)
    return len(undoing)


def _answer_capture_again(payment: Payment, order_version: int) -> None:
    """A capture that cannot start answers as before; one in flight answers when it completes."""
    if payment.status in (domain.CAPTURED, domain.PARTIALLY_REFUNDED, domain.REFUNDED):
        payment.announce(messages.captured(payment, order_version))
    elif not (payment.pending and payment.pending.action == domain.CAPTURE):
        payment.announce(messages.capture_failed(payment, order_version, f"The payment is {payment.status}."))


def _payment_of(uow: UnitOfWork, order_id: str, payment_id: str) -> Payment:
    payment = uow.payments.load(payment_id)
    if payment is None or payment.order_id != order_id:
        raise PaymentNotFound(details={"payment_id": payment_id, "order_id": order_id})
    return payment
