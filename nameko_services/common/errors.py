"""The one catalogue of errors that cross RPC.

Every error a service raises on purpose derives from ``ServiceError``::

    ServiceError                    code            HTTP (gateway/errors.py)
    ├── BadRequest                  bad_request     400
    │   └── IdempotencyKeyMissing   idempotency_key_missing
    ├── InvalidInput                validation_error 422
    │   ├── WeakPassword
    │   ├── OrderTotalTooLarge      order_total_too_large
    │   └── IdempotencyKeyReused idempotency_key_reused
    ├── NotAuthenticated            not_authenticated 401
    │   └── InvalidCredentials      invalid_credentials
    ├── PermissionDenied            forbidden       403
    ├── NotFound                    not_found       404
    │   ├── UserNotFound, ClientNotFound, CategoryNotFound, ProductNotFound, ReservationNotFound
    │   ├── OrderNotFound
    │   ├── PaymentNotFound
    ├── Conflict                    conflict        409
    │   ├── EmailTaken, DuplicateSku, DuplicateSlug, CategoryInUse
    │   ├── OutOfStock, StockBelowReserved
    │   ├── OrderNotModifiable, OrderNotCancellable, OrderNotShippable, OrderNotDeliverable
    │   ├── NoCompensationPending, IdempotencyKeyInUse
    │   ├── PaymentNotRefundable, RefundExceedsBalance
    │   └── StreamConflict      concurrent_modification
    ├── ServiceUnavailable          service_unavailable 503
    │   ├── ServiceTimeout          timeout         504
    │   └── PaymentProviderError    payment_provider_error
    └── OAuthError                  (RFC 6749 §5.2) 400/401
        ├── InvalidGrant, InvalidClient, UnsupportedGrantType, InvalidRequest, InvalidScope
        ├── LoginThrottled          slow_down       429 (Retry-After)
        └── UnauthorizedClient

Each class is registered in ``REGISTRY`` by name: the gateway rebuilds it from
``exc_type`` (``rebuild``), or, for a class added after the gateway was built, as its
nearest base this code knows (``exc_bases``, see ``lineage``: a new ``Conflict`` is still a
409); ``common.remote_errors`` registers the same classes with nameko's
``deserialize_to_instance`` so a nameko caller (another service, ``nameko shell``) gets the
same class back. This module imports neither nameko nor anything else outside
the standard library, so domain modules and the gateway can use it.

Arguments are ``(message, details)``. nameko sends ``exc.args`` through
``safe_for_serialization``, which turns every non-string into its ``str()`` (2 → "2",
None → "None"), so ``details`` travel in ``args`` as JSON text and are decoded again
on arrival: numbers, None and nested lists cross intact.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

REGISTRY: dict[str, type[ServiceError]] = {}


def remote_error(cls: type[ServiceError]) -> type[ServiceError]:
    """Register ``cls`` so it is rebuilt by name on the other side of RPC."""
    REGISTRY[cls.__name__] = cls
    return cls


def _jsonable(value: Any) -> Any:
    """What JSON cannot hold crosses as nameko would send it: iterables as lists, the rest as text."""
    return list(value) if isinstance(value, Iterable) else str(value)


def _decoded(details: Mapping[str, Any] | str | None) -> dict[str, Any]:
    """The details as a dict, from a mapping or from the JSON text they cross RPC in."""
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            return {}  # not what a ServiceError sends; the message still says what happened
        return details if isinstance(details, dict) else {}
    return dict(details) if details else {}


@remote_error
class ServiceError(Exception):
    """Base of every error a service raises deliberately."""

    code = "service_error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, details: Mapping[str, Any] | str | None = None):
        self.message = message or self.default_message
        self.details = _decoded(details)
        super().__init__(self.message, json.dumps(self.details, default=_jsonable))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, {self.details!r})"


@remote_error
class InvalidInput(ServiceError):
    code = "validation_error"
    default_message = "The request contains invalid fields."


@remote_error
class OrderTotalTooLarge(InvalidInput):
    code = "order_total_too_large"
    default_message = "The order total is above the most one payment can take."


@remote_error
class BadRequest(ServiceError):
    """The request itself is malformed (a body that is no JSON object, a missing header)."""

    code = "bad_request"
    default_message = "The request body is malformed."


@remote_error
class IdempotencyKeyMissing(BadRequest):
    """``POST /api/v1/orders`` needs an Idempotency-Key: 1-255 printable ASCII characters."""

    code = "idempotency_key_missing"
    default_message = "An Idempotency-Key header (1-255 printable characters) is required."


@remote_error
class WeakPassword(InvalidInput):
    default_message = "The password does not meet the password policy."


@remote_error
class NotAuthenticated(ServiceError):
    code = "not_authenticated"
    default_message = "Authentication is required."


@remote_error
class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    default_message = "The password is not correct."


@remote_error
class PermissionDenied(ServiceError):
    code = "forbidden"
    default_message = "You are not allowed to do this."


@remote_error
class NotFound(ServiceError):
    code = "not_found"
    default_message = "The resource does not exist."


@remote_error
class UserNotFound(NotFound):
    default_message = "User not found."


@remote_error
class CategoryNotFound(NotFound):
    default_message = "Category not found."


@remote_error
class ProductNotFound(NotFound):
    default_message = "Product not found."


@remote_error
class Conflict(ServiceError):
    code = "conflict"
    default_message = "The request conflicts with the current state."


@remote_error
class EmailTaken(Conflict):
    code = "email_taken"
    default_message = "An account with this email already exists."


@remote_error
class DuplicateSku(Conflict):
    code = "duplicate_sku"
    default_message = "A product with this SKU already exists."


@remote_error
class DuplicateSlug(Conflict):
    code = "duplicate_slug"
    default_message = "A category with this slug already exists."


@remote_error
class CategoryInUse(Conflict):
    code = "category_in_use"
    default_message = "The category still has products or subcategories."


@remote_error
class OutOfStock(Conflict):
    code = "out_of_stock"
    default_message = "Not enough stock is available."


@remote_error
class StockBelowReserved(Conflict):
    code = "stock_below_reserved"
    default_message = "On-hand stock cannot go below what is reserved."


@remote_error
class StreamConflict(Conflict):
    """Another writer appended to the event stream first (optimistic concurrency, ``common.event_store``).

    A use case retries from fresh state; when its retries run out this crosses RPC as a 409.
    """

    code = "concurrent_modification"
    default_message = "The resource was changed by someone else; try again."


@remote_error
class OAuthError(ServiceError):
    """An OAuth 2.0 token-endpoint error; ``code`` is the RFC 6749 §5.2 error."""

    code = "invalid_request"
    status = 400


@remote_error
class InvalidRequest(OAuthError):
    code = "invalid_request"
    default_message = "The request is missing a parameter or is malformed."


@remote_error
class InvalidGrant(OAuthError):
    code = "invalid_grant"
    default_message = "The grant is invalid, expired or revoked."


@remote_error
class InvalidClient(OAuthError):
    code = "invalid_client"
    status = 401
    default_message = "Client authentication failed."


@remote_error
class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"
    default_message = "This grant type is not supported."


@remote_error
class UnauthorizedClient(OAuthError):
    """The client is known but not registered for this grant type (RFC 6749 §5.2)."""

    code = "unauthorized_client"
    default_message = "This client may not use this grant type."


@remote_error
class ClientNotFound(NotFound):
    default_message = "OAuth client not found."


@remote_error
class ReservationNotFound(NotFound):
    default_message = "No stock is reserved for this order."


@remote_error
class ServiceUnavailable(ServiceError):
    """A service this call depends on is not running or not reachable."""

    code = "service_unavailable"
    default_message = "A service is unavailable; try again later."


@remote_error
class ServiceTimeout(ServiceUnavailable):
    """A service this call depends on did not answer in time."""

    code = "timeout"
    default_message = "A service did not answer in time."


@remote_error
class InvalidScope(OAuthError):
    """A token request asked for a scope the account (or the refresh token) does not grant."""

    code = "invalid_scope"
    default_message = "The requested scope is invalid or exceeds what was granted."


@remote_error
class LoginThrottled(OAuthError):
    """Too many failed sign-ins for this account or address; ``details.retry_after`` in seconds.

    429 with ``Retry-After`` like every rate limit (docs/API.md); ``slow_down`` is the OAuth
    extension error (RFC 8628 §3.5) for "ask again later", so OAuth clients understand it.
    """

    code = "slow_down"
    status = 429
    default_message = "Too many failed sign-ins; try again later."



@remote_error
class OrderNotFound(NotFound):
    """No such order, or not the caller's (never a 403: other customers' orders do not exist)."""

    default_message = "Order not found."


@remote_error
class OrderNotModifiable(Conflict):
    """Items and address change only while pending or awaiting payment, before capture."""

    code = "order_not_modifiable"
    default_message = "The order can no longer be changed."


@remote_error
class OrderNotCancellable(Conflict):
    """Customers cancel before shipping, admins before delivery; cancelled stays cancelled."""

    code = "order_not_cancellable"
    default_message = "The order can no longer be cancelled."


@remote_error
class OrderNotShippable(Conflict):
    """Only a confirmed (paid) order ships."""

    code = "order_not_shippable"
    default_message = "Only a confirmed order can be shipped."


@remote_error
class OrderNotDeliverable(Conflict):
    """Only a shipped order is delivered."""

    code = "order_not_deliverable"
    default_message = "Only a shipped order can be delivered."


@remote_error
class NoCompensationPending(Conflict):
    """``retry_compensation`` on an order that does not need attention."""

    code = "no_compensation_pending"
    default_message = "The order has no failed compensation to retry."


@remote_error
class IdempotencyKeyInUse(Conflict):
    """The first request with this Idempotency-Key is still being handled."""

    code = "idempotency_key_in_use"
    default_message = "A request with this Idempotency-Key is still in progress."


@remote_error
class IdempotencyKeyReused(InvalidInput):
    """The Idempotency-Key was used before with another request body."""

    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was used with a different request."

@remote_error
class PaymentNotFound(NotFound):
    """No such payment, or not the caller's (other customers' payments do not exist)."""

    default_message = "Payment not found."


@remote_error
class PaymentNotRefundable(Conflict):
    """Only a captured, not fully refunded payment with no processor call in progress is refunded."""

    code = "payment_not_refundable"
    default_message = "The payment cannot be refunded now."


@remote_error
class PaymentNotAwaitingAction(Conflict):
    """The card's challenge was already answered, or the payment stopped waiting (order cancelled)."""

    code = "payment_not_awaiting_action"
    default_message = "This payment is not waiting for the customer any more."


