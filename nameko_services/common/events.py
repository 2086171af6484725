"""Event handlers that retry with back-off and dead-letter instead of losing events.

nameko acks an event whose handler raised, so the event is gone. ``event_handler``
from here (use it instead of ``nameko.events.event_handler``) republishes a failed
event to a delay queue (``<queue>.retry-<n>``, whose TTL dead-letters it back to
the handler queue) and, after the last delay, to ``<queue>.dead-letter``, where an
operator sees it in the RabbitMQ console and replays it with ``shopctl replay``.
The original message is acked only after the republish is confirmed; if the
republish fails the original is requeued. Every queue is declared when the
service starts, so no event is dropped for want of a queue.

Every event must carry a valid event token (``event_auth.py``) signed by the
service whose exchange it came from; one that does not (missing, forged, expired,
issued for another event or by another service) never reaches the handler: it is
logged as a security event and moved straight to the dead-letter queue with the
reason in ``x-shop-refused`` (no retries: it would fail the same way). Retries and
replays keep the original headers, so the original token.

A handler gets the payload as this code's event contract reads it (``event_contracts.read``):
without ``schema_version``, and without the fields of a newer minor version; an event of a major
version this code has no schema for is dead-lettered the same way, its reason in
``x-shop-refused``, and logged.

Handlers must be idempotent (see ``idempotency.py``): retries and the outbox's
at-least-once delivery both deliver an event more than once.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from kombu import Connection, Exchange, Queue
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.events import EventHandler

from nameko_services.common.broker import BROKER_GONE
from nameko_services.common.errors import NotAuthenticated
from nameko_services.common.event_auth import (
    DEFAULT_EVENT_TOKEN_MAX_AGE,
    EVENT_TOKEN_HEADER,
    verify_event,
)
from nameko_services.common.event_contracts import UnsupportedVersion
from nameko_services.common.event_contracts import read as read_event
from nameko_services.common.event_keys import Resign, emitter_keys
from nameko_services.common.metrics import observe_entrypoint
from nameko_services.common.outbox import EVENT_ID_HEADER
from nameko_services.common.queues import (
    DEFAULT_QUEUE_TYPE,
    dead_lettering_arguments,
    declare,
    of_type,
    queue_type,
    type_arguments,
)

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-shop-attempts"
LAST_ERROR_HEADER = "x-shop-last-error"
REFUSED_HEADER = "x-shop-refused"
DEFAULT_RETRY_DELAYS = (1.0, 5.0, 25.0)  # seconds; config EVENT_RETRY_DELAYS overrides
DEFAULT_EXCHANGE = Exchange("", type="direct")


def retry_queue_name(queue_name: str, delay: float) -> str:
    return f"{queue_name}.retry-{int(delay * 1000)}ms"


def dead_letter_queue_name(queue_name: str) -> str:
    return f"{queue_name}.dead-letter"


def retry_queues(queue_name: str, delays: tuple[float, ...], kind: str = DEFAULT_QUEUE_TYPE) -> list[Queue]:
    """One delay queue per back-off step; expired messages go back to the handler queue
    (at least once on quorum queues: see ``common.queues``)."""
    return [Queue(retry_queue_name(queue_name, delay), exchange=DEFAULT_EXCHANGE,
                  routing_key=retry_queue_name(queue_name, delay), durable=True,
                  queue_arguments={"x-message-ttl": int(delay * 1000),
                                   "x-dead-letter-exchange": "",
                                   "x-dead-letter-routing-key": queue_name,
                                   **type_arguments(kind), **dead_lettering_arguments(kind)})
            for delay in delays]


def dead_letter_queue(queue_name: str, kind: str = DEFAULT_QUEUE_TYPE) -> Queue:
    name = dead_letter_queue_name(queue_name)
    return Queue(name, exchange=DEFAULT_EXCHANGE, routing_key=name, durable=True,
                 queue_arguments=type_arguments(kind))


class ReliableEventHandler(EventHandler):
    """An event handler whose failures are retried, then dead-lettered, never dropped."""

    queue: Queue

    def setup(self) -> None:
        super().setup()
        config = self.container.config
        self.delays = tuple(float(d) for d in config.get("EVENT_RETRY_DELAYS", DEFAULT_RETRY_DELAYS))
        self.publisher = Publisher(config[AMQP_URI_CONFIG_KEY], serializer="json")
        # Only the emitting service's own keys: a token of any other service is refused.
        self.event_keys = emitter_keys(self.source_service)
        self.max_age = int(config.get("EVENT_TOKEN_MAX_AGE", DEFAULT_EVENT_TOKEN_MAX_AGE))
        self._started: dict[int, float] = {}  # message -> when its handling began (for the metrics)
        self.queue_type = queue_type(config)
        self.queue = of_type(self.queue, self.queue_type)  # nameko's, as the configured type
        self._declare(config[AMQP_URI_CONFIG_KEY])

    def _declare(self, amqp_uri: str) -> None:
        # The handler queue too: it must exist before the consumer starts, and
        # before any retry dead-letters into it.
        declare(amqp_uri, [self.queue, *retry_queues(self.queue.name, self.delays, self.queue_type),
                           dead_letter_queue(self.queue.name, self.queue_type)])

    def handle_message(self, body: Any, message: Any) -> None:
        headers = message.headers or {}
        token = headers.get(EVENT_TOKEN_HEADER)
        try:
            verify_event(token, self.event_keys.for_token(token), service=self.source_service,
                         event_type=self.event_type, event_id=headers.get(EVENT_ID_HEADER),
                         payload=body, max_age=self.max_age)
        except NotAuthenticated as exc:
            self._observe(message, "refused")
            self._refuse(message, str(exc))
            return
        try:  # the handler gets what this code's contract reads (common.event_contracts)
            readable = read_event(self.event_type, body)
        except UnsupportedVersion as exc:
            self._observe(message, "refused")
            self._refuse(message, str(exc), error="UnsupportedVersion")
            return
        self._started[id(message)] = time.perf_counter()
        super().handle_message(readable, message)

    def _observe(self, message: Any, outcome: str) -> None:
        started = self._started.pop(id(message), None)
        seconds = 0.0 if started is None else time.perf_counter() - started
        observe_entrypoint(self.container.service_name, self.method_name, "event", outcome, seconds)

    def _refuse(self, message: Any, reason: str, error: str = "NotAuthenticated") -> None:
        """Park an unauthenticated event, or one of a version this code cannot read, in the
        dead-letter queue, unhandled, for an operator (``shopctl replay`` once code reads it)."""
        headers = message.headers or {}
        if error == "NotAuthenticated":
            log.warning("security: refused an unauthenticated event on %s: %s", self.queue.name, reason,
                        extra={"security_event": "event_refused", "queue": self.queue.name,
                               "event_type": self.event_type,
                               "claimed_event_id": headers.get(EVENT_ID_HEADER), "reason": reason})
        else:
            log.error("refused an event this code cannot read on %s: %s", self.queue.name, reason,
                      extra={"queue": self.queue.name, "event_type": self.event_type,
                             "event_id": headers.get(EVENT_ID_HEADER), "reason": reason})
        try:
            self.publisher.publish(message.payload, exchange=DEFAULT_EXCHANGE,
                                   routing_key=dead_letter_queue_name(self.queue.name),
                                   headers={**headers, REFUSED_HEADER: reason[:500],
                                            LAST_ERROR_HEADER: f"{error}: {reason}"[:500]},
                                   use_confirms=True, mandatory=True)
        except Exception:
            log.exception("could not park refused event; requeueing it")
            self._settle(self.queue_consumer.requeue_message, message)
        else:
            self._settle(self.queue_consumer.ack_message, message)

    def _settle(self, settle: Any, message: Any) -> None:
        """Ack or requeue; on a lost connection do neither (and never kill the container).

        RabbitMQ puts an unacked message back when its connection closes, so the event is
        delivered again once the service reconnects; handlers are idempotent.
        """
        try:
            settle(message)
        except BROKER_GONE as exc:
            log.warning("broker connection lost before %s could settle an event; it will be "
                        "delivered again: %s", self.queue.name, exc)

    def handle_result(self, message: Any, worker_ctx: Any, result: Any = None,
                      exc_info: Any = None) -> tuple[Any, Any]:
        if exc_info is None:
            self._observe(message, "ok")
            self._settle(self.queue_consumer.ack_message, message)
            return result, exc_info
        try:
            self._observe(message, self._send_to_retry_or_dead_letter(message, exc_info))
        except Exception:
            log.exception("could not park failed event; requeueing it")
            self._settle(self.queue_consumer.requeue_message, message)
        else:
            self._settle(self.queue_consumer.ack_message, message)
        return result, exc_info

    def _send_to_retry_or_dead_letter(self, message: Any, exc_info: Any) -> str:
        """Park a failed event for its next try, or for good; say which (``retried``, ``dead_lettered``)."""
        headers = dict(message.headers or {})
        attempt = int(headers.get(ATTEMPT_HEADER, 0)) + 1
        headers[ATTEMPT_HEADER] = attempt
        headers[LAST_ERROR_HEADER] = f"{exc_info[0].__name__}: {exc_info[1]}"[:500]
        if attempt <= len(self.delays):
            target = retry_queue_name(self.queue.name, self.delays[attempt - 1])
            log.warning("event handler %s failed (attempt %s), retrying", self.queue.name, attempt)
        else:
            target = dead_letter_queue_name(self.queue.name)
            log.error("event handler %s failed %s times; dead-lettered", self.queue.name, attempt)
        self.publisher.publish(message.payload, exchange=DEFAULT_EXCHANGE, routing_key=target,
                               headers=headers, use_confirms=True, mandatory=True)
        return "retried" if attempt <= len(self.delays) else "dead_lettered"


event_handler = ReliableEventHandler.decorator


def replay_dead_letters(amqp_uri: str, queue_name: str, limit: int | None = None,
                        resign: Resign | None = None) -> int:
    """Move dead-lettered events back to their handler queue; return how many moved.

    Only the events waiting when it starts: a refused event comes straight back, and must
    not go round for ever. With ``resign`` (see ``event_resigner``) each event gets a fresh
    token; one whose token is not genuine stays in the dead-letter queue.
    """
    moved = 0
    publisher = Publisher(amqp_uri, serializer="json")
    with Connection(amqp_uri) as connection:
        queue = dead_letter_queue(queue_name).bind(connection.channel())
        waiting = queue.queue_declare(passive=True).message_count
        for _ in range(waiting if limit is None else min(limit, waiting)):
            message = queue.get(no_ack=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items()
                       if k not in (ATTEMPT_HEADER, LAST_ERROR_HEADER, REFUSED_HEADER)}
            if resign is not None:
                try:
                    headers[EVENT_TOKEN_HEADER] = resign(headers, message.payload)
                except NotAuthenticated as exc:
                    # Left unacked: back in the dead-letter queue when the connection closes.
                    log.warning("security: not re-signing dead-lettered event %s on %s: %s",
                                headers.get(EVENT_ID_HEADER), queue_name, exc,
                                extra={"security_event": "resign_refused", "queue": queue_name})
                    continue
            publisher.publish(message.payload, exchange=DEFAULT_EXCHANGE, routing_key=queue_name,
                              headers=headers, use_confirms=True, mandatory=True)
            message.ack()
            moved += 1
    return moved

