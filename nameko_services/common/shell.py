"""Call the services from ``nameko shell`` the way the gateway does: with a service token.

    $ nameko shell --config config/shell.yaml
    >>> from nameko_services.common.shell import connect
    >>> rpc = connect()                       # as the operator, with the admin role
    >>> rpc.users.list_users()
    >>> rpc = connect(user_id=USER_ID, roles=["customer"])   # on behalf of that user
    >>> rpc = connect(token=TOKEN)            # one token from `shopctl token --service users`
    >>> rpc.stop()

A service token names one receiving service (``aud``) and lives 60 s, so unless a fixed token is
given (``token=`` or ``$SHOP_TOKEN``), every call gets a fresh token signed with the
``service-shopctl`` key and addressed to the service it goes to, when it is published. A fixed
token only works with the service it was made for. Without a ``user_id`` the calls act for the
operator: user id ``OPERATOR_USER_ID`` (the nil UUID, which is no account) with ``roles``.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy

from nameko_services.common.config import load_config
from nameko_services.common.remote_errors import register_remote_errors
from nameko_services.common.service_rpc import SignedServiceProxy, TokenFor

DEFAULT_TIMEOUT = 30.0
OPERATOR_USER_ID = "00000000-0000-0000-0000-000000000000"
# Errors come back as our classes (OutOfStock, not RemoteError), with their details.
register_remote_errors()


class SignedClusterProxy(ClusterProxy):
    """``proxy.<service>`` / ``proxy["<service>"]`` whose calls carry tokens for that service."""

    def __init__(self, worker_ctx: Any, reply_listener: Any, token_for: TokenFor) -> None:
        super().__init__(worker_ctx, reply_listener)
        self._token_for = token_for

    def __getattr__(self, name: str) -> SignedServiceProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._proxies:
            self._proxies[name] = SignedServiceProxy(self._worker_ctx, name, self._reply_listener,
                                                     token_for=self._token_for)
        proxy: SignedServiceProxy = self._proxies[name]
        return proxy


class ShellRpcProxy(ClusterRpcProxy):
    """A standalone cluster proxy whose calls carry service tokens."""

    def __init__(self, config: dict[str, Any], token_for: TokenFor,
                 timeout: float | None = DEFAULT_TIMEOUT) -> None:
        super().__init__(config, context_data={}, timeout=timeout)
        self._proxy = SignedClusterProxy(self._worker_ctx, self._reply_listener, token_for)


def token_source(token: str | None, user_id: str | None, roles: Iterable[str]) -> TokenFor:
    """A fixed token (argument, else ``$SHOP_TOKEN``), else a fresh token per call and service."""
    fixed = token or os.environ.get("SHOP_TOKEN")
    if fixed:
        return lambda service: fixed
    from nameko_services.ops.tokens import mint

    subject, role_list = user_id or OPERATOR_USER_ID, tuple(roles)
    return lambda service: mint(service, user_id=subject, roles=role_list)


def connect(user_id: str | None = None, roles: Iterable[str] = ("admin",),
            config_path: str = "config/shell.yaml", *, token: str | None = None,
            timeout: float | None = DEFAULT_TIMEOUT) -> Any:
    """A started cluster proxy (``rpc.users.list_users()``); call ``rpc.stop()`` when done."""
    proxy = ShellRpcProxy(load_config(config_path), token_source(token, user_id, roles), timeout)
    cluster = proxy.start()
    cluster.stop = proxy.stop
    return cluster
