"""Catalog use cases against an in-memory unit of work."""
import uuid

import pytest

from nameko_services.catalog import handlers, saga
from nameko_services.catalog.commands import CreateCategory, CreateProduct, ProductQuery, ReserveStock
from nameko_services.catalog.domain import ReservedItem
from nameko_services.common.errors import (
    CategoryInUse,
    CategoryNotFound,
    DuplicateSku,
    DuplicateSlug,
    InvalidInput,
    PermissionDenied,
    ProductNotFound,
    StockBelowReserved,
)
from tests.unit.catalog.conftest import ADMIN, CUSTOMER

ORDER = "00000000-0000-4000-8000-000000000001"


def make_product(uow, sku="MUG-1", name="Mug", stock=0, **kwargs):
    return handlers.create_product(uow, ADMIN, lambda: CreateProduct(sku=sku, name=name, price=999,
                                                                      currency="EUR", stock=stock,
                                                                      **kwargs)).product


def reserve(uow, order_id, *lines):
    """Hold stock for an order as the catalog does when ``orders.order_placed`` arrives."""
    items = tuple(ReservedItem(product.id, qty) for product, qty in lines)
    saga.on_order_placed(uow, str(uuid.uuid4()), ReserveStock(order_id, items))


def stock_of(uow, product):
    return handlers.get_stock(uow, ADMIN, product.id)


# --- categories ----------------------------------------------------------------------

def test_a_category_gets_a_slug_from_its_name_when_none_is_given(uow):
    category = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Running Shoes"))
    assert category.slug == "running-shoes"
    assert handlers.list_categories(uow, CUSTOMER) == [category]


def test_a_second_category_with_the_same_slug_is_refused(uow):
    handlers.create_category(uow, ADMIN, lambda: CreateCategory("Shoes"))
    with pytest.raises(DuplicateSlug):
        handlers.create_category(uow, ADMIN, lambda: CreateCategory("Other", slug="shoes"))


def test_a_category_under_an_unknown_parent_is_invalid(uow, new_uuid):
    with pytest.raises(InvalidInput) as raised:
        handlers.create_category(uow, ADMIN, lambda: CreateCategory("Shoes", parent_id=new_uuid()))
    assert "parent_id" in raised.value.details
    assert handlers.list_categories(uow, CUSTOMER) == []


def test_a_category_cannot_be_moved_under_its_own_child(uow):
    root = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Root"))
    child = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Child", parent_id=root.id))
    with pytest.raises(InvalidInput) as raised:
        handlers.update_category(uow, ADMIN, root.id, lambda: {"parent_id": child.id})
    assert "parent_id" in raised.value.details
    assert uow.categories.tree_locked


def test_a_category_can_be_renamed_and_keeps_its_slug(uow):
    category = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Shoes"))
    renamed = handlers.update_category(uow, ADMIN, category.id, lambda: {"name": "Footwear"})
    assert (renamed.name, renamed.slug) == ("Footwear", "shoes")


def test_a_category_cannot_take_the_slug_of_another(uow):
    handlers.create_category(uow, ADMIN, lambda: CreateCategory("Shoes"))
    hats = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Hats"))
    with pytest.raises(DuplicateSlug):
        handlers.update_category(uow, ADMIN, hats.id, lambda: {"slug": "shoes"})
    handlers.update_category(uow, ADMIN, hats.id, lambda: {"slug": "hats"})  # its own slug is fine


def test_a_deactivated_category_is_hidden_from_customers_and_shown_to_admins_who_ask(uow):
    shoes = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Shoes"))
    hats = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Hats"))
    mug = make_product(uow, category_id=shoes.id)
    uow.outbox.rows.clear()
    hidden = handlers.update_category(uow, ADMIN, shoes.id, lambda: {"active": False})
    assert hidden.active is False
    assert uow.outbox.of_type("category_changed") == [{"category_id": shoes.id}]  # caches drop
    assert handlers.list_categories(uow, CUSTOMER) == [hats]
    assert handlers.list_categories(uow, CUSTOMER, include_inactive=True) == [hats]  # not an admin
    assert handlers.list_categories(uow, ADMIN) == [hats]
    assert handlers.list_categories(uow, ADMIN, include_inactive=True) == [hats, hidden]
    assert handlers.get_product(uow, CUSTOMER, mug.id).product.category_id == shoes.id  # unchanged


def test_a_deactivated_category_can_be_activated_again(uow):
    shoes = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Shoes"))
    handlers.update_category(uow, ADMIN, shoes.id, lambda: {"active": False})
    shown = handlers.update_category(uow, ADMIN, shoes.id, lambda: {"active": True})
    assert shown.active is True
    assert handlers.list_categories(uow, CUSTOMER) == [shown]


def test_only_an_admin_may_deactivate_a_category(uow):
    shoes = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Shoes"))
    with pytest.raises(PermissionDenied):
        handlers.update_category(uow, CUSTOMER, shoes.id, lambda: {"active": False})
    assert handlers.list_categories(uow, CUSTOMER) == [shoes]


def test_a_category_with_products_or_children_cannot_be_deleted(uow):
    root = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Root"))
    child = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Child", parent_id=root.id))
    make_product(uow, category_id=child.id)
    with pytest.raises(CategoryInUse):
        handlers.delete_category(uow, ADMIN, root.id)
    with pytest.raises(CategoryInUse):
        handlers.delete_category(uow, ADMIN, child.id)


