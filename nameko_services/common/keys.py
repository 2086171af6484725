"""Signing keys: loaded from the environment or a key folder; dev keys made on first use.

A key named ``service-gateway`` is read, in order, from the environment variable
``SHOP_KEY_SERVICE_GATEWAY`` (a PEM), from ``$SHOP_KEYS_DIR/service-gateway.pem``,
or, outside production (``SHOP_ENV`` is not ``production``), generated into that
folder so a laptop runs with no set-up. Keys are Ed25519 (JWT ``alg`` EdDSA).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DEFAULT_KEYS_DIR = "var/keys"
ALGORITHM = "EdDSA"


class KeyUnavailable(RuntimeError):
    """A signing key is missing and may not be generated here."""


@dataclass(frozen=True)
class SigningKey:
    """A private key with its key id (RFC 7638 thumbprint)."""

    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def kid(self) -> str:
        return thumbprint(self.public_key)

    def jwk(self) -> dict[str, str]:
        return public_jwk(self.public_key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint, used as ``kid``."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64(_raw(public_key))}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The public JWK (RFC 8037) of an Ed25519 key."""
    return {
        "kty": "OKP", "crv": "Ed25519", "x": _b64(_raw(public_key)),
        "kid": thumbprint(public_key), "alg": ALGORITHM, "use": "sig",
    }


def keys_dir() -> Path:
    return Path(os.environ.get("SHOP_KEYS_DIR", DEFAULT_KEYS_DIR))


def _env_name(name: str) -> str:
    return "SHOP_KEY_" + name.upper().replace("-", "_")


def _generate(path: Path) -> bytes:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return pem


def load_signing_key(name: str) -> SigningKey:
    """Load the private key ``name``; generate it in development if absent."""
    pem_text = os.environ.get(_env_name(name))
    path = keys_dir() / f"{name}.pem"
    if pem_text:
        pem = pem_text.encode()
    elif path.exists():
        pem = path.read_bytes()
    elif os.environ.get("SHOP_ENV", "development") != "production":
        pem = _generate(path)
    else:
        raise KeyUnavailable(f"signing key {name!r}: set {_env_name(name)} or put {path}")
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnavailable(f"signing key {name!r} is not an Ed25519 key")
    return SigningKey(name, key)


def load_public_key(name: str) -> Ed25519PublicKey:
    """The public key ``name``: ``SHOP_PUBKEY_<NAME>``, ``<name>.pub.pem``, else the private key's half.

    A receiver needs only public keys, so production gives it those and no private key.
    """
    pem_text = os.environ.get(_env_name(name).replace("SHOP_KEY_", "SHOP_PUBKEY_", 1))
    path = keys_dir() / f"{name}.pub.pem"
    if pem_text or path.exists():
        key = serialization.load_pem_public_key(pem_text.encode() if pem_text else path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise KeyUnavailable(f"public key {name!r} is not an Ed25519 key")
        return key
    return load_signing_key(name).public_key
