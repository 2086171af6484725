"""Product reads through the gateway at 32 connections, optionally side by side with another shop.

    .venv/bin/python bench/product_get.py                       # starts its own platform
    .venv/bin/python bench/product_get.py --search              # GET /api/v1/products?q=...
    .venv/bin/python bench/product_get.py --compare http://127.0.0.1:8091/products/the_odyssey \\
        --compare-process products=products.service --compare-process gateway=gateway.service
    .venv/bin/python bench/product_get.py --base-url http://127.0.0.1:8000   # a `make run` platform

Without ``--base-url`` it starts every Procfile process with the e2e harness (its own vhost, fresh
databases and keys, rate limits off; RabbitMQ and PostgreSQL must be running), creates a product
as a fresh admin and reads it. With ``--base-url`` it reads from a running platform instead (admin
from ``--token`` / SHOP_ADMIN_TOKEN or SHOP_ADMIN_EMAIL + SHOP_ADMIN_PASSWORD; its rate limits
must be off for ``--search``), finding its processes by the gateway's listening port.

Each round runs ``--duration`` seconds of load per target, ours and (with ``--compare``) theirs,
alternating which goes first, after a ``--warm-up``. The load comes from ``wrk`` when it is on the
PATH (``--tool python`` for httpx clients, which cost more CPU than the gateway they load). Per
target and round: throughput (2xx and 304 answers per second), p50 and p99 latency, errors (other
statuses, socket errors), and CPU milliseconds per answered request for each process (user +
system from /proc, a process's children included, e.g. uvicorn's workers): the platform's
processes and the RabbitMQ node, which other users of the broker share. The ratio ours/theirs is
the median of each round's pair. ``--py-spy DIR`` records the gateway and the catalog during the
first round of ours (py-spy must be installed: ``.venv/bin/pip install py-spy``) and prints their
top frames. ``--env NAME=VALUE`` sets the started platform's environment; ``--compare-env
NAME=VALUE`` (instead of ``--compare``) starts a second platform of ours with it too and compares
the two (e.g. ``--compare-env UVICORN_WORKERS=2``: uvicorn reads its options as UVICORN_*);
``--broker`` gives it an existing vhost (creating one can take a minute on a busy broker).
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
ADMIN = ("admin@bench.example.com", "benchmark operator secret")


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


def admin_token(client: httpx.Client, args: argparse.Namespace) -> str:
    """The given token, else one from a password grant with the admin's credentials."""
    if args.token:
        return str(args.token)
    email, password = os.environ.get("SHOP_ADMIN_EMAIL"), os.environ.get("SHOP_ADMIN_PASSWORD")
    if not (email and password):
        sys.exit("give --token (or SHOP_ADMIN_TOKEN), or set SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD")
    return password_token(client, email, password)


def password_token(client: httpx.Client, email: str, password: str) -> str:
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


def arguments(description: str | None, concurrency: int, duration: float) -> argparse.ArgumentParser:
    """The options every benchmark takes: where the gateway is, the admin, how hard and how long."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("SHOP_GATEWAY_URL"),
                        help="a running platform's gateway (default: start one)")
    parser.add_argument("--token", default=os.environ.get("SHOP_ADMIN_TOKEN"))
    parser.add_argument("--concurrency", "--connections", type=int, default=concurrency)
    parser.add_argument("--duration", type=float, default=duration, help=f"seconds (default {duration:g})")
    return parser


# --- load -------------------------------------------------------------------------------------

@dataclass
class Load:
    """What one target answered in one window."""

    answered: int
    errors: int
    seconds: float
    p50: float  # seconds
    p99: float


UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def wrk(url: str, connections: int, duration: float, headers: dict[str, str] | None = None) -> Load:
    """``wrk`` at ``connections`` for ``duration`` s (two threads, the machine's cores, unless
    there is one connection: wrk wants one per thread)."""
    sent = [arg for name, value in (headers or {}).items() for arg in ("-H", f"{name}: {value}")]
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration:.0f}s", "--latency",
               "--timeout", "10s", *sent, url]
    return wrk_load(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def wrk_load(out: str) -> Load:
    """What ``wrk --latency`` printed: answered (2xx, 3xx), errors (other statuses, socket errors)."""
    total, seconds = re.search(r"(\d+) requests in ([0-9.]+\w+)", out).groups()  # type: ignore[union-attr]
    latency = dict(re.findall(r"^\s+(50|99)%\s+([0-9.]+\w+)$", out, re.MULTILINE))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    return Load(int(total) - (int(non_2xx.group(1)) if non_2xx else 0), errors, _seconds(seconds),
                _seconds(latency.get("50", "0s")), _seconds(latency.get("99", "0s")))


async def _python_load(url: str, connections: int, duration: float,
                       headers: dict[str, str] | None = None) -> Load:
    results = Results()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:
        started = time.monotonic()

        async def one_client() -> None:
            while time.monotonic() < started + duration:
                sent = time.perf_counter()
                try:
                    response = await client.get(url)
                except httpx.HTTPError:
                    results.errors += 1
                    continue
                if response.status_code in (200, 304):
                    results.latencies.append(time.perf_counter() - sent)
                else:
                    results.errors += 1

        await asyncio.gather(*(one_client() for _ in range(connections)))
        elapsed = time.monotonic() - started
    return Load(len(results.latencies), results.errors, elapsed, percentile(results.latencies, 50),
                percentile(results.latencies, 99))


def load(tool: str, url: str, connections: int, duration: float,
         headers: dict[str, str] | None = None) -> Load:
    if tool == "wrk":
        return wrk(url, connections, duration, headers)
    return asyncio.run(_python_load(url, connections, duration, headers))


# --- processes and their CPU -----------------------------------------------------------------

Processes = dict[str, list[psutil.Process]]  # a name → the process and its children


def listener(url: str, default_port: int = 80) -> psutil.Process:
    """The process listening on the URL's port."""
    port = urlsplit(url).port or default_port
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            return psutil.Process(connection.pid)
    sys.exit(f"nothing listens on port {port} (run as the user that started it, or as root)")


