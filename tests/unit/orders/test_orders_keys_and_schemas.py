"""Idempotency-Key decisions and the validation of RPC payloads."""
from datetime import timedelta

import pytest

from nameko_services.common.errors import (
    BadRequest,
    IdempotencyKeyInUse,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    InvalidInput,
)
from nameko_services.common.validation import load, valid_idempotency_key
from nameko_services.orders import idempotency_keys as keys
from nameko_services.orders import schemas
from nameko_services.orders.idempotency_keys import DONE, IN_PROGRESS, KeyRecord
from tests.unit.orders.builders import ADDRESS, PRODUCT, T0

ABANDONED = timedelta(seconds=60)


def record(state=IN_PROGRESS, digest="h1", age=0):
    return KeyRecord("u", "k", digest, state, "o" if state == DONE else None, T0 - timedelta(seconds=age))


def test_a_finished_key_with_the_same_body_is_replayed():
    assert keys.decide(record(DONE), "h1", T0, ABANDONED) == keys.REPLAY


def test_a_key_with_another_body_is_reused_whatever_its_state():
    for state in (DONE, IN_PROGRESS):
        with pytest.raises(IdempotencyKeyReused):
            keys.decide(record(state), "h2", T0, ABANDONED)


def test_a_running_key_is_in_use_until_it_is_abandoned():
    with pytest.raises(IdempotencyKeyInUse):
        keys.decide(record(age=59), "h1", T0, ABANDONED)
    assert keys.decide(record(age=60), "h1", T0, ABANDONED) == keys.TAKE_OVER


def test_the_request_hash_ignores_key_order_but_not_values():
    assert keys.request_hash({"a": 1, "b": [1, 2]}) == keys.request_hash({"b": [1, 2], "a": 1})
    assert keys.request_hash({"a": 1}) != keys.request_hash({"a": 2})


def body(**changes):
    return dict({"items": [{"product_id": PRODUCT, "quantity": 2}], "shipping_address": ADDRESS,
                 "payment": {"token": "tok_visa"}}, **changes)


def test_a_valid_order_body_loads_into_a_command():
    cmd = load(schemas.PlaceOrderSchema(), body())
    assert cmd.items == ({"product_id": PRODUCT, "quantity": 2},)
    assert cmd.payment_token == "tok_visa"
    assert cmd.shipping_address == {**ADDRESS, "line2": None, "region": None, "phone": None}


def test_unknown_fields_are_refused_by_name():
    with pytest.raises(InvalidInput) as raised:
        load(schemas.PlaceOrderSchema(), body(coupon="FREE", payment={"token": "t", "cvc": "1"}))
    assert raised.value.details["coupon"] == ["Unknown field."]
    assert raised.value.details["payment"] == {"cvc": ["Unknown field."]}


@pytest.mark.parametrize("quantity", [0, 101, "2", 1.5])
def test_quantities_are_whole_numbers_from_1_to_100(quantity):
    with pytest.raises(InvalidInput) as raised:
        load(schemas.PlaceOrderSchema(), body(items=[{"product_id": PRODUCT, "quantity": quantity}]))
    assert "items" in raised.value.details


def test_at_most_fifty_lines_and_at_least_one():
    many = [{"product_id": f"00000000-0000-4000-8000-{i:012d}", "quantity": 1} for i in range(51)]
    for items in ([], many):
        with pytest.raises(InvalidInput):
            load(schemas.PlaceOrderSchema(), body(items=items))


def test_duplicate_product_lines_are_merged_within_the_line_limit():
    cmd = load(schemas.PlaceOrderSchema(), body(items=[{"product_id": PRODUCT, "quantity": 60},
                                                               {"product_id": PRODUCT, "quantity": 40}]))
    assert cmd.items == ({"product_id": PRODUCT, "quantity": 100},)
    with pytest.raises(InvalidInput) as raised:
        load(schemas.PlaceOrderSchema(), body(items=[{"product_id": PRODUCT, "quantity": 60},
                                                             {"product_id": PRODUCT, "quantity": 41}]))
    assert "items" in raised.value.details


def test_a_modification_must_change_something():
    with pytest.raises(InvalidInput):
        load(schemas.ModifyOrderSchema(), {})
    assert load(schemas.ModifyOrderSchema(), {"shipping_address": ADDRESS}).items is None


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "k\n", None, 5])
def test_a_malformed_idempotency_key_is_a_bad_request_as_at_the_gateway(key):
    with pytest.raises(IdempotencyKeyMissing) as refused:
        valid_idempotency_key(key)
    assert isinstance(refused.value, BadRequest) and refused.value.code == "idempotency_key_missing"


def test_a_reply_keeps_the_fields_orders_reads_and_ignores_the_rest():
    reply = load(schemas.ReplySchema(), {"order_id": PRODUCT, "order_version": 3, "items": [],
                                                 "reason": "out_of_stock", "details": {}})
    assert (reply.order_id, reply.order_version, reply.reason) == (PRODUCT, 3, "out_of_stock")
