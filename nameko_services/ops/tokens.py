"""Service tokens for operators (`shopctl token`, `nameko shell`), signed with ``service-shopctl``."""
from __future__ import annotations

from collections.abc import Iterable

from nameko_services.common.auth import SERVICE_TOKEN_TTL, Principal, issue_service_token
from nameko_services.common.keys import load_signing_key

ISSUER = "shopctl"


def principal(user_id: str | None, roles: Iterable[str]) -> Principal | None:
    """The end user a token speaks for; none when no user id is given."""
    if not user_id:
        return None
    return Principal(user_id=user_id, roles=tuple(role for role in roles if role))


def parse_roles(text: str | None) -> tuple[str, ...]:
    """``"admin, customer"`` → ``("admin", "customer")``."""
    return tuple(role.strip() for role in (text or "").split(",") if role.strip())


def mint(service: str, *, user_id: str | None = None, roles: Iterable[str] = (),
         ttl: int = SERVICE_TOKEN_TTL) -> str:
    """A service token from ``shopctl`` to ``service``, optionally for a user."""
    return issue_service_token(load_signing_key(f"service-{ISSUER}"), service=ISSUER, audience=service,
                               principal=principal(user_id, roles), ttl=ttl)
