"""Public key sets that follow key rotations without a restart.

A set is re-read from disk/env when a token names a kid it does not hold (at most every
``KEY_RELOAD_INTERVAL``, so forged kids cannot make every call read the disk) and every
``KEY_MAX_AGE`` anyway, so a retired key stops verifying within a minute.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import jwt

from nameko_services.common.auth import key_map
from nameko_services.common.keys import load_public_keys

KEY_RELOAD_INTERVAL = 5.0  # seconds
KEY_MAX_AGE = 60.0  # seconds


def token_kid(token: str | None) -> str | None:
    """The ``kid`` a JWT's header names (unverified), if any."""
    try:
        kid = jwt.get_unverified_header(token or "").get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


class ReloadingKeySet:
    """The public keys (current, staged, previous: see keys.py) of some key names, by kid."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        self.reset()

    def reset(self) -> None:
        """Forget what was loaded: the next lookup reads the keys again."""
        self._keys: dict[str, Any] | None = None
        self._loaded = 0.0

    def for_token(self, token: str | None = None) -> dict[str, Any]:
        """The keys to verify ``token`` with, re-read if stale or if its kid is unknown."""
        now = time.monotonic()
        age = now - self._loaded
        if self._keys is None or age >= KEY_MAX_AGE or (
                age >= KEY_RELOAD_INTERVAL and token_kid(token) not in self._keys):
            self._keys = key_map(key for name in self.names for key in load_public_keys(name))
            self._loaded = now
        return self._keys
