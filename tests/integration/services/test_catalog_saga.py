"""The catalog's side of the order saga over RabbitMQ and PostgreSQL: orders events in, catalog events out."""
import uuid
from functools import partial

import eventlet
import pytest
from nameko.extensions import DependencyProvider
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import text

from nameko_services.catalog.service import CatalogService
from nameko_services.common.errors import StockBelowReserved
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import event_publisher
from tests.integration.services import event_listeners
from tests.integration.services.event_listeners import recording_listener, wait_for
from tests.integration.services.forgery import refused

ADMIN = ("00000000-0000-4000-8000-0000000000ad", ["customer", "admin"])
PLACED_QUEUE = "evt-orders-order_placed--catalog.on_order_placed"


CatalogEvents = recording_listener(
    "catalog_events_listener", "catalog", ("stock_reserved", "stock_reservation_failed", "stock_adjusted",
                                           "stock_adjustment_failed", "stock_committed", "stock_released"))
answers = partial(event_listeners.answers, CatalogEvents)
answered = partial(event_listeners.answered, CatalogEvents)


@pytest.fixture
def saga_config(core_config):
    return dict(core_config, max_workers=20, EVENT_RETRY_DELAYS=[0.1, 0.2])


@pytest.fixture
def listener(container_factory, saga_config):
    CatalogEvents.received = []
    container = container_factory(CatalogEvents, saga_config)
    container.start()  # its queues exist before the catalog can publish anything
    return container


@pytest.fixture
def catalog(container_factory, saga_config, listener):
    container = container_factory(CatalogService, saga_config)
    container.start()
    return container


@pytest.fixture
def admin(call, catalog):
    return lambda method, *args: call("catalog", method, *args, as_user=ADMIN)


@pytest.fixture
def product(admin):
    return admin("create_product", {"sku": "MUG-1", "name": "Mug", "price": 999, "currency": "EUR",
                                    "stock": 10})


@pytest.fixture
def dispatch(saga_config):
    """Publish an orders event with the orders relay's publisher: confirmed, signed, with an event id."""
    publish = event_publisher(saga_config, "orders")

    def _dispatch(event_type, payload, event_id="new"):
        event_id = str(uuid.uuid4()) if event_id == "new" else event_id
        publish(OutboxMessage(event_id, event_type, payload, {}))
        return event_id

    return _dispatch




def stock(admin, product):
    return admin("get_stock", product["id"])


def placed(order_id, *lines, version=1):
    return {"order_id": order_id, "order_version": version, "user_id": str(uuid.uuid4()),
            "items": [{"product_id": p["id"], "quantity": q} for p, q in lines],
            "total": 1, "currency": "EUR"}


def adjustment(order_id, version, items, current):
    wire = lambda lines: [{"product_id": p["id"], "quantity": q} for p, q in lines]  # noqa: E731
    return {"order_id": order_id, "order_version": version, "items": wire(items),
            "current_items": wire(current)}


def new_order():
    return str(uuid.uuid4())


def new_product(admin, sku, stock=10):
    return admin("create_product", {"sku": sku, "name": sku, "price": 100, "currency": "EUR", "stock": stock})


def outbox_rows(core_db, event_type, order_id):
    with core_db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM outbox WHERE event_type = :t "
                                 "AND payload->>'order_id' = :o"), {"t": event_type, "o": order_id}).scalar()


def test_order_placed_reserves_the_stock_and_answers_stock_reserved(admin, dispatch, product):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 3)))
    assert answered("stock_reserved", order) == [{
        "order_id": order, "order_version": 1, "items": [{"product_id": product["id"], "quantity": 3}]}]
    assert stock(admin, product)["reserved"] == 3


def test_order_placed_beyond_the_stock_answers_failure_and_reserves_nothing(admin, dispatch, product,
                                                                            core_db):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 11)))
    [failed] = answered("stock_reservation_failed", order)
    assert (failed["order_version"], failed["reason"]) == (1, "out_of_stock")
    assert failed["details"]["items"] == [{"product_id": product["id"], "requested": 11, "available": 10}]
    assert stock(admin, product)["reserved"] == 0
    with core_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM stock_reservations")).scalar() == 0


def test_order_placed_for_an_unknown_product_answers_product_unavailable(dispatch, product):
    order, ghost = new_order(), {"id": str(uuid.uuid4())}
    dispatch("order_placed", placed(order, (product, 1), (ghost, 1)))
    [failed] = answered("stock_reservation_failed", order)
    assert (failed["reason"], failed["details"]) == ("product_unavailable", {"product_ids": [ghost["id"]]})


