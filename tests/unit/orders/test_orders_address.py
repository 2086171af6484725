"""The shipping address of an order: the one address rule of the platform (common.validation)."""
import pytest

from nameko_services.common.errors import InvalidInput
from nameko_services.common.validation import load
from nameko_services.orders import schemas
from nameko_services.orders.domain import ORDER_PLACED
from nameko_services.orders.order import Order
from nameko_services.orders.projection import document
from tests.unit.orders.builders import ADDRESS, DEADLINE, ORDER, PRODUCT, T0, USER, placing, priced


def body(**address):
    return {"items": [{"product_id": PRODUCT, "quantity": 1}], "shipping_address": dict(ADDRESS, **address),
            "payment": {"token": "tok_visa"}}


@pytest.mark.parametrize("country", ["ZZ", "XX", "US\n", "us", "DEU"])
def test_an_order_to_a_country_that_does_not_exist_is_invalid_input_naming_the_country(country):
    with pytest.raises(InvalidInput) as raised:
        load(schemas.PlaceOrderSchema(), body(country=country))
    assert list(raised.value.details["shipping_address"]) == ["country"]


def test_a_modified_address_obeys_the_same_rule():
    with pytest.raises(InvalidInput) as raised:
        load(schemas.ModifyOrderSchema(), {"shipping_address": dict(ADDRESS, country="XX")})
    assert "country" in raised.value.details["shipping_address"]


@pytest.mark.parametrize("field", ["name", "line1", "line2", "city", "region", "postal_code", "phone"])
def test_a_lone_surrogate_in_an_address_line_is_invalid_input_naming_it(field):
    with pytest.raises(InvalidInput) as raised:
        load(schemas.PlaceOrderSchema(), body(**{field: "x\ud800"}))
    assert list(raised.value.details["shipping_address"]) == [field]


def test_an_address_is_passed_on_with_every_field():
    assert load(schemas.PlaceOrderSchema(), body()).shipping_address == {
        **ADDRESS, "line2": None, "region": None, "phone": None}


def test_an_order_placed_before_addresses_had_a_name_still_folds_and_shows_its_address():
    old_address = {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    [placed_event] = placing(ORDER, USER, priced(), ADDRESS, "tok_visa", DEADLINE).events
    old_data = {**placed_event.data, "shipping_address": old_address}
    order = Order.from_history(ORDER, [(ORDER_PLACED, old_data, 1, T0)])
    assert document(order)["shipping_address"] == {**old_address, "name": None, "line2": None,
                                                   "region": None, "phone": None}
