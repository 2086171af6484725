"""What the payments service is asked: orders' payment requests and payment queries. Pure."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestPayment:
    """``orders.payment_requested``."""

    order_id: str
    order_version: int
    user_id: str
    amount: int
    currency: str
    payment_token: str
    capture_at_once: bool = False  # capture as soon as authorised (schema 1.1; 1.0 asks by capture_requested)


@dataclass(frozen=True)
class PaymentQuery:
    """A page of payments, optionally of one order."""

    order_id: str | None = None
    page: int = 1
    per_page: int = 20
