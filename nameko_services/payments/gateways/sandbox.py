"""An in-process sandbox processor: no network, scripted by the card token (API.md).

Tokens: ``tok_visa`` succeeds; ``tok_chargeDeclined`` is declined;
``tok_chargeDeclinedInsufficientFunds`` is declined for insufficient funds;
``tok_processingError`` fails transiently on every attempt (the payment fails with
``processing_error`` once the retries are used up); ``tok_processingErrorOnce`` fails
transiently on the first attempt of an idempotency key and succeeds on the retry;
``tok_refundFail`` authorises and captures, but every void and refund of it fails
(to exercise ``payment_compensation_failed``).

It is a sandbox: its state is a dict in this process, lost on restart, so only
development and tests use it. Within the process it behaves like a processor: the
same idempotency key gives the same answer and never a second charge, and capture,
void and refund check the authorisation's state.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from nameko_services.payments.gateways.base import (
    DECLINED,
    INSUFFICIENT_FUNDS,
    Authorisation,
    GatewayError,
    PaymentDeclined,
    TransientGatewayError,
)

T = TypeVar("T")

SUCCEEDS = "tok_visa"
DECLINES = {"tok_chargeDeclined": DECLINED, "tok_chargeDeclinedInsufficientFunds": INSUFFICIENT_FUNDS}
ALWAYS_TRANSIENT = "tok_processingError"
TRANSIENT_ONCE = "tok_processingErrorOnce"
COMPENSATIONS_FAIL = "tok_refundFail"
KNOWN_TOKENS = frozenset({SUCCEEDS, ALWAYS_TRANSIENT, TRANSIENT_ONCE, COMPENSATIONS_FAIL, *DECLINES})


@dataclass
class SandboxIntent:
    """One authorisation held by the sandbox."""

    reference: str
    amount: int
    currency: str
    token: str
    status: str = "requires_capture"  # -> succeeded (captured) | canceled (voided)
    captured: int = 0
    refunded: int = 0


class SandboxGateway:
    """The sandbox processor (one per service process)."""

    name = "sandbox"

    def __init__(self) -> None:
        self.intents: dict[str, SandboxIntent] = {}
        self._answers: dict[str, Any] = {}  # idempotency key -> result, or a permanent error
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.charges = 0  # authorisations actually made (tests check that retries add none)

    def authorise(self, amount: int, currency: str, token: str, idempotency_key: str) -> Authorisation:
        return self._once(idempotency_key, lambda: self._authorise(amount, currency, token, idempotency_key))

    def capture(self, reference: str, amount: int, idempotency_key: str) -> None:
        self._once(idempotency_key, lambda: self._capture(reference, amount))

    def void(self, reference: str, idempotency_key: str) -> None:
        self._once(idempotency_key, lambda: self._void(reference))

    def refund(self, reference: str, amount: int, idempotency_key: str) -> str:
        return self._once(idempotency_key, lambda: self._refund(reference, amount))

    def _once(self, key: str, operation: Callable[[], T]) -> T:
        """Answer a repeated key with the first answer; transient failures are not remembered."""
        with self._lock:
            if key not in self._answers:
                try:
                    self._answers[key] = operation()
                except TransientGatewayError:
                    raise
                except GatewayError as error:
                    self._answers[key] = error
            answer = self._answers[key]
        if isinstance(answer, GatewayError):
            raise answer
        return cast(T, answer)

    def _authorise(self, amount: int, currency: str, token: str, key: str) -> Authorisation:
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        if token == ALWAYS_TRANSIENT or (token == TRANSIENT_ONCE and attempt == 1):
            raise TransientGatewayError("processing_error", "The sandbox processor is unavailable.")
        if token in DECLINES:
            raise PaymentDeclined(DECLINES[token], "The sandbox declined the card.")
        if token not in KNOWN_TOKENS:
            raise GatewayError("invalid_token", f"Unknown sandbox token {token!r}.")
        if amount <= 0:
            raise GatewayError("invalid_amount", "The amount must be positive.")
        reference = f"sbx_pi_{uuid.uuid4().hex}"
        self.intents[reference] = SandboxIntent(reference, amount, currency, token)
        self.charges += 1
        return Authorisation(reference)

    def _intent(self, reference: str) -> SandboxIntent:
        intent = self.intents.get(reference)
        if intent is None:
            raise GatewayError("resource_missing", f"No payment {reference!r}.")
        return intent

    def _capture(self, reference: str, amount: int) -> None:
        intent = self._intent(reference)
        if intent.status != "requires_capture":
            raise GatewayError("payment_intent_unexpected_state", f"The payment is {intent.status}.")
        if not 0 < amount <= intent.amount:
            raise GatewayError("amount_too_large", "The capture exceeds the authorisation.")
        intent.status, intent.captured = "succeeded", amount

    def _void(self, reference: str) -> None:
        intent = self._intent(reference)
        if intent.token == COMPENSATIONS_FAIL:
            raise GatewayError("processing_error", "The sandbox refuses to void this payment.")
        if intent.status != "requires_capture":
            raise GatewayError("payment_intent_unexpected_state", f"The payment is {intent.status}.")
        intent.status = "canceled"

    def _refund(self, reference: str, amount: int) -> str:
        intent = self._intent(reference)
        if intent.token == COMPENSATIONS_FAIL:
            raise GatewayError("processing_error", "The sandbox refuses to refund this payment.")
        if intent.status != "succeeded":
            raise GatewayError("charge_not_captured", "Only a captured payment is refunded.")
        if not 0 < amount <= intent.captured - intent.refunded:
            raise GatewayError("amount_too_large", "The refund exceeds what remains.")
        intent.refunded += amount
        return f"sbx_re_{uuid.uuid4().hex}"