def test_an_unused_category_is_deleted(uow):
    category = handlers.create_category(uow, ADMIN, lambda: CreateCategory("Shoes"))
    handlers.delete_category(uow, ADMIN, category.id)
    assert handlers.list_categories(uow, CUSTOMER) == []


@pytest.mark.parametrize("category_id", ["not-a-uuid", "00000000-0000-4000-8000-00000000dead"])
def test_an_unknown_or_malformed_category_id_is_not_found(uow, category_id):
    with pytest.raises(CategoryNotFound):
        handlers.delete_category(uow, ADMIN, category_id)


# --- products ------------------------------------------------------------------------

def test_a_new_product_is_active_with_its_initial_stock_available(uow):
    product = make_product(uow, stock=7)
    view = handlers.get_product(uow, CUSTOMER, product.id)
    assert view.product.active and view.stock.available == 7


def test_skus_are_unique_whatever_their_case(uow):
    make_product(uow, sku="MUG-1")
    with pytest.raises(DuplicateSku):
        make_product(uow, sku="mug-1")


def test_a_product_in_an_unknown_category_is_invalid(uow, new_uuid):
    with pytest.raises(InvalidInput) as raised:
        make_product(uow, category_id=new_uuid())
    assert "category_id" in raised.value.details


def test_a_product_cannot_take_the_sku_of_another(uow):
    make_product(uow, sku="A")
    b = make_product(uow, sku="B")
    with pytest.raises(DuplicateSku):
        handlers.update_product(uow, ADMIN, b.id, lambda: {"sku": "a"})


def test_an_update_changes_only_the_given_fields(uow):
    product = make_product(uow, name="Mug")
    updated = handlers.update_product(uow, ADMIN, product.id, lambda: {"price": 1299}).product
    assert (updated.name, updated.price, updated.currency) == ("Mug", 1299, "EUR")


def test_a_deactivated_product_is_hidden_from_customers_but_not_from_admins(uow):
    product = make_product(uow)
    handlers.deactivate_product(uow, ADMIN, product.id)
    with pytest.raises(ProductNotFound):
        handlers.get_product(uow, CUSTOMER, product.id)
    assert handlers.get_product(uow, ADMIN, product.id).product.active is False


def test_inactive_products_are_listed_only_when_an_admin_asks_for_them(uow):
    make_product(uow, sku="A", name="Alpha")
    beta = make_product(uow, sku="B", name="Beta")
    handlers.deactivate_product(uow, ADMIN, beta.id)
    query = ProductQuery(include_inactive=True)
    assert handlers.list_products(uow, CUSTOMER, query).total == 1
    assert handlers.list_products(uow, ADMIN, query).total == 2


def test_listing_pages_through_products_ordered_by_name(uow):
    for sku, name in [("C", "Cup"), ("A", "Apron"), ("B", "Bowl")]:
        make_product(uow, sku=sku, name=name)
    page = handlers.list_products(uow, CUSTOMER, ProductQuery(page=2, per_page=2))
    assert [view.product.name for view in page.items] == ["Cup"]
    assert (page.total, page.page, page.per_page) == (3, 2, 2)


@pytest.mark.parametrize(("page", "per_page", "field"), [(0, 20, "page"), (1, 101, "per_page"),
                                                         (1, 0, "per_page")])
def test_pages_outside_the_limits_are_invalid(uow, page, per_page, field):
    with pytest.raises(InvalidInput) as raised:
        handlers.list_products(uow, CUSTOMER, ProductQuery(page=page, per_page=per_page))
    assert field in raised.value.details


def test_filtering_by_an_unknown_category_is_not_found(uow):
    with pytest.raises(CategoryNotFound):
        handlers.list_products(uow, CUSTOMER, ProductQuery(category_id="nope"))


# --- stock ---------------------------------------------------------------------------

def test_stock_cannot_be_set_below_what_is_reserved(uow):
    product = make_product(uow, stock=5)
    reserve(uow, ORDER, (product, 3))
    with pytest.raises(StockBelowReserved):
        handlers.set_stock(uow, ADMIN, product.id, 2)
    level = handlers.set_stock(uow, ADMIN, product.id, 10)
    assert (level.on_hand, level.reserved, level.available) == (10, 3, 7)




@pytest.mark.parametrize("use_case", [
    lambda uow, read: handlers.create_category(uow, CUSTOMER, read),
    lambda uow, read: handlers.update_category(uow, CUSTOMER, str(uuid.uuid4()), read),
    lambda uow, read: handlers.create_product(uow, CUSTOMER, read),
    lambda uow, read: handlers.update_product(uow, CUSTOMER, str(uuid.uuid4()), read),
    lambda uow, read: handlers.price_items(uow, CUSTOMER, read),
])
def test_a_customer_is_refused_before_the_input_is_read(uow, use_case):
    def read():
        raise AssertionError("the input of a refused caller must not be read")
    with pytest.raises(PermissionDenied):
        use_case(uow, read)


@pytest.mark.parametrize("use_case", [
    lambda uow: handlers.delete_category(uow, CUSTOMER, str(uuid.uuid4())),
    lambda uow: handlers.deactivate_product(uow, CUSTOMER, str(uuid.uuid4())),
    lambda uow: handlers.get_stock(uow, CUSTOMER, str(uuid.uuid4())),
    lambda uow: handlers.set_stock(uow, CUSTOMER, str(uuid.uuid4()), 5),
])
def test_only_admins_change_the_catalog_or_see_its_stock(uow, use_case):
    with pytest.raises(PermissionDenied):
        use_case(uow)