def test_a_failed_order_placed_holds_nothing_of_any_line_and_the_same_order_may_reserve_later(admin, dispatch,
                                                                                             product):
    scarce = admin("create_product", {"sku": "RARE", "name": "Rare", "price": 1, "currency": "EUR",
                                      "stock": 1})
    order = new_order()
    dispatch("order_placed", placed(order, (product, 2), (scarce, 2)))
    [failed] = answered("stock_reservation_failed", order)
    assert failed["details"]["items"] == [{"product_id": scarce["id"], "requested": 2, "available": 1}]
    assert stock(admin, product)["reserved"] == stock(admin, scarce)["reserved"] == 0
    admin("set_stock", scarce["id"], 2)  # stock arrives; the order is placed again
    dispatch("order_placed", placed(order, (product, 2), (scarce, 2)))
    answered("stock_reserved", order)
    assert stock(admin, product)["reserved"] == stock(admin, scarce)["reserved"] == 2


def test_stock_cannot_be_set_below_what_orders_hold(admin, dispatch, product):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 4)))
    answered("stock_reserved", order)
    with pytest.raises(StockBelowReserved):
        admin("set_stock", product["id"], 3)
    assert admin("set_stock", product["id"], 4) == {"product_id": product["id"], "on_hand": 4,
                                                   "reserved": 4, "available": 0}


def test_the_same_order_placed_delivered_twice_reserves_once_and_answers_once(admin, catalog, dispatch,
                                                                             product, core_db):
    order = new_order()
    event_id = dispatch("order_placed", placed(order, (product, 2)))
    answered("stock_reserved", order)
    with entrypoint_waiter(catalog, "on_order_placed", timeout=10):
        dispatch("order_placed", placed(order, (product, 2)), event_id=event_id)
    eventlet.sleep(0.5)  # time for a second answer to be relayed, if there were one
    assert len(answers("stock_reserved", order)) == 1
    assert outbox_rows(core_db, "stock_reserved", order) == 1
    assert stock(admin, product)["reserved"] == 2


def test_order_confirmed_commits_the_reservation(admin, dispatch, product):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 3)))
    answered("stock_reserved", order)
    dispatch("order_confirmed", {"order_id": order, "order_version": 4, "payment_id": str(uuid.uuid4())})
    assert answered("stock_committed", order) == [{"order_id": order}]
    assert stock(admin, product) == {"product_id": product["id"], "on_hand": 7, "reserved": 0, "available": 7}


def test_order_cancelled_before_the_commit_releases_the_stock(admin, dispatch, product):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 3)))
    answered("stock_reserved", order)
    dispatch("order_cancelled", {"order_id": order, "order_version": 3, "reason": "payment_failed"})
    assert answered("stock_released", order) == [{"order_id": order}]
    assert stock(admin, product) == {"product_id": product["id"], "on_hand": 10, "reserved": 0,
                                     "available": 10}


def test_order_cancelled_after_the_commit_puts_the_stock_back_once(admin, dispatch, product, core_db):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 3)))
    answered("stock_reserved", order)
    dispatch("order_confirmed", {"order_id": order, "order_version": 4, "payment_id": str(uuid.uuid4())})
    answered("stock_committed", order)
    cancelled = {"order_id": order, "order_version": 5, "reason": "cancelled_by_admin"}
    dispatch("order_cancelled", cancelled)
    dispatch("order_cancelled", cancelled)  # retry_compensation: a new event id, no second restock
    answered("stock_released", order, count=2)
    assert stock(admin, product) == {"product_id": product["id"], "on_hand": 10, "reserved": 0,
                                     "available": 10}
    with core_db.connect() as conn:
        assert conn.execute(text("SELECT status FROM stock_reservations")).scalar() == "restocked"


def test_a_cancel_before_the_order_placed_makes_the_late_order_placed_reserve_nothing(admin, catalog,
                                                                                      dispatch, product):
    order = new_order()
    dispatch("order_cancelled", {"order_id": order, "order_version": 2, "reason": "timed_out"})
    assert answered("stock_released", order) == [{"order_id": order}]
    with entrypoint_waiter(catalog, "on_order_placed", timeout=10):
        dispatch("order_placed", placed(order, (product, 1)))
    eventlet.sleep(0.5)
    assert answers("stock_reserved", order) == answers("stock_reservation_failed", order) == []
    assert stock(admin, product)["reserved"] == 0


