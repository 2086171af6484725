"""``shopctl migrate-queues``: give the platform's existing queues the configured type.

A queue's type cannot change in place, so each platform queue (``rpc-<service>``, ``evt-...``
handler, retry and dead-letter queues) of the other type moves through a temporary queue
``<queue>.migrating``, declared as the new queue will be (same arguments), while no service runs:

1. the temporary queue gets the queue's bindings, then the queue loses them (a message published
   meanwhile is routed to one or both: never lost, at worst delivered twice, and handlers are
   idempotent);
2. the messages move to the temporary queue one by one (each published with a confirm, then
   acked), the queue is deleted (only if empty) and declared again with the new type;
3. it is bound as before, the temporary queue unbound, the messages move back, the temporary
   queue is deleted.

Retry queues dead-letter into their handler queue while they hold messages, so the side that is
at-least-once (quorum) is the one left in place while its target moves: migrating to quorum moves
the retry queues first, to classic last. Nothing is touched while any platform queue has a
consumer (a service running: its relay would publish, its consumers would take messages midway).
An interrupted run is finished by the next: a left-over temporary queue is moved back into its
queue. Gateways may keep running: with no consumers, their calls answer 503 at once.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import amqp
import requests
from amqp.exceptions import NotFound
from kombu import Connection

from nameko_services.common.broker import broker_addresses
from nameko_services.common.queues import QUORUM, retyped_arguments
from nameko_services.ops.endpoints import amqp_credentials

TEMPORARY_SUFFIX = ".migrating"
# The queues services declare: rpc-<service>, and evt-<source>-<event>--<service>.<handler> with
# its .retry-<n>ms and .dead-letter queues. nameko's rpc.reply-* and broadcast queues are not.
PLATFORM_QUEUE = re.compile(r"^(rpc-[^.]+|evt-.+)$")
DELETE_ATTEMPTS = 5


class ServicesRunning(RuntimeError):
    """Platform queues have consumers: the services must be stopped first."""


@dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str
    arguments: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Move:
    """One queue to (re)declare as ``kind``, with what it is bound to and whether it exists now."""

    name: str
    kind: str
    arguments: dict[str, Any]
    bindings: list[Binding]
    exists_as_other_type: bool
    moved: int = 0

    @property
    def temporary(self) -> str:
        return self.name + TEMPORARY_SUFFIX

    @property
    def dead_letters_onwards(self) -> bool:
        return "x-dead-letter-exchange" in self.arguments


class ManagementApi:
    """The few RabbitMQ management API reads the migration needs, for one vhost."""

    def __init__(self, root: str, vhost: str, auth: tuple[str, str]) -> None:
        self.root, self.vhost, self.auth = root.rstrip("/"), quote(vhost, safe=""), auth

    def queues(self) -> list[dict[str, Any]]:
        return self._get(f"queues/{self.vhost}")

    def bindings(self, queue: str) -> list[Binding]:
        """The queue's bindings to named exchanges (not the default exchange's implicit one)."""
        return [Binding(b["source"], b["routing_key"], b.get("arguments") or {})
                for b in self._get(f"queues/{self.vhost}/{quote(queue, safe='')}/bindings") if b["source"]]

    def _get(self, path: str) -> Any:
        response = requests.get(f"{self.root}/api/{path}", auth=self.auth, timeout=10)
        response.raise_for_status()
        return response.json()


def api_consumers(queue: dict[str, Any]) -> int:
    return int(queue.get("consumers") or 0)


def plan(api: ManagementApi, kind: str,
         consumers: Callable[[dict[str, Any]], int] = api_consumers) -> list[Move]:
    """The queues to migrate to ``kind``, in a safe order; ``ServicesRunning`` if any is consumed.

    ``consumers`` counts a queue's consumers: the API's figure lags by seconds, so ``migrate_queues``
    asks the broker itself.
    """
    queues = {q["name"]: q for q in api.queues()}
    platform = {name: q for name, q in queues.items() if _is_platform(name, q)}
    counts = {name: consumers(q) for name, q in platform.items()}
    consumed = sorted(f"{name} ({count})" for name, count in counts.items() if count)
    if consumed:
        raise ServicesRunning("stop every service first; these queues have consumers: " + ", ".join(consumed))
    moves = []
    for name, queue in platform.items():
        if name.endswith(TEMPORARY_SUFFIX):
            continue
        left_over = queues.get(name + TEMPORARY_SUFFIX)
        if queue.get("type") != kind or left_over is not None:
            moves.append(_move(api, name, kind, queue, left_over))
    for name, left_over in platform.items():  # interrupted after the queue was deleted
        original = name.removesuffix(TEMPORARY_SUFFIX)
        if name.endswith(TEMPORARY_SUFFIX) and original not in queues:
            moves.append(_move(api, original, kind, None, left_over))
    # Retry queues dead-letter into handler queues: the at-least-once (quorum) side stays put
    # while the other moves, so to quorum they go first, to classic last.
    moves.sort(key=lambda m: m.dead_letters_onwards != (kind == QUORUM))
    return moves


def _is_platform(name: str, queue: dict[str, Any]) -> bool:
    shared = queue.get("durable") and not queue.get("exclusive") and not queue.get("auto_delete")
    return bool(shared and PLATFORM_QUEUE.match(name))


def _move(api: ManagementApi, name: str, kind: str, queue: dict[str, Any] | None,
          left_over: dict[str, Any] | None) -> Move:
    source = queue if queue is not None else left_over
    assert source is not None
    bindings = api.bindings(name) if queue is not None else []
    if left_over is not None:
        bindings += [b for b in api.bindings(name + TEMPORARY_SUFFIX) if b not in bindings]
    return Move(name, kind, retyped_arguments(source.get("arguments") or {}, kind), bindings,
                exists_as_other_type=queue is not None and queue.get("type") != kind)


def migrate(amqp_uri: str, moves: list[Move], say: Callable[[str], None]) -> None:
    """Carry out ``moves`` (from ``plan``) over one AMQP connection."""
    with Connection(amqp_uri) as connection:
        connection.ensure_connection(max_retries=3)
        mover = QueueMover(connection.connection)
        for move in moves:
            mover.migrate(move)
            mover._new_channel()
            say(f"{move.name}: now {move.kind}, {move.moved} message(s) kept, "
                f"{len(move.bindings)} binding(s)")


class QueueMover:
    """The steps of the module docstring on one AMQP connection; each may be repeated safely."""

    def __init__(self, connection: amqp.Connection) -> None:
        self.connection = connection
        self.channel = connection.channel()

    def migrate(self, move: Move) -> None:
        self._declare(move.temporary, move.arguments)
        self._bind(move.temporary, move.bindings)
        if move.exists_as_other_type:
            self._unbind(move.name, move.bindings)
            self._empty_and_delete(move.name, move.temporary)
            # A channel that used the queue as one type must not meet it as the other: RabbitMQ
            # 3.10 closes the connection (INTERNAL_ERROR) when it publishes to the new queue.
            self._new_channel()
        self._declare(move.name, move.arguments)
        self._bind(move.name, move.bindings)
        self._unbind(move.temporary, move.bindings)
        move.moved = self._empty_and_delete(move.temporary, move.name)

    def _new_channel(self) -> None:
        self.channel.close()
        self.channel = self.connection.channel()

    def _declare(self, name: str, arguments: dict[str, Any]) -> None:
        self.channel.queue_declare(name, durable=True, auto_delete=False, arguments=arguments)

    def _bind(self, queue: str, bindings: list[Binding]) -> None:
        for b in bindings:
            self.channel.queue_bind(queue, b.exchange, b.routing_key, arguments=b.arguments)

    def _unbind(self, queue: str, bindings: list[Binding]) -> None:
        for b in bindings:
            self.channel.queue_unbind(queue, b.exchange, b.routing_key, arguments=b.arguments)

    def _empty_and_delete(self, source: str, target: str) -> int:
        """Move every message of ``source`` to ``target``, then delete ``source`` once it is empty.

        A retry queue may dead-letter into ``source`` meanwhile; then it is emptied again. (Quorum
        queues refuse a delete ``if_unused``, so emptiness and consumers are checked just before.)
        """
        moved = 0
        for _ in range(DELETE_ATTEMPTS):
            moved += self._move_messages(source, target)
            _, messages, consumers = self.channel.queue_declare(source, passive=True)
            if consumers:
                raise ServicesRunning(f"{source} has {consumers} consumer(s): stop every service first")
            if not messages:
                self.channel.queue_delete(source)
                return moved
        raise RuntimeError(f"{source} keeps receiving messages: is a service running?")

    def _move_messages(self, source: str, target: str) -> int:
        """Each message republished to ``target`` with a confirm before it is acked: at least once."""
        moved = 0
        while (message := self.channel.basic_get(source, no_ack=False)) is not None:
            copy = amqp.Message(message.body, **message.properties)
            self.channel.basic_publish_confirm(copy, exchange="", routing_key=target, mandatory=True)
            self.channel.basic_ack(message.delivery_info["delivery_tag"])
            moved += 1
        return moved


def migrate_queues(amqp_uri: str, kind: str, say: Callable[[str], None], *, management: str,
                   dry_run: bool = False) -> list[Move]:
    """Plan, then (unless ``dry_run``) carry out, the migration of ``amqp_uri``'s vhost to ``kind``."""
    first = broker_addresses(amqp_uri)[0]
    api = ManagementApi(management, unquote(urlsplit(first).path[1:]) or "/", amqp_credentials(first))
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        moves = plan(api, kind, lambda queue: _consumers(channel, queue["name"]))
    if not moves:
        say(f"every platform queue is a {kind} queue already")
    elif dry_run:
        for move in moves:
            say(f"would migrate {move.name} to {kind} ({len(move.bindings)} binding(s))")
    else:
        migrate(amqp_uri, moves, say)
    return moves


def _consumers(channel: Any, queue: str) -> int:
    """How many consumers ``queue`` has now (0 when it went meanwhile)."""
    try:
        return int(channel.queue_declare(queue, passive=True).consumer_count)
    except NotFound:
        return 0
