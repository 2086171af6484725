"""Request bodies and query strings, validated at the edge (marshmallow, unknown fields refused).

These mirror what the services accept, so bad input is answered with a 422 naming
every field before it costs an RPC; the services validate again (they trust nobody). An order's
body is the orders service's own (``common.validation.OrderSchema``, ``OrderChangesSchema``).
"""
from __future__ import annotations

from marshmallow import fields, validate

from nameko_services.common.limits import (
    MAX_PAGE,
    MAX_PAYMENT_AMOUNT,
    MAX_PER_PAGE,
    MAX_PRICE,
    MAX_STOCK,
)
from nameko_services.common.validation import AddressSchema, InputSchema, Pattern, UuidString, text

MAX_QUANTITY = MAX_STOCK
ROLES = ("customer", "admin")
SLUG = Pattern(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", error="Use lower-case letters, digits and single dashes.")
SKU = Pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", error="Use 1-64 letters, digits, dots, dashes or underscores.")
CURRENCY = Pattern(r"^[A-Z]{3}$", error="Must be an ISO 4217 code such as EUR.")


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
    active = fields.Boolean(metadata={"description": "False hides the category from customers"})


class CategoryQuery(InputSchema):
    include_inactive = fields.Boolean(load_default=False)


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


class OrderQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))
    user_id = UuidString()


class PaymentQuery(PageQuery):
    order_id = UuidString()


class RefundBody(InputSchema):
    amount = fields.Integer(strict=True, allow_none=True,
                            validate=validate.Range(min=1, max=MAX_PAYMENT_AMOUNT))
