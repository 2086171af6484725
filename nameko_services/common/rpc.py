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

import jwt
from kombu.exceptions import OperationalError
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc

from nameko_services.common.auth import TRUSTED_SERVICES, Principal, key_map, verify_service_token
from nameko_services.common.keys import load_public_keys

AUTH_HEADER = "nameko.authorization"
log = logging.getLogger(__name__)


# A token naming a kid we do not know re-reads the key sets, at most this often: a rotated key
# is picked up without a restart, and forged kids cannot make every call read the disk.
KEY_RELOAD_INTERVAL = 5.0
# And they are re-read this often anyway, so a retired key stops verifying without a restart.
KEY_MAX_AGE = 60.0
_trusted: tuple[dict[str, Any], float] | None = None


def trusted_service_keys(kid: str | None = None) -> dict[str, Any]:
    """Public keys (current and previous, see keys.py) of every service allowed to call another."""
    global _trusted
    now = time.monotonic()
    stale = _trusted is None or now - _trusted[1] >= KEY_MAX_AGE or (
        kid is not None and kid not in _trusted[0] and now - _trusted[1] >= KEY_RELOAD_INTERVAL)
    if stale:
        _trusted = (key_map(key for name in TRUSTED_SERVICES for key in load_public_keys(f"service-{name}")),
                    now)
    assert _trusted is not None
    return _trusted[0]


def _kid(token: str | None) -> str | None:
    try:
        kid = jwt.get_unverified_header(token or "").get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) else None


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
    principal = verify_service_token(token, trusted_service_keys(_kid(token)), audience=audience)
    _verified[key] = (principal, time.time() + _VERIFIED_SECONDS)
    if len(_verified) > _VERIFIED_LIMIT:
        _verified.popitem(last=False)
    return principal


class AuthenticatedRpc(Rpc):
    """An ``@rpc`` entrypoint that verifies the caller's service token first."""

    def handle_message(self, body: Any, message: Any) -> None:
        token = (message.headers or {}).get(AUTH_HEADER)
        # Raising here makes nameko's RpcConsumer reply with the serialised error.
        verified_principal(token, self.container.service_name)
        super().handle_message(body, message)

    def handle_result(self, message: Any, worker_ctx: Any, result: Any, exc_info: Any) -> Any:
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except (OperationalError, ConnectionError) as exc:
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
