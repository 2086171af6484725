"""Users payloads: text PostgreSQL cannot store, and countries that do not exist, are named and refused."""
import pytest

from nameko_services.common.errors import InvalidInput
from nameko_services.common.text import UNSTORABLE_MESSAGE
from nameko_services.common.validation import load
from nameko_services.users import schemas

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
REGISTRATION = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}


def problems(schema, payload):
    with pytest.raises(InvalidInput) as raised:
        load(schema, payload)
    return raised.value.details


@pytest.mark.parametrize("field", ["name", "password", "email"])
def test_a_lone_surrogate_in_a_registration_field_is_invalid_input_naming_it(field):
    assert field in problems(schemas.RegisterSchema(), dict(REGISTRATION, **{field: "a\ud800b"}))


def test_a_lone_surrogate_in_a_profile_address_is_named_by_its_path():
    details = problems(schemas.UpdateProfileSchema(),
                       {"shipping_address": dict(ADDRESS, line1="1 Main St\udfff")})
    assert details == {"shipping_address": {"line1": [UNSTORABLE_MESSAGE]}}


def test_a_lone_surrogate_in_a_new_password_is_invalid_input():
    assert "new_password" in problems(schemas.ChangePasswordSchema(),
                                      {"current_password": "old", "new_password": "\ud800"})


@pytest.mark.parametrize("country", ["ZZ", "XX", "US\n", "us"])
def test_a_profile_address_in_a_country_that_does_not_exist_is_refused(country):
    details = problems(schemas.UpdateProfileSchema(), {"shipping_address": dict(ADDRESS, country=country)})
    assert list(details["shipping_address"]) == ["country"]


def test_a_profile_address_always_carries_every_field():
    loaded = load(schemas.UpdateProfileSchema(), {"shipping_address": ADDRESS})
    assert loaded["shipping_address"] == {**ADDRESS, "line2": None, "region": None, "phone": None}
