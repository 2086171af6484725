"""Stock levels over RabbitMQ and PostgreSQL.

Reservations move only through the saga's events; what they guarantee (all or nothing, once per
order, never overselling, also on two instances) is tested in test_catalog_saga.py.
"""
import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from nameko_services.common import auth, keys
from nameko_services.common.errors import DuplicateSku, InvalidInput, ProductNotFound
from tests.integration.services.catalog_support import ADMIN


@pytest.fixture
def product(admin):
    return admin("create_product", {"sku": "MUG-1", "name": "Mug", "price": 999, "currency": "EUR",
                                    "stock": 10})


def stock(admin, product):
    return admin("get_stock", product["id"])


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


def test_stock_of_an_unknown_product_is_not_found(admin, catalog):
    with pytest.raises(ProductNotFound):
        admin("set_stock", "nope", 3)


def test_the_database_itself_refuses_to_reserve_more_than_is_on_hand(core_db, product):
    with pytest.raises(IntegrityError, match="reserved_within_on_hand"), core_db.begin() as conn:
        conn.execute(text("UPDATE stock_levels SET reserved = on_hand + 1"))
    with pytest.raises(IntegrityError, match="reserved_not_negative"), core_db.begin() as conn:
        conn.execute(text("UPDATE stock_levels SET reserved = -1"))


# --- concurrency ---------------------------------------------------------------------

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
