"""Signing-key rotation in the key folder (``shopctl rotate-key``).

``stage`` puts a new key beside the current one as ``<name>.next.pem``: it verifies at
once, signs nothing yet. ``rotate`` keeps the current key's public half as
``<name>.previous-<kid>.pub.pem`` (still accepted by every verifier) and puts the staged
key (or, if none, a new one) in its place; ``retire``
deletes previous keys that stopped signing longer ago than any token they signed can
live. Keys given in the environment (``SHOP_KEY_<NAME>``) live in a secret store, not
here: rotate those by hand as docs/security.md ("Key rotation") describes.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nameko_services.common import keys
from nameko_services.common.auth import LEEWAY, SERVICE_TOKEN_TTL, TRUSTED_SERVICES

DEFAULT_ACCESS_TOKEN_TTL = 900
DEFAULT_EVENT_TOKEN_MAX_AGE = 7 * 24 * 3600  # events are signed with service keys and may wait that long
SIGNER_MARGIN = 60  # the users service re-reads its key every 5 s; a minute covers it with room
KEY_NAMES = ("access", *(f"service-{name}" for name in TRUSTED_SERVICES))


class RotationRefused(RuntimeError):
    """The key cannot be rotated here (unknown name, or it comes from the environment)."""


@dataclass(frozen=True)
class Rotation:
    """What ``rotate`` did: the kid that stopped signing (None if there was no key) and the new one."""

    name: str
    previous_kid: str | None
    current_kid: str


def token_lifetime(name: str, env: Mapping[str, str] = os.environ) -> int:
    """How long after a rotation a token signed by ``name``'s old key can still be valid (seconds):
    its lifetime and leeway, plus the minute a running signer may take to notice the rotation."""
    if name == "access":
        return int(env.get("SHOP_ACCESS_TOKEN_TTL", DEFAULT_ACCESS_TOKEN_TTL)) + LEEWAY + SIGNER_MARGIN
    events = int(env.get("SHOP_EVENT_TOKEN_MAX_AGE", DEFAULT_EVENT_TOKEN_MAX_AGE))
    return max(SERVICE_TOKEN_TTL, events) + LEEWAY + SIGNER_MARGIN


def _check(name: str) -> None:
    if name not in KEY_NAMES:
        raise RotationRefused(f"unknown key {name!r}: one of {', '.join(KEY_NAMES)}")
    if os.environ.get(keys._env_name(name)):
        raise RotationRefused(f"{name} comes from {keys._env_name(name)}: rotate it in your secret "
                              "store (docs/security.md, Key rotation)")


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Readers see the old file or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def stage(name: str) -> str:
    """Publish a next key for ``name`` (verifies, does not sign yet); its kid."""
    _check(name)
    path = keys.next_key_file(name)
    if path.exists():
        raise RotationRefused(f"{name}: a next key is already staged; rotate to make it sign")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, _new_private_pem(), 0o600)
    staged = keys.next_public_key(name)
    assert staged is not None
    return keys.thumbprint(staged)


def rotate(name: str) -> Rotation:
    """Make the staged (else a new) key ``name``'s current key; the old one verifies until retired."""
    _check(name)
    folder = keys.keys_dir()
    folder.mkdir(parents=True, exist_ok=True)
    current = folder / f"{name}.pem"
    previous_kid = None
    if current.exists():
        old = keys.load_signing_key(name)
        previous_kid = old.kid
        # Published first, so no moment exists in which the old key verifies nothing.
        _write_atomically(folder / f"{name}.previous-{old.kid}.pub.pem", keys.public_pem(old.public_key),
                          0o644)
    staged = keys.next_key_file(name)
    if staged.exists():
        os.replace(staged, current)
    else:
        _write_atomically(current, _new_private_pem(), 0o600)
    new = keys.load_signing_key(name)
    public_copy = folder / f"{name}.pub.pem"
    if public_copy.exists():  # a public-only copy of the current key must follow it
        _write_atomically(public_copy, keys.public_pem(new.public_key), 0o644)
    return Rotation(name, previous_kid, new.kid)


def retire(name: str, older_than: float | None = None, now: float | None = None) -> list[str]:
    """Delete ``name``'s previous keys that stopped signing more than ``older_than`` seconds ago.

    The default is the longest a token signed by that key can live, so nothing valid is refused.
    Returns the retired kids.
    """
    if name not in KEY_NAMES:
        raise RotationRefused(f"unknown key {name!r}: one of {', '.join(KEY_NAMES)}")
    limit = (now if now is not None else time.time()) - (
        token_lifetime(name) if older_than is None else older_than)
    retired = []
    for path in keys.previous_key_files(name):
        if path.stat().st_mtime <= limit:
            path.unlink(missing_ok=True)
            retired.append(path.name.removeprefix(f"{name}.previous-").removesuffix(".pub.pem"))
    return retired
