"""Load test: GET /api/v1/products/{id} through the gateway at 32 concurrent clients.

Run against a platform started with `make run` (admin from SHOP_ADMIN_EMAIL/SHOP_ADMIN_PASSWORD,
or an access token in SHOP_ADMIN_TOKEN / --token):

    .venv/bin/python bench/product_get.py --duration 10
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
import uuid
from dataclasses import dataclass, field

import httpx


@dataclass
class Results:
    """Latencies of the successful requests and the number of failures."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(results: Results, elapsed: float) -> str:
    """One line per figure: requests/s, p50, p99, errors."""
    done = len(results.latencies)
    return "\n".join([
        f"requests:   {done + results.errors} in {elapsed:.1f} s",
        f"throughput: {done / elapsed if elapsed else 0:.0f} requests/s (successful)",
        f"p50:        {percentile(results.latencies, 50) * 1000:.1f} ms",
        f"p99:        {percentile(results.latencies, 99) * 1000:.1f} ms",
        f"errors:     {results.errors}",
    ])


def admin_token(client: httpx.Client, args: argparse.Namespace) -> str:
    """The given token, else one from a password grant with the admin's credentials."""
    if args.token:
        return str(args.token)
    email, password = os.environ.get("SHOP_ADMIN_EMAIL"), os.environ.get("SHOP_ADMIN_PASSWORD")
    if not (email and password):
        sys.exit("give --token (or SHOP_ADMIN_TOKEN), or set SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD")
    response = client.post("/api/v1/oauth/token",
                           data={"grant_type": "password", "username": email, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])


def create_product(client: httpx.Client, token: str) -> str:
    """A fresh product to read, created through the gateway."""
    body = {"sku": f"BENCH-{uuid.uuid4().hex[:10]}", "name": "Benchmark tea pot", "price": 1999,
            "currency": "EUR", "stock": 100}
    response = client.post("/api/v1/products", json=body, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return str(response.json()["id"])


async def worker(client: httpx.AsyncClient, path: str, deadline: float, budget: list[int],
                 results: Results) -> None:
    """Send requests one after another until time or the shared request budget runs out."""
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        started = time.perf_counter()
        try:
            response = await client.get(path)
        except httpx.HTTPError:
            results.errors += 1
            continue
        if response.status_code == 200:
            results.latencies.append(time.perf_counter() - started)
        else:
            results.errors += 1


async def run(base_url: str, path: str, concurrency: int, duration: float,
              count: int) -> tuple[Results, float]:
    """``concurrency`` clients sharing one connection pool, for ``duration`` s or ``count`` requests."""
    results, budget = Results(), [count]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(*(worker(client, path, deadline, budget, results) for _ in range(concurrency)))
        return results, time.monotonic() - started


def arguments(description: str | None, concurrency: int, duration: float) -> argparse.ArgumentParser:
    """The options every benchmark takes: where the gateway is, the admin, how hard and how long."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("SHOP_GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("SHOP_ADMIN_TOKEN"))
    parser.add_argument("--concurrency", type=int, default=concurrency)
    parser.add_argument("--duration", type=float, default=duration, help=f"seconds (default {duration:g})")
    return parser


def main() -> None:
    parser = arguments(__doc__, concurrency=32, duration=10.0)
    parser.add_argument("--requests", type=int, default=100_000, help="stop after this many")
    args = parser.parse_args()
    with httpx.Client(base_url=args.base_url, timeout=30) as client:
        product_id = create_product(client, admin_token(client, args))
    print(f"GET {args.base_url}/api/v1/products/{product_id}: {args.concurrency} clients, "
          f"{args.duration:.0f} s or {args.requests} requests")
    results, elapsed = asyncio.run(run(args.base_url, f"/api/v1/products/{product_id}",
                                       args.concurrency, args.duration, args.requests))
    print(summary(results, elapsed))


if __name__ == "__main__":
    main()
