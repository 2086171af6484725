"""Stateless CSRF tokens for the sign-in form of the authorization endpoint.

A token is an HMAC over the authorization request the page was rendered for, the hash of a
random nonce kept in a ``SameSite=Strict`` cookie, and an expiry. A POST must bring both the
token and the cookie: another site can neither read the token nor send the cookie, and the
request parameters cannot be swapped under the user's approval. Every gateway derives the same
HMAC key from the gateway's signing key, so any instance accepts the form of any other.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from nameko_services.common.keys import SigningKey

TTL = 600  # seconds a user has to fill in the form
COOKIE = "shop_oauth_csrf"


class CsrfError(Exception):
    """The form was not rendered by us for this browser, or it expired."""


def derive_key(signing_key: SigningKey) -> bytes:
    """A separate HMAC key from the gateway's Ed25519 key (never used for anything else)."""
    raw = signing_key.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return hashlib.sha256(b"nameko-shop oauth csrf v1\x00" + raw).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def _nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def issue(key: bytes, request: dict[str, Any], nonce: str, now: float | None = None) -> str:
    """A token binding ``request`` to the browser holding ``nonce``, valid ``TTL`` seconds."""
    claims = {"r": request, "n": _nonce_hash(nonce), "exp": int((now or time.time()) + TTL)}
    payload = _b64(json.dumps(claims, sort_keys=True, separators=(",", ":")).encode())
    return f"{payload}.{_mac(key, payload)}"


def verify(key: bytes, token: str, nonce: str | None, now: float | None = None) -> dict[str, Any]:
    """The authorization request a valid token was issued for; ``CsrfError`` otherwise."""
    payload, _, mac = token.partition(".")
    if not nonce or not hmac.compare_digest(_mac(key, payload).encode(), mac.encode()):
        raise CsrfError("The form was not sent from this browser's sign-in page.")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    if not hmac.compare_digest(str(claims["n"]).encode(), _nonce_hash(nonce).encode()):
        raise CsrfError("The form was not sent from this browser's sign-in page.")
    if (now or time.time()) > claims["exp"]:
        raise CsrfError("The sign-in form expired.")
    request = claims["r"]
    assert isinstance(request, dict)
    return request
