"""The whole platform as processes, driven over HTTP.

For the session: a throw-away RabbitMQ vhost (management API), fresh ``shop_e2e_*`` databases at
head, a temporary key folder, then every ``Procfile`` process started exactly as ``shopctl up``
runs it (with a free gateway port). Tests get an ``httpx.Client`` on the gateway once ``/ready``
answers 200. Nothing here is mocked; missing infrastructure fails loudly.

The session's platform exports its traces (OTLP/HTTP, as in production) to ``otlp_receiver``, a
receiver in this process: tracing is on, as by default, in every e2e test, and test_tracing.py
reads the spans back. It costs little (an export per process every 100 ms at most).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from nameko_services.common import migrate
from nameko_services.common.dbadmin import create_database, drop_database
from nameko_services.common.testing import temporary_keys
from nameko_services.ops import procfile
from nameko_services.ops.endpoints import (
    amqp_credentials,
    amqp_uri,
    management_url,
    with_database,
    with_vhost,
)
from tests.otlp_receiver import OtlpReceiver

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 60
ADMIN_EMAIL = "admin@e2e.example.com"
ADMIN_PASSWORD = "e2e operator secret"
CUSTOMER_PASSWORD = "correct horse battery"


@dataclass
class Platform:
    """The running processes (by Procfile name), their log files and the gateway's URL."""

    base_url: str
    env: dict[str, str]
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)  # SIGKILLed by a test, on purpose

    def start(self, commands: dict[str, str], env: dict[str, str] | None = None) -> None:
        for name, command in commands.items():
            self.killed.discard(name)
            # Appended to: a process started again keeps its earlier output in the same log.
            with open(self.log_dir / f"{name}.log", "ab") as log:
                # exec: the pid is the program's own, so tests can signal it (SIGSTOP, SIGTERM).
                self.processes[name] = subprocess.Popen(
                    procfile.exec_command(command), cwd=ROOT, env={**self.env, **(env or {})},
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True)

    def end(self, name: str, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop one process (SIGKILL: no clean shutdown at all) and wait until it is gone."""
        proc = self.processes[name]
        os.kill(proc.pid, signal.SIGCONT)
        os.kill(proc.pid, sig)
        proc.wait(timeout=STOP_TIMEOUT)
        if sig == signal.SIGKILL:
            self.killed.add(name)

    def restart(self, name: str, env: dict[str, str] | None = None) -> None:
        """Start one Procfile process again (``env`` overrides the platform's for it)."""
        if self.processes[name].poll() is None:
            self.end(name)
        self.start({name: procfile.read(ROOT / "Procfile")[name]}, env)

    def exited(self) -> dict[str, int]:
        return {name: code for name, proc in self.processes.items() if (code := proc.poll()) is not None}

    def report(self) -> str:
        """The tail of every process's output, with how it ended if it did."""
        parts = []
        for name, proc in self.processes.items():
            lines = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
            state = "running" if proc.poll() is None else f"exited with {proc.returncode}"
            parts.append(f"----- {name} ({state}), last {LOG_TAIL} lines -----\n"
                         + "\n".join(lines[-LOG_TAIL:]))
        return "\n".join(parts) + f"\n(full logs in {self.log_dir})"

    def wait_ready(self, timeout: float = READY_TIMEOUT, base_url: str | None = None) -> None:
        """Until the gateway at ``base_url`` (the first one by default) is ready and sees every service."""
        base_url = base_url or self.base_url
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.exited():
                pytest.fail(f"processes exited early: {self.exited()}\n{self.report()}")
            try:
                # The gateway can serve (/ready) and every service answers (/health/services).
                response = httpx.get(f"{base_url}/health/services", timeout=5)
                if httpx.get(f"{base_url}/ready", timeout=5).status_code == 200 and \
                        response.json().get("status") == "ok":
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.5)
        pytest.fail(f"the platform was not ready within {timeout:.0f} s (last /health/services: {last})\n"
                    f"{self.report()}")

    def scale_out(self, suffix: str = "-2") -> str:
        """A second process of every Procfile process (``orders-2`` ...), on the same broker and
        databases, with ports of its own (gateway, services' metrics); the new gateway's URL.

        It only starts them: the caller waits until they consume (``saga_support.wait_for_consumers``).
        """
        port = _free_port()
        self.start({f"{name}{suffix}": command for name, command in procfile.read(ROOT / "Procfile").items()},
                   {"SHOP_GATEWAY_PORT": str(port), **_metrics_ports()})
        base_url = f"http://127.0.0.1:{port}"
        self.wait_ready(base_url=base_url)
        return base_url

    def stop(self) -> None:
        """SIGTERM everything (after SIGCONT, in case a test paused it), SIGKILL what lingers."""
        for proc in self.processes.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


METRICS_SERVICES = ("USERS", "CATALOG", "ORDERS", "PAYMENTS")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _metrics_ports() -> dict[str, str]:
    """Each service's metrics on a free port: a developer's `make run`, or another instance, may
    hold the defaults."""
    return {f"SHOP_METRICS_PORT_{name}": str(_free_port()) for name in METRICS_SERVICES}


@contextmanager
def fresh_vhost() -> Iterator[str]:
    """A new RabbitMQ vhost (deleted afterwards); its AMQP URI."""
    broker = amqp_uri()
    api, auth = management_url(broker), amqp_credentials(broker)
    name = f"shop-e2e-{uuid.uuid4().hex[:8]}"
    path = quote(name, safe="")
    try:
        httpx.put(f"{api}/api/vhosts/{path}", auth=auth, timeout=10).raise_for_status()
        httpx.put(f"{api}/api/permissions/{path}/{quote(auth[0], safe='')}", auth=auth, timeout=10,
                  json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.fail(f"cannot create a vhost through the RabbitMQ management API at {api} ({exc}): "
                    "run `shopctl ensure-infra` (enables rabbitmq_management)")
    try:
        yield with_vhost(broker, name)
    finally:
        httpx.delete(f"{api}/api/vhosts/{path}", auth=auth, timeout=10)


@pytest.fixture(scope="session")
def vhost_uri() -> Iterator[str]:
    """A fresh RabbitMQ vhost for this session; its AMQP URI."""
    with fresh_vhost() as uri:
        yield uri


@contextmanager
def fresh_databases(prefix: str) -> Iterator[dict[str, str]]:
    """``<prefix>_<db>_<pid>`` databases, recreated and migrated to head; dropped afterwards.

    The pid keeps two runs on one server (two engineers, two CI jobs) out of each other's way.
    """
    urls = {db: with_database(migrate.database_url(db), f"{prefix}_{db}_{os.getpid()}")
            for db in migrate.DATABASES}
    for db, url in urls.items():
        create_database(url, drop_existing=True)
        migrate.upgrade(db, url)
    try:
        yield urls
    finally:
        for url in urls.values():
            drop_database(url)


@pytest.fixture(scope="session")
def database_urls() -> Iterator[dict[str, str]]:
    """The session's ``shop_e2e_*`` databases."""
    with fresh_databases("shop_e2e") as urls:
        yield urls


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Signing keys for this session only, made before any process starts."""
    with temporary_keys(tmp_path_factory.mktemp("keys")) as path:
        yield path


@contextmanager
def running_platform(amqp_uri: str, database_urls: dict[str, str], keys_dir: Path,
                     log_dir: Path, overrides: dict[str, str] | None = None) -> Iterator[Platform]:
    """Every Procfile process running against ``amqp_uri`` and the databases, gateway ready."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = procfile.process_env(os.environ, BIN) | {
        "SHOP_ENV": "development", "SHOP_AMQP_URI": amqp_uri, "SHOP_KEYS_DIR": str(keys_dir),
        "SHOP_CORE_DB_URL": database_urls["core"], "SHOP_ORDERS_DB_URL": database_urls["orders"],
        "SHOP_PAYMENTS_DB_URL": database_urls["payments"], "SHOP_GATEWAY_HOST": "127.0.0.1",
        "SHOP_GATEWAY_PORT": str(port), "SHOP_TOKEN_ISSUER": base_url, "SHOP_LOG_LEVEL": "INFO",
        # Short, so a test that pauses a service (SIGSTOP) gets its 504 quickly.
        "SHOP_RPC_TIMEOUT": "3",
        **_metrics_ports(),
    } | (overrides or {})
    running = Platform(base_url, env, log_dir)
    try:
        running.start(procfile.read(ROOT / "Procfile"))
        running.wait_ready()
        yield running
    finally:
        running.stop()
        crashed = {name: code for name, code in running.exited().items()
                   if code not in (0, -15, 143) and name not in running.killed}
        if crashed:
            print(f"\nprocesses that did not stop cleanly: {crashed}\n{running.report()}")


@pytest.fixture(scope="session")
def platform_overrides() -> dict[str, str]:
    """Environment the suite's platform runs with on top of the harness's (a suite may redefine it).

    These tests drive hundreds of requests from one address in seconds: the gateway's rate limits
    (tested in the security suite) would turn them into 429s.
    """
    return {"SHOP_RATE_LIMIT_ENABLED": "false"}


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """Where the session's platform sends its spans."""
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def exporting_to(receiver: OtlpReceiver) -> dict[str, str]:
    """The standard settings that make every process export its spans to ``receiver``, soon."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}


@pytest.fixture(scope="session")
def platform(vhost_uri: str, database_urls: dict[str, str], keys_dir: Path,
             platform_overrides: dict[str, str], otlp_receiver: OtlpReceiver,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Every Procfile process running against the test vhost and databases, gateway ready,
    exporting its traces to ``otlp_receiver``."""
    with running_platform(vhost_uri, database_urls, keys_dir, tmp_path_factory.mktemp("logs"),
                          exporting_to(otlp_receiver) | platform_overrides) as running:
        yield running


@pytest.fixture(scope="session")
def client(platform: Platform) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway."""
    with httpx.Client(base_url=platform.base_url, timeout=30) as http:
        yield http


def _password_grant(client: httpx.Client, email: str, password: str) -> str:
    response = client.post("/api/v1/oauth/token",
                           data={"grant_type": "password", "username": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.fixture(scope="session")
def admin_token(client: httpx.Client, database_urls: dict[str, str]) -> str:
    """An access token of an admin made with ``ensure_admin`` (as `shopctl up` does)."""
    from nameko_services.users.admin import ensure_admin

    ensure_admin(database_urls["core"], ADMIN_EMAIL, ADMIN_PASSWORD)
    return _password_grant(client, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def register_customer(client: httpx.Client) -> Callable[..., tuple[dict, str]]:
    """``register_customer(name="Ada")`` → (the new user, an access token for them)."""

    def _register(name: str = "Ada") -> tuple[dict, str]:
        email = f"customer-{uuid.uuid4().hex[:10]}@example.com"
        created = client.post("/api/v1/users",
                              json={"email": email, "password": CUSTOMER_PASSWORD, "name": name})
        assert created.status_code == 201, created.text
        return created.json(), _password_grant(client, email, CUSTOMER_PASSWORD)

    return _register


@pytest.fixture
def product(client: httpx.Client, admin_token: str) -> Callable[..., dict]:
    """``product(stock=5, price=1250)`` → a fresh product made by the admin."""
    from tests.e2e.saga_support import new_product

    return lambda stock=5, price=1250: new_product(client, admin_token, stock, price)
