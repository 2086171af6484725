"""An in-memory unit of work for the catalog handlers: fakes, not mocks."""
import copy
import uuid

import pytest

from nameko_services.catalog.commands import ProductView
from nameko_services.catalog.domain import Reservation, merge_items
from nameko_services.common.auth import Principal

ADMIN = Principal(user_id="00000000-0000-4000-8000-00000000ad01", roles=("customer", "admin"))
CUSTOMER = Principal(user_id="00000000-0000-4000-8000-00000000c001", roles=("customer",))


class FakeCategories:
    def __init__(self):
        self.rows = {}
        self.tree_locked = False

    def get(self, category_id):
        return copy.copy(self.rows.get(category_id))

    def get_by_slug(self, slug):
        return next((copy.copy(c) for c in self.rows.values() if c.slug == slug), None)

    def parent_of(self, category_id):
        return self.rows[category_id].parent_id if category_id in self.rows else None

    def list(self, include_inactive=False):
        shown = [c for c in self.rows.values() if include_inactive or c.active]
        return sorted(shown, key=lambda c: (c.name, c.id))

    def add(self, category):
        self.rows[category.id] = copy.copy(category)

    update = add

    def delete(self, category_id):
        del self.rows[category_id]

    def in_use(self, category_id):
        return any(c.parent_id == category_id for c in self.rows.values()) or any(
            p.category_id == category_id for p in self.products.rows.values())

    def lock_tree(self):
        self.tree_locked = True


class FakeProducts:
    def __init__(self, stock):
        self.rows = {}
        self.stock = stock

    def get(self, product_id):
        if product_id not in self.rows:
            return None
        return ProductView(copy.copy(self.rows[product_id]), copy.copy(self.stock.rows[product_id]))

    def get_by_sku(self, sku):
        return next((p for p in self.rows.values() if p.sku.lower() == sku.lower()), None)

    def get_many(self, product_ids):
        return {pid: copy.copy(self.rows[pid]) for pid in product_ids if pid in self.rows}

    def search(self, query):
        needle = (query.q or "").lower()
        found = [p for p in self.rows.values()
                 if (p.active or query.include_inactive)
                 and (query.category_id is None or p.category_id == query.category_id)
                 and any(needle in text.lower() for text in (p.name, p.description, p.sku))]
        found.sort(key=lambda p: (p.name, p.id))
        start = (query.page - 1) * query.per_page
        return [self.get(p.id) for p in found[start:start + query.per_page]], len(found)

    def add(self, product, stock):
        assert self.get_by_sku(product.sku) is None, "the database would refuse a duplicate sku"
        self.rows[product.id] = copy.copy(product)
        self.stock.rows[product.id] = copy.copy(stock)

    def update(self, product):
        self.rows[product.id] = copy.copy(product)


class FakeStock:
    def __init__(self):
        self.rows = {}
        self.locked = []

    def lock(self, product_ids):
        ids = sorted(product_ids)
        self.locked.append(ids)
        return {pid: copy.copy(self.rows[pid]) for pid in ids if pid in self.rows}

    def save(self, levels):
        for level in levels:
            # The CHECK constraints of stock_levels.
            assert 0 <= level.reserved <= level.on_hand, level
            self.rows[level.product_id] = copy.copy(level)


class FakeReservations:
    def __init__(self):
        self.rows = {}

    def claim(self, order_id, status, order_version=1):
        if order_id in self.rows:
            return self.lock(order_id)
        self.rows[order_id] = Reservation(order_id, status, order_version=order_version)
        return None

    def lock(self, order_id):
        return copy.deepcopy(self.rows.get(order_id))

    def add_items(self, reservation):
        self.rows[reservation.order_id].items = merge_items(reservation.items)

    def replace_items(self, reservation):
        self.rows[reservation.order_id] = copy.deepcopy(reservation)

    def update_status(self, reservation):
        self.rows[reservation.order_id].status = reservation.status

    def discard(self, order_id):
        del self.rows[order_id]


class FakeOutbox:
    """The events queued for catalog.events, as (event type, payload)."""

    def __init__(self):
        self.rows = []

    def add(self, event_type, payload):
        self.rows.append((event_type, copy.deepcopy(payload)))
        return str(uuid.uuid4())

    def of_type(self, event_type):
        return [payload for kind, payload in self.rows if kind == event_type]


class FakeUnitOfWork:
    """Keeps state in dicts; leaving the block without commit restores the last committed state."""

    def __init__(self):
        self.stock = FakeStock()
        self.products = FakeProducts(self.stock)
        self.categories = FakeCategories()
        self.categories.products = self.products
        self.reservations = FakeReservations()
        self.outbox = FakeOutbox()
        self.processed = set()
        self.commits = 0
        self._saved = None

    def first_delivery(self, event_id, handler):
        if (event_id, handler) in self.processed:
            return False
        self.processed.add((event_id, handler))
        return True

    def _state(self):
        return copy.deepcopy((self.categories.rows, self.products.rows, self.stock.rows,
                              self.reservations.rows, self.outbox.rows, self.processed))

    def __enter__(self):
        self._saved = self._state()
        return self

    def __exit__(self, *exc_info):
        (self.categories.rows, self.products.rows, self.stock.rows,
         self.reservations.rows, self.outbox.rows, self.processed) = self._saved

    def commit(self):
        self.commits += 1
        self._saved = self._state()


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def new_uuid():
    return lambda: str(uuid.uuid4())
