"""Load test: orders placed → confirmed (the whole saga), on a platform this script starts.

    .venv/bin/python bench/order_confirm.py --connections 8 32 --duration 20
    .venv/bin/python bench/order_confirm.py --rate 90 --duration 20        # open loop
    .venv/bin/python bench/order_confirm.py --orders-instances 1 2         # the scaling curve

For each ``--orders-instances`` value it starts every Procfile process with the e2e harness (its
own vhost, fresh databases and keys; RabbitMQ and PostgreSQL must be running, no `make run`),
plus the extra orders processes, creates a product and a customer, warms up, then for each
``--connections`` value (``--rounds`` times) places orders through the gateway:

- closed loop (default): each connection POSTs one order after another, as wrk would;
- open loop (``--rate R``): R orders a second at fixed intervals, whatever the answers (at most
  ``--connections`` requests in flight), so a slow saga shows as latency, not as fewer arrivals
  (an arrival waiting for a free connection is not in the server's latency: compare "placed" with
  the rate to see whether the arrivals were kept up).

After the load it waits until every order placed is final and reads the figures from the
platform itself: throughput = orders confirmed per second within the load window, latency =
``OrderPlaced`` → ``PaymentCaptured`` from the orders' event streams (the services' own clocks),
CPU = user + system time (/proc) from the first order until the last one is final, per process:
the five platform processes, the PostgreSQL backends of the round's databases, and the RabbitMQ
node (shared with whatever else uses the broker: on a shared machine, read it with care). Then
the invariants: every order final, the product's stock down by exactly the confirmed quantities
with nothing left reserved, one captured payment per confirmed order and the captured money
equal to the confirmed totals. Any failure exits non-zero.

``--py-spy DIR`` records every platform process with py-spy (``.venv/bin/pip install py-spy``)
during the first round at the first ``--connections`` value and prints, per process, its top
frames and the packages its own samples fall in (the raw stacks stay in DIR for flame graphs).

``--root`` runs the platform from another checkout (e.g. a ``git worktree`` of an earlier
commit) to compare code; ``--env NAME=VALUE`` sets the platform's environment (compare settings
by running twice, or give ``--compare-env`` to alternate rounds with and without it).
``--queue-types classic,quorum --rounds 4`` compares the services' queue types (``SHOP_QUEUE_TYPE``):
a session per type and round, alternating which goes first, each type on a vhost of its own (a
queue's type cannot change), each session one round per ``--connections`` value.

The old clients (poll each order until final, ``run`` below) stay for bench/tracing_overhead.py.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from product_get import Results, admin_token, percentile, py_spy

ROOT = Path(__file__).resolve().parents[1]
ADDRESS = {"name": "Bench Buyer", "line1": "1 Bench St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
FINAL = {"confirmed", "cancelled", "shipped", "delivered"}
STOCK = 10_000_000
PRICE = 2500
TICKS = os.sysconf("SC_CLK_TCK")
ADMIN = ("admin@bench.example.com", "benchmark operator secret")
DRAIN_TIMEOUT = 120.0


def setup(client: httpx.Client, args: argparse.Namespace) -> tuple[str, str]:
    """A product with plenty of stock and a customer's access token."""
    admin = {"Authorization": f"Bearer {admin_token(client, args)}"}
    product = client.post("/api/v1/products", headers=admin, json={
        "sku": f"BENCH-{uuid.uuid4().hex[:10]}", "name": "Benchmark kettle", "price": PRICE,
        "currency": "EUR", "stock": STOCK})
    product.raise_for_status()
    email, password = f"bench-{uuid.uuid4().hex[:8]}@example.com", "benchmark customer secret"
    registered = client.post("/api/v1/users", json={"email": email, "password": password, "name": "Bench"})
    registered.raise_for_status()
    token = client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": email,
                                                     "password": password})
    token.raise_for_status()
    return str(product.json()["id"]), str(token.json()["access_token"])


