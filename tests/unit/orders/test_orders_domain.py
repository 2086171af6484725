"""The order aggregate and its rules, without I/O."""
import pytest

from nameko_services.common.errors import (
    NoCompensationPending,
    OrderNotCancellable,
    OrderNotDeliverable,
    OrderNotFound,
    OrderNotModifiable,
    OrderNotShippable,
    PermissionDenied,
)
from nameko_services.orders.domain import public_data
from nameko_services.orders.order import Order
from tests.unit.orders.builders import (
    ADDRESS,
    ADMIN,
    CUSTOMER,
    DEADLINE,
    ORDER,
    PAYMENT,
    PRODUCT,
    STATES,
    STRANGER,
    T0,
    USER,
    cancelled,
    capture_requested,
    confirmed,
    decide,
    modification_requested,
    modified,
    placed,
    placing,
    price,
    priced,
    reserved,
)

OTHER_PAYMENT = "00000000-0000-4000-8000-0000000000b2"


def types(outcome):
    return [e.type for e in outcome.events], [m.type for m in outcome.messages]


# --- placing and rebuilding ------------------------------------------------------------

def test_a_placed_order_is_pending_at_version_one_and_announces_order_placed():
    outcome = placing(ORDER, USER, priced(quantity=3), ADDRESS, "tok_visa", DEADLINE)
    assert types(outcome) == (["OrderPlaced"], ["order_placed"])
    assert outcome.messages[0].payload == {
        "order_id": ORDER, "order_version": 1, "user_id": USER,
        "items": [{"product_id": PRODUCT, "quantity": 3}], "total": 2997, "currency": "EUR"}
    order = outcome.after
    assert (order.status, order.version, order.total, order.deadline_at) == ("pending", 1, 2997, DEADLINE)
    assert order.items[0].to_dict() == {"product_id": PRODUCT, "name": "Mug", "unit_price": 999,
                                        "quantity": 3, "line_total": 2997}


CAPTURE_ASKED_FOR = [lambda o: decide(o, Order.on_payment_authorised, o.saga_version, PAYMENT),
                     lambda o: decide(o, Order.on_compensation_failed, OTHER_PAYMENT, "void", "down"),
                     lambda o: decide(o, Order.on_payment_captured, o.saga_version, PAYMENT)]
CAPTURED_AT_ONCE = [lambda o: decide(o, Order.on_compensation_failed, OTHER_PAYMENT, "void", "down"),
                    lambda o: decide(o, Order.on_payment_action_required, o.saga_version, PAYMENT,
                                     {"type": "redirect", "url": "/sandbox/3ds/sbx_pi_0"}),
                    lambda o: decide(o, Order.on_payment_captured, o.saga_version, PAYMENT)]


@pytest.mark.parametrize("paying", [CAPTURE_ASKED_FOR, CAPTURED_AT_ONCE], ids=["asked", "at_once"])
def test_an_order_rebuilt_from_its_history_equals_the_order_built_step_by_step(paying):
    steps = [lambda o: placing(ORDER, USER, priced(), ADDRESS, "tok_visa", DEADLINE),
             lambda o: decide(o, Order.on_stock_reserved, o.saga_version), *paying]
    order, history = Order(ORDER), []
    for step in steps:
        outcome = step(order)
        history += [(e.type, e.data, order.version + i, T0) for i, e in enumerate(outcome.events, 1)]
        order = outcome.after
    assert Order.from_history(ORDER, history) == order
    assert (order.status, order.version, order.payment_id, order.payment_action) == (
        "confirmed", 5, PAYMENT, None)


def test_the_payment_token_is_kept_in_the_state_but_never_in_public_event_data():
    order = placed()
    assert order.payment_token == "tok_visa"
    assert "tok_visa" not in repr(order)
    assert public_data({"payment_token": "tok_visa", "total": 1}) == {"total": 1}


