"""The catalog nameko service: thin entrypoints that load, hand the caller to the use case and dump.

Besides the admin RPCs it takes part in the order saga (docs/SAGA.md): ``price_items`` for
the orders service, and handlers of ``orders.order_placed``, ``stock_adjustment_requested``,
``order_confirmed`` and ``order_cancelled`` whose answers (``stock_reserved``,
``stock_reservation_failed``, ``stock_adjusted``, ``stock_adjustment_failed``,
``stock_committed``, ``stock_released``) leave through the catalog's outbox to
``catalog.events``.
"""
from __future__ import annotations

from functools import partial
from typing import Any

from nameko_services.catalog import handlers, saga, schemas
from nameko_services.catalog.models import outbox
from nameko_services.catalog.repository import SqlUnitOfWork
from nameko_services.common.db import Database
from nameko_services.common.events import event_handler
from nameko_services.common.relay import OutboxRelayRunner
from nameko_services.common.rpc import rpc
from nameko_services.common.service import ShopService
from nameko_services.common.validation import load

Json = dict[str, Any]


class CatalogService(ShopService):
    """Categories, products and the stock that orders reserve."""

    name = "catalog"

    db = Database("core")
    relay = OutboxRelayRunner(outbox)

    @property
    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db)

    @rpc
    def list_categories(self, include_inactive: bool = False) -> list[Json]:
        """Every category, ordered by name; inactive ones only for admins who ask for them."""
        listed = handlers.list_categories(self.uow, self.caller, include_inactive is True)
        return [schemas.dump_category(c) for c in listed]

    @rpc
    def create_category(self, payload: Json) -> Json:
        """Add a category (admin); the slug is made from the name when absent."""
        read = partial(load, schemas.CreateCategorySchema, payload)
        return schemas.dump_category(handlers.create_category(self.uow, self.caller, read))

    @rpc
    def update_category(self, category_id: str, changes: Json) -> Json:
        """Rename, re-slug, move, deactivate or reactivate a category (admin)."""
        read = partial(load, schemas.UpdateCategorySchema, changes)
        return schemas.dump_category(handlers.update_category(self.uow, self.caller, category_id, read))

    @rpc
    def delete_category(self, category_id: str) -> None:
        """Delete a category nothing points at (admin)."""
        handlers.delete_category(self.uow, self.caller, category_id)

    @rpc
    def list_products(self, category_id: str | None = None, q: str | None = None, page: int = 1,
                      per_page: int = 20, include_inactive: bool = False) -> Json:
        """A page of products, searched and filtered; inactive ones only for admins."""
        query = load(schemas.ProductQuerySchema, {
            "category_id": category_id, "q": q, "page": page, "per_page": per_page,
            "include_inactive": include_inactive})
        return handlers.list_products(self.uow, self.caller, query).document(schemas.dump_product)

    @rpc
    def get_product(self, product_id: str) -> Json:
        """One product; an inactive one is not found unless the caller is an admin."""
        return schemas.dump_product(handlers.get_product(self.uow, self.caller, product_id))

    @rpc
    def create_product(self, payload: Json) -> Json:
        """Add a product with its initial stock (admin)."""
        read = partial(load, schemas.CreateProductSchema, payload)
        return schemas.dump_product(handlers.create_product(self.uow, self.caller, read))

    @rpc
    def update_product(self, product_id: str, changes: Json) -> Json:
        """Change a product's fields (admin)."""
        read = partial(load, schemas.UpdateProductSchema, changes)
        return schemas.dump_product(handlers.update_product(self.uow, self.caller, product_id, read))

    @rpc
    def deactivate_product(self, product_id: str) -> Json:
        """Hide a product from customers (admin); orders keep referring to it."""
        return schemas.dump_product(handlers.deactivate_product(self.uow, self.caller, product_id))

    @rpc
    def get_stock(self, product_id: str) -> Json:
        """On hand, reserved and available units of a product (admin)."""
        return schemas.dump_stock(handlers.get_stock(self.uow, self.caller, product_id))

    @rpc
    def set_stock(self, product_id: str, on_hand: int) -> Json:
        """Set the units on hand (admin); never below what is reserved."""
        return schemas.dump_stock(handlers.set_stock(self.uow, self.caller, product_id, on_hand))

    @rpc
    def price_items(self, items: list[Json]) -> Json:
        """Price an order's items at the catalog's current prices (orders, shopctl or admin)."""
        read = partial(load, schemas.PriceItemsSchema, {"items": items})
        return schemas.dump_quote(handlers.price_items(self.uow, self.caller, read))

    @event_handler("orders", "order_placed")
    def on_order_placed(self, payload: Json) -> None:
        """Reserve a new order's stock; answer stock_reserved or stock_reservation_failed."""
        event_id = self.handling(payload, "order_id")
        saga.on_order_placed(self.uow, event_id, load(schemas.OrderPlacedSchema, payload))

    @event_handler("orders", "stock_adjustment_requested")
    def on_stock_adjustment_requested(self, payload: Json) -> None:
        """Hold a modified order's items; answer stock_adjusted or stock_adjustment_failed."""
        event_id = self.handling(payload, "order_id")
        saga.on_stock_adjustment_requested(
            self.uow, event_id, load(schemas.StockAdjustmentRequestedSchema, payload))

    @event_handler("orders", "order_confirmed")
    def on_order_confirmed(self, payload: Json) -> None:
        """A paid order's reserved stock leaves the warehouse; answer stock_committed."""
        event_id = self.handling(payload, "order_id")
        order_id, _ = load(schemas.OrderChangedSchema, payload)
        saga.on_order_confirmed(self.uow, event_id, order_id)

    @event_handler("orders", "order_cancelled")
    def on_order_cancelled(self, payload: Json) -> None:
        """A cancelled order's stock is released or restocked; answer stock_released."""
        event_id = self.handling(payload, "order_id")
        order_id, order_version = load(schemas.OrderChangedSchema, payload)
        saga.on_order_cancelled(self.uow, event_id, order_id, order_version)
