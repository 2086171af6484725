"""Order and payment routes: the Idempotency-Key rule, roles, and input checked before any call."""
from __future__ import annotations

import uuid

import pytest

ORDER_ID = str(uuid.uuid4())
PAYMENT_ID = str(uuid.uuid4())
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
BODY = {"items": [{"product_id": str(uuid.uuid4()), "quantity": 2}], "shipping_address": ADDRESS,
        "payment": {"token": "tok_visa"}}
def _business_calls(rpc):
    """Calls beyond the token check's JWKS fetch."""
    return [call for call in rpc.calls if call.service != "users"]


ORDER = {"id": ORDER_ID, "status": "pending", "items": [], "total": 0, "currency": "EUR"}


async def test_a_new_order_is_201_and_a_replayed_one_is_200(client, rpc, customer):
    rpc.answer("orders", "place_order", {"order": ORDER, "replayed": False})
    headers = {**customer, "Idempotency-Key": "key-1"}
    first = await client.post("/api/v1/orders", headers=headers, json=BODY)
    assert first.status_code == 201 and first.json() == ORDER
    [call] = rpc.calls_to("orders", "place_order")
    assert call.kwargs["idempotency_key"] == "key-1" and call.kwargs["payload"]["items"][0]["quantity"] == 2
    rpc.answer("orders", "place_order", {"order": ORDER, "replayed": True})
    assert (await client.post("/api/v1/orders", headers=headers, json=BODY)).status_code == 200


@pytest.mark.parametrize("key", [None, "", "with space", "x" * 256])
async def test_an_order_without_a_usable_idempotency_key_is_a_400(client, rpc, customer, key):
    headers = dict(customer) if key is None else {**customer, "Idempotency-Key": key}
    response = await client.post("/api/v1/orders", headers=headers, json=BODY)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["error"]["details"]
    assert _business_calls(rpc) == []


@pytest.mark.parametrize(("body", "field"), [
    ({**BODY, "items": []}, "items"),
    ({**BODY, "items": [{"product_id": "x", "quantity": 1}]}, "items"),
    ({**BODY, "items": [{"product_id": str(uuid.uuid4()), "quantity": 0}]}, "items"),
    ({**BODY, "items": [{"product_id": str(uuid.uuid4()), "quantity": 1, "price": 1}]}, "items"),
    ({**BODY, "total": 1}, "total"),
    ({k: v for k, v in BODY.items() if k != "payment"}, "payment"),
])
async def test_a_bad_order_body_is_a_422_naming_the_field(client, rpc, customer, body, field):
    response = await client.post("/api/v1/orders", headers={**customer, "Idempotency-Key": "k"}, json=body)
    assert response.status_code == 422 and field in response.json()["error"]["details"]
    assert _business_calls(rpc) == []


async def test_orders_need_a_signed_in_customer_and_fulfilment_needs_an_admin(client, rpc, customer, admin):
    rpc.answer("orders", "ship_order", ORDER)
    assert (await client.get("/api/v1/orders")).status_code == 401
    assert (await client.post(f"/api/v1/orders/{ORDER_ID}/ship", headers=customer)).status_code == 403
    assert (await client.post(f"/api/v1/orders/{ORDER_ID}/ship", headers=admin)).status_code == 200
    assert rpc.calls_to("orders", "ship_order")[0].kwargs == {"order_id": ORDER_ID}


async def test_order_listing_filters_are_checked_and_passed_on(client, rpc, admin):
    rpc.answer("orders", "list_orders", {"items": [], "total": 0, "page": 1, "per_page": 20})
    assert (await client.get("/api/v1/orders?status=lost", headers=admin)).status_code == 422
    user_id = str(uuid.uuid4())
    response = await client.get(f"/api/v1/orders?status=confirmed&user_id={user_id}", headers=admin)
    assert response.status_code == 200
    assert rpc.calls_to("orders", "list_orders")[0].kwargs == {
        "status": "confirmed", "user_id": user_id, "page": 1, "per_page": 20}


async def test_order_events_modification_and_cancel_go_to_the_orders_service(client, rpc, customer):
    rpc.answer("orders", "get_order_events", [])
    rpc.answer("orders", "modify_order", ORDER)
    rpc.answer("orders", "cancel_order", ORDER)
    assert (await client.get(f"/api/v1/orders/{ORDER_ID}/events", headers=customer)).json() == []
    patched = await client.patch(f"/api/v1/orders/{ORDER_ID}", headers=customer,
                                 json={"shipping_address": ADDRESS})
    assert patched.status_code == 200
    assert rpc.calls_to("orders", "modify_order")[0].kwargs == {
        "order_id": ORDER_ID,
        "changes": {"shipping_address": {**ADDRESS, "line2": None, "region": None, "phone": None}}}
    assert (await client.post(f"/api/v1/orders/{ORDER_ID}/cancel", headers=customer)).status_code == 200


async def test_a_modification_still_waiting_for_the_catalog_is_202_accepted(client, rpc, customer):
    pending = dict(ORDER, pending_modification={"items": [], "total": 4995, "currency": "EUR"})
    rpc.answer("orders", "modify_order", pending)
    patched = await client.patch(f"/api/v1/orders/{ORDER_ID}", headers=customer,
                                 json={"items": [{"product_id": ORDER_ID, "quantity": 5}]})
    assert patched.status_code == 202
    assert patched.json()["pending_modification"]["total"] == 4995


async def test_a_malformed_order_or_payment_id_is_a_404_without_a_call(client, rpc, customer):
    assert (await client.get("/api/v1/orders/nope", headers=customer)).status_code == 404
    assert (await client.get("/api/v1/payments/nope", headers=customer)).status_code == 404
    assert _business_calls(rpc) == []


async def test_payments_are_listed_by_order_and_only_admins_refund(client, rpc, customer, admin):
    rpc.answer("payments", "list_payments", {"items": [], "total": 0, "page": 1, "per_page": 20})
    rpc.answer("payments", "refund_payment", {"id": PAYMENT_ID})
    listed = await client.get(f"/api/v1/payments?order_id={ORDER_ID}", headers=customer)
    assert listed.status_code == 200
    assert rpc.calls_to("payments", "list_payments")[0].kwargs["order_id"] == ORDER_ID
    path = f"/api/v1/payments/{PAYMENT_ID}/refund"
    assert (await client.post(path, headers=customer, json={})).status_code == 403
    assert (await client.post(path, headers=admin, json={"amount": 0})).status_code == 422
    assert (await client.post(path, headers=admin, json={"amount": 500})).status_code == 200
    assert rpc.calls_to("payments", "refund_payment")[0].kwargs == {"payment_id": PAYMENT_ID, "amount": 500}
