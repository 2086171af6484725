"""The catalog's public reads (a product, a page of products, the categories): served from this
process's ``ReadCache`` and said to be cacheable (``Cache-Control: public``, a strong ``ETag``,
``304`` when ``If-None-Match`` matches), while every other answer stays ``no-store``.

Only what an anonymous reader gets is ever kept: the cache loads without the caller's identity,
and admins, who also see inactive products, neither read from it nor fill it (their answers stay
``no-store``). The catalog's events on ``catalog.events`` drop what they changed (``heard``), the
gateway drops what its own writes changed at once, and the TTL bounds whatever else.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.read_cache import CachedBody, Key, ReadCache
from nameko_services.common.auth import Principal

if TYPE_CHECKING:
    from gateway.routing import Context

PUBLIC_MAX_AGE = 1  # seconds: what a browser or proxy may reuse is as fresh as our own cache
PUBLIC_CACHE_CONTROL = f"public, max-age={PUBLIC_MAX_AGE}"
CATEGORIES: Key = ("categories",)
# Catalog events after which no anonymous reader's answer differs: a commit turns reserved
# units into shipped ones (available stays), a failed reservation holds nothing.
CHANGES_NOTHING_PUBLIC = frozenset({"stock_committed", "stock_reservation_failed"})


def product_key(product_id: str) -> Key:
    return ("product", product_id)


def products_key(query: dict[str, Any]) -> Key:
    """A page of products, by its validated query (so ``?page=1`` and no page are one entry)."""
    return ("products", tuple(sorted(query.items())))


def reads_as_anyone(principal: Principal | None) -> bool:
    """Whether the catalog answers this caller as it answers an anonymous one: all but admins."""
    return principal is None or not principal.is_admin


async def public_read(ctx: Context, key: Key, method: str, **kwargs: Any) -> Response:
    """The catalog's answer to ``method(**kwargs)`` as an anonymous caller gets it, cached."""
    cache: ReadCache = ctx.request.app.state.read_cache
    # No principal: the gateway's own token with no end user, whoever is asking.
    cached = await cache.get(key, lambda: ctx.rpc.call("catalog", method, **kwargs))
    return public_answer(ctx.request, cached)


def public_answer(request: Request, cached: CachedBody) -> Response:
    """200 with the body, or 304 without one when the client already has this version."""
    headers = {"Cache-Control": PUBLIC_CACHE_CONTROL, "ETag": cached.etag}
    if etag_matches(request.headers.get("if-none-match"), cached.etag):
        return Response(status_code=304, headers=headers)
    return Response(cached.body, media_type="application/json", headers=headers)


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 13.1.2: ``*`` or any listed tag equal to ours, by weak comparison (``W/`` ignored)."""
    if not if_none_match:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def dropped_products(event_type: str, payload: dict[str, Any]) -> frozenset[str] | None:
    """The products whose public answers an event changed; None when it may be any of them."""
    if event_type in CHANGES_NOTHING_PUBLIC:
        return frozenset()
    ids: list[Any]
    if event_type == "product_changed":
        ids = [payload.get("product_id")]
    elif event_type == "stock_reserved":  # its items are all it moved
        items = payload.get("items")
        ids = [item.get("product_id") if isinstance(item, dict) else None
               for item in (items if isinstance(items, list) else [None])]
    else:  # stock_released / stock_adjusted name no product (or not every one they moved)
        return None
    return frozenset(ids) if all(isinstance(i, str) for i in ids) else None


def drop_products(cache: ReadCache, product_ids: frozenset[str] = frozenset()) -> None:
    """Forget these products and every page of products (any page may show them)."""
    keys = {product_key(product_id) for product_id in product_ids}
    cache.drop(lambda key: key[0] == "products" or key in keys)


def listener(cache: ReadCache) -> Callable[[str, dict[str, Any]], None]:
    """The ``gateway.events`` handler for ``catalog.events`` that keeps ``cache`` current."""
    def heard(event_type: str, payload: dict[str, Any]) -> None:
        products = dropped_products(event_type, payload)
        if products is None:
            cache.drop_all()
        elif products:
            drop_products(cache, products)
    return heard