def family(process: psutil.Process) -> list[psutil.Process]:
    return [process, *process.children(recursive=True)]


def rabbitmq(amqp_uri: str) -> list[psutil.Process]:
    """The RabbitMQ node serving ``amqp_uri`` (the one listening on its port)."""
    return [listener(amqp_uri, default_port=5672)]


def matching(pattern: str) -> list[psutil.Process]:
    """Processes whose command line contains ``pattern`` (not this one)."""
    own = os.getpid()
    return [p for p in psutil.process_iter(["cmdline"])
            if p.pid != own and pattern in " ".join(p.info["cmdline"] or ())]


def platform_processes(gateway: psutil.Process) -> Processes:
    """Our gateway (and its workers) and the services that share its broker (its environment)."""
    found: Processes = {"gateway": family(gateway)}
    broker = gateway.environ().get("SHOP_AMQP_URI")
    for process in matching("nameko_services."):
        try:
            if process.environ().get("SHOP_AMQP_URI") != broker:
                continue
            module = next(part for part in process.cmdline() if part.startswith("nameko_services."))
        except (psutil.Error, StopIteration):
            continue
        found[module.split(".")[1]] = family(process)
    return found


def compared_processes(args: argparse.Namespace, broker: list[psutil.Process]) -> Processes:
    """The other shop's ``--compare-process`` groups, its listener unless one holds it, its broker
    (``--compare-broker``, else the node ours uses)."""
    found: Processes = {}
    for item in args.compare_process:
        name, pattern = item.split("=", 1)
        found[name] = [p for process in matching(pattern) for p in family(process)]
    counted = {p.pid for group in found.values() for p in group}
    front = listener(args.compare)
    if front.pid not in counted:
        found = {"listener": family(front), **found}
    return {**found, "rabbitmq": rabbitmq(args.compare_broker) if args.compare_broker else broker}


def cpu_seconds(processes: Processes) -> dict[str, float]:
    """User + system CPU each named group has used so far (gone processes count as 0)."""
    used = {}
    for name, group in processes.items():
        total = 0.0
        for process in group:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        used[name] = total
    return used


# --- one target, one round -------------------------------------------------------------------

@dataclass
class Round:
    target: str
    load: Load
    cpu: dict[str, float]  # seconds per process group over the window

    @property
    def rate(self) -> float:
        return self.load.answered / self.load.seconds

    def ms_per_request(self, name: str | None = None) -> float:
        used = self.cpu[name] if name else sum(v for k, v in self.cpu.items() if k != "rabbitmq")
        return 1000 * used / max(self.load.answered, 1)

    def line(self) -> str:
        own = ", ".join(f"{name} {self.ms_per_request(name):.2f}" for name in self.cpu)
        return (f"{self.target:<6} {self.rate:7.0f} req/s  p50 {self.load.p50 * 1000:6.1f} ms  p99 "
                f"{self.load.p99 * 1000:6.1f} ms  errors {self.load.errors:<4} CPU ms/request: "
                f"{self.ms_per_request():.2f} without rabbitmq ({own})")


