"""The type of the platform's durable queues, in one place.

Every durable queue a service declares (its ``rpc-<service>`` queue, its event handler queues and
their retry and dead-letter queues) is a quorum queue unless ``QUEUE_TYPE`` (``SHOP_QUEUE_TYPE``)
says ``classic``: a RabbitMQ cluster replicates a quorum queue over its nodes, so losing one node
loses neither the queue nor its messages. Reply queues are never made here: each belongs to one
process and goes with it, so they stay classic (exclusive, or expiring).

A queue's type cannot change once it exists: declaring it as the other type fails with
PRECONDITION_FAILED, which ``declare`` turns into ``QueueTypeMismatch`` naming the way out
(``shopctl migrate-queues``, with the services stopped).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from amqp.exceptions import PreconditionFailed
from kombu import Connection, Queue

QUORUM, CLASSIC = "quorum", "classic"
QUEUE_TYPES = (QUORUM, CLASSIC)
QUEUE_TYPE_CONFIG_KEY = "QUEUE_TYPE"
DEFAULT_QUEUE_TYPE = QUORUM
# What a queue of each type is declared with beyond its own arguments (TTL, dead-letter target).
TYPE_ARGUMENTS = ("x-queue-type", "x-dead-letter-strategy", "x-overflow")


class QueueTypeMismatch(RuntimeError):
    """A queue exists with another type (or other arguments) than this service declares."""


def queue_type(config: Mapping[str, Any]) -> str:
    """The configured type of durable queues: ``quorum`` (the default) or ``classic``."""
    value = str(config.get(QUEUE_TYPE_CONFIG_KEY) or DEFAULT_QUEUE_TYPE).strip().lower()
    if value not in QUEUE_TYPES:
        raise ValueError(f"QUEUE_TYPE (SHOP_QUEUE_TYPE) is {value!r}: it must be quorum or classic")
    return value


def type_arguments(kind: str) -> dict[str, Any]:
    """The arguments that make a durable queue of type ``kind``.

    A classic queue is declared without ``x-queue-type``, as before this setting existed, so a
    queue an earlier version declared is the same queue.
    """
    return {"x-queue-type": QUORUM} if kind == QUORUM else {}


def dead_lettering_arguments(kind: str) -> dict[str, Any]:
    """For a queue whose messages dead-letter onwards (a retry queue): never lose one on the way.

    RabbitMQ's default drops a dead letter the target queue does not confirm; a quorum queue can
    keep it until the target has it (at-least-once), which RabbitMQ allows only with the
    reject-publish overflow (classic queues have no such mode).
    """
    if kind != QUORUM:
        return {}
    return {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def retyped_arguments(arguments: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A queue's declare arguments as type ``kind``: its own (TTL, dead-letter target) kept, its
    type's replaced (``shopctl migrate-queues`` declares existing queues again with these)."""
    own = {key: value for key, value in arguments.items() if key not in TYPE_ARGUMENTS}
    onwards = dead_lettering_arguments(kind) if "x-dead-letter-exchange" in own else {}
    return {**own, **type_arguments(kind), **onwards}


def is_shared(queue: Queue) -> bool:
    """Whether ``queue`` outlives its consumers (durable, neither exclusive nor auto-delete)."""
    return bool(queue.durable and not queue.exclusive and not queue.auto_delete)


def of_type(queue: Queue, kind: str) -> Queue:
    """``queue`` (one nameko made) declared as type ``kind``; a reply or broadcast queue unchanged."""
    if not is_shared(queue):
        return queue
    return Queue(queue.name, exchange=queue.exchange, routing_key=queue.routing_key, durable=True,
                 queue_arguments={**(getattr(queue, "queue_arguments", None) or {}), **type_arguments(kind)})


def declare(amqp_uri: str, queues: Iterable[Queue]) -> None:
    """Declare ``queues`` (and their exchanges and bindings); a queue of another type is
    ``QueueTypeMismatch`` with the fix, not a bare PRECONDITION_FAILED."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        for queue in queues:
            try:
                queue.bind(channel).declare()
            except PreconditionFailed as exc:
                raise QueueTypeMismatch(
                    f"queue {queue.name} exists with other arguments than this service declares "
                    f"({exc.reply_text}); if its type differs, stop the services and run "
                    "`shopctl migrate-queues` (README, Operations)") from exc
