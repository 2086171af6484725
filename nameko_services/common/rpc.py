"""The authenticated RPC entrypoint and the ``Caller`` dependency.

Use ``rpc`` from here instead of ``nameko.rpc.rpc``: a call whose
``nameko.authorization`` header is not a valid service token for this service is
answered with ``NotAuthenticated`` and never reaches the method.
"""
from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any

from kombu import Queue
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc

from nameko_services.common.auth import TRUSTED_SERVICES, Principal, verify_service_token
from nameko_services.common.broker import BROKER_GONE
from nameko_services.common.key_sets import ReloadingKeySet
from nameko_services.common.queues import declare, of_type, queue_type
from nameko_services.common.remote_errors import LineageRpcConsumer, register_remote_errors

AUTH_HEADER = "nameko.authorization"
log = logging.getLogger(__name__)
# Every service imports this module: its calls to others get our error classes back.
register_remote_errors()


# Every service allowed to call another; the set follows key rotations (key_sets.py).
TRUSTED_SERVICE_KEYS = ReloadingKeySet(f"service-{name}" for name in TRUSTED_SERVICES)


def trusted_service_keys(token: str | None = None) -> dict[str, Any]:
    """Public keys (current and previous, see keys.py) of every service allowed to call another."""
    return TRUSTED_SERVICE_KEYS.for_token(token)


_VERIFIED_LIMIT = 4096
# Long enough to span one call (entrypoint, then Caller), short next to the 30 s leeway.
_VERIFIED_SECONDS = 5.0
_verified: OrderedDict[tuple[str, str], tuple[Principal, float]] = OrderedDict()


def verified_principal(token: str | None, audience: str) -> Principal:
    """Verify a service token, remembering the result while the token is fresh.

    The entrypoint and the ``Caller`` dependency both need the principal of one call;
    signature checks are a good part of a small call's CPU, so the second is a lookup.
    """
    key = (token or "", audience)
    hit = _verified.get(key)
    if hit is not None and hit[1] > time.time():
        return hit[0]
    principal = verify_service_token(token, trusted_service_keys(token), audience=audience)
    _verified[key] = (principal, time.time() + _VERIFIED_SECONDS)
    if len(_verified) > _VERIFIED_LIMIT:
        _verified.popitem(last=False)
    return principal


class TypedRpcConsumer(LineageRpcConsumer):
    """The RPC consumer whose ``rpc-<service>`` queue is of the configured type (common.queues)."""

    queue: Queue

    def setup(self) -> None:
        super().setup()
        self.queue = of_type(self.queue, queue_type(self.container.config))
        try:  # now, so a queue of the other type stops the start with the way out
            declare(self.container.config[AMQP_URI_CONFIG_KEY], [self.queue])
        except BROKER_GONE as exc:  # no broker yet: nameko's consumer waits for it and declares then
            log.warning("could not declare %s yet: %s", self.queue.name, exc)


class AuthenticatedRpc(Rpc):
    """An ``@rpc`` entrypoint that verifies the caller's service token first."""

    # Its error replies also name the error's base classes (common.remote_errors).
    rpc_consumer = TypedRpcConsumer()

    def handle_message(self, body: Any, message: Any) -> None:
        token = (message.headers or {}).get(AUTH_HEADER)
        # Raising here makes nameko's RpcConsumer reply with the serialised error.
        verified_principal(token, self.container.service_name)
        super().handle_message(body, message)

    def handle_result(self, message: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_GONE as exc:
            # The broker went away between the request and the reply. Raised here, this would
            # kill the whole container (nameko treats it as a crashed worker thread). The caller
            # times out instead and retries; its request expires in the queue (callers set a TTL
            # equal to their timeout), so it is not redone long after the caller gave up.
            log.warning("could not send the reply to %s: %s", worker_ctx.call_id, exc)
            return result, exc_info


rpc = AuthenticatedRpc.decorator


class Caller(DependencyProvider):
    """The verified ``Principal`` of the current call (anonymous if none)."""

    def get_dependency(self, worker_ctx: Any) -> Principal:
        token = worker_ctx.context_data.get("authorization")
        if not token:
            return Principal()
        return verified_principal(token, self.container.service_name)
