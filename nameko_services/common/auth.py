"""Pure token functions: OAuth access tokens and service-to-service tokens.

Access tokens (RFC 9068 profile, ``typ: at+jwt``) are signed by the users
service and verified by the gateway against the JWKS. Service tokens
(``typ: service+jwt``) travel in the ``nameko.authorization`` header of every
RPC call: ``iss`` is the calling service, ``aud`` the receiving one, and
``sub``/``roles`` carry the end user when there is one.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from nameko_services.common.errors import NotAuthenticated
from nameko_services.common.keys import ALGORITHM, SigningKey, load_signing_key, thumbprint
from nameko_services.common.service_map import service_map

ACCESS_TOKEN_TYPE = "at+jwt"
SERVICE_TOKEN_TYPE = "service+jwt"
SERVICE_TOKEN_TTL = 60
LEEWAY = 30
# Only EdDSA is accepted: no "none", no HS/RS confusion.
ALLOWED_ALGORITHMS = [ALGORITHM]
# The one map of which services may call what (docs/security.md "Who may call what"), from
# config/services.yaml (common.service_map), so a new service needs no code release. Every
# service trusts calls signed by these (``iss`` of the service token); nothing more follows from it.
TRUSTED_SERVICES = service_map().trusted_services
# What a calling service may do beyond relaying its user's own rights; which services may is
# configured too (a capability the file does not name, nobody has).
ACT_AS_ADMIN = "act_as_admin"  # orders: a call without an end user acts as an admin
READ_ALL_PAYMENTS = "read_all_payments"  # payments: a call without an end user sees every payment
PRICE_ITEMS = "price_items"  # catalog: price an order's items (for the user it relays, or none)
SERVICE_CAPABILITIES: Mapping[str, frozenset[str]] = service_map().capabilities
# The first-party web frontend's OAuth client: the only one allowed the password grant.
FIRST_PARTY_CLIENT = "shop-frontend"
# Scopes a machine client (client credentials) can be granted; each route that accepts machine
# tokens names the one it needs. User tokens carry "shop" and are judged by their roles instead.
CATALOG_WRITE = "catalog:write"
MACHINE_SCOPES = (CATALOG_WRITE,)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the end user (if any) and the service that relays the call."""

    user_id: str | None = None
    roles: tuple[str, ...] = ()
    service: str | None = None
    scopes: tuple[str, ...] = field(default=())
    client_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def service_may(self, capability: str) -> bool:
        """Whether the service that relays the call has ``capability`` (``SERVICE_CAPABILITIES``)."""
        return self.service in SERVICE_CAPABILITIES.get(capability, frozenset())

    @property
    def is_client(self) -> bool:
        """A machine client acting for itself (client credentials): ``sub`` is its client id."""
        return self.client_id is not None and self.user_id == self.client_id


def _sign(key: SigningKey, claims: Mapping[str, Any], typ: str) -> str:
    return jwt.encode(dict(claims), key.private_key, algorithm=ALGORITHM,
                      headers={"kid": key.kid, "typ": typ})


def _decode(token: str, keys: Mapping[str, Ed25519PublicKey], typ: str,
            audience: str, issuer: str | Iterable[str], *, verify_exp: bool = True) -> dict[str, Any]:
    # verify_exp=False only to re-sign a genuine but too old event (event_auth.resign_event).
    try:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != typ:
            raise NotAuthenticated("The token has the wrong type.")
        key = keys.get(header.get("kid", ""))
        if key is None:
            raise NotAuthenticated("The token was signed by an unknown key.")
        issuers = [issuer] if isinstance(issuer, str) else list(issuer)
        return jwt.decode(
            token, key, algorithms=ALLOWED_ALGORITHMS, audience=audience, issuer=issuers,
            leeway=LEEWAY, options={"require": ["exp", "iat", "iss", "aud", "jti"], "verify_exp": verify_exp},
        )
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"The token is not valid: {exc}.") from None


def issue_access_token(key: SigningKey, *, user_id: str, roles: Iterable[str], issuer: str,
                       audience: str, ttl: int, scope: str = "", now: float | None = None,
                       client_id: str = FIRST_PARTY_CLIENT) -> str:
    """Sign a short-lived OAuth access token for ``user_id`` (a client's own id for machine tokens)."""
    issued = int(now if now is not None else time.time())
    claims = {"iss": issuer, "aud": audience, "sub": user_id, "roles": sorted(roles),
              "scope": scope, "iat": issued, "nbf": issued, "exp": issued + ttl,
              "jti": uuid.uuid4().hex, "client_id": client_id}
    return _sign(key, claims, ACCESS_TOKEN_TYPE)


def verify_access_token(token: str, keys: Mapping[str, Ed25519PublicKey], *,
                        issuer: str, audience: str) -> Principal:
    """Check an access token and return its principal; raise NotAuthenticated."""
    claims = _decode(token, keys, ACCESS_TOKEN_TYPE, audience, issuer)
    client_id = claims.get("client_id")
    return Principal(user_id=claims["sub"], roles=tuple(claims.get("roles", ())),
                     scopes=tuple(str(claims.get("scope", "")).split()),
                     client_id=client_id if isinstance(client_id, str) else None)


def issue_service_token(key: SigningKey, *, service: str, audience: str,
                        principal: Principal | None = None, now: float | None = None,
                        ttl: int = SERVICE_TOKEN_TTL) -> str:
    """Sign the token a service puts on an RPC call to ``audience``."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"iss": service, "aud": audience, "iat": issued,
                              "exp": issued + ttl, "jti": uuid.uuid4().hex}
    if principal is not None and principal.user_id:
        claims["sub"] = principal.user_id
        claims["roles"] = list(principal.roles)
        claims["scope"] = " ".join(principal.scopes)
    return _sign(key, claims, SERVICE_TOKEN_TYPE)


def verify_service_token(token: str | None, keys: Mapping[str, Ed25519PublicKey], *,
                         audience: str) -> Principal:
    """Check the service token of an incoming call; raise NotAuthenticated."""
    if not token:
        raise NotAuthenticated("The call carries no service token.")
    claims = _decode(token, keys, SERVICE_TOKEN_TYPE, audience, TRUSTED_SERVICES)
    return Principal(user_id=claims.get("sub"), roles=tuple(claims.get("roles", ())),
                     service=claims["iss"], scopes=tuple(str(claims.get("scope", "")).split()))


def key_map(public_keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """Index public keys by their ``kid``."""
    return {thumbprint(key): key for key in public_keys}


def ensure_signing_keys() -> list[str]:
    """Load (in development: generate) every key the platform uses, before processes race for them."""
    names = ["access", *(f"service-{name}" for name in TRUSTED_SERVICES)]
    for name in names:
        load_signing_key(name)
    return names
