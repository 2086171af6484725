"""What the security tests share: orders and products over HTTP, and forged tokens."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nameko_services.common.keys import SigningKey

ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
FINAL = {"confirmed", "cancelled", "shipped", "delivered"}
SAGA_TIMEOUT = 30.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_product(client: httpx.Client, admin_token: str, stock: int = 5, price: int = 1250) -> dict:
    body = {"sku": f"SEC-{uuid.uuid4().hex[:8]}", "name": "Safe", "price": price, "currency": "EUR",
            "stock": stock}
    response = client.post("/api/v1/products", headers=bearer(admin_token), json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def order_body(product_id: str, quantity: int = 1, card: str = "tok_visa") -> dict[str, Any]:
    return {"items": [{"product_id": product_id, "quantity": quantity}], "shipping_address": ADDRESS,
            "payment": {"token": card}}


def place(client: httpx.Client, token: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return client.post("/api/v1/orders", json=body,
                       headers={**bearer(token), "Idempotency-Key": key or uuid.uuid4().hex})


def wait_for(client: httpx.Client, token: str, order_id: str, statuses: set[str],
             timeout: float = SAGA_TIMEOUT) -> dict:
    """The order once its status is one of ``statuses`` (or as it is when time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        order = dict(client.get(f"/api/v1/orders/{order_id}", headers=bearer(token)).json())
        if order["status"] in statuses or time.monotonic() > deadline:
            return order
        time.sleep(0.2)


# --- tokens --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_key(keys_dir: Path) -> SigningKey:
    """The platform's real access-token key (the tests start the platform with this folder)."""
    return load_signing_key_from(keys_dir, "access")


def load_signing_key_from(keys_dir: Path, name: str) -> SigningKey:
    """A private key of the running platform, read from its key folder (never generated here)."""
    key = serialization.load_pem_private_key((keys_dir / f"{name}.pem").read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey), name
    return SigningKey(name, key)


def stranger_key() -> SigningKey:
    """A well-formed Ed25519 key the platform has never seen."""
    return SigningKey("stranger", Ed25519PrivateKey.generate())


def access_claims(user_id: str, issuer: str, *, roles: tuple[str, ...] = ("customer",),
                  ttl: int = 300, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": issuer, "aud": "nameko-shop", "sub": user_id, "roles": list(roles), "scope": "shop",
              "iat": now, "nbf": now, "exp": now + ttl, "jti": uuid.uuid4().hex,
              "client_id": "shop-frontend"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(key: SigningKey, claims: dict[str, Any], *, typ: str = "at+jwt", kid: str | None = None) -> str:
    return jwt.encode(claims, key.private_key, algorithm="EdDSA",
                      headers={"kid": kid or key.kid, "typ": typ})


def unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and an empty signature, as an attacker would craft it."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}."


def hmac_signed(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """HS256 keyed with public key material: the algorithm-confusion attack."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def tampered(token: str) -> str:
    """The same token with one bit of its signature flipped."""
    head, body, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0x01
    return f"{head}.{body}.{_b64(bytes(raw))}"


def with_claims(token: str, **changes: Any) -> str:
    """The same header and signature over edited claims (a privilege-escalation attempt)."""
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"
