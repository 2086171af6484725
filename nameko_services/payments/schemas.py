"""Payloads in (marshmallow) and payments out (plain JSON dicts)."""
from __future__ import annotations

import re
from typing import Any

from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate

from nameko_services.common import limits
from nameko_services.common.errors import PaymentNotFound
from nameko_services.common.times import iso_utc
from nameko_services.common.validation import InputSchema, Pattern
from nameko_services.payments.commands import PaymentQuery, RequestPayment
from nameko_services.payments.domain import Payment

MAX_AMOUNT = limits.MAX_PAYMENT_AMOUNT


def _order_version() -> fields.Integer:
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class OrderEvent(InputSchema):
    class Meta:
        unknown = EXCLUDE  # events may grow fields

    order_id = fields.UUID(required=True)


class PaymentRequestedSchema(OrderEvent):
    order_version = _order_version()
    user_id = fields.UUID(required=True)
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT))
    currency = fields.String(required=True, validate=Pattern(r"^[A-Z]{3}$"))
    payment_token = fields.String(required=True,
                                  validate=validate.Length(min=1, max=limits.MAX_PAYMENT_TOKEN_LENGTH))
    capture_at_once = fields.Boolean(load_default=False, truthy={True}, falsy={False})

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RequestPayment:
        return RequestPayment(str(data["order_id"]), data["order_version"], str(data["user_id"]),
                              data["amount"], data["currency"], data["payment_token"],
                              data["capture_at_once"])


class CaptureRequestedSchema(OrderEvent):
    order_version = _order_version()
    payment_id = fields.UUID(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> tuple[str, int, str]:
        return str(data["order_id"]), data["order_version"], str(data["payment_id"])


class VoidRequestedSchema(OrderEvent):
    payment_id = fields.UUID(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> tuple[str, str]:
        return str(data["order_id"]), str(data["payment_id"])


class OrderCancelledSchema(OrderEvent):
    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> str:
        return str(data["order_id"])


class PaymentQuerySchema(InputSchema):
    order_id = fields.UUID(load_default=None, allow_none=True)
    page = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, strict=True,
                              validate=validate.Range(min=1, max=limits.MAX_PER_PAGE))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PaymentQuery:
        order_id = data["order_id"]
        return PaymentQuery(None if order_id is None else str(order_id), data["page"], data["per_page"])


class RefundSchema(InputSchema):
    payment_id = fields.UUID(required=True)
    amount = fields.Integer(load_default=None, allow_none=True, strict=True,
                            validate=validate.Range(min=1, max=MAX_AMOUNT))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> tuple[str, int | None]:
        return str(data["payment_id"]), data["amount"]


def payment_id(value: Any) -> str:
    """A payment id in canonical form; anything else simply does not exist."""
    try:
        return str(fields.UUID().deserialize(value))
    except ValidationError:
        raise PaymentNotFound(details={"payment_id": str(value)}) from None


SANDBOX_REFERENCE = re.compile(r"sbx_pi_[0-9a-f]{32}")


def sandbox_reference(value: Any) -> str:
    """A sandbox payment reference (``sbx_pi_`` and 32 hex digits); anything else does not exist."""
    if not isinstance(value, str) or not SANDBOX_REFERENCE.fullmatch(value):
        raise PaymentNotFound(details={"reference": "unknown"})
    return value


def dump_challenge(payment: Payment) -> dict[str, Any]:
    """What the challenge page may show (no ids beyond the payment's own)."""
    return {"payment_id": payment.id, "order_id": payment.order_id, "amount": payment.amount,
            "currency": payment.currency, "status": payment.status}


def dump_payment(payment: Payment) -> dict[str, Any]:
    """The public shape of a payment."""
    return {"id": payment.id, "order_id": payment.order_id, "status": payment.status,
            "amount": payment.amount, "currency": payment.currency,
            "refunded_amount": payment.refunded_amount, "provider": payment.provider,
            "needs_attention": payment.needs_attention, "next_action": payment.next_action,
            "created_at": iso_utc(payment.created_at) if payment.created_at else None,
            "updated_at": iso_utc(payment.updated_at) if payment.updated_at else None}

