"""GET /api/v1/orders/{order_id}/stream: the order's status, live, as Server-Sent Events.

Who may read the order may hold its stream (the order GET decides: others get its 404 before any
stream starts). The first event is the order document; then, each time the orders or payments
service announces something about the order (``gateway.order_updates``), the document is read again
and sent if it changed, so a step of the saga reaches the page within a second. A payments event
reaches us as it reaches the orders service, which may not have applied it yet: when the read shows
no change it is repeated a few times soon after (``FOLLOW_UPS``). Every heartbeat interval a comment
line keeps proxies from closing the stream, and the order is read again then too (a safety net for
a missed event). The stream ends once the order can change no more.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.auth import CUSTOMER
from gateway.order_updates import OrderUpdates
from gateway.routing import Context, Endpoint
from nameko_services.common.errors import NotFound, ServiceError

log = logging.getLogger(__name__)

FINAL = frozenset({"cancelled", "delivered"})  # nothing follows these
# Seconds: reads again after an event whose change had not shown yet, up to 7.7 s in all. The
# orders service announces the changes a customer waits on once it applied them (a card's step:
# payment_action_shown); these cover the rest (a refund's payment status) on a loaded machine.
FOLLOW_UPS = (0.2, 0.5, 1.0, 2.0, 4.0)
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # nginx must not buffer it


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event (JSON has no raw newlines, so one data line)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class EventStream(StreamingResponse):
    """A streaming response that always lets go of its watcher, however the stream ends."""

    def __init__(self, body: AsyncIterator[str], updates: OrderUpdates, order_id: str,
                 changed: asyncio.Event) -> None:
        super().__init__(body, media_type="text/event-stream", headers=HEADERS)
        self.release = lambda: updates.unwatch(order_id, changed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()


async def _changes(ctx: Context, order_id: str, first: dict[str, Any], changed: asyncio.Event,
                   heartbeat: float) -> AsyncIterator[str]:
    last = first
    yield sse("order", first)
    follow_ups: list[float] = []
    while last.get("status") not in FINAL:
        following_up = bool(follow_ups)
        try:
            await asyncio.wait_for(changed.wait(), follow_ups.pop(0) if following_up else heartbeat)
            follow_ups = list(FOLLOW_UPS)
        except TimeoutError:
            if not following_up:
                yield ": heartbeat\n\n"
        changed.clear()  # before the read: an event during it wakes the next round
        try:
            order = await ctx.call("orders", "get_order", order_id=order_id)
        except NotFound:
            return
        except ServiceError as exc:  # a slow or stopped service: keep the stream, read next time
            log.warning("order stream could not read the order: %s", exc.code)
            continue
        if order != last:
            last, follow_ups = order, []
            yield sse("order", order)


async def stream_order(ctx: Context) -> EventStream:
    order_id = ctx.path_id("order_id", NotFound)
    updates: OrderUpdates = ctx.request.app.state.order_updates
    changed = updates.watch(order_id)  # before the first read: no change falls in between
    try:
        first = await ctx.call("orders", "get_order", order_id=order_id)
    except BaseException:
        updates.unwatch(order_id, changed)
        raise
    return EventStream(_changes(ctx, order_id, first, changed, updates.heartbeat), updates, order_id,
                       changed)


ENDPOINTS = [
    Endpoint("GET", "/api/v1/orders/{order_id}/stream", stream_order,
             "The order as Server-Sent Events: the document, then each change; ends at a final status",
             "orders", CUSTOMER, errors=(404,), media="text/event-stream"),
]
