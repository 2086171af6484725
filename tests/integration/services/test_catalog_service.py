"""The catalog service over RabbitMQ and PostgreSQL: categories, products, search, roles."""
import uuid

import pytest

from nameko_services.common.errors import (
    CategoryInUse,
    CategoryNotFound,
    DuplicateSku,
    DuplicateSlug,
    InvalidInput,
    NotAuthenticated,
    PermissionDenied,
    ProductNotFound,
)
from tests.integration.services.catalog_support import CUSTOMER


def new_product(admin, sku="MUG-1", name="Mug", **fields):
    return admin("create_product", {"sku": sku, "name": name, "price": 999, "currency": "EUR", **fields})


def test_an_admin_builds_a_category_tree_that_anyone_can_list(admin, customer):
    shoes = admin("create_category", {"name": "Running Shoes"})
    trail = admin("create_category", {"name": "Trail", "slug": "trail-shoes", "parent_id": shoes["id"]})
    assert shoes == {"id": shoes["id"], "name": "Running Shoes", "slug": "running-shoes", "parent_id": None,
                     "active": True}
    assert customer("list_categories") == [shoes, trail]


def test_a_deactivated_category_is_listed_only_for_an_admin_who_asks(admin, customer):
    shoes = admin("create_category", {"name": "Shoes"})
    hats = admin("create_category", {"name": "Hats"})
    mug = new_product(admin, category_id=shoes["id"])
    hidden = admin("update_category", shoes["id"], {"active": False})
    assert hidden == dict(shoes, active=False)
    assert customer("list_categories") == [hats]
    assert customer("list_categories", include_inactive=True) == [hats]
    assert admin("list_categories") == [hats]
    assert admin("list_categories", include_inactive=True) == [hats, hidden]
    assert customer("get_product", mug["id"])["category_id"] == shoes["id"]  # its products stay
    assert admin("update_category", shoes["id"], {"active": True})["active"] is True
    assert customer("list_categories") == [hats, shoes]


def test_a_duplicate_category_slug_is_refused(admin):
    admin("create_category", {"name": "Shoes"})
    with pytest.raises(DuplicateSlug):
        admin("create_category", {"name": "Shoes"})


def test_a_category_under_an_unknown_parent_is_invalid(admin):
    with pytest.raises(InvalidInput) as raised:
        admin("create_category", {"name": "Shoes", "parent_id": str(uuid.uuid4())})
    assert "parent_id" in raised.value.details


def test_a_category_cannot_become_its_own_ancestor(admin):
    root = admin("create_category", {"name": "Root"})
    child = admin("create_category", {"name": "Child", "parent_id": root["id"]})
    with pytest.raises(InvalidInput):
        admin("update_category", root["id"], {"parent_id": child["id"]})
    moved = admin("update_category", child["id"], {"parent_id": None, "name": "Top"})
    assert (moved["parent_id"], moved["name"], moved["slug"]) == (None, "Top", "child")


def test_a_category_in_use_cannot_be_deleted_until_it_is_empty(admin, customer):
    category = admin("create_category", {"name": "Mugs"})
    product = new_product(admin, category_id=category["id"])
    with pytest.raises(CategoryInUse):
        admin("delete_category", category["id"])
    admin("update_product", product["id"], {"category_id": None})
    assert admin("delete_category", category["id"]) is None
    assert customer("list_categories") == []


@pytest.mark.parametrize("category_id", ["42", str(uuid.uuid4())])
def test_updating_an_unknown_or_malformed_category_is_not_found(admin, category_id):
    with pytest.raises(CategoryNotFound):
        admin("update_category", category_id, {"name": "x"})


def test_an_admin_creates_a_product_that_customers_see_with_its_available_stock(admin, customer):
    category = admin("create_category", {"name": "Mugs"})
    created = new_product(admin, description="Blue", category_id=category["id"], stock=4)
    assert created["available"] == 4 and created["active"] is True
    assert created["created_at"] == created["updated_at"]
    assert customer("get_product", created["id"]) == created


def test_a_duplicate_sku_is_refused_whatever_its_case(admin):
    new_product(admin, sku="MUG-1")
    with pytest.raises(DuplicateSku):
        new_product(admin, sku="mug-1")


def test_invalid_product_fields_are_each_named(admin):
    with pytest.raises(InvalidInput) as raised:
        admin("create_product", {"sku": "MUG 1", "name": "Mug", "price": -5, "currency": "EURO",
                                 "category_id": str(uuid.uuid4()), "colour": "blue"})
    assert set(raised.value.details) == {"sku", "price", "currency", "colour"}


