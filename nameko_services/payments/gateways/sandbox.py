"""The sandbox processor: no network, scripted by the card token (docs/API.md).

Tokens: ``tok_visa`` succeeds; ``tok_chargeDeclined`` is declined;
``tok_chargeDeclinedInsufficientFunds`` is declined for insufficient funds;
``tok_processingError`` fails transiently on every attempt (the payment fails with
``processing_error`` once the retries are used up); ``tok_processingErrorOnce`` fails
transiently on the first attempt of an idempotency key and succeeds on the retry;
``tok_refundFail`` authorises and captures, but every void and refund of it fails
(to exercise ``payment_compensation_failed``); ``tok_threeDSecure2Required`` needs the customer
(3-D Secure, like Stripe's card of that name): the authorisation answers a redirect to the
sandbox's challenge page (``/sandbox/3ds/<reference>``, served by the gateway), where the
customer passes or fails it (``answer_challenge``); ``confirm`` then says how it went.

Only development and tests use it, but it behaves like a processor: the same idempotency
key gives the same answer and never a second charge, capture, void and refund check the
payment's state, and it remembers all of it across restarts of the payments service (its
records live in the payments database, ``sandbox_ledger.py``; in memory when no ledger is
given, as unit tests do).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import cast

from nameko_services.payments.gateways.base import (
    AUTHENTICATION_FAILED,
    DECLINED,
    INSUFFICIENT_FUNDS,
    REDIRECT,
    ActionStillRequired,
    Authorisation,
    GatewayError,
    PaymentDeclined,
    TransientGatewayError,
)
from nameko_services.payments.gateways.sandbox_ledger import (
    Answer,
    MemorySandboxLedger,
    SandboxBook,
    SandboxLedger,
    SandboxPayment,
)

SUCCEEDS = "tok_visa"
DECLINES = {"tok_chargeDeclined": DECLINED, "tok_chargeDeclinedInsufficientFunds": INSUFFICIENT_FUNDS}
ALWAYS_TRANSIENT = "tok_processingError"
TRANSIENT_ONCE = "tok_processingErrorOnce"
COMPENSATIONS_FAIL = "tok_refundFail"
NEEDS_AUTHENTICATION = "tok_threeDSecure2Required"
KNOWN_TOKENS = frozenset({SUCCEEDS, ALWAYS_TRANSIENT, TRANSIENT_ONCE, COMPENSATIONS_FAIL,
                          NEEDS_AUTHENTICATION, *DECLINES})
CHALLENGE_PATH = "/sandbox/3ds/"  # the gateway serves the challenge page there
REQUIRES_ACTION, REQUIRES_CAPTURE = "requires_action", "requires_capture"
CHALLENGE_FAILED = "challenge_failed"  # Stripe says requires_payment_method (too long a column here)
ERROR_KINDS: dict[str, type[GatewayError]] = {
    "declined": PaymentDeclined, "transient": TransientGatewayError, "refused": GatewayError}

# What a call does, given the ledger in its transaction and how many calls its key has seen.
Operation = Callable[[SandboxBook, int], str | None]


class SandboxGateway:
    """The sandbox processor; ``ledger`` keeps its records (one per service process)."""

    name = "sandbox"

    def __init__(self, ledger: SandboxLedger | None = None) -> None:
        self.ledger: SandboxLedger = ledger or MemorySandboxLedger()
        self.charges = 0  # authorisations this instance made (tests check that retries add none)

    def authorise(self, amount: int, currency: str, token: str, idempotency_key: str) -> Authorisation:
        reference = cast(str, self._once(
            idempotency_key, lambda book, calls: self._authorise(book, calls, amount, currency, token)))
        if token == NEEDS_AUTHENTICATION:
            return Authorisation(reference, {"type": REDIRECT, "url": CHALLENGE_PATH + reference})
        return Authorisation(reference)

    def confirm(self, reference: str) -> Authorisation:
        with self.ledger.transaction() as book:
            payment = _payment(book, reference)
        if payment.status == REQUIRES_ACTION:
            raise ActionStillRequired()
        if payment.status == CHALLENGE_FAILED:
            raise PaymentDeclined(AUTHENTICATION_FAILED, "The customer failed the card's challenge.")
        if payment.status != REQUIRES_CAPTURE:
            raise GatewayError("payment_intent_unexpected_state", f"The payment is {payment.status}.")
        return Authorisation(reference)

    def challenge(self, reference: str) -> SandboxPayment | None:
        """The payment a challenge page is about (None: no such payment)."""
        with self.ledger.transaction() as book:
            return book.payment(reference)

    def answer_challenge(self, reference: str, passed: bool) -> None:
        """The customer's answer on the challenge page: once; a payment no longer waiting refuses it."""
        with self.ledger.transaction() as book:
            payment = _payment(book, reference)
            if payment.status != REQUIRES_ACTION:
                raise GatewayError("payment_intent_unexpected_state", f"The payment is {payment.status}.")
            payment.status = REQUIRES_CAPTURE if passed else CHALLENGE_FAILED
            book.save(payment)

    def capture(self, reference: str, amount: int, idempotency_key: str) -> None:
        self._once(idempotency_key, lambda book, _: _capture(book, reference, amount))

    def void(self, reference: str, idempotency_key: str) -> None:
        self._once(idempotency_key, lambda book, _: _void(book, reference))

    def refund(self, reference: str, amount: int, idempotency_key: str) -> str:
        return cast(str, self._once(idempotency_key, lambda book, _: _refund(book, reference, amount)))

    def _once(self, key: str, operation: Operation) -> str | None:
        """Answer a repeated key with the first answer; transient failures are not remembered."""
        with self.ledger.transaction() as book:
            calls, answer = book.claim(key)
            if answer is None:
                answer = _answer_of(lambda: operation(book, calls))
                if answer.get("error", {}).get("kind") != "transient":
                    book.remember(key, answer)
        return _unwrap(answer)

    def _authorise(self, book: SandboxBook, calls: int, amount: int, currency: str, token: str) -> str:
        if token == ALWAYS_TRANSIENT or (token == TRANSIENT_ONCE and calls == 1):
            raise TransientGatewayError("processing_error", "The sandbox processor is unavailable.")
        if token in DECLINES:
            raise PaymentDeclined(DECLINES[token], "The sandbox declined the card.")
        if token not in KNOWN_TOKENS:
            raise GatewayError("invalid_token", f"Unknown sandbox token {token!r}.")
        if amount <= 0:
            raise GatewayError("invalid_amount", "The amount must be positive.")
        payment = SandboxPayment(f"sbx_pi_{uuid.uuid4().hex}", amount, currency, token,
                                 REQUIRES_ACTION if token == NEEDS_AUTHENTICATION else REQUIRES_CAPTURE)
        book.save(payment)
        self.charges += 1
        return payment.id


