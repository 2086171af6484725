"""Orders needing attention: list them and retry their compensation (``shopctl attention``).

Both go through the orders service's RPCs (``list_orders_needing_attention``,
``get_order_events``, ``retry_compensation``) with service tokens signed by ``shopctl``, the
same path as an admin's call: one code path for the decision, its authorisation, its events
and the outbox the running service relays. Working on the database directly would bypass
that (and need the orders database's credentials where only the broker is reachable).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nameko_services.common.errors import ServiceUnavailable
from nameko_services.ops.endpoints import amqp_uri

COMPENSATION_FAILED = "CompensationFailed"
COMPENSATION_RETRIED = "CompensationRetried"
PER_PAGE = 100  # the most orders.list_orders_needing_attention returns at once
DEFAULT_TIMEOUT = 30.0

Call = Callable[..., Any]  # call(method, *args, **kwargs) on the orders service


class OrdersUnreachable(RuntimeError):
    """The orders service did not answer (not running, or no broker)."""


@dataclass(frozen=True)
class AttentionItem:
    """One row of ``shopctl attention list``."""

    order_id: str
    status: str
    reason: str
    since: str


def attention_since(events: Iterable[Mapping[str, Any]]) -> str | None:
    """When the order's current need for attention began: its first failed compensation
    after the last retry (later failures of the same kind do not restart the clock)."""
    since: str | None = None
    for event in events:
        if event["type"] == COMPENSATION_FAILED and since is None:
            since = event["occurred_at"]
        elif event["type"] == COMPENSATION_RETRIED:
            since = None
    return since


def list_attention(call: Call) -> list[AttentionItem]:
    """Every order needing attention, oldest need first."""
    items: list[AttentionItem] = []
    page = 1
    while True:
        result = call("list_orders_needing_attention", page=page, per_page=PER_PAGE)
        for order in result["items"]:
            since = attention_since(call("get_order_events", order["id"])) or order["updated_at"]
            items.append(AttentionItem(order["id"], order["status"], order["attention_reason"] or "",
                                       since))
        if page * PER_PAGE >= result["total"] or not result["items"]:
            break
        page += 1
    return sorted(items, key=lambda item: (item.since, item.order_id))


def retry(call: Call, order_id: str) -> dict[str, Any]:
    """Ask again for the order's failed compensation; the order as it is afterwards."""
    order: dict[str, Any] = call("retry_compensation", order_id)
    return order


def table(items: Sequence[AttentionItem]) -> str:
    """The items as aligned text columns, with a header."""
    rows = [("ORDER ID", "STATUS", "SINCE", "REASON")]
    rows += [(item.order_id, item.status, item.since, item.reason) for item in items]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:<{widths[2]}}  {d}".rstrip()
                     for a, b, c, d in rows)


class OrdersClient:
    """``call(method, ...)`` on the orders service over RabbitMQ, as the operator (admin)."""

    def __init__(self, env: Mapping[str, str] = os.environ, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.env = env
        self.timeout = timeout
        self._proxy: Any = None
        self._cluster: Any = None

    def __enter__(self) -> Call:
        # Imported here: only these commands need nameko's RPC client.
        from nameko_services.common.shell import ShellRpcProxy
        from nameko_services.ops.tokens import mint

        # No user in the token: the orders service lets shopctl act as an admin (ACT_AS_ADMIN in
        # common.auth.SERVICE_CAPABILITIES).
        self._proxy = ShellRpcProxy({"AMQP_URI": amqp_uri(self.env)}, lambda service: mint(service),
                                    timeout=self.timeout)
        try:
            self._cluster = self._proxy.start()
        except OSError as exc:
            raise OrdersUnreachable(f"cannot reach the broker: {exc}") from exc
        return self.call

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        from nameko.exceptions import RpcTimeout

        try:
            return getattr(self._cluster.orders, method)(*args, **kwargs)
        except ServiceUnavailable as exc:
            raise OrdersUnreachable("the orders service is not running (no one consumes its "
                                    "RPC queue)") from exc
        except RpcTimeout as exc:
            raise OrdersUnreachable(f"the orders service did not answer within "
                                    f"{self.timeout:.0f} s") from exc

    def __exit__(self, *exc: object) -> None:
        self._proxy.stop()
