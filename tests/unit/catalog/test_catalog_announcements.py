"""What the catalog announces when a reader's view changes outside the saga (the gateways'
caches of public reads drop on these: gateway.catalog_cache)."""
import pytest

from nameko_services.catalog import handlers
from nameko_services.catalog.commands import CreateCategory, CreateProduct
from nameko_services.common.errors import DuplicateSku, StockBelowReserved
from tests.unit.catalog.conftest import ADMIN
from tests.unit.catalog.test_catalog_handlers import reserve

ORDER = "00000000-0000-4000-8000-0000000000a1"


def create(uow, sku="MUG-1", stock=5):
    return handlers.create_product(uow, ADMIN, lambda: CreateProduct(sku=sku, name="Mug", price=999,
                                                                      currency="EUR", stock=stock)).product


def announced(uow):
    return list(uow.outbox.rows)


def test_creating_changing_deactivating_and_restocking_a_product_each_announce_product_changed(uow):
    mug = create(uow)
    handlers.update_product(uow, ADMIN, mug.id, lambda: {"price": 1299})
    handlers.deactivate_product(uow, ADMIN, mug.id)
    handlers.set_stock(uow, ADMIN, mug.id, 9)
    assert announced(uow) == [("product_changed", {"product_id": mug.id})] * 4


def test_a_refused_change_announces_nothing(uow):
    mug = create(uow, stock=5)
    create(uow, sku="CUP-1")
    reserve(uow, ORDER, (mug, 3))
    uow.outbox.rows.clear()
    with pytest.raises(DuplicateSku):
        handlers.update_product(uow, ADMIN, mug.id, lambda: {"sku": "CUP-1"})
    with pytest.raises(StockBelowReserved):
        handlers.set_stock(uow, ADMIN, mug.id, 2)
    assert announced(uow) == []


def test_category_changes_announce_category_changed(uow):
    tea = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Tea", None, None))
    handlers.update_category(uow, ADMIN, tea.id, lambda: {"name": "Teas"})
    handlers.delete_category(uow, ADMIN, tea.id)
    assert announced(uow) == [("category_changed", {"category_id": tea.id})] * 3
