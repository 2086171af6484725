"""Signing-key rotation: old tokens stay valid until they expire, retired keys verify nothing."""
from __future__ import annotations

import os
import time

import pytest

from nameko_services import cli
from nameko_services.common import auth, key_sets, keys, rpc
from nameko_services.common.errors import NotAuthenticated
from nameko_services.ops import keys as rotation
from nameko_services.users.tokens import TokenSettings

ISSUER, AUDIENCE = "https://shop.test", "nameko-shop"


@pytest.fixture(autouse=True)
def key_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SHOP_KEYS_DIR", str(tmp_path))
    for name in [*os.environ]:
        if name.startswith(("SHOP_KEY_", "SHOP_PUBKEY_")):
            monkeypatch.delenv(name)
    rpc.TRUSTED_SERVICE_KEYS.reset()
    return tmp_path


def access_token(key, ttl=900, now=None):
    return auth.issue_access_token(key, user_id="u1", roles=["customer"], issuer=ISSUER, audience=AUDIENCE,
                                   ttl=ttl, now=now)


def verify(token):
    return auth.verify_access_token(token, auth.key_map(keys.load_public_keys("access")),
                                    issuer=ISSUER, audience=AUDIENCE)


def kid_of(token):
    import jwt

    return jwt.get_unverified_header(token)["kid"]


def age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_after_a_rotation_old_tokens_stay_valid_and_new_ones_use_the_new_kid(key_folder):
    old = keys.load_signing_key("access")
    old_token = access_token(old)
    done = rotation.rotate("access")
    new = keys.load_signing_key("access")
    assert (done.previous_kid, done.current_kid) == (old.kid, new.kid) and old.kid != new.kid
    assert (key_folder / f"access.previous-{old.kid}.pub.pem").exists()
    assert verify(old_token).user_id == "u1"
    new_token = access_token(new)
    assert kid_of(new_token) == new.kid and verify(new_token).user_id == "u1"


def published():
    return keys.load_public_keys("access")


def test_the_jwks_serves_the_signing_key_first_and_every_previous_key(key_folder):
    old = keys.load_signing_key("access")
    rotation.rotate("access")
    new = keys.load_signing_key("access")
    settings = TokenSettings(new, ISSUER, AUDIENCE, 900, 3600, published=published)
    assert [jwk["kid"] for jwk in settings.jwks()["keys"]] == [new.kid, old.kid]
    assert all("d" not in jwk for jwk in settings.jwks()["keys"])
    # An instance not yet restarted still signs with the old key and serves the new one too.
    stale = TokenSettings(old, ISSUER, AUDIENCE, 900, 3600, published=published)
    assert [jwk["kid"] for jwk in stale.jwks()["keys"]] == [old.kid, new.kid]


def test_an_old_token_still_expires_as_usual(key_folder):
    old = keys.load_signing_key("access")
    token = access_token(old, ttl=60, now=time.time() - 3600)
    rotation.rotate("access")
    with pytest.raises(NotAuthenticated, match="expired"):
        verify(token)


def test_retiring_drops_only_keys_older_than_the_token_lifetime(key_folder, monkeypatch):
    monkeypatch.setenv("SHOP_ACCESS_TOKEN_TTL", "900")
    first = keys.load_signing_key("access")
    first_token = access_token(first)
    rotation.rotate("access")
    second = keys.load_signing_key("access")
    second_token = access_token(second)
    rotation.rotate("access")
    lifetime = 900 + auth.LEEWAY + rotation.SIGNER_MARGIN
    age(key_folder / f"access.previous-{first.kid}.pub.pem", lifetime + 1)
    age(key_folder / f"access.previous-{second.kid}.pub.pem", lifetime - 60)
    assert rotation.retire("access") == [first.kid]
    with pytest.raises(NotAuthenticated, match="unknown key"):
        verify(first_token)
    assert verify(second_token).user_id == "u1"


def test_a_leaked_key_is_retired_at_once_with_older_than_zero(key_folder):
    leaked = keys.load_signing_key("access")
    token = access_token(leaked)
    assert cli.main(["rotate-key", "--name", "access", "--retire", "--older-than", "0"]) == 0
    with pytest.raises(NotAuthenticated, match="unknown key"):
        verify(token)
    assert keys.previous_key_files("access") == []


