"""Minting OAuth token responses: short-lived JWT access tokens and opaque refresh tokens."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from nameko_services.common.auth import issue_access_token
from nameko_services.common.keys import SigningKey


def new_refresh_token() -> tuple[str, str]:
    """A fresh opaque refresh token and the hash we store instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    """SHA-256 is enough: the token is 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenSettings:
    """How tokens are signed and how long they live."""

    key: SigningKey
    issuer: str
    audience: str
    access_ttl: int
    refresh_ttl: int

    def response(self, user_id: str, roles: tuple[str, ...], refresh_token: str,
                 scope: str = "") -> dict[str, Any]:
        """The RFC 6749 §5.1 token response."""
        access = issue_access_token(self.key, user_id=user_id, roles=roles, issuer=self.issuer,
                                    audience=self.audience, ttl=self.access_ttl, scope=scope)
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.access_ttl,
                "refresh_token": refresh_token, "scope": scope}

    def jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517) that verifies our access tokens."""
        return {"keys": [self.key.jwk()]}
