"""OAuth 2.0 token and revocation endpoints (RFC 6749, RFC 7009) and the JWKS."""
from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from starlette.responses import JSONResponse, Response

from gateway import json_body
from gateway.client_address import client_address
from gateway.ratelimit import AUTH
from gateway.responses import Jwks, Revoked, Token
from gateway.routing import PUBLIC, Context, Endpoint
from nameko_services.common.errors import InvalidClient, InvalidRequest
from nameko_services.common.text import is_storable

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
GRANT_PARAMETERS = ("grant_type", "username", "password", "refresh_token", "scope", "code",
                    "redirect_uri", "code_verifier", "client_id", "client_secret")


def _parse(raw: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        data = json_body.loads(raw or b"{}")
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
        params = _parse(raw, ctx.request.headers.get("content-type", ""))
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The request body is not a valid form.") from None
    if not all(is_storable(text) for pair in params.items() for text in pair if isinstance(text, str)):
        raise InvalidRequest("A parameter is not valid text.")  # PostgreSQL could not store it
    return params


async def issue_token(ctx: Context) -> Response:
    params = await parameters(ctx)
    grant_type = params.get("grant_type")
    if not isinstance(grant_type, str) or not grant_type:
        raise InvalidRequest("grant_type is required.")
    grant = {name: params[name] for name in GRANT_PARAMETERS
             if isinstance(params.get(name), str)}
    grant.update(basic_client_credentials(ctx.request.headers.get("authorization"), grant))
    # The users service throttles failed sign-ins per address too, so it needs the real one.
    answer = await ctx.call("users", "issue_token", grant=grant, client_address=client_address(ctx.request))
    return JSONResponse(answer, headers=NO_STORE)


def basic_client_credentials(authorization: str | None, params: dict[str, str]) -> dict[str, str]:
    """``client_secret_basic`` (RFC 6749 §2.3.1): id and secret form-urlencoded, then Base64.

    One method per request: Basic and a ``client_secret`` in the body together are refused.
    """
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return {}
    try:
        client_id, colon, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("The Basic credentials are malformed.") from None
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if not colon or not client_id:
        raise InvalidClient("The Basic credentials are malformed.")
    if "client_secret" in params or params.get("client_id", client_id) != client_id:
        raise InvalidRequest("Use one client authentication method (RFC 6749 §2.3).")
    return {"client_id": client_id, "client_secret": secret}


async def revoke_token(ctx: Context) -> Response:
    params = await parameters(ctx)
    token = params.get("token")
    if not isinstance(token, str) or not token:
        raise InvalidRequest("token is required.")
    hint = params.get("token_type_hint")
    hint = hint if isinstance(hint, str) else None
    client = {name: params[name] for name in ("client_id", "client_secret")
              if isinstance(params.get(name), str)}
    client.update(basic_client_credentials(ctx.request.headers.get("authorization"), client))
    # Only when given: the first-party frontend revokes without naming itself.
    named = {"client": client} if client else {}
    await ctx.call("users", "revoke_token", token=token, token_type_hint=hint, **named)
    return JSONResponse({}, headers=NO_STORE)


async def jwks(ctx: Context) -> Response:
    document = await ctx.request.app.state.verifier.jwks()
    return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})


ENDPOINTS = [
    Endpoint("POST", "/api/v1/oauth/token", issue_token,
             "Issue tokens (authorization_code with PKCE, refresh_token, client_credentials; password "
             "for the first-party frontend only)",
             "auth", PUBLIC, form=True, errors=(400, 401), rate=AUTH, answer=Token),
    Endpoint("POST", "/api/v1/oauth/revoke", revoke_token, "Revoke a refresh token (RFC 7009)", "auth",
             PUBLIC, form=True, errors=(400,), rate=AUTH, answer=Revoked),
    Endpoint("GET", "/.well-known/jwks.json", jwks, "The public keys that sign access tokens", "auth",
             PUBLIC, answer=Jwks),
]
