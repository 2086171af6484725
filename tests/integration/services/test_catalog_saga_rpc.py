"""The RPC the orders service calls during the saga: price_items (stock moves only through events)."""
import uuid

import pytest

from nameko_services.common.errors import InvalidInput, PermissionDenied, ProductNotFound
from tests.integration.services.catalog_support import CUSTOMER, service_token


def make(admin, sku, price=999, currency="EUR", stock=10):
    return admin("create_product", {"sku": sku, "name": sku.title(), "price": price, "currency": currency,
                                    "stock": stock})


def lines(*pairs):
    return [{"product_id": p["id"], "quantity": q} for p, q in pairs]


# --- price_items -----------------------------------------------------------------------

def test_price_items_prices_merged_lines_at_the_current_prices(admin, orders):
    mug, bowl = make(admin, "mug", 999), make(admin, "bowl", 1500)
    admin("update_product", mug["id"], {"price": 1099})
    quote = orders("price_items", lines((mug, 1), (bowl, 2), (mug, 2)))
    assert quote["currency"] == "EUR" and quote["total"] == 3 * 1099 + 2 * 1500
    assert sorted(quote["items"], key=lambda line: line["name"]) == [
        {"product_id": bowl["id"], "name": "Bowl", "unit_price": 1500, "quantity": 2, "line_total": 3000},
        {"product_id": mug["id"], "name": "Mug", "unit_price": 1099, "quantity": 3, "line_total": 3297}]


def test_price_items_names_every_unknown_or_inactive_product(admin, orders):
    mug, gone = make(admin, "mug"), make(admin, "gone")
    admin("deactivate_product", gone["id"])
    ghost = {"id": str(uuid.uuid4())}
    with pytest.raises(ProductNotFound) as raised:
        orders("price_items", lines((mug, 1), (gone, 1), (ghost, 1)))
    assert sorted(raised.value.details["product_ids"]) == sorted([gone["id"], ghost["id"]])


def test_price_items_refuses_mixed_currencies_and_malformed_items(admin, orders):
    eur, usd = make(admin, "eur", currency="EUR"), make(admin, "usd", currency="USD")
    with pytest.raises(InvalidInput):
        orders("price_items", lines((eur, 1), (usd, 1)))
    for items in ([], lines((eur, 0)), lines((eur, 101)), [{"product_id": "mug", "quantity": 1}],
                  lines(*[(eur, 1)] * 51)):
        with pytest.raises(InvalidInput):
            orders("price_items", items)


def test_price_items_is_for_the_orders_service_shopctl_and_admins(call, admin, catalog):
    items = lines((make(admin, "mug"), 1))
    assert admin("price_items", items)["total"] == 999
    assert call("catalog", "price_items", items, token=service_token("shopctl"))["total"] == 999
    with pytest.raises(PermissionDenied):
        call("catalog", "price_items", items, as_user=CUSTOMER)
    with pytest.raises(PermissionDenied):
        call("catalog", "price_items", items, token=service_token("payments"))
