"""Every event the saga passes between services, at the limits of each field, is accepted by
every service that consumes it: no saga event is ever dead-lettered for a rule that two
services enforce differently (issue 9). The producers are the services' own decision and
message code; the consumers are the schemas their event handlers load with.
"""
import uuid

import pytest

from nameko_services.catalog import saga as catalog_saga
from nameko_services.catalog import schemas as catalog_schemas
from nameko_services.catalog.commands import AdjustReservation, CreateProduct, ReserveStock
from nameko_services.catalog.domain import ReservedItem
from nameko_services.catalog.handlers import create_product
from nameko_services.catalog.service import CatalogService
from nameko_services.common.errors import InvalidInput, OrderTotalTooLarge
from nameko_services.common.limits import (
    MAX_LINE_QUANTITY,
    MAX_ORDER_LINES,
    MAX_ORDER_NOTE_LENGTH,
    MAX_PAYMENT_AMOUNT,
    MAX_PAYMENT_TOKEN_LENGTH,
    MAX_PRICE,
)
from nameko_services.common.validation import load
from nameko_services.orders import schemas as orders_schemas
from nameko_services.orders.domain import Line, Priced
from nameko_services.orders.order import Order
from nameko_services.orders.service import OrdersService
from nameko_services.payments import domain as payments_domain
from nameko_services.payments import messages as payments_messages
from nameko_services.payments import schemas as payments_schemas
from nameko_services.payments.domain import Payment
from nameko_services.payments.service import PaymentsService
from tests.unit.catalog.conftest import ADMIN
from tests.unit.catalog.conftest import FakeUnitOfWork as CatalogUnitOfWork
from tests.unit.orders.builders import ADDRESS, CUSTOMER, DEADLINE, decide, placing, price

ORDER = str(uuid.uuid4())
PAYMENT = str(uuid.uuid4())
LONGEST_TOKEN = "tok_" + "x" * (MAX_PAYMENT_TOKEN_LENGTH - 4)

# What each consumer loads each event with (the schema its handler passes the payload to).
CONSUMERS = {
    ("orders", "order_placed"): [("catalog", catalog_schemas.OrderPlacedSchema)],
    ("orders", "stock_adjustment_requested"): [("catalog", catalog_schemas.StockAdjustmentRequestedSchema)],
    ("orders", "order_confirmed"): [("catalog", catalog_schemas.OrderChangedSchema)],
    ("orders", "order_cancelled"): [("catalog", catalog_schemas.OrderChangedSchema),
                                    ("payments", payments_schemas.OrderCancelledSchema)],
    ("orders", "payment_requested"): [("payments", payments_schemas.PaymentRequestedSchema)],
    ("orders", "capture_requested"): [("payments", payments_schemas.CaptureRequestedSchema)],
    ("orders", "void_requested"): [("payments", payments_schemas.VoidRequestedSchema)],
    **{("catalog", event): [("orders", orders_schemas.ReplySchema)] for event in (
        "stock_reserved", "stock_reservation_failed", "stock_adjusted", "stock_adjustment_failed")},
    **{("payments", event): [("orders", orders_schemas.ReplySchema)] for event in (
        "payment_authorised", "payment_action_required", "payment_failed", "payment_captured",
        "payment_compensation_failed", "payment_refunded", "payment_voided")},
}


def handled_events():
    """(source service, event type) of every event handler of every service."""
    found = set()
    for service in (CatalogService, OrdersService, PaymentsService):
        for attr in vars(service).values():
            for entrypoint in getattr(attr, "nameko_entrypoints", ()):
                if hasattr(entrypoint, "event_type"):
                    found.add((entrypoint.source_service, entrypoint.event_type))
    return found


def test_the_table_names_every_event_some_service_handles():
    assert handled_events() == set(CONSUMERS)


def accepted(source, message_type, payload):
    """Load the payload as every consumer does; an InvalidInput here would be a dead letter."""
    for _consumer, schema in CONSUMERS[(source, message_type)]:
        load(schema(), payload)
    return payload


