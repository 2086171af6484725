"""The use cases of the orders service against an in-memory unit of work and catalog."""
import uuid
from datetime import timedelta

import pytest

from nameko_services.common import spans
from nameko_services.common.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    OrderNotFound,
    OrderNotModifiable,
    OutOfStock,
    PermissionDenied,
    ProductNotFound,
)
from nameko_services.common.event_sourced import STREAM_ATTEMPTS
from nameko_services.common.event_store import StreamConflict
from nameko_services.orders import handlers, queries, saga
from nameko_services.orders.commands import ModifyOrder, OrderQuery, PlaceOrder, Reply
from nameko_services.orders.domain import Actor
from nameko_services.orders.handlers import Settings
from nameko_services.orders.idempotency_keys import IN_PROGRESS, KeyRecord
from tests.span_recorder import recorder
from tests.unit.orders.builders import ADDRESS, ADMIN, CUSTOMER, PRODUCT, STRANGER, USER
from tests.unit.orders.fakes import FakeCatalog, FakeUnitOfWork

SETTINGS = Settings(payment_deadline=timedelta(minutes=15), key_abandoned_after=timedelta(seconds=60))
PAYMENT = "00000000-0000-4000-8000-0000000000b1"


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def catalog():
    fake = FakeCatalog()
    fake.add(PRODUCT, "Mug", 999, available=10)
    return fake


def request(quantity=2, token="tok_visa"):
    return PlaceOrder(({"product_id": PRODUCT, "quantity": quantity},), ADDRESS, token)


def place(uow, catalog, key="key-1", cmd=None, actor=CUSTOMER):
    return handlers.place_order(uow, catalog, SETTINGS, actor, key, cmd or request())


def event():
    return str(uuid.uuid4())


def modify(uow, catalog, order_id, items=None, address=None, actor=CUSTOMER, answered=True):
    """``modify_order``, the catalog answering while it waits (or never, with ``answered=False``)."""
    def sleep(_):
        requests = uow.messages("stock_adjustment_requested")
        if answered and requests:
            catalog.answer_adjustment(uow, requests[-1])

    settings = Settings(modification_wait=timedelta(seconds=5 if answered else 0))
    items = None if items is None else tuple({"product_id": PRODUCT, "quantity": q} for q in items)
    return handlers.modify_order(uow, catalog, settings, actor, order_id, ModifyOrder(items, address), sleep)


# --- placing and Idempotency-Key ------------------------------------------------------------

def test_placing_stores_a_pending_order_at_catalog_prices_and_queues_order_placed(uow, catalog):
    order, replayed = place(uow, catalog)
    assert not replayed
    assert (order["status"], order["user_id"]) == ("pending", USER)
    assert (order["total"], order["currency"]) == (1998, "EUR")
    assert order["items"] == [{"product_id": PRODUCT, "name": "Mug", "unit_price": 999, "quantity": 2,
                               "line_total": 1998}]
    assert uow.stream(order["id"]) == [("OrderPlaced", 1)]
    assert uow.messages("order_placed") == [{"order_id": order["id"], "order_version": 1, "user_id": USER,
                                             "items": [{"product_id": PRODUCT, "quantity": 2}],
                                             "total": 1998, "currency": "EUR"}]
    assert uow.orders.document(order["id"]) == order


def test_a_note_is_returned_with_the_order_and_binds_the_key(uow, catalog):
    noted = PlaceOrder(({"product_id": PRODUCT, "quantity": 1},), ADDRESS, "tok_visa", "Ring twice")
    order, _ = place(uow, catalog, cmd=noted)
    assert order["note"] == "Ring twice"
    assert queries.get_order_events(uow, CUSTOMER, order["id"])[0]["data"]["note"] == "Ring twice"
    with pytest.raises(IdempotencyKeyReused):
        place(uow, catalog, cmd=PlaceOrder(noted.items, ADDRESS, "tok_visa", "Ring once"))


def test_the_same_key_and_body_again_returns_the_same_order_as_a_replay(uow, catalog):
    first, _ = place(uow, catalog)
    again, replayed = place(uow, catalog)
    assert replayed and again == first
    assert len(uow.messages("order_placed")) == 1