def order_body(product_id: str) -> dict:
    return {"items": [{"product_id": product_id, "quantity": 1}], "shipping_address": ADDRESS,
            "payment": {"token": "tok_visa"}}


# --- the old clients: place, poll until final, place the next (bench/tracing_overhead.py) ---------

async def one_order(client: httpx.AsyncClient, product_id: str) -> tuple[str, float]:
    started = time.perf_counter()
    placed = await client.post("/api/v1/orders", headers={"Idempotency-Key": uuid.uuid4().hex},
                               json=order_body(product_id))
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


# --- placing orders: closed loop (back to back per connection) or open loop (fixed rate) ---------

@dataclass
class Placed:
    """What the clients saw: the orders accepted, the failures by kind."""

    order_ids: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def place(client: httpx.AsyncClient, product_id: str, placed: Placed) -> None:
    try:
        response = await client.post("/api/v1/orders", headers={"Idempotency-Key": uuid.uuid4().hex},
                                     json=order_body(product_id))
    except httpx.HTTPError as exc:
        placed.error(type(exc).__name__)
        return
    if response.status_code == 201:
        placed.order_ids.append(response.json()["id"])
    else:
        placed.error(f"HTTP {response.status_code}")


async def load(base_url: str, token: str, product_id: str, connections: int, duration: float,
               rate: float | None) -> Placed:
    """Orders for ``duration`` seconds, closed loop or at ``rate`` a second."""
    placed = Placed()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        deadline = time.monotonic() + duration
        if rate is None:
            async def back_to_back() -> None:
                while time.monotonic() < deadline:
                    await place(client, product_id, placed)
            await asyncio.gather(*(back_to_back() for _ in range(connections)))
        else:
            pending, start = set(), time.monotonic()
            for n in range(int(duration * rate)):
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
                task = asyncio.create_task(place(client, product_id, placed))
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending)
    return placed


# --- reading the platform: CPU, the orders' own times, the invariants ----------------------------

def cpu_of(pid: int) -> float:
    """User + system seconds the process has used (0 if it is gone or unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def rabbitmq_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", "beam.smp.*rabbit"], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


class Meter:
    """CPU seconds per process: the platform's, its databases' backends, the broker."""

    def __init__(self, platform: object, urls: dict[str, str]) -> None:
        self.platform = platform
        self.urls = urls
        self.databases = [url.rsplit("/", 1)[1] for url in urls.values()]

    def backends(self) -> list[int]:
        return [row[0] for row in query(self.urls["orders"], "SELECT pid FROM pg_stat_activity WHERE "
                                        "datname = ANY(%s) AND pid <> pg_backend_pid()", self.databases)]

    def read(self) -> dict[str, float]:
        used = {name: cpu_of(proc.pid) for name, proc in self.platform.processes.items()}  # type: ignore[attr-defined]
        used["postgres"] = sum(cpu_of(pid) for pid in self.backends())
        # Per node: a delta means something only for a node running at both readings.
        used.update({f"rabbitmq*{pid}": cpu_of(pid) for pid in rabbitmq_pids()})
        return used


def query(url: str, sql: str, *params: object) -> list[tuple]:
    import psycopg2

    # closing: psycopg2's own context manager ends the transaction but keeps the connection.
    with closing(psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))) as conn, \
            conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def wait_final(orders_url: str, order_ids: list[str]) -> float:
    """Wait until every order is final; return the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < DRAIN_TIMEOUT:
        open_ = query(orders_url, "SELECT count(*) FROM orders WHERE id = ANY(%s::uuid[]) AND "
                      "status <> ALL(%s)", order_ids, list(FINAL))[0][0]
        if open_ == 0:
            break
        time.sleep(0.1)
    return time.monotonic() - started


