"""Runs the outbox relay inside a nameko service and publishes with confirms."""
from __future__ import annotations

import logging
from typing import Any

from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from sqlalchemy import Engine, Table

from nameko_services.common.outbox import OutboxMessage, OutboxRelay

log = logging.getLogger(__name__)


def event_publisher(config: dict[str, Any], service_name: str) -> Any:
    """A function publishing outbox messages to ``<service_name>.events``, confirmed."""
    exchange = get_event_exchange(service_name, config)
    publisher = Publisher(config[AMQP_URI_CONFIG_KEY], serializer="json", declare=[exchange])

    def publish(message: OutboxMessage) -> None:
        publisher.publish(message.payload, exchange=exchange, routing_key=message.event_type,
                          extra_headers=message.headers, use_confirms=True,
                          retry=True, retry_policy={"max_retries": 3})

    return publish


class OutboxRelayRunner(DependencyProvider):
    """Polls the service's outbox in a managed thread while the service runs.

    ``engine_of`` returns the SQLAlchemy engine (usually the ``Database``
    dependency's), so the relay shares the service's connection settings.
    """

    def __init__(self, table: Table, database_attr: str = "db", interval: float = 0.2) -> None:
        self.table = table
        self.database_attr = database_attr
        self.interval = interval
        self._running = False

    def start(self) -> None:
        database = next(dep for dep in self.container.dependencies
                        if getattr(dep, "attr_name", None) == self.database_attr)
        engine: Engine = database.engine
        publish = event_publisher(self.container.config, self.container.service_name)
        self.relay = OutboxRelay(engine, self.table, publish)
        self._running = True
        self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def stop(self) -> None:
        self._running = False

    def kill(self) -> None:
        self._running = False

    def _run(self) -> None:
        import eventlet

        while self._running:
            try:
                if self.relay.relay_batch():
                    continue  # more may be waiting; do not sleep
            except Exception:  # the broker or database is down: try again later
                log.exception("outbox relay pass failed; retrying")
                eventlet.sleep(1)
            eventlet.sleep(self.interval)
