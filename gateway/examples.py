"""One example per operation for the OpenAPI document: a request body and the answer's.

Answers' examples are keyed by their ``gateway.responses`` schema, bodies' by their schema class;
tests/unit/gateway/test_openapi_document.py validates every example against its schema, so an
example cannot drift from the contract.
"""
from __future__ import annotations

from typing import Any

from gateway.routing import Endpoint

USER_ID = "6f1c2a4e-8b7d-4c3a-9e2f-1a2b3c4d5e6f"
PRODUCT_ID = "0b8f4a52-3c1d-4e6f-8a9b-7c6d5e4f3a2b"
CATEGORY_ID = "c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f"
ORDER_ID = "5e0c1a7d-2b3c-4d5e-9f6a-7b8c9d0e1f2a"
PAYMENT_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
WHEN = "2026-12-02T10:15:00+00:00"

ADDRESS = {"name": "Grace Hopper", "line1": "350 Fifth Avenue", "line2": "Floor 21", "city": "New York",
           "region": "NY", "postal_code": "10118", "country": "US", "phone": "+12125550123"}
USER = {"id": USER_ID, "email": "grace@example.com", "name": "Grace Hopper", "roles": ["customer"],
        "shipping_address": ADDRESS, "created_at": WHEN}
CATEGORY = {"id": CATEGORY_ID, "name": "Kitchen", "slug": "kitchen", "parent_id": None, "active": True}
PRODUCT = {"id": PRODUCT_ID, "sku": "MUG-1", "name": "Mug", "description": "Stoneware, 350 ml",
           "price": 1250, "currency": "EUR", "category_id": CATEGORY_ID, "active": True, "available": 42,
           "created_at": WHEN, "updated_at": WHEN}
LINE = {"product_id": PRODUCT_ID, "name": "Mug", "unit_price": 1250, "quantity": 2, "line_total": 2500}
ORDER = {"id": ORDER_ID, "user_id": USER_ID, "status": "awaiting_payment", "cancellation_reason": None,
         "items": [LINE], "total": 2500, "currency": "EUR", "shipping_address": ADDRESS, "note": None,
         "pending_modification": None, "payment_status": "pending",
         "payment_action": {"type": "redirect",
                            "url": "/sandbox/3ds/sbx_pi_4f0c9b7e2d1a4c3b8e6f5a4d3c2b1a09"},
         "needs_attention": False,
         "attention_reason": None, "created_at": WHEN, "updated_at": WHEN}
PAYMENT = {"id": PAYMENT_ID, "order_id": ORDER_ID, "status": "captured", "amount": 2500, "currency": "EUR",
           "refunded_amount": 0, "provider": "sandbox", "needs_attention": False, "next_action": None,
           "created_at": WHEN,
           "updated_at": WHEN}


def _page(item: dict[str, Any]) -> dict[str, Any]:
    return {"items": [item], "total": 1, "page": 1, "per_page": 20}


ANSWERS: dict[str, Any] = {
    "User": USER, "UserPage": _page(USER),
    "Token": {"access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2ln",
              "token_type": "Bearer", "expires_in": 900, "refresh_token": "rt_6Jc0V2pQ...", "scope": "shop"},
    "Revoked": {},
    "Jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                       "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "use": "sig", "alg": "EdDSA"}]},
    "Category": CATEGORY,
    "Product": PRODUCT, "ProductPage": _page(PRODUCT),
    "Stock": {"product_id": PRODUCT_ID, "on_hand": 50, "reserved": 8, "available": 42},
    "Order": ORDER, "OrderPage": _page(ORDER),
    "Event": {"version": 1, "type": "OrderPlaced", "data": {"total": 2500, "currency": "EUR"},
              "occurred_at": WHEN},
    "Payment": PAYMENT, "PaymentPage": _page(PAYMENT),
    "Health": {"status": "ok"},
    "Ready": {"status": "ready", "checks": {"broker": "ok"}},
    "ServicesHealth": {"status": "ok", "services": {"users": "ok", "catalog": "ok", "orders": "ok",
                                                    "payments": "ok"}},
    "OpenApiDocument": {"openapi": "3.1.0", "info": {"title": "nameko-shop API", "version": "1.0.0"},
                        "paths": {}},
}
# Non-JSON answers, by the endpoint's media type.
MEDIA_ANSWERS = {"text/html": "<!doctype html><html lang=\"en\">...</html>",
                 "text/plain": "# HELP gateway_http_requests_total ...\n",
                 "text/event-stream": 'event: order\ndata: {"id": "...", "status": "confirmed", ...}\n\n'
                                      ": heartbeat\n\n"}

BODIES: dict[str, Any] = {
    "RegisterBody": {"email": "grace@example.com", "password": "a long and unusual secret", "name": "Grace"},
    "UpdateMeBody": {"name": "Grace Hopper", "shipping_address": ADDRESS},
    "ChangePasswordBody": {"current_password": "a long and unusual secret",
                           "new_password": "another long secret"},
    "RolesBody": {"roles": ["customer", "admin"]},
    "CategoryBody": {"name": "Kitchen", "slug": "kitchen", "parent_id": None},
    "CategoryChanges": {"name": "Kitchen and dining"},
    "ProductBody": {"sku": "MUG-1", "name": "Mug", "description": "Stoneware, 350 ml", "price": 1250,
                    "currency": "EUR", "category_id": CATEGORY_ID, "stock": 50},
    "ProductChanges": {"price": 1190},
    "StockBody": {"on_hand": 50},
    "OrderSchema": {"items": [{"product_id": PRODUCT_ID, "quantity": 2}], "shipping_address": ADDRESS,
                    "payment": {"token": "tok_visa"}, "note": "Please ring twice"},
    "OrderChangesSchema": {"items": [{"product_id": PRODUCT_ID, "quantity": 3}]},
    "RefundBody": {"amount": 1250},
}
FORMS = {"issue_token": {"grant_type": "authorization_code", "code": "c_9f2...", "client_id": "my-spa",
                         "redirect_uri": "http://127.0.0.1:5173/callback",
                         "code_verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"},
         "revoke_token": {"token": "rt_6Jc0V2pQ...", "token_type_hint": "refresh_token"}}


def answer(endpoint: Endpoint) -> Any:
    """The example of the endpoint's success body, or None."""
    if endpoint.media in MEDIA_ANSWERS:
        return MEDIA_ANSWERS[endpoint.media]
    if endpoint.answer is None:
        return None
    example = ANSWERS[endpoint.answer.__name__]
    return [example] if endpoint.many else example


def request(endpoint: Endpoint) -> Any:
    """The example of the endpoint's request body, or None."""
    if endpoint.form:
        return FORMS.get(endpoint.handler.__name__)
    return None if endpoint.body is None else BODIES[endpoint.body.__name__]
