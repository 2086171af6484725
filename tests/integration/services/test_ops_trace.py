"""`shopctl trace ORDER` against real PostgreSQL and RabbitMQ: what each service stored about one order.

The order, its reservation and its payment are made through the services' own use cases over
their SQL units of work, so the rows are what the services would write.
"""
import json
import uuid
from urllib.parse import unquote, urlsplit

from kombu import Connection, Exchange, Queue
from sqlalchemy import text
from sqlalchemy.orm import Session

from nameko_services.catalog import handlers as catalog_handlers
from nameko_services.catalog import saga as catalog_saga
from nameko_services.catalog.commands import CreateProduct, ReserveStock
from nameko_services.catalog.domain import ReservedItem
from nameko_services.catalog.repository import SqlUnitOfWork as CatalogUnitOfWork
from nameko_services.cli import main
from nameko_services.common.auth import Principal
from nameko_services.ops import trace
from nameko_services.ops.endpoints import amqp_credentials, management_url
from nameko_services.payments import saga as payments_saga
from nameko_services.payments.commands import RequestPayment
from nameko_services.payments.gateways import Adapters, SandboxGateway
from nameko_services.payments.processor import Processor
from nameko_services.payments.repository import SqlUnitOfWork as PaymentsUnitOfWork
from tests.integration.services.test_ops_commands import place_order

ADMIN = Principal(user_id=str(uuid.uuid4()), roles=("customer", "admin"))


def outbox_event_id(engine, event_type, order_id):
    with engine.connect() as conn:
        return conn.execute(text("SELECT event_id::text FROM outbox WHERE event_type = :t "
                                 "AND payload->>'order_id' = :o"),
                            {"t": event_type, "o": order_id}).scalar_one()


def reserve(core_db, order_id, placed_event_id):
    """What the catalog does on the order's ``order_placed`` (recording that event's id)."""
    with Session(core_db) as session:
        product = catalog_handlers.create_product(CatalogUnitOfWork(session), ADMIN, lambda: CreateProduct(
            sku=f"MUG-{uuid.uuid4().hex[:6]}", name="Mug", price=999, currency="EUR", stock=5)).product
        catalog_saga.on_order_placed(CatalogUnitOfWork(session), placed_event_id,
                                     ReserveStock(order_id, (ReservedItem(product.id, 2),), 1))


def pay(payments_db, order_id):
    processor = Processor(Adapters.of(SandboxGateway()), sleep=lambda seconds: None)
    request = RequestPayment(order_id, 2, str(uuid.uuid4()), 1998, "EUR", "tok_visa")
    with Session(payments_db) as session:
        payments_saga.on_payment_requested(PaymentsUnitOfWork(session), processor, str(uuid.uuid4()), request)


def test_the_trace_puts_the_order_its_stock_and_its_payment_on_one_timeline(orders_db, core_db, payments_db):
    order_id = place_order(orders_db)
    reserve(core_db, order_id, outbox_event_id(orders_db, "order_placed", order_id))
    pay(payments_db, order_id)

    found = trace.trace(order_id, {"orders": orders_db, "core": core_db, "payments": payments_db})
    lines = [entry.what for entry in found.entries]
    assert found.summary.startswith("pending, payment pending, 1998 EUR")
    assert "v1 OrderPlaced" in lines
    assert "<- orders.order_placed handled by catalog.on_order_placed" in lines
    assert any(line.startswith("reservation reserved for order v1: 2 x ") for line in lines)
    assert "-> stock_reserved (NOT published)" in lines
    assert any(line.endswith("v1 PaymentInitiated") for line in lines)
    assert any(line.endswith("PaymentAuthorised") for line in lines)
    assert "-> payment_authorised (NOT published)" in lines
    assert sorted(found.unpublished)[0].startswith("catalog.stock_reserved queued ")
    assert [entry.at for entry in found.entries] == sorted(entry.at for entry in found.entries)


def test_a_published_row_shows_its_relay_lag(orders_db, core_db, payments_db):
    order_id = place_order(orders_db)
    with orders_db.begin() as conn:
        conn.execute(text("UPDATE outbox SET published_at = created_at + interval '250 milliseconds'"))
    found = trace.trace(order_id, {"orders": orders_db, "core": core_db, "payments": payments_db})
    assert "-> order_placed (published after 0.250 s)" in [entry.what for entry in found.entries]
    assert found.unpublished == []


def test_the_trace_names_the_traces_its_events_belong_to(orders_db, core_db, payments_db):
    order_id, trace_id = place_order(orders_db), "4bf92f3577b34da6a3ce929d0e0e4736"
    with orders_db.begin() as conn:  # what SessionOutbox.add stores while tracing
        conn.execute(text("UPDATE outbox SET headers = headers || jsonb_build_object("
                          "'nameko.traceparent', :tp)"), {"tp": f"00-{trace_id}-00f067aa0ba902b7-01"})
    found = trace.trace(order_id, {"orders": orders_db, "core": core_db, "payments": payments_db})
    assert found.trace_ids == {trace_id}
    assert f"trace id(s): {trace_id}" in trace.render(found).splitlines()


def test_dead_letters_about_the_order_are_shown_and_stay_in_their_queue(rabbit_config):
    uri, order_id = rabbit_config["AMQP_URI"], str(uuid.uuid4())
    queue = Queue("evt-orders-order_placed--catalog.on_order_placed.dead-letter", Exchange(""),
                  routing_key="evt-orders-order_placed--catalog.on_order_placed.dead-letter", durable=True)
    with Connection(uri) as conn:
        producer = conn.Producer()
        for about in (order_id, str(uuid.uuid4())):
            producer.publish(json.dumps({"order_id": about}), routing_key=queue.routing_key,
                             declare=[queue], headers={"x-shop-last-error": "OutOfStock: gone"},
                             content_type="application/json")
    vhost = unquote(urlsplit(uri).path.lstrip("/"))
    letters = trace.dead_letters_about(order_id, management_url(uri), vhost, amqp_credentials(uri))
    assert letters == [f"{queue.name}: {queue.routing_key} (OutOfStock: gone)"]
    with Connection(uri) as conn:
        assert conn.channel().queue_declare(queue.name, passive=True).message_count == 2


def test_shopctl_trace_prints_the_timeline_and_fails_for_an_unknown_order(
        orders_db, orders_db_url, core_db_url, payments_db_url, monkeypatch, capsys):
    for name, url in (("ORDERS", orders_db_url), ("CORE", core_db_url), ("PAYMENTS", payments_db_url)):
        monkeypatch.setenv(f"SHOP_{name}_DB_URL", url)
    order_id = place_order(orders_db)
    assert main(["trace", order_id, "--no-broker"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"order {order_id}: pending")
    assert "orders    v1 OrderPlaced" in out and "dead letters: none" in out
    assert main(["trace", str(uuid.uuid4()), "--no-broker"]) == 1
    assert "no such order" in capsys.readouterr().out
