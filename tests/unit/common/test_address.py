"""The address rules that depend on the country (common.address through AddressSchema)."""
from __future__ import annotations

import pytest

from nameko_services.common import address
from nameko_services.common.errors import InvalidInput
from nameko_services.common.validation import AddressSchema, load

BERLIN = {"name": "Ada Lovelace", "line1": "1 Main St",
          "city": "Berlin", "postal_code": "10115", "country": "DE"}
NEW_YORK = {"name": "Grace Hopper", "line1": "350 Fifth Ave", "city": "New York", "region": "NY",
            "postal_code": "10118", "country": "US"}


def problems_of(**changes):
    with pytest.raises(InvalidInput) as raised:
        load(AddressSchema(), {**NEW_YORK, **changes})
    return raised.value.details


def test_a_loaded_address_has_every_field_absent_ones_as_none():
    assert load(AddressSchema(), BERLIN) == {**BERLIN, "line2": None, "region": None, "phone": None}


def test_the_recipient_name_is_required_and_not_blank():
    assert "name" in problems_of(name=None) and "name" in problems_of(name="   ")
    without = {key: value for key, value in NEW_YORK.items() if key != "name"}
    with pytest.raises(InvalidInput) as raised:
        load(AddressSchema(), without)
    assert raised.value.details == {"name": ["Missing data for required field."]}


@pytest.mark.parametrize("country", ["US", "CA", "AU"])
def test_a_region_is_required_where_the_country_has_them(country):
    details = problems_of(country=country, region=None, postal_code={"US": "10118", "CA": "K1A 0B1",
                                                                     "AU": "2000"}[country])
    assert details == {"region": [f"Required for {country} addresses."]}


@pytest.mark.parametrize(("country", "region", "postal_code"), [
    ("US", "ny", "10118"), ("US", "XX", "10118"), ("CA", "NY", "K1A 0B1"), ("AU", "QC", "2000")])
def test_a_region_must_be_one_of_the_country_s_codes(country, region, postal_code):
    details = problems_of(country=country, region=region, postal_code=postal_code)
    assert list(details) == ["region"] and details["region"][0].startswith("Must be one of")


def test_a_region_is_free_text_and_optional_elsewhere():
    assert load(AddressSchema(), {**BERLIN, "region": "Berlin"})["region"] == "Berlin"
    assert load(AddressSchema(), BERLIN)["region"] is None


@pytest.mark.parametrize(("country", "region", "good", "bad"), [
    ("US", "NY", ["10118", "10118-0110", "101180110"], ["1011", "10118-01", "ABCDE", "1O118"]),
    ("CA", "ON", ["K1A 0B1", "k1a0b1", "M5V 3L9"], ["K1A-0B1", "12345", "D1A 0B1"]),
    ("GB", None, ["SW1A 1AA", "N1 9GU", "ec1a1bb", "W1A 0AX"], ["N1", "12345", "SW1A-1AA"]),
    ("DE", None, ["10115", "01067"], ["1011", "101155", "D-10115"]),
    ("AU", "NSW", ["2000", "0800"], ["200", "20000"]),
])
def test_postal_codes_follow_the_country_s_rule(country, region, good, bad):
    base = {**NEW_YORK, "country": country, "region": region}
    for code in good:
        assert load(AddressSchema(), {**base, "postal_code": code})["postal_code"] == code.upper()
    for code in bad:
        with pytest.raises(InvalidInput) as raised:
            load(AddressSchema(), {**base, "postal_code": code})
        assert list(raised.value.details) == ["postal_code"], code


def test_a_country_without_a_rule_takes_any_postal_code():
    dublin = {**BERLIN, "country": "IE", "postal_code": "D02 X285"}
    assert load(AddressSchema(), dublin)["postal_code"] == "D02 X285"


@pytest.mark.parametrize("phone", ["+4930123456", "+12125550123", "+441632960961"])
def test_a_phone_in_e164_is_accepted(phone):
    assert load(AddressSchema(), {**NEW_YORK, "phone": phone})["phone"] == phone


@pytest.mark.parametrize("phone", ["030 123456", "+0301234", "+1 212 555 0123", "+1234567890123456", "+", ""])
def test_a_phone_not_in_e164_is_refused(phone):
    assert list(problems_of(phone=phone)) == ["phone"]


def test_every_problem_of_the_country_is_named_at_once():
    assert set(problems_of(region=None, postal_code="1", phone="12")) == {"region", "postal_code", "phone"}


def test_an_old_address_without_the_new_fields_reads_with_them_as_none():
    old = {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    assert address.normalized(old) == {**old, "name": None, "line2": None, "region": None, "phone": None}
