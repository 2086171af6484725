"""A service's nameko events, heard by this gateway process: one exclusive queue per process.

The queue is server-named, exclusive and auto-deleted, bound with ``#`` to ``<service>.events``
(the topic exchange a service's outbox relay publishes to, ``common.relay``), so every gateway
instance hears every event and nothing outlives the process. What arrives is a hint that
something changed, never a fact to act on: listeners read the current state back over RPC (the
events' signatures are for the services, which act on them). A robust connection restores the
queue, its binding and the consumer after the broker comes back; events sent meanwhile are
simply not heard, so listeners also re-read now and then (``gateway.order_updates``).
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from gateway.rpc import RECONNECT_INTERVAL, open_or_keep_trying

log = logging.getLogger(__name__)

EventHandler = Callable[[str, dict[str, Any]], None]  # (event type, payload)


class EventSubscriber:
    """Calls ``handler(event_type, payload)`` for each event ``service`` publishes."""

    def __init__(self, amqp_uri: str, service: str, handler: EventHandler,
                 reconnect_interval: float = RECONNECT_INTERVAL) -> None:
        self.amqp_uri = amqp_uri
        self.exchange_name = f"{service}.events"
        self.handler = handler
        self.reconnect_interval = reconnect_interval
        self._connection: AbstractRobustConnection | None = None
        self._starting: asyncio.Task[None] | None = None

    @property
    def listening(self) -> bool:
        connection = self._connection
        return connection is not None and connection.connected.is_set()

    async def start(self) -> None:
        """Subscribe now if the broker is there, else keep trying in the background."""
        self._starting = await open_or_keep_trying(self._open, self.reconnect_interval,
                                                   f"subscription to {self.exchange_name}")

    async def _open(self) -> None:
        connection = await aio_pika.connect_robust(self.amqp_uri, reconnect_interval=self.reconnect_interval,
                                                   client_properties={"connection_name": "gateway-events"})
        try:
            channel = await connection.channel()
            # Declared as nameko declares it (durable topic), so either side may come first.
            exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.TOPIC,
                                                      durable=True)
            queue = await channel.declare_queue(exclusive=True, auto_delete=True)
            await queue.bind(exchange, routing_key="#")
            await queue.consume(self._deliver, no_ack=True)
        except BaseException:
            await connection.close()
            raise
        self._connection = connection

    async def _deliver(self, message: AbstractIncomingMessage) -> None:
        try:
            payload = json.loads(message.body)
        except ValueError:
            log.warning("an event on %s is not JSON; ignored", self.exchange_name)
            return
        if isinstance(payload, dict):
            self.handler(message.routing_key or "", payload)

    async def close(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
