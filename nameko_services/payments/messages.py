"""What ``payments.events`` says about each new payment event (docs/SAGA.md)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nameko_services.common.aggregate import Message
from nameko_services.payments import domain

if TYPE_CHECKING:
    from nameko_services.payments.domain import Payment


def announcement(payment: Payment, event_type: str, data: Mapping[str, Any]) -> Message | None:
    """The ``payments.events`` message for one new event of ``payment``; None for bookkeeping."""
    ids = {"order_id": payment.order_id, "payment_id": payment.id}
    money = {"amount": payment.amount, "currency": payment.currency}
    if event_type == domain.PAYMENT_AUTHORISED and payment.capture_at_once:
        return None  # its capture follows at once: payment_captured (or payment_failed) answers
    if event_type == domain.PAYMENT_AUTHORISED:
        return Message("payment_authorised", {**ids, "order_version": payment.order_version, **money})
    if event_type == domain.PAYMENT_ACTION_REQUIRED:
        return Message("payment_action_required", {**ids, "order_version": payment.order_version,
                                                   "next_action": dict(data["next_action"])})
    if event_type == domain.PAYMENT_FAILED:
        return Message("payment_failed", {**ids, "order_version": payment.order_version,
                                          "reason": data["reason"], "message": data["message"]})
    if event_type == domain.PAYMENT_CAPTURED:
        return captured(payment, data["order_version"])
    if event_type == domain.CAPTURE_FAILED:
        return capture_failed(payment, data["order_version"], data["message"])
    if event_type == domain.PAYMENT_VOIDED:
        return voided(payment)
    if event_type == domain.PAYMENT_REFUNDED:
        return Message("payment_refunded", {**ids, "amount": data["amount"], "currency": payment.currency,
                                            "refunded_total": data["refunded_total"]})
    if event_type == domain.COMPENSATION_FAILED:
        return Message("payment_compensation_failed", {**ids, "action": data["action"],
                                                       "reason": data["reason"]})
    return None


def captured(payment: Payment, order_version: int) -> Message:
    payload: dict[str, Any] = {"order_id": payment.order_id, "order_version": order_version,
                               "payment_id": payment.id,
               "amount": payment.amount, "currency": payment.currency}
    if payment.captured_at:  # when the provider captured: orders times captured → confirmed from it
        payload["captured_at"] = payment.captured_at
    return Message("payment_captured", payload)


def capture_failed(payment: Payment, order_version: int, message: str) -> Message:
    return Message("payment_failed", {"order_id": payment.order_id, "order_version": order_version,
                                      "payment_id": payment.id, "reason": domain.CAPTURE_FAILED_REASON,
                                      "message": message})


def voided(payment: Payment) -> Message:
    return Message("payment_voided", {"order_id": payment.order_id, "payment_id": payment.id})