def test_an_event_without_an_id_is_refused_by_the_token_check_and_dead_lettered(admin, dispatch, product,
                                                                               saga_config):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 1)), event_id=None)
    payload, reason = refused(saga_config, PLACED_QUEUE)
    # common.events refuses it before any handler runs, signed by the right relay or not.
    assert payload["order_id"] == order and "no event id" in reason
    assert stock(admin, product)["reserved"] == 0
    assert answers("stock_reserved", order) == []


class PlacedCounter(DependencyProvider):
    """Counts the order_placed events one container handled."""

    def setup(self):
        self.handled = 0

    def worker_setup(self, worker_ctx):
        if worker_ctx.entrypoint.method_name == "on_order_placed":
            self.handled += 1


class CountedCatalog(CatalogService):
    counter = PlacedCounter()


@pytest.fixture
def two_catalogs(container_factory, saga_config, listener):
    """Two instances competing for the same event queues, each with its own connection pool."""
    containers = [container_factory(CountedCatalog, saga_config) for _ in range(2)]
    for container in containers:
        container.start()
    return containers


@pytest.fixture
def counted_admin(call, two_catalogs):
    return lambda method, *args: call("catalog", method, *args, as_user=ADMIN)


@pytest.mark.slow
def test_sixty_orders_for_ten_units_on_two_instances_reserve_exactly_ten(two_catalogs, counted_admin,
                                                                         dispatch):
    admin = counted_admin
    product = new_product(admin, "MUG-1")
    orders = [new_order() for _ in range(60)]
    for order in orders:
        dispatch("order_placed", placed(order, (product, 1)))
    wait_for(lambda: len(CatalogEvents.received) >= 60, timeout=60)
    eventlet.sleep(0.5)
    kinds = [t for t, _ in CatalogEvents.received]
    assert (kinds.count("stock_reserved"), kinds.count("stock_reservation_failed")) == (10, 50)
    assert len(kinds) == 60
    assert {p["order_id"] for _, p in CatalogEvents.received} == set(orders)
    assert stock(admin, product) == {"product_id": product["id"], "on_hand": 10, "reserved": 10,
                                     "available": 0}
    handled = [next(d for d in c.dependencies if d.attr_name == "counter").handled for c in two_catalogs]
    assert sum(handled) == 60 and min(handled) > 0  # both instances did part of the work


@pytest.mark.slow
def test_one_order_placed_many_times_on_two_instances_reserves_once(two_catalogs, counted_admin, dispatch):
    product = new_product(counted_admin, "MUG-1")
    order = new_order()
    for _ in range(12):  # published again and again, each time with a new event id
        dispatch("order_placed", placed(order, (product, 3)))
    reserved = answered("stock_reserved", order, count=12)
    assert reserved == [{"order_id": order, "order_version": 1,
                         "items": [{"product_id": product["id"], "quantity": 3}]}] * 12
    assert stock(counted_admin, product)["reserved"] == 3


@pytest.mark.slow
def test_cancels_and_confirms_of_one_order_racing_on_two_instances_move_its_stock_once(
        two_catalogs, counted_admin, dispatch):
    product = new_product(counted_admin, "MUG-1")
    released, committed = new_order(), new_order()
    for order in (released, committed):
        dispatch("order_placed", placed(order, (product, 2)))
        answered("stock_reserved", order)
    for _ in range(8):
        dispatch("order_cancelled", {"order_id": released, "order_version": 2, "reason": "timed_out"})
        dispatch("order_confirmed", {"order_id": committed, "order_version": 4,
                                     "payment_id": str(uuid.uuid4())})
    answered("stock_released", released, count=8)
    answered("stock_committed", committed, count=8)
    assert stock(counted_admin, product) == {"product_id": product["id"], "on_hand": 8, "reserved": 0,
                                             "available": 8}


@pytest.mark.slow
def test_orders_for_several_products_in_any_order_on_two_instances_neither_deadlock_nor_oversell(
        two_catalogs, counted_admin, dispatch):
    mug, bowl = new_product(counted_admin, "MUG-1"), new_product(counted_admin, "BOWL-1")
    for n in range(30):
        dispatch("order_placed", placed(new_order(), *[(mug, 1), (bowl, 1)][::1 if n % 2 else -1]))
    wait_for(lambda: len(CatalogEvents.received) >= 30, timeout=60)
    kinds = [t for t, _ in CatalogEvents.received]
    assert (kinds.count("stock_reserved"), kinds.count("stock_reservation_failed")) == (10, 20)
    assert stock(counted_admin, mug)["available"] == stock(counted_admin, bowl)["available"] == 0


