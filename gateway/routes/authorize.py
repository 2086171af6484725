"""The OAuth 2.0 authorization endpoint (RFC 6749 §4.1 with PKCE, RFC 7636): sign in and consent.

``GET`` checks the client and its redirect URI with the users service first: a bad one gets an
error page and is never redirected to. Other problems go back to the client's redirect URI as
RFC 6749 §4.1.2.1 errors. A valid request gets the sign-in page; its ``POST`` signs the user in
(throttled like the password grant) and redirects with a code, or with ``access_denied``.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import csrf
from gateway.client_address import client_address
from gateway.ratelimit import AUTH
from gateway.routes.authorize_page import consent_page, error_page
from gateway.routing import PUBLIC, Context, Endpoint
from nameko_services.common.errors import InvalidGrant, LoginThrottled, OAuthError
from nameko_services.common.keys import load_signing_key
from nameko_services.common.text import is_storable

PATH = "/api/v1/oauth/authorize"
REQUEST_PARAMETERS = ("response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                      "code_challenge_method")
RESTART = "Go back to the application and start signing in again."


def _csrf_key(request: Request) -> bytes:
    state = request.app.state
    key: bytes | None = getattr(state, "csrf_key", None)
    if key is None:
        key = state.csrf_key = csrf.derive_key(load_signing_key("service-gateway"))
    return key


def _once_each(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
    """The parameters, or None if one is repeated (RFC 6749 §3.1: they must not be) or holds text
    PostgreSQL cannot store (a NUL: it would end as a 502, not as this page's error)."""
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)) or not all(is_storable(name + value) for name, value in pairs):
        return None
    return dict(pairs)


def _redirect(request: Request, redirect_uri: str, **params: Any) -> Response:
    """303 to the client with ``params`` added to its (registered) URI's own query."""
    parts = urlsplit(redirect_uri)
    params["iss"] = request.app.state.settings.token_issuer  # RFC 9207: tells clients who answered
    query = parse_qsl(parts.query) + [(k, v) for k, v in params.items() if v is not None]
    return RedirectResponse(urlunsplit(parts._replace(query=urlencode(query))), status_code=303,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def show_authorization(ctx: Context) -> Response:
    params = _once_each(ctx.request.query_params.multi_items())
    if params is None:
        return error_page("A parameter is repeated or malformed.")
    request = {name: value for name, value in params.items() if name in REQUEST_PARAMETERS}
    try:
        checked = await ctx.call("users", "check_authorization", request=request)
    except OAuthError as exc:
        return error_page(exc.message)
    if checked.get("error"):
        return _redirect(ctx.request, checked["redirect_uri"], error=checked["error"],
                         error_description=checked["error_description"], state=checked["state"])
    page = {"request": request, "client_name": checked["client_name"], "scope": checked["scope"],
            "redirect_uri": checked["redirect_uri"], "state": checked["state"]}
    nonce = csrf.new_nonce()
    response = consent_page(page["client_name"], page["scope"],
                            csrf.issue(_csrf_key(ctx.request), page, nonce), page["redirect_uri"])
    response.set_cookie(csrf.COOKIE, nonce, max_age=csrf.TTL, path=PATH, httponly=True,
                        samesite="strict", secure=ctx.request.url.scheme == "https")
    return response


async def submit_authorization(ctx: Context) -> Response:
    try:
        form = _once_each(parse_qsl((await ctx.request.body()).decode(), keep_blank_values=True))
        token = (form or {})["csrf_token"]
        page = csrf.verify(_csrf_key(ctx.request), token, ctx.request.cookies.get(csrf.COOKIE))
    except (csrf.CsrfError, KeyError, ValueError, UnicodeDecodeError) as exc:
        return error_page(f"{exc if isinstance(exc, csrf.CsrfError) else 'The form is malformed.'} {RESTART}")
    assert form is not None
    if form.get("decision") != "approve":
        return _redirect(ctx.request, page["redirect_uri"], error="access_denied", state=page["state"])
    username = form.get("username", "")
    try:
        issued = await ctx.call("users", "approve_authorization", request=page["request"],
                                username=username, password=form.get("password", ""),
                                client_address=client_address(ctx.request))
    except (InvalidGrant, LoginThrottled) as exc:
        status = 429 if isinstance(exc, LoginThrottled) else 400
        again = consent_page(page["client_name"], page["scope"], token, page["redirect_uri"], username,
                             exc.message, status)
        if isinstance(exc, LoginThrottled):
            again.headers["Retry-After"] = str(exc.details.get("retry_after", 1))
        return again
    except OAuthError as exc:  # the client was disabled meanwhile, say
        return error_page(f"{exc.message} {RESTART}")
    response = _redirect(ctx.request, issued["redirect_uri"], code=issued["code"], state=issued["state"])
    response.delete_cookie(csrf.COOKIE, path=PATH)  # one code per page: the form cannot be resent
    return response


ENDPOINTS = [
    Endpoint("GET", PATH, show_authorization,
             "Authorization endpoint: the sign-in and consent page (response_type=code, PKCE S256)",
             "auth", PUBLIC, also=(303,), errors=(400,), rate=AUTH, media="text/html"),
    Endpoint("POST", PATH, submit_authorization,
             "Sign in and approve or deny: 303 to the client's redirect_uri with a code or an error",
             "auth", PUBLIC, status=303, also=(200,), errors=(400,), rate=AUTH, media="text/html"),
]