@dataclass
class Target:
    name: str
    url: str
    processes: Processes

    def measure(self, args: argparse.Namespace) -> Round:
        before = cpu_seconds(self.processes)
        measured = load(args.tool, self.url, args.concurrency, args.duration)
        after = cpu_seconds(self.processes)
        return Round(self.name, measured, {name: after[name] - before[name] for name in before})


def profile(target: Target, args: argparse.Namespace, into: Path) -> Round:
    """One round of ``target`` with py-spy recording its gateway and catalog; their top frames."""
    pids = {name: process.pid for name in ("gateway", "catalog")
            for process in target.processes.get(name, [])}
    with py_spy(pids, args.duration, into):
        return target.measure(args)


@contextmanager
def py_spy(pids: dict[str, int], duration: float, into: Path, rate: int = 200) -> Iterator[None]:
    """py-spy records each of ``pids`` for ``duration`` seconds while the block runs; then prints
    each one's top frames and the packages its samples are spent in (py-spy must be installed)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    into.mkdir(parents=True, exist_ok=True)
    recorders = {}
    for name, pid in pids.items():
        out = into / f"{name}-{pid}.txt"
        recorders[out] = subprocess.Popen([spy, "record", "--pid", str(pid), "--format", "raw",
                                           "--duration", f"{duration:.0f}", "--rate", str(rate),
                                           "--nonblocking", "--output", str(out)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield
    for out, recorder in recorders.items():
        recorder.wait(timeout=duration + 30)
        if out.exists():
            print(f"\npy-spy {out.name}: top frames (own samples, share of all)\n{top_frames(out)}"
                  f"\n  by package (own samples):\n{top_packages(out)}", flush=True)


def _leaves(collapsed: Path) -> Counter[str]:
    """Own samples by function: "send (uvicorn/.../httptools_impl.py)"."""
    leaves: Counter[str] = Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():
            leaves[re.sub(r":\d+\)$", ")", stack.rsplit(";", 1)[-1])] += int(samples)
    return leaves


def _shares(counts: Counter[str], count: int) -> str:
    total = sum(counts.values()) or 1
    return "\n".join(f"  {100 * n / total:5.1f} %  {name}" for name, n in counts.most_common(count))


def top_frames(collapsed: Path, count: int = 12) -> str:
    """The leaf frames with the most samples in a py-spy raw (collapsed stacks) file."""
    return _shares(_leaves(collapsed), count)


def package_of(frame: str) -> str:
    """Where a leaf frame's code lives, as py-spy names files (relative to their sys.path entry):
    a top-level package ("sqlalchemy", "json", "socket") or, for ours, the package and its
    first subpackage ("nameko_services.orders", "nameko_services.common", "gateway")."""
    parts = frame.rpartition(" (")[2].rstrip(")").rsplit(":", 1)[0].split("/")
    if parts[0] == "nameko_services" and len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0].removesuffix(".py")


def top_packages(collapsed: Path, count: int = 12) -> str:
    """Own samples by the package their code lives in."""
    packages: Counter[str] = Counter()
    for frame, n in _leaves(collapsed).items():
        packages[package_of(frame)] += n
    return _shares(packages, count)


# --- our platform ----------------------------------------------------------------------------

@contextmanager
def started_platform(env: dict[str, str], broker: str | None,
                     root: Path = ROOT) -> Iterator[tuple[str, Processes, str]]:
    """Every Procfile process of the checkout ``root`` on a fresh vhost (or ``broker``) and fresh
    databases; its URL, processes and a product."""
    # The harness, the migrations and the processes' code all of that checkout (PYTHONPATH).
    sys.path.insert(0, str(root))
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # the harness imports nameko
    from nameko_services.common.testing import temporary_keys
    from nameko_services.users.admin import ensure_admin
    from tests.e2e.conftest import fresh_databases, fresh_vhost, running_platform
    env = {"PYTHONPATH": str(root), **env}
    with tempfile.TemporaryDirectory() as scratch, temporary_keys(Path(scratch) / "keys") as keys, \
            (nullcontext(broker) if broker else fresh_vhost()) as broker, \
            fresh_databases(f"shop_bench_{uuid.uuid4().hex[:6]}") as urls, \
            running_platform(broker, urls, keys, Path(scratch), {"SHOP_RATE_LIMIT_ENABLED": "false", **env}) \
            as platform:
        ensure_admin(urls["core"], *ADMIN)
        with httpx.Client(base_url=platform.base_url, timeout=30) as client:
            product_id = create_product(client, password_token(client, *ADMIN))
        processes = {name: family(psutil.Process(p.pid)) for name, p in platform.processes.items()}
        yield platform.base_url, {**processes, "rabbitmq": rabbitmq(broker)}, product_id


@contextmanager
def running(args: argparse.Namespace) -> Iterator[tuple[str, Processes, str]]:
    with httpx.Client(base_url=args.base_url, timeout=30) as client:
        product_id = create_product(client, admin_token(client, args))
    gateway = listener(args.base_url)
    processes = platform_processes(gateway)
    broker = gateway.environ().get("SHOP_AMQP_URI", "amqp://127.0.0.1:5672/")
    yield args.base_url, {**processes, "rabbitmq": rabbitmq(broker)}, product_id


# --- the run ---------------------------------------------------------------------------------

def report(rounds: list[Round], compare: bool) -> str:
    lines = []
    for target in ("ours", "theirs") if compare else ("ours",):
        mine = [r for r in rounds if r.target == target]
        lines.append(f"{target}: median {statistics.median(r.rate for r in mine):.0f} req/s "
                     f"({min(r.rate for r in mine):.0f}-{max(r.rate for r in mine):.0f}), p99 "
                     f"{statistics.median(r.load.p99 for r in mine) * 1000:.1f} ms, "
                     f"{statistics.median(r.ms_per_request() for r in mine):.2f} ms CPU/request, "
                     f"errors {sum(r.load.errors for r in mine)}")
    if compare:
        ours, theirs = [r for r in rounds if r.target == "ours"], [r for r in rounds if r.target == "theirs"]
        ratios = [a.rate / b.rate for a, b in zip(ours, theirs, strict=True)]
        lines.append(f"ours/theirs: median {statistics.median(ratios):.2f}x over {len(ratios)} rounds "
                     f"({min(ratios):.2f}-{max(ratios):.2f}x)")
    return "\n".join(lines)


def main() -> None:
    parser = arguments(__doc__, concurrency=32, duration=10.0)
    parser.add_argument("--search", action="store_true", help="GET /api/v1/products?q=... instead")
    parser.add_argument("--compare", metavar="URL", help="another shop's product endpoint, read alternately")
    parser.add_argument("--compare-process", action="append", default=[], metavar="NAME=PATTERN",
                        help="its processes whose CPU to count, by command line (its listener always)")
    parser.add_argument("--compare-broker", metavar="AMQP_URI", help="its broker, if not the same node")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warm-up", type=float, default=3.0)
    parser.add_argument("--tool", choices=("wrk", "python"),
                        default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout the started platform runs from (e.g. an earlier commit's)")
    parser.add_argument("--py-spy", type=Path, metavar="DIR")
    parser.add_argument("--broker", metavar="AMQP_URI",
                        help="an existing vhost for the started platform (default: a fresh one)")
    parser.add_argument("--compare-env", action="append", default=[], metavar="NAME=VALUE",
                        help="instead of --compare: a second platform of ours with this environment too")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    with ExitStack() as stack:
        started = running(args) if args.base_url else started_platform(env, args.broker, args.root.resolve())
        base_url, processes, product_id = stack.enter_context(started)
        targets = [Target("ours", base_url + product_path(args, product_id), processes)]
        if args.compare:
            targets.append(Target("theirs", args.compare, compared_processes(args, processes["rabbitmq"])))
        elif args.compare_env:
            other = env | dict(item.split("=", 1) for item in args.compare_env)
            other_url, other_processes, other_id = stack.enter_context(
                started_platform(other, args.broker, args.root.resolve()))
            targets.append(Target("theirs", other_url + product_path(args, other_id), other_processes))
        print(f"{len(targets)} targets, {args.rounds} rounds of {args.duration:.0f} s each, "
              f"{args.concurrency} connections, {args.tool}; ours: {targets[0].url}"
              + (f"; theirs: {targets[1].url} {' '.join(args.compare_env)}" if len(targets) > 1 else ""),
              flush=True)
        for target in targets:
            load(args.tool, target.url, args.concurrency, args.warm_up)
        rounds: list[Round] = []
        for number in range(args.rounds):
            for target in targets if number % 2 == 0 else targets[::-1]:
                if args.py_spy and number == 0 and target.name == "ours":
                    rounds.append(profile(target, args, args.py_spy))
                else:
                    rounds.append(target.measure(args))
                print(rounds[-1].line(), flush=True)
    print(report(sorted(rounds, key=lambda r: r.target), len(targets) > 1))


def product_path(args: argparse.Namespace, product_id: str) -> str:
    return "/api/v1/products?q=tea+pot" if args.search else f"/api/v1/products/{product_id}"


if __name__ == "__main__":
    main()
