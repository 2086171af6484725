"""A RabbitMQ node of the test's own, so a test can restart a broker without touching anyone else's.

It runs from the machine's ``rabbitmq-server`` with its own node name, ports, data and log folders,
and no plugins but, when asked, the management API; ``rabbitmqctl -n <node>`` stops it. The
machine's own broker keeps running.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class PrivateBroker:
    """One RabbitMQ node under ``base``: ``start()``, ``stop()``, ``restart()``, ``uri`` (and
    ``management_url`` with ``management``)."""

    def __init__(self, base: Path, management: bool = False) -> None:
        for tool in ("rabbitmq-server", "rabbitmqctl"):
            if shutil.which(tool) is None:  # missing infrastructure fails loudly, never as a skip
                pytest.fail(f"{tool} is not on PATH: the broker-restart test starts a RabbitMQ node of "
                            "its own (install the rabbitmq-server package)")
        self.base = base
        self.port = _free_port()
        self.node = f"shop-e2e-{os.getpid()}@localhost"
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        base.chmod(0o777)  # the server drops to the rabbitmq user
        conf = f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
        self.management_port = _free_port() if management else None
        self.management_url = f"http://127.0.0.1:{self.management_port}" if management else None
        if management:
            conf += f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.management_port}\n"
        (base / "rabbitmq.conf").write_text(conf)
        (base / "enabled_plugins").write_text("[rabbitmq_management].\n" if management else "[].\n")
        self.env = os.environ | {
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(_free_port()),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        }

    @classmethod
    @contextmanager
    def running(cls, management: bool = False) -> Iterator[PrivateBroker]:
        """A started node in a fresh folder (under /tmp: the rabbitmq user must reach it), removed after."""
        base = Path(tempfile.mkdtemp(prefix="shop-e2e-broker-"))
        try:
            node = cls(base, management)
            node.start()
            try:
                yield node
            finally:
                node.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def start(self) -> None:
        started = subprocess.run(["rabbitmq-server", "-detached"], env=self.env, capture_output=True,
                                 text=True)
        if started.returncode != 0:  # e.g. Debian's wrapper: only root or rabbitmq may start a node
            raise RuntimeError(f"rabbitmq-server -detached failed: {started.stderr or started.stdout}")
        deadline = time.monotonic() + START_TIMEOUT
        while not (_accepts(self.port) and (self.management_port is None or _accepts(self.management_port))):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the private RabbitMQ node did not listen within {START_TIMEOUT:.0f} s "
                                   f"(logs in {self.base / 'log'})")
            time.sleep(0.2)

    def stop(self) -> None:
        # With the pid file, rabbitmqctl waits until the node's process has exited.
        subprocess.run(["rabbitmqctl", "-n", self.node, "stop", str(self.base / "rabbitmq.pid")],
                       env=self.env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def restart(self) -> None:
        """A real restart: the node shuts down (every connection drops), then boots from its disk."""
        self.stop()
        self.start()
