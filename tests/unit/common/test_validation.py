"""The input rules every schema shares (common.text, common.validation)."""
import subprocess
import sys

import pytest
from marshmallow import Schema, ValidationError, fields

from nameko_services.common.errors import InvalidInput
from nameko_services.common.text import UNSTORABLE_MESSAGE, escaped, is_storable
from nameko_services.common.validation import AddressSchema, InputSchema, Pattern, load, shared_schema

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}


class Sample(InputSchema):
    name = fields.String()
    tags = fields.List(fields.String())
    address = fields.Nested(AddressSchema)


def problems(schema, payload):
    with pytest.raises(ValidationError) as raised:
        schema.load(payload)
    return raised.value.messages


@pytest.mark.parametrize(("text", "storable"), [
    ("plain", True), ("Grüße \U0001F600", True), ("a\x00b", False), ("\ud800", False),
    ("x\udfff", False), ("\ud83d\ude00", False)])  # a pair left as two code points is two lone halves
def test_text_with_a_nul_or_a_lone_surrogate_is_not_storable(text, storable):
    assert is_storable(text) is storable


def test_unstorable_text_is_named_by_field_by_list_position_and_by_nested_path():
    assert problems(Sample(), {"name": "a\ud800", "tags": ["ok", "b\x00"]}) == {
        "name": [UNSTORABLE_MESSAGE], "tags": {1: [UNSTORABLE_MESSAGE]}}
    assert problems(Sample(), {"address": dict(ADDRESS, city="\udc00")}) == {
        "address": {"city": [UNSTORABLE_MESSAGE]}}


def test_a_field_name_of_unstorable_text_is_named_escaped():
    assert problems(Sample(), {"a\ud800\x00": 1}) == {"a\\ud800\\u0000": [UNSTORABLE_MESSAGE]}
    assert escaped("ok") == "ok"


@pytest.mark.parametrize("value", ["EUR\n", "EURO", "eur", "", 5])
def test_a_pattern_must_match_the_whole_value(value):
    with pytest.raises(ValidationError):
        Pattern(r"^[A-Z]{3}$")(value)
    assert Pattern(r"^[A-Z]{3}$")("EUR") == "EUR"


@pytest.mark.parametrize("country", ["ZZ", "XX", "US\n", "us", "DEU", ""])
def test_an_address_country_is_an_assigned_upper_case_alpha_2_code(country):
    assert list(problems(AddressSchema(), dict(ADDRESS, country=country))) == ["country"]
    assert AddressSchema().load(ADDRESS) == {**ADDRESS, "line2": None, "region": None, "phone": None}


def refused(payload, **options):
    with pytest.raises(InvalidInput) as raised:
        load(Sample(), payload, **options)
    return raised.value.details


def test_load_names_every_bad_field_nested_ones_by_path_with_list_positions_as_strings():
    details = refused({"tags": ["a", 1], "address": {"country": "XX"}, "colour": "red"})
    assert details["tags"] == {"1": ["Not a valid string."]}
    assert set(details["address"]) == {"name", "line1", "city", "postal_code", "country"}
    assert details["colour"] == ["Unknown field."]


@pytest.mark.parametrize("payload", [[1, 2], "text", 3])
def test_load_refuses_a_payload_that_is_not_an_object_under_schema(payload):
    assert refused(payload) == {"_schema": ["Invalid input type."]}


def test_load_takes_none_for_an_empty_payload_unless_told_otherwise():
    assert load(Sample(), None) == {}
    assert refused(None, none_is_empty=False) == {"_schema": ["Invalid input type."]}


def test_the_shared_rules_import_neither_nameko_nor_eventlet_nor_sqlalchemy():
    # The gateway imports them; nameko's runtime and eventlet must never load there.
    script = ("import sys, nameko_services.common.validation, nameko_services.common.text; "
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'nameko', 'eventlet', 'sqlalchemy'}))")
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_a_schema_class_loads_through_one_shared_instance_that_keeps_nothing_between_loads():
    class Line(Schema):
        quantity = fields.Integer(required=True)

    assert shared_schema(Line) is shared_schema(Line)
    with pytest.raises(InvalidInput) as bad:
        load(Line, {"quantity": "many"})
    assert bad.value.details == {"quantity": ["Not a valid integer."]}
    assert load(Line, {"quantity": 2}) == {"quantity": 2}  # the earlier failure left nothing behind
    assert load(Line(), {"quantity": 3}) == {"quantity": 3}  # an instance still works as before
