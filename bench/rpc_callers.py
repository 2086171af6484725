"""One caller of ``catalog.get_product`` over AMQP, run as a process of its own by
bench/gateway_overhead.py so that its CPU is its own:

    python bench/rpc_callers.py nameko|aio --product ID --concurrency N --duration S

``nameko``: nameko's standalone cluster proxy, as ``nameko shell`` and ``shopctl`` call (one proxy
per green thread: nameko 2's standalone reply listener serves one caller), a fresh service token
per call. ``aio``: the gateway's own asyncio client (``gateway.rpc.AmqpRpcClient``, on uvloop as the
gateway runs), the same call without HTTP. Both sign each call's token as the gateway does.

It connects, prints ``ready``, waits for a line on stdin, calls for ``--duration`` seconds from
``--concurrency`` callers one call after another, and prints one JSON line: calls, errors,
seconds, p50, p99 (seconds) and its own CPU seconds (user + system) over that window only.
The broker and keys come from the environment (SHOP_AMQP_URI, SHOP_KEYS_DIR).
"""
from __future__ import annotations

import sys

if __name__ == "__main__" and sys.argv[1:2] == ["nameko"]:
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()  # before anything imports socket or threading

import argparse
import json
import os
import resource
import time
from typing import Any

from product_get import percentile


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def _result(latencies: list[float], errors: int, seconds: float, cpu: float) -> dict[str, Any]:
    return {"calls": len(latencies), "errors": errors, "seconds": seconds,
            "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "cpu": cpu}


def nameko_calls(product_id: str, concurrency: int, duration: float) -> dict[str, Any]:
    import eventlet

    from nameko_services.common.shell import ShellRpcProxy, token_source

    config = {"AMQP_URI": os.environ["SHOP_AMQP_URI"]}
    proxies = [ShellRpcProxy(config, token_source(None, None, ("admin",))) for _ in range(concurrency)]
    clusters = [proxy.start() for proxy in proxies]
    for cluster in clusters:  # the first call declares the reply queue: not part of the window
        cluster.catalog.get_product(product_id=product_id)
    latencies: list[float] = []
    errors = 0
    _wait_for_go()
    cpu, started = _cpu(), time.monotonic()

    def one_caller(cluster: Any) -> None:
        nonlocal errors
        while time.monotonic() < started + duration:
            sent = time.perf_counter()
            try:
                cluster.catalog.get_product(product_id=product_id)
            except Exception:  # noqa: BLE001 - a benchmark counts failures, it does not stop on them
                errors += 1
                continue
            latencies.append(time.perf_counter() - sent)

    pool = eventlet.GreenPool(concurrency)
    for cluster in clusters:
        pool.spawn(one_caller, cluster)
    pool.waitall()
    result = _result(latencies, errors, time.monotonic() - started, _cpu() - cpu)
    for proxy in proxies:
        proxy.stop()
    return result


def aio_calls(product_id: str, concurrency: int, duration: float) -> dict[str, Any]:
    import asyncio

    import uvloop

    from gateway.rpc import AmqpRpcClient
    from nameko_services.common.auth import Principal
    from nameko_services.common.shell import OPERATOR_USER_ID

    admin = Principal(user_id=OPERATOR_USER_ID, roles=("admin",))  # as the shell's calls act

    async def run() -> dict[str, Any]:
        client = AmqpRpcClient(os.environ["SHOP_AMQP_URI"])
        await client.start()
        while not client.connected:
            await asyncio.sleep(0.05)
        await client.call("catalog", "get_product", principal=admin, product_id=product_id)
        latencies: list[float] = []
        errors = 0
        await asyncio.get_running_loop().run_in_executor(None, _wait_for_go)
        cpu, started = _cpu(), time.monotonic()

        async def one_caller() -> None:
            nonlocal errors
            while time.monotonic() < started + duration:
                sent = time.perf_counter()
                try:
                    await client.call("catalog", "get_product", principal=admin, product_id=product_id)
                except Exception:  # noqa: BLE001 - counted, as above
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)

        await asyncio.gather(*(one_caller() for _ in range(concurrency)))
        result = _result(latencies, errors, time.monotonic() - started, _cpu() - cpu)
        await client.close()
        return result

    return uvloop.run(run())


CALLERS = {"nameko": nameko_calls, "aio": aio_calls}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("caller", choices=sorted(CALLERS))
    parser.add_argument("--product", required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(CALLERS[args.caller](args.product, args.concurrency, args.duration)), flush=True)


if __name__ == "__main__":
    main()
