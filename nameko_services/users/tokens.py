"""Minting OAuth token responses: short-lived JWT access tokens and opaque refresh tokens."""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from nameko_services.common.auth import FIRST_PARTY_CLIENT, issue_access_token
from nameko_services.common.keys import SigningKey, public_jwk, thumbprint


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
    # Every public key of the access key set (current and previous), for the JWKS.
    published: Callable[[], list[Ed25519PublicKey]] | None = None

    def response(self, user_id: str, roles: tuple[str, ...], refresh_token: str,
                 scope: str = "", client_id: str = FIRST_PARTY_CLIENT) -> dict[str, Any]:
        """The RFC 6749 §5.1 token response."""
        access = issue_access_token(self.key, user_id=user_id, roles=roles, issuer=self.issuer,
                                    audience=self.audience, ttl=self.access_ttl, scope=scope,
                                    client_id=client_id)
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.access_ttl,
                "refresh_token": refresh_token, "scope": scope}

    def client_response(self, client_id: str, scope: str) -> dict[str, Any]:
        """A client-credentials response: ``sub`` is the client itself, no roles, no refresh token."""
        access = issue_access_token(self.key, user_id=client_id, roles=(), issuer=self.issuer,
                                    audience=self.audience, ttl=self.access_ttl, scope=scope,
                                    client_id=client_id)
        return {"access_token": access, "token_type": "Bearer", "expires_in": self.access_ttl,
                "scope": scope}

    def jwks(self) -> dict[str, Any]:
        """The JWK Set (RFC 7517) that verifies our access tokens: ours, then every other valid one.

        The others (read afresh each time) are the key set on disk, so during a key rotation every
        instance serves both the new key and the previous ones, whichever it signs with.
        """
        jwks = {self.key.kid: self.key.jwk()}
        for key in self.published() if self.published else ():
            jwks.setdefault(thumbprint(key), public_jwk(key))
        return {"keys": list(jwks.values())}
