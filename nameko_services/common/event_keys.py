"""The keys that verify, and may re-sign, the events of one emitting service.

A handler of ``<source>.events`` trusts only ``service-<source>``'s keys: the current one,
a staged next one and previous ones not yet retired (see keys.py), so events signed
before a key rotation, and still waiting in a queue, stay valid.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from nameko_services.common.auth import key_map
from nameko_services.common.event_auth import (
    DEFAULT_EVENT_TOKEN_MAX_AGE,
    EVENT_TOKEN_HEADER,
    resign_event,
)
from nameko_services.common.keys import load_public_keys, load_signing_key
from nameko_services.common.outbox import EVENT_ID_HEADER

KEY_RELOAD_INTERVAL = 5.0  # seconds; a token with an unknown kid re-reads the key set at most this often
KEY_MAX_AGE = 60.0  # seconds; and it is re-read this often anyway, so rotations need no restart


class EmitterKeys:
    """The public keys (current, staged, previous: see keys.py) of the one service whose events we take."""

    def __init__(self, service: str) -> None:
        self.name = f"service-{service}"
        self._load()

    def _load(self) -> None:
        self.keys = key_map(load_public_keys(self.name))
        self.loaded = time.monotonic()

    def for_token(self, token: str | None) -> dict[str, Any]:
        age = time.monotonic() - self.loaded
        if age >= KEY_MAX_AGE or (age >= KEY_RELOAD_INTERVAL and _kid(token) not in self.keys):
            self._load()
        return self.keys


def _kid(token: str | None) -> str | None:
    try:
        kid = jwt.get_unverified_header(token or "").get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


# nameko's handler queue name: evt-<source>-<event>--<service>.<method>
HANDLER_QUEUE = re.compile(r"^evt-(?P<source>[^-]+)-(?P<event_type>.+?)--[^.]+\..+$")
# (headers, payload) -> a fresh event token
Resign = Callable[[Mapping[str, Any], Any], str]


def event_resigner(queue_name: str, max_age: int = DEFAULT_EVENT_TOKEN_MAX_AGE) -> Resign:
    """Re-sign genuine events of a handler queue with their emitter's key (``shopctl replay --resign``).

    Needs the emitting service's private key, so only an operator trusted with it can do it.
    """
    match = HANDLER_QUEUE.match(queue_name)
    if match is None:
        raise ValueError(f"{queue_name!r} is not an event handler queue "
                         "(evt-<source>-<event>--<service>.<handler>)")
    source, event_type = match["source"], match["event_type"]
    key = load_signing_key(f"service-{source}")
    keys = EmitterKeys(source)

    def resign(headers: Mapping[str, Any], payload: Any) -> str:
        token = headers.get(EVENT_TOKEN_HEADER)
        return resign_event(token, key, keys.for_token(token), service=source,
                            event_type=event_type, event_id=headers.get(EVENT_ID_HEADER),
                            payload=payload, max_age=max_age)

    return resign