def test_the_same_key_with_another_body_is_refused(uow, catalog):
    place(uow, catalog)
    with pytest.raises(IdempotencyKeyReused) as raised:
        place(uow, catalog, cmd=request(quantity=3))
    assert raised.value.code == "idempotency_key_reused"


def test_keys_belong_to_one_customer(uow, catalog):
    mine, _ = place(uow, catalog)
    theirs, replayed = place(uow, catalog, actor=STRANGER)
    assert not replayed and theirs["id"] != mine["id"]


def test_a_key_whose_first_request_is_still_running_is_in_use(uow, catalog):
    with uow:
        uow.keys.claim(USER, "key-1", _digest(request()), handlers.now())
        uow.commit()
    with pytest.raises(IdempotencyKeyInUse):
        place(uow, catalog)


def test_a_key_abandoned_long_ago_is_taken_over(uow, catalog):
    with uow:
        uow.db.keys[(USER, "key-1")] = KeyRecord(USER, "key-1", _digest(request()), IN_PROGRESS, None,
                                                 handlers.now() - timedelta(minutes=5))
        uow.commit()
    order, replayed = place(uow, catalog)
    assert not replayed and order["status"] == "pending"


def test_a_failed_request_forgets_its_key_so_it_can_be_tried_again(uow, catalog):
    with pytest.raises(ProductNotFound):
        place(uow, catalog, cmd=PlaceOrder(({"product_id": str(uuid.uuid4()), "quantity": 1},), ADDRESS, "t"))
    assert uow.db.keys == {}
    order, replayed = place(uow, catalog)
    assert not replayed and order["status"] == "pending"


class SlowCatalog(FakeCatalog):
    """A catalog so slow to price an order that ``meanwhile()`` happens (once) before it answers."""

    def __init__(self, catalog, meanwhile):
        super().__init__()
        self.products, self.meanwhile = catalog.products, meanwhile

    def price_items(self, items):
        meanwhile, self.meanwhile = self.meanwhile, lambda: None
        meanwhile()
        return super().price_items(items)


def test_a_request_whose_key_a_retry_took_over_meanwhile_places_no_second_order(uow, catalog):
    at_once = Settings(key_abandoned_after=timedelta(0))  # the retry finds the first claim abandoned
    retries = []
    slow = SlowCatalog(catalog, lambda: retries.append(
        handlers.place_order(uow, catalog, at_once, CUSTOMER, "key-1", request())))
    with pytest.raises(IdempotencyKeyInUse):
        place(uow, slow)
    [(order, replayed)] = retries
    assert not replayed
    assert list(uow.db.streams) == [order["id"]]  # the retry's order only
    assert place(uow, catalog) == (order, True)  # and the key answers with it


def test_a_request_that_fails_after_a_retry_took_its_key_over_leaves_the_retry_s_claim(uow):
    def retry_takes_over():
        with uow:
            assert uow.keys.take_over(uow.db.keys[(USER, "key-1")], handlers.now())
            uow.commit()

    with pytest.raises(ProductNotFound):  # this catalog knows no product
        place(uow, SlowCatalog(FakeCatalog(), retry_takes_over))
    assert uow.db.keys[(USER, "key-1")].state == IN_PROGRESS


def test_placing_needs_a_customer():
    with pytest.raises(PermissionDenied):
        place(FakeUnitOfWork(), FakeCatalog(), actor=Actor(None))


def _digest(cmd):
    from nameko_services.orders.idempotency_keys import request_hash

    return request_hash(cmd.fingerprint())


# --- the saga ---------------------------------------------------------------------------

def test_the_happy_path_confirms_the_order_with_one_message_per_step(uow, catalog):
    order, _ = place(uow, catalog)
    oid = order["id"]
    saga.react(uow, saga.ON_STOCK_RESERVED, event(), Reply(oid, 1))
    [requested] = uow.messages("payment_requested")
    assert requested == {"order_id": oid, "order_version": 2, "user_id": USER, "amount": 1998,
                         "currency": "EUR", "payment_token": "tok_visa", "capture_at_once": True}
    saga.react(uow, saga.ON_PAYMENT_CAPTURED, event(), Reply(oid, 2, PAYMENT))
    assert uow.messages("order_confirmed") == [{"order_id": oid, "order_version": 3, "payment_id": PAYMENT}]
    assert uow.orders.document(oid)["status"] == "confirmed"
    assert [t for t, _ in uow.stream(oid)] == ["OrderPlaced", "StockReserved", "PaymentCaptured"]