def _answer_of(call: Callable[[], str | None]) -> Answer:
    """The call's result or error as the JSON the ledger keeps."""
    try:
        return {"result": call()}
    except GatewayError as error:
        kind = next(k for k, cls in ERROR_KINDS.items() if isinstance(error, cls))
        return {"error": {"kind": kind, "code": error.code, "message": error.message}}


def _unwrap(answer: Answer) -> str | None:
    """The kept answer again: its result, or its error raised."""
    error = answer.get("error")
    if error is None:
        return cast(str | None, answer["result"])
    raise ERROR_KINDS[error["kind"]](error["code"], error["message"])


def _payment(book: SandboxBook, reference: str) -> SandboxPayment:
    payment = book.payment(reference)
    if payment is None:
        raise GatewayError("resource_missing", f"No payment {reference!r}.")
    return payment


def _capture(book: SandboxBook, reference: str, amount: int) -> None:
    payment = _payment(book, reference)
    if payment.status != "requires_capture":
        raise GatewayError("payment_intent_unexpected_state", f"The payment is {payment.status}.")
    if not 0 < amount <= payment.amount:
        raise GatewayError("amount_too_large", "The capture exceeds the authorisation.")
    payment.status, payment.captured_amount = "succeeded", amount
    book.save(payment)


def _void(book: SandboxBook, reference: str) -> None:
    payment = _payment(book, reference)
    if payment.card_token == COMPENSATIONS_FAIL:
        raise GatewayError("processing_error", "The sandbox refuses to void this payment.")
    if payment.status not in (REQUIRES_CAPTURE, REQUIRES_ACTION):  # a challenge never answered too
        raise GatewayError("payment_intent_unexpected_state", f"The payment is {payment.status}.")
    payment.status = "canceled"
    book.save(payment)


def _refund(book: SandboxBook, reference: str, amount: int) -> str:
    payment = _payment(book, reference)
    if payment.card_token == COMPENSATIONS_FAIL:
        raise GatewayError("processing_error", "The sandbox refuses to refund this payment.")
    if payment.status != "succeeded":
        raise GatewayError("charge_not_captured", "Only a captured payment is refunded.")
    if not 0 < amount <= payment.captured_amount - payment.refunded_amount:
        raise GatewayError("amount_too_large", "The refund exceeds what remains.")
    payment.refunded_amount += amount
    book.save(payment)
    return f"sbx_re_{uuid.uuid4().hex}"
