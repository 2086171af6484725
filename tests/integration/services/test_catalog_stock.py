"""Stock over RabbitMQ and PostgreSQL: levels, reservations, idempotency and never overselling."""
import uuid

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from nameko_services.common import auth, keys
from nameko_services.common.errors import (
    Conflict,
    DuplicateSku,
    InvalidInput,
    OutOfStock,
    PermissionDenied,
    ProductNotFound,
    ReservationNotFound,
    StockBelowReserved,
)
from tests.integration.services.catalog_support import ADMIN, CUSTOMER, call_concurrently, service_token


@pytest.fixture
def product(admin):
    return admin("create_product", {"sku": "MUG-1", "name": "Mug", "price": 999, "currency": "EUR",
                                    "stock": 10})


def stock(admin, product):
    return admin("get_stock", product["id"])


def order_id():
    return str(uuid.uuid4())


def test_an_admin_reads_and_sets_stock(admin, product):
    assert stock(admin, product) == {"product_id": product["id"], "on_hand": 10, "reserved": 0,
                                     "available": 10}
    assert admin("set_stock", product["id"], 25)["available"] == 25
    assert admin("get_product", product["id"])["available"] == 25


@pytest.mark.parametrize("on_hand", [-1, "5", 2.5, None])
def test_stock_must_be_a_whole_number_of_units(admin, product, on_hand):
    with pytest.raises(InvalidInput) as raised:
        admin("set_stock", product["id"], on_hand)
    assert "on_hand" in raised.value.details


def test_stock_cannot_be_set_below_what_is_reserved(admin, orders, product):
    orders("reserve_stock", order_id(), [{"product_id": product["id"], "quantity": 4}])
    with pytest.raises(StockBelowReserved):
        admin("set_stock", product["id"], 3)
    assert admin("set_stock", product["id"], 4) == {"product_id": product["id"], "on_hand": 4,
                                                   "reserved": 4, "available": 0}


def test_stock_of_an_unknown_product_is_not_found(admin, catalog):
    with pytest.raises(ProductNotFound):
        admin("set_stock", "nope", 3)


def test_a_reservation_holds_stock_until_it_is_committed(admin, orders, product):
    order = order_id()
    reservation = orders("reserve_stock", order, [{"product_id": product["id"], "quantity": 3}])
    assert reservation == {"order_id": order, "status": "reserved",
                           "items": [{"product_id": product["id"], "quantity": 3}]}
    assert stock(admin, product) == {"product_id": product["id"], "on_hand": 10, "reserved": 3,
                                     "available": 7}
    assert orders("commit_stock", order) == {"order_id": order, "status": "committed"}
    assert orders("commit_stock", order) == {"order_id": order, "status": "committed"}
    assert stock(admin, product)["on_hand"] == 7 and stock(admin, product)["reserved"] == 0
    with pytest.raises(Conflict):
        orders("release_stock", order)


def test_a_released_reservation_gives_stock_back_once_and_cannot_be_committed(admin, orders, product):
    order = order_id()
    orders("reserve_stock", order, [{"product_id": product["id"], "quantity": 3}])
    assert orders("release_stock", order) == {"order_id": order, "status": "released"}
    assert orders("release_stock", order) == {"order_id": order, "status": "released"}
    assert stock(admin, product)["available"] == 10
    with pytest.raises(Conflict):
        orders("commit_stock", order)


def test_reserving_the_same_order_twice_reserves_once(admin, orders, product):
    order, items = order_id(), [{"product_id": product["id"], "quantity": 2}]
    assert orders("reserve_stock", order, items) == orders("reserve_stock", order, items)
    assert stock(admin, product)["reserved"] == 2


def test_a_reservation_is_all_or_nothing_and_names_every_short_product(admin, orders, product):
    scarce = admin("create_product", {"sku": "RARE", "name": "Rare", "price": 1, "currency": "EUR",
                                      "stock": 1})
    order = order_id()
    with pytest.raises(OutOfStock) as raised:
        orders("reserve_stock", order, [{"product_id": product["id"], "quantity": 2},
                                        {"product_id": scarce["id"], "quantity": 2}])
    [short] = raised.value.details["items"]
    # nameko stringifies every non-string scalar inside exception args on the wire.
    assert (short["product_id"], short["requested"], short["available"]) == (scarce["id"], 2, 1)
    assert stock(admin, product)["reserved"] == 0
    # Nothing was kept for the order: once stock arrives, the same order can be reserved.
    admin("set_stock", scarce["id"], 2)
    retry = orders("reserve_stock", order, [{"product_id": scarce["id"], "quantity": 2}])
    assert retry["status"] == "reserved"


def test_inactive_and_unknown_products_cannot_be_reserved(admin, orders, product):
    admin("deactivate_product", product["id"])
    for product_id in (product["id"], str(uuid.uuid4()), "mug"):
        with pytest.raises(ProductNotFound):
            orders("reserve_stock", order_id(), [{"product_id": product_id, "quantity": 1}])


def test_a_malformed_reservation_is_invalid(orders, product):
    with pytest.raises(InvalidInput) as raised:
        orders("reserve_stock", "order-1", [{"product_id": product["id"], "quantity": 0}])
    assert set(raised.value.details) == {"order_id", "items"}


def test_committing_an_order_without_a_reservation_is_not_found(orders, catalog):
    with pytest.raises(ReservationNotFound):
        orders("commit_stock", order_id())


