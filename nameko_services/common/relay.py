"""Runs the outbox relay inside a nameko service: publishes what the service commits, and sweeps."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import eventlet
from eventlet.event import Event
from eventlet.queue import Empty, LightQueue
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from sqlalchemy import Engine, Table

from nameko_services.common.confirms import ConfirmingChannel, Outgoing
from nameko_services.common.event_auth import (
    DEFAULT_EVENT_TOKEN_MAX_AGE,
    EVENT_TOKEN_HEADER,
    sign_event,
)
from nameko_services.common.keys import load_signing_key
from nameko_services.common.metrics import OUTBOX_LAG, RELAY_PUBLISHED
from nameko_services.common.outbox import EVENT_ID_HEADER, HAND_OFF, OutboxMessage, OutboxRelay
from nameko_services.common.tracing import publishing

log = logging.getLogger(__name__)


class EventPublisher:
    """Publishes outbox messages to ``<service_name>.events``, confirmed and signed.

    Each event is signed here, at publish time, with the service's own key (see
    ``event_auth``): its age bound then runs from when it left, not from when it was queued.
    It goes with the row's headers, its trace context replaced by the span of its publishing.
    ``publish_batch`` sends a relay's whole batch before waiting once for the broker's confirms
    (``common.confirms``); calling the publisher sends one message.
    """

    def __init__(self, config: dict[str, Any], service_name: str) -> None:
        self.service_name = service_name
        exchange = get_event_exchange(service_name, config)
        self.channel = ConfirmingChannel(config[AMQP_URI_CONFIG_KEY], exchange)
        self.key = load_signing_key(f"service-{service_name}")
        self.max_age = int(config.get("EVENT_TOKEN_MAX_AGE", DEFAULT_EVENT_TOKEN_MAX_AGE))
        self.published = RELAY_PUBLISHED.labels(service_name)

    def __call__(self, message: OutboxMessage) -> None:
        self.publish_batch([message])

    def publish_batch(self, messages: list[OutboxMessage]) -> None:
        """Publish all of ``messages``; return once the broker has confirmed every one (else raise)."""
        self.channel.publish([self._outgoing(message) for message in messages])
        self.published.inc(len(messages))

    def _outgoing(self, message: OutboxMessage) -> Outgoing:
        with publishing(self.service_name, message) as trace_headers:
            token = sign_event(self.key, service=self.service_name, event_type=message.event_type,
                               event_id=message.event_id, payload=message.payload, max_age=self.max_age)
            return Outgoing(message.event_type, message.payload, {
                **message.headers, **trace_headers, EVENT_ID_HEADER: message.event_id,
                EVENT_TOKEN_HEADER: token})

    def close(self) -> None:
        self.channel.close()


def event_publisher(config: dict[str, Any], service_name: str) -> EventPublisher:
    """The service's ``EventPublisher`` (a callable publishing one message, or a batch)."""
    return EventPublisher(config, service_name)


SWEEP_INTERVAL_KEY = "OUTBOX_RELAY_SWEEP_INTERVAL"  # service config, seconds between sweeps
SWEEP_GRACE_KEY = "OUTBOX_RELAY_SWEEP_GRACE"  # service config, seconds a row is left to its own process
STOP_WAIT = 15.0  # seconds a stopping service waits for its relay's last publish


class Handed(Protocol):
    def take(self, timeout: float) -> list[OutboxMessage]:
        """What was handed off since the last take, waiting up to ``timeout`` for something."""


class HandOff:
    """Committed messages on their way from the service's workers to its relay thread."""

    def __init__(self, most: int = 100) -> None:
        self.queue: LightQueue = LightQueue()
        self.most = most

    def __call__(self, messages: list[OutboxMessage]) -> None:
        for message in messages:
            self.queue.put(message)

    def take(self, timeout: float) -> list[OutboxMessage]:
        try:
            taken = [self.queue.get(timeout=timeout)]
        except Empty:
            return []
        while len(taken) < self.most and not self.queue.empty():  # all the workers' commits: one batch
            taken.append(self.queue.get_nowait())
        return taken