def test_bookkeeping_events_move_the_version_but_not_the_saga_version():
    order = reserved()
    flagged = decide(order, Order.on_compensation_failed, OTHER_PAYMENT, "void", "gateway down").after
    assert (flagged.version, flagged.saga_version) == (3, 2)
    assert flagged.needs_attention and "void of payment" in flagged.attention_reason


# --- who may see and do what -------------------------------------------------------------

def test_another_customers_order_does_not_exist_for_a_customer():
    with pytest.raises(OrderNotFound):
        placed().check_visible(STRANGER)
    assert placed().check_visible(ADMIN).id == ORDER
    assert placed().check_visible(CUSTOMER).id == ORDER


@pytest.mark.parametrize("state, allowed", [
    ("pending", True), ("awaiting_payment", True), ("confirmed", True),
    ("shipped", False), ("delivered", False), ("cancelled", False)])
def test_a_customer_cancels_only_before_shipping(state, allowed):
    order = STATES[state]()
    if allowed:
        outcome = decide(order, Order.cancel, CUSTOMER)
        assert outcome.messages[0].payload == {"order_id": ORDER, "order_version": order.version + 1,
                                               "reason": "cancelled_by_customer"}
    else:
        with pytest.raises(OrderNotCancellable):
            decide(order, Order.cancel, CUSTOMER)


@pytest.mark.parametrize("state, allowed", [
    ("pending", True), ("awaiting_payment", True), ("confirmed", True),
    ("shipped", True), ("delivered", False), ("cancelled", False)])
def test_an_admin_cancels_before_delivery(state, allowed):
    order = STATES[state]()
    if allowed:
        assert decide(order, Order.cancel, ADMIN).after.cancellation_reason == "cancelled_by_admin"
    else:
        with pytest.raises(OrderNotCancellable):
            decide(order, Order.cancel, ADMIN)


@pytest.mark.parametrize("state", list(STATES))
def test_only_a_confirmed_order_ships(state):
    order = STATES[state]()
    if state == "confirmed":
        assert decide(order, Order.ship, ADMIN).after.status == "shipped"
    else:
        with pytest.raises(OrderNotShippable):
            decide(order, Order.ship, ADMIN)


@pytest.mark.parametrize("state", list(STATES))
def test_only_a_shipped_order_is_delivered(state):
    order = STATES[state]()
    if state == "shipped":
        delivered = decide(order, Order.deliver, ADMIN)
        assert delivered.after.status == "delivered"
        # The customer's live order page hears it (the gateway's stream), no saga does.
        assert [(m.type, m.payload) for m in delivered.messages] == [
            ("order_delivered", {"order_id": order.id})]
    else:
        with pytest.raises(OrderNotDeliverable):
            decide(order, Order.deliver, ADMIN)


def test_customers_may_neither_ship_nor_deliver():
    with pytest.raises(PermissionDenied):
        decide(confirmed(), Order.ship, CUSTOMER)
    with pytest.raises(PermissionDenied):
        decide(confirmed(), Order.deliver, CUSTOMER)


@pytest.mark.parametrize("state, allowed", [
    ("pending", True), ("awaiting_payment", True), ("capture_requested", False), ("confirmed", False),
    ("shipped", False), ("delivered", False), ("cancelled", False)])
def test_an_order_is_modifiable_only_before_the_capture_is_requested(state, allowed):
    order = STATES[state]()
    if allowed:
        order.check_modifiable(CUSTOMER)
    else:
        with pytest.raises(OrderNotModifiable) as raised:
            order.check_modifiable(CUSTOMER)
        assert raised.value.code == "order_not_modifiable"


def test_only_the_owner_modifies_an_order():
    with pytest.raises(PermissionDenied):
        placed().check_modifiable(ADMIN)


