"""Event tokens bind the emitting service to one exact event, for a bounded time."""
import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nameko_services.common.auth import issue_service_token, key_map
from nameko_services.common.errors import NotAuthenticated
from nameko_services.common.event_auth import payload_digest, resign_event, sign_event, verify_event
from nameko_services.common.keys import SigningKey

DAY = 24 * 3600
ORDERS = SigningKey("service-orders", Ed25519PrivateKey.generate())
PAYMENTS = SigningKey("service-payments", Ed25519PrivateKey.generate())
EVENT_ID = str(uuid.uuid4())
PAYLOAD = {"order_id": "o-1", "order_version": 3, "payment_id": "p-1", "amount": 999, "currency": "EUR"}


def signed(key=PAYMENTS, service="payments", **overrides):
    claims = {"event_type": "payment_captured", "event_id": EVENT_ID, "payload": PAYLOAD, **overrides}
    return sign_event(key, service=service, **claims)


def verify(token, keys=(PAYMENTS,), **overrides):
    claims = {"service": "payments", "event_type": "payment_captured", "event_id": EVENT_ID,
              "payload": PAYLOAD, **overrides}
    return verify_event(token, key_map(k.public_key for k in keys), **claims)


def test_a_genuine_token_names_the_emitting_service_and_the_event():
    origin = verify(signed())
    assert (origin.service, origin.event_id) == ("payments", EVENT_ID)
    assert abs(origin.issued_at - time.time()) < 5


def test_the_payload_digest_ignores_key_order_but_not_values():
    assert payload_digest({"a": 1, "b": [1, 2]}) == payload_digest({"b": [1, 2], "a": 1})
    assert payload_digest({"a": 1}) != payload_digest({"a": 2})


@pytest.mark.parametrize("overrides", [
    {"payload": dict(PAYLOAD, amount=1)},
    {"payload": dict(PAYLOAD, order_id="o-2")},
    {"event_id": str(uuid.uuid4())},
    {"event_type": "payment_authorised"},
], ids=["amount", "order", "event-id", "event-type"])
def test_a_token_lifted_onto_another_event_is_refused(overrides):
    with pytest.raises(NotAuthenticated, match="another event"):
        verify(signed(), **overrides)


def test_an_event_without_a_token_is_refused():
    with pytest.raises(NotAuthenticated, match="no event token"):
        verify(None)


def test_an_event_without_an_id_is_refused_even_if_signed_so():
    with pytest.raises(NotAuthenticated, match="no event id"):
        verify(signed(event_id=None), event_id=None)


def test_a_token_signed_by_an_unknown_key_is_refused():
    forged = SigningKey("service-payments", Ed25519PrivateKey.generate())
    with pytest.raises(NotAuthenticated, match="unknown key"):
        verify(signed(key=forged))


def test_another_services_genuine_token_is_refused_on_this_exchange():
    # orders signs an event claiming to be a payments event: its key is not payments' key
    with pytest.raises(NotAuthenticated, match="unknown key"):
        verify(signed(key=ORDERS, service="payments"))


def test_a_token_naming_another_issuer_is_refused_even_with_the_right_key():
    with pytest.raises(NotAuthenticated, match="issuer"):
        verify(signed(service="orders"))


def test_an_rpc_service_token_is_not_an_event_token():
    rpc_token = issue_service_token(PAYMENTS, service="payments", audience="events")
    with pytest.raises(NotAuthenticated, match="wrong type"):
        verify(rpc_token)


def test_an_event_redelivered_hours_later_is_accepted():
    assert verify(signed(now=time.time() - 30 * 3600)).service == "payments"


def test_an_event_past_its_expiry_is_refused():
    with pytest.raises(NotAuthenticated, match="expired"):
        verify(signed(now=time.time() - 8 * DAY))


def test_the_receiver_bounds_the_age_even_if_the_signer_allowed_longer():
    token = signed(now=time.time() - 8 * DAY, max_age=365 * DAY)
    with pytest.raises(NotAuthenticated, match="older than"):
        verify(token, max_age=7 * DAY)
    assert verify(token, max_age=30 * DAY).service == "payments"


def test_a_genuine_event_too_old_to_accept_is_resigned_for_another_week():
    old = signed(now=time.time() - 30 * DAY)
    fresh = resign_event(old, PAYMENTS, key_map([PAYMENTS.public_key]), service="payments",
                         event_type="payment_captured", event_id=EVENT_ID, payload=PAYLOAD)
    assert verify(fresh).issued_at >= int(time.time()) - 5


@pytest.mark.parametrize("token", [
    signed(key=SigningKey("service-payments", Ed25519PrivateKey.generate())),
    signed(payload=dict(PAYLOAD, amount=1)),
    None,
], ids=["unknown-key", "other-payload", "no-token"])
def test_resigning_never_launders_a_forged_event(token):
    with pytest.raises(NotAuthenticated):
        resign_event(token, PAYMENTS, key_map([PAYMENTS.public_key]), service="payments",
                     event_type="payment_captured", event_id=EVENT_ID, payload=PAYLOAD)