def largest_order(price=MAX_PAYMENT_AMOUNT // (MAX_ORDER_LINES * MAX_LINE_QUANTITY)):
    """50 lines of 100 units whose total is exactly the largest payment."""
    lines = tuple(Line(str(uuid.uuid4()), "N" * 200, price, MAX_LINE_QUANTITY)
                  for _ in range(MAX_ORDER_LINES))
    return Priced("EUR", lines)


def announce(order, outcome):
    for message in outcome.messages:
        accepted("orders", message.type, message.payload)
    return outcome.after


def test_the_largest_order_passes_every_hop_of_the_saga():
    priced = largest_order()
    assert priced.total == MAX_PAYMENT_AMOUNT
    order = announce(Order(ORDER), placing(ORDER, CUSTOMER.user_id, priced, ADDRESS, LONGEST_TOKEN,
                                           DEADLINE, "N" * MAX_ORDER_NOTE_LENGTH))
    order = announce(order, decide(order, Order.on_stock_reserved, order.saga_version))
    order = announce(order, decide(order, Order.modify, CUSTOMER, price(largest_order()), None))
    order = announce(order, decide(order, Order.on_stock_adjusted, order.saga_version))
    order = announce(order, decide(order, Order.on_payment_authorised, order.saga_version, PAYMENT))
    stale = decide(order, Order.on_payment_authorised, order.saga_version - 1, str(uuid.uuid4()))
    announce(order, stale)  # a void
    order = announce(order, decide(order, Order.on_payment_captured, order.saga_version, PAYMENT))
    announce(order, decide(order, Order.cancel, CUSTOMER))
    assert order.status == "confirmed"


def test_an_order_above_the_largest_payment_is_refused_when_placed_or_changed_naming_the_limit():
    too_much = largest_order(price=MAX_PAYMENT_AMOUNT // (MAX_ORDER_LINES * MAX_LINE_QUANTITY) + 1)
    with pytest.raises(OrderTotalTooLarge) as refused:
        placing(ORDER, CUSTOMER.user_id, too_much, ADDRESS, "tok_visa", DEADLINE)
    assert isinstance(refused.value, InvalidInput)
    assert refused.value.details["max_total"] == MAX_PAYMENT_AMOUNT
    assert str(MAX_PAYMENT_AMOUNT) in refused.value.details["total"][0]
    order = placing(ORDER, CUSTOMER.user_id, largest_order(), ADDRESS, "tok_visa", DEADLINE).after
    with pytest.raises(OrderTotalTooLarge):
        gold = Priced("EUR", (Line(str(uuid.uuid4()), "Gold", MAX_PRICE, 2),))
        decide(order, Order.modify, CUSTOMER, price(gold), None)


def test_a_free_order_never_asks_payments_for_an_amount_they_would_refuse():
    free = Priced("EUR", (Line(str(uuid.uuid4()), "Sticker", 0, 1),))
    order = announce(Order(ORDER), placing(ORDER, CUSTOMER.user_id, free, ADDRESS, "tok_visa", DEADLINE))
    outcome = decide(order, Order.on_stock_reserved, order.saga_version)
    assert [m.type for m in outcome.messages] == ["order_confirmed"]
    assert announce(order, outcome).status == "confirmed"


def test_the_catalogs_answers_at_the_largest_order_are_accepted_by_orders():
    uow = CatalogUnitOfWork()
    products = [create_product(uow, ADMIN, lambda n=n: CreateProduct(
                    sku=f"SKU-{n}", name="N", price=MAX_PRICE, currency="EUR",
                    stock=MAX_LINE_QUANTITY)).product
                for n in range(MAX_ORDER_LINES)]
    uow.outbox.rows.clear()  # the products' product_changed: for the gateways' caches, not the saga
    items = tuple(ReservedItem(p.id, MAX_LINE_QUANTITY) for p in products)
    fits, short, other = (str(uuid.uuid4()) for _ in range(3))
    catalog_saga.on_order_placed(uow, "e1", ReserveStock(fits, items, 1))
    catalog_saga.on_order_placed(uow, "e2", ReserveStock(short, items, 1))  # all 50 lines short
    catalog_saga.on_stock_adjustment_requested(uow, "e3", AdjustReservation(fits, 3, items[:1], items))
    catalog_saga.on_order_placed(uow, "e4", ReserveStock(other, items[1:], 1))
    catalog_saga.on_stock_adjustment_requested(uow, "e5", AdjustReservation(fits, 5, items, items[:1]))
    kinds = [kind for kind, payload in uow.outbox.rows if accepted("catalog", kind, payload)]
    assert kinds == ["stock_reserved", "stock_reservation_failed", "stock_adjusted", "stock_reserved",
                     "stock_adjustment_failed"]


def test_the_payments_answers_at_the_largest_amount_are_accepted_by_orders():
    payment = Payment(PAYMENT, ORDER, 2**31 - 1, CUSTOMER.user_id, MAX_PAYMENT_AMOUNT, "EUR", "sandbox",
                      LONGEST_TOKEN)
    for event_type, data in [
            (payments_domain.PAYMENT_AUTHORISED, {}),
            (payments_domain.PAYMENT_FAILED, {"reason": "declined", "message": "M" * 1000}),
            (payments_domain.PAYMENT_CAPTURED, {"order_version": 2**31 - 1}),
            (payments_domain.CAPTURE_FAILED, {"order_version": 2**31 - 1, "message": "M" * 1000}),
            (payments_domain.PAYMENT_REFUNDED, {"amount": MAX_PAYMENT_AMOUNT,
                                                "refunded_total": MAX_PAYMENT_AMOUNT}),
            (payments_domain.PAYMENT_VOIDED, {}),
            (payments_domain.COMPENSATION_FAILED, {"action": "refund", "reason": "R" * 1000})]:
        message = payments_messages.announcement(payment, event_type, data)
        accepted("payments", message.type, message.payload)