def test_a_payments_of_1_0_authorising_only_gets_the_capture_asked_for(uow, catalog):
    order, _ = place(uow, catalog)
    oid = order["id"]
    saga.react(uow, saga.ON_STOCK_RESERVED, event(), Reply(oid, 1))
    saga.react(uow, saga.ON_PAYMENT_AUTHORISED, event(), Reply(oid, 2, PAYMENT))
    assert uow.messages("capture_requested") == [{"order_id": oid, "order_version": 3, "payment_id": PAYMENT}]
    saga.react(uow, saga.ON_PAYMENT_CAPTURED, event(), Reply(oid, 3, PAYMENT))
    assert uow.messages("order_confirmed") == [{"order_id": oid, "order_version": 4, "payment_id": PAYMENT}]
    assert uow.orders.document(oid)["status"] == "confirmed"
    assert [t for t, _ in uow.stream(oid)] == ["OrderPlaced", "StockReserved", "CaptureRequested",
                                               "PaymentCaptured"]


def test_the_same_event_delivered_twice_has_one_effect(uow, catalog):
    order, _ = place(uow, catalog)
    event_id = event()
    saga.react(uow, saga.ON_STOCK_RESERVED, event_id, Reply(order["id"], 1))
    saga.react(uow, saga.ON_STOCK_RESERVED, event_id, Reply(order["id"], 1))
    assert len(uow.messages("payment_requested")) == 1
    assert len(uow.stream(order["id"])) == 2


def test_the_causing_event_is_recorded_with_the_new_events(uow, catalog):
    order, _ = place(uow, catalog)
    event_id = event()
    saga.react(uow, saga.ON_STOCK_RESERVED, event_id, Reply(order["id"], 1))
    assert uow._committed.streams[order["id"]][1][4] == event_id


def test_a_stale_authorisation_is_voided_and_the_order_does_not_change(uow, catalog):
    order, _ = place(uow, catalog)
    saga.react(uow, saga.ON_STOCK_RESERVED, event(), Reply(order["id"], 1))
    modify(uow, catalog, order["id"], items=[1])
    saga.react(uow, saga.ON_PAYMENT_AUTHORISED, event(), Reply(order["id"], 2, PAYMENT))
    assert uow.messages("void_requested") == [{"order_id": order["id"], "payment_id": PAYMENT}]
    assert uow.orders.document(order["id"])["status"] == "awaiting_payment"
    assert len(uow.stream(order["id"])) == 4


def test_an_event_for_an_unknown_order_is_recorded_and_ignored(uow):
    saga.react(uow, saga.ON_STOCK_RESERVED, event(), Reply(str(uuid.uuid4()), 1))
    assert uow.messages() == [] and uow.commits == 1


def test_a_concurrent_append_is_retried_from_fresh_state(uow, catalog):
    order, _ = place(uow, catalog)
    uow.orders.conflicts_to_raise = 2
    saga.react(uow, saga.ON_STOCK_RESERVED, event(), Reply(order["id"], 1))
    assert uow.orders.document(order["id"])["status"] == "awaiting_payment"


def test_a_write_that_keeps_conflicting_fails_and_changes_nothing(uow, catalog):
    order, _ = place(uow, catalog)
    uow.orders.conflicts_to_raise = STREAM_ATTEMPTS
    with pytest.raises(StreamConflict):
        saga.react(uow, saga.ON_STOCK_RESERVED, event(), Reply(order["id"], 1))
    assert uow.orders.document(order["id"])["status"] == "pending"
    assert uow.messages("payment_requested") == []


