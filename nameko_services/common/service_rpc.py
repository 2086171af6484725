"""RPC from one service to another: signed with the caller's own key, with a timeout.

nameko's ``RpcProxy`` forwards the incoming context headers unchanged and waits
forever. ``ServiceRpc`` replaces the ``authorization`` header with a fresh service
token (``iss`` = this service, ``aud`` = the target, the end user carried over),
turns an unknown service into ``ServiceUnavailable`` and a slow one into
``ServiceTimeout``.
"""
from __future__ import annotations

from typing import Any

import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import MethodProxy, RpcProxy

from nameko_services.common.auth import Principal, issue_service_token
from nameko_services.common.errors import ServiceTimeout, ServiceUnavailable
from nameko_services.common.keys import SigningKey, load_signing_key
from nameko_services.common.rpc import AUTH_HEADER, verified_principal

DEFAULT_TIMEOUT = 10.0


class SignedMethodProxy(MethodProxy):
    """One remote method, called with this service's token and a deadline."""

    def __init__(self, worker_ctx: Any, service_name: str, method_name: str, reply_listener: Any,
                 *, key: SigningKey, timeout: float, **options: Any) -> None:
        self.key = key
        self.timeout = timeout
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)

    def _principal(self, worker_ctx: Any) -> Principal | None:
        token = worker_ctx.context_data.get("authorization")
        if not token:
            return None
        return verified_principal(token, worker_ctx.container.service_name)

    def get_message_headers(self, worker_ctx: Any) -> dict[str, Any]:
        headers = super().get_message_headers(worker_ctx)
        headers[AUTH_HEADER] = issue_service_token(
            self.key, service=worker_ctx.container.service_name, audience=self.service_name,
            principal=self._principal(worker_ctx))
        return headers

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            reply = self._call(*args, **kwargs)
        except UnknownService:
            raise ServiceUnavailable(f"The {self.service_name} service is not running.") from None
        with eventlet.Timeout(self.timeout, False):
            return reply.result()
        raise ServiceTimeout(f"The {self.service_name} service did not answer in time.")


class SignedServiceProxy:
    def __init__(self, worker_ctx: Any, service_name: str, reply_listener: Any, **options: Any) -> None:
        self.worker_ctx = worker_ctx
        self.service_name = service_name
        self.reply_listener = reply_listener
        self.options = options

    def __getattr__(self, name: str) -> SignedMethodProxy:
        return SignedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener,
                                 **self.options)


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
        # The request expires in the queue when we stop waiting: nobody redoes it for nobody.
        options = {"expiration": self.call_timeout, **self.options}
        return SignedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                  key=self.key, timeout=self.call_timeout, **options)
