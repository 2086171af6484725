"""RPC from one service to another: signed with the caller's own key, with a timeout.

nameko's ``RpcProxy`` forwards the incoming context headers unchanged and waits
forever. ``ServiceRpc`` replaces the ``authorization`` header with a fresh service
token (``iss`` = this service, ``aud`` = the target, the end user carried over),
turns an unknown service into ``ServiceUnavailable`` and a slow one into
``ServiceTimeout``, and raises an error class it does not know as its nearest known base.
Its ``SignedMethodProxy`` is also what ``nameko shell`` calls through (``common.shell``), with
the operator's tokens.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import eventlet
from nameko.exceptions import RemoteError, UnknownService
from nameko.rpc import MethodProxy, RpcProxy, ServiceProxy

from nameko_services.common.auth import Principal, issue_service_token
from nameko_services.common.errors import ServiceTimeout, ServiceUnavailable, rebuild
from nameko_services.common.keys import load_signing_key
from nameko_services.common.rpc import AUTH_HEADER, verified_principal
from nameko_services.common.trace_context import message_headers

DEFAULT_TIMEOUT = 10.0


TokenFor = Callable[[str], str]  # the token for a call to the named service


class SignedMethodProxy(MethodProxy):
    """One remote method whose every message carries a token for its service (``token_for``).

    A service's calls (``ServiceRpc``) wait at most ``timeout`` seconds (``ServiceTimeout``);
    the shell's (``common.shell``) leave the wait to the standalone proxy's own timeout. A
    service nobody consumes is ``ServiceUnavailable`` for both.
    """

    def __init__(self, worker_ctx: Any, service_name: str, method_name: str, reply_listener: Any,
                 *, token_for: TokenFor, timeout: float | None = None, **options: Any) -> None:
        self.token_for = token_for
        self.timeout = timeout
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)

    def get_message_headers(self, worker_ctx: Any) -> dict[str, Any]:
        headers: dict[str, Any] = super().get_message_headers(worker_ctx)
        headers[AUTH_HEADER] = self.token_for(self.service_name)
        # The span current when the call is made (the worker's, or a span inside it) is the
        # callee's parent; without one, the context_data's trace context goes on as it is.
        headers.update(message_headers())
        return headers

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            reply = self._call(*args, **kwargs)
        except UnknownService:
            raise ServiceUnavailable(f"The {self.service_name} service is not running.") from None
        if self.timeout is None:
            return _result(reply)
        with eventlet.Timeout(self.timeout, False):
            return _result(reply)
        raise ServiceTimeout(f"The {self.service_name} service did not answer in time.")


def _result(reply: Any) -> Any:
    """The reply's result; an error class newer than this code (nameko's ``RemoteError``) is
    raised as its nearest known base with its own code, as the gateway does (``common.errors``)."""
    try:
        return reply.result()
    except RemoteError:
        error = (reply.resp_body or {}).get("error") or {}
        rebuilt = rebuild(str(error.get("exc_type", "")), error.get("exc_args"),
                          error.get("exc_bases"), error.get("exc_code"))
        if rebuilt is None:
            raise
        raise rebuilt from None


class SignedServiceProxy(ServiceProxy):
    """``<proxy>.<method>``: each a :class:`SignedMethodProxy` with this proxy's options."""

    def __getattr__(self, name: str) -> SignedMethodProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        return SignedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                 **self.options)


def _principal(worker_ctx: Any) -> Principal | None:
    """The end user of the call this worker runs, carried over to the calls it makes."""
    token = worker_ctx.context_data.get("authorization")
    if not token:
        return None
    return verified_principal(token, worker_ctx.container.service_name)


class ServiceRpc(RpcProxy):
    """Dependency for calling ``target_service``: ``catalog = ServiceRpc("catalog")``."""

    def __init__(self, target_service: str, timeout: float | None = None, **options: Any) -> None:
        super().__init__(target_service, **options)
        self.timeout = timeout

    def setup(self) -> None:
        super().setup()
        self.key = load_signing_key(f"service-{self.container.service_name}")
        self.call_timeout = float(self.timeout or self.container.config.get("RPC_TIMEOUT", DEFAULT_TIMEOUT))

    def get_dependency(self, worker_ctx: Any) -> SignedServiceProxy:
        service = self.container.service_name

        def token_for(audience: str) -> str:  # fresh for each message: it lives 60 s
            return issue_service_token(self.key, service=service, audience=audience,
                                       principal=_principal(worker_ctx))

        # The request expires in the queue when we stop waiting: nobody redoes it for nobody.
        options = {"expiration": self.call_timeout, **self.options}
        return SignedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                  token_for=token_for, timeout=self.call_timeout, **options)
