"""CPU cost of tracing: bench/order_confirm.py's load on the platform with OTEL unset, and on the
platform exporting every span to a local OTLP/HTTP receiver, in alternating rounds.

    .venv/bin/python bench/tracing_overhead.py --rounds 3 --duration 20

Each round starts every Procfile process afresh with the e2e harness on fresh databases (its own
vhost, databases and keys; RabbitMQ and PostgreSQL must be running, no `make run` needed), warms
up, then places orders for --duration seconds from --concurrency clients and reads the CPU time
(user + system, /proc) each process used in that window. It prints orders/s, p50, and CPU
milliseconds per confirmed order, per process and in all, for both settings, and the overhead of
tracing. The receiver runs in this process and only counts what it gets: its CPU, a collector's
job, is not counted. Run it on an otherwise idle machine: other load moves the figures more than
tracing does.

Clients poll each order until it is confirmed, so a slower platform also polls more per order:
below saturation (``--concurrency 2``) the CPU per order compares the same work; at 16 clients
the orders process is saturated and every millisecond it spends adds polls.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # the harness imports nameko

from order_confirm import run, setup  # noqa: E402
from product_get import percentile  # noqa: E402

from nameko_services.common.testing import temporary_keys  # noqa: E402
from nameko_services.users.admin import ensure_admin  # noqa: E402
from tests.e2e.conftest import Platform, exporting_to, fresh_databases, fresh_vhost, running_platform  # noqa: E402
from tests.otlp_receiver import OtlpReceiver  # noqa: E402

ADMIN = ("admin@bench.example.com", "benchmark operator secret")
TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP = 5.0


@dataclass
class Round:
    setting: str
    orders: int
    requests: int  # HTTP requests the gateway answered: the orders and the clients' polls
    seconds: float
    p50: float
    cpu: dict[str, float]  # seconds per process over the measured window

    def cpu_ms_per_order(self, process: str | None = None) -> float:
        used = self.cpu[process] if process else sum(self.cpu.values())
        return 1000 * used / max(self.orders, 1)

    def cpu_ms_per_request(self) -> float:
        return 1000 * sum(self.cpu.values()) / max(self.requests, 1)


def cpu_seconds(platform: Platform) -> dict[str, float]:
    """User + system CPU each process has used so far."""
    used = {}
    for name, process in platform.processes.items():
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return used


def requests_answered(client: httpx.Client) -> int:
    """How many requests the gateway has answered (its own metrics), scrapes aside."""
    total = 0.0
    for sample in client.get("/metrics").text.splitlines():
        if sample.startswith("gateway_http_requests_total{") and 'route="/metrics"' not in sample:
            total += float(sample.rsplit(" ", 1)[1])
    return int(total)


def one_round(setting: str, overrides: dict[str, str], args: argparse.Namespace, broker: str,
              keys: Path, logs: Path) -> Round:
    overrides = {"SHOP_RATE_LIMIT_ENABLED": "false", **overrides}
    with fresh_databases(f"shop_bench_{uuid.uuid4().hex[:6]}") as urls, \
            running_platform(broker, urls, keys, logs, overrides) as platform:
        ensure_admin(urls["core"], *ADMIN)
        with httpx.Client(base_url=platform.base_url, timeout=30) as client:
            token = client.post("/api/v1/oauth/token", data={
                "grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}).json()["access_token"]
            product_id, customer = setup(client, argparse.Namespace(token=token))
            asyncio.run(run(platform.base_url, customer, product_id, args.concurrency, WARM_UP))
            answered = requests_answered(client)  # before the window: the scrapes are not counted
            before = cpu_seconds(platform)
            results, elapsed = asyncio.run(run(platform.base_url, customer, product_id, args.concurrency,
                                               args.duration))
            after, answered = cpu_seconds(platform), requests_answered(client) - answered
    used = {name: after[name] - before[name] for name in before}
    return Round(setting, len(results.latencies), answered, elapsed, percentile(results.latencies, 50), used)


def line(round_: Round) -> str:
    r = round_
    per_process = ", ".join(f"{p} {r.cpu_ms_per_order(p):.1f}" for p in sorted(r.cpu))
    return (f"{r.setting:<8} {r.orders / r.seconds:5.1f} orders/s, p50 {r.p50 * 1000:4.0f} ms, "
            f"{r.requests / max(r.orders, 1):4.1f} requests/order; CPU {r.cpu_ms_per_order():5.1f} "
            f"ms/order ({per_process}), {r.cpu_ms_per_request():4.2f} ms/request")


def overhead(on: float, off: float) -> str:
    return f"{100 * (on / off - 1):+.1f} %"


def report(rounds: list[Round]) -> str:
    """Every round; each setting's means; the overhead of tracing from the means and, less moved by
    the machine's other load, the median of each pair of rounds run one after the other."""
    lines = [line(round_) for round_ in rounds]
    of = {s: [r for r in rounds if r.setting == s] for s in ("off", "tracing")}
    for name, measure in (("CPU per confirmed order (ms)", Round.cpu_ms_per_order),
                          ("CPU per HTTP request (ms)", Round.cpu_ms_per_request),
                          ("throughput (orders/s)", lambda r: r.orders / r.seconds)):
        off, on = (statistics.mean(measure(r) for r in of[s]) for s in ("off", "tracing"))
        pairs = [measure(b) / measure(a) if a.setting == "off" else measure(a) / measure(b)
                 for a, b in zip(rounds[::2], rounds[1::2], strict=False)]
        lines.append(f"{name}: off {off:.2f}, tracing {on:.2f}: {overhead(on, off)}; median of "
                     f"{len(pairs)} pairs {100 * (statistics.median(pairs) - 1):+.1f} % "
                     f"({100 * (min(pairs) - 1):+.1f} to {100 * (max(pairs) - 1):+.1f} %)")
    for process in sorted(rounds[0].cpu):
        off, on = (statistics.mean(r.cpu_ms_per_order(process) for r in of[s]) for s in ("off", "tracing"))
        lines.append(f"  {process:<9} off {off:5.1f} ms/order, tracing {on:5.1f} ({overhead(on, off)})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each setting (default 3)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per round (default 20)")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    receiver = OtlpReceiver(decode=False)
    settings = {"off": {}, "tracing": exporting_to(receiver) | {"OTEL_BSP_SCHEDULE_DELAY": "5000"}}
    rounds: list[Round] = []
    with tempfile.TemporaryDirectory() as scratch, temporary_keys(Path(scratch) / "keys") as keys, \
            fresh_vhost() as broker:
        # The machine's first minute of load runs faster than the rest (seen on the 2-core VM of
        # README "Benchmark"): a first round of each setting warms it up and is not counted.
        for setting in ("off", "tracing"):
            logs = Path(scratch) / f"logs-warm-up-{setting}"
            logs.mkdir()
            warm_up = one_round(setting, settings[setting], args, broker, keys, logs)
            print(f"(warm-up) {line(warm_up)}", flush=True)
        for number in range(args.rounds):
            # Alternate which setting goes first, so neither always meets a warmer machine.
            for setting in (("off", "tracing") if number % 2 == 0 else ("tracing", "off")):
                logs = Path(scratch) / f"logs-{number}-{setting}"
                logs.mkdir()
                rounds.append(one_round(setting, settings[setting], args, broker, keys, logs))
                print(line(rounds[-1]), flush=True)
    receiver.close()
    print(f"\n{args.rounds} rounds of {args.duration:.0f} s per setting, {args.concurrency} clients, "
          f"{receiver.requests} exports received ({receiver.received_bytes / 1e6:.1f} MB)")
    print(report(rounds))


if __name__ == "__main__":
    main()
