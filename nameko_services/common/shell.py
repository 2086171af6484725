"""Call the services from ``nameko shell`` the way the gateway does: with a service token.

    $ nameko shell --config config/shell.yaml
    >>> from nameko_services.common.shell import connect
    >>> rpc = connect(user_id=ADMIN_ID, roles=["admin"])   # mints a token per service called
    >>> rpc.users.list_users()
    >>> rpc = connect(token)    # or: one token from `shopctl token --service users` ($SHOP_TOKEN)

A service token names one receiving service (``aud``) and lives 60 s, so without a fixed token
``connect`` signs a fresh one with the ``service-shopctl`` key for every call, addressed to
the service being called. A fixed token only works with the service it was made for.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterProxy, ClusterRpcProxy

from nameko_services.common.config import load_config

DEFAULT_TIMEOUT = 30.0


class SignedClusterProxy(ClusterProxy):
    """``proxy.<service>`` that first puts a token for ``<service>`` into the call context."""

    def __init__(self, worker_ctx: Any, reply_listener: Any, token_for: Callable[[str], str]) -> None:
        super().__init__(worker_ctx, reply_listener)
        self._token_for = token_for

    def __getattr__(self, name: str) -> ServiceProxy:
        if name.startswith("_"):
            raise AttributeError(name)
        self._worker_ctx.data["authorization"] = self._token_for(name)
        return super().__getattr__(name)


class ShellRpcProxy(ClusterRpcProxy):
    """A standalone cluster proxy whose calls carry service tokens."""

    def __init__(self, config: dict[str, Any], token_for: Callable[[str], str],
                 timeout: float | None = DEFAULT_TIMEOUT) -> None:
        super().__init__(config, context_data={}, timeout=timeout)
        self._proxy = SignedClusterProxy(self._worker_ctx, self._reply_listener, token_for)


def token_source(token: str | None, user_id: str | None, roles: Iterable[str]) -> Callable[[str], str]:
    """A fixed token (argument, else ``$SHOP_TOKEN``), else tokens minted per service."""
    fixed = token or os.environ.get("SHOP_TOKEN")
    if fixed:
        return lambda service: fixed
    from nameko_services.ops.tokens import mint

    role_list = tuple(roles)
    return lambda service: mint(service, user_id=user_id, roles=role_list)


def connect(token: str | None = None, config_path: str = "config/shell.yaml", *,
            user_id: str | None = None, roles: Iterable[str] = (),
            timeout: float | None = DEFAULT_TIMEOUT) -> Any:
    """A started cluster proxy (``rpc.users.get_user(...)``); call ``rpc.stop()`` when done."""
    proxy = ShellRpcProxy(load_config(config_path), token_source(token, user_id, roles), timeout)
    cluster = proxy.start()
    cluster.stop = proxy.stop
    return cluster
