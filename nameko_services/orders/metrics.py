"""What the orders saga tells Prometheus (docs/ARCHITECTURE.md "Metrics"): each step's
duration, orders confirmed or cancelled (by reason), orders needing attention.

Read from the events an order just saved, counted once their transaction commits.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from nameko_services.common.metrics import ORDERS, SAGA_STEP
from nameko_services.orders.domain import (
    CAPTURE_REQUESTED,
    ORDER_CANCELLED,
    PAYMENT_CAPTURED,
    PAYMENT_WAIVED,
    STOCK_RESERVED,
)
from nameko_services.orders.order import Order

# A step ends with its event type and starts with the event named here (None: the placement).
STEPS = {STOCK_RESERVED: ("placed_to_reserved", None),
         CAPTURE_REQUESTED: ("reserved_to_authorised", STOCK_RESERVED)}


def observe(order: Order, saved: list[str], first_times: Callable[[], Mapping[str, datetime]]) -> None:
    """Record the steps the ``saved`` event types end; ``first_times`` reads when each event
    type first happened to the order (only asked when a step needs it)."""
    ended = order.updated_at
    if ended is None or order.created_at is None:
        return
    for event_type in saved:
        if event_type in STEPS:
            step, started_by = STEPS[event_type]
            started = order.created_at if started_by is None else first_times().get(started_by)
            if started is not None:
                _step(step, started, ended)
    if PAYMENT_CAPTURED in saved:
        _payment_steps(order, ended, first_times())
    if PAYMENT_CAPTURED in saved or PAYMENT_WAIVED in saved:
        _step("placed_to_confirmed", order.created_at, ended)
        ORDERS.labels("confirmed", "").inc()
    if ORDER_CANCELLED in saved:
        reason = order.cancellation_reason or ""
        _step("placed_to_cancelled", order.created_at, ended, reason)
        ORDERS.labels("cancelled", reason).inc()


def _payment_steps(order: Order, confirmed: datetime, times: Mapping[str, datetime]) -> None:
    """authorised → captured when orders asked for the capture, reserved → captured when payments
    captured at once (authorising inside the step); both end when payments captured (its event
    says when; older events did not, so the step then runs to the confirmation). captured →
    confirmed is the hop back."""
    captured = datetime.fromisoformat(order.captured_at) if order.captured_at else None
    capture_requested, reserved = times.get(CAPTURE_REQUESTED), times.get(STOCK_RESERVED)
    if capture_requested is not None:
        _step("authorised_to_captured", capture_requested, captured or confirmed)
    elif reserved is not None:
        _step("reserved_to_captured", reserved, captured or confirmed)
    if captured is not None:
        _step("captured_to_confirmed", captured, confirmed)


def _step(step: str, started: datetime, ended: datetime, reason: str = "") -> None:
    # Clocks of two hosts may disagree by a little: a step never lasts less than nothing.
    SAGA_STEP.labels(step, reason).observe(max((ended - started).total_seconds(), 0.0))
