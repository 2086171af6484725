"""OWASP API4:2023 Unrestricted Resource Consumption.

Body size, page size and request rate are bounded, each with its documented answer: 413, 422
naming ``per_page``, 429 with ``Retry-After``. Limits are read from the platform's configuration.
"""
import ipaddress
import itertools
import random

import pytest
from limits import parse_many

from tests.security.support import bearer, order_body, place

DEFAULT_MAX_BODY_BYTES = 1_048_576  # the gateway's, when SHOP_MAX_BODY_BYTES is not set
LISTS = ["/api/v1/products", "/api/v1/orders", "/api/v1/payments", "/api/v1/users"]


def _limit(platform, name):
    [item] = parse_many(platform.env[name])
    return item.amount


_addresses = itertools.count(random.randrange(2**16))


def _fresh_address():
    """An address of 198.18.0.0/16 (RFC 2544 benchmarking) no other request of this run came from."""
    return str(ipaddress.IPv4Address("198.18.0.0") + next(_addresses) % 2**16)


def _max_body(platform):
    return int(platform.env.get("SHOP_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)


def test_a_body_over_the_limit_is_a_413_before_it_is_read(client, platform, admin_token):
    limit = _max_body(platform)
    response = client.post("/api/v1/products", content=b"{" + b" " * limit + b"}",
                           headers={**bearer(admin_token), "Content-Type": "application/json"})
    assert response.status_code == 413, response.text[:200]
    assert response.json()["error"]["details"]["max_bytes"] == limit


def test_a_streamed_body_without_length_is_cut_off_too(client, platform):
    def chunks():
        for _ in range(_max_body(platform) // 65536 + 2):
            yield b" " * 65536

    response = client.post("/api/v1/users", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text[:200]


@pytest.mark.parametrize("path", LISTS)
def test_per_page_over_the_documented_maximum_is_a_422(client, admin_token, path):
    document = client.get("/api/v1/openapi.json").json()
    [per_page] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "per_page"]
    maximum = per_page["schema"]["maximum"]
    assert maximum <= 100
    too_many = client.get(path, params={"per_page": maximum + 1}, headers=bearer(admin_token))
    assert too_many.status_code == 422, too_many.text
    assert "per_page" in too_many.json()["error"]["details"]
    at_most = client.get(path, params={"per_page": maximum}, headers=bearer(admin_token))
    assert at_most.status_code == 200 and at_most.json()["per_page"] == maximum


@pytest.mark.parametrize("page", ["0", "-1", "99999999999999999999", "abc"])
def test_absurd_page_numbers_are_a_422(client, page):
    response = client.get("/api/v1/products", params={"page": page})
    assert response.status_code == 422, response.text


def test_an_order_is_bounded_in_lines_and_quantities(client, customer, product):
    _, token = customer
    too_many_lines = order_body(product["id"])
    too_many_lines["items"] *= 51
    assert place(client, token, too_many_lines).status_code == 422
    assert place(client, token, order_body(product["id"], quantity=10**6)).status_code == 422


def _hammer(count, send):
    """Send ``count`` requests; the answers' statuses."""
    return [send().status_code for _ in range(count)]


def test_an_address_over_the_auth_limit_gets_429_with_retry_after(client, platform):
    limit = _limit(platform, "SHOP_RATE_LIMIT_AUTH_PER_ADDRESS")
    address = _fresh_address()

    def revoke(origin=address):
        return client.post("/api/v1/oauth/revoke", data={"token": "not-a-token"},
                           headers={"X-Forwarded-For": origin})

    statuses = _hammer(limit, revoke)
    assert 429 not in statuses, f"limited before the configured {limit}"
    refused = revoke()
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert "error" in refused.json()
    # Another address is not punished for this one.
    assert revoke(_fresh_address()).status_code != 429


def test_a_client_over_the_expensive_limit_gets_429_whatever_its_address(client, platform, customer,
                                                                          other_customer):
    limit = _limit(platform, "SHOP_RATE_LIMIT_EXPENSIVE_PER_CLIENT")
    _, token = customer

    def search(who=token):
        # A new address each time: changing address does not reset a client's budget.
        return client.get("/api/v1/products", params={"q": "x"},
                          headers={**bearer(who), "X-Forwarded-For": _fresh_address()})

    statuses = _hammer(limit, search)
    assert 429 not in statuses, f"limited before the configured {limit}"
    refused = search()
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"]
    assert search(other_customer[1]).status_code == 200
