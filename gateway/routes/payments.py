"""Payments: /api/v1/payments (owners read theirs, admins refund)."""
from __future__ import annotations

from starlette.responses import JSONResponse, Response

from gateway.auth import ADMIN, CUSTOMER
from gateway.responses import Event, Payment, PaymentPage
from gateway.routes import sandbox
from gateway.routing import Context, Endpoint
from gateway.schemas import PaymentQuery, RefundBody
from nameko_services.common.errors import NotFound


def _payment_id(ctx: Context) -> str:
    return ctx.path_id("payment_id", NotFound)


async def list_payments(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("payments", "list_payments", **ctx.query()))


async def get_payment(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("payments", "get_payment", payment_id=_payment_id(ctx)))


async def get_payment_events(ctx: Context) -> Response:
    return JSONResponse(await ctx.call("payments", "get_payment_events", payment_id=_payment_id(ctx)))


async def confirm_payment_action(ctx: Context) -> Response:
    payment_id = _payment_id(ctx)
    return JSONResponse(await ctx.call("payments", "confirm_payment_action", payment_id=payment_id))


async def refund_payment(ctx: Context) -> Response:
    payment_id = _payment_id(ctx)
    amount = (await ctx.body()).get("amount")
    return JSONResponse(await ctx.call("payments", "refund_payment", payment_id=payment_id, amount=amount))


PAYMENT = "/api/v1/payments/{payment_id}"

ENDPOINTS = [
    Endpoint("GET", "/api/v1/payments", list_payments, "Payments (yours; admins: all), by order", "payments",
             CUSTOMER, query=PaymentQuery, answer=PaymentPage),
    Endpoint("GET", PAYMENT, get_payment, "One payment", "payments", CUSTOMER, errors=(404,),
             answer=Payment),
    Endpoint("GET", f"{PAYMENT}/events", get_payment_events, "The payment's history, oldest first",
             "payments", CUSTOMER, errors=(404,), answer=Event, many=True),
    Endpoint("POST", f"{PAYMENT}/confirm", confirm_payment_action,
             "Back from the card's challenge (the provider's return URL): the payment as the provider "
             "now says", "payments", CUSTOMER, errors=(404,), answer=Payment),
    *sandbox.ENDPOINTS,
    Endpoint("POST", f"{PAYMENT}/refund", refund_payment, "Refund all or part of a payment", "payments",
             ADMIN, body=RefundBody, errors=(404, 409), answer=Payment),
]
