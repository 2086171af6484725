"""marshmallow payloads in (RPC arguments, saga events); unknown fields are named and refused."""
from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, ValidationError, fields, post_load, validate, validates_schema

from nameko_services.common.limits import MAX_LINE_QUANTITY, MAX_PER_PAGE
from nameko_services.common.times import iso_utc
from nameko_services.common.validation import InputSchema, OrderChangesSchema, OrderSchema, Pattern
from nameko_services.orders.commands import ModifyOrder, OrderQuery, PlaceOrder, Reply
from nameko_services.orders.domain import STATUSES


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


class PlaceOrderSchema(OrderSchema):
    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PlaceOrder:
        return PlaceOrder(merge_items(data["items"]), data["shipping_address"], data["payment"]["token"],
                          data.get("note"))


class ModifyOrderSchema(OrderChangesSchema):
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


class NextActionSchema(InputSchema):
    """What the customer must do for a payment (``payment_action_required``): open a URL, ours
    (a path) or the provider's (https), which the storefront shows as it is."""

    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True, validate=validate.OneOf(["redirect"]))
    url = fields.String(required=True, validate=[validate.Length(max=2048), Pattern(
        r"^(?:/(?!/)|https://)[!-~]*$", error="Must be a path on this site or an https URL.")])


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
    captured_at = fields.AwareDateTime(load_default=None)
    next_action = fields.Nested(NextActionSchema, load_default=dict)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Reply:
        captured_at = data["captured_at"]
        return Reply(str(data["order_id"]), data["order_version"], data["payment_id"],
                     data.get("reason") or "", data["action"], data["refunded_total"], data["details"],
                     data["items"], "" if captured_at is None else iso_utc(captured_at),
                     dict(data["next_action"]))