def test_new_items_are_asked_of_the_catalog_and_the_order_keeps_its_items_meanwhile():
    order = reserved()
    outcome = decide(order, Order.modify, CUSTOMER, price(priced(quantity=5)), None)
    assert types(outcome) == (["ModificationRequested"], ["stock_adjustment_requested"])
    assert outcome.messages[0].payload == {
        "order_id": ORDER, "order_version": 3, "items": [{"product_id": PRODUCT, "quantity": 5}],
        "current_items": [{"product_id": PRODUCT, "quantity": 2}]}
    after = outcome.after
    assert (after.status, after.total, after.saga_version) == ("awaiting_payment", 1998, 3)
    assert after.pending_modification["total"] == 4995


def test_the_catalog_holding_the_new_items_applies_them_and_asks_for_the_new_amount():
    order = modification_requested(quantity=5)
    outcome = decide(order, Order.on_stock_adjusted, 3)
    assert types(outcome) == (["OrderModified"], ["payment_requested"])
    assert outcome.messages[0].payload == {
        "order_id": ORDER, "order_version": 4, "user_id": USER, "amount": 4995, "currency": "EUR",
        "payment_token": "tok_visa", "capture_at_once": True}
    after = outcome.after
    assert (after.status, after.total, after.pending_modification) == ("awaiting_payment", 4995, None)


def test_a_refused_adjustment_keeps_the_old_items_and_asks_for_the_old_amount_again():
    order = modification_requested(quantity=50)
    outcome = decide(order, Order.on_stock_adjustment_failed, 3, "out_of_stock", {"items": []},
                     [{"product_id": PRODUCT, "quantity": 2}])
    assert types(outcome) == (["ModificationRejected"], ["payment_requested"])
    assert (outcome.messages[0].payload["amount"], outcome.messages[0].payload["order_version"]) == (1998, 4)
    after = outcome.after
    assert (after.status, after.total, after.pending_modification) == ("awaiting_payment", 1998, None)
    assert after.modifiable


def test_an_adjustment_that_left_nothing_held_cancels_the_order_out_of_stock():
    order = modification_requested()
    after = decide(order, Order.on_stock_adjustment_failed, 3, "out_of_stock", {}, []).after
    assert (after.status, after.cancellation_reason) == ("cancelled", "out_of_stock")


@pytest.mark.parametrize("version", [2, 4])
def test_an_adjustment_answer_for_another_version_is_stale(version):
    order = modification_requested()
    assert types(decide(order, Order.on_stock_adjusted, version)) == ([], [])
    assert types(decide(order, Order.on_stock_adjustment_failed, version, "out_of_stock", {}, [])) == ([], [])


def test_an_adjustment_answer_after_a_cancellation_changes_nothing():
    order = modification_requested()
    order = decide(order, Order.cancel, CUSTOMER).after
    assert order.pending_modification is None
    assert types(decide(order, Order.on_stock_adjusted, 3)) == ([], [])


def test_one_modification_at_a_time():
    with pytest.raises(OrderNotModifiable) as raised:
        decide(modification_requested(), Order.modify, CUSTOMER, price(priced(quantity=1)), None)
    assert raised.value.details["modification_pending"] is True


def test_an_address_change_applies_at_once_and_starts_no_saga_step():
    order = placed()
    outcome = decide(order, Order.modify, CUSTOMER, None, dict(ADDRESS, city="Hamburg"))
    assert types(outcome) == (["ShippingAddressChanged"], [])
    after = outcome.after
    assert after.shipping_address["city"] == "Hamburg" and after.items == order.items
    assert (after.status, after.saga_version) == ("pending", 1)  # stock_reserved of v1 still counts
    assert types(decide(after, Order.on_stock_reserved, 1)) == (["StockReserved"], ["payment_requested"])


def test_a_free_order_is_confirmed_once_its_stock_is_held_without_asking_for_payment():
    order = placing(ORDER, USER, priced(price=0), ADDRESS, "tok_visa", DEADLINE).after
    outcome = decide(order, Order.on_stock_reserved, 1)
    assert types(outcome) == (["StockReserved", "PaymentWaived"], ["order_confirmed"])
    assert outcome.messages[0].payload == {"order_id": ORDER, "order_version": 3, "payment_id": None}
    assert outcome.after.status == "confirmed"


