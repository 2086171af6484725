"""Publishing many messages with one wait for RabbitMQ's confirms (pipelined publisher confirms).

Confirming each message before sending the next costs a broker round trip per message; here a
whole batch goes out on one channel in confirm mode and the publisher then waits until the
broker has acked every delivery tag of it. Nothing is weaker: the caller still learns that all
of the batch is safe, or an error (a nack, a lost connection, no answer in time), after which
it must assume none of it was (the outbox keeps the rows unsent and publishes them again).
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from amqp import Message
from amqp.exceptions import MessageNacked
from kombu import Connection, Exchange

PERSISTENT = 2
CONFIRM_TIMEOUT = 10.0  # seconds the broker may take to confirm a batch


@dataclass(frozen=True)
class Outgoing:
    """One message to publish: its routing key, JSON body and headers."""

    routing_key: str
    body: dict[str, Any]
    headers: dict[str, Any]


class ConfirmingChannel:
    """One connection and channel in confirm mode, opened on first use and after a failure."""

    def __init__(self, amqp_uri: str, exchange: Exchange, confirm_timeout: float = CONFIRM_TIMEOUT) -> None:
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._channel: Any = None
        self._sent = 0  # the channel's last delivery tag
        self._unconfirmed: set[int] = set()
        self._nacked = 0

    def publish(self, messages: Sequence[Outgoing]) -> None:
        """Send all of ``messages``, then wait for their confirms; a stale connection is replaced once."""
        try:
            self._publish(messages)
        except MessageNacked:
            raise
        except Exception:  # noqa: BLE001 - e.g. the broker restarted since the last batch
            self.close()
            self._publish(messages)

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with suppress(Exception):  # already gone
                connection.release()

    def _publish(self, messages: Sequence[Outgoing]) -> None:
        channel = self._open()
        self._nacked = 0
        for outgoing in messages:
            channel.basic_publish(
                Message(json.dumps(outgoing.body), content_type="application/json", content_encoding="utf-8",
                        delivery_mode=PERSISTENT, application_headers=outgoing.headers),
                exchange=self.exchange.name, routing_key=outgoing.routing_key)
            self._sent += 1
            self._unconfirmed.add(self._sent)
        deadline = time.monotonic() + self.confirm_timeout
        while self._unconfirmed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self._unconfirmed)} unconfirmed after {self.confirm_timeout} s")
            assert self._connection is not None
            self._connection.drain_events(timeout=left)
        if self._nacked:
            raise MessageNacked(f"the broker refused {self._nacked} of {len(messages)} messages")

    def _open(self) -> Any:
        if self._channel is None:
            self._unconfirmed.clear()
            self._sent = 0
            connection = Connection(self.amqp_uri)
            connection.connect()
            channel = connection.channel()
            self.exchange(channel).declare()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._acked)
            channel.events["basic_nack"].add(self._refused)
            self._connection, self._channel = connection, channel
        return self._channel

    def _settle(self, tag: int, multiple: bool) -> int:
        settled = {t for t in self._unconfirmed if t <= tag} if multiple else {tag} & self._unconfirmed
        self._unconfirmed -= settled
        return len(settled)

    def _acked(self, tag: int, multiple: bool) -> None:
        self._settle(tag, multiple)

    def _refused(self, tag: int, multiple: bool) -> None:
        self._nacked += self._settle(tag, multiple)
