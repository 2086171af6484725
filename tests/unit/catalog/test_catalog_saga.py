"""The catalog's side of the order saga against an in-memory unit of work."""
import uuid

import pytest

from nameko_services.catalog import domain, handlers, saga
from nameko_services.catalog.commands import AdjustReservation, CreateProduct, ReserveStock
from nameko_services.catalog.domain import Reservation, ReservedItem, StockLevel
from nameko_services.common.errors import Conflict, OutOfStock, ReservationNotFound
from tests.unit.catalog.conftest import ADMIN

ORDER = "00000000-0000-4000-8000-000000000001"


def make_product(uow, sku="MUG-1", stock=10):
    product = handlers.create_product(uow, ADMIN, lambda: CreateProduct(sku=sku, name=sku, price=100,
                                                                         currency="EUR", stock=stock)).product
    uow.outbox.rows.clear()  # its product_changed: these tests read the saga's answers only
    return product


def event_id():
    return str(uuid.uuid4())


def placed(uow, *lines, version=1, order=ORDER, event=None):
    items = tuple(ReservedItem(p.id, qty) for p, qty in lines)
    saga.on_order_placed(uow, event or event_id(), ReserveStock(order, items, version))


def adjust(uow, version, *lines, current=(), order=ORDER, event=None):
    """Deliver ``stock_adjustment_requested``; return the answer queued, or None."""
    items = tuple(ReservedItem(p.id, qty) for p, qty in lines)
    held = tuple(ReservedItem(p.id, qty) for p, qty in current)
    before = len(uow.outbox.rows)
    command = AdjustReservation(order, version, items, held)
    saga.on_stock_adjustment_requested(uow, event or event_id(), command)
    return uow.outbox.rows[-1] if len(uow.outbox.rows) > before else None


def wire(*lines):
    return [{"product_id": p.id, "quantity": qty} for p, qty in lines]


def level(uow, product):
    return handlers.get_stock(uow, ADMIN, product.id)


# --- domain ----------------------------------------------------------------------------

def test_cancelling_a_reserved_reservation_releases_it():
    reservation = Reservation("o")
    assert reservation.cancel() == StockLevel.release and reservation.status == domain.RELEASED


def test_cancelling_a_committed_reservation_restocks_it_once():
    reservation = Reservation("o", domain.COMMITTED)
    assert reservation.cancel() == StockLevel.restock and reservation.status == domain.RESTOCKED
    assert reservation.cancel() is None


def test_a_restocked_reservation_cannot_be_committed():
    with pytest.raises(Conflict):
        Reservation("o", domain.RESTOCKED).commit()


@pytest.mark.parametrize("status", [domain.RESTOCKED, domain.RELEASED])
def test_cancelling_a_reservation_that_is_over_moves_no_stock(status):
    assert Reservation("o", status).cancel() is None


def test_restocking_puts_units_back_on_hand():
    stock = StockLevel("p", on_hand=3)
    stock.restock(2)
    assert (stock.on_hand, stock.reserved) == (5, 0)
    with pytest.raises(Conflict):
        stock.restock(0)


def test_moving_a_reservation_counts_the_units_it_gives_back_as_available():
    levels = {"p": StockLevel("p", on_hand=5, reserved=5)}
    domain.move_reservation(levels, [ReservedItem("p", 2)], [ReservedItem("p", 2)])
    assert levels["p"].reserved == 5
    with pytest.raises(OutOfStock) as raised:
        domain.move_reservation({"p": StockLevel("p", 5, 5)}, [ReservedItem("p", 2)], [ReservedItem("p", 3)])
    assert raised.value.details == {"items": [{"product_id": "p", "requested": 3, "available": 2}]}


def test_only_a_later_version_makes_a_request_stale():
    reservation = Reservation("o", order_version=2)
    assert reservation.is_newer_than(1) and not reservation.is_newer_than(2)


# --- order_placed ------------------------------------------------------------------------

