"""Runs the outbox relay inside a nameko service (woken by NOTIFY) and publishes with confirms."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

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
from nameko_services.common.listen import ChannelListener, psycopg2_connector
from nameko_services.common.metrics import OUTBOX_LAG, RELAY_PUBLISHED
from nameko_services.common.outbox import EVENT_ID_HEADER, OutboxMessage, OutboxRelay, outbox_channel
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


FALLBACK_INTERVAL_KEY = "OUTBOX_RELAY_FALLBACK_INTERVAL"  # service config, seconds


class RelayLoop:
    """Relays when the outbox announces new rows, and every ``fallback_interval`` regardless.

    The fallback pass publishes rows whose notification was lost (a dropped LISTEN
    connection, a notification drained while another relay held the rows).
    """

    def __init__(self, relay: OutboxRelay, listener: ChannelListener,
                 fallback_interval: float = 1.0, error_pause: float = 1.0) -> None:
        self.relay = relay
        self.listener = listener
        self.fallback_interval = fallback_interval
        self.error_pause = error_pause

    def run(self, running: Callable[[], bool]) -> None:
        """Relay until ``running()`` turns false; the LISTEN connection is closed on the way out."""
        import eventlet

        try:
            while running():
                # The first wait connects and returns at once: rows queued before are relayed.
                self.listener.wait(self.fallback_interval)
                try:
                    # A short batch means the outbox is drained: rows committed since then
                    # have notified and wake the next wait.
                    while running() and self.relay.relay_batch() >= self.relay.batch_size:
                        pass
                except Exception:  # the broker or database is down: try again later
                    log.exception("outbox relay pass failed; retrying")
                    eventlet.sleep(self.error_pause)
        finally:
            self.listener.close()
            close = getattr(getattr(self.relay, "publish", None), "close", None)
            if close is not None:  # the publisher's broker connection
                close()


class OutboxRelayRunner(DependencyProvider):
    """Relays the service's outbox in a managed thread while the service runs.

    Woken by the outbox's NOTIFY (see ``outbox_channel``) on a dedicated connection to
    the ``Database`` dependency's database; polls every ``fallback_interval`` seconds
    (config ``OUTBOX_RELAY_FALLBACK_INTERVAL``) in case a notification is lost.
    """

    def __init__(self, table: Table, database_attr: str = "db", fallback_interval: float = 1.0) -> None:
        self.table = table
        self.database_attr = database_attr
        self.fallback_interval = fallback_interval
        self._running = False

    def start(self) -> None:
        database = next(dep for dep in self.container.dependencies
                        if getattr(dep, "attr_name", None) == self.database_attr)
        engine: Engine = database.engine
        publish = event_publisher(self.container.config, self.container.service_name)
        listener = ChannelListener(
            psycopg2_connector(engine, f"{self.container.service_name}-outbox-relay"),
            outbox_channel(self.table))
        interval = float(self.container.config.get(FALLBACK_INTERVAL_KEY, self.fallback_interval))
        relay = OutboxRelay(engine, self.table, publish)
        self.loop = RelayLoop(relay, listener, interval)
        service = self.container.service_name
        OUTBOX_LAG.readers[self] = lambda: [([service], relay.lag())]  # pending rows, oldest age
        self._running = True
        self.container.spawn_managed_thread(lambda: self.loop.run(lambda: self._running),
                                            identifier="outbox-relay")

    def stop(self) -> None:
        self._running = False
        OUTBOX_LAG.readers.pop(self, None)

    kill = stop
