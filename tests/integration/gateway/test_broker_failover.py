"""Several broker addresses: the gateway's client and a nameko service given a dead node first
connect to the next and serve; the client whose node dies under it moves to the next node."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gateway.rpc import AmqpRpcClient
from tests.integration.gateway.conftest import Broker, EchoProcess


def at_port(uri: str, port: int) -> str:
    """``uri`` pointing at another port of this machine (same credentials and vhost)."""
    parts = urlsplit(uri)
    netloc = f"{parts.username}:{parts.password}@127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def dead_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Node:
    """A TCP forwarder to the real broker standing in for one cluster node, which ``die`` kills."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.links: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.links += [writer, up_writer]
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def die(self) -> None:
        """Stop listening and cut every connection, as a node that crashed."""
        assert self.server is not None
        self.server.close()
        for writer in self.links:
            writer.transport.abort()


async def test_the_client_given_a_dead_node_first_connects_to_the_next_and_calls(broker: Broker,
                                                                                 echo_service: str):
    dead = at_port(broker.uri, dead_port())
    rpc = AmqpRpcClient(f"{dead};{broker.uri}", timeout=5.0, reconnect_interval=0.5)
    await rpc.start()
    try:
        assert rpc.connected
        assert (await rpc.call("echo", "echo", text="hi"))["kwargs"] == {"text": "hi"}
    finally:
        await rpc.close()


async def test_the_client_whose_node_dies_moves_to_the_next_node(broker: Broker, echo_service: str):
    node = Node((urlsplit(broker.uri).hostname or "127.0.0.1", urlsplit(broker.uri).port or 5672))
    rpc = AmqpRpcClient(f"{at_port(broker.uri, await node.start())};{broker.uri}", timeout=5.0,
                        reconnect_interval=0.5)
    await rpc.start()
    try:
        assert (await rpc.call("echo", "echo", n=1))["kwargs"] == {"n": 1}
        await node.die()
        deadline = time.monotonic() + 15
        while not rpc.connected or rpc._address != 1:  # noqa: SLF001 - which node it uses
            assert time.monotonic() < deadline, "the client never moved to the second node"
            await asyncio.sleep(0.1)
        assert (await rpc.call("echo", "echo", n=2))["kwargs"] == {"n": 2}
    finally:
        await rpc.close()


async def test_a_service_given_a_dead_node_first_serves_from_the_next(broker: Broker, keys_dir: Path,
                                                                      tmp_path: Path):
    service = EchoProcess(broker, keys_dir, tmp_path, "StoppableEchoService", "stoppable")
    dead = at_port(broker.uri, dead_port())
    service.config.write_text(f"AMQP_URI: '{dead};{broker.uri}'\nmax_workers: 5\n")
    await asyncio.to_thread(service.start)  # waits until rpc-stoppable has its consumer
    rpc = AmqpRpcClient(broker.uri, timeout=5.0)
    await rpc.start()
    try:
        assert (await rpc.call("stoppable", "echo", text="via the second node"))["kwargs"] == {
            "text": "via the second node"}
    finally:
        await rpc.close()
        service.stop()
