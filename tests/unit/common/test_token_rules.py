"""The token rules of common/auth.py: EdDSA only, the right typ, iss, aud and kid, times with a leeway."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from nameko_services.common import auth
from nameko_services.common.errors import NotAuthenticated
from nameko_services.common.keys import Ed25519PrivateKey, SigningKey, public_pem

ISSUER, AUDIENCE = "https://shop.test", "nameko-shop"


@pytest.fixture
def key():
    return SigningKey("access", Ed25519PrivateKey.generate())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def token(key, **overrides):
    now = overrides.pop("now", None)
    ttl = overrides.pop("ttl", 900)
    return auth.issue_access_token(key, user_id="u1", roles=["customer"], issuer=overrides.pop("iss", ISSUER),
                                   audience=overrides.pop("aud", AUDIENCE), ttl=ttl, now=now)


def verify(key, text, keys=None):
    return auth.verify_access_token(text, keys if keys is not None else auth.key_map([key.public_key]),
                                    issuer=ISSUER, audience=AUDIENCE)


def reassemble(text, header=None, claims=None, signature=None):
    """The token with its header, claims or signature replaced (the rest kept as signed)."""
    head, body, sig = text.split(".")
    head = _b64(json.dumps(header).encode()) if header is not None else head
    body = _b64(json.dumps(claims).encode()) if claims is not None else body
    return f"{head}.{body}.{sig if signature is None else signature}"


def refused(key, text, match, keys=None):
    with pytest.raises(NotAuthenticated, match=match):
        verify(key, text, keys)


def test_a_good_token_passes(key):
    assert verify(key, token(key)).user_id == "u1"


def test_a_tampered_claim_breaks_the_signature(key):
    good = token(key)
    claims = _json(good.split(".")[1]) | {"roles": ["customer", "admin"]}
    refused(key, reassemble(good, claims=claims), "Signature verification failed")


def test_a_tampered_signature_is_refused(key):
    good = token(key)
    signature = good.split(".")[2]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    refused(key, reassemble(good, signature=flipped), "not valid")


def test_alg_none_is_refused(key):
    good = token(key)
    header = _json(good.split(".")[0]) | {"alg": "none"}
    refused(key, reassemble(good, header=header, signature=""), "not valid")


@pytest.mark.parametrize("secret", ["raw", "pem"], ids=["raw public key", "PEM public key"])
def test_hs256_signed_with_the_public_key_bytes_is_refused(key, secret):
    """Algorithm confusion: the public key is no secret, so an HMAC made with it proves nothing."""
    good = token(key)
    header = _json(good.split(".")[0]) | {"alg": "HS256"}
    raw = key.public_key.public_bytes_raw() if secret == "raw" else public_pem(key.public_key)
    head, body, _ = reassemble(good, header=header).split(".")
    mac = hmac.new(raw, f"{head}.{body}".encode(), hashlib.sha256).digest()
    refused(key, f"{head}.{body}.{_b64(mac)}", "not valid")


def test_another_audience_is_refused(key):
    refused(key, token(key, aud="someone-else"), "Audience")


def test_another_issuer_is_refused(key):
    refused(key, token(key, iss="https://evil.test"), "issuer")


def test_expired_within_the_leeway_passes_and_beyond_it_is_refused(key):
    now = time.time()
    assert verify(key, token(key, ttl=60, now=now - 60 - auth.LEEWAY + 5)).user_id == "u1"
    refused(key, token(key, ttl=60, now=now - 60 - auth.LEEWAY - 5), "expired")


def test_a_token_not_yet_valid_beyond_the_leeway_is_refused(key):
    assert verify(key, token(key, now=time.time() + auth.LEEWAY - 5)).user_id == "u1"
    refused(key, token(key, now=time.time() + auth.LEEWAY + 60), "not yet valid|iat")


def test_an_unknown_kid_is_refused_even_if_another_key_would_verify(key):
    good = token(key)
    header = _json(good.split(".")[0]) | {"kid": "not-a-key-we-know"}
    refused(key, reassemble(good, header=header), "unknown key")
    refused(key, token(SigningKey("access", Ed25519PrivateKey.generate())), "unknown key")


def test_a_kid_selects_its_own_key_among_several(key):
    other = SigningKey("access", Ed25519PrivateKey.generate())
    keys = auth.key_map([other.public_key, key.public_key])
    assert verify(key, token(key), keys).user_id == verify(key, token(other), keys).user_id == "u1"
    # The other key's kid on a token signed by this key: the chosen key must fail it.
    header = _json(token(key).split(".")[0]) | {"kid": other.kid}
    refused(key, reassemble(token(key), header=header), "Signature verification failed", keys)


@pytest.mark.parametrize("typ", ["service+jwt", "JWT", None])
def test_the_wrong_typ_is_refused(key, typ):
    good = token(key)
    header = {k: v for k, v in (_json(good.split(".")[0]) | {"typ": typ}).items() if v is not None}
    refused(key, reassemble(good, header=header), "wrong type")


def test_a_missing_required_claim_is_refused(key):
    import jwt

    claims = _json(token(key).split(".")[1])
    del claims["jti"]
    forged = jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": "at+jwt"})
    refused(key, forged, "jti")


def test_a_service_token_follows_the_same_rules(key):
    call = auth.issue_service_token(key, service="orders", audience="catalog")
    keys = auth.key_map([key.public_key])
    assert auth.verify_service_token(call, keys, audience="catalog").service == "orders"
    with pytest.raises(NotAuthenticated, match="Audience"):
        auth.verify_service_token(call, keys, audience="payments")
    stranger = auth.issue_service_token(key, service="mallory", audience="catalog")
    with pytest.raises(NotAuthenticated, match="issuer"):
        auth.verify_service_token(stranger, keys, audience="catalog")
    with pytest.raises(NotAuthenticated, match="wrong type"):
        auth.verify_service_token(token(key), keys, audience=AUDIENCE)
