"""Bearer tokens → ``Principal``: the JWKS cache, token verification and role guards."""
from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.errors import InvalidToken
from nameko_services.common.auth import Principal, key_map, verify_access_token
from nameko_services.common.errors import NotAuthenticated, PermissionDenied, ServiceError

log = logging.getLogger(__name__)

ANYONE, CUSTOMER, ADMIN = "anyone", "customer", "admin"
REFETCH_INTERVAL = 30.0
# Served keys are re-read this often anyway, so a retired (or compromised) key stops verifying.
JWKS_MAX_AGE = 300.0

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
    ``refetch_interval`` so a flood of forged kids cannot hammer the users service; only
    those refetches count, so the first token of a new key is never refused for a
    routine refresh just before it. A JWKS older than ``max_age`` is refetched on next use
    (retired keys stop verifying); if that fails the old one is kept for another
    ``max_age`` (the users service being down must not sign everyone out).
    """

    def __init__(self, fetch_jwks: JwksFetcher, *, issuer: str, audience: str,
                 refetch_interval: float = REFETCH_INTERVAL, max_age: float = JWKS_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch_jwks
        self.issuer = issuer
        self.audience = audience
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self._clock = clock
        self._jwks: dict[str, Any] | None = None
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._fetched_at: float | None = None
        self._kid_refetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def jwks(self) -> dict[str, Any]:
        """The cached JWKS document (fetched on first use)."""
        if self._jwks is None or self._expired():
            await self._refresh()
        assert self._jwks is not None
        return self._jwks

    async def _refresh(self, unknown_kid: str | None = None) -> None:
        async with self._lock:  # one fetch serves everyone who waited for it
            now = self._clock()
            if unknown_kid is not None:
                last = self._kid_refetched_at
                if unknown_kid in self._keys or (last is not None and now - last < self.refetch_interval):
                    return
                self._kid_refetched_at = now
            elif self._jwks is not None and not self._expired():
                return
            try:
                jwks = await self._fetch()
            except ServiceError:
                if self._jwks is None:
                    raise
                log.warning("JWKS refetch failed; keeping the cached keys", exc_info=True)
                self._fetched_at = self._clock()
                return
            self._jwks, self._keys, self._fetched_at = jwks, public_keys(jwks), self._clock()

    def _expired(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self.max_age

    async def verify(self, token: str) -> Principal:
        """The principal of a valid access token; ``InvalidToken`` otherwise."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise InvalidToken("The token is not a JWT.") from None
        if self._jwks is None or self._expired():
            await self._refresh()
        if kid not in self._keys:
            await self._refresh(unknown_kid=str(kid))
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


def authorize(principal: Principal | None, access: str, scope: str | None = None) -> None:
    """Refuse a caller who may not use a route: 401 if anonymous, 403 if the role is missing.

    A machine client's token (client credentials) has no roles: it may use a route only if the
    route names a ``scope`` the token carries, and never a route acting for a customer.
    """
    if access == ANYONE:
        return
    if principal is None or not principal.user_id:
        raise NotAuthenticated("Sign in to do this.")
    if principal.is_client:
        if scope is None or scope not in principal.scopes:
            raise PermissionDenied(f"A client token needs the scope {scope!r} here." if scope
                                   else "Client tokens cannot be used here; sign in as a user.")
        return
    if access == ADMIN and not principal.is_admin:
        raise PermissionDenied("Only an admin may do this.")
