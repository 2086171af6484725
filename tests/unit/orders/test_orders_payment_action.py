"""An order whose card needs the customer (3-D Secure): it shows the step and keeps waiting in
``awaiting_payment`` until the payment is authorised, fails, or the deadline cancels it."""
from datetime import timedelta

from nameko_services.orders.domain import AWAITING_PAYMENT, CANCELLED, PAYMENT_ACTION_REQUIRED
from nameko_services.orders.order import Order
from nameko_services.orders.projection import document
from tests.unit.orders.builders import DEADLINE, PAYMENT, decide, reserved

STEP = {"type": "redirect", "url": "/sandbox/3ds/sbx_pi_0123456789abcdef0123456789abcdef"}


def waiting_for_the_customer():
    order = reserved()
    return decide(order, Order.on_payment_action_required, order.saga_version, PAYMENT, STEP)


def test_the_customer_s_step_is_recorded_and_shown_while_the_order_waits():
    outcome = waiting_for_the_customer()
    assert [e.type for e in outcome.events] == [PAYMENT_ACTION_REQUIRED]
    # Announced once recorded: the live order page reads the order after it shows the step.
    assert [(m.type, m.payload) for m in outcome.messages] == [
        ("payment_action_shown", {"order_id": outcome.after.id, "order_version": outcome.after.saga_version})]
    shown = document(outcome.after)
    assert (shown["status"], shown["payment_action"]) == (AWAITING_PAYMENT, STEP)


def test_the_authorisation_after_the_challenge_is_still_current_and_captured():
    order = waiting_for_the_customer().after
    captured = decide(order, Order.on_payment_authorised, order.saga_version, PAYMENT)
    assert [m.type for m in captured.messages] == ["capture_requested"]
    assert document(captured.after)["payment_action"] is None


def test_the_original_saga_step_is_what_the_payment_still_answers_to():
    before = reserved()
    after = waiting_for_the_customer().after
    assert after.saga_version == before.saga_version  # bookkeeping: the step in flight stays current


def test_a_failed_challenge_cancels_the_order_and_clears_the_step():
    order = waiting_for_the_customer().after
    failed = decide(order, Order.on_payment_failed, order.saga_version, PAYMENT, "authentication_failed")
    shown = document(failed.after)
    assert (shown["status"], shown["cancellation_reason"], shown["payment_action"]) == (
        CANCELLED, "payment_failed", None)
    assert [m.type for m in failed.messages] == ["order_cancelled"]


def test_a_customer_who_never_answers_is_timed_out_at_the_deadline():
    order = waiting_for_the_customer().after
    timed_out = decide(order, Order.time_out, DEADLINE + timedelta(seconds=1))
    shown = document(timed_out.after)
    assert (shown["status"], shown["cancellation_reason"], shown["payment_action"]) == (
        CANCELLED, "timed_out", None)


def test_a_step_for_a_stale_payment_is_ignored():
    order = reserved()
    stale = decide(order, Order.on_payment_action_required, order.saga_version - 1, PAYMENT, STEP)
    assert stale.events == [] and stale.messages == [] and stale.note is not None
    assert document(stale.after)["payment_action"] is None
