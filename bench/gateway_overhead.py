"""What the gateway costs per proxied call, against the raw RPC round trip it wraps.

    .venv/bin/python bench/gateway_overhead.py                    # 4 callers, 3 rounds of 10 s
    .venv/bin/python bench/gateway_overhead.py --concurrency 1 --rounds 5

It starts the platform (bench/product_get.py's harness: every Procfile process on a fresh vhost
and fresh databases; RabbitMQ and PostgreSQL must be running), creates a product, and then, in
rounds that rotate which goes first, makes the same ``catalog.get_product`` call three ways with
``--concurrency`` callers, each one call after another, for ``--duration`` seconds:

- ``http``: ``wrk`` (else httpx) → ``GET /api/v1/products/{id}`` as the admin. An admin's read is
  never cached (it may see inactive products), so every request is one catalog RPC, after the
  gateway has parsed it, checked the access token, routed it, signed a service token, and before
  it encodes the answer and writes its access log line.
- ``nameko``: nameko's standalone cluster proxy (``nameko shell``, ``shopctl``) in a process of its
  own: the raw RPC round trip.
- ``aio``: the gateway's own RPC client alone (``gateway.rpc.AmqpRpcClient``) in a process of its
  own: the same call without HTTP.

Per way and round: calls per second, p50 and p99 latency, errors, and CPU milliseconds (user +
system, /proc) per call of the caller (the gateway for ``http``), the catalog and the RabbitMQ
node. The summary puts the gateway's own CPU per proxied call beside the raw round trip (the
nameko caller's CPU plus the catalog's, per call) and the gateway's latency beside nameko's.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable

import httpx
from product_get import (
    ADMIN,
    ROOT,
    Load,
    Processes,
    Round,
    cpu_seconds,
    load,
    password_token,
    started_platform,
)

WAYS = ("http", "nameko", "aio")


def over_http(args: argparse.Namespace, url: str, headers: dict[str, str], processes: Processes) -> Round:
    watched = {"caller": processes["gateway"], "catalog": processes["catalog"],
               "rabbitmq": processes["rabbitmq"]}
    before = cpu_seconds(watched)
    measured = load(args.tool, url, args.concurrency, args.duration, headers)
    after = cpu_seconds(watched)
    return Round("http", measured, {name: after[name] - before[name] for name in before})


def over_amqp(way: str, args: argparse.Namespace, product_id: str, broker: str,
              processes: Processes) -> Round:
    """One round of a caller process (bench/rpc_callers.py), the catalog's and broker's CPU
    counted over its calling window only (it says when that starts)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHOP_AMQP_URI": broker}
    command = [sys.executable, str(ROOT / "bench" / "rpc_callers.py"), way, "--product", product_id,
               "--concurrency", str(args.concurrency), "--duration", str(args.duration)]
    watched = {"catalog": processes["catalog"], "rabbitmq": processes["rabbitmq"]}
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=env) as caller:
        assert caller.stdin is not None and caller.stdout is not None
        if caller.stdout.readline().strip() != "ready":
            sys.exit(f"the {way} caller did not start (exit {caller.wait()})")
        before = cpu_seconds(watched)
        caller.stdin.write("go\n")
        caller.stdin.flush()
        result = json.loads(caller.stdout.readline())
        after = cpu_seconds(watched)
    measured = Load(result["calls"], result["errors"], result["seconds"], result["p50"], result["p99"])
    return Round(way, measured, {"caller": result["cpu"],
                                 **{name: after[name] - before[name] for name in before}})


def median(rounds: list[Round], value: Callable[[Round], float]) -> float:
    return statistics.median(value(r) for r in rounds)


def report(rounds: list[Round]) -> str:
    lines = []
    by_way = {way: [r for r in rounds if r.target == way] for way in WAYS}
    for way, mine in by_way.items():
        lines.append(f"{way:<6} median {median(mine, lambda r: r.rate):.0f} calls/s, p50 "
                     f"{median(mine, lambda r: r.load.p50) * 1000:.2f} ms, p99 "
                     f"{median(mine, lambda r: r.load.p99) * 1000:.2f} ms, CPU ms/call: caller "
                     f"{median(mine, lambda r: r.ms_per_request('caller')):.2f}, catalog "
                     f"{median(mine, lambda r: r.ms_per_request('catalog')):.2f}, rabbitmq "
                     f"{median(mine, lambda r: r.ms_per_request('rabbitmq')):.2f}, "
                     f"errors {sum(r.load.errors for r in mine)}")
    gateway = median(by_way["http"], lambda r: r.ms_per_request("caller"))
    raw = median(by_way["nameko"], lambda r: r.ms_per_request("caller") + r.ms_per_request("catalog"))
    client = median(by_way["aio"], lambda r: r.ms_per_request("caller"))
    lines.append(f"the gateway's own CPU per proxied call {gateway:.2f} ms = {gateway / raw:.2f}x the raw "
                 f"round trip (nameko caller + catalog, {raw:.2f} ms); of it, its RPC client alone "
                 f"{client:.2f} ms, HTTP, auth, routing and the rest {gateway - client:.2f} ms")
    http_p50, raw_p50 = (median(by_way[way], lambda r: r.load.p50) for way in ("http", "nameko"))
    lines.append(f"latency p50 through the gateway {http_p50 * 1000:.2f} ms = {http_p50 / raw_p50:.2f}x "
                 f"the raw round trip's {raw_p50 * 1000:.2f} ms")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=4, help="callers of each way (default 4)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per way and round (default 10)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm-up", type=float, default=3.0)
    parser.add_argument("--tool", choices=("wrk", "python"),
                        default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    with started_platform(env, None) as (base_url, processes, product_id):
        broker = processes["gateway"][0].environ()["SHOP_AMQP_URI"]
        with httpx.Client(base_url=base_url, timeout=30) as client:
            admin = {"Authorization": f"Bearer {password_token(client, *ADMIN)}"}
        url = f"{base_url}/api/v1/products/{product_id}"
        print(f"{args.rounds} rounds of {args.duration:.0f} s per way, {args.concurrency} callers, "
              f"{args.tool}; {url}", flush=True)
        load(args.tool, url, args.concurrency, args.warm_up, admin)
        rounds: list[Round] = []
        for number in range(args.rounds):
            for way in WAYS[number % len(WAYS):] + WAYS[:number % len(WAYS)]:
                if way == "http":
                    rounds.append(over_http(args, url, admin, processes))
                else:
                    rounds.append(over_amqp(way, args, product_id, broker, processes))
                print(rounds[-1].line(), flush=True)
    print(report(rounds))


if __name__ == "__main__":
    main()
