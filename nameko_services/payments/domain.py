"""The payment aggregate: its state is folded from its events; its rules decide the next events.

Pure: standard library, the error catalogue and the common kernel (``common/aggregate.py``):
each rule ``record``s an event, which is applied at once and announced on ``payments.events``
as ``messages.announcement`` says. A payment is created ``pending``
(authorisation started) and moves ``authorised`` → ``captured`` → ``partially_refunded`` /
``refunded``, or ``authorised`` → ``voided``, or ``pending`` → ``failed``. A card that needs the
customer (3-D Secure) goes ``pending`` → ``requires_action`` (with the ``next_action`` to show)
→ ``authorised`` when they pass the challenge, ``failed`` when they fail it, ``voided`` when the
order is cancelled first (its deadline passed).

A payment asked to be captured at once (``capture_at_once``, docs/SAGA.md step 4) starts its
capture in the transaction that records the authorisation, unless the order was cancelled
meanwhile, and announces only the capture's result; otherwise orders asks for the capture.

Every call to the processor is recorded first as an intent (``Pending``: action, amount,
idempotency key) and then as its result, in two transactions (see ``handlers.py``).
While an intent is open no other action starts.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nameko_services.common.aggregate import Aggregate
from nameko_services.common.errors import InvalidInput, PaymentNotRefundable, RefundExceedsBalance
from nameko_services.common.times import iso_utc
from nameko_services.payments import messages

PENDING, AUTHORISED, CAPTURED, VOIDED = "pending", "authorised", "captured", "voided"
REFUNDED, PARTIALLY_REFUNDED, FAILED = "refunded", "partially_refunded", "failed"
REQUIRES_ACTION = "requires_action"  # the customer must answer the card's challenge first
STATUSES = (PENDING, REQUIRES_ACTION, AUTHORISED, CAPTURED, VOIDED, REFUNDED, PARTIALLY_REFUNDED, FAILED)

AUTHORISE, CAPTURE, VOID, REFUND = "authorise", "capture", "void", "refund"

# Stored event types (the payment stream).
PAYMENT_INITIATED = "PaymentInitiated"  # intent: authorise
PAYMENT_AUTHORISED = "PaymentAuthorised"
PAYMENT_ACTION_REQUIRED = "PaymentActionRequired"  # authorisation answered: the customer must act
PAYMENT_FAILED = "PaymentFailed"
CAPTURE_STARTED = "CaptureStarted"
PAYMENT_CAPTURED = "PaymentCaptured"
CAPTURE_FAILED = "CaptureFailed"
VOID_STARTED = "VoidStarted"
PAYMENT_VOIDED = "PaymentVoided"
REFUND_STARTED = "RefundStarted"
PAYMENT_REFUNDED = "PaymentRefunded"
REFUND_FAILED = "RefundFailed"  # an admin refund the processor refused (no compensation)
COMPENSATION_FAILED = "CompensationFailed"  # a void or refund that undoes the saga failed
SECRET_FIELDS = frozenset({"payment_token"})  # never shown in the public history

PROCESSING_ERROR, CAPTURE_FAILED_REASON = "processing_error", "capture_failed"


@dataclass(frozen=True)
class Pending:
    """A processor call that was started and whose result is not recorded yet."""

    action: str
    amount: int
    idempotency_key: str
    order_version: int | None = None
    compensation: bool = False


@dataclass
class Payment(Aggregate):
    """One payment of one order version."""

    order_id: str = ""
    order_version: int = 0
    user_id: str = ""
    amount: int = 0
    currency: str = ""
    provider: str = ""
    payment_token: str = field(default="", repr=False)
    status: str = PENDING
    refunded_amount: int = 0
    captured_amount: int = 0
    provider_reference: str | None = None
    failure_reason: str | None = None
    needs_attention: bool = False
    attention_reason: str | None = None
    pending: Pending | None = None
    captured_at: str | None = None  # ISO 8601 UTC
    next_action: dict[str, str] | None = None  # while requires_action: {"type": "redirect", "url"}
    capture_at_once: bool = False  # capture when authorised, without waiting for capture_requested

    # --- history -------------------------------------------------------------------------

    def mutate(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Change the state as ``event_type`` says."""
        getattr(self, "_on_" + event_type)(data)

    def record(self, event_type: str, data: dict[str, Any]) -> None:
        """Decide a new event (applied at once) and announce what ``payments.events`` says of it."""
        self.trigger(event_type, data)
        message = messages.announcement(self, event_type, data)
        if message is not None:
            self.announce(message)

    def _on_PaymentInitiated(self, d: Mapping[str, Any]) -> None:
        self.order_id, self.order_version, self.user_id = d["order_id"], d["order_version"], d["user_id"]
        self.amount, self.currency, self.provider = d["amount"], d["currency"], d["provider"]
        self.payment_token, self.status = d["payment_token"], PENDING
        self.capture_at_once = bool(d.get("capture_at_once", False))  # absent before it existed
        self.pending = Pending(AUTHORISE, d["amount"], d["idempotency_key"], d["order_version"])

    def _on_PaymentActionRequired(self, d: Mapping[str, Any]) -> None:
        self.status, self.provider_reference, self.pending = REQUIRES_ACTION, d["provider_reference"], None
        self.next_action = dict(d["next_action"])

    def _on_PaymentAuthorised(self, d: Mapping[str, Any]) -> None:
        self.status, self.provider_reference, self.pending = AUTHORISED, d["provider_reference"], None
        self.next_action = None

    def _on_PaymentFailed(self, d: Mapping[str, Any]) -> None:
        self.status, self.failure_reason, self.pending = FAILED, d["reason"], None
        self.next_action = None

    def _on_CaptureStarted(self, d: Mapping[str, Any]) -> None:
        self.pending = Pending(CAPTURE, d["amount"], d["idempotency_key"], d["order_version"])

    def _on_PaymentCaptured(self, d: Mapping[str, Any]) -> None:
        self.status, self.captured_amount, self.pending = CAPTURED, d["amount"], None
        self.captured_at = d.get("captured_at")  # absent from captures stored before it was kept

    def _on_CaptureFailed(self, d: Mapping[str, Any]) -> None:
        self.failure_reason, self.pending = CAPTURE_FAILED_REASON, None

    def _on_VoidStarted(self, d: Mapping[str, Any]) -> None:
        self.pending = Pending(VOID, 0, d["idempotency_key"], compensation=d["compensation"])

    def _on_PaymentVoided(self, d: Mapping[str, Any]) -> None:
        self.status, self.pending, self.next_action = VOIDED, None, None
        self.needs_attention, self.attention_reason = False, None

    def _on_RefundStarted(self, d: Mapping[str, Any]) -> None:
        self.pending = Pending(REFUND, d["amount"], d["idempotency_key"], compensation=d["compensation"])

    def _on_PaymentRefunded(self, d: Mapping[str, Any]) -> None:
        self.refunded_amount += d["amount"]
        self.status = REFUNDED if self.refunded_amount >= self.captured_amount else PARTIALLY_REFUNDED
        self.pending = None
        if self.status == REFUNDED:
            self.needs_attention, self.attention_reason = False, None

    def _on_RefundFailed(self, d: Mapping[str, Any]) -> None:
        self.pending = None

    def _on_CompensationFailed(self, d: Mapping[str, Any]) -> None:
        self.pending = None
        self.needs_attention, self.attention_reason = True, f"{d['action']}: {d['reason']}"

    # --- rules ---------------------------------------------------------------------------

    @property
    def refundable(self) -> int:
        """What can still be given back."""
        return self.captured_amount - self.refunded_amount

    @property
    def busy(self) -> bool:
        return self.pending is not None

    def next_key(self, action: str) -> str:
        """The processor idempotency key of the intent about to be recorded: unique per intent
        (named by the stream version it gets), the same when that intent is resumed."""
        return f"{self.id}:{action}:{self.version + 1}"

    def start_capture(self, order_version: int) -> bool:
        """Record the capture intent; False if there is nothing to capture (voided, failed, done)."""
        if self.status != AUTHORISED or self.busy:
            return False
        self.record(CAPTURE_STARTED, {"amount": self.amount, "order_version": order_version,
                                      "idempotency_key": self.next_key(CAPTURE)})
        return True

    def start_capture_at_once(self) -> bool:
        """Start the capture of a payment asked to be captured when authorised; False otherwise."""
        return self.capture_at_once and self.start_capture(self.order_version)

    def start_void(self, compensation: bool = True) -> bool:
        """Record the void intent; False unless the payment is authorised (or still waiting for the
        customer's challenge) and idle."""
        if self.status not in (AUTHORISED, REQUIRES_ACTION) or self.busy:
            return False
        self.record(VOID_STARTED, {"idempotency_key": self.next_key(VOID), "compensation": compensation})
        return True

    def start_refund(self, amount: int | None = None, compensation: bool = False) -> bool:
        """Record the refund intent (all that remains by default); raise if the rules forbid it."""
        if self.status not in (CAPTURED, PARTIALLY_REFUNDED) or self.busy:
            raise PaymentNotRefundable(details={"status": self.status, "busy": self.busy})
        amount = self.refundable if amount is None else amount
        if amount <= 0:
            raise InvalidInput("amount: must be positive", {"amount": ["Must be positive."]})
        if amount > self.refundable:
            raise RefundExceedsBalance(details={"amount": amount, "refundable": self.refundable})
        self.record(REFUND_STARTED, {"amount": amount, "compensation": compensation,
                                     "idempotency_key": self.next_key(REFUND)})
        return True

    def start_undo(self) -> bool:
        """Compensation for a cancelled order: void an authorisation, refund what was captured."""
        if self.busy:
            return False
        if self.status in (AUTHORISED, REQUIRES_ACTION):
            return self.start_void(compensation=True)
        if self.status in (CAPTURED, PARTIALLY_REFUNDED):
            return self.start_refund(compensation=True)
        return False

    def succeed(self, reference: str | None = None, at: datetime | None = None,
                next_action: dict[str, str] | None = None) -> None:
        """The processor carried out the open intent (``at``: when it answered, for the saga's
        captured → confirmed step); an authorisation with ``next_action`` waits for the customer."""
        pending = self._open()
        if pending.action == AUTHORISE and next_action is not None:
            self.record(PAYMENT_ACTION_REQUIRED, {"provider_reference": reference,
                                                  "next_action": next_action})
        elif pending.action == AUTHORISE:
            self.record(PAYMENT_AUTHORISED, {"provider_reference": reference})
        elif pending.action == CAPTURE:
            self.record(PAYMENT_CAPTURED, {"amount": pending.amount, "order_version": pending.order_version,
                                           "captured_at": iso_utc(at or datetime.now(UTC))})
        elif pending.action == VOID:
            self.record(PAYMENT_VOIDED, {})
        else:
            self.record(PAYMENT_REFUNDED, {"amount": pending.amount, "refund_reference": reference,
                                           "refunded_total": self.refunded_amount + pending.amount})

    def fail(self, reason: str, message: str) -> None:
        """The processor refused the open intent (or kept failing past the retries)."""
        pending = self._open()
        if pending.action == AUTHORISE:
            self.record(PAYMENT_FAILED, {"reason": reason, "message": message})
        elif pending.action == CAPTURE:
            self.record(CAPTURE_FAILED, {"reason": reason, "message": message,
                                         "order_version": pending.order_version})
        elif pending.compensation:
            self.record(COMPENSATION_FAILED, {"action": pending.action, "reason": reason,
                                              "message": message})
        else:
            self.record(REFUND_FAILED, {"reason": reason, "message": message})

    def customer_passed(self) -> bool:
        """The provider says the customer passed the challenge: authorised (False: not waiting)."""
        if self.status != REQUIRES_ACTION or self.busy:
            return False
        self.record(PAYMENT_AUTHORISED, {"provider_reference": self.provider_reference})
        return True

    def customer_failed(self, reason: str, message: str) -> bool:
        """The provider says the customer failed the challenge: failed (False: not waiting)."""
        if self.status != REQUIRES_ACTION or self.busy:
            return False
        self.record(PAYMENT_FAILED, {"reason": reason, "message": message})
        return True

    def _open(self) -> Pending:
        if self.pending is None:
            raise InvalidInput("The payment has no processor call in progress.")
        return self.pending


def initiate(payment_id: str, order_id: str, order_version: int, user_id: str, amount: int,
             currency: str, token: str, provider: str, capture_at_once: bool = False) -> Payment:
    """A new payment whose authorisation is about to be asked for (and its capture once
    authorised, with ``capture_at_once``)."""
    if amount <= 0:
        raise InvalidInput("amount: must be positive", {"amount": ["Must be positive."]})
    payment = Payment(payment_id)
    payment.record(PAYMENT_INITIATED, {
        "order_id": order_id, "order_version": order_version, "user_id": user_id, "amount": amount,
        "currency": currency, "provider": provider, "payment_token": token,
        "idempotency_key": payment.next_key(AUTHORISE),
        **({"capture_at_once": True} if capture_at_once else {})})
    return payment


def public_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's data without secrets (the history shown to owners and admins)."""
    return {k: v for k, v in data.items() if k not in SECRET_FIELDS}
