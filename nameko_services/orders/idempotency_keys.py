"""Idempotency-Key rules of ``place_order`` (docs/API.md, the IETF Idempotency-Key draft). Pure.

A key belongs to one customer. Its row is committed ``in_progress`` before the order is
placed and becomes ``done`` (with the order id) in the order's own transaction; a request
that fails deletes it, so the customer may try again with the same key. A claim is known by
the time it was made (``created_at``), which a take-over replaces: a request that outlived
its claim neither completes the key with a second order nor deletes the claim of its retry.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nameko_services.common.errors import IdempotencyKeyInUse, IdempotencyKeyReused

IN_PROGRESS = "in_progress"
DONE = "done"
REPLAY = "replay"  # answer with the order the first request placed
TAKE_OVER = "take_over"  # the first request died long ago: handle this one instead


@dataclass(frozen=True)
class KeyRecord:
    """An Idempotency-Key as stored."""

    user_id: str
    key: str
    request_hash: str
    state: str
    order_id: str | None
    created_at: datetime


def request_hash(payload: Mapping[str, Any]) -> str:
    """A fingerprint of the request body: the same body in any key order hashes the same."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def decide(record: KeyRecord, digest: str, now: datetime, abandoned_after: timedelta) -> str:
    """What to do with a request whose key is already known: REPLAY, TAKE_OVER or an error."""
    if record.request_hash != digest:
        raise IdempotencyKeyReused(details={"Idempotency-Key": [
            "This key was already used with a different request body."]})
    if record.state == DONE:
        return REPLAY
    if now - record.created_at >= abandoned_after:
        return TAKE_OVER
    raise IdempotencyKeyInUse(details={"Idempotency-Key": ["The first request with this key is "
                                                           "still being handled; retry later."]})
