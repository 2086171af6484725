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
         CAPTURE_REQUESTED: ("reserved_to_authorised", STOCK_RESERVED),
         PAYMENT_CAPTURED: ("authorised_to_captured", CAPTURE_REQUESTED)}


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
                SAGA_STEP.labels(step, "").observe((ended - started).total_seconds())
    if PAYMENT_CAPTURED in saved or PAYMENT_WAIVED in saved:
        SAGA_STEP.labels("placed_to_confirmed", "").observe((ended - order.created_at).total_seconds())
        ORDERS.labels("confirmed", "").inc()
    if ORDER_CANCELLED in saved:
        reason = order.cancellation_reason or ""
        SAGA_STEP.labels("placed_to_cancelled", reason).observe((ended - order.created_at).total_seconds())
        ORDERS.labels("cancelled", reason).inc()