def test_a_failed_compensation_flags_the_order_and_a_retry_announces_it_again(uow, catalog):
    order, _ = place(uow, catalog)
    handlers.change_order(uow, CUSTOMER, order["id"], lambda o: o.cancel(CUSTOMER))
    saga.react(uow, saga.ON_PAYMENT_COMPENSATION_FAILED, event(),
               Reply(order["id"], payment_id=PAYMENT, action="void", reason="provider down"))
    page = queries.list_needing_attention(uow, ADMIN, 1, 20)
    assert [o["id"] for o in page["items"]] == [order["id"]]
    assert page["items"][0]["attention_reason"] == f"void of payment {PAYMENT} failed: provider down"
    handlers.change_order(uow, ADMIN, order["id"], lambda o: o.retry_compensation(ADMIN))
    assert len(uow.messages("order_cancelled")) == 2
    assert queries.list_needing_attention(uow, ADMIN, 1, 20)["total"] == 0


# --- modification -----------------------------------------------------------------------------

def test_modifying_items_asks_the_catalog_and_returns_the_order_once_it_holds_them(uow, catalog):
    order, _ = place(uow, catalog)
    changed = modify(uow, catalog, order["id"], items=[5])
    assert uow.messages("stock_adjustment_requested") == [{
        "order_id": order["id"], "order_version": 2, "items": [{"product_id": PRODUCT, "quantity": 5}],
        "current_items": [{"product_id": PRODUCT, "quantity": 2}]}]
    assert (changed["status"], changed["total"], changed["pending_modification"]) == ("awaiting_payment",
                                                                                       4995, None)
    assert uow.stream(order["id"]) == [("OrderPlaced", 1), ("ModificationRequested", 2), ("OrderModified", 3)]
    assert uow.messages("payment_requested")[-1]["order_version"] == 3


def test_a_modification_the_stock_cannot_cover_is_refused_and_the_old_items_stay(uow, catalog):
    order, _ = place(uow, catalog)
    with pytest.raises(OutOfStock) as refused:
        modify(uow, catalog, order["id"], items=[11])
    assert refused.value.details == {"items": [{"product_id": PRODUCT, "quantity": 11}]}
    after = uow.orders.document(order["id"])
    assert (after["items"], after["total"], after["pending_modification"]) == (order["items"], 1998, None)
    assert [(r["order_version"], r["amount"]) for r in uow.messages("payment_requested")] == [(3, 1998)]


def test_a_catalog_that_does_not_answer_in_time_leaves_the_modification_pending_and_safe(uow, catalog):
    order, _ = place(uow, catalog)
    pending = modify(uow, catalog, order["id"], items=[5], answered=False)
    assert (pending["status"], pending["total"]) == ("pending", 1998)
    assert pending["pending_modification"]["total"] == 4995
    with pytest.raises(OrderNotModifiable):
        modify(uow, catalog, order["id"], items=[3], answered=False)
    # The first reservation, now stale:
    saga.react(uow, saga.ON_STOCK_RESERVED, event(), Reply(order["id"], 1))
    assert uow.messages("payment_requested") == []
    catalog.answer_adjustment(uow, uow.messages("stock_adjustment_requested")[-1])  # the catalog, later
    settled = uow.orders.document(order["id"])
    assert (settled["status"], settled["total"], settled["pending_modification"]) == ("awaiting_payment",
                                                                                      4995, None)
    assert [(r["order_version"], r["amount"]) for r in uow.messages("payment_requested")] == [(3, 4995)]


def test_a_new_address_applies_at_once_without_asking_the_catalog_or_payments(uow, catalog):
    order, _ = place(uow, catalog)
    changed = modify(uow, catalog, order["id"], address=dict(ADDRESS, city="Hamburg"))
    assert changed["shipping_address"]["city"] == "Hamburg"
    assert uow.messages("stock_adjustment_requested") == uow.messages("payment_requested") == []


def test_a_modification_after_the_capture_is_requested_is_refused_before_asking_the_catalog(uow, catalog):
    order, _ = place(uow, catalog)
    saga.react(uow, saga.ON_STOCK_RESERVED, event(), Reply(order["id"], 1))
    saga.react(uow, saga.ON_PAYMENT_AUTHORISED, event(), Reply(order["id"], 2, PAYMENT))
    with pytest.raises(OrderNotModifiable):
        modify(uow, catalog, order["id"], items=[1])
    assert uow.messages("stock_adjustment_requested") == []


