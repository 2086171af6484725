"""The payment-gateway port: what the payments service asks of a card processor.

Errors are split by what the caller should do about them::

    GatewayError                 permanent: do not retry (bad request, unknown reference, auth)
    ├── PaymentDeclined          the card was refused (``reason``: declined | insufficient_funds)
    └── TransientGatewayError    try again with the same idempotency key (timeouts, 5xx, 429)

Every call carries an idempotency key: the same key always means the same
operation, so a retry after a timeout or a crash never charges twice.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

DECLINED = "declined"
INSUFFICIENT_FUNDS = "insufficient_funds"

T = TypeVar("T")


class GatewayError(Exception):
    """The provider refused the request for good (not a card decline)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message or code


class PaymentDeclined(GatewayError):
    """The card was declined; ``reason`` is ``declined`` or ``insufficient_funds``."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(reason, message or "The card was declined.")
        self.reason = reason


class TransientGatewayError(GatewayError):
    """The provider could not answer now (timeout, 5xx, rate limit): retry with the same key."""


@dataclass(frozen=True)
class Authorisation:
    """A successful authorisation: the provider's reference, for capturing or voiding it."""

    reference: str


class PaymentGateway(Protocol):
    """A card processor: authorise, then capture or void; refund what was captured."""

    name: str

    def authorise(self, amount: int, currency: str, token: str, idempotency_key: str) -> Authorisation:
        """Hold ``amount`` minor units on the card ``token``."""

    def capture(self, reference: str, amount: int, idempotency_key: str) -> None:
        """Take ``amount`` of an authorisation."""

    def void(self, reference: str, idempotency_key: str) -> None:
        """Release an authorisation that was not captured."""

    def refund(self, reference: str, amount: int, idempotency_key: str) -> str:
        """Give back ``amount`` of a captured payment; return the refund's reference."""


def with_retries(call: Callable[[], T], delays: Sequence[float],
                 sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``call``; after a ``TransientGatewayError`` wait each of ``delays`` in turn and try again.

    Other errors go straight through; the last transient error is raised when the
    delays are used up. The caller keeps the idempotency key the same across tries.
    """
    for delay in delays:
        try:
            return call()
        except TransientGatewayError:
            sleep(delay)
    return call()
