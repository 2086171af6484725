"""An order's body is one definition (common.validation), read by the gateway, orders and the catalog."""
import uuid

import pytest

from gateway.routes import orders as order_routes
from nameko_services.catalog import schemas as catalog_schemas
from nameko_services.common.errors import InvalidInput
from nameko_services.common.limits import MAX_LINE_QUANTITY, MAX_ORDER_LINES
from nameko_services.common.validation import OrderChangesSchema, OrderItemSchema, OrderSchema, load
from nameko_services.orders import schemas as orders_schemas


def test_the_gateway_and_the_orders_service_take_the_same_order_bodies():
    bodies = {(e.method, e.path): e.body for e in order_routes.ENDPOINTS}
    assert bodies[("POST", "/api/v1/orders")] is OrderSchema
    assert bodies[("PATCH", "/api/v1/orders/{order_id}")] is OrderChangesSchema
    assert issubclass(orders_schemas.PlaceOrderSchema, OrderSchema)
    assert issubclass(orders_schemas.ModifyOrderSchema, OrderChangesSchema)
    assert issubclass(catalog_schemas.OrderLineSchema, OrderItemSchema)


@pytest.mark.parametrize(("items", "field"), [
    ([], "items"), ([{"product_id": str(uuid.uuid4()), "quantity": 1}] * (MAX_ORDER_LINES + 1), "items"),
    ([{"product_id": str(uuid.uuid4()), "quantity": MAX_LINE_QUANTITY + 1}], "items"),
    ([{"product_id": "nope", "quantity": 1}], "items")])
def test_the_line_limits_hold_for_every_reader(items, field):
    readers = (OrderChangesSchema(), orders_schemas.ModifyOrderSchema(), catalog_schemas.PriceItemsSchema())
    for schema in readers:
        with pytest.raises(InvalidInput) as raised:
            load(schema, {"items": items})
        assert field in raised.value.details


def test_a_product_id_is_passed_on_as_its_canonical_string():
    product = uuid.uuid4()
    loaded = load(OrderChangesSchema(), {"items": [{"product_id": str(product).upper(), "quantity": 2}]})
    assert loaded["items"] == [{"product_id": str(product), "quantity": 2}]
