"""marshmallow payloads in (RPC arguments, saga events); unknown fields are named and refused."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate, validates_schema

from nameko_services.common.limits import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_LINES,
    MAX_ORDER_NOTE_LENGTH,
    MAX_PAYMENT_TOKEN_LENGTH,
    MAX_PER_PAGE,
)
from nameko_services.common.validation import AddressSchema, InputSchema, not_blank
from nameko_services.orders.commands import ModifyOrder, OrderQuery, PlaceOrder, Reply
from nameko_services.orders.domain import STATUSES


class ItemSchema(InputSchema):
    product_id = fields.UUID(required=True)
    quantity = fields.Integer(required=True, strict=True,
                              validate=validate.Range(min=1, max=MAX_LINE_QUANTITY))


class PaymentSchema(InputSchema):
    token = fields.String(required=True,
                          validate=[validate.Length(min=1, max=MAX_PAYMENT_TOKEN_LENGTH), not_blank])


def _items(**kwargs: Any) -> fields.List:
    return fields.List(fields.Nested(ItemSchema), validate=validate.Length(min=1, max=MAX_ORDER_LINES),
                       **kwargs)


def merge_items(items: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Duplicate product lines are merged (quantities added); the sum obeys the line limit."""
    merged: dict[str, int] = {}
    for item in items:
        product_id = str(item["product_id"])
        merged[product_id] = merged.get(product_id, 0) + item["quantity"]
    too_many = [pid for pid, quantity in merged.items() if quantity > MAX_LINE_QUANTITY]
    if too_many:
        raise ValidationError(f"At most {MAX_LINE_QUANTITY} units of a product per order "
                              f"(too many of {', '.join(too_many)}).", "items")
    return tuple({"product_id": pid, "quantity": quantity} for pid, quantity in merged.items())


class PlaceOrderSchema(InputSchema):
    items = _items(required=True)
    shipping_address = fields.Nested(AddressSchema, required=True)
    payment = fields.Nested(PaymentSchema, required=True)
    note = fields.String(allow_none=True, validate=validate.Length(max=MAX_ORDER_NOTE_LENGTH))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PlaceOrder:
        return PlaceOrder(merge_items(data["items"]), data["shipping_address"], data["payment"]["token"],
                          data.get("note"))


class ModifyOrderSchema(InputSchema):
    items = _items()
    shipping_address = fields.Nested(AddressSchema)

    @validates_schema
    def require_a_change(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Change items, shipping_address or both.", "_schema")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ModifyOrder:
        items = merge_items(data["items"]) if "items" in data else None
        return ModifyOrder(items, data.get("shipping_address"))


class PageSchema(InputSchema):
    page = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, strict=True,
                              validate=validate.Range(min=1, max=MAX_PER_PAGE))


class OrderQuerySchema(PageSchema):
    status = fields.String(allow_none=True, validate=validate.OneOf(STATUSES))
    user_id = fields.UUID(allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> OrderQuery:
        user_id = data.get("user_id")
        return OrderQuery(data.get("status"), None if user_id is None else str(user_id),
                          data["page"], data["per_page"])


class ReplySchema(InputSchema):
    """A catalog or payments event: the fields orders reads; the rest is theirs."""

    class Meta:
        unknown = EXCLUDE

    order_id = fields.UUID(required=True)
    order_version = fields.Integer(strict=True, load_default=0)
    payment_id = fields.String(load_default="", validate=validate.Length(max=64))
    reason = fields.String(load_default="", allow_none=True)
    action = fields.String(load_default="")
    refunded_total = fields.Integer(strict=True, load_default=0)
    details = fields.Dict(load_default=dict)
    items = fields.List(fields.Dict(), load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Reply:
        return Reply(str(data["order_id"]), data["order_version"], data["payment_id"],
                     data.get("reason") or "", data["action"], data["refunded_total"], data["details"],
                     data["items"])

