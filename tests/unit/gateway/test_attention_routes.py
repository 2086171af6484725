"""Orders needing attention over HTTP: admins list them and retry a failed compensation."""
from __future__ import annotations

import uuid

ORDER_ID = str(uuid.uuid4())


async def test_admins_list_orders_needing_attention_and_customers_are_refused(client, rpc, admin, customer):
    page = {"items": [{"id": ORDER_ID, "needs_attention": True}], "total": 1, "page": 2, "per_page": 5}
    rpc.answer("orders", "list_orders_needing_attention", page)
    response = await client.get("/api/v1/orders/needing-attention?page=2&per_page=5", headers=admin)
    assert response.status_code == 200 and response.json() == page
    [call] = rpc.calls_to("orders", "list_orders_needing_attention")
    assert call.kwargs == {"page": 2, "per_page": 5}
    assert (await client.get("/api/v1/orders/needing-attention", headers=customer)).status_code == 403
    assert len(rpc.calls_to("orders", "list_orders_needing_attention")) == 1


async def test_retrying_a_compensation_goes_to_the_orders_service_for_admins_only(client, rpc, admin,
                                                                                   customer):
    rpc.answer("orders", "retry_compensation", {"id": ORDER_ID, "needs_attention": True})
    path = f"/api/v1/orders/{ORDER_ID}/retry-compensation"
    assert (await client.post(path, headers=customer)).status_code == 403
    response = await client.post(path, headers=admin)
    assert response.status_code == 200
    [call] = rpc.calls_to("orders", "retry_compensation")
    assert call.kwargs == {"order_id": ORDER_ID}
