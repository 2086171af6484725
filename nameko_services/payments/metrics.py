"""What payments tell Prometheus: outcomes, and money captured and refunded (minor units),
read from the events a payment just saved and counted once their transaction commits."""
from __future__ import annotations

from collections.abc import Iterable

from nameko_services.common.aggregate import Change
from nameko_services.common.metrics import PAYMENT_AMOUNT, PAYMENTS
from nameko_services.payments import domain

OUTCOMES = {domain.PAYMENT_AUTHORISED: "authorised", domain.PAYMENT_FAILED: "failed",
            domain.PAYMENT_CAPTURED: "captured", domain.CAPTURE_FAILED: "capture_failed",
            domain.PAYMENT_VOIDED: "voided", domain.PAYMENT_REFUNDED: "refunded",
            domain.REFUND_FAILED: "refund_failed", domain.COMPENSATION_FAILED: "compensation_failed"}
MONEY = {domain.PAYMENT_CAPTURED: "captured", domain.PAYMENT_REFUNDED: "refunded"}


def observe(currency: str, saved: Iterable[Change]) -> None:
    for change in saved:
        if change.type in OUTCOMES:
            PAYMENTS.labels(OUTCOMES[change.type]).inc()
        if change.type in MONEY:
            PAYMENT_AMOUNT.labels(currency, MONEY[change.type]).inc(int(change.data["amount"]))
