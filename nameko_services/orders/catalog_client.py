"""The catalog as the orders handlers see it, over signed RPC (``ServiceRpc("catalog")``)."""
from __future__ import annotations

from typing import Any

from nameko_services.orders.domain import Line, Priced


class RemoteCatalog:
    """``catalog.price_items``; its errors pass through typed (stock moves only through the saga)."""

    def __init__(self, proxy: Any) -> None:
        self.proxy = proxy

    def price_items(self, items: list[dict[str, Any]]) -> Priced:
        quote = self.proxy.price_items(items)
        return Priced(quote["currency"], tuple(Line.from_dict(item) for item in quote["items"]))
