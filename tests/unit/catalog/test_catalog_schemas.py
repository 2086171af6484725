"""Catalog payloads: unknown fields refused, every bad field named, answers plain JSON."""
import json

import pytest

from nameko_services.catalog import schemas
from nameko_services.catalog.commands import CreateProduct, ProductView
from nameko_services.catalog.domain import Product, ReservedItem, StockLevel
from nameko_services.common.errors import InvalidInput, ProductNotFound
from nameko_services.common.validation import load

ORDER = "6c0f4b3e-8d2c-4b9a-9a55-1f0b6f1e1a11"
PRODUCT = "0b1d5d5e-0000-4000-8000-000000000001"


def problems(schema, payload):
    with pytest.raises(InvalidInput) as raised:
        load(schema, payload)
    return raised.value.details


def test_a_product_payload_becomes_a_create_product_command():
    command = load(schemas.CreateProductSchema(),
                           {"sku": " MUG-1 ", "name": "Mug", "price": 999, "currency": "EUR"})
    assert command == CreateProduct(sku="MUG-1", name="Mug", price=999, currency="EUR")


def test_every_invalid_product_field_is_named_at_once():
    details = problems(schemas.CreateProductSchema(), {
        "sku": "a b", "name": " ", "price": 9.99, "currency": "eur", "stock": -1, "colour": "red"})
    assert set(details) == {"sku", "name", "price", "currency", "stock", "colour"}
    assert details["colour"] == ["Unknown field."]


def test_a_missing_payload_names_the_required_fields():
    assert set(problems(schemas.CreateProductSchema(), None)) == {"sku", "name", "price", "currency"}


def test_stock_cannot_be_changed_through_a_product_update():
    assert "stock" in problems(schemas.UpdateProductSchema(), {"stock": 5})


def test_a_category_parent_must_be_a_uuid():
    assert "parent_id" in problems(schemas.CreateCategorySchema(), {"name": "x", "parent_id": "7"})


def order_placed(*items):
    return {"order_id": ORDER, "order_version": 1, "items": list(items)}


def test_a_reservation_payload_merges_lines_of_the_same_product():
    command = load(schemas.OrderPlacedSchema(), order_placed(
        {"product_id": PRODUCT.upper(), "quantity": 1}, {"product_id": PRODUCT, "quantity": 2}))
    assert command.items == (ReservedItem(PRODUCT, 3),)


def test_reservation_errors_for_nested_items_are_keyed_by_string_positions():
    details = problems(schemas.OrderPlacedSchema(), order_placed({"product_id": PRODUCT, "quantity": 0}))
    assert list(details["items"]) == ["0"]
    json.dumps(details)


def test_an_empty_reservation_is_invalid():
    assert "items" in problems(schemas.OrderPlacedSchema(), order_placed())


def test_a_reservation_of_a_malformed_product_id_is_not_found():
    with pytest.raises(ProductNotFound):
        load(schemas.OrderPlacedSchema(), order_placed({"product_id": "mug", "quantity": 1}))


def test_a_product_answer_is_plain_json_with_its_available_stock():
    product = Product(PRODUCT, "MUG-1", "Mug", 999, "EUR")
    answer = schemas.dump_product(ProductView(product, StockLevel(PRODUCT, on_hand=5, reserved=2)))
    assert answer["available"] == 3
    assert set(answer) == {"id", "sku", "name", "description", "price", "currency", "category_id",
                           "active", "available", "created_at", "updated_at"}
    assert json.loads(json.dumps(answer))["created_at"].endswith("+00:00")


@pytest.mark.parametrize("field", ["name", "description", "sku"])
def test_a_lone_surrogate_in_a_product_field_is_invalid_input_naming_it(field):
    payload = {"sku": "MUG-1", "name": "Mug", "price": 999, "currency": "EUR", field: "mug\ud800"}
    assert field in problems(schemas.CreateProductSchema(), payload)
    assert field in problems(schemas.UpdateProductSchema(), {field: "mug\ud800"})


def test_a_lone_surrogate_in_a_category_name_is_invalid_input_naming_it():
    assert "name" in problems(schemas.CreateCategorySchema(), {"name": "Kitchen\udc00"})


@pytest.mark.parametrize(("schema", "payload", "field"), [
    (schemas.CreateProductSchema, {"sku": "abc\n", "name": "Mug", "price": 1, "currency": "EUR"}, "sku"),
    (schemas.UpdateProductSchema, {"sku": "abc\n"}, "sku"),
    (schemas.CreateCategorySchema, {"name": "Kitchen", "slug": "kitchen\n"}, "slug"),
    (schemas.UpdateCategorySchema, {"slug": "kitchen\n"}, "slug"),
])
def test_a_trailing_newline_never_satisfies_a_pattern(schema, payload, field):
    assert field in problems(schema(), payload)
