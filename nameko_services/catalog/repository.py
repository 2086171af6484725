"""SQL repositories and the unit of work of the catalog (one transaction per use case)."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Uuid,
    any_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nameko_services.catalog.commands import ProductQuery, ProductView
from nameko_services.catalog.domain import (
    Category,
    Product,
    Reservation,
    ReservedItem,
    StockLevel,
    invalid,
    merge_items,
)
from nameko_services.catalog.models import (
    CategoryRow,
    ProductRow,
    StockLevelRow,
    StockReservationItemRow,
    StockReservationRow,
    outbox,
    processed_events,
)
from nameko_services.common.errors import CategoryInUse, Conflict, DuplicateSku, DuplicateSlug
from nameko_services.common.precompiled import binds, precompile
from nameko_services.common.unit_of_work import SqlEventUnitOfWork

CATEGORY_TREE_LOCK = 0x636174616C6F67  # "catalog": one advisory lock for moves in the tree


def _uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def _str(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _category(row: CategoryRow) -> Category:
    return Category(str(row.id), row.name, row.slug, _str(row.parent_id), row.active)


def _product(row: ProductRow | Row[Any]) -> Product:
    """A product from its ORM row or a plain row of ``products`` (the same column names)."""
    return Product(str(row.id), row.sku, row.name, row.price, row.currency, row.description,
                   _str(row.category_id), row.active, row.created_at, row.updated_at)


def _view(row: ProductRow, stock: StockLevelRow) -> ProductView:
    return ProductView(_product(row), StockLevel(str(stock.product_id), stock.on_hand, stock.reserved))


class SqlCategories:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, category_id: str) -> Category | None:
        row = self.session.get(CategoryRow, uuid.UUID(category_id))
        return None if row is None else _category(row)

    def get_by_slug(self, slug: str) -> Category | None:
        row = self.session.scalars(select(CategoryRow).where(CategoryRow.slug == slug)).first()
        return None if row is None else _category(row)

    def parent_of(self, category_id: str) -> str | None:
        return _str(self.session.scalar(
            select(CategoryRow.parent_id).where(CategoryRow.id == uuid.UUID(category_id))))

    def list(self, include_inactive: bool = False) -> list[Category]:
        query = select(CategoryRow).order_by(CategoryRow.name, CategoryRow.id)
        if not include_inactive:
            query = query.where(CategoryRow.active.is_(True))
        rows = self.session.scalars(query)
        return [_category(row) for row in rows]

    def add(self, category: Category) -> None:
        self.session.add(CategoryRow(id=uuid.UUID(category.id), name=category.name,
                                     slug=category.slug, parent_id=_uuid(category.parent_id),
                                     active=category.active))

    def update(self, category: Category) -> None:
        row = self.session.get_one(CategoryRow, uuid.UUID(category.id))
        row.name, row.slug, row.parent_id = category.name, category.slug, _uuid(category.parent_id)
        row.active = category.active

    def delete(self, category_id: str) -> None:
        self.session.execute(delete(CategoryRow).where(CategoryRow.id == uuid.UUID(category_id)))

    def in_use(self, category_id: str) -> bool:
        key = uuid.UUID(category_id)
        return bool(self.session.scalar(select(
            exists().where(ProductRow.category_id == key)
            | exists().where(CategoryRow.parent_id == key))))

    def lock_tree(self) -> None:
        self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CATEGORY_TREE_LOCK})


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlProducts:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _select(self) -> Any:
        return select(ProductRow, StockLevelRow).join(
            StockLevelRow, StockLevelRow.product_id == ProductRow.id)

    def get(self, product_id: str) -> ProductView | None:
        found = self.session.execute(self._select().where(ProductRow.id == uuid.UUID(product_id))).first()
        return None if found is None else _view(*found)

    def get_by_sku(self, sku: str) -> Product | None:
        row = self.session.scalars(
            select(ProductRow).where(func.lower(ProductRow.sku) == sku.lower())).first()
        return None if row is None else _product(row)

    def get_many(self, product_ids: Iterable[str]) -> dict[str, Product]:
        """Every order prices and reserves through here: plain rows, compiled once, no ORM objects."""
        rows = PRODUCTS_BY_ID.execute(self.session, {"ids": [uuid.UUID(pid) for pid in product_ids]})
        return {str(row.id): _product(row) for row in rows}

    def search(self, query: ProductQuery) -> tuple[list[ProductView], int]:
        conditions: list[ColumnElement[bool]] = []
        if not query.include_inactive:
            conditions.append(ProductRow.active.is_(True))
        if query.category_id is not None:
            conditions.append(ProductRow.category_id == uuid.UUID(query.category_id))
        if query.q:
            pattern = f"%{_escape_like(query.q)}%"
            conditions.append(or_(*(column.ilike(pattern, escape="\\") for column in
                                    (ProductRow.name, ProductRow.description, ProductRow.sku))))
        total = self.session.scalar(select(func.count()).select_from(ProductRow).where(*conditions))
        rows = self.session.execute(
            self._select().where(*conditions).order_by(ProductRow.name, ProductRow.id)
            .offset((query.page - 1) * query.per_page).limit(query.per_page))
        return [_view(*row) for row in rows], int(total or 0)

    def add(self, product: Product, stock: StockLevel) -> None:
        self.session.add(ProductRow(id=uuid.UUID(product.id), **self._fields(product),
                                    created_at=product.created_at))
        self.session.add(StockLevelRow(product_id=uuid.UUID(product.id), on_hand=stock.on_hand,
                                       reserved=stock.reserved))

    def update(self, product: Product) -> None:
        row = self.session.get_one(ProductRow, uuid.UUID(product.id))
        for name, value in self._fields(product).items():
            setattr(row, name, value)

    @staticmethod
    def _fields(product: Product) -> dict[str, Any]:
        return {"sku": product.sku, "name": product.name, "description": product.description,
                "price": product.price, "currency": product.currency,
                "category_id": _uuid(product.category_id), "active": product.active,
                "updated_at": product.updated_at}


# The saga's statements, compiled once (common.precompiled): each order runs them all.
PRODUCTS_BY_ID = precompile(
    select(ProductRow.__table__).where(ProductRow.id == any_(bindparam("ids", type_=ARRAY(Uuid)))))
LOCK_STOCK = precompile(
    select(StockLevelRow.product_id, StockLevelRow.on_hand, StockLevelRow.reserved)
    .where(StockLevelRow.product_id == any_(bindparam("product_ids", type_=ARRAY(Uuid))))
    .order_by(StockLevelRow.product_id).with_for_update())
SAVE_STOCK = precompile(
    update(StockLevelRow).where(StockLevelRow.product_id == bindparam("product_id"))
    .values(on_hand=bindparam("on_hand"), reserved=bindparam("reserved"), updated_at=func.now()))
CLAIM_RESERVATION = precompile(
    insert(StockReservationRow).values(**binds("order_id", "status", "order_version"))
    .on_conflict_do_nothing(index_elements=["order_id"]).returning(StockReservationRow.order_id))
LOCK_RESERVATION = precompile(
    select(StockReservationRow.status, StockReservationRow.order_version)
    .where(StockReservationRow.order_id == bindparam("order_id")).with_for_update())
RESERVED_ITEMS = precompile(
    select(StockReservationItemRow.product_id, StockReservationItemRow.quantity)
    .where(StockReservationItemRow.order_id == bindparam("order_id")))
RESERVE_ITEMS = precompile(insert(StockReservationItemRow).values(**binds("order_id", "product_id",
                                                                          "quantity")))
RESERVATION_STATUS = precompile(
    update(StockReservationRow).where(StockReservationRow.order_id == bindparam("order_id"))
    .values(status=bindparam("status"), updated_at=func.now()))


class SqlStock:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, product_ids: Iterable[str]) -> dict[str, StockLevel]:
        # One lock order for everybody (product id), so two reservations never deadlock.
        rows = LOCK_STOCK.execute(self.session, {"product_ids": [uuid.UUID(pid) for pid in product_ids]})
        return {str(pid): StockLevel(str(pid), on_hand, reserved) for pid, on_hand, reserved in rows}

    def save(self, levels: Iterable[StockLevel]) -> None:
        for level in levels:
            SAVE_STOCK.execute(self.session, {"product_id": uuid.UUID(level.product_id),
                                              "on_hand": level.on_hand, "reserved": level.reserved})


class SqlReservations:
    def __init__(self, session: Session) -> None:
        self.session = session

    def claim(self, order_id: str, status: str, order_version: int = 1) -> Reservation | None:
        # A concurrent claim of the same order makes this INSERT wait until that one ends.
        created = CLAIM_RESERVATION.execute(self.session, {
            "order_id": uuid.UUID(order_id), "status": status, "order_version": order_version}).first()
        return None if created is not None else self.lock(order_id)

    def lock(self, order_id: str) -> Reservation | None:
        key = {"order_id": uuid.UUID(order_id)}
        found = LOCK_RESERVATION.execute(self.session, key).first()
        if found is None:
            return None
        items = RESERVED_ITEMS.execute(self.session, key)
        return Reservation(order_id, found.status, merge_items(ReservedItem(str(p), q) for p, q in items),
                           found.order_version)

    def add_items(self, reservation: Reservation) -> None:
        if not reservation.items:
            return
        RESERVE_ITEMS.execute(self.session, [
            {"order_id": uuid.UUID(reservation.order_id), "product_id": uuid.UUID(item.product_id),
             "quantity": item.quantity} for item in reservation.items])

    def replace_items(self, reservation: Reservation) -> None:
        key = uuid.UUID(reservation.order_id)
        self.session.execute(delete(StockReservationItemRow).where(StockReservationItemRow.order_id == key))
        self.add_items(reservation)
        self.session.execute(
            update(StockReservationRow).where(StockReservationRow.order_id == key)
            .values(order_version=reservation.order_version, status=reservation.status,
                    updated_at=func.now()))

    def discard(self, order_id: str) -> None:
        self.session.execute(
            delete(StockReservationRow).where(StockReservationRow.order_id == uuid.UUID(order_id)))

    def update_status(self, reservation: Reservation) -> None:
        RESERVATION_STATUS.execute(self.session, {"order_id": uuid.UUID(reservation.order_id),
                                                  "status": reservation.status})


# Constraint name → the error a caller should see when the database, not the code, caught it.
CONSTRAINT_ERRORS: dict[str, Any] = {
    "uq_products_sku_lower": lambda _: DuplicateSku(),
    "uq_categories_slug": lambda _: DuplicateSlug(),
    "fk_products_category_id_categories": lambda deleting: (
        CategoryInUse() if deleting else invalid("category_id", "No category has this id.")),
    "fk_categories_parent_id_categories": lambda deleting: (
        CategoryInUse() if deleting else invalid("parent_id", "No category has this id.")),
}


def translate(error: IntegrityError) -> Exception:
    """The typed error for a constraint violation; a Conflict for any other."""
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None)
    factory = CONSTRAINT_ERRORS.get(constraint or "")
    deleting = str(error.statement or "").lstrip().upper().startswith("DELETE")
    return factory(deleting) if factory else Conflict(details={"constraint": constraint})


class SqlUnitOfWork(SqlEventUnitOfWork):
    """The catalog's repositories over one session; a constraint violation is a typed error."""

    outbox_table = outbox
    processed_events = processed_events

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.categories = SqlCategories(session)
        self.products = SqlProducts(session)
        self.stock = SqlStock(session)
        self.reservations = SqlReservations(session)

    def translate(self, error: IntegrityError) -> Exception:
        return translate(error)
