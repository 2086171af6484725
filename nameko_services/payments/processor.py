"""Calling the payment processor: intent first, the call outside any transaction, then the result.

Why two transactions and not one: a processor call can take seconds (and retries with
back-off); holding a database transaction and the order's lock that long would stall
every other event of the order and pin a pooled connection. Why record the intent
first: the intent (``PaymentInitiated``, ``CaptureStarted``, ``VoidStarted``,
``RefundStarted``) carries the idempotency key, so if the process dies during the call
nobody has to guess whether money moved — ``resume_pending`` (a timer) finds intents
without a result and makes the same call again with the same key; the processor answers
with the first result instead of charging twice. The result is written only if the intent
is still the open one, so a live handler and the recovery timer never both record it.

Which adapter: a new payment is authorised with ``PAYMENT_PROVIDER``'s and records its name;
every later call of that payment goes to the adapter of the provider it recorded
(``gateways/registry.py``), whatever ``PAYMENT_PROVIDER`` says now.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from opentelemetry.trace import SpanKind

from nameko_services.common.errors import PaymentProviderError
from nameko_services.common.spans import child_span
from nameko_services.payments import domain
from nameko_services.payments.domain import Payment, Pending
from nameko_services.payments.gateways import (
    ActionStillRequired,
    Adapters,
    Authorisation,
    GatewayError,
    PaymentDeclined,
    ProviderNotConfigured,
    TransientGatewayError,
    with_retries,
)
from nameko_services.payments.ports import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processor:
    """The configured adapters and how long to wait between tries after a transient error."""

    adapters: Adapters
    retry_delays: Sequence[float] = (0.2, 0.5, 1.0)
    sleep: Callable[[float], None] = field(default=time.sleep)
    resume_after: float = 60.0  # seconds after which an intent without a result is resumed


@dataclass(frozen=True)
class Outcome:
    """What the processor made of an intent: a reference (and the customer's next action, for a
    card that needs them), or a failure (reason, message)."""

    reference: str | None = None
    failure: tuple[str, str] | None = None
    next_action: dict[str, str] | None = None

    def apply(self, payment: Payment) -> None:
        if self.failure is None:
            payment.succeed(self.reference, next_action=self.next_action)
        else:
            payment.fail(*self.failure)


def call(processor: Processor, payment: Payment, pending: Pending) -> Outcome:
    """Make the intent's call (retrying transient errors) and say how it went."""
    try:
        answer = with_retries(lambda: _invoke(processor.adapters, payment, pending),
                              processor.retry_delays, processor.sleep)
        if isinstance(answer, Authorisation):
            return Outcome(reference=answer.reference, next_action=answer.action)
        return Outcome(reference=answer)
    except PaymentDeclined as declined:
        return Outcome(failure=(declined.reason, declined.message))
    except ProviderNotConfigured as missing:
        log.error("the payment's provider is not configured",
                  extra={"action": pending.action, "provider": missing.provider})
        return Outcome(failure=(missing.reason, missing.message))
    except TransientGatewayError as error:
        log.warning("processor kept failing", extra={"action": pending.action, "code": error.code})
        return Outcome(failure=(domain.PROCESSING_ERROR, error.message))
    except GatewayError as error:
        log.warning("processor refused", extra={"action": pending.action, "code": error.code})
        reason = domain.PROCESSING_ERROR if pending.action == domain.AUTHORISE else error.code
        return Outcome(failure=(reason, error.message))


def _invoke(adapters: Adapters, payment: Payment, pending: Pending) -> Authorisation | str | None:
    """One try of the intent's call: a span of its own (a declined card is an answer, not an error;
    the Stripe adapter's HTTP request nests under it)."""
    attributes = {"shop.payment.provider": payment.provider, "shop.payment.action": pending.action,
                  "shop.payment_id": payment.id}
    with child_span(f"{payment.provider} {pending.action}", SpanKind.CLIENT, attributes,
                    fault=lambda error: not isinstance(error, PaymentDeclined)):
        return _call_provider(adapters, payment, pending)


