"""Catalog rules: stock arithmetic, reservations, slugs, money and ids."""
import pytest

from nameko_services.catalog import domain
from nameko_services.catalog.domain import Product, Reservation, ReservedItem, StockLevel
from nameko_services.common.auth import Principal
from nameko_services.common.errors import (
    Conflict,
    InvalidInput,
    OutOfStock,
    PermissionDenied,
    ProductNotFound,
    StockBelowReserved,
)


def test_available_stock_is_on_hand_minus_reserved():
    assert StockLevel("p", on_hand=10, reserved=3).available == 7


def test_reserving_moves_units_from_available_to_reserved():
    level = StockLevel("p", on_hand=5)
    level.reserve(5)
    assert (level.on_hand, level.reserved, level.available) == (5, 5, 0)


def test_reserving_more_than_available_is_out_of_stock_and_changes_nothing():
    level = StockLevel("p", on_hand=5, reserved=4)
    with pytest.raises(OutOfStock) as raised:
        level.reserve(2)
    assert raised.value.details == {"items": [{"product_id": "p", "requested": 2, "available": 1}]}
    assert level.reserved == 4


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_reservation_needs_a_positive_quantity(quantity):
    assert not StockLevel("p", on_hand=5).can_reserve(quantity)


def test_releasing_gives_reserved_units_back():
    level = StockLevel("p", on_hand=5, reserved=3)
    level.release(2)
    assert (level.on_hand, level.reserved) == (5, 1)


def test_releasing_more_than_is_reserved_is_a_conflict():
    with pytest.raises(Conflict):
        StockLevel("p", on_hand=5, reserved=1).release(2)


def test_committing_takes_the_units_out_of_on_hand_and_reserved():
    level = StockLevel("p", on_hand=5, reserved=3)
    level.commit(3)
    assert (level.on_hand, level.reserved, level.available) == (2, 0, 2)


def test_on_hand_cannot_be_set_below_what_is_reserved():
    level = StockLevel("p", on_hand=5, reserved=3)
    with pytest.raises(StockBelowReserved):
        level.set_on_hand(2)
    level.set_on_hand(3)
    assert level.available == 0


@pytest.mark.parametrize("on_hand", [-1, 1.5, True, "3", 10**10])
def test_on_hand_must_be_a_sane_whole_number(on_hand):
    with pytest.raises(InvalidInput) as raised:
        StockLevel("p").set_on_hand(on_hand)
    assert list(raised.value.details) == ["on_hand"]


def test_a_reservation_is_committed_once_and_then_committing_again_changes_nothing():
    reservation = Reservation("o")
    assert reservation.commit() is True
    assert reservation.commit() is False


def test_a_released_reservation_cannot_be_committed():
    reservation = Reservation("o", domain.RELEASED)
    with pytest.raises(Conflict):
        reservation.commit()


def test_reservation_items_are_merged_per_product_and_sorted_by_product_id():
    items = [ReservedItem("b", 1), ReservedItem("a", 2), ReservedItem("b", 3)]
    assert domain.merge_items(items) == (ReservedItem("a", 2), ReservedItem("b", 4))


@pytest.mark.parametrize(("name", "slug"), [
    ("Shoes", "shoes"),
    ("  Running Shoes  ", "running-shoes"),
    ("Crème Brûlée & Co.", "creme-brulee-co"),
    ("T-Shirts / Tops", "t-shirts-tops"),
])
def test_a_slug_is_made_of_lower_case_ascii_words_joined_by_dashes(name, slug):
    assert domain.slugify(name) == slug


def test_a_name_without_any_letter_or_digit_gives_no_slug():
    with pytest.raises(InvalidInput) as raised:
        domain.slugify("★★★")
    assert "slug" in raised.value.details


@pytest.mark.parametrize("slug", ["Shoes", "shoes-", "-shoes", "sh--oes", "sh oes", "", "a" * 121])
def test_a_slug_given_explicitly_must_be_well_formed(slug):
    with pytest.raises(InvalidInput):
        domain.validate_slug(slug)


@pytest.mark.parametrize("price", [-1, 1.5, True, "100", 10**13])
def test_a_price_is_a_whole_non_negative_number_of_minor_units(price):
    with pytest.raises(InvalidInput) as raised:
        domain.validate_price(price)
    assert list(raised.value.details) == ["price"]


def test_a_price_of_zero_is_allowed():
    assert domain.validate_price(0) == 0


@pytest.mark.parametrize("currency", ["eur", "EURO", "XXX", "", "€"])
def test_a_currency_must_be_an_iso_code_the_shop_sells_in(currency):
    with pytest.raises(InvalidInput):
        domain.validate_currency(currency)


def test_a_product_refuses_invalid_money_when_it_is_made_or_changed():
    product = Product("id", "SKU-1", "Mug", 999, "EUR")
    with pytest.raises(InvalidInput):
        Product("id", "SKU-1", "Mug", -1, "EUR")
    with pytest.raises(InvalidInput):
        product.changed(currency="euro")
    assert product.changed(price=1099).price == 1099


def test_changing_a_product_moves_its_updated_at_forward():
    product = Product("id", "SKU-1", "Mug", 999, "EUR")
    assert product.changed(name="Cup").updated_at >= product.updated_at


def test_a_malformed_id_is_not_found_rather_than_an_error():
    with pytest.raises(ProductNotFound):
        domain.parse_id("not-a-uuid", ProductNotFound)
    assert domain.parse_id("6C0F4B3E-8D2C-4B9A-9A55-1F0B6F1E1A11", ProductNotFound) == \
        "6c0f4b3e-8d2c-4b9a-9a55-1f0b6f1e1a11"


def test_a_category_under_its_own_descendant_would_be_its_own_ancestor():
    parents = {"child": "root", "grandchild": "child", "root": None}
    assert domain.becomes_own_ancestor("root", "grandchild", parents.get)
    assert domain.becomes_own_ancestor("root", "root", parents.get)
    assert not domain.becomes_own_ancestor("grandchild", "root", parents.get)


@pytest.mark.parametrize("principal", [Principal(), Principal(user_id="u", roles=("customer",))])
def test_only_admins_manage_the_catalog(principal):
    with pytest.raises(PermissionDenied):
        domain.require_admin(principal)
    domain.require_admin(Principal(user_id="u", roles=("admin",)))


@pytest.mark.parametrize(("principal", "allowed"), [
    (Principal(service="orders"), True),
    (Principal(service="shopctl"), True),
    (Principal(user_id="u", roles=("admin",), service="gateway"), True),
    (Principal(user_id="u", roles=("customer",), service="gateway"), False),
    (Principal(service="payments"), False),
    (Principal(), False),
])
def test_stock_is_reserved_only_by_the_orders_service_shopctl_or_an_admin(principal, allowed):
    if allowed:
        domain.require_stock_operator(principal)
    else:
        with pytest.raises(PermissionDenied):
            domain.require_stock_operator(principal)
