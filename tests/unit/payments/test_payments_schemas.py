"""Payments payloads: patterns match the whole value."""
import uuid

import pytest

from nameko_services.common.errors import InvalidInput
from nameko_services.common.validation import load
from nameko_services.payments import schemas


def test_a_currency_with_a_trailing_newline_is_invalid_input():
    event = {"order_id": str(uuid.uuid4()), "order_version": 1, "user_id": str(uuid.uuid4()),
             "amount": 100, "currency": "EUR\n", "payment_token": "tok_visa"}
    with pytest.raises(InvalidInput) as raised:
        load(schemas.PaymentRequestedSchema(), event)
    assert list(raised.value.details) == ["currency"]
