"""Request bodies and query strings, validated at the edge (marshmallow, unknown fields refused).

These mirror what the services accept, so bad input is answered with a 422 naming
every field before it costs an RPC; the services validate again (they trust nobody).
"""
from __future__ import annotations

import uuid
from typing import Any

from marshmallow import fields, validate

from nameko_services.common.limits import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_LINES,
    MAX_ORDER_NOTE_LENGTH,
    MAX_PAGE,
    MAX_PAYMENT_AMOUNT,
    MAX_PAYMENT_TOKEN_LENGTH,
    MAX_PER_PAGE,
    MAX_PRICE,
    MAX_STOCK,
)
from nameko_services.common.validation import AddressSchema, InputSchema, Pattern, not_blank, text

MAX_QUANTITY = MAX_STOCK
ROLES = ("customer", "admin")
SLUG = Pattern(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Use lower-case letters, digits and single dashes.")
SKU = Pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", error="Use 1-64 letters, digits, dots, dashes or underscores.")
CURRENCY = Pattern(r"^[A-Z]{3}$", error="Must be an ISO 4217 code such as EUR.")


class UuidString(fields.String):
    """A UUID, passed on as its canonical string (RPC arguments are plain JSON)."""

    default_error_messages = {"invalid_uuid": "Not a valid UUID."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            raise self.make_error("invalid_uuid") from None


# --- users ------------------------------------------------------------------------------


class RegisterBody(InputSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    name = text(100, required=True)


class UpdateMeBody(InputSchema):
    name = text(100)
    shipping_address = fields.Nested(AddressSchema, allow_none=True)


class ChangePasswordBody(InputSchema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    new_password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RolesBody(InputSchema):
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=validate.Length(min=1, max=len(ROLES)))


class PageQuery(InputSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


# --- catalog ----------------------------------------------------------------------------


class CategoryBody(InputSchema):
    name = text(120, required=True)
    slug = fields.String(allow_none=True, validate=[validate.Length(max=120), SLUG])
    parent_id = UuidString(allow_none=True)


class CategoryChanges(InputSchema):
    name = text(120)
    slug = fields.String(validate=[validate.Length(max=120), SLUG])
    parent_id = UuidString(allow_none=True)


class ProductBody(InputSchema):
    sku = fields.String(required=True, validate=[validate.Length(min=1, max=64), SKU])
    name = text(200, required=True)
    description = fields.String(validate=validate.Length(max=10_000))
    price = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_PRICE))
    currency = fields.String(required=True, validate=CURRENCY)
    category_id = UuidString(allow_none=True)
    stock = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_QUANTITY))


class ProductChanges(InputSchema):
    sku = fields.String(validate=[validate.Length(min=1, max=64), SKU])
    name = text(200)
    description = fields.String(validate=validate.Length(max=10_000))
    price = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_PRICE))
    currency = fields.String(validate=CURRENCY)
    category_id = UuidString(allow_none=True)
    active = fields.Boolean()


class ProductQuery(PageQuery):
    category_id = UuidString()
    q = fields.String(validate=validate.Length(max=200))
    include_inactive = fields.Boolean(load_default=False)


class StockBody(InputSchema):
    on_hand = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_QUANTITY))


# --- orders and payments ----------------------------------------------------------------

ORDER_STATUSES = ("pending", "awaiting_payment", "confirmed", "shipped", "delivered", "cancelled")


class OrderItemBody(InputSchema):
    product_id = UuidString(required=True)
    quantity = fields.Integer(required=True, strict=True,
                              validate=validate.Range(min=1, max=MAX_LINE_QUANTITY))


class PaymentBody(InputSchema):
    token = fields.String(required=True,
                          validate=[validate.Length(min=1, max=MAX_PAYMENT_TOKEN_LENGTH), not_blank])


def _order_items(**kwargs: Any) -> fields.List:
    return fields.List(fields.Nested(OrderItemBody),
                       validate=validate.Length(min=1, max=MAX_ORDER_LINES), **kwargs)


class OrderBody(InputSchema):
    items = _order_items(required=True)
    shipping_address = fields.Nested(AddressSchema, required=True)
    payment = fields.Nested(PaymentBody, required=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=MAX_ORDER_NOTE_LENGTH))


class OrderChanges(InputSchema):
    items = _order_items()
    shipping_address = fields.Nested(AddressSchema)


class OrderQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))
    user_id = UuidString()


class PaymentQuery(PageQuery):
    order_id = UuidString()


class RefundBody(InputSchema):
    amount = fields.Integer(strict=True, allow_none=True,
                            validate=validate.Range(min=1, max=MAX_PAYMENT_AMOUNT))
