"""Pricing an order at the catalog's current prices, and the limits of an order's items."""
import pytest

from nameko_services.catalog import handlers
from nameko_services.catalog.commands import CreateProduct
from nameko_services.catalog.domain import Product, ReservedItem
from nameko_services.catalog.pricing import MAX_LINE_QUANTITY, MAX_ORDER_LINES, order_items, quote
from nameko_services.catalog.schemas import PriceItemsSchema
from nameko_services.common.auth import Principal
from nameko_services.common.errors import InvalidInput, ProductNotFound
from nameko_services.common.validation import load
from tests.unit.catalog.conftest import ADMIN

ORDERS = Principal(user_id="00000000-0000-4000-8000-00000000c001", roles=("customer",), service="orders")

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"


def product(pid, price=250, currency="EUR", active=True):
    return Product(pid, f"SKU-{pid[-1]}", f"Thing {pid[-1]}", price, currency, active=active)


def test_a_quote_prices_every_line_and_adds_them_up():
    priced = quote([ReservedItem(B, 1), ReservedItem(A, 3)],
                   {A: product(A, 250), B: product(B, 1000)})
    assert priced.currency == "EUR"
    assert [(line.product_id, line.unit_price, line.quantity, line.line_total) for line in priced.lines] == [
        (A, 250, 3, 750), (B, 1000, 1, 1000)]
    assert priced.total == 1750


def test_duplicate_lines_are_merged_before_pricing():
    priced = quote([ReservedItem(A, 2), ReservedItem(A, 3)], {A: product(A, 100)})
    assert [(line.quantity, line.line_total) for line in priced.lines] == [(5, 500)]


def test_unknown_and_inactive_products_are_not_found_and_all_named():
    with pytest.raises(ProductNotFound) as raised:
        quote([ReservedItem(A, 1), ReservedItem(B, 1)], {A: product(A, active=False)})
    assert raised.value.details == {"product_ids": [A, B]}


def test_products_priced_in_different_currencies_cannot_be_ordered_together():
    with pytest.raises(InvalidInput) as raised:
        quote([ReservedItem(A, 1), ReservedItem(B, 1)], {A: product(A), B: product(B, currency="USD")})
    assert "items" in raised.value.details


def test_merged_lines_may_not_exceed_the_quantity_limit():
    with pytest.raises(InvalidInput):
        order_items([ReservedItem(A, MAX_LINE_QUANTITY), ReservedItem(A, 1)])
    assert order_items([ReservedItem(A, MAX_LINE_QUANTITY)]) == (ReservedItem(A, MAX_LINE_QUANTITY),)


@pytest.mark.parametrize("items, field", [
    ([], "items"),
    ([{"product_id": A, "quantity": 0}], "items"),
    ([{"product_id": A, "quantity": MAX_LINE_QUANTITY + 1}], "items"),
    ([{"product_id": A, "quantity": "2"}], "items"),
    ([{"product_id": "mug", "quantity": 1}], "items"),
    ([{"product_id": A, "quantity": 1}] * (MAX_ORDER_LINES + 1), "items"),
])
def test_malformed_items_are_invalid(items, field):
    with pytest.raises(InvalidInput) as raised:
        load(PriceItemsSchema(), {"items": items})
    assert field in raised.value.details


def test_price_items_reads_the_catalogs_current_price(uow):
    mug = handlers.create_product(uow, ADMIN, lambda: CreateProduct("MUG", "Mug", 999, "EUR")).product
    handlers.update_product(uow, ADMIN, mug.id, lambda: {"price": 1299})
    priced = handlers.price_items(uow, ORDERS, lambda: (ReservedItem(mug.id, 2),))
    assert (priced.currency, priced.total) == ("EUR", 2598)
    assert (priced.lines[0].name, priced.lines[0].unit_price) == ("Mug", 1299)
