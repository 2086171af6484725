"""Read use cases: orders and their history from the projection and the event store."""
from __future__ import annotations

from typing import Any

from nameko_services.common.errors import OrderNotFound, PermissionDenied
from nameko_services.common.pagination import page_document
from nameko_services.orders.commands import OrderQuery
from nameko_services.orders.domain import Actor, parse_order_id, public_data, visible
from nameko_services.orders.ports import Document, UnitOfWork


def _visible(document: Document | None, actor: Actor, order_id: str) -> Document:
    if document is None or not visible(actor, document["user_id"]):
        raise OrderNotFound(details={"order_id": order_id})
    return document


def get_order(uow: UnitOfWork, actor: Actor, order_id: str) -> Document:
    """One order: the owner's or, for an admin, anybody's."""
    order_id = parse_order_id(order_id)
    with uow:
        return _visible(uow.orders.document(order_id), actor, order_id)


def list_orders(uow: UnitOfWork, actor: Actor, query: OrderQuery) -> dict[str, Any]:
    """A page of orders, newest first: customers see their own, admins filter by user and status."""
    user_id = query.user_id if actor.is_admin else actor.user_id
    if user_id is None and not actor.is_admin:
        return page_document([], 0, query.page, query.per_page)
    with uow:
        items, total = uow.orders.page(status=query.status, user_id=user_id, needs_attention=None,
                                       page=query.page, per_page=query.per_page)
    return page_document(items, total, query.page, query.per_page)


def list_needing_attention(uow: UnitOfWork, actor: Actor, page: int, per_page: int) -> dict[str, Any]:
    """Orders whose compensation keeps failing (admin)."""
    if not actor.is_admin:
        raise PermissionDenied("Only an admin may do this.")
    with uow:
        items, total = uow.orders.page(status=None, user_id=None, needs_attention=True,
                                       page=page, per_page=per_page)
    return page_document(items, total, page, per_page)


def get_order_events(uow: UnitOfWork, actor: Actor, order_id: str) -> list[dict[str, Any]]:
    """The order's history, oldest first, without the payment token."""
    order_id = parse_order_id(order_id)
    with uow:
        owner = uow.orders.owner_of(order_id)
        if owner is None or not visible(actor, owner):
            raise OrderNotFound(details={"order_id": order_id})
        return [dict(event.to_dict(), data=public_data(event.data)) for event in uow.orders.history(order_id)]

