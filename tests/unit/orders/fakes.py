"""In-memory stand-ins for the orders unit of work and the catalog: fakes, not mocks."""
import copy
import uuid
from datetime import UTC, datetime

from nameko_services.common.errors import ProductNotFound
from nameko_services.common.event_store import StoredEvent, StreamConflict
from nameko_services.orders import projection
from nameko_services.orders.commands import Reply
from nameko_services.orders.domain import OPEN_STATUSES, Line, Priced
from nameko_services.orders.idempotency_keys import DONE, IN_PROGRESS, KeyRecord
from nameko_services.orders.order import Order


class FakeDb:
    """Everything the orders database holds."""

    def __init__(self):
        self.streams = {}  # order id -> [(type, data, version, occurred_at, causation_id)]
        self.rows = {}  # order id -> projection columns
        self.keys = {}  # (user_id, key) -> KeyRecord
        self.outbox = []  # (type, payload)
        self.processed = set()


class FakeOrders:
    def __init__(self, uow):
        self.uow = uow
        self.conflicts_to_raise = 0

    @property
    def db(self):
        return self.uow.db

    def load(self, order_id):
        events = self.db.streams.get(order_id)
        return Order.from_history(order_id, [e[:4] for e in events]) if events else None

    def lock(self, order_id):
        return self.load(order_id) if order_id in self.db.rows else None

    def lock_next_due(self, now):
        due = sorted((row["deadline_at"], oid) for oid, row in self.db.rows.items()
                     if row["status"] in OPEN_STATUSES and row["deadline_at"] <= now)
        return self.load(due[0][1]) if due else None

    def save(self, order, *, causation_id=None, now=None):
        stream = self.db.streams.setdefault(order.id, [])
        if self.conflicts_to_raise or len(stream) != order.stored_version:
            self.conflicts_to_raise = max(0, self.conflicts_to_raise - 1)
            raise StreamConflict()
        at = now or datetime.now(UTC)
        changes, messages = order.collect()
        for version, change in enumerate(changes, start=len(stream) + 1):
            stream.append((change.type, copy.deepcopy(change.data), version, at, causation_id))
        if changes:
            order.created_at, order.updated_at = order.created_at or at, at
            self.db.rows[order.id] = projection.columns(order)
        for message in messages:
            self.uow.outbox.add(message.type, message.payload)

    def document(self, order_id):
        row = self.db.rows.get(order_id)
        return None if row is None else projection.row_document(row)

    def owner_of(self, order_id):
        row = self.db.rows.get(order_id)
        return None if row is None else row["user_id"]

    def page(self, *, status, user_id, needs_attention, page, per_page):
        rows = [r for r in self.db.rows.values()
                if (status is None or r["status"] == status) and (user_id is None or r["user_id"] == user_id)
                and (needs_attention is None or r["needs_attention"] is needs_attention)]
        rows.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
        start = (page - 1) * per_page
        return [projection.row_document(r) for r in rows[start:start + per_page]], len(rows)

    def history(self, order_id):
        return [StoredEvent(str(uuid.uuid4()), order_id, v, t, copy.deepcopy(d), at, None, c)
                for t, d, v, at, c in self.db.streams.get(order_id, [])]


class FakeKeys:
    def __init__(self, uow):
        self.uow = uow

    def claim(self, user_id, key, request_hash, now):
        existing = self.uow.db.keys.get((user_id, key))
        if existing is None:
            self.uow.db.keys[(user_id, key)] = KeyRecord(user_id, key, request_hash, IN_PROGRESS, None, now)
        return existing

    def take_over(self, record, now):
        current = self.uow.db.keys.get((record.user_id, record.key))
        if current != record:
            return False
        self.uow.db.keys[(record.user_id, record.key)] = KeyRecord(
            record.user_id, record.key, record.request_hash, IN_PROGRESS, None, now)
        return True

    def complete(self, user_id, key, claimed_at, order_id):
        record = self._claimed(user_id, key, claimed_at)
        if record is not None:
            self.uow.db.keys[(user_id, key)] = KeyRecord(user_id, key, record.request_hash, DONE, order_id,
                                                         record.created_at)
        return record is not None

    def release(self, user_id, key, claimed_at):
        if self._claimed(user_id, key, claimed_at) is not None:
            del self.uow.db.keys[(user_id, key)]

    def _claimed(self, user_id, key, claimed_at):
        record = self.uow.db.keys.get((user_id, key))
        if record is not None and record.state == IN_PROGRESS and record.created_at == claimed_at:
            return record
        return None


class FakeOutbox:
    def __init__(self, uow):
        self.uow = uow

    def add(self, event_type, payload):
        self.uow.db.outbox.append((event_type, copy.deepcopy(payload)))
        return str(len(self.uow.db.outbox))


class FakeUnitOfWork:
    """Commits make changes stick; leaving the block throws the rest away, like a transaction."""

    def __init__(self):
        self.db = FakeDb()
        self.orders = FakeOrders(self)
        self.keys = FakeKeys(self)
        self.outbox = FakeOutbox(self)
        self.commits = 0
        self._committed = copy.deepcopy(self.db)

    def first_delivery(self, event_id, handler):
        if (event_id, handler) in self.db.processed:
            return False
        self.db.processed.add((event_id, handler))
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.db = copy.deepcopy(self._committed)

    def commit(self):
        self._committed = copy.deepcopy(self.db)
        self.commits += 1

    # helpers for assertions
    def messages(self, event_type=None):
        return [p for t, p in self._committed.outbox if event_type is None or t == event_type]

    def stream(self, order_id):
        return [(t, v) for t, _, v, _, _ in self._committed.streams.get(order_id, [])]


class FakeCatalog:
    """Products priced in EUR, each with units available; answers stock adjustment requests."""

    def __init__(self):
        self.products = {}  # product id -> (name, price, available)

    def add(self, product_id, name="Mug", price=999, available=10):
        self.products[product_id] = (name, price, available)

    def price_items(self, items):
        missing = [i["product_id"] for i in items if i["product_id"] not in self.products]
        if missing:
            raise ProductNotFound(details={"product_ids": missing})
        return Priced("EUR", tuple(Line(i["product_id"], self.products[i["product_id"]][0],
                                        self.products[i["product_id"]][1], i["quantity"]) for i in items))

    def answer_adjustment(self, uow, request):
        """The catalog's reply to a ``stock_adjustment_requested`` payload, delivered to orders."""
        from nameko_services.orders import saga  # the catalog's answer arrives through the saga

        short = [i for i in request["items"] if i["quantity"] > self.products[i["product_id"]][2]]
        reply = Reply(request["order_id"], request["order_version"],
                      reason="out_of_stock" if short else "", details={"items": short},
                      items=request["current_items"] if short else request["items"])
        handler = saga.ON_STOCK_ADJUSTMENT_FAILED if short else saga.ON_STOCK_ADJUSTED
        saga.react(uow, handler, str(uuid.uuid4()), reply)


def utc(*args):
    return datetime(*args, tzinfo=UTC)