def test_a_modification_to_free_items_confirms_the_order_once_the_catalog_holds_them():
    order = reserved()
    order = decide(order, Order.modify, CUSTOMER, price(priced(price=0)), None).after
    outcome = decide(order, Order.on_stock_adjusted, order.saga_version)
    assert types(outcome) == (["OrderModified", "PaymentWaived"], ["order_confirmed"])


# --- saga reactions ----------------------------------------------------------------------

def test_stock_reserved_for_the_current_version_asks_for_the_payment():
    order = placed()
    outcome = decide(order, Order.on_stock_reserved, 1)
    assert types(outcome) == (["StockReserved"], ["payment_requested"])
    assert outcome.messages[0].payload["order_version"] == 2
    assert outcome.messages[0].payload["payment_token"] == "tok_visa"


@pytest.mark.parametrize("version", [0, 2, 7])
def test_stock_reserved_for_another_version_is_stale_and_changes_nothing(version):
    outcome = decide(placed(), Order.on_stock_reserved, version)
    assert types(outcome) == ([], []) and "stale" in outcome.note


def test_stock_reserved_after_a_cancellation_changes_nothing():
    order = decide(placed(), Order.cancel, CUSTOMER).after
    assert types(decide(order, Order.on_stock_reserved, order.saga_version)) == ([], [])


def test_a_failed_reservation_cancels_the_order_as_out_of_stock():
    outcome = decide(placed(), Order.on_stock_reservation_failed, 1, "product_unavailable")
    after = outcome.after
    assert (after.status, after.cancellation_reason) == ("cancelled", "out_of_stock")
    assert types(outcome) == (["OrderCancelled"], ["order_cancelled"])


def test_a_stale_reservation_failure_is_ignored():
    order = reserved()
    assert types(decide(order, Order.on_stock_reservation_failed, 1, "out_of_stock")) == ([], [])


def test_a_current_authorisation_requests_the_capture_and_freezes_the_order():
    order = reserved()
    outcome = decide(order, Order.on_payment_authorised, 2, PAYMENT)
    assert types(outcome) == (["CaptureRequested"], ["capture_requested"])
    assert outcome.messages[0].payload == {"order_id": ORDER, "order_version": 3, "payment_id": PAYMENT}
    assert not outcome.after.modifiable


def test_a_stale_authorisation_is_voided_without_touching_the_order():
    order = modified(quantity=1)
    outcome = decide(order, Order.on_payment_authorised, 2, OTHER_PAYMENT)
    assert types(outcome) == ([], ["void_requested"])
    assert outcome.messages[0].payload == {"order_id": ORDER, "payment_id": OTHER_PAYMENT}


def test_an_authorisation_for_a_cancelled_order_is_voided():
    outcome = decide(cancelled(), Order.on_payment_authorised, cancelled().saga_version, OTHER_PAYMENT)
    assert types(outcome) == ([], ["void_requested"])


def test_a_second_authorisation_while_one_is_captured_is_voided_but_the_same_one_is_not():
    order = capture_requested()
    assert types(decide(order, Order.on_payment_authorised, 2, OTHER_PAYMENT)) == ([], ["void_requested"])
    assert types(decide(order, Order.on_payment_authorised, 2, PAYMENT)) == ([], [])


def test_the_capture_confirms_the_order_and_announces_order_confirmed():
    order = capture_requested()
    outcome = decide(order, Order.on_payment_captured, order.saga_version, PAYMENT)
    assert types(outcome) == (["PaymentCaptured"], ["order_confirmed"])
    assert outcome.messages[0].payload == {"order_id": ORDER, "order_version": 4, "payment_id": PAYMENT}


def test_the_confirmation_keeps_when_payments_captured():
    order = capture_requested()
    at = "2026-12-01T12:00:01+00:00"
    assert decide(order, Order.on_payment_captured, order.saga_version, PAYMENT, at).after.captured_at == at