@remote_error
class RefundExceedsBalance(Conflict):
    """A refund may not give back more than was captured and not yet refunded."""

    code = "refund_exceeds_balance"
    default_message = "The refund is larger than what remains to be refunded."


@remote_error
class PaymentProviderError(ServiceUnavailable):
    """The payment processor refused or could not carry out the request."""

    code = "payment_provider_error"
    default_message = "The payment processor could not carry out the request."


CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def lineage(exc: BaseException) -> dict[str, Any]:
    """What a caller that does not know ``exc``'s class maps it by: its ``ServiceError`` bases,
    nearest first, and its code. Sent beside nameko's error fields (``common.remote_errors``),
    so a service may add an error class without a release of its callers."""
    if not isinstance(exc, ServiceError):
        return {}
    bases = [cls.__name__ for cls in type(exc).__mro__[1:] if issubclass(cls, ServiceError)]
    return {"exc_bases": bases, "exc_code": exc.code}


def _known_base(bases: Any) -> type[ServiceError] | None:
    """The nearest registered base, never the bare ServiceError (it says nothing)."""
    names = bases if isinstance(bases, list) else []
    found = (REGISTRY.get(name) for name in names if isinstance(name, str))
    return next((cls for cls in found if cls is not None and cls is not ServiceError), None)


def rebuild(exc_type: str, exc_args: list[Any] | None, bases: Any = None,
            code: Any = None) -> ServiceError | None:
    """Rebuild a ServiceError from a nameko error payload: its own class, else (a class newer
    than this code) its nearest known base; None if neither. The code is the one the callee sent
    (a class's own, or that of an error a service in between rebuilt by its base), else the class's."""
    cls = REGISTRY.get(exc_type) or _known_base(bases)
    if cls is None:
        return None
    args = list(exc_args or [])
    message = args[0] if args and isinstance(args[0], str) else None
    details = args[1] if len(args) > 1 and isinstance(args[1], (str, dict)) else None
    error = cls(message, details)
    if isinstance(code, str) and CODE.fullmatch(code):
        error.code = code
    return error