def test_order_placed_reserves_and_announces_stock_reserved(uow):
    mug = make_product(uow)
    placed(uow, (mug, 3))
    assert level(uow, mug).reserved == 3
    assert uow.outbox.rows == [("stock_reserved", {"order_id": ORDER, "order_version": 1,
                                                   "items": [{"product_id": mug.id, "quantity": 3}]})]


def test_order_placed_without_enough_stock_announces_the_failure_and_keeps_nothing(uow):
    mug, rare = make_product(uow), make_product(uow, "RARE", stock=1)
    placed(uow, (mug, 1), (rare, 2))
    assert level(uow, mug).reserved == level(uow, rare).reserved == 0
    assert uow.reservations.lock(ORDER) is None
    [failed] = uow.outbox.of_type("stock_reservation_failed")
    assert failed == {"order_id": ORDER, "order_version": 1, "reason": "out_of_stock",
                      "details": {"items": [{"product_id": rare.id, "requested": 2, "available": 1}]}}


def test_order_placed_for_an_inactive_product_fails_as_product_unavailable(uow):
    mug = make_product(uow)
    handlers.deactivate_product(uow, ADMIN, mug.id)
    placed(uow, (mug, 1))
    [failed] = uow.outbox.of_type("stock_reservation_failed")
    assert (failed["reason"], failed["details"]) == ("product_unavailable", {"product_ids": [mug.id]})


def test_a_failure_names_every_short_product(uow):
    a, b = make_product(uow, "A", stock=0), make_product(uow, "B", stock=1)
    placed(uow, (a, 1), (b, 2))
    [failed] = uow.outbox.of_type("stock_reservation_failed")
    assert {item["product_id"] for item in failed["details"]["items"]} == {a.id, b.id}


def test_another_order_placed_of_the_same_order_reserves_nothing_more_and_answers_again(uow):
    mug = make_product(uow, stock=5)
    placed(uow, (mug, 2))
    placed(uow, (mug, 2))  # published again (a new event id), the same items
    assert level(uow, mug).reserved == 2
    assert uow.outbox.of_type("stock_reserved") == [
        {"order_id": ORDER, "order_version": 1, "items": wire((mug, 2))}] * 2


def test_an_order_placed_with_other_items_for_the_same_version_is_refused_and_left_unrecorded(uow):
    mug = make_product(uow, stock=5)
    placed(uow, (mug, 2))
    with pytest.raises(Conflict):
        placed(uow, (mug, 3))
    assert level(uow, mug).reserved == 2
    assert len(uow.processed) == 1 and len(uow.outbox.rows) == 1


def test_the_same_order_placed_event_twice_reserves_once_and_answers_once(uow):
    mug, event = make_product(uow), event_id()
    placed(uow, (mug, 2), event=event)
    placed(uow, (mug, 2), event=event)
    assert level(uow, mug).reserved == 2
    assert len(uow.outbox.rows) == 1


def test_a_late_order_placed_after_an_adjustment_is_stale_and_silent(uow):
    mug = make_product(uow)
    adjust(uow, 2, (mug, 4), current=[(mug, 1)])
    placed(uow, (mug, 1), version=1)
    assert level(uow, mug).reserved == 4
    assert [kind for kind, _ in uow.outbox.rows] == ["stock_adjusted"]


def test_a_failure_leaves_the_event_recorded_so_a_redelivery_changes_nothing(uow):
    mug, event = make_product(uow, stock=1), event_id()
    placed(uow, (mug, 2), event=event)
    handlers.set_stock(uow, ADMIN, mug.id, 5)
    placed(uow, (mug, 2), event=event)
    assert level(uow, mug).reserved == 0
    assert [kind for kind, _ in uow.outbox.rows] == ["stock_reservation_failed", "product_changed"]


# --- order_confirmed and order_cancelled --------------------------------------------------

def test_order_confirmed_commits_the_stock_and_announces_it_idempotently(uow):
    mug = make_product(uow)
    placed(uow, (mug, 3))
    event = event_id()
    saga.on_order_confirmed(uow, event, ORDER)
    saga.on_order_confirmed(uow, event, ORDER)
    saga.on_order_confirmed(uow, event_id(), ORDER)  # another delivery: same state, answered again
    assert (level(uow, mug).on_hand, level(uow, mug).reserved) == (7, 0)
    assert uow.outbox.of_type("stock_committed") == [{"order_id": ORDER}] * 2


