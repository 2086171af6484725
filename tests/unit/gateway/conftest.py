"""Gateway route tests: the real app with a fake RPC client injected; no broker, no eventlet.

This folder has no ``__init__.py`` on purpose: as a package it would be importable as
``gateway`` (pytest puts ``tests/unit`` on sys.path for its sibling packages) and shadow
the real one. The project root goes first on sys.path so ``gateway`` is ours.
"""
from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import httpx  # noqa: E402
import pytest  # noqa: E402
from gateway_fakes import AUDIENCE, ISSUER, MAX_BODY, FakeRpc, access_token, new_key  # noqa: E402

from gateway.app import create_app  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from nameko_services.common.keys import SigningKey  # noqa: E402


@pytest.fixture
def signing_key() -> SigningKey:
    return new_key()


@pytest.fixture
def rpc(signing_key: SigningKey) -> FakeRpc:
    return FakeRpc(jwks={"keys": [signing_key.jwk()]})


@pytest.fixture
def settings() -> Settings:
    return Settings(token_issuer=ISSUER, token_audience=AUDIENCE, max_body_bytes=MAX_BODY,
                    rpc_timeout=1.0, ready_timeout=0.2)


@pytest.fixture
async def client(settings: Settings, rpc: FakeRpc) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app with the fake RPC client, served in-process."""
    transport = httpx.ASGITransport(app=create_app(settings, rpc), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


@pytest.fixture
def bearer(signing_key: SigningKey) -> Callable[..., dict[str, str]]:
    def headers(*roles: str, **claims: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {access_token(signing_key, *roles, **claims)}"}  # type: ignore[arg-type]
    return headers


@pytest.fixture
def customer(bearer: Callable[..., dict[str, str]]) -> dict[str, str]:
    return bearer("customer")


@pytest.fixture
def admin(bearer: Callable[..., dict[str, str]]) -> dict[str, str]:
    return bearer("customer", "admin")