# --- a modified order (stock_adjustment_requested) ---------------------------------------------

def test_an_adjustment_moves_the_reservation_and_answers_with_the_items_held(admin, dispatch, product):
    bowl = admin("create_product", {"sku": "BOWL-1", "name": "Bowl", "price": 500, "currency": "EUR",
                                    "stock": 10})
    order = new_order()
    dispatch("order_placed", placed(order, (product, 3)))
    answered("stock_reserved", order)
    dispatch("stock_adjustment_requested", adjustment(order, 3, [(bowl, 2)], [(product, 3)]))
    [answer] = answered("stock_adjusted", order)
    assert (answer["order_version"], answer["items"]) == (3, [{"product_id": bowl["id"], "quantity": 2}])
    assert (stock(admin, product)["reserved"], stock(admin, bowl)["reserved"]) == (0, 2)


def test_an_adjustment_beyond_the_stock_keeps_the_old_items_and_says_why(admin, dispatch, product):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 3)))
    answered("stock_reserved", order)
    dispatch("stock_adjustment_requested", adjustment(order, 3, [(product, 11)], [(product, 3)]))
    [answer] = answered("stock_adjustment_failed", order)
    assert (answer["reason"], answer["items"]) == ("out_of_stock",
                                                   [{"product_id": product["id"], "quantity": 3}])
    assert answer["details"]["items"] == [{"product_id": product["id"], "requested": 11, "available": 10}]
    assert stock(admin, product)["reserved"] == 3


def test_an_adjustment_redelivered_or_outdated_moves_the_stock_once(admin, dispatch, product, core_db):
    order = new_order()
    dispatch("order_placed", placed(order, (product, 1)))
    answered("stock_reserved", order)
    request = adjustment(order, 3, [(product, 4)], [(product, 1)])
    event_id = dispatch("stock_adjustment_requested", request)
    answered("stock_adjusted", order)
    dispatch("stock_adjustment_requested", request, event_id=event_id)  # redelivered
    dispatch("stock_adjustment_requested", request)  # the same version again
    dispatch("stock_adjustment_requested", adjustment(order, 2, [(product, 9)], [(product, 1)]))  # older
    dispatch("order_placed", placed(order, (product, 1)))  # the first reservation, late
    eventlet.sleep(1)
    assert stock(admin, product)["reserved"] == 4
    assert outbox_rows(core_db, "stock_adjusted", order) == 1


@pytest.mark.slow
def test_adjustments_racing_new_reservations_on_two_instances_neither_deadlock_nor_lose_count(
        two_catalogs, counted_admin, dispatch, core_db):
    admin = counted_admin
    mug, bowl = new_product(admin, "MUG-9"), new_product(admin, "BOWL-9")
    held = [new_order() for _ in range(10)]
    for order in held:
        dispatch("order_placed", placed(order, (mug, 1)))
    wait_for(lambda: sum(len(answers("stock_reserved", o)) for o in held) == 10)
    # Each held order moves to a bowl and a mug (locks on both rows) while new orders want mugs.
    newcomers = [new_order() for _ in range(10)]
    for n, order in enumerate(held):
        items = [(bowl, 1), (mug, 1)][::1 if n % 2 else -1]
        dispatch("stock_adjustment_requested", adjustment(order, 3, items, [(mug, 1)]))
        dispatch("order_placed", placed(newcomers[n], (mug, 1)))
    wait_for(lambda: len(CatalogEvents.received) >= 30, timeout=60)
    kinds = [t for t, _ in CatalogEvents.received]
    assert (kinds.count("stock_adjusted"), kinds.count("stock_reservation_failed")) == (10, 10)
    with core_db.connect() as conn:
        held_units = dict(conn.execute(text(
            "SELECT i.product_id::text, sum(i.quantity) FROM stock_reservation_items i "
            "JOIN stock_reservations r USING (order_id) WHERE r.status = 'reserved' GROUP BY 1")).all())
    assert held_units == {mug["id"]: 10, bowl["id"]: 10}
    assert stock(admin, mug)["reserved"] == stock(admin, bowl)["reserved"] == 10