def test_order_confirmed_without_a_reservation_is_refused_and_leaves_the_event_unrecorded(uow):
    with pytest.raises(ReservationNotFound):
        saga.on_order_confirmed(uow, event_id(), ORDER)
    assert uow.processed == set() and uow.outbox.rows == []


def test_order_cancelled_releases_a_reservation(uow):
    mug = make_product(uow)
    placed(uow, (mug, 3))
    saga.on_order_cancelled(uow, event_id(), ORDER, 3)
    assert level(uow, mug).available == 10
    assert uow.outbox.of_type("stock_released") == [{"order_id": ORDER}]


def test_order_cancelled_twice_gives_the_stock_back_once(uow):
    mug = make_product(uow)
    placed(uow, (mug, 3))
    saga.on_order_cancelled(uow, event_id(), ORDER, 3)
    saga.on_order_cancelled(uow, event_id(), ORDER, 3)  # retried compensation: a new event id
    assert (level(uow, mug).on_hand, level(uow, mug).available) == (10, 10)
    assert uow.outbox.of_type("stock_released") == [{"order_id": ORDER}] * 2


def test_order_confirmed_after_the_order_was_cancelled_is_refused_and_moves_no_stock(uow):
    mug = make_product(uow)
    placed(uow, (mug, 3))
    saga.on_order_cancelled(uow, event_id(), ORDER, 3)
    with pytest.raises(Conflict):
        saga.on_order_confirmed(uow, event_id(), ORDER)
    assert (level(uow, mug).on_hand, level(uow, mug).reserved) == (10, 0)
    assert uow.outbox.of_type("stock_committed") == []


def test_order_cancelled_after_commit_puts_the_stock_back(uow):
    mug = make_product(uow)
    placed(uow, (mug, 3))
    saga.on_order_confirmed(uow, event_id(), ORDER)
    saga.on_order_cancelled(uow, event_id(), ORDER, 5)
    saga.on_order_cancelled(uow, event_id(), ORDER, 5)  # retried compensation: no second restock
    assert (level(uow, mug).on_hand, level(uow, mug).reserved) == (10, 0)
    assert uow.reservations.lock(ORDER).status == domain.RESTOCKED
    assert uow.outbox.of_type("stock_released") == [{"order_id": ORDER}] * 2


def test_order_cancelled_before_placed_leaves_a_tombstone_that_a_late_order_placed_respects(uow):
    mug = make_product(uow)
    saga.on_order_cancelled(uow, event_id(), ORDER, 2)
    placed(uow, (mug, 1), version=1)
    assert level(uow, mug).reserved == 0
    assert [kind for kind, _ in uow.outbox.rows] == ["stock_released"]


# --- stock_adjustment_requested (a modified order) ----------------------------------------

def test_an_adjustment_replaces_the_items_moves_the_stock_and_says_so(uow):
    mug, bowl = make_product(uow), make_product(uow, "BOWL")
    placed(uow, (mug, 3))
    answer = adjust(uow, 2, (bowl, 2), (mug, 1), current=[(mug, 3)])
    assert answer[0] == "stock_adjusted"
    assert answer[1]["order_version"] == 2
    assert sorted(answer[1]["items"], key=str) == sorted(wire((bowl, 2), (mug, 1)), key=str)
    held = uow.reservations.lock(ORDER)
    assert (held.order_version, held.status) == (2, domain.RESERVED)
    assert (level(uow, mug).reserved, level(uow, bowl).reserved) == (1, 2)