def test_service_keys_live_as_long_as_the_events_they_sign():
    margin = auth.LEEWAY + rotation.SIGNER_MARGIN
    assert rotation.token_lifetime("service-orders", {}) == 7 * 24 * 3600 + margin
    assert rotation.token_lifetime("service-orders", {"SHOP_EVENT_TOKEN_MAX_AGE": "10"}) == (
        auth.SERVICE_TOKEN_TTL + margin)
    assert rotation.token_lifetime("access", {"SHOP_ACCESS_TOKEN_TTL": "300"}) == 300 + margin


def test_a_rotated_service_key_is_picked_up_by_receivers_without_a_restart(key_folder, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(key_sets.time, "monotonic", lambda: clock[0])
    old = keys.load_signing_key("service-orders")
    auth.ensure_signing_keys()
    old_call = auth.issue_service_token(old, service="orders", audience="catalog")
    assert rpc.verified_principal(old_call, "catalog").service == "orders"
    rotation.rotate("service-orders")
    new_call = auth.issue_service_token(keys.load_signing_key("service-orders"), service="orders",
                                        audience="catalog")
    clock[0] += key_sets.KEY_RELOAD_INTERVAL
    for token in (new_call, old_call):  # the unknown kid reloads; the old key is still there
        assert rpc.verified_principal(token, "catalog").service == "orders"


def test_a_retired_service_key_stops_verifying_within_a_minute(key_folder, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(key_sets.time, "monotonic", lambda: clock[0])
    auth.ensure_signing_keys()
    old_call = auth.issue_service_token(keys.load_signing_key("service-orders"), service="orders",
                                        audience="catalog")
    rpc.trusted_service_keys()
    rotation.rotate("service-orders")
    rotation.retire("service-orders", older_than=0)
    clock[0] += key_sets.KEY_MAX_AGE
    with pytest.raises(NotAuthenticated, match="unknown key"):
        auth.verify_service_token(old_call, rpc.trusted_service_keys(), audience="catalog")


def test_previous_public_keys_can_come_from_the_environment(key_folder, monkeypatch):
    one, two = keys.Ed25519PrivateKey.generate(), keys.Ed25519PrivateKey.generate()
    pems = keys.public_pem(one.public_key()) + b"\n" + keys.public_pem(two.public_key())
    monkeypatch.setenv("SHOP_PUBKEY_ACCESS_PREVIOUS", pems.decode())
    kids = [keys.thumbprint(key) for key in keys.load_public_keys("access")]
    assert kids[1:] == [keys.thumbprint(one.public_key()), keys.thumbprint(two.public_key())]


def test_a_key_from_the_environment_or_an_unknown_name_is_not_rotated_here(key_folder, monkeypatch, capsys):
    assert cli.main(["rotate-key", "--name", "nonsense"]) == 2
    assert "unknown key" in capsys.readouterr().err
    monkeypatch.setenv("SHOP_KEY_ACCESS", "-----BEGIN PRIVATE KEY-----")
    assert cli.main(["rotate-key", "--name", "access"]) == 2
    assert "SHOP_KEY_ACCESS" in capsys.readouterr().err
    assert list(key_folder.iterdir()) == []


def test_a_public_only_copy_of_the_current_key_follows_the_rotation(key_folder):
    (key_folder / "access.pub.pem").write_bytes(keys.public_pem(keys.load_signing_key("access").public_key))
    rotation.rotate("access")
    assert keys.thumbprint(keys.load_public_key("access")) == keys.load_signing_key("access").kid
    assert len(keys.load_public_keys("access")) == 2


def test_a_staged_key_verifies_before_it_signs_and_the_next_rotation_makes_it_sign(key_folder):
    current = keys.load_signing_key("access")
    assert cli.main(["rotate-key", "--name", "access", "--stage"]) == 0
    staged_kid = keys.thumbprint(keys.next_public_key("access"))
    assert keys.load_signing_key("access").kid == current.kid  # still signing
    assert [keys.thumbprint(key) for key in keys.load_public_keys("access")] == [current.kid, staged_kid]
    with pytest.raises(rotation.RotationRefused, match="already staged"):
        rotation.stage("access")
    done = rotation.rotate("access")
    assert (done.previous_kid, done.current_kid) == (current.kid, staged_kid)
    assert keys.load_signing_key("access").kid == staged_kid and keys.next_public_key("access") is None
    assert [keys.thumbprint(key) for key in keys.load_public_keys("access")] == [staged_kid, current.kid]
