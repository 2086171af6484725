"""OWASP API2:2023 Broken Authentication: every token rule, against the running gateway.

Each forged token is otherwise perfect (real user, real key where it matters, fresh times), so
a refusal can only come from the one rule the test breaks.
"""
import time

import pytest
from cryptography.hazmat.primitives import serialization

from nameko_services.common.config import config_path, load_config
from tests.security.conftest import CUSTOMER_PASSWORD
from tests.security.support import (
    access_claims,
    access_key,
    bearer,
    hmac_signed,
    load_signing_key_from,
    sign,
    stranger_key,
    tampered,
    unsigned,
    with_claims,
)

ME = "/api/v1/users/me"


def _refused(client, token):
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"
    return response


@pytest.fixture
def forge(platform, keys_dir, customer):
    """``forge(**claim_overrides, typ=..., key=..., kid=...)`` → a token for the customer."""
    user, _ = customer
    real = access_key(keys_dir)

    def _forge(key=None, typ="at+jwt", kid=None, **overrides):
        return sign(key or real, access_claims(user["id"], platform.base_url, **overrides), typ=typ, kid=kid)

    return _forge


def test_a_token_forged_with_the_real_key_and_right_claims_is_accepted(client, forge, customer):
    # The control: the forging helpers make tokens the gateway accepts when no rule is broken.
    assert client.get(ME, headers=bearer(forge())).json()["id"] == customer[0]["id"]


def test_no_token_is_a_401_with_a_bearer_challenge(client):
    response = client.get(ME)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not a jwt", "Token abc",
                                    "bearer a.b"])
def test_malformed_authorization_headers_are_refused(client, header):
    response = client.get(ME, headers={"Authorization": header})
    assert response.status_code == 401, response.text


def test_a_tampered_signature_is_refused(client, customer):
    _refused(client, tampered(customer[1]))


def test_raising_ones_own_roles_in_the_claims_breaks_the_signature(client, customer):
    _refused(client, with_claims(customer[1], roles=["admin", "customer"]))
    escalated = with_claims(customer[1], roles=["admin"])
    assert client.get("/api/v1/users", headers=bearer(escalated)).status_code == 401


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(client, customer, keys_dir, platform, alg):
    claims = access_claims(customer[0]["id"], platform.base_url, roles=("admin", "customer"))
    _refused(client, unsigned(claims, {"alg": alg, "typ": "at+jwt", "kid": access_key(keys_dir).kid}))


@pytest.mark.parametrize("encoding", ["raw", "pem", "jwk-x"])
def test_hs256_keyed_with_the_public_key_is_refused(client, customer, keys_dir, platform, encoding):
    key = access_key(keys_dir)
    public = {
        "raw": key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": key.public_key.public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo),
        "jwk-x": key.jwk()["x"].encode(),
    }[encoding]
    claims = access_claims(customer[0]["id"], platform.base_url, roles=("admin", "customer"))
    _refused(client, hmac_signed(claims, public, key.kid))


def test_the_public_key_is_the_one_in_the_jwks(client, keys_dir):
    # So the confusion test above used exactly what an attacker can download.
    jwks = client.get("/.well-known/jwks.json").json()
    assert access_key(keys_dir).jwk()["x"] in {k["x"] for k in jwks["keys"]}
    assert all("d" not in k for k in jwks["keys"]), "a private key part is published"


def test_a_wrong_audience_is_refused(client, forge):
    _refused(client, forge(aud="another-api"))


def test_a_missing_audience_is_refused(client, forge):
    _refused(client, forge(aud=None))


def test_a_wrong_issuer_is_refused(client, forge):
    _refused(client, forge(iss="https://evil.example.com"))


def test_an_expired_token_is_refused(client, forge):
    # Past the 30 s clock-skew leeway the verifier allows.
    _refused(client, forge(ttl=-120))


def test_a_token_without_expiry_is_refused(client, forge):
    _refused(client, forge(exp=None))


def test_a_token_not_valid_yet_is_refused(client, forge):
    _refused(client, forge(nbf=int(time.time()) + 600, iat=int(time.time()) + 600, ttl=1200))