def test_a_capture_of_a_cancelled_order_changes_nothing():
    order = capture_requested()
    order = decide(order, Order.cancel, CUSTOMER).after
    assert types(decide(order, Order.on_payment_captured, 3, PAYMENT)) == ([], [])


def test_a_capture_made_at_once_for_the_current_version_confirms_the_order():
    order = decide(reserved(), Order.on_payment_action_required, 2, PAYMENT,
                   {"type": "redirect", "url": "/sandbox/3ds/sbx_pi_0"}).after
    outcome = decide(order, Order.on_payment_captured, 2, PAYMENT, "2026-12-01T12:00:01+00:00")
    assert types(outcome) == (["PaymentCaptured"], ["order_confirmed"])
    # the card's step shown was bookkeeping (version 3): the capture is version 4
    assert outcome.messages[0].payload == {"order_id": ORDER, "order_version": 4, "payment_id": PAYMENT}
    after = outcome.after
    assert (after.status, after.payment_status, after.payment_id, after.payment_action) == (
        "confirmed", "paid", PAYMENT, None)


def test_a_capture_made_at_once_for_an_older_version_is_refunded_and_the_order_waits_on():
    """The customer changed the order while its old total was being captured: that money goes back,
    and the new total is asked for once the catalog holds the new items."""
    order = modification_requested(quantity=5)
    outcome = decide(order, Order.on_payment_captured, 2, OTHER_PAYMENT)
    assert types(outcome) == ([], ["void_requested"])
    assert outcome.messages[0].payload == {"order_id": ORDER, "payment_id": OTHER_PAYMENT}
    assert "refund requested" in outcome.note
    assert (outcome.after.status, outcome.after.payment_status) == ("awaiting_payment", "pending")


def test_a_stray_capture_after_the_order_was_paid_is_refunded_but_a_repeat_of_its_own_is_not():
    order = decide(reserved(), Order.on_payment_captured, 2, PAYMENT).after
    assert types(decide(order, Order.on_payment_captured, 2, OTHER_PAYMENT)) == ([], ["void_requested"])
    assert types(decide(order, Order.on_payment_captured, 2, PAYMENT)) == ([], [])


def test_a_capture_made_at_once_for_a_cancelled_order_is_left_to_payments():
    """payments refunds every payment of a cancelled order on order_cancelled: asking again would
    only race that refund."""
    assert types(decide(cancelled(), Order.on_payment_captured, 2, PAYMENT)) == ([], [])


def test_an_order_paid_at_once_stays_modifiable_until_the_capture_arrives():
    order = reserved()
    order.check_modifiable(CUSTOMER)
    with pytest.raises(OrderNotModifiable):
        decide(order, Order.on_payment_captured, 2, PAYMENT).after.check_modifiable(CUSTOMER)


def test_a_failed_payment_of_the_current_version_cancels_the_order():
    after = decide(reserved(), Order.on_payment_failed, 2, OTHER_PAYMENT, "declined").after
    assert (after.status, after.cancellation_reason) == ("cancelled", "payment_failed")


def test_a_failed_payment_of_an_older_version_is_ignored():
    order = modified(quantity=1)
    assert types(decide(order, Order.on_payment_failed, 2, OTHER_PAYMENT, "declined")) == ([], [])


def test_a_failed_capture_of_the_requested_payment_cancels_but_of_another_payment_does_not():
    order = capture_requested()
    assert types(decide(order, Order.on_payment_failed, 2, OTHER_PAYMENT, "capture_failed")) == ([], [])
    after = decide(order, Order.on_payment_failed, 2, PAYMENT, "capture_failed").after
    assert after.cancellation_reason == "payment_failed"


def test_an_order_past_its_deadline_times_out_and_one_before_does_not():
    order = reserved()
    assert types(decide(order, Order.time_out, DEADLINE.replace(second=1))) == (["OrderCancelled"],
                                                                              ["order_cancelled"])
    assert types(decide(order, Order.time_out, T0)) == ([], [])
    assert types(decide(confirmed(), Order.time_out, DEADLINE.replace(hour=23))) == ([], [])


