"""OAuth 2.0 token and revocation endpoints (RFC 6749, RFC 7009) and the JWKS."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import JSONResponse, Response

from gateway.routing import PUBLIC, Context, Endpoint
from nameko_services.common.errors import InvalidRequest, UnsupportedGrantType

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
GRANT_PARAMETERS = ("grant_type", "username", "password", "refresh_token", "scope")
# Client registration comes later; until then there are no client credentials to check.
NOT_YET_SUPPORTED = frozenset({"client_credentials"})


def _parse(raw: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        data = json.loads(raw or b"{}")
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data
    pairs = parse_qsl(raw.decode(), keep_blank_values=True, strict_parsing=bool(raw))
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise InvalidRequest("A parameter is repeated.")
    return dict(pairs)


async def parameters(ctx: Context) -> dict[str, Any]:
    """The form (or JSON) parameters of an OAuth request; invalid_request if unreadable."""
    raw = await ctx.request.body()
    try:
        return _parse(raw, ctx.request.headers.get("content-type", ""))
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The request body is not a valid form.") from None


async def issue_token(ctx: Context) -> Response:
    params = await parameters(ctx)
    grant_type = params.get("grant_type")
    if not isinstance(grant_type, str) or not grant_type:
        raise InvalidRequest("grant_type is required.")
    if grant_type in NOT_YET_SUPPORTED:
        raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported yet.")
    grant = {name: params[name] for name in GRANT_PARAMETERS
             if isinstance(params.get(name), str)}
    return JSONResponse(await ctx.call("users", "issue_token", grant=grant), headers=NO_STORE)


async def revoke_token(ctx: Context) -> Response:
    params = await parameters(ctx)
    token = params.get("token")
    if not isinstance(token, str) or not token:
        raise InvalidRequest("token is required.")
    hint = params.get("token_type_hint")
    hint = hint if isinstance(hint, str) else None
    await ctx.call("users", "revoke_token", token=token, token_type_hint=hint)
    return JSONResponse({}, headers=NO_STORE)


async def jwks(ctx: Context) -> Response:
    document = await ctx.request.app.state.verifier.jwks()
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


ENDPOINTS = [
    Endpoint("POST", "/api/v1/oauth/token", issue_token, "Issue tokens (password and refresh_token grants)",
             "auth", PUBLIC, form=True, errors=(400, 401)),
    Endpoint("POST", "/api/v1/oauth/revoke", revoke_token, "Revoke a refresh token (RFC 7009)", "auth",
             PUBLIC, form=True, errors=(400,)),
    Endpoint("GET", "/.well-known/jwks.json", jwks, "The public keys that sign access tokens", "auth",
             PUBLIC),
]
