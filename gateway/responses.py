"""What the API answers: one marshmallow schema per document, for the OpenAPI document.

The services build their answers as plain JSON (``dump_*`` in each service's ``schemas.py``);
these schemas say the shape a client may rely on: every field here is always present (``null``
where ``allow_none``), answers may carry more (``unknown = INCLUDE``: a new field is no breaking
change). schemathesis checks live answers against them (tests/security/test_fuzz_openapi.py),
and tests/unit/gateway/test_openapi_document.py checks the services' dumps and each example.
"""
from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, validate

from gateway.schemas import ORDER_STATUSES
from nameko_services.common.validation import AddressSchema


def _always(field: type[fields.Field], **kwargs: Any) -> fields.Field:
    return field(required=True, **kwargs)


def _maybe(field: type[fields.Field], **kwargs: Any) -> fields.Field:
    return field(required=True, allow_none=True, **kwargs)


class Answer(Schema):
    class Meta:
        unknown = INCLUDE


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """``{items, total, page, per_page}`` of ``item`` (common.pagination)."""
    return Answer.from_dict({
        "items": _always(fields.List, cls_or_instance=fields.Nested(item)),
        "total": _always(fields.Integer, validate=validate.Range(min=0)),
        "page": _always(fields.Integer, validate=validate.Range(min=1)),
        "per_page": _always(fields.Integer, validate=validate.Range(min=1)),
    }, name=name)


class Address(AddressSchema):
    """An address as answered: every field present; old ones (before issue 13) may lack a name."""

    class Meta:
        unknown = INCLUDE

    name = fields.String(required=True, allow_none=True)
    line2 = fields.String(required=True, allow_none=True)
    region = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)


# --- users and auth -----------------------------------------------------------------------------

class User(Answer):
    id = _always(fields.UUID)
    email = _always(fields.Email)
    name = _always(fields.String)
    roles = _always(fields.List, cls_or_instance=fields.String())
    shipping_address = fields.Nested(Address, required=True, allow_none=True)
    created_at = _maybe(fields.DateTime)


class Token(Answer):
    """RFC 6749 §5.1; ``refresh_token`` only for a user's grant, never for client credentials."""

    access_token = _always(fields.String)
    token_type = _always(fields.String, validate=validate.OneOf(["Bearer"]))
    expires_in = _always(fields.Integer)
    refresh_token = fields.String()
    scope = _always(fields.String)


class Revoked(Answer):
    """RFC 7009: an empty object, whether the token existed or not."""


class Jwks(Answer):
    keys = _always(fields.List, cls_or_instance=fields.Dict())


# --- catalog ------------------------------------------------------------------------------------

class Category(Answer):
    id = _always(fields.UUID)
    name = _always(fields.String)
    slug = _always(fields.String)
    parent_id = _maybe(fields.UUID)
    active = _always(fields.Boolean, metadata={"description": "False: hidden from customers"})


class Product(Answer):
    id = _always(fields.UUID)
    sku = _always(fields.String)
    name = _always(fields.String)
    description = _always(fields.String)
    price = _always(fields.Integer, metadata={"description": "Minor units (1999 = 19.99)"})
    currency = _always(fields.String)
    category_id = _maybe(fields.UUID)
    active = _always(fields.Boolean)
    available = _always(fields.Integer, metadata={"description": "Units on hand not reserved"})
    created_at = _always(fields.DateTime)
    updated_at = _always(fields.DateTime)


class Stock(Answer):
    product_id = _always(fields.UUID)
    on_hand = _always(fields.Integer)
    reserved = _always(fields.Integer)
    available = _always(fields.Integer)


# --- orders and payments ------------------------------------------------------------------------

class OrderLine(Answer):
    product_id = _always(fields.UUID)
    name = _always(fields.String)
    unit_price = _always(fields.Integer)
    quantity = _always(fields.Integer)
    line_total = _always(fields.Integer)


class PendingModification(Answer):
    items = fields.List(fields.Nested(OrderLine))
    total = fields.Integer()
    currency = fields.String()
    shipping_address = fields.Nested(Address)


class PaymentAction(Answer):
    """What the customer must do for the payment to go on: open ``url`` (3-D Secure). The
    sandbox's is a path on this site (its challenge page), a provider's an https URL."""

    type = _always(fields.String, validate=validate.OneOf(["redirect"]))
    url = _always(fields.String)


class Order(Answer):
    id = _always(fields.UUID)
    user_id = _always(fields.UUID)
    status = _always(fields.String, validate=validate.OneOf(ORDER_STATUSES))
    cancellation_reason = _maybe(fields.String)
    items = _always(fields.List, cls_or_instance=fields.Nested(OrderLine))
    total = _always(fields.Integer)
    currency = _always(fields.String)
    shipping_address = fields.Nested(Address, required=True)
    note = _maybe(fields.String)
    pending_modification = fields.Nested(PendingModification, required=True, allow_none=True)
    payment_status = _always(fields.String)
    payment_action = fields.Nested(PaymentAction, required=True, allow_none=True, metadata={
        "description": "While the card needs the customer (3-D Secure): show them this step; the "
                       "order stays awaiting_payment until they pass (confirmed) or fail (cancelled "
                       "payment_failed), or its deadline passes (cancelled timed_out)"})
    needs_attention = _always(fields.Boolean)
    attention_reason = _maybe(fields.String)
    created_at = _always(fields.DateTime)
    updated_at = _always(fields.DateTime)


class Event(Answer):
    """One stored event of an order's or a payment's stream."""

    version = _always(fields.Integer, validate=validate.Range(min=1))
    type = _always(fields.String)
    data = _always(fields.Dict)
    occurred_at = _always(fields.DateTime)


class Payment(Answer):
    id = _always(fields.UUID)
    order_id = _always(fields.UUID)
    status = _always(fields.String)
    amount = _always(fields.Integer)
    currency = _always(fields.String)
    refunded_amount = _always(fields.Integer)
    provider = _always(fields.String)
    needs_attention = _always(fields.Boolean)
    next_action = fields.Nested(PaymentAction, required=True, allow_none=True,
                                metadata={"description": "While status is requires_action"})
    created_at = _maybe(fields.DateTime)
    updated_at = _maybe(fields.DateTime)


# --- operations ---------------------------------------------------------------------------------

class Health(Answer):
    status = _always(fields.String)


class Ready(Answer):
    status = _always(fields.String, validate=validate.OneOf(["ready", "unavailable"]))
    checks = _always(fields.Dict, keys=fields.String(), values=fields.String())


class ServicesHealth(Answer):
    status = _always(fields.String, validate=validate.OneOf(["ok", "degraded"]))
    services = _always(fields.Dict, keys=fields.String(), values=fields.String())


class OpenApiDocument(Answer):
    openapi = _always(fields.String)
    info = _always(fields.Dict)
    paths = _always(fields.Dict)


UserPage = page_of(User, "UserPage")
ProductPage = page_of(Product, "ProductPage")
OrderPage = page_of(Order, "OrderPage")
PaymentPage = page_of(Payment, "PaymentPage")
