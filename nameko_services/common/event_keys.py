"""The keys that verify, and may re-sign, the events of one emitting service.

A handler of ``<source>.events`` trusts only ``service-<source>``'s keys: the current one,
a staged next one and previous ones not yet retired (see keys.py), so events signed
before a key rotation, and still waiting in a queue, stay valid.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from nameko_services.common.event_auth import (
    DEFAULT_EVENT_TOKEN_MAX_AGE,
    EVENT_TOKEN_HEADER,
    resign_event,
)
from nameko_services.common.key_sets import ReloadingKeySet
from nameko_services.common.keys import load_signing_key
from nameko_services.common.outbox import EVENT_ID_HEADER


def emitter_keys(service: str) -> ReloadingKeySet:
    """The keys of the one service whose events a handler takes."""
    return ReloadingKeySet([f"service-{service}"])


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
    keys = emitter_keys(source)

    def resign(headers: Mapping[str, Any], payload: Any) -> str:
        token = headers.get(EVENT_TOKEN_HEADER)
        return resign_event(token, key, keys.for_token(token), service=source,
                            event_type=event_type, event_id=headers.get(EVENT_ID_HEADER),
                            payload=payload, max_age=max_age)

    return resign
