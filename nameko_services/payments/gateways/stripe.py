"""A Stripe-style processor over HTTP (PaymentIntents with manual capture).

authorise = ``POST /v1/payment_intents`` (``confirm=true``, ``capture_method=manual``),
capture = ``POST /v1/payment_intents/{id}/capture``, void = ``POST /v1/payment_intents/{id}/cancel``,
refund = ``POST /v1/refunds``, confirm = ``GET /v1/payment_intents/{id}``. Every request sends the
secret key as a bearer token, a pinned ``Stripe-Version`` and (POSTs) the caller's
``Idempotency-Key``, and has a timeout.

A card that needs 3-D Secure answers ``requires_action`` with a ``next_action``: its
``redirect_to_url.url`` is the customer's step (an ``Authorisation`` with that action, not a
decline); a ``return_url`` (``STRIPE_RETURN_URL``) is where Stripe sends the customer back.
``confirm`` reads the intent again: ``requires_capture`` is authorised, ``requires_payment_method``
(the challenge failed) a decline ``authentication_failed``, ``requires_action`` still waiting.

Stripe's answers are translated here, once: a 402 ``card_error`` is a ``PaymentDeclined``
(``insufficient_funds`` kept apart) unless its code says to try again; 429, 5xx, timeouts
and broken connections are ``TransientGatewayError``; any other refusal is a ``GatewayError``.
Answers are not trusted: a body that is not a JSON object, or an id that is not a plain
Stripe id (it goes into later request paths), is a ``GatewayError`` too (OWASP API10).
"""
from __future__ import annotations

import re
from typing import Any

import requests

from nameko_services.payments.gateways.base import (
    AUTHENTICATION_FAILED,
    DECLINED,
    INSUFFICIENT_FUNDS,
    REDIRECT,
    ActionStillRequired,
    Authorisation,
    GatewayError,
    PaymentDeclined,
    TransientGatewayError,
)

STRIPE_VERSION = "2024-06-20"
DEFAULT_TIMEOUT = (3.05, 15.0)  # (connect, read) seconds
RETRYABLE_CARD_CODES = frozenset({"processing_error"})
STRIPE_ID = re.compile(r"[a-z]{2,4}_[A-Za-z0-9_]{1,255}")


class StripeGateway:
    """PaymentIntents over HTTP; ``session`` is injectable (a transport, not a patch)."""

    name = "stripe"

    def __init__(self, api_key: str, base_url: str = "https://api.stripe.com", *,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 session: requests.Session | None = None, return_url: str | None = None) -> None:
        if not api_key:
            raise GatewayError("authentication_error", "STRIPE_API_KEY is not set.")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.return_url = return_url

    def authorise(self, amount: int, currency: str, token: str, idempotency_key: str) -> Authorisation:
        form: dict[str, Any] = {"amount": amount, "currency": currency.lower(), "payment_method": token,
                                "confirm": "true", "capture_method": "manual"}
        if self.return_url:
            form["return_url"] = self.return_url
        return _authorisation(self._post("/v1/payment_intents", idempotency_key, form))

    def confirm(self, reference: str) -> Authorisation:
        intent = self._send("GET", f"/v1/payment_intents/{reference}", None, None)
        if intent.get("status") == "requires_payment_method":
            raise PaymentDeclined(AUTHENTICATION_FAILED, "The customer failed the card's authentication.")
        authorisation = _authorisation(intent)
        if authorisation.action is not None:
            raise ActionStillRequired()
        return authorisation

    def capture(self, reference: str, amount: int, idempotency_key: str) -> None:
        self._post(f"/v1/payment_intents/{reference}/capture", idempotency_key,
                   {"amount_to_capture": amount})

    def void(self, reference: str, idempotency_key: str) -> None:
        self._post(f"/v1/payment_intents/{reference}/cancel", idempotency_key, {})

    def refund(self, reference: str, amount: int, idempotency_key: str) -> str:
        refund = self._post("/v1/refunds", idempotency_key, {"payment_intent": reference, "amount": amount})
        return _stripe_id(refund, "re_")

    def _post(self, path: str, idempotency_key: str, form: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", path, idempotency_key, form)

    def _send(self, method: str, path: str, idempotency_key: str | None,
              form: dict[str, Any] | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.api_key}", "Stripe-Version": STRIPE_VERSION}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = self.session.request(method, self.base_url + path, data=form, headers=headers,
                                            timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientGatewayError("network_error", str(exc)) from exc
        except requests.RequestException as exc:
            raise GatewayError("request_failed", str(exc)) from exc
        if response.status_code >= 400:
            raise _error_of(response)
        try:
            answer = response.json()
        except ValueError as exc:
            raise TransientGatewayError("invalid_response", "The provider sent no JSON.") from exc
        if not isinstance(answer, dict):
            raise GatewayError("invalid_response", "The provider's answer is not a JSON object.")
        return answer


def _authorisation(intent: dict[str, Any]) -> Authorisation:
    """A payment intent as an authorisation: held, or waiting for the customer's redirect."""
    status = intent.get("status")
    if status == "requires_capture":
        return Authorisation(_stripe_id(intent, "pi_"))
    if status == "requires_action":
        return Authorisation(_stripe_id(intent, "pi_"), {"type": REDIRECT, "url": _redirect_url(intent)})
    raise GatewayError("unexpected_status", f"Payment intent is {status!r}.")


def _redirect_url(intent: dict[str, Any]) -> str:
    """Where the customer authenticates: an https URL from the answer, nothing else (OWASP API10)."""
    next_action = intent.get("next_action")
    redirect = next_action.get("redirect_to_url") if isinstance(next_action, dict) else None
    url = redirect.get("url") if isinstance(redirect, dict) else None
    if not isinstance(url, str) or not url.startswith("https://") or len(url) > 2048 or \
            any(ch.isspace() or ord(ch) < 0x21 for ch in url):
        raise GatewayError("unsupported_next_action",
                           "The card needs an authentication step this shop cannot show (no redirect URL).")
    return url


def _stripe_id(answer: dict[str, Any], prefix: str) -> str:
    """The answer's ``id`` if it is a plain Stripe id of the expected kind."""
    value = answer.get("id")
    if not isinstance(value, str) or not value.startswith(prefix) or not STRIPE_ID.fullmatch(value):
        raise GatewayError("invalid_response", f"The provider's answer has no valid {prefix}... id.")
    return value


def _error_of(response: requests.Response) -> GatewayError:
    """The error Stripe's answer stands for."""
    try:
        error = dict(response.json().get("error") or {})
    except (ValueError, AttributeError):
        error = {}
    status, code = response.status_code, str(error.get("code") or error.get("type") or "")
    message = str(error.get("message") or f"HTTP {status}")
    if status == 429 or status >= 500 or code in RETRYABLE_CARD_CODES:
        return TransientGatewayError(code or f"http_{status}", message)
    if status == 402 and error.get("type") == "card_error":
        reason = INSUFFICIENT_FUNDS if error.get("decline_code") == INSUFFICIENT_FUNDS else DECLINED
        return PaymentDeclined(reason, message)
    return GatewayError(code or f"http_{status}", message)
