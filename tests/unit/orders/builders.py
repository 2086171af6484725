"""Orders in every state, built through the decisions themselves."""
import copy
from datetime import timedelta

from nameko_services.orders import decisions
from nameko_services.orders.domain import Actor, Line, Order, Priced
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
ADDRESS = {"line1": "1 Main St", "city": "Berlin", "postal_code": "10115", "country": "DE"}
T0 = utc(2026, 1, 1, 12, 0)
DEADLINE = T0 + timedelta(minutes=15)


def evolve(order, outcome, at=T0):
    """The order after the outcome's events (a copy)."""
    after = copy.deepcopy(order)
    for event in outcome.events:
        after.apply(event.type, event.data, after.version + 1, at)
    return after


def priced(quantity=2, price=999, product=PRODUCT):
    return Priced("EUR", (Line(product, "Mug", price, quantity),))


def placed():
    return evolve(Order(ORDER), decisions.place(ORDER, USER, priced(), ADDRESS, "tok_visa", DEADLINE))


def reserved():
    order = placed()
    return evolve(order, decisions.on_stock_reserved(order, order.saga_version))


def capture_requested():
    order = reserved()
    return evolve(order, decisions.on_payment_authorised(order, order.saga_version, PAYMENT))


def confirmed():
    order = capture_requested()
    return evolve(order, decisions.on_payment_captured(order, order.saga_version, PAYMENT))


def shipped():
    return evolve(confirmed(), decisions.ship(confirmed(), ADMIN))


def delivered():
    return evolve(shipped(), decisions.deliver(shipped(), ADMIN))


def cancelled():
    return evolve(reserved(), decisions.cancel(reserved(), CUSTOMER))


STATES = {"pending": placed, "awaiting_payment": reserved, "capture_requested": capture_requested,
          "confirmed": confirmed, "shipped": shipped, "delivered": delivered, "cancelled": cancelled}


def modification_requested(quantity=5):
    order = reserved()
    return evolve(order, decisions.modify(order, CUSTOMER, priced(quantity=quantity), None))


def modified(quantity=5):
    order = modification_requested(quantity)
    return evolve(order, decisions.on_stock_adjusted(order, order.saga_version))
