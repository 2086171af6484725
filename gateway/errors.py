"""HTTP translation of errors: ONE table from error base class to (status, code).

Errors of ``nameko_services.common.errors`` (raised by services, rebuilt by the RPC
client) and the gateway's own errors below are answered as
``{"error": {"code", "message", "details"}}``; OAuth errors in RFC 6749 §5.2 shape.
The gateway's own errors never cross RPC, so they are not registered remote errors::

    ServiceError (common.errors)
    ├── BadRequest           bad_request        400  malformed body
    ├── PayloadTooLarge      payload_too_large  413
    ├── RateLimited          rate_limited       429  with Retry-After
    │   └── OAuthRateLimited slow_down          429  (also an OAuthError: RFC 6749 shape)
    ├── BadGateway           bad_gateway        502  an error neither this gateway nor its bases know
    └── NotAuthenticated
        └── InvalidToken     not_authenticated  401  a bearer token was given but is not valid
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.context import request_id
from nameko_services.common.errors import (
    BadRequest,
    Conflict,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    OAuthError,
    PermissionDenied,
    ServiceError,
    ServiceTimeout,
    ServiceUnavailable,
)

log = logging.getLogger(__name__)


class PayloadTooLarge(ServiceError):
    code = "payload_too_large"
    default_message = "The request body is too large."


class BadGateway(ServiceError):
    code = "bad_gateway"
    default_message = "A service answered in an unexpected way."


class RateLimited(ServiceError):
    """Too many requests from one address or client; ``retry_after`` is whole seconds."""

    code = "rate_limited"
    default_message = "Too many requests; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


class OAuthRateLimited(RateLimited, OAuthError):
    """The same on an OAuth endpoint, whose clients expect RFC 6749 errors; ``slow_down`` is the
    registered token-endpoint error for "too fast" (RFC 8628 §3.5)."""

    code = "slow_down"
    status = 429


class InvalidToken(NotAuthenticated):
    """A bearer token was presented but is malformed, forged, expired or not for us."""


# Looked up along the error's MRO, so the most specific base wins; the code is the class's own
# (email_taken, not conflict).
STATUS: dict[type[ServiceError], int] = {
    BadRequest: 400,
    InvalidInput: 422,
    NotAuthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    RateLimited: 429,
    OAuthError: 400,
    BadGateway: 502,
    ServiceUnavailable: 503,
    ServiceTimeout: 504,
}

HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
              413: "payload_too_large", 415: "unsupported_media_type"}


def status_for(cls: type[ServiceError]) -> tuple[int, str] | None:
    """(status, code) of an error class; None when it has no mapping (a bare ServiceError)."""
    status = next((STATUS[base] for base in cls.__mro__ if base in STATUS), None)
    if status is None:
        return None
    if issubclass(cls, OAuthError):
        status = int(getattr(cls, "status", status))
    return status, cls.code


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(code: str, message: str, status: int, details: dict[str, Any] | None = None,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _internal_error() -> JSONResponse:
    # Only the request id, for a support ticket to find the logged traceback by.
    rid = request_id.get()
    return error_response("internal_error", "Something went wrong on our side.", 500,
                          {"request_id": rid} if rid else None)


def _retry_after_header(exc: ServiceError) -> dict[str, str]:
    """Retry-After for an API error that says when to come back (``details["retry_after"]``,
    whole seconds): our RateLimited. OAuth errors get theirs in oauth_error_handler."""
    seconds = exc.details.get("retry_after") if isinstance(exc.details, dict) else None
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds >= 0:
        return {"Retry-After": str(seconds)}
    return {}


def _authenticate_header(exc: ServiceError) -> dict[str, str]:
    if isinstance(exc, InvalidToken):
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    return {"WWW-Authenticate": "Bearer"}


async def service_error_handler(request: Request, exc: Exception) -> Response:
    """Answer a typed error with its status and code."""
    assert isinstance(exc, ServiceError)
    mapped = status_for(type(exc))
    if mapped is None:
        log.error("unmapped service error %s: %s", type(exc).__name__, exc)
        return _internal_error()
    status, _ = mapped
    headers = _authenticate_header(exc) if status == 401 else _retry_after_header(exc)
    # The instance's code: an error rebuilt as its base (common.errors.rebuild) keeps its own.
    return error_response(exc.code, exc.message, status, exc.details, headers)


async def oauth_error_handler(request: Request, exc: Exception) -> Response:
    """RFC 6749 §5.2: ``{"error", "error_description"}``, never cached."""
    assert isinstance(exc, OAuthError)
    status, code = status_for(type(exc)) or (400, "invalid_request")
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="nameko-shop"'
    retry_after = exc.details.get("retry_after")
    if isinstance(retry_after, int) and status == 429:  # a throttled sign-in (LoginThrottled)
        headers["Retry-After"] = str(retry_after)
    return JSONResponse({"error": code, "error_description": exc.message}, status_code=status,
                        headers=headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (no route, wrong method) in our error shape."""
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(code, str(exc.detail), exc.status_code, headers=exc.headers)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    """A bug: log it in full, tell the client nothing about our internals."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _internal_error()


EXCEPTION_HANDLERS = {
    ServiceError: service_error_handler,
    OAuthError: oauth_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