def test_an_unknown_kid_is_refused(client, forge):
    _refused(client, forge(key=stranger_key()))


def test_the_right_kid_on_another_keys_signature_is_refused(client, forge, keys_dir):
    _refused(client, forge(key=stranger_key(), kid=access_key(keys_dir).kid))


@pytest.mark.parametrize("typ", ["service+jwt", "JWT", "event+jwt"])
def test_a_token_of_another_type_is_refused(client, forge, typ):
    _refused(client, forge(typ=typ))


def test_a_service_token_is_not_an_access_token(client, keys_dir, customer, platform):
    # A stolen service token (signed by a service's real key) does not open the HTTP API.
    gateway_key = load_signing_key_from(keys_dir, "service-gateway")
    claims = access_claims(customer[0]["id"], platform.base_url)
    _refused(client, sign(gateway_key, claims))
    _refused(client, sign(gateway_key, claims, typ="service+jwt"))


def _token_grant(client, **data):
    return client.post("/api/v1/oauth/token", data=data)


def _login(client, user, password):
    response = _token_grant(client, grant_type="password", username=user["email"], password=password)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_revoked_refresh_token_cannot_be_used(client, customer):
    tokens = _login(client, customer[0], CUSTOMER_PASSWORD)
    revoked = client.post("/api/v1/oauth/revoke", data={"token": tokens["refresh_token"]})
    assert revoked.status_code == 200
    again = _token_grant(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(client, customer):
    first = _login(client, customer[0], CUSTOMER_PASSWORD)
    second = _token_grant(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    # An attacker replays the stolen, already spent token...
    replay = _token_grant(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # ...and the legitimate holder's newer token of the same family dies with it.
    successor = _token_grant(client, grant_type="refresh_token", refresh_token=second.json()["refresh_token"])
    assert successor.status_code == 400 and successor.json()["error"] == "invalid_grant"


def test_a_made_up_refresh_token_is_refused(client):
    response = _token_grant(client, grant_type="refresh_token", refresh_token="x" * 43)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(client, customer):
    wrong = _token_grant(client, grant_type="password", username=customer[0]["email"], password="nope nope")
    unknown = _token_grant(client, grant_type="password", username="nobody@example.com", password="nope nope")
    assert wrong.status_code == unknown.status_code and wrong.status_code in (400, 401)
    assert wrong.json() == unknown.json(), "the answers tell registered accounts apart"


def test_token_answers_are_never_cached(client, customer):
    response = _token_grant(client, grant_type="password", username=customer[0]["email"],
                            password=CUSTOMER_PASSWORD)
    assert response.headers["cache-control"] == "no-store"


def test_a_changed_password_ends_existing_refresh_tokens(client, customer):
    user, access = customer
    tokens = _login(client, user, CUSTOMER_PASSWORD)
    changed = client.post("/api/v1/users/me/password", headers=bearer(access),
                          json={"current_password": CUSTOMER_PASSWORD, "new_password": "a brand new secret"})
    assert changed.status_code == 204, changed.text
    old = _token_grant(client, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"


def _free_failures():
    """Failed sign-ins an account gets before it is slowed down, as the users service reads it."""
    return int(load_config(config_path("users"))["LOGIN_THROTTLE"]["ACCOUNT_FREE_FAILURES"])


def test_guessing_one_accounts_password_is_slowed_down_with_a_429(client, customer):
    user, _ = customer
    free = _free_failures()
    # Each guess from another address: the account's own counter is what stops it.
    addresses = (f"203.0.113.{n}" for n in range(1, 250))  # TEST-NET-3, used by no other test

    def guess(password):
        return _token_grant_from(client, next(addresses), grant_type="password", username=user["email"],
                                 password=password)

    assert [guess("wrong guess").status_code for _ in range(free)] == [400] * free
    throttled = guess(CUSTOMER_PASSWORD)  # even the right password waits now
    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["error"] == "slow_down"
    assert int(throttled.headers["retry-after"]) >= 1


def _token_grant_from(client, address, **data):
    return client.post("/api/v1/oauth/token", data=data, headers={"X-Forwarded-For": address})