def _call_provider(adapters: Adapters, payment: Payment, pending: Pending) -> Authorisation | str | None:
    gateway = adapters.of_provider(payment.provider)
    key, reference = pending.idempotency_key, payment.provider_reference or ""
    if pending.action == domain.AUTHORISE:
        return gateway.authorise(pending.amount, payment.currency, payment.payment_token, key)
    if pending.action == domain.CAPTURE:
        gateway.capture(reference, pending.amount, key)
        return None
    if pending.action == domain.VOID:
        gateway.void(reference, key)
        return None
    return gateway.refund(reference, pending.amount, key)


def require_provider(processor: Processor, payment: Payment) -> None:
    """Refuse to start a call for a payment whose provider is not configured (PaymentProviderError)."""
    try:
        processor.adapters.of_provider(payment.provider)
    except ProviderNotConfigured as missing:
        raise PaymentProviderError(missing.message, {"payment_id": payment.id,
                                                     "provider": payment.provider}) from missing


def carry_out(uow: UnitOfWork, processor: Processor, payment: Payment) -> Payment:
    """Make the payment's open call and record its result; return the payment as it ends up.

    A payment that completes for an order cancelled meanwhile is undone at once (the
    cancellation found it busy and could not); one authorised to be captured at once goes on
    to its capture.
    """
    pending = payment.pending
    if pending is None:
        return payment
    outcome = call(processor, payment, pending)
    with uow:
        uow.lock_order(payment.order_id)
        current = uow.payments.load(payment.id)
        if current is None or current.pending != pending:
            log.info("processor result already recorded", extra={"action": pending.action})
            return current or payment
        outcome.apply(current)
        if pending.action in (domain.AUTHORISE, domain.CAPTURE):
            _go_on(uow, current, pending.action)
        uow.payments.save(current)
        uow.commit()
    log.info("processor call recorded", extra={"action": pending.action, "status": current.status,
                                                "failed": outcome.failure is not None})
    return carry_out(uow, processor, current)


def confirm_action(uow: UnitOfWork, processor: Processor, payment: Payment) -> Payment:
    """Ask the provider how the customer's challenge went and record it (authorised or failed);
    a payment that is not waiting, or a customer who has not answered, changes nothing. Passed for
    an order cancelled meanwhile, the authorisation is voided at once (as ``carry_out`` does);
    otherwise one to be captured at once is captured."""
    if payment.status != domain.REQUIRES_ACTION or payment.provider_reference is None:
        return payment
    reference = payment.provider_reference
    try:
        gateway = processor.adapters.of_provider(payment.provider)
        with_retries(lambda: gateway.confirm(reference), processor.retry_delays, processor.sleep)
        failure = None
    except ActionStillRequired:
        return payment
    except PaymentDeclined as declined:
        failure = (declined.reason, declined.message)
    except GatewayError as error:  # a transient error past its retries too: the customer may retry
        log.warning("provider could not confirm the customer's action", extra={"code": error.code})
        return payment
    with uow:
        uow.lock_order(payment.order_id)
        current = uow.payments.load(payment.id)
        if current is None:
            return payment
        changed = current.customer_passed() if failure is None else current.customer_failed(*failure)
        if changed:
            _go_on(uow, current, domain.AUTHORISE)
            uow.payments.save(current)
            uow.commit()
    log.info("customer's action confirmed", extra={"status": current.status, "changed": changed})
    return carry_out(uow, processor, current)


def _go_on(uow: UnitOfWork, payment: Payment, completed: str) -> None:
    """After an authorisation or capture is recorded: undo it if the order was cancelled meanwhile
    (the cancellation found the payment busy and could not), else capture an authorisation that
    was asked to be captured at once."""
    if uow.cancelled_orders.contains(payment.order_id):
        if payment.start_undo():
            log.info("payment completed for a cancelled order; undoing it")
    elif completed == domain.AUTHORISE and payment.start_capture_at_once():
        log.info("payment authorised; capturing it at once")


def resume_pending(uow: UnitOfWork, processor: Processor, started_before: datetime) -> int:
    """Finish processor calls whose result was never recorded (the process died mid-call)."""
    with uow:
        ids = uow.payments.pending_ids(started_before)
        stuck = [p for i in ids if (p := uow.payments.load(i)) is not None]
    for payment in stuck:
        log.warning("resuming an interrupted processor call",
                    extra={"payment_id": payment.id, "action": payment.pending and payment.pending.action})
        carry_out(uow, processor, payment)
    return len(stuck)