def test_a_product_in_an_unknown_category_is_invalid(admin):
    with pytest.raises(InvalidInput) as raised:
        new_product(admin, category_id=str(uuid.uuid4()))
    assert "category_id" in raised.value.details


def test_an_update_changes_the_given_fields_and_refuses_a_taken_sku(admin):
    new_product(admin, sku="A")
    b = new_product(admin, sku="B")
    updated = admin("update_product", b["id"], {"name": "Cup", "price": 1299, "currency": "GBP"})
    assert [updated[k] for k in ("name", "price", "currency", "sku")] == ["Cup", 1299, "GBP", "B"]
    assert updated["updated_at"] > b["updated_at"]
    with pytest.raises(DuplicateSku):
        admin("update_product", b["id"], {"sku": "a"})


def test_a_deactivated_product_is_hidden_from_customers_but_not_from_admins(admin, customer):
    product = new_product(admin)
    assert admin("deactivate_product", product["id"])["active"] is False
    with pytest.raises(ProductNotFound):
        customer("get_product", product["id"])
    assert admin("get_product", product["id"])["active"] is False
    assert customer("list_products", include_inactive=True)["total"] == 0
    assert admin("list_products", include_inactive=True)["total"] == 1
    assert admin("list_products")["total"] == 0


@pytest.mark.parametrize("product_id", ["not-a-uuid", str(uuid.uuid4()), ""])
def test_an_unknown_or_malformed_product_id_is_not_found(customer, product_id):
    with pytest.raises(ProductNotFound):
        customer("get_product", product_id)


def test_search_matches_name_description_or_sku_case_insensitively(admin, customer):
    new_product(admin, sku="MUG-1", name="Blue Mug")
    new_product(admin, sku="BOWL-1", name="Bowl", description="A deep BLUE bowl")
    new_product(admin, sku="PLATE-1", name="Plate")
    new_product(admin, sku="X_1", name="Save 100%")
    assert [p["sku"] for p in customer("list_products", q="blue")["items"]] == ["MUG-1", "BOWL-1"]
    assert [p["sku"] for p in customer("list_products", q="plate-1")["items"]] == ["PLATE-1"]
    # LIKE wildcards in the search term are literal characters.
    assert [p["sku"] for p in customer("list_products", q="_1")["items"]] == ["X_1"]
    assert [p["sku"] for p in customer("list_products", q="100%")["items"]] == ["X_1"]
    assert customer("list_products", q="%")["total"] == 1


def test_products_are_filtered_by_category_and_paged_in_name_order(admin, customer):
    mugs = admin("create_category", {"name": "Mugs"})
    for index in range(5):
        new_product(admin, sku=f"MUG-{index}", name=f"Mug {4 - index}", category_id=mugs["id"])
    new_product(admin, sku="PLATE-1", name="Plate")
    page = customer("list_products", category_id=mugs["id"], page=2, per_page=2)
    assert [p["name"] for p in page["items"]] == ["Mug 2", "Mug 3"]
    assert (page["total"], page["page"], page["per_page"]) == (5, 2, 2)
    assert customer("list_products", page=9)["items"] == []


@pytest.mark.parametrize(("kwargs", "field"), [({"per_page": 101}, "per_page"), ({"page": 0}, "page"),
                                               ({"page": "two"}, "page")])
def test_pages_outside_the_limits_are_invalid(customer, kwargs, field):
    with pytest.raises(InvalidInput) as raised:
        customer("list_products", **kwargs)
    assert field in raised.value.details


@pytest.mark.parametrize(("method", "args"), [
    ("create_category", ({"name": "Shoes"},)),
    ("update_category", (str(uuid.uuid4()), {"name": "x"})),
    ("delete_category", (str(uuid.uuid4()),)),
    ("create_product", ({"sku": "A", "name": "A", "price": 1, "currency": "EUR"},)),
    ("update_product", (str(uuid.uuid4()), {"name": "x"})),
    ("deactivate_product", (str(uuid.uuid4()),)),
    ("get_stock", (str(uuid.uuid4()),)),
    ("set_stock", (str(uuid.uuid4()), 5)),
])
@pytest.mark.parametrize("who", [CUSTOMER, None])
def test_catalog_changes_are_refused_to_customers_and_anonymous_callers(call, catalog, method, args, who):
    with pytest.raises(PermissionDenied):
        call("catalog", method, *args, as_user=who)


def test_a_customer_is_refused_for_the_role_before_the_payload_is_validated(call, catalog):
    with pytest.raises(PermissionDenied):
        call("catalog", "create_product", {"bad": "payload"}, as_user=CUSTOMER)


def test_a_call_without_a_service_token_is_refused(call, catalog):
    with pytest.raises(NotAuthenticated):
        call("catalog", "list_categories", token=None)