def test_another_customers_order_cannot_be_modified_cancelled_or_seen(uow, catalog):
    order, _ = place(uow, catalog)
    with pytest.raises(OrderNotFound):
        modify(uow, catalog, order["id"], address=ADDRESS, actor=STRANGER)
    with pytest.raises(OrderNotFound):
        handlers.change_order(uow, STRANGER, order["id"], lambda o: o.cancel(STRANGER))
    with pytest.raises(OrderNotFound):
        queries.get_order(uow, STRANGER, order["id"])
    with pytest.raises(OrderNotFound):
        queries.get_order_events(uow, STRANGER, order["id"])


def test_an_order_id_that_is_not_a_uuid_is_not_found(uow):
    with pytest.raises(OrderNotFound):
        queries.get_order(uow, ADMIN, "nope")


# --- time-outs and queries ----------------------------------------------------------------------

def test_the_deadline_sweep_cancels_only_open_orders_past_their_deadline(uow, catalog):
    late, _ = place(uow, catalog, key="a")
    fresh, _ = place(uow, catalog, key="b")
    with uow:
        uow.db.rows[late["id"]]["deadline_at"] = handlers.now() - timedelta(seconds=1)
        # the event is the truth; keep the stream in step with the row
        uow.db.streams[late["id"]][0][1]["deadline_at"] = uow.db.rows[late["id"]]["deadline_at"].isoformat()
        uow.commit()
    assert handlers.time_out_due_orders(uow) == 1
    assert uow.orders.document(late["id"])["cancellation_reason"] == "timed_out"
    assert uow.orders.document(fresh["id"])["status"] == "pending"
    assert uow.messages("order_cancelled")[0]["reason"] == "timed_out"
    assert handlers.time_out_due_orders(uow) == 0


def test_each_order_the_sweep_cancels_is_a_trace_of_its_own_linked_to_the_tick(uow, catalog, monkeypatch):
    recorded = recorder("orders")
    monkeypatch.setattr(spans, "tracer", recorded.tracer(spans.__name__))
    monkeypatch.setattr(spans, "tracing_active", lambda: True)
    late = [place(uow, catalog, key=key)[0]["id"] for key in ("a", "b")]
    with uow:
        for order_id in late:
            uow.db.rows[order_id]["deadline_at"] = handlers.now() - timedelta(seconds=1)
            uow.db.streams[order_id][0][1]["deadline_at"] = uow.db.rows[order_id]["deadline_at"].isoformat()
        uow.commit()
    with recorded.tracer().start_as_current_span("orders.time_out_orders") as tick:
        assert handlers.time_out_due_orders(uow) == 2
    cancellations = [span for span in recorded.spans() if span.name == "orders.time_out_order"]
    assert sorted(span.attributes["shop.order_id"] for span in cancellations) == sorted(late)
    traces = {span.context.trace_id for span in cancellations}
    assert len(traces) == 2 and tick.get_span_context().trace_id not in traces
    assert all(span.parent is None and [link.context for link in span.links] == [tick.get_span_context()]
               for span in cancellations)


def test_the_history_never_shows_the_payment_token(uow, catalog):
    order, _ = place(uow, catalog)
    [placed] = queries.get_order_events(uow, CUSTOMER, order["id"])
    assert placed["type"] == "OrderPlaced" and placed["version"] == 1
    assert "payment_token" not in placed["data"] and "tok_visa" not in repr(placed)


def test_customers_list_their_own_orders_whatever_user_they_ask_for(uow, catalog):
    mine, _ = place(uow, catalog, key="a")
    place(uow, catalog, key="b", actor=STRANGER)
    page = queries.list_orders(uow, CUSTOMER, OrderQuery(user_id=STRANGER.user_id))
    assert [o["id"] for o in page["items"]] == [mine["id"]] and page["total"] == 1


def test_admins_list_every_order_and_filter_by_user_and_status(uow, catalog):
    place(uow, catalog, key="a")
    theirs, _ = place(uow, catalog, key="b", actor=STRANGER)
    assert queries.list_orders(uow, ADMIN, OrderQuery())["total"] == 2
    assert [o["id"] for o in queries.list_orders(uow, ADMIN, OrderQuery(user_id=STRANGER.user_id))["items"]] \
        == [theirs["id"]]
    assert queries.list_orders(uow, ADMIN, OrderQuery(status="confirmed"))["total"] == 0
