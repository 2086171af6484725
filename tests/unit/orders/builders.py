"""Orders in every state, built through the decisions themselves."""
import copy
from dataclasses import dataclass
from datetime import timedelta

from nameko_services.common.aggregate import Change, Message
from nameko_services.orders.domain import Actor, Line, Priced
from nameko_services.orders.order import Order
from tests.unit.orders.fakes import utc

ORDER = "00000000-0000-4000-8000-000000000001"
USER = "00000000-0000-4000-8000-0000000000c1"
OTHER_USER = "00000000-0000-4000-8000-0000000000c2"
ADMIN_ID = "00000000-0000-4000-8000-0000000000ad"
PRODUCT = "00000000-0000-4000-8000-0000000000f1"
PAYMENT = "00000000-0000-4000-8000-0000000000b1"
CUSTOMER = Actor(USER)
STRANGER = Actor(OTHER_USER)
ADMIN = Actor(ADMIN_ID, is_admin=True)
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}
T0 = utc(2026, 1, 1, 12, 0)
DEADLINE = T0 + timedelta(minutes=15)


@dataclass
class Outcome:
    """What one rule decided about a copy of an order (the original is untouched)."""

    events: list[Change]
    messages: list[Message]
    note: str | None
    after: Order


def decide(order, rule, *args):
    """Run ``rule`` (an ``Order`` method) on a copy of ``order``, as if it were then saved."""
    after = copy.deepcopy(order)
    note = rule(after, *args)
    events, messages = after.collect()
    after.updated_at = T0
    after.created_at = after.created_at or T0
    return Outcome(events, messages, note, after)


def placing(*args):
    """``Order.place`` as an outcome (the new order's events and messages)."""
    order = Order.place(*args)
    events, messages = order.collect()
    order.created_at = order.updated_at = T0
    return Outcome(events, messages, None, order)


def price(priced_lines):
    """The catalog's answer, as ``Order.modify`` asks for it."""
    return lambda: priced_lines


def priced(quantity=2, price=999, product=PRODUCT):
    return Priced("EUR", (Line(product, "Mug", price, quantity),))


def placed():
    return placing(ORDER, USER, priced(), ADDRESS, "tok_visa", DEADLINE).after


def reserved():
    order = placed()
    return decide(order, Order.on_stock_reserved, order.saga_version).after


def capture_requested():
    order = reserved()
    return decide(order, Order.on_payment_authorised, order.saga_version, PAYMENT).after


def confirmed():
    order = capture_requested()
    return decide(order, Order.on_payment_captured, order.saga_version, PAYMENT).after


def shipped():
    return decide(confirmed(), Order.ship, ADMIN).after


def delivered():
    return decide(shipped(), Order.deliver, ADMIN).after


def cancelled():
    return decide(reserved(), Order.cancel, CUSTOMER).after


STATES = {"pending": placed, "awaiting_payment": reserved, "capture_requested": capture_requested,
          "confirmed": confirmed, "shipped": shipped, "delivered": delivered, "cancelled": cancelled}


def modification_requested(quantity=5):
    order = reserved()
    return decide(order, Order.modify, CUSTOMER, price(priced(quantity=quantity)), None).after


def modified(quantity=5):
    order = modification_requested(quantity)
    return decide(order, Order.on_stock_adjusted, order.saga_version).after