def test_a_release_before_the_reservation_keeps_a_late_reservation_from_holding_stock(admin, orders, product):
    order = order_id()
    assert orders("release_stock", order)["status"] == "released"
    late = orders("reserve_stock", order, [{"product_id": product["id"], "quantity": 1}])
    assert late["status"] == "released"
    assert stock(admin, product)["reserved"] == 0


@pytest.mark.parametrize("method", ["reserve_stock", "release_stock", "commit_stock"])
def test_customers_and_other_services_cannot_move_reserved_stock(call, catalog, product, method):
    args = (order_id(), [{"product_id": product["id"], "quantity": 1}])
    args = args if method == "reserve_stock" else args[:1]
    with pytest.raises(PermissionDenied):
        call("catalog", method, *args, as_user=CUSTOMER)
    with pytest.raises(PermissionDenied):
        call("catalog", method, *args, token=service_token("payments"))


def test_an_admin_and_shopctl_may_reserve_stock(call, catalog, product):
    items = [{"product_id": product["id"], "quantity": 1}]
    assert call("catalog", "reserve_stock", order_id(), items, as_user=ADMIN)["status"] == "reserved"
    assert call("catalog", "reserve_stock", order_id(), items,
                token=service_token("shopctl"))["status"] == "reserved"


def test_the_database_itself_refuses_to_reserve_more_than_is_on_hand(core_db, product):
    with pytest.raises(IntegrityError, match="reserved_within_on_hand"), core_db.begin() as conn:
        conn.execute(text("UPDATE stock_levels SET reserved = on_hand + 1"))
    with pytest.raises(IntegrityError, match="reserved_not_negative"), core_db.begin() as conn:
        conn.execute(text("UPDATE stock_levels SET reserved = -1"))


# --- concurrency ---------------------------------------------------------------------

@pytest.mark.slow
def test_sixty_concurrent_orders_for_ten_units_never_oversell(rabbit_config, two_catalogs, admin, product):
    items = [{"product_id": product["id"], "quantity": 1}]
    outcomes = call_concurrently(rabbit_config, [("reserve_stock", (order_id(), items)) for _ in range(60)])
    reserved = [o for o in outcomes if isinstance(o, dict) and o["status"] == "reserved"]
    refused = [o for o in outcomes if isinstance(o, OutOfStock)]
    unexpected = [o for o in outcomes if not isinstance(o, (dict, OutOfStock))]
    assert (len(reserved), len(refused), unexpected) == (10, 50, [])
    assert stock(admin, product) == {"product_id": product["id"], "on_hand": 10, "reserved": 10,
                                     "available": 0}


@pytest.mark.slow
def test_concurrent_reservations_of_one_order_reserve_once(rabbit_config, two_catalogs, admin, product):
    order, items = order_id(), [{"product_id": product["id"], "quantity": 3}]
    outcomes = call_concurrently(rabbit_config, [("reserve_stock", (order, items)) for _ in range(12)])
    assert all(o == {"order_id": order, "status": "reserved", "items": items} for o in outcomes), outcomes
    assert stock(admin, product)["reserved"] == 3


@pytest.mark.slow
def test_concurrent_releases_and_commits_of_one_order_move_stock_once(rabbit_config, two_catalogs, admin,
                                                                      product, orders):
    released, committed = order_id(), order_id()
    for order in (released, committed):
        orders("reserve_stock", order, [{"product_id": product["id"], "quantity": 2}])
    outcomes = call_concurrently(rabbit_config, [("release_stock", (released,))] * 8
                                 + [("commit_stock", (committed,))] * 8)
    assert all(isinstance(o, dict) for o in outcomes), outcomes
    assert stock(admin, product) == {"product_id": product["id"], "on_hand": 8, "reserved": 0,
                                     "available": 8}


@pytest.mark.slow
def test_orders_for_several_products_in_any_order_neither_deadlock_nor_oversell(rabbit_config, two_catalogs,
                                                                                 admin, product):
    other = admin("create_product", {"sku": "BOWL-1", "name": "Bowl", "price": 1, "currency": "EUR",
                                     "stock": 10})
    lines = [{"product_id": product["id"], "quantity": 1}, {"product_id": other["id"], "quantity": 1}]
    calls = [("reserve_stock", (order_id(), lines[::1 if n % 2 else -1])) for n in range(30)]
    outcomes = call_concurrently(rabbit_config, calls)
    assert sum(isinstance(o, dict) for o in outcomes) == 10
    assert sum(isinstance(o, OutOfStock) for o in outcomes) == 20
    assert stock(admin, product)["available"] == stock(admin, other)["available"] == 0


@pytest.mark.slow
def test_concurrent_products_with_one_sku_are_created_once(rabbit_config, two_catalogs):
    token = auth.issue_service_token(keys.load_signing_key("service-gateway"), service="gateway",
                                     audience="catalog", principal=auth.Principal(ADMIN[0], roles=("admin",)))
    payload = {"sku": "SAME-1", "name": "Same", "price": 1, "currency": "EUR"}
    with ClusterRpcProxy(rabbit_config, context_data={"authorization": token}, timeout=30) as proxy:
        replies = [proxy.catalog.create_product.call_async(dict(payload, sku=sku))
                   for sku in ["SAME-1", "same-1"] * 6]
        outcomes = []
        for reply in replies:
            try:
                outcomes.append(reply.result())
            except DuplicateSku as error:
                outcomes.append(error)
    assert sum(isinstance(o, dict) for o in outcomes) == 1
    assert sum(isinstance(o, DuplicateSku) for o in outcomes) == 11
