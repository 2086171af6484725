"""Errors cross nameko's wire format with their class and details, and nameko stays unpatched."""
import json
import uuid

import nameko.exceptions
import pytest
from nameko.exceptions import deserialize, serialize

from nameko_services.common import errors
from nameko_services.common.remote_errors import register_remote_errors

DETAILS = {"items": [{"product_id": "p-1", "requested": 2, "available": 0}], "count": 3,
           "ratio": 0.5, "retry": None, "final": True, "nested": [[1, 2], []]}


def over_the_wire(exc):
    """What a nameko caller receives: the reply's ``error`` serialised to JSON and back."""
    return json.loads(json.dumps(serialize(exc)))


def test_nameko_is_not_patched():
    assert nameko.exceptions.safe_for_serialization.__module__ == "nameko.exceptions"
    assert nameko.exceptions.safe_for_serialization(2) == "2"


def test_a_nameko_caller_gets_the_class_back_with_its_details_intact():
    register_remote_errors()
    received = deserialize(over_the_wire(errors.OutOfStock("Short.", DETAILS)))
    assert type(received) is errors.OutOfStock
    assert (received.message, received.details) == ("Short.", DETAILS)


def test_the_gateway_rebuilds_the_class_with_its_details_intact():
    wire = over_the_wire(errors.OutOfStock("Short.", DETAILS))
    rebuilt = errors.rebuild(wire["exc_type"], wire["exc_args"])
    assert type(rebuilt) is errors.OutOfStock
    assert (rebuilt.message, rebuilt.details, str(rebuilt)) == ("Short.", DETAILS, "Short.")
    assert wire["value"] == "Short."


def test_a_value_json_cannot_hold_crosses_as_text_as_nameko_would_send_it():
    order_id = uuid.uuid4()
    wire = over_the_wire(errors.OrderNotFound(details={"order_id": order_id, "tags": {"a"}}))
    assert errors.rebuild(wire["exc_type"], wire["exc_args"]).details == {"order_id": str(order_id),
                                                                         "tags": ["a"]}


def test_an_error_without_details_crosses_with_its_default_message_and_empty_details():
    wire = over_the_wire(errors.ProductNotFound())
    rebuilt = errors.rebuild(wire["exc_type"], wire["exc_args"])
    assert (rebuilt.message, rebuilt.details) == ("Product not found.", {})


@pytest.mark.parametrize("details", [{"email": ["Taken."]}, '{"email": ["Taken."]}'])
def test_details_are_given_as_a_mapping_or_as_the_json_text_they_cross_in(details):
    assert errors.EmailTaken("Taken.", details).details == {"email": ["Taken."]}


@pytest.mark.parametrize("details", ["not json", "[1, 2]", "3"])
def test_details_that_are_not_a_json_object_are_dropped_and_the_message_kept(details):
    assert (errors.EmailTaken("Taken.", details).details, str(errors.EmailTaken("Taken.", details))) == (
        {}, "Taken.")


class GiftCardExpired(errors.Conflict):
    """An error class added after the caller was built: never registered here."""

    code = "gift_card_expired"


def test_a_service_error_names_its_bases_nearest_first_and_its_code():
    assert errors.lineage(GiftCardExpired("Expired.")) == {
        "exc_bases": ["Conflict", "ServiceError"], "exc_code": "gift_card_expired"}
    assert errors.lineage(KeyError("x")) == {}


def test_an_unknown_class_is_rebuilt_as_its_nearest_known_base_with_its_own_code():
    wire = {**over_the_wire(GiftCardExpired("Expired.", {"card": "c-1"})),
            **errors.lineage(GiftCardExpired())}
    assert "GiftCardExpired" not in errors.REGISTRY
    rebuilt = errors.rebuild(wire["exc_type"], wire["exc_args"], wire["exc_bases"], wire["exc_code"])
    assert type(rebuilt) is errors.Conflict
    assert (rebuilt.code, rebuilt.message, rebuilt.details) == ("gift_card_expired", "Expired.",
                                                                {"card": "c-1"})
    assert errors.Conflict.code == "conflict"  # the class keeps its own


@pytest.mark.parametrize("bases", [None, [], ["ServiceError"], ["SomethingElse"], "Conflict", [3]])
def test_an_unknown_class_without_a_known_base_is_not_rebuilt(bases):
    assert errors.rebuild("GiftCardExpired", ["Expired."], bases, "gift_card_expired") is None


@pytest.mark.parametrize("code", ["Not A Code", "", 7, None, "x" * 65])
def test_a_code_that_is_not_snake_case_leaves_the_base_s_code(code):
    assert errors.rebuild("GiftCardExpired", ["Expired."], ["Conflict"], code).code == "conflict"


def test_a_known_class_keeps_its_own_class_whatever_the_bases_say():
    rebuilt = errors.rebuild("OutOfStock", ["Short."], ["NotFound"])
    assert type(rebuilt) is errors.OutOfStock and rebuilt.code == "out_of_stock"


def test_a_code_carried_through_a_service_in_between_survives_the_second_hop():
    # orders rebuilt catalog's unknown GiftCardExpired as a Conflict; its reply names Conflict.
    in_between = errors.rebuild("GiftCardExpired", ["Expired."], ["Conflict"], "gift_card_expired")
    wire = {**over_the_wire(in_between), **errors.lineage(in_between)}
    rebuilt = errors.rebuild(wire["exc_type"], wire["exc_args"], wire["exc_bases"], wire["exc_code"])
    assert (type(rebuilt), rebuilt.code) == (errors.Conflict, "gift_card_expired")


def test_a_nameko_caller_ignores_the_lineage_fields():
    register_remote_errors()
    wire = {**over_the_wire(errors.OutOfStock("Short.")), **errors.lineage(errors.OutOfStock())}
    assert type(deserialize(wire)) is errors.OutOfStock
