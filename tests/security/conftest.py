"""The whole platform, run by the e2e harness, for the security suite.

The session fixtures (``vhost_uri``, ``database_urls``, ``keys_dir``, ``platform``, ``client``,
``admin_token``, ``register_customer``) are the e2e ones, imported so pytest registers them here
too: one harness, two suites. This suite runs the platform with its own hardening settings and
adds what an attacker's-eye test needs: customers to attack and to attack with, a paid order.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

# Every e2e fixture (vhost, databases, keys, processes, client, admin token, ...), present and
# future: pytest registers the fixtures a conftest module holds, imported or not.
from tests.e2e.conftest import *  # noqa: F403
from tests.e2e.conftest import CUSTOMER_PASSWORD, Platform
from tests.security.support import FINAL, bearer, new_product, order_body, place, wait_for

__all__ = ["CUSTOMER_PASSWORD", "ALLOWED_ORIGIN"]


# The hardening settings this suite's platform runs with (tests read them back from platform.env).
# Rate limits per address sit above what the suite itself sends from 127.0.0.1 in a minute; the
# rate limit tests hit them from their own addresses, which the gateway believes from
# X-Forwarded-For because 127.0.0.1 is made a trusted proxy. One browser origin is allowed.
ALLOWED_ORIGIN = "https://shop.example"
PLATFORM_SETTINGS = {
    "SHOP_CORS_ALLOW_ORIGINS": ALLOWED_ORIGIN,
    "SHOP_RATE_LIMIT_ENABLED": "true",
    "SHOP_TRUSTED_PROXIES": "127.0.0.1",
    "SHOP_RATE_LIMIT_AUTH_PER_ADDRESS": "300/minute",
    "SHOP_RATE_LIMIT_AUTH_PER_CLIENT": "10/minute",
    "SHOP_RATE_LIMIT_EXPENSIVE_PER_ADDRESS": "1000/minute",
    "SHOP_RATE_LIMIT_EXPENSIVE_PER_CLIENT": "25/minute",
}


@pytest.fixture(scope="session")
def platform_overrides() -> dict[str, str]:
    """Unlike the e2e suite, this one runs with rate limits on (its own values, above)."""
    return dict(PLATFORM_SETTINGS)


@pytest.fixture(scope="session")
def gateway_url(platform: Platform) -> str:
    """The running gateway's base URL (for tools that make their own client)."""
    return platform.base_url


@pytest.fixture
def customer(register_customer: Callable[..., tuple[dict, str]]) -> tuple[dict, str]:
    """A fresh customer: (user, access token)."""
    return register_customer(name="Alice")


@pytest.fixture
def other_customer(register_customer: Callable[..., tuple[dict, str]]) -> tuple[dict, str]:
    """A second, unrelated customer: the attacker of the BOLA tests."""
    return register_customer(name="Mallory")


@dataclass(frozen=True)
class Victim:
    """A customer with a confirmed, paid order: what the attackers go after."""

    user: dict
    token: str
    order: dict
    payment: dict


@pytest.fixture(scope="session")
def victim(client: httpx.Client, admin_token: str) -> Victim:
    email = f"victim-{uuid.uuid4().hex[:10]}@example.com"
    created = client.post("/api/v1/users", json={"email": email, "password": CUSTOMER_PASSWORD,
                                                  "name": "Victoria"})
    assert created.status_code == 201, created.text
    granted = client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": email,
                                                       "password": CUSTOMER_PASSWORD})
    assert granted.status_code == 200, granted.text
    token = granted.json()["access_token"]
    item = new_product(client, admin_token)
    placed = place(client, token, order_body(item["id"]))
    assert placed.status_code == 201, placed.text
    order = wait_for(client, token, placed.json()["id"], FINAL)
    assert order["status"] == "confirmed", order
    payments = client.get(f"/api/v1/payments?order_id={order['id']}", headers=bearer(token)).json()["items"]
    assert len(payments) == 1, payments
    return Victim(created.json(), token, order, payments[0])


@pytest.fixture(scope="session")
def product(client: httpx.Client, admin_token: str) -> dict:
    """One product in stock (plenty) for tests that place orders."""
    return new_product(client, admin_token, stock=1000)
