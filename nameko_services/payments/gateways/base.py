"""The payment-gateway port: what the payments service asks of a card processor.

Errors are split by what the caller should do about them::

    GatewayError                 permanent: do not retry (bad request, unknown reference, auth)
    ├── PaymentDeclined          the card was refused (``reason``: declined | insufficient_funds |
    │                            authentication_failed, when the customer failed 3-D Secure)
    ├── ActionStillRequired      the customer has not answered the card's challenge yet
    └── TransientGatewayError    try again with the same idempotency key (timeouts, 5xx, 429)

A card that needs the customer (3-D Secure, Stripe's ``requires_action``) is no error: ``authorise``
answers an ``Authorisation`` with the ``action`` the customer must take, and ``confirm`` later
asks the provider how the customer's answer went.

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
AUTHENTICATION_FAILED = "authentication_failed"
REDIRECT = "redirect"  # the one kind of customer action: open ``url``, answer there

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


class ActionStillRequired(GatewayError):
    """The customer has not passed or failed the card's challenge yet: ask again later."""

    def __init__(self, message: str = "The customer has not answered the challenge yet.") -> None:
        super().__init__("requires_action", message)


@dataclass(frozen=True)
class Authorisation:
    """An authorisation: the provider's reference, for capturing or voiding it.

    With ``action`` (``{"type": "redirect", "url": ...}``) it is not authorised yet: the customer
    must answer the card's challenge first (``PaymentGateway.confirm`` tells how it went).
    """

    reference: str
    action: dict[str, str] | None = None


class PaymentGateway(Protocol):
    """A card processor: authorise, then capture or void; refund what was captured."""

    name: str

    def authorise(self, amount: int, currency: str, token: str, idempotency_key: str) -> Authorisation:
        """Hold ``amount`` minor units on the card ``token`` (or say what the customer must do first)."""

    def confirm(self, reference: str) -> Authorisation:
        """After the customer's challenge: the authorisation, ``PaymentDeclined`` if they failed it,
        ``ActionStillRequired`` if they have not answered. Reads only: no idempotency key."""

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
