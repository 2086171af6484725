"""Rate limits on the routes that are costly or that guess at credentials.

An endpoint declares its class (``Endpoint(..., rate=AUTH)``); each class has a limit per
client address and one per client (the verified token subject), both from config. Every
limited route keeps its own buckets, so searching the catalog never blocks checkout. The
``limits`` library keeps the moving windows, in process (``memory://``) or in a store that
several gateways share (``redis://``, with the ``redis`` package installed).
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from starlette.requests import Request

from gateway.client_address import client_address
from gateway.errors import OAuthRateLimited, RateLimited
from nameko_services.common.auth import Principal

log = logging.getLogger(__name__)

AUTH = "auth"  # credentials are checked or accounts created: guessing and spam
EXPENSIVE = "expensive"  # a search or a saga behind one request
RATE_CLASSES = (AUTH, EXPENSIVE)
ADDRESS, CLIENT = "address", "client"


@dataclass(frozen=True)
class RateClass:
    """The limits of one class, per client address and per client; empty means unlimited."""

    per_address: tuple[RateLimitItem, ...] = ()
    per_client: tuple[RateLimitItem, ...] = ()

    @classmethod
    def parse(cls, per_address: str, per_client: str) -> RateClass:
        """From limit strings such as ``"20/minute"`` or ``"5/second;100/hour"``."""
        return cls(_items(per_address), _items(per_client))


def _items(text: str) -> tuple[RateLimitItem, ...]:
    if not text.strip():
        return ()
    try:
        return tuple(parse_many(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a rate limit such as '20/minute' or '5/second;100/hour'") from None


def async_storage_uri(uri: str) -> str:
    """``memory://`` → ``async+memory://``: the gateway is asyncio, so it needs the async storages."""
    return uri if uri.startswith("async+") else f"async+{uri}"


def client_identity(principal: Principal | None) -> str | None:
    """The per-client key, from a verified token only: the machine client (client credentials)
    or the signed-in user; None for anonymous requests (they count per address alone).

    An OAuth client id merely named in a request is not verified here, and a public client's
    id is shared by all its users: keying on it would let anyone lock a whole app out.
    """
    if principal is None or not principal.user_id:
        return None
    client_id = getattr(principal, "client_id", None)
    if client_id is not None and client_id == principal.user_id:
        return f"client:{client_id}"
    return f"user:{principal.user_id}"


OnLimited = Callable[[str, str], None]  # (route, scope) → e.g. a metrics counter


class RateLimiter:
    """Moving-window limits per (class, route, address) and per (class, route, client)."""

    def __init__(self, classes: Mapping[str, RateClass], storage_uri: str = "memory://",
                 on_limited: OnLimited | None = None) -> None:
        unknown = set(classes) - set(RATE_CLASSES)
        if unknown:
            raise ValueError(f"unknown rate limit classes: {sorted(unknown)}")
        self.classes = dict(classes)
        self._limiter = MovingWindowRateLimiter(
            storage_from_string(async_storage_uri(storage_uri), wrap_exceptions=True))
        self._on_limited = on_limited

    async def retry_after(self, rate_class: str, route: str, address: str, client: str | None) -> int | None:
        """Count one request; None if it is allowed, else the whole seconds until it would be.

        Both buckets are counted even when one is already full, so a client cannot spread
        its requests over addresses nor an address over clients.
        """
        limits = self.classes.get(rate_class)
        if limits is None:
            return None
        buckets = [(ADDRESS, address, item) for item in limits.per_address]
        if client is not None:
            buckets += [(CLIENT, client, item) for item in limits.per_client]
        waits: dict[str, float] = {}
        for scope, who, item in buckets:
            try:
                if await self._limiter.hit(item, "gateway", rate_class, route, scope, who):
                    continue
                stats = await self._limiter.get_window_stats(item, "gateway", rate_class, route, scope, who)
            except StorageError as exc:
                # A limiter store that is down must not take the shop down with it.
                log.warning("rate limit store unavailable, request allowed: %s", exc.storage_error)
                return None
            waits[scope] = max(waits.get(scope, 0.0), stats.reset_time - time.time())
        if not waits:
            return None
        for scope in waits:
            if self._on_limited is not None:
                self._on_limited(route, scope)
        return max(1, math.ceil(max(waits.values())))


async def enforce(request: Request, rate_class: str, route: str, principal: Principal | None,
                  oauth: bool = False) -> None:
    """Count the request against its route's limits; RateLimited (429) when it is over.

    ``oauth``: the route answers RFC 6749 errors, so the refusal is an OAuth error too.
    """
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    wait = await limiter.retry_after(rate_class, route, client_address(request), client_identity(principal))
    if wait is not None:
        raise (OAuthRateLimited if oauth else RateLimited)(wait)
