"""Load test: orders placed → confirmed, end to end through the gateway, at 16 concurrent clients.

Each client registers nothing new: all share one customer. A client places an order, polls it until
it is final, records the time from POST to `confirmed`, and starts the next. Run against a
platform started with `make run` (admin from SHOP_ADMIN_EMAIL/SHOP_ADMIN_PASSWORD or --token):

    .venv/bin/python bench/order_confirm.py --duration 20
"""
from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
from product_get import Results, admin_token, arguments, percentile

ADDRESS = {"name": "Bench Buyer", "line1": "1 Bench St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
FINAL = {"confirmed", "cancelled", "shipped", "delivered"}


def setup(client: httpx.Client, args: argparse.Namespace) -> tuple[str, str]:
    """A product with plenty of stock and a customer's access token."""
    admin = {"Authorization": f"Bearer {admin_token(client, args)}"}
    product = client.post("/api/v1/products", headers=admin, json={
        "sku": f"BENCH-{uuid.uuid4().hex[:10]}", "name": "Benchmark kettle", "price": 2500,
        "currency": "EUR", "stock": 1_000_000})
    product.raise_for_status()
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "benchmark customer secret"
    registered = client.post("/api/v1/users", json={"email": email, "password": password, "name": "Bench"})
    registered.raise_for_status()
    token = client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": email,
                                                     "password": password})
    token.raise_for_status()
    return str(product.json()["id"]), str(token.json()["access_token"])


async def one_order(client: httpx.AsyncClient, product_id: str) -> tuple[str, float]:
    started = time.perf_counter()
    placed = await client.post("/api/v1/orders", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
        "items": [{"product_id": product_id, "quantity": 1}], "shipping_address": ADDRESS,
        "payment": {"token": "tok_visa"}})
    placed.raise_for_status()
    order_id = placed.json()["id"]
    while True:
        status = (await client.get(f"/api/v1/orders/{order_id}")).json()["status"]
        if status in FINAL:
            return status, time.perf_counter() - started
        await asyncio.sleep(0.1)  # polling faster mostly measures the polling


async def worker(client: httpx.AsyncClient, product_id: str, deadline: float, results: Results) -> None:
    while time.monotonic() < deadline:
        try:
            status, elapsed = await one_order(client, product_id)
        except httpx.HTTPError:
            results.errors += 1
            continue
        if status == "confirmed":
            results.latencies.append(elapsed)
        else:
            results.errors += 1


async def run(base_url: str, token: str, product_id: str, concurrency: int,
              duration: float) -> tuple[Results, float]:
    results = Results()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        started = time.monotonic()
        await asyncio.gather(*(worker(client, product_id, started + duration, results)
                               for _ in range(concurrency)))
        return results, time.monotonic() - started


def main() -> None:
    args = arguments(__doc__, concurrency=16, duration=20.0).parse_args()
    with httpx.Client(base_url=args.base_url, timeout=30) as client:
        product_id, token = setup(client, args)
    results, elapsed = asyncio.run(run(args.base_url, token, product_id, args.concurrency, args.duration))
    done = len(results.latencies)
    print(f"orders placed → confirmed, {args.concurrency} clients, {elapsed:.1f} s")
    print(f"throughput: {done / elapsed:.1f} orders/s confirmed ({done} orders)")
    print(f"p50 to confirmed: {percentile(results.latencies, 50) * 1000:.0f} ms")
    print(f"p99 to confirmed: {percentile(results.latencies, 99) * 1000:.0f} ms")
    print(f"not confirmed or failed: {results.errors}")


if __name__ == "__main__":
    main()