def saga_times(orders_url: str, order_ids: list[str]) -> dict[str, tuple[datetime, datetime | None]]:
    """Each order's ``OrderPlaced`` time and, if captured, its ``PaymentCaptured`` time."""
    rows = query(orders_url, """
        SELECT stream_id, min(occurred_at) FILTER (WHERE type = 'OrderPlaced'),
               min(occurred_at) FILTER (WHERE type = 'PaymentCaptured')
        FROM order_events WHERE stream_id = ANY(%s::uuid[]) GROUP BY stream_id""", order_ids)
    return {str(stream): (placed, confirmed) for stream, placed, confirmed in rows}


def invariants(urls: dict[str, str], product_id: str) -> list[str]:
    """What does not add up once every order of the platform is final (empty: all is well)."""
    problems = []
    statuses = dict(query(urls["orders"], "SELECT status, count(*) FROM orders GROUP BY status"))
    if open_ := sum(n for status, n in statuses.items() if status not in FINAL):
        problems.append(f"{open_} orders not final: {statuses}")
    confirmed, confirmed_total = query(urls["orders"], "SELECT count(*), coalesce(sum(total), 0) FROM orders "
                                       "WHERE status = 'confirmed'")[0]
    on_hand, reserved = query(urls["core"], "SELECT on_hand, reserved FROM stock_levels "
                              "WHERE product_id = %s", product_id)[0]
    if on_hand != STOCK - confirmed or reserved != 0:
        problems.append(f"stock: on hand {on_hand}, reserved {reserved}; expected {STOCK - confirmed}, 0")
    held = query(urls["core"], "SELECT status, count(*) FROM stock_reservations GROUP BY status")
    if dict(held).get("committed", 0) != confirmed or set(dict(held)) - {"committed", "released"}:
        problems.append(f"reservations {dict(held)} for {confirmed} confirmed orders")
    captured, captured_total = query(urls["payments"], "SELECT count(*), coalesce(sum(amount), 0) "
                                     "FROM payments WHERE status = 'captured'")[0]
    if (captured, captured_total) != (confirmed, confirmed_total):
        problems.append(f"payments: {captured} captured, {captured_total} in all; orders: {confirmed} "
                        f"confirmed, {confirmed_total} in all")
    return problems


# --- rounds -------------------------------------------------------------------------------------

@dataclass
class Round:
    label: str
    connections: int
    seconds: float
    placed: Placed
    confirmed_in_window: int
    latencies: list[float]
    drain: float
    cpu: dict[str, float]

    @property
    def confirmed(self) -> int:
        return len(self.latencies)

    def throughput(self) -> float:
        return self.confirmed_in_window / self.seconds

    def cpu_ms(self, process: str | None = None) -> float:
        used = self.cpu[process] if process else sum(self.cpu.values())
        return 1000 * used / max(self.confirmed, 1)

    def line(self) -> str:
        p50, p99 = (percentile(self.latencies, p) * 1000 for p in (50, 99))
        processes = ", ".join(f"{name} {self.cpu_ms(name):.1f}" for name in sorted(self.cpu))
        errors = sum(self.placed.errors.values()) + len(self.placed.order_ids) - self.confirmed
        return (f"{self.label:<14} {self.connections:>3} conn: {self.throughput():6.1f} confirmed/s "
                f"(placed {len(self.placed.order_ids) / self.seconds:6.1f}/s), p50 {p50:5.0f} ms, "
                f"p99 {p99:5.0f} ms, errors {errors} {self.placed.errors or ''}, drain {self.drain:.1f} s; "
                f"CPU {self.cpu_ms():5.1f} ms/order ({processes})")


