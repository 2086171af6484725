"""Deeply nested or huge JSON bodies (issue 9): a 400 in the error shape, never a 500."""
from __future__ import annotations

import json

import pytest

from gateway.settings import Settings
from tests.unit.gateway.gateway_fakes import AUDIENCE, ISSUER

REGISTRATION = {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}


@pytest.fixture
def settings() -> Settings:
    """Room for a wide body under the size limit: the value count must refuse it, not the 413."""
    return Settings(token_issuer=ISSUER, token_audience=AUDIENCE, max_body_bytes=1_000_000,
                    rpc_timeout=1.0, ready_timeout=0.2)


def _nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


async def test_a_body_of_1000_nested_arrays_is_a_400_in_the_error_shape(client, rpc):
    body = _nested_arrays(1000)
    assert len(body) == 2000
    response = await client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "bad_request" and set(error) == {"code", "message", "details"}
    assert error["details"] == {"max_depth": 32}
    assert rpc.calls == []


async def test_nesting_within_the_limit_reaches_the_schema(client, rpc):
    # 32 levels parse; the schema then refuses the shape with a 422, as for any wrong type.
    body = b'{"name": ' + _nested_arrays(31) + b"}"
    response = await client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422


async def test_nested_objects_inside_strings_do_not_count(client, rpc):
    rpc.answer("users", "register", {"id": "u"})
    body = json.dumps(dict(REGISTRATION, name="[" * 40 + '{"' * 25)).encode()
    response = await client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 201


async def test_a_wide_object_of_more_than_10000_values_is_a_400(client, rpc):
    body = json.dumps({f"k{i}": 0 for i in range(10_001)}).encode()
    response = await client.post("/api/v1/users", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"] == {"max_values": 10_000}
    assert rpc.calls == []


async def test_a_deeply_nested_oauth_json_body_is_an_invalid_request(client, rpc):
    response = await client.post("/api/v1/oauth/token", content=_nested_arrays(1000),
                                 headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert rpc.calls == []
