"""The saga's and payments' series: what one order or payment adds (the registry is the
process's: each test compares before and after)."""
from datetime import timedelta

from prometheus_client import REGISTRY

from nameko_services.common.aggregate import Change
from nameko_services.orders import metrics as order_metrics
from nameko_services.orders.domain import CAPTURE_REQUESTED, ORDER_CANCELLED, PAYMENT_CAPTURED, STOCK_RESERVED
from nameko_services.payments import domain as payments
from nameko_services.payments import metrics as payment_metrics
from tests.unit.orders.builders import T0, cancelled, confirmed


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_confirmed_order_counts_once_and_times_each_step_it_ended():
    before = {"confirmed": sample("shop_orders_total", status="confirmed", reason=""),
              "captured": sample("shop_saga_step_seconds_count", step="authorised_to_captured", reason=""),
              "whole": sample("shop_saga_step_seconds_sum", step="placed_to_confirmed", reason="")}
    order = confirmed()
    order.created_at, order.updated_at = T0, T0 + timedelta(seconds=2)
    times = {STOCK_RESERVED: T0 + timedelta(seconds=0.5), CAPTURE_REQUESTED: T0 + timedelta(seconds=1.5)}
    order_metrics.observe(order, [PAYMENT_CAPTURED], lambda: times)
    assert sample("shop_orders_total", status="confirmed", reason="") == before["confirmed"] + 1
    captured = sample("shop_saga_step_seconds_count", step="authorised_to_captured", reason="")
    assert captured == before["captured"] + 1
    whole = sample("shop_saga_step_seconds_sum", step="placed_to_confirmed", reason="")
    assert whole == before["whole"] + 2.0


def test_the_capture_time_payments_reported_splits_captured_from_confirmed():
    def step_sum(step):
        return sample("shop_saga_step_seconds_sum", step=step, reason="")

    before = {step: step_sum(step) for step in ("authorised_to_captured", "captured_to_confirmed")}
    order = confirmed()
    order.created_at, order.updated_at = T0, T0 + timedelta(seconds=2)
    order.captured_at = (T0 + timedelta(seconds=1.75)).isoformat()
    order_metrics.observe(order, [PAYMENT_CAPTURED], lambda: {CAPTURE_REQUESTED: T0 + timedelta(seconds=1.5)})
    assert step_sum("authorised_to_captured") == before["authorised_to_captured"] + 0.25
    assert step_sum("captured_to_confirmed") == before["captured_to_confirmed"] + 0.25


def test_a_capture_made_at_once_times_reserved_to_captured_and_no_authorised_step():
    def step_sum(step):
        return sample("shop_saga_step_seconds_sum", step=step, reason="")

    steps = ("reserved_to_captured", "authorised_to_captured", "reserved_to_authorised")
    before = {step: step_sum(step) for step in steps}
    order = confirmed()
    order.created_at, order.updated_at = T0, T0 + timedelta(seconds=2)
    order.captured_at = (T0 + timedelta(seconds=1.75)).isoformat()
    order_metrics.observe(order, [PAYMENT_CAPTURED], lambda: {STOCK_RESERVED: T0 + timedelta(seconds=0.5)})
    assert step_sum("reserved_to_captured") == before["reserved_to_captured"] + 1.25
    assert {step: step_sum(step) for step in steps[1:]} == {step: before[step] for step in steps[1:]}


def test_a_capture_clock_ahead_of_the_orders_clock_never_makes_a_negative_step():
    before = sample("shop_saga_step_seconds_sum", step="captured_to_confirmed", reason="")
    order = confirmed()
    order.created_at, order.updated_at = T0, T0 + timedelta(seconds=2)
    order.captured_at = (T0 + timedelta(seconds=2.5)).isoformat()
    order_metrics.observe(order, [PAYMENT_CAPTURED], dict)
    assert sample("shop_saga_step_seconds_sum", step="captured_to_confirmed", reason="") == before


def test_a_cancellation_counts_with_its_reason():
    order = cancelled()
    order.created_at, order.updated_at = T0, T0 + timedelta(seconds=3)
    before = sample("shop_orders_total", status="cancelled", reason=order.cancellation_reason)
    order_metrics.observe(order, [ORDER_CANCELLED], dict)
    assert sample("shop_orders_total", status="cancelled", reason=order.cancellation_reason) == before + 1
    assert sample("shop_saga_step_seconds_count", step="placed_to_cancelled",
                  reason=order.cancellation_reason) >= 1


def test_payments_count_outcomes_and_the_money_moved():
    before = (sample("shop_payments_total", outcome="captured"),
              sample("shop_payments_amount_minor_total", currency="EUR", kind="captured"),
              sample("shop_payments_amount_minor_total", currency="EUR", kind="refunded"))
    payment_metrics.observe("EUR", [
        Change(payments.PAYMENT_CAPTURED, {"amount": 1999, "order_version": 2}),
        Change(payments.PAYMENT_REFUNDED, {"amount": 500, "refunded_total": 500})])
    assert sample("shop_payments_total", outcome="captured") == before[0] + 1
    assert sample("shop_payments_amount_minor_total", currency="EUR", kind="captured") == before[1] + 1999
    assert sample("shop_payments_amount_minor_total", currency="EUR", kind="refunded") == before[2] + 500
