"""Gateway route tests: the real app with a fake RPC client injected; no broker, no eventlet."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from nameko_services.common.keys import SigningKey
from tests.unit.gateway.gateway_fakes import AUDIENCE, ISSUER, MAX_BODY, FakeRpc, access_token, new_key


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
