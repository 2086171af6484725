"""Orders: /api/v1/orders (customers their own, admins all)."""
from __future__ import annotations

from starlette.responses import JSONResponse, Response

from gateway.auth import ADMIN, CUSTOMER
from gateway.ratelimit import EXPENSIVE
from gateway.responses import Event, Order, OrderPage
from gateway.routing import Context, Endpoint, Handler
from gateway.schemas import OrderQuery, PageQuery
from nameko_services.common.errors import NotFound
from nameko_services.common.validation import OrderChangesSchema, OrderSchema, valid_idempotency_key


def _order_id(ctx: Context) -> str:
    return ctx.path_id("order_id", NotFound)


async def place_order(ctx: Context) -> Response:
    key = valid_idempotency_key(ctx.request.headers.get("idempotency-key", ""))
    placed = await ctx.call("orders", "place_order", idempotency_key=key, payload=await ctx.body())
    # The same key and body again returns the order placed the first time.
    return JSONResponse(placed["order"], status_code=200 if placed["replayed"] else 201)


async def list_orders(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("orders", "list_orders", **ctx.query()))


async def get_order(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("orders", "get_order", order_id=_order_id(ctx)))


async def get_order_events(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("orders", "get_order_events", order_id=_order_id(ctx)))


async def modify_order(ctx: Context) -> Response:
    order_id = _order_id(ctx)
    order = await ctx.call("orders", "modify_order", order_id=order_id, changes=await ctx.body())
    # New items wait for the catalog's answer; 202 while it has not come (the saga settles it).
    return JSONResponse(order, status_code=202 if order.get("pending_modification") else 200)


async def list_needing_attention(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("orders", "list_orders_needing_attention", **ctx.query()))


def _transition(method: str) -> Handler:
    """A handler moving the order along: cancel, ship, deliver, retry a failed compensation."""
    async def handler(ctx: Context) -> Response:
        return JSONResponse(await ctx.call("orders", method, order_id=_order_id(ctx)))
    return handler


ORDER = "/api/v1/orders/{order_id}"

ENDPOINTS = [
    Endpoint("POST", "/api/v1/orders", place_order, "Place an order (header Idempotency-Key)", "orders",
             CUSTOMER, status=201, also=(200,), body=OrderSchema, errors=(400, 404, 409, 422), rate=EXPENSIVE,
             answer=Order, idempotency_key=True),
    Endpoint("GET", "/api/v1/orders", list_orders, "Your orders (admins: all, filtered)", "orders",
             CUSTOMER, query=OrderQuery, answer=OrderPage),
    # Before ORDER: this path would otherwise be read as an order id.
    Endpoint("GET", "/api/v1/orders/needing-attention", list_needing_attention,
             "Orders whose compensation keeps failing, oldest first", "orders", ADMIN, query=PageQuery,
             answer=OrderPage),
    Endpoint("GET", ORDER, get_order, "One order", "orders", CUSTOMER, errors=(404,), answer=Order),
    Endpoint("GET", f"{ORDER}/events", get_order_events, "The order's history, oldest first", "orders",
             CUSTOMER, errors=(404,), answer=Event, many=True),
    Endpoint("PATCH", ORDER, modify_order, "Change items or address before payment", "orders", CUSTOMER,
             also=(202,), body=OrderChangesSchema, errors=(404, 409), rate=EXPENSIVE, answer=Order),
    Endpoint("POST", f"{ORDER}/cancel", _transition("cancel_order"), "Cancel (stock released, money back)",
             "orders", CUSTOMER, errors=(404, 409), answer=Order),
    Endpoint("POST", f"{ORDER}/ship", _transition("ship_order"), "Mark shipped", "orders", ADMIN,
             errors=(404, 409), answer=Order),
    Endpoint("POST", f"{ORDER}/deliver", _transition("deliver_order"), "Mark delivered", "orders", ADMIN,
             errors=(404, 409), answer=Order),
    Endpoint("POST", f"{ORDER}/retry-compensation", _transition("retry_compensation"),
             "Ask again for the refund or void that failed (order needing attention)", "orders", ADMIN,
             errors=(404, 409), answer=Order),
]
