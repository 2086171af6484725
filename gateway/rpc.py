"""The gateway's asyncio RPC client, speaking nameko's wire protocol (docs/ARCHITECTURE.md).

One robust AMQP connection and one exclusive reply queue per process; any number of
calls in flight, each waiting on a future keyed by its correlation id. Requests go to
the ``nameko-rpc`` exchange with routing key ``<service>.<method>``, ``mandatory`` and
publisher confirms, so a service with no queue fails fast; one whose queue nobody consumes
(every instance stopped) fails fast too, by ``gateway.presence``. Broker trouble, timeouts and
unknown remote errors are translated here, once, into typed errors.

The broker may be several nodes (``AMQP_URI`` with addresses separated by ``;``, as the services'
kombu takes it): the client connects to the first that answers, and when its connection is lost
and does not come back within ``reconnect_interval`` it moves on to the next.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from gateway.context import current_request_id
from gateway.errors import BadGateway
from gateway.presence import PRESENCE_TTL, ServicePresence
from nameko_services.common.auth import Principal, issue_service_token
from nameko_services.common.broker import broker_addresses, redact_addresses
from nameko_services.common.errors import ServiceTimeout, ServiceUnavailable, rebuild
from nameko_services.common.keys import SigningKey, load_signing_key
from nameko_services.common.trace_context import message_headers

log = logging.getLogger(__name__)

EXCHANGE = "nameko-rpc"
# nameko_services.common.rpc.AUTH_HEADER; not imported from there, it pulls in eventlet.
AUTH_HEADER = "nameko.authorization"
SERVICE_NAME = "gateway"
RECONNECT_INTERVAL = 1.0
# Failures to reach or talk to the broker; all of them mean "try again later".
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AMQPError, aiormq.exceptions.ChannelInvalidStateError, ConnectionError, OSError,
)


async def open_or_keep_trying(open_: Callable[[], Awaitable[None]], interval: float,
                              what: str) -> asyncio.Task[None] | None:
    """Open now if the broker is there (None), else a task that retries every ``interval``
    seconds until it opens: the gateway starts and serves its 503s while the broker is away."""
    try:
        await open_()
        return None
    except BROKER_ERRORS as exc:
        log.warning("%s: broker not reachable (%s); retrying every %.0f s", what, exc, interval)

    async def eventually() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await open_()
                return
            except BROKER_ERRORS as exc:
                log.debug("%s: broker still not reachable: %s", what, exc)

    return asyncio.create_task(eventually())


class RpcClient(Protocol):
    """What routes need from RPC: call a method, know whether the broker is there."""

    @property
    def connected(self) -> bool: ...

    async def call(self, service: str, method: str, *, principal: Principal | None = None,
                   **kwargs: Any) -> Any: ...


def not_running(service: str) -> ServiceUnavailable:
    """The error of a call to a service without a running instance (503, the service named)."""
    return ServiceUnavailable(f"The {service} service is not running.", {"service": service})


def result_of(reply: dict[str, Any], service: str, method: str) -> Any:
    """The result of a nameko reply, or its error rebuilt as a typed ``ServiceError``."""
    error = reply.get("error")
    if not error:
        return reply.get("result")
    exc_type = str(error.get("exc_type", ""))
    # A class newer than this gateway is answered as its nearest known base (a new Conflict: 409).
    rebuilt = rebuild(exc_type, error.get("exc_args"), error.get("exc_bases"), error.get("exc_code"))
    if rebuilt is not None:
        if type(rebuilt).__name__ != exc_type:
            log.warning("%s.%s answered with %s, unknown here: mapped as its base %s", service,
                        method, exc_type, type(rebuilt).__name__)
        raise rebuilt
    # Log what the service said; the client only learns that something went wrong.
    log.error("%s.%s answered with an unknown error %s (%s): %s", service, method, exc_type,
              error.get("exc_path"), error.get("value"))
    raise BadGateway()


class AmqpRpcClient:
    """A nameko RPC client for asyncio: ``await client.call("users", "get_me", principal=p)``."""

    def __init__(self, amqp_uri: str, *, timeout: float = 10.0, key: SigningKey | None = None,
                 reconnect_interval: float = RECONNECT_INTERVAL, presence_ttl: float = PRESENCE_TTL) -> None:
        self.amqp_uri = amqp_uri
        self.addresses = broker_addresses(amqp_uri)
        self._address = 0  # the one connected to, or to try first
        self.timeout = timeout
        self.reconnect_interval = reconnect_interval
        self.presence_ttl = presence_ttl
        self.reply_to = f"rpc.reply-{SERVICE_NAME}-{uuid.uuid4()}"
        self._key = key
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._queue: AbstractQueue | None = None
        self._presence: ServicePresence | None = None
        self._starting: asyncio.Task[None] | None = None
        self._failing_over: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up (false while it reconnects)."""
        connection = self._connection
        return connection is not None and connection.connected.is_set() and self._exchange is not None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        """Connect now if the broker is there, else keep trying in the background."""
        if self._key is None:
            self._key = load_signing_key(f"service-{SERVICE_NAME}")
        self._starting = await open_or_keep_trying(self._open, self.reconnect_interval, "RPC client")

    async def _open(self) -> None:
        """Connect to the first broker address that answers, from the current one on."""
        error: BaseException | None = None
        for _ in self.addresses:
            try:
                return await self._open_at(self.addresses[self._address])
            except BROKER_ERRORS as exc:
                error = exc
                if len(self.addresses) > 1:
                    log.warning("broker %s not reachable (%s); trying the next",
                                redact_addresses(self.addresses[self._address]), exc)
                self._address = (self._address + 1) % len(self.addresses)
        assert error is not None
        raise error

    async def _open_at(self, address: str) -> None:
        connection = await aio_pika.connect_robust(address, reconnect_interval=self.reconnect_interval,
                                                   client_properties={"connection_name": self.reply_to})
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
            queue = await channel.declare_queue(self.reply_to, exclusive=True, auto_delete=True)
            await queue.bind(exchange, routing_key=self.reply_to)
            await queue.consume(self._on_reply, no_ack=True)
            presence = ServicePresence(await connection.channel(publisher_confirms=False), self.presence_ttl)
        except BaseException:
            await connection.close()
            raise
        # The robust channel re-declares and re-binds the queue after a reconnection.
        connection.close_callbacks.add(self._on_connection_lost)
        connection.reconnect_callbacks.add(self._on_reconnected)
        self._connection, self._channel, self._exchange, self._queue = connection, channel, exchange, queue
        self._presence = presence
        log.info("RPC client connected to %s; replies on %s", redact_addresses(address), self.reply_to)

    async def close(self) -> None:
        """Fail whatever is still waiting and close the connection."""
        self._closing = True
        for task in (self._starting, self._failing_over):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._fail_pending("The gateway is shutting down.")
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._channel = self._exchange = self._queue = None
        self._presence = None

    def _on_connection_lost(self, connection: Any = None, *_: Any) -> None:
        log.warning("broker connection lost; %d calls in flight fail", len(self._pending))
        self._fail_pending("The connection to the message broker was lost.")
        current = self._connection
        if len(self.addresses) > 1 and current is not None and connection is current and not self._closing:
            self._failing_over = asyncio.get_running_loop().create_task(self._fail_over(current))

    async def _fail_over(self, lost: AbstractRobustConnection) -> None:
        """Give the lost node ``reconnect_interval`` to come back (a blip), else use the next one."""
        await asyncio.sleep(self.reconnect_interval)
        if lost is not self._connection or lost.connected.is_set():
            return
        self._connection = self._channel = self._exchange = self._queue = None
        self._presence = None
        with contextlib.suppress(Exception):  # it is reconnecting to a dead node: just stop it
            await lost.close()
        self._address = (self._address + 1) % len(self.addresses)
        while not self._closing:
            try:
                await self._open()
                return
            except BROKER_ERRORS as exc:
                log.warning("no broker node reachable (%s); retrying in %.0f s", exc, self.reconnect_interval)
                await asyncio.sleep(self.reconnect_interval)

    def _on_reconnected(self, *_: Any) -> None:
        log.info("broker connection restored; replies on %s", self.reply_to)

    def _fail_pending(self, message: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ServiceUnavailable(message))
        self._pending.clear()

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.pop(message.correlation_id or "", None)
        if future is None or future.done():
            return  # the caller gave up (timeout) or the id is not ours
        try:
            reply = json.loads(message.body)
        except ValueError as exc:
            log.error("unreadable RPC reply (%s): %r", exc, message.body[:200])
            future.set_exception(BadGateway())
            return
        future.set_result(reply if isinstance(reply, dict) else {"error": {"exc_type": "?"}})

    def _headers(self, service: str, method: str, principal: Principal | None) -> dict[str, Any]:
        assert self._key is not None
        token = issue_service_token(self._key, service=SERVICE_NAME, audience=service, principal=principal)
        # The current span (the HTTP request's) as nameko.traceparent: the parent of the call's.
        return {AUTH_HEADER: token, "nameko.correlation_id": current_request_id(),
                "nameko.call_id_stack": [f"{SERVICE_NAME}.{method}.{uuid.uuid4()}"], **message_headers()}

    def _message(self, service: str, method: str, principal: Principal | None,
                 kwargs: dict[str, Any], correlation_id: str) -> aio_pika.Message:
        body = json.dumps({"args": [], "kwargs": kwargs}).encode()
        return aio_pika.Message(body, content_type="application/json", content_encoding="utf-8",
                                correlation_id=correlation_id, reply_to=self.reply_to,
                                headers=self._headers(service, method, principal),
                                delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
                                # Unread when we stop waiting, the request expires: no service
                                # acts on a call whose caller already answered the client 504.
                                expiration=self.timeout)

    async def call(self, service: str, method: str, *, principal: Principal | None = None,
                   **kwargs: Any) -> Any:
        """Call ``service.method(**kwargs)`` as ``principal``; raise typed errors."""
        exchange = self._exchange
        if exchange is None or not self.connected:
            raise ServiceUnavailable("The message broker is not reachable.")
        correlation_id = str(uuid.uuid4())
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        try:
            async with asyncio.timeout(self.timeout):
                await self._require_running(service)
                await self._publish(exchange, service, method,
                                    self._message(service, method, principal, kwargs, correlation_id))
                reply = await future
        except TimeoutError:
            raise ServiceTimeout(f"The {service} service did not answer in time.") from None
        finally:
            self._pending.pop(correlation_id, None)
        return result_of(reply, service, method)

    async def _require_running(self, service: str) -> None:
        """Fail at once when no instance of ``service`` is running; when unsure, let the call try."""
        if self._presence is None:
            return
        try:
            running = await self._presence.is_running(service)
        except BROKER_ERRORS as exc:
            log.warning("cannot tell whether %s is running (%r); calling it anyway", service, exc)
            return
        if not running:
            raise not_running(service)

    async def _publish(self, exchange: AbstractExchange, service: str, method: str,
                       message: aio_pika.Message) -> None:
        try:
            await exchange.publish(message, routing_key=f"{service}.{method}", mandatory=True)
        except aio_pika.exceptions.PublishError:
            raise not_running(service) from None
        except aio_pika.exceptions.DeliveryError:
            raise ServiceUnavailable("The message broker refused the call.") from None
        except BROKER_ERRORS as exc:
            log.warning("publishing %s.%s failed: %r", service, method, exc)
            raise ServiceUnavailable("The message broker is not reachable.") from None