def one_round(label: str, platform: object, meter: Meter, urls: dict[str, str], token: str,
              product_id: str, connections: int, args: argparse.Namespace) -> Round:
    before, started = meter.read(), datetime.now().astimezone()
    window = time.monotonic()
    placed = asyncio.run(load(platform.base_url, token, product_id, connections,  # type: ignore[attr-defined]
                              args.duration, args.rate))
    seconds, ended = time.monotonic() - window, datetime.now().astimezone()
    drain = wait_final(urls["orders"], placed.order_ids)
    after = meter.read()
    times = saga_times(urls["orders"], placed.order_ids)
    latencies = [(done - at).total_seconds() for at, done in times.values() if done is not None]
    in_window = query(urls["orders"], "SELECT count(*) FROM order_events WHERE type = 'PaymentCaptured' AND "
                      "occurred_at BETWEEN %s AND %s", started, ended)[0][0]
    used = {name: after[name] - before[name] for name in after if name in before}
    broker = [name for name in used if name.startswith("rabbitmq*")]
    used["rabbitmq*"] = sum(used.pop(name) for name in broker)
    return Round(label, connections, seconds, placed, in_window, latencies, drain, used)


@contextmanager
def platform_for(instances: int, env: dict[str, str], root: Path, scratch: Path,
                 broker: str, keys: Path) -> Iterator[tuple[object, dict[str, str]]]:
    """The platform with ``instances`` orders processes, on fresh databases."""
    import tests.e2e.conftest as harness
    from nameko_services.ops import procfile

    harness.ROOT = root
    logs = Path(tempfile.mkdtemp(dir=scratch, prefix="logs-"))
    # As `make run` has them: no rate limits (one client address), the default RPC deadline.
    overrides = {"SHOP_RATE_LIMIT_ENABLED": "false", "SHOP_RPC_TIMEOUT": "10", "PYTHONPATH": str(root), **env}
    with harness.fresh_databases(f"shop_bench_{uuid.uuid4().hex[:6]}") as urls, \
            harness.running_platform(broker, urls, keys, logs, overrides) as platform:
        command = procfile.read(root / "Procfile")["orders"]
        for n in range(2, instances + 1):
            platform.start({f"orders-{n}": command}, {"SHOP_METRICS_PORT_ORDERS": str(harness._free_port())})
        if instances > 1:
            time.sleep(8)  # the extra consumers join their queues (no readiness probe names them)
        print("platform pids: " + " ".join(f"{name}={proc.pid}" for name, proc in platform.processes.items()),
              flush=True)
        yield platform, urls


