"""A fake RPC client and token helpers for gateway route tests (no broker, no eventlet)."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from nameko_services.common.auth import Principal, issue_access_token
from nameko_services.common.keys import SigningKey

ISSUER = "https://shop.test"
AUDIENCE = "nameko-shop"
MAX_BODY = 2048
ROOT = Path(__file__).resolve().parents[3]


@dataclass
class RecordedCall:
    service: str
    method: str
    principal: Principal | None
    kwargs: dict[str, Any]


@dataclass
class FakeRpc:
    """Answers calls from a table of handlers and records every call it gets."""

    jwks: dict[str, Any]
    connected: bool = True
    calls: list[RecordedCall] = field(default_factory=list)
    handlers: dict[tuple[str, str], Callable[..., Any]] = field(default_factory=dict)

    def answer(self, service: str, method: str, result: Any = None) -> None:
        self.handlers[(service, method)] = lambda **_: result

    def fail(self, service: str, method: str, error: BaseException) -> None:
        def raise_it(**_: Any) -> Any:
            raise error
        self.handlers[(service, method)] = raise_it

    def calls_to(self, service: str, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if (c.service, c.method) == (service, method)]

    def service_calls(self) -> list[RecordedCall]:
        """Every call but the token check's JWKS fetch: what a refused request must not make."""
        return [c for c in self.calls if (c.service, c.method) != ("users", "get_jwks")]

    async def call(self, service: str, method: str, *, principal: Principal | None = None,
                   **kwargs: Any) -> Any:
        self.calls.append(RecordedCall(service, method, principal, kwargs))
        handler = self.handlers.get((service, method))
        if handler is None and (service, method) == ("users", "get_jwks"):
            return self.jwks
        if handler is None:
            raise LookupError(f"the test did not expect a call to {service}.{method}")
        result = handler(**kwargs)
        return await result if inspect.isawaitable(result) else result


def new_key(name: str = "access") -> SigningKey:
    return SigningKey(name, Ed25519PrivateKey.generate())


def access_token(key: SigningKey, *roles: str, user_id: str = "11111111-1111-4111-8111-111111111111",
                 issuer: str = ISSUER, audience: str = AUDIENCE, ttl: int = 900,
                 now: float | None = None) -> str:
    return issue_access_token(key, user_id=user_id, roles=roles or ("customer",), issuer=issuer,
                              audience=audience, ttl=ttl, now=now)
