"""Bearer tokens → ``Principal``: the JWKS cache, token verification and role guards."""
from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.errors import InvalidToken
from nameko_services.common.auth import Principal, key_map, verify_access_token
from nameko_services.common.errors import NotAuthenticated, PermissionDenied

ANYONE, CUSTOMER, ADMIN = "anyone", "customer", "admin"
REFETCH_INTERVAL = 30.0

JwksFetcher = Callable[[], Awaitable[dict[str, Any]]]


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_keys(jwks: dict[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS by kid (their RFC 7638 thumbprint); others are skipped."""
    keys = []
    for jwk in jwks.get("keys", []):
        if isinstance(jwk, dict) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            try:
                keys.append(Ed25519PublicKey.from_public_bytes(_b64decode(str(jwk["x"]))))
            except (KeyError, ValueError):
                continue
    return key_map(keys)


class TokenVerifier:
    """Verifies access tokens against the users service's JWKS, cached.

    An unknown ``kid`` (keys were rotated) refetches the JWKS, at most once per
    ``refetch_interval`` so a flood of forged kids cannot hammer the users service.
    """

    def __init__(self, fetch_jwks: JwksFetcher, *, issuer: str, audience: str,
                 refetch_interval: float = REFETCH_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch_jwks
        self.issuer = issuer
        self.audience = audience
        self.refetch_interval = refetch_interval
        self._clock = clock
        self._jwks: dict[str, Any] | None = None
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def jwks(self) -> dict[str, Any]:
        """The cached JWKS document (fetched on first use)."""
        if self._jwks is None:
            await self._refresh(force=True)
        assert self._jwks is not None
        return self._jwks

    async def _refresh(self, force: bool = False) -> None:
        async with self._lock:
            recent = (self._fetched_at is not None
                      and self._clock() - self._fetched_at < self.refetch_interval)
            if self._jwks is not None and (recent or not force):
                return
            jwks = await self._fetch()
            self._jwks, self._keys, self._fetched_at = jwks, public_keys(jwks), self._clock()

    async def verify(self, token: str) -> Principal:
        """The principal of a valid access token; ``InvalidToken`` otherwise."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise InvalidToken("The token is not a JWT.") from None
        if self._jwks is None or kid not in self._keys:
            await self._refresh(force=True)
        try:
            return verify_access_token(token, self._keys, issuer=self.issuer, audience=self.audience)
        except NotAuthenticated as exc:
            raise InvalidToken(exc.message) from None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; InvalidToken if malformed."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("Use the Bearer authorization scheme.")
    return token.strip()


async def authenticate(verifier: TokenVerifier, authorization: str | None) -> Principal | None:
    """The caller of a request: None without a token; InvalidToken for a bad one."""
    token = bearer_token(authorization)
    return None if token is None else await verifier.verify(token)


def authorize(principal: Principal | None, access: str) -> None:
    """Refuse a caller who may not use a route: 401 if anonymous, 403 if the role is missing."""
    if access == ANYONE:
        return
    if principal is None or not principal.user_id:
        raise NotAuthenticated("Sign in to do this.")
    if access == ADMIN and not principal.is_admin:
        raise PermissionDenied("Only an admin may do this.")