def session(platform: object, urls: dict[str, str], args: argparse.Namespace, label: str,
            rounds: list[Round]) -> None:
    """Warm up, then the rounds at each connection count, then the invariants."""
    from nameko_services.users.admin import ensure_admin

    ensure_admin(urls["core"], *ADMIN)
    base_url = platform.base_url  # type: ignore[attr-defined]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        admin = client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": ADMIN[0],
                                                         "password": ADMIN[1]}).json()["access_token"]
        product_id, token = setup(client, argparse.Namespace(token=admin))
    meter = Meter(platform, urls)
    warm = asyncio.run(load(base_url, token, product_id, max(args.connections), args.warm_up, None))
    wait_final(urls["orders"], warm.order_ids)
    for number in range(args.rounds):
        for connections in args.connections:
            recording = nullcontext()
            if args.py_spy and number == 0 and connections == args.connections[0]:
                pids = {name: proc.pid for name, proc in platform.processes.items()}  # type: ignore[attr-defined]
                into = args.py_spy / label.replace("×", "x").replace(" ", "-")
                recording = py_spy(pids, args.duration, into)
            with recording:
                rounds.append(one_round(label, platform, meter, urls, token, product_id, connections, args))
            print(rounds[-1].line(), flush=True)
    deadline = time.monotonic() + 30  # the catalog commits a reservation after the order is final
    while (problems := invariants(urls, product_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if problems:
        print(f"INVARIANTS BROKEN ({label}):\n  " + "\n  ".join(problems), flush=True)
        sys.exit(1)
    print(f"invariants hold ({label}): every order final, stock and captured money match", flush=True)


def summary(rounds: list[Round]) -> str:
    """Medians over the rounds of each (setting, connections)."""
    lines = ["\nmedians over rounds:"]
    for key in dict.fromkeys((r.label, r.connections) for r in rounds):
        same = [r for r in rounds if (r.label, r.connections) == key]
        med = statistics.median
        lines.append(
            f"{key[0]:<14} {key[1]:>3} conn: {med(r.throughput() for r in same):6.1f} confirmed/s, "
            f"p50 {med(percentile(r.latencies, 50) for r in same) * 1000:5.0f} ms, "
            f"p99 {med(percentile(r.latencies, 99) for r in same) * 1000:5.0f} ms, "
            f"CPU {med(r.cpu_ms() for r in same):5.1f} ms/order, "
            f"of which platform {med(r.cpu_ms() - r.cpu_ms('rabbitmq*') for r in same):5.1f} "
            f"({len(same)} rounds)")
    return "\n".join(lines)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per round (default 20)")
    parser.add_argument("--rate", type=float, help="open loop: orders a second (default: closed loop)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per connection count (default 1)")
    parser.add_argument("--warm-up", type=float, default=5.0, help="seconds, not counted (default 5)")
    parser.add_argument("--orders-instances", type=int, nargs="+", default=[1])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout the platform runs from")
    parser.add_argument("--amqp-uri", help="an existing vhost to use (default: a fresh one, deleted after)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--compare-env", action="append", default=[], metavar="NAME=VALUE",
                        help="alternate sessions without and with these settings")
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="record every platform process with py-spy during the first round at the "
                             "first --connections value; print top frames and packages")
    parser.add_argument("--queue-types", type=lambda text: [t.strip() for t in text.split(",") if t.strip()],
                        help="e.g. classic,quorum: alternate sessions of each SHOP_QUEUE_TYPE")
    return parser.parse_args()


def compare_queue_types(args: argparse.Namespace, env: dict[str, str], scratch: Path, keys: Path,
                        stack: ExitStack, rounds: list[Round]) -> None:
    """Sessions alternating between queue types, each type on its own fresh vhost."""
    from tests.e2e.conftest import fresh_vhost

    vhosts = {kind: stack.enter_context(fresh_vhost()) for kind in args.queue_types}
    once = argparse.Namespace(**{**vars(args), "rounds": 1})
    for number in range(args.rounds):
        kinds = args.queue_types if number % 2 == 0 else args.queue_types[::-1]
        for kind in kinds:
            setting = env | {"SHOP_QUEUE_TYPE": kind}
            with platform_for(args.orders_instances[0], setting, args.root.resolve(), scratch,
                              vhosts[kind], keys) as (platform, urls):
                session(platform, urls, once, kind, rounds)


def main() -> None:
    args = arguments()
    sys.path.insert(0, str(ROOT))
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from nameko_services.common.testing import temporary_keys
    from tests.e2e.conftest import fresh_vhost

    env = dict(item.split("=", 1) for item in args.env)
    settings = {"": env} if not args.compare_env else {
        "base": env, "compared": env | dict(item.split("=", 1) for item in args.compare_env)}
    rounds: list[Round] = []
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        keys = stack.enter_context(temporary_keys(scratch / "keys"))
        if args.queue_types:
            compare_queue_types(args, env, scratch, keys, stack, rounds)
        broker = "" if args.queue_types else args.amqp_uri or stack.enter_context(fresh_vhost())
        for instances in [] if args.queue_types else args.orders_instances:
            for name, setting in settings.items():
                label = f"orders×{instances}" + (f" {name}" if name else "")
                started = platform_for(instances, setting, args.root.resolve(), scratch, broker, keys)
                with started as (platform, urls):
                    session(platform, urls, args, label, rounds)
    mode = f"open loop at {args.rate:g}/s" if args.rate else "closed loop"
    print(f"\n{mode}, {args.duration:g} s rounds; CPU: user+system per confirmed order, ms "
          "(rabbitmq* is the whole broker node, shared with anything else using it)")
    print(summary(rounds))


if __name__ == "__main__":
    main()
