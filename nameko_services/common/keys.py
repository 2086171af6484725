"""Signing keys: loaded from the environment or a key folder; dev keys made on first use.

A key named ``service-gateway`` is read, in order, from the environment variable
``SHOP_KEY_SERVICE_GATEWAY`` (a PEM), from ``$SHOP_KEYS_DIR/service-gateway.pem``,
or, outside production (``SHOP_ENV`` is not ``production``), generated into that
folder so a laptop runs with no set-up. Keys are Ed25519 (JWT ``alg`` EdDSA).

Rotation keeps a *key set* per name: the current key signs; previous public keys
(``<name>.previous-<kid>.pub.pem`` files, whose modification time is when they
stopped signing, and/or PEM blocks in ``SHOP_PUBKEY_<NAME>_PREVIOUS``) still verify,
so tokens signed before a rotation stay valid until they expire; a staged next key
(``<name>.next.pem``) verifies before it ever signs, so every cache knows it in time.
``shopctl rotate-key`` (``nameko_services/ops/keys.py``) moves keys along; docs/security.md.
"""
from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DEFAULT_KEYS_DIR = "var/keys"
ALGORITHM = "EdDSA"
PREVIOUS_SUFFIX = "_PREVIOUS"
_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


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


def _pubkey_env_name(name: str) -> str:
    return _env_name(name).replace("SHOP_KEY_", "SHOP_PUBKEY_", 1)


def _public_from_pem(name: str, pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise KeyUnavailable(f"public key {name!r} is not an Ed25519 key")
    return key


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of a public key, as ``.pub.pem`` files hold it."""
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def previous_key_files(name: str) -> list[Path]:
    """The files of ``name``'s previous public keys, oldest first."""
    found = []
    for path in keys_dir().glob(f"{glob.escape(name)}.previous-*.pub.pem"):
        try:
            found.append((path.stat().st_mtime, path))
        except FileNotFoundError:  # retired while we looked
            continue
    return [path for _, path in sorted(found)]


def next_key_file(name: str) -> Path:
    """Where a staged key waits: published for verification, not yet signing."""
    return keys_dir() / f"{name}.next.pem"


def next_public_key(name: str) -> Ed25519PublicKey | None:
    """The staged next key of ``name``, if one is staged."""
    try:
        key = serialization.load_pem_private_key(next_key_file(name).read_bytes(), password=None)
    except FileNotFoundError:
        return None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnavailable(f"staged key {name!r} is not an Ed25519 key")
    return key.public_key()


def previous_public_keys(name: str) -> list[Ed25519PublicKey]:
    """Keys ``name`` signed with before its last rotations: they verify, they never sign."""
    keys = []
    for path in previous_key_files(name):
        try:
            keys.append(_public_from_pem(name, path.read_bytes()))
        except FileNotFoundError:
            continue
    env_pem = os.environ.get(_pubkey_env_name(name) + PREVIOUS_SUFFIX, "").encode()
    keys += [_public_from_pem(name, block) for block in _PEM_BLOCK.findall(env_pem)]
    return keys


def load_public_keys(name: str) -> list[Ed25519PublicKey]:
    """Every key that verifies tokens of ``name``: the current one first, then staged and previous ones."""
    current = load_public_key(name)
    seen = {thumbprint(current)}
    keys = [current]
    staged = next_public_key(name)
    for key in ([staged] if staged else []) + previous_public_keys(name):
        if thumbprint(key) not in seen:
            seen.add(thumbprint(key))
            keys.append(key)
    return keys


def load_public_key(name: str) -> Ed25519PublicKey:
    """The public key ``name``: ``SHOP_PUBKEY_<NAME>``, ``<name>.pub.pem``, else the private key's half.

    A receiver needs only public keys, so production gives it those and no private key.
    """
    pem_text = os.environ.get(_pubkey_env_name(name))
    path = keys_dir() / f"{name}.pub.pem"
    if pem_text or path.exists():
        return _public_from_pem(name, pem_text.encode() if pem_text else path.read_bytes())
    return load_signing_key(name).public_key