def test_an_adjustment_into_a_shortage_keeps_the_old_items_at_the_new_version(uow):
    mug = make_product(uow, stock=5)
    placed(uow, (mug, 3))
    kind, answer = adjust(uow, 2, (mug, 6), current=[(mug, 3)])
    assert kind == "stock_adjustment_failed"
    assert (answer["reason"], answer["order_version"], answer["items"]) == ("out_of_stock", 2, wire((mug, 3)))
    assert answer["details"]["items"] == [{"product_id": mug.id, "requested": 6, "available": 5}]
    assert uow.reservations.lock(ORDER) == Reservation(ORDER, domain.RESERVED, (ReservedItem(mug.id, 3),), 2)
    assert level(uow, mug).reserved == 3
    assert adjust(uow, 3, (mug, 5), current=[(mug, 3)])[0] == "stock_adjusted"  # up to all on hand
    assert level(uow, mug).reserved == 5


def test_an_adjustment_to_an_unavailable_product_is_refused_with_that_reason(uow):
    mug, gone = make_product(uow), make_product(uow, "GONE")
    handlers.deactivate_product(uow, ADMIN, gone.id)
    placed(uow, (mug, 1))
    kind, answer = adjust(uow, 2, (gone, 1), current=[(mug, 1)])
    assert (kind, answer["reason"], answer["items"]) == ("stock_adjustment_failed", "product_unavailable",
                                                         wire((mug, 1)))
    assert (level(uow, mug).reserved, level(uow, gone).reserved) == (1, 0)


def test_the_same_adjustment_twice_moves_stock_once_and_an_older_version_is_stale(uow):
    mug, event = make_product(uow), event_id()
    placed(uow, (mug, 1))
    assert adjust(uow, 3, (mug, 2), current=[(mug, 1)], event=event)[0] == "stock_adjusted"
    assert adjust(uow, 3, (mug, 2), current=[(mug, 1)], event=event) is None  # a redelivery
    assert adjust(uow, 3, (mug, 4), current=[(mug, 1)]) is None  # the same version again: stale
    assert adjust(uow, 2, (mug, 7), current=[(mug, 1)]) is None  # an older one: stale
    assert level(uow, mug).reserved == 2


def test_an_adjustment_before_the_first_reservation_holds_the_new_items_and_outdates_it(uow):
    mug = make_product(uow)
    assert adjust(uow, 2, (mug, 4), current=[(mug, 1)]) == (
        "stock_adjusted", {"order_id": ORDER, "order_version": 2, "items": wire((mug, 4))})
    placed(uow, (mug, 1), version=1)  # late: stale and silent
    assert level(uow, mug).reserved == 4
    assert [kind for kind, _ in uow.outbox.rows] == ["stock_adjusted"]


def test_a_refused_adjustment_before_the_first_reservation_holds_the_old_items_instead(uow):
    mug = make_product(uow, stock=3)
    kind, answer = adjust(uow, 2, (mug, 5), current=[(mug, 2)])
    assert (kind, answer["items"]) == ("stock_adjustment_failed", wire((mug, 2)))
    assert level(uow, mug).reserved == 2
    placed(uow, (mug, 2), version=1)  # late: stale, nothing reserved twice
    assert level(uow, mug).reserved == 2


def test_when_neither_the_new_nor_the_old_items_can_be_held_nothing_is_and_the_answer_says_so(uow):
    mug = make_product(uow, stock=1)
    kind, answer = adjust(uow, 2, (mug, 5), current=[(mug, 2)])
    assert (kind, answer["items"], answer["reason"]) == ("stock_adjustment_failed", [], "out_of_stock")
    assert level(uow, mug).reserved == 0
    placed(uow, (mug, 1), version=1)  # late: stale, it reserves nothing
    assert level(uow, mug).reserved == 0


@pytest.mark.parametrize("finish", ["commit", "cancel"])
def test_a_committed_or_released_reservation_is_not_adjusted(uow, finish):
    mug = make_product(uow)
    placed(uow, (mug, 1))
    if finish == "commit":
        saga.on_order_confirmed(uow, event_id(), ORDER)
    else:
        saga.on_order_cancelled(uow, event_id(), ORDER, 2)
    assert adjust(uow, 3, (mug, 2), current=[(mug, 1)]) is None
    assert level(uow, mug).reserved == 0