class RelayLoop:
    """Publishes what the service's workers hand off as they commit, and sweeps the outbox.

    A sweep (every ``sweep_interval`` seconds, and at once on starting) publishes the unsent rows
    nobody handed off: written outside a unit of work, left by a process that died after its
    commit, or handed off when the broker refused them. It leaves rows younger than
    ``sweep_grace`` seconds to the process that wrote them, this one included: the workers
    of a starting service commit while its first sweep runs. A row older than that is published
    even if its process is only slow: a duplicate, never a loss (consumers apply an event id once).
    """

    def __init__(self, relay: OutboxRelay, handed: Handed, sweep_interval: float = 1.0,
                 sweep_grace: float = 5.0, error_pause: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.relay = relay
        self.handed = handed
        self.sweep_interval = sweep_interval
        self.sweep_grace = sweep_grace
        self.error_pause = error_pause
        self.clock = clock

    def run(self, running: Callable[[], bool]) -> None:
        """Relay until ``running()`` turns false; the publisher's connection is closed on the way out."""
        try:
            self._sweep(running, self.sweep_grace)
            next_sweep = self.clock() + self.sweep_interval
            while running():
                messages = self.handed.take(max(0.0, next_sweep - self.clock()))
                if messages:
                    self._publish(messages)
                if self.clock() >= next_sweep:
                    self._sweep(running, self.sweep_grace)
                    next_sweep = self.clock() + self.sweep_interval
            while messages := self.handed.take(0.0):  # stopping: what the last workers handed off
                self._publish(messages)
        finally:
            close = getattr(getattr(self.relay, "publish", None), "close", None)
            if close is not None:  # the publisher's broker connection
                close()
            getattr(self.relay, "close", lambda: None)()  # its marking connection

    def _publish(self, messages: list[OutboxMessage]) -> None:
        try:
            self.relay.publish_committed(messages)
        except Exception:  # the broker or database is down: the rows stay unsent for a sweep
            log.exception("publishing committed outbox rows failed; a sweep will publish them")

    def _sweep(self, running: Callable[[], bool], grace: float) -> None:
        try:
            # A short batch means the outbox is drained (of rows old enough).
            while running() and self.relay.relay_batch(grace) >= self.relay.batch_size:
                pass
        except Exception:  # the broker or database is down: try again at the next sweep
            log.exception("outbox sweep failed; retrying")
            eventlet.sleep(self.error_pause)


class OutboxRelayRunner(DependencyProvider):
    """Relays the service's outbox in a managed thread while the service runs.

    The ``Database`` dependency's sessions carry the runner's hand-off (``HAND_OFF``): what a
    unit of work commits reaches the relay thread at once, without a query. The thread sweeps
    the outbox every ``sweep_interval`` seconds (config ``OUTBOX_RELAY_SWEEP_INTERVAL``) for
    rows at least ``OUTBOX_RELAY_SWEEP_GRACE`` seconds old that nobody published. Stopping, it
    publishes what is still handed off before the container ends it.
    """

    def __init__(self, table: Table, database_attr: str = "db", sweep_interval: float = 1.0,
                 sweep_grace: float = 5.0) -> None:
        self.table = table
        self.database_attr = database_attr
        self.sweep_interval = sweep_interval
        self.sweep_grace = sweep_grace
        self._running = False

    def setup(self) -> None:
        # Before any worker runs (setup precedes start): every session carries the hand-off.
        self.hand_off = HandOff()
        database = next(dep for dep in self.container.dependencies
                        if getattr(dep, "attr_name", None) == self.database_attr)
        session_info = getattr(database, "session_info", None)
        if session_info is not None:  # a bare engine provider (tests) has no sessions to carry it
            session_info[HAND_OFF] = self.hand_off
        self.database = database

    def start(self) -> None:
        engine: Engine = self.database.engine
        publish = event_publisher(self.container.config, self.container.service_name)
        config = self.container.config
        relay = OutboxRelay(engine, self.table, publish)
        self.loop = RelayLoop(relay, self.hand_off,
                              float(config.get(SWEEP_INTERVAL_KEY, self.sweep_interval)),
                              float(config.get(SWEEP_GRACE_KEY, self.sweep_grace)))
        service = self.container.service_name
        OUTBOX_LAG.readers[self] = lambda: [([service], relay.lag())]  # pending rows, oldest age
        self._running = True
        self._stopped = Event()
        self.container.spawn_managed_thread(self._relay, identifier="outbox-relay")

    def _relay(self) -> None:
        try:
            self.loop.run(lambda: self._running)
        finally:
            self._stopped.send()

    def stop(self) -> None:
        """Let the thread publish what the service's last workers handed off (they have ended)."""
        self.kill()
        if hasattr(self, "_stopped"):
            with eventlet.Timeout(STOP_WAIT, False):  # a broker that does not answer: a sweep's job later
                self._stopped.wait()  # within one sweep interval, plus the last publish

    def kill(self) -> None:
        self._running = False
        OUTBOX_LAG.readers.pop(self, None)
