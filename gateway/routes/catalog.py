"""Categories, products and stock: /api/v1/categories, /api/v1/products."""
from __future__ import annotations

from starlette.responses import JSONResponse, Response

from gateway.auth import ADMIN, ANYONE, authorize
from gateway.catalog_cache import (
    CATEGORIES,
    drop_products,
    product_key,
    products_key,
    public_read,
    reads_as_anyone,
)
from gateway.ratelimit import EXPENSIVE
from gateway.read_cache import ReadCache
from gateway.responses import Category, Product, ProductPage, Stock
from gateway.routing import Context, Endpoint
from gateway.schemas import (
    CategoryBody,
    CategoryChanges,
    CategoryQuery,
    ProductBody,
    ProductChanges,
    ProductQuery,
    StockBody,
)
from nameko_services.common.auth import CATALOG_WRITE
from nameko_services.common.errors import CategoryNotFound, ProductNotFound


def _cache(ctx: Context) -> ReadCache:
    cache: ReadCache = ctx.request.app.state.read_cache
    return cache


async def list_categories(ctx: Context) -> Response:
    if ctx.query()["include_inactive"]:
        authorize(ctx.principal, ADMIN)  # inactive categories are for admins only, never cached
        return JSONResponse(await ctx.call("catalog", "list_categories", include_inactive=True))
    return await public_read(ctx, CATEGORIES, "list_categories")


async def create_category(ctx: Context) -> Response:
    created = await ctx.call("catalog", "create_category", payload=await ctx.body())
    _cache(ctx).drop_all()  # this process's own write is visible at once, not after the event
    return JSONResponse(created, status_code=201)


async def update_category(ctx: Context) -> Response:
    category_id = ctx.path_id("category_id", CategoryNotFound)
    changes = await ctx.body()
    updated = await ctx.call("catalog", "update_category", category_id=category_id, changes=changes)
    _cache(ctx).drop_all()
    return JSONResponse(updated)


async def delete_category(ctx: Context) -> Response:
    await ctx.call("catalog", "delete_category", category_id=ctx.path_id("category_id", CategoryNotFound))
    _cache(ctx).drop_all()
    return Response(status_code=204)


async def list_products(ctx: Context) -> Response:
    query = ctx.query()
    if query["include_inactive"]:
        authorize(ctx.principal, ADMIN)  # inactive products are for admins only
    if not reads_as_anyone(ctx.principal):
        return JSONResponse(await ctx.call("catalog", "list_products", **query))
    return await public_read(ctx, products_key(query), "list_products", **query)


async def get_product(ctx: Context) -> Response:
    product_id = ctx.path_id("product_id", ProductNotFound)
    if not reads_as_anyone(ctx.principal):  # an admin also sees inactive products: never cached
        return JSONResponse(await ctx.call("catalog", "get_product", product_id=product_id))
    return await public_read(ctx, product_key(product_id), "get_product", product_id=product_id)


async def create_product(ctx: Context) -> Response:
    created = await ctx.call("catalog", "create_product", payload=await ctx.body())
    drop_products(_cache(ctx))  # a new product is on no cached page yet
    return JSONResponse(created, status_code=201)


async def update_product(ctx: Context) -> Response:
    product_id = ctx.path_id("product_id", ProductNotFound)
    changes = await ctx.body()
    updated = await ctx.call("catalog", "update_product", product_id=product_id, changes=changes)
    drop_products(_cache(ctx), frozenset({product_id}))
    return JSONResponse(updated)


async def deactivate_product(ctx: Context) -> Response:
    product_id = ctx.path_id("product_id", ProductNotFound)
    deactivated = await ctx.call("catalog", "deactivate_product", product_id=product_id)
    drop_products(_cache(ctx), frozenset({product_id}))
    return JSONResponse(deactivated)


async def get_stock(ctx: Context) -> Response:
    product_id = ctx.path_id("product_id", ProductNotFound)
    return JSONResponse(await ctx.call("catalog", "get_stock", product_id=product_id))


async def set_stock(ctx: Context) -> Response:
    product_id = ctx.path_id("product_id", ProductNotFound)
    level = await ctx.call("catalog", "set_stock", product_id=product_id, **await ctx.body())
    drop_products(_cache(ctx), frozenset({product_id}))
    return JSONResponse(level)


CATEGORY = "/api/v1/categories/{category_id}"
PRODUCT = "/api/v1/products/{product_id}"

ENDPOINTS = [
    Endpoint("GET", "/api/v1/categories", list_categories, "Every active category (admins: include_inactive)",
             "catalog", query=CategoryQuery, errors=(401, 403), answer=Category, many=True, also=(304,)),
    Endpoint("POST", "/api/v1/categories", create_category, "Add a category", "catalog", ADMIN,
             status=201, body=CategoryBody, errors=(409,), scope=CATALOG_WRITE, answer=Category),
    Endpoint("PATCH", CATEGORY, update_category, "Rename, re-slug, move or (de)activate a category",
             "catalog", ADMIN, body=CategoryChanges, errors=(404, 409), scope=CATALOG_WRITE, answer=Category),
    Endpoint("DELETE", CATEGORY, delete_category, "Delete an unused category", "catalog", ADMIN,
             status=204, errors=(404, 409), scope=CATALOG_WRITE),
    Endpoint("GET", "/api/v1/products", list_products, "A page of products, searched and filtered",
             "catalog", ANYONE, query=ProductQuery, rate=EXPENSIVE, answer=ProductPage, also=(304,)),
    Endpoint("GET", PRODUCT, get_product, "One product", "catalog", ANYONE, errors=(404,),
             answer=Product, also=(304,)),
    Endpoint("POST", "/api/v1/products", create_product, "Add a product with its initial stock", "catalog",
             ADMIN, scope=CATALOG_WRITE, status=201, body=ProductBody, errors=(409,), answer=Product),
    Endpoint("PATCH", PRODUCT, update_product, "Change a product", "catalog", ADMIN, body=ProductChanges,
             errors=(404, 409), scope=CATALOG_WRITE, answer=Product),
    Endpoint("DELETE", PRODUCT, deactivate_product, "Deactivate a product (hidden from customers)",
             "catalog", ADMIN, scope=CATALOG_WRITE, errors=(404,), answer=Product),
    Endpoint("GET", f"{PRODUCT}/stock", get_stock, "On hand, reserved and available units", "catalog",
             ADMIN, scope=CATALOG_WRITE, errors=(404,), answer=Stock),
    Endpoint("PUT", f"{PRODUCT}/stock", set_stock, "Set the units on hand", "catalog", ADMIN,
             body=StockBody, errors=(404, 409), scope=CATALOG_WRITE, answer=Stock),
]
