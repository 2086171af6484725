"""Smoke test of a deployed environment, through its public URL: `python deploy/k8s/smoke_test.py URL`.

Run by .github/workflows/deliver.yml after each deploy (staging, then production). Passes when,
within --wait seconds, the gateway is alive (/health) and ready (/ready), every service answers
(/health/services says ok), and anonymous reads that cross RabbitMQ to a service work
(GET /api/v1/categories and /api/v1/products: catalog; GET /.well-known/jwks.json: users).
Read-only: it creates nothing.
Exit code 0 when all pass, 1 otherwise (each failure printed).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable

Check = tuple[str, Callable[[int, object], str | None]]


def _status_ok(status: int, body: object) -> str | None:
    return None if status == 200 and isinstance(body, dict) and body.get("status") == "ok" else "not ok"


def _ready(status: int, body: object) -> str | None:
    return None if status == 200 else "not ready"


def _every_service_ok(status: int, body: object) -> str | None:
    if status != 200 or not isinstance(body, dict):
        return "no answer"
    bad = {name: state for name, state in (body.get("services") or {}).items() if state != "ok"}
    if body.get("status") != "ok" or bad or not body.get("services"):
        return f"services not ok: {bad or body}"
    return None


def _array(status: int, body: object) -> str | None:
    return None if status == 200 and isinstance(body, list) else "no array"


def _page(status: int, body: object) -> str | None:
    return None if status == 200 and isinstance(body, dict) and "items" in body else "no page of items"


def _jwks(status: int, body: object) -> str | None:
    return None if status == 200 and isinstance(body, dict) and body.get("keys") else "no keys"


CHECKS: list[Check] = [
    ("/health", _status_ok),
    ("/ready", _ready),
    ("/health/services", _every_service_ok),
    ("/api/v1/categories", _array),
    ("/api/v1/products?per_page=1", _page),
    ("/.well-known/jwks.json", _jwks),
]


def _get(url: str, timeout: float) -> tuple[int, object]:
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "nameko-shop-smoke-test"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (our own URL)
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw[:200].decode(errors="replace")


def failures(base_url: str, timeout: float = 5.0) -> list[str]:
    """Every check that fails now, as 'PATH: why'."""
    found = []
    for path, check in CHECKS:
        try:
            status, body = _get(base_url.rstrip("/") + path, timeout)
        except (OSError, urllib.error.URLError) as error:
            found.append(f"{path}: {error}")
            continue
        why = check(status, body)
        if why:
            found.append(f"{path}: HTTP {status}, {why}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the environment's public URL, e.g. https://shop.staging.example.com")
    parser.add_argument("--wait", type=float, default=180, help="seconds to keep trying (default 180)")
    parser.add_argument("--interval", type=float, default=5, help="seconds between tries (default 5)")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + args.wait
    while True:
        found = failures(args.url)
        if not found:
            print(f"smoke test of {args.url}: {len(CHECKS)} checks passed")
            return 0
        if time.monotonic() >= deadline:
            print(f"smoke test of {args.url} failed:", *found, sep="\n  ", file=sys.stderr)
            return 1
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
