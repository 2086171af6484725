"""Event tokens: who emitted an event, bound to that exact event (pure functions).

The relay signs every event when it publishes it (``nameko.event_token`` header,
``typ: event+jwt``) with the emitting service's own key: ``iss`` = the service,
``aud`` = ``events``, ``evt`` = the event id, ``ety`` = the event type and ``pld`` =
the SHA-256 of the canonical JSON payload, so the token cannot be lifted onto
another event. Receivers accept an event of ``<service>.events`` only when its
token was signed by ``service-<service>``'s key and every binding matches.

An event may wait in a queue (an outage, a dead-letter queue) much longer than an
RPC call, so the bound is long: ``EVENT_TOKEN_MAX_AGE`` (default 7 days) from the
moment of publishing, checked by the signer (``exp``) and again by the receiver
(``iat``), so neither side alone decides how old an event may be. Replays of a
genuine event are harmless: handlers apply an event id once.
"""
from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from nameko_services.common.auth import _decode, _sign
from nameko_services.common.errors import NotAuthenticated
from nameko_services.common.keys import SigningKey

EVENT_TOKEN_HEADER = "nameko.event_token"
EVENT_TOKEN_TYPE = "event+jwt"
EVENTS_AUDIENCE = "events"
DEFAULT_EVENT_TOKEN_MAX_AGE = 7 * 24 * 3600  # seconds; config EVENT_TOKEN_MAX_AGE overrides


@dataclass(frozen=True)
class EventOrigin:
    """A verified event: the service that emitted it and when it was published."""

    service: str
    event_id: str
    issued_at: int


def payload_digest(payload: Any) -> str:
    """SHA-256 (base64url) of the payload's canonical JSON: key order and spacing do not count."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def sign_event(key: SigningKey, *, service: str, event_type: str, event_id: str, payload: Any,
               max_age: int = DEFAULT_EVENT_TOKEN_MAX_AGE, now: float | None = None) -> str:
    """The token ``service`` puts on one event it publishes."""
    issued = int(now if now is not None else time.time())
    claims = {"iss": service, "aud": EVENTS_AUDIENCE, "iat": issued, "exp": issued + max_age,
              "jti": uuid.uuid4().hex, "evt": event_id, "ety": event_type,
              "pld": payload_digest(payload)}
    return _sign(key, claims, EVENT_TOKEN_TYPE)


def verify_event(token: str | None, keys: Mapping[str, Ed25519PublicKey], *, service: str,
                 event_type: str, event_id: str | None, payload: Any,
                 max_age: int = DEFAULT_EVENT_TOKEN_MAX_AGE, now: float | None = None,
                 check_age: bool = True) -> EventOrigin:
    """Check that ``token`` was signed by ``service`` for exactly this event; raise NotAuthenticated.

    ``keys`` are the emitting service's public keys only, so a genuine token of another
    service fails as signed by an unknown key. ``check_age=False`` is for ``resign_event`` only.
    """
    if not token:
        raise NotAuthenticated("The event carries no event token.")
    if not event_id:  # handlers apply an event once per id: an event without one cannot be trusted
        raise NotAuthenticated("The event carries no event id.")
    claims = _decode(token, keys, EVENT_TOKEN_TYPE, EVENTS_AUDIENCE, service, verify_exp=check_age)
    expected = {"evt": event_id, "ety": event_type, "pld": payload_digest(payload)}
    wrong = sorted(name for name, value in expected.items() if claims.get(name) != value)
    if wrong:
        raise NotAuthenticated(f"The event token was issued for another event ({', '.join(wrong)} differ).")
    age = int(now if now is not None else time.time()) - int(claims["iat"])
    if check_age and age > max_age:
        raise NotAuthenticated(f"The event is {age} s old, older than the {max_age} s accepted.")
    return EventOrigin(service=claims["iss"], event_id=claims["evt"], issued_at=int(claims["iat"]))


def resign_event(token: str | None, key: SigningKey, keys: Mapping[str, Ed25519PublicKey], *,
                 service: str, event_type: str, event_id: str | None, payload: Any,
                 max_age: int = DEFAULT_EVENT_TOKEN_MAX_AGE) -> str:
    """A fresh token for a genuine event that is only too old (``shopctl replay --resign``).

    Everything but the age is checked as on receipt, so a forged or altered event is
    never laundered into a trusted one: it raises NotAuthenticated like ``verify_event``.
    """
    origin = verify_event(token, keys, service=service, event_type=event_type, event_id=event_id,
                          payload=payload, check_age=False)
    return sign_event(key, service=service, event_type=event_type, event_id=origin.event_id,
                      payload=payload, max_age=max_age)
