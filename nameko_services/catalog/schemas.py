"""Payloads in (marshmallow, unknown fields refused) and answers out (plain JSON dicts)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from nameko_services.catalog import domain, pricing
from nameko_services.catalog.commands import (
    AdjustReservation,
    CreateCategory,
    CreateProduct,
    ProductQuery,
    ProductView,
    ReserveStock,
)
from nameko_services.common import validation
from nameko_services.common.errors import InvalidInput, ProductNotFound
from nameko_services.common.validation import InputSchema, text


def rule(check: Callable[[Any], Any]) -> Callable[[Any], None]:
    """A marshmallow validator made of a domain rule that raises ``InvalidInput``."""
    def validator(value: Any) -> None:
        try:
            check(value)
        except InvalidInput as error:
            raise ValidationError([m for msgs in error.details.values() for m in msgs]) from None
    return validator


def _uuid_str(value: Any) -> str | None:
    return None if value is None else str(value)


class CreateCategorySchema(InputSchema):
    name = text(120, required=True)
    slug = fields.String(allow_none=True, validate=rule(domain.validate_slug))
    parent_id = fields.UUID(allow_none=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CreateCategory:
        return CreateCategory(data["name"].strip(), data.get("slug"), _uuid_str(data.get("parent_id")))


class UpdateCategorySchema(InputSchema):
    name = text(120)
    slug = fields.String(validate=rule(domain.validate_slug))
    parent_id = fields.UUID(allow_none=True)
    active = fields.Boolean()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "parent_id" in data:
            data["parent_id"] = _uuid_str(data["parent_id"])
        return data


def _product_fields(required: bool) -> dict[str, fields.Field]:
    return {
        "sku": fields.String(required=required, validate=rule(domain.validate_sku)),
        "name": text(200, required=required),
        "description": fields.String(validate=validate.Length(max=10_000)),
        "price": fields.Integer(strict=True, required=required, validate=rule(domain.validate_price)),
        "currency": fields.String(required=required, validate=rule(domain.validate_currency)),
        "category_id": fields.UUID(allow_none=True),
    }


def _clean_product(data: dict[str, Any]) -> dict[str, Any]:
    if "category_id" in data:
        data["category_id"] = _uuid_str(data["category_id"])
    return {key: value.strip() if key in ("sku", "name") else value for key, value in data.items()}


class CreateProductSchema(InputSchema.from_dict(_product_fields(required=True))):  # type: ignore[misc]
    stock = fields.Integer(strict=True, validate=rule(lambda n: domain.validate_quantity(n, "stock")))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CreateProduct:
        return CreateProduct(**_clean_product(data))


class UpdateProductSchema(InputSchema.from_dict(_product_fields(required=False))):  # type: ignore[misc]
    active = fields.Boolean()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _clean_product(data)


class ProductQuerySchema(InputSchema):
    category_id = fields.String(allow_none=True)
    q = fields.String(allow_none=True, validate=validate.Length(max=200))
    page = fields.Integer()
    per_page = fields.Integer()
    include_inactive = fields.Boolean()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ProductQuery:
        return ProductQuery(**data)


class ReservedItemSchema(InputSchema):
    product_id = fields.String(required=True)
    quantity = fields.Integer(strict=True, required=True,
                              validate=validate.Range(min=1, max=domain.MAX_QUANTITY))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> domain.ReservedItem:
        return domain.ReservedItem(domain.parse_id(data["product_id"], ProductNotFound), data["quantity"])


def _order_version(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1), **kwargs)


class OrderPlacedSchema(InputSchema):
    """``orders.order_placed``: the catalog reads the order, its version and its items."""

    class Meta:
        unknown = EXCLUDE

    order_id = fields.UUID(required=True)
    order_version = _order_version(required=True)
    items = fields.List(fields.Nested(ReservedItemSchema), required=True,
                        validate=validate.Length(min=1, max=100))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ReserveStock:
        return ReserveStock(str(data["order_id"]), domain.merge_items(data["items"]), data["order_version"])


class OrderChangedSchema(InputSchema):
    """``orders.order_confirmed`` / ``orders.order_cancelled``: which order, at which version."""

    class Meta:
        unknown = EXCLUDE

    order_id = fields.UUID(required=True)
    order_version = _order_version(required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> tuple[str, int]:
        return str(data["order_id"]), data["order_version"]


class OrderLineSchema(validation.OrderItemSchema):
    """One line of an order as the orders service sends it, as the item it reserves."""

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> domain.ReservedItem:
        return domain.ReservedItem(data["product_id"], data["quantity"])


def _order_items() -> fields.List:
    return validation.order_items(OrderLineSchema, required=True)


class PriceItemsSchema(InputSchema):
    items = _order_items()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> tuple[domain.ReservedItem, ...]:
        return tuple(data["items"])


class StockAdjustmentRequestedSchema(Schema):
    """``orders.stock_adjustment_requested``: the items a modification asks for, and the old ones."""

    class Meta:
        unknown = EXCLUDE

    order_id = fields.UUID(required=True)
    order_version = _order_version(required=True)
    items = _order_items()
    current_items = _order_items()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AdjustReservation:
        return AdjustReservation(str(data["order_id"]), data["order_version"], tuple(data["items"]),
                                 tuple(data["current_items"]))


# --- answers -------------------------------------------------------------------------


def dump_category(category: domain.Category) -> dict[str, Any]:
    return {"id": category.id, "name": category.name, "slug": category.slug,
            "parent_id": category.parent_id, "active": category.active}


def dump_product(view: ProductView) -> dict[str, Any]:
    product = view.product
    return {"id": product.id, "sku": product.sku, "name": product.name,
            "description": product.description, "price": product.price,
            "currency": product.currency, "category_id": product.category_id,
            "active": product.active, "available": view.stock.available,
            "created_at": product.created_at.isoformat(), "updated_at": product.updated_at.isoformat()}


def dump_stock(level: domain.StockLevel) -> dict[str, Any]:
    return {"product_id": level.product_id, "on_hand": level.on_hand, "reserved": level.reserved,
            "available": level.available}


def dump_quote(quote: pricing.Quote) -> dict[str, Any]:
    return {"currency": quote.currency, "total": quote.total,
            "items": [{"product_id": line.product_id, "name": line.name, "unit_price": line.unit_price,
                       "quantity": line.quantity, "line_total": line.line_total} for line in quote.lines]}