def test_retrying_a_failed_refund_announces_the_cancellation_again_and_clears_the_flag():
    order = cancelled()
    order = decide(order, Order.on_compensation_failed, PAYMENT, "refund", "provider down").after
    outcome = decide(order, Order.retry_compensation, ADMIN)
    assert types(outcome) == (["CompensationRetried"], ["order_cancelled"])
    assert outcome.messages[0].payload == {"order_id": ORDER, "order_version": cancelled().version,
                                           "reason": "cancelled_by_customer"}
    assert not outcome.after.needs_attention


def test_retrying_a_failed_void_of_a_live_order_asks_for_the_void_again():
    order = reserved()
    order = decide(order, Order.on_compensation_failed, OTHER_PAYMENT, "void", "provider down").after
    outcome = decide(order, Order.retry_compensation, ADMIN)
    assert outcome.messages[0].payload == {"order_id": ORDER, "payment_id": OTHER_PAYMENT}


def test_retrying_needs_an_admin_and_a_failed_compensation():
    with pytest.raises(NoCompensationPending):
        decide(cancelled(), Order.retry_compensation, ADMIN)
    with pytest.raises(PermissionDenied):
        decide(cancelled(), Order.retry_compensation, CUSTOMER)


# --- payment_status ----------------------------------------------------------------------------

def test_the_payment_status_follows_the_money_from_pending_to_paid():
    assert (placed().payment_status, reserved().payment_status) == ("pending", "pending")
    assert capture_requested().payment_status == "authorised"
    assert confirmed().payment_status == "paid"


@pytest.mark.parametrize("refunds, status", [([500], "partially_refunded"), ([500, 1998], "refunded"),
                                             ([1998, 500], "refunded")])
def test_refunds_of_the_orders_payment_make_it_partially_refunded_then_refunded(refunds, status):
    order = confirmed()
    for refunded_total in refunds:
        order = decide(order, Order.on_payment_refunded, PAYMENT, refunded_total).after
    assert order.payment_status == status  # a late, smaller total never undoes a larger one


def test_a_refund_or_void_of_another_payment_changes_nothing():
    assert types(decide(confirmed(), Order.on_payment_refunded, OTHER_PAYMENT, 1998)) == ([], [])
    assert types(decide(capture_requested(), Order.on_payment_voided, OTHER_PAYMENT)) == ([], [])


def test_a_void_of_the_authorised_payment_of_a_cancelled_order_makes_it_voided():
    order = capture_requested()
    order = decide(order, Order.cancel, CUSTOMER).after
    after = decide(order, Order.on_payment_voided, PAYMENT).after
    assert after.payment_status == "voided"
    assert after.saga_version == order.saga_version  # bookkeeping: no saga step


def test_a_fully_refunded_order_cannot_be_shipped_but_a_partially_refunded_one_can():
    order = decide(confirmed(), Order.on_payment_refunded, PAYMENT, 500).after
    assert types(decide(order, Order.ship, ADMIN)) == (["OrderShipped"], ["order_shipped"])
    order = decide(order, Order.on_payment_refunded, PAYMENT, 1998).after
    with pytest.raises(OrderNotShippable) as refused:
        decide(order, Order.ship, ADMIN)
    assert refused.value.details == {"status": "confirmed", "payment_status": "refunded"}


def test_a_free_order_needs_no_payment():
    order = placing(ORDER, USER, priced(price=0), ADDRESS, "tok_visa", DEADLINE).after
    assert decide(order, Order.on_stock_reserved, 1).after.payment_status == "not_required"


def test_a_note_is_stored_on_the_order_and_in_its_placed_event():
    outcome = placing(ORDER, USER, priced(), ADDRESS, "tok_visa", DEADLINE, "Leave it at the door")
    assert outcome.after.note == "Leave it at the door"
    assert outcome.events[0].data["note"] == "Leave it at the door"
    assert placed().note is None
