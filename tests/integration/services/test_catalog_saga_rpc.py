"""The RPCs the orders service calls during the saga: price_items and adjust_reservation."""
import uuid

import pytest
from sqlalchemy import text

from nameko_services.common.errors import (
    Conflict,
    InvalidInput,
    OutOfStock,
    PermissionDenied,
    ProductNotFound,
)
from tests.integration.services.catalog_support import CUSTOMER, call_concurrently, service_token


def make(admin, sku, price=999, currency="EUR", stock=10):
    return admin("create_product", {"sku": sku, "name": sku.title(), "price": price, "currency": currency,
                                    "stock": stock})


def lines(*pairs):
    return [{"product_id": p["id"], "quantity": q} for p, q in pairs]


def stock(admin, product):
    return admin("get_stock", product["id"])


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


# --- adjust_reservation ----------------------------------------------------------------

def test_adjusting_replaces_the_reserved_items_and_moves_the_stock(admin, orders):
    mug, bowl, order = make(admin, "mug"), make(admin, "bowl"), str(uuid.uuid4())
    orders("reserve_stock", order, lines((mug, 3)))
    adjusted = orders("adjust_reservation", order, 2, lines((bowl, 2), (mug, 1)))
    assert adjusted["order_version"] == 2 and adjusted["status"] == "reserved"
    assert sorted(adjusted["items"], key=lambda i: i["product_id"]) == sorted(
        lines((mug, 1), (bowl, 2)), key=lambda i: i["product_id"])
    assert (stock(admin, mug)["reserved"], stock(admin, bowl)["reserved"]) == (1, 2)


def test_an_adjustment_beyond_the_stock_keeps_the_old_reservation(admin, orders):
    mug, order = make(admin, "mug", stock=5), str(uuid.uuid4())
    before = orders("adjust_reservation", order, 1, lines((mug, 3)))
    with pytest.raises(OutOfStock) as raised:
        orders("adjust_reservation", order, 2, lines((mug, 6)))
    assert raised.value.details["items"] == [{"product_id": mug["id"], "requested": 6, "available": 5}]
    assert orders("adjust_reservation", order, 1, lines((mug, 3))) == before
    assert stock(admin, mug)["reserved"] == 3


def test_adjusting_is_idempotent_per_version_and_ignores_older_versions(admin, orders):
    mug, order = make(admin, "mug"), str(uuid.uuid4())
    first = orders("adjust_reservation", order, 3, lines((mug, 2)))
    assert orders("adjust_reservation", order, 3, lines((mug, 2))) == first
    assert orders("adjust_reservation", order, 2, lines((mug, 9))) == first
    assert orders("reserve_stock", order, lines((mug, 1)), 1)["items"] == lines((mug, 2))
    assert stock(admin, mug)["reserved"] == 2


def test_a_committed_or_released_reservation_cannot_be_adjusted(admin, orders):
    mug, committed, released = make(admin, "mug"), str(uuid.uuid4()), str(uuid.uuid4())
    for order in (committed, released):
        orders("reserve_stock", order, lines((mug, 1)))
    orders("commit_stock", committed)
    orders("release_stock", released)
    for order in (committed, released):
        with pytest.raises(Conflict):
            orders("adjust_reservation", order, 2, lines((mug, 2)))
    assert stock(admin, mug) == {"product_id": mug["id"], "on_hand": 9, "reserved": 0, "available": 9}


def test_a_malformed_adjustment_is_invalid(admin, orders):
    mug = make(admin, "mug")
    with pytest.raises(InvalidInput) as raised:
        orders("adjust_reservation", "order-1", 0, lines((mug, 0)))
    assert set(raised.value.details) == {"order_id", "order_version", "items"}


# --- concurrency -----------------------------------------------------------------------

@pytest.mark.slow
def test_adjustments_racing_new_reservations_neither_deadlock_nor_lose_count(rabbit_config, two_catalogs,
                                                                             admin, orders, core_db):
    mug, bowl = make(admin, "mug", stock=10), make(admin, "bowl", stock=10)
    held = [str(uuid.uuid4()) for _ in range(10)]
    for order in held:
        orders("reserve_stock", order, lines((mug, 1)))
    # Each held order moves to a bowl and a mug (locks on both rows) while new orders want mugs.
    calls = [("adjust_reservation", (order, 2, lines((bowl, 1), (mug, 1))[::1 if n % 2 else -1]))
             for n, order in enumerate(held)]
    calls += [("reserve_stock", (str(uuid.uuid4()), lines((mug, 1)))) for _ in range(10)]
    outcomes = call_concurrently(rabbit_config, calls)
    unexpected = [o for o in outcomes if not isinstance(o, (dict, OutOfStock))]
    assert unexpected == []
    assert all(isinstance(o, dict) for o in outcomes[:10])  # an adjustment keeps its own mug
    assert sum(isinstance(o, OutOfStock) for o in outcomes[10:]) == 10
    with core_db.connect() as conn:
        held_units = dict(conn.execute(text(
            "SELECT i.product_id::text, sum(i.quantity) FROM stock_reservation_items i "
            "JOIN stock_reservations r USING (order_id) WHERE r.status = 'reserved' GROUP BY 1")).all())
    assert held_units == {mug["id"]: 10, bowl["id"]: 10}
    assert stock(admin, mug)["reserved"] == stock(admin, bowl)["reserved"] == 10
