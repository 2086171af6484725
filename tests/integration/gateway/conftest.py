"""The gateway's RPC client against the real RabbitMQ and a real nameko service.

For the session: a throw-away vhost (management API; deleted afterwards), a temporary key
folder, and ``gateway_echo_service`` started with ``nameko run`` in a subprocess; a test that
stops a service gets one of its own (``stoppable_service``). Nothing touches the default vhost;
eventlet stays in the subprocess. Missing infrastructure fails.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from gateway.rpc import AmqpRpcClient
from nameko_services.common.testing import temporary_keys
from nameko_services.ops.endpoints import (
    amqp_credentials,
    amqp_uri,
    management_url,
    with_vhost,
)

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
SERVICE_START_TIMEOUT = 30.0


class Broker:
    """The management API of the test vhost."""

    def __init__(self, uri: str, vhost: str) -> None:
        self.uri = uri
        self.vhost = vhost
        self.api = management_url(amqp_uri())
        self.auth = amqp_credentials(amqp_uri())

    def create_vhost(self, name: str) -> None:
        """A vhost where the test user may do anything."""
        path = quote(name, safe="")
        httpx.put(f"{self.api}/api/vhosts/{path}", auth=self.auth, timeout=10).raise_for_status()
        httpx.put(f"{self.api}/api/permissions/{path}/{quote(self.auth[0], safe='')}", auth=self.auth,
                  timeout=10, json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()

    def delete_vhost(self, name: str) -> None:
        httpx.delete(f"{self.api}/api/vhosts/{quote(name, safe='')}", auth=self.auth, timeout=10)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.api}/api/{path}", auth=self.auth, timeout=10)

    def queue(self, name: str) -> dict | None:
        response = self.get(f"queues/{quote(self.vhost, safe='')}/{quote(name, safe='')}")
        return response.json() if response.status_code == 200 else None

    def consumers(self, queue: str) -> int:
        """How many consumers ``queue`` has right now (a passive declare; the management API's
        figure lags by a stats tick); 0 when there is no such queue."""
        from amqp.exceptions import NotFound
        from kombu import Connection

        with Connection(self.uri) as connection:
            try:
                return int(connection.channel().queue_declare(queue, passive=True).consumer_count)
            except NotFound:
                return 0

    def connections(self) -> list[dict]:
        return list(self.get(f"vhosts/{quote(self.vhost, safe='')}/connections").json())

    def close_connections(self, connection_name: str | None = None, at_least: int = 1,
                          timeout: float = 15.0) -> int:
        """Close (broker side) the vhost's connections, or only those with this client name.

        The management API lists a new connection only after its next stats tick (~5 s).
        """
        deadline = time.monotonic() + timeout
        while len(found := self._connections_named(connection_name)) < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {at_least} connections named {connection_name!r}")
            time.sleep(0.25)
        for connection in found:
            httpx.delete(f"{self.api}/api/connections/{quote(connection['name'], safe='')}",
                         auth=self.auth, timeout=10, headers={"X-Reason": "gateway reconnect test"})
        return len(found)

    def _connections_named(self, name: str | None) -> list[dict]:
        return [c for c in self.connections()
                if name is None or c.get("client_properties", {}).get("connection_name") == name]


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    name = f"shop-gateway-test-{uuid.uuid4().hex[:8]}"
    test_broker = Broker(with_vhost(amqp_uri(), name), name)
    try:
        test_broker.create_vhost(name)
    except httpx.HTTPError as exc:
        pytest.fail(f"cannot create a vhost through the RabbitMQ management API at {test_broker.api}: {exc}")
    yield test_broker
    test_broker.delete_vhost(name)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with temporary_keys(tmp_path_factory.mktemp("keys")) as path:
        yield path


class EchoProcess:
    """One ``gateway_echo_service`` class under ``nameko run`` on the test vhost, stoppable."""

    def __init__(self, broker: Broker, keys_dir: Path, folder: Path, service_class: str, name: str) -> None:
        self.broker, self.name = broker, name
        self.config, self.log_path = folder / f"{name}.yaml", folder / f"{name}.log"
        self.config.write_text(f"AMQP_URI: '{broker.uri}'\nmax_workers: 50\n")
        self.env = os.environ | {"SHOP_KEYS_DIR": str(keys_dir), "SHOP_ENV": "development",
                                 "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)])}
        self.target = f"gateway_echo_service:{service_class}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Run the service and wait until it consumes its RPC queue."""
        nameko = Path(sys.executable).parent / "nameko"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([str(nameko), "run", "--config", str(self.config), self.target],
                                            cwd=HERE, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVICE_START_TIMEOUT
        while not self.broker.consumers(f"rpc-{self.name}"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the {self.name} service did not start:\n"
                            f"{self.log_path.read_text(errors='replace')}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop it (its queue stays, durable, without consumers) and wait until it is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def echo_service(broker: Broker, keys_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``EchoService`` (``echo``) running for the whole session."""
    process = EchoProcess(broker, keys_dir, tmp_path_factory.mktemp("echo"), "EchoService", "echo")
    process.start()
    try:
        yield process.name
    finally:
        process.stop()


@pytest.fixture
def stoppable_service(broker: Broker, keys_dir: Path, tmp_path: Path) -> Iterator[EchoProcess]:
    """``StoppableEchoService`` (``stoppable``) running, for a test that stops it."""
    process = EchoProcess(broker, keys_dir, tmp_path, "StoppableEchoService", "stoppable")
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def client(broker: Broker, echo_service: str) -> AsyncIterator[AmqpRpcClient]:
    """A started RPC client (timeout 2 s, reconnects after 0.5 s) on the test vhost."""
    rpc = AmqpRpcClient(broker.uri, timeout=2.0, reconnect_interval=0.5)
    await rpc.start()
    assert rpc.connected
    yield rpc
    await rpc.close()
