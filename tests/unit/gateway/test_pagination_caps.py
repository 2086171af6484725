"""Every paginated list caps per_page (docs/API.md) and page, and answers 422 for a bad value."""
from __future__ import annotations

import pytest
from marshmallow import validate

from gateway.app import ENDPOINTS
from gateway.schemas import MAX_PAGE, MAX_PER_PAGE

LISTS = [e for e in ENDPOINTS if e.query is not None and "per_page" in e.query().fields]
LIST_IDS = [f"{e.method} {e.path}" for e in LISTS]
PAGE = {"items": [], "total": 0, "page": 1, "per_page": 20}
RPC_OF = {"/api/v1/users": ("users", "list_users"), "/api/v1/products": ("catalog", "list_products"),
          "/api/v1/orders": ("orders", "list_orders"), "/api/v1/payments": ("payments", "list_payments"),
          "/api/v1/orders/needing-attention": ("orders", "list_orders_needing_attention")}


def test_the_paginated_lists_are_the_ones_the_api_promises():
    assert set(LIST_IDS) == {f"GET {path}" for path in RPC_OF}


@pytest.mark.parametrize("endpoint", LISTS, ids=LIST_IDS)
def test_per_page_and_page_are_bounded_in_the_schema(endpoint):
    fields = endpoint.query().fields
    [per_page] = [v for v in fields["per_page"].validators if isinstance(v, validate.Range)]
    [page] = [v for v in fields["page"].validators if isinstance(v, validate.Range)]
    assert (per_page.min, per_page.max) == (1, MAX_PER_PAGE)
    assert (page.min, page.max) == (1, MAX_PAGE)


@pytest.mark.parametrize("endpoint", LISTS, ids=LIST_IDS)
@pytest.mark.parametrize(("query", "field"), [
    ("per_page=101", "per_page"), ("per_page=0", "per_page"), ("per_page=-5", "per_page"),
    ("per_page=ten", "per_page"), ("per_page=1.5", "per_page"), ("per_page=1e9", "per_page"),
    ("page=0", "page"), (f"page={MAX_PAGE + 1}", "page"), ("page=99999999999999999999999", "page"),
])
async def test_a_bad_page_or_per_page_is_a_422_naming_it_before_any_rpc(client, rpc, admin, endpoint, query,
                                                                        field):
    response = await client.get(f"{endpoint.path}?{query}", headers=admin)
    assert response.status_code == 422
    assert list(response.json()["error"]["details"]) == [field]
    assert not [c for c in rpc.calls if c.method.startswith("list_")]


@pytest.mark.parametrize("endpoint", LISTS, ids=LIST_IDS)
async def test_the_largest_page_is_passed_on(client, rpc, admin, endpoint):
    service, method = RPC_OF[endpoint.path]
    rpc.answer(service, method, PAGE)
    response = await client.get(f"{endpoint.path}?page={MAX_PAGE}&per_page={MAX_PER_PAGE}", headers=admin)
    assert response.status_code == 200
    [call] = rpc.calls_to(service, method)
    assert (call.kwargs["page"], call.kwargs["per_page"]) == (MAX_PAGE, MAX_PER_PAGE)
