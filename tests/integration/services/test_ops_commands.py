"""`shopctl rebuild-projections` and `shopctl attention` against real PostgreSQL and RabbitMQ.

Orders and payments are made through their own use cases (handlers and saga functions over the
SQL unit of work), so their events and projection rows are what the services would write.
"""
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from nameko_services.cli import main
from nameko_services.orders import handlers
from nameko_services.orders import saga as orders_saga
from nameko_services.orders.commands import Reply
from nameko_services.orders.domain import Actor
from nameko_services.orders.repository import SqlUnitOfWork as OrdersUnitOfWork
from nameko_services.orders.service import OrdersService
from nameko_services.payments import saga as payments_saga
from nameko_services.payments.commands import RequestPayment
from nameko_services.payments.gateways import Adapters, SandboxGateway
from nameko_services.payments.processor import Processor
from nameko_services.payments.repository import SqlUnitOfWork as PaymentsUnitOfWork
from tests.unit.orders.fakes import FakeCatalog

CUSTOMER = Actor("00000000-0000-4000-8000-0000000000c1", False)
MUG = "00000000-0000-4000-8000-0000000000f1"
ADDRESS = {"name": "Ada Lovelace", "line1": "1 Main St",
           "city": "Berlin", "postal_code": "10115", "country": "DE"}


def place_order(engine, quantity=2):
    catalog = FakeCatalog()
    catalog.add(MUG)
    command = handlers.PlaceOrder(items=({"product_id": MUG, "quantity": quantity},),
                                  shipping_address=ADDRESS, payment_token="tok_visa")
    with Session(engine) as session:
        order, _ = handlers.place_order(OrdersUnitOfWork(session), catalog, handlers.Settings(), CUSTOMER,
                                        str(uuid.uuid4()), command)
    return order["id"]


def cancel(engine, order_id):
    with Session(engine) as session:
        handlers.change_order(OrdersUnitOfWork(session), CUSTOMER, order_id,
                              lambda order: order.cancel(CUSTOMER))


def void_keeps_failing(engine, order_id, payment_id):
    """What the orders service does on payments' ``payment_compensation_failed``."""
    reply = Reply(order_id, payment_id=payment_id, action="void", reason="provider down")
    with Session(engine) as session:
        orders_saga.react(OrdersUnitOfWork(session), orders_saga.ON_PAYMENT_COMPENSATION_FAILED,
                          str(uuid.uuid4()), reply)


def pay(engine, amount=2500):
    """A payment authorised, then captured, as the payments service handles orders' requests."""
    processor = Processor(Adapters.of(SandboxGateway()), sleep=lambda seconds: None)
    order_id = str(uuid.uuid4())
    request = RequestPayment(order_id, 1, str(uuid.uuid4()), amount, "EUR", "tok_visa")
    with Session(engine) as session:
        payment = payments_saga.on_payment_requested(PaymentsUnitOfWork(session), processor,
                                                     str(uuid.uuid4()), request)
        payments_saga.on_capture_requested(PaymentsUnitOfWork(session), processor, str(uuid.uuid4()),
                                           order_id, 2, payment.id)
    return payment.id


def snapshot(engine, table):
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings()]


# --- rebuild-projections -------------------------------------------------------------------------

def test_check_reports_a_corrupted_order_row_then_the_rebuild_restores_it(orders_db, orders_db_url,
                                                                          monkeypatch, capsys):
    monkeypatch.setenv("SHOP_ORDERS_DB_URL", orders_db_url)
    kept, corrupted, cancelled = place_order(orders_db), place_order(orders_db, 3), place_order(orders_db)
    cancel(orders_db, cancelled)
    live = snapshot(orders_db, "orders")
    with orders_db.begin() as conn:
        conn.execute(text("UPDATE orders SET status = 'delivered', total = 0 WHERE id = :id"),
                     {"id": corrupted})
        conn.execute(text("DELETE FROM orders WHERE id = :id"), {"id": cancelled})

    assert main(["rebuild-projections", "--service", "orders", "--check"]) == 1
    out = capsys.readouterr().out
    assert "orders: checked (nothing changed): 3 stream(s), 4 event(s), 3 row(s) written; " \
           "2 row(s) differed" in out
    assert f"{corrupted}: status 'delivered' -> 'pending', total 0 -> 2997" in out
    assert f"{cancelled}: missing (its events make a row)" in out and kept not in out
    assert snapshot(orders_db, "orders") != live  # a check changes nothing

    assert main(["rebuild-projections", "--service", "orders"]) == 0
    assert "2 row(s) differed and were fixed" in capsys.readouterr().out
    assert snapshot(orders_db, "orders") == live
    assert main(["rebuild-projections", "--service", "orders", "--check"]) == 0


def test_the_payments_projection_is_checked_and_rebuilt_in_its_own_database(payments_db, payments_db_url,
                                                                            monkeypatch, capsys):
    monkeypatch.setenv("SHOP_PAYMENTS_DB_URL", payments_db_url)
    first, second = pay(payments_db), pay(payments_db, amount=900)
    live = snapshot(payments_db, "payments")
    assert {row["status"] for row in live} == {"captured"}
    with payments_db.begin() as conn:
        conn.execute(text("UPDATE payments SET refunded_amount = amount, status = 'refunded' WHERE id = :id"),
                     {"id": second})

    assert main(["rebuild-projections", "--service", "payments", "--check"]) == 1
    out = capsys.readouterr().out
    assert f"{second}: refunded_amount 900 -> 0, status 'refunded' -> 'captured'" in out and first not in out
    assert main(["rebuild-projections", "--service", "payments"]) == 0
    assert snapshot(payments_db, "payments") == live


def test_a_rebuild_waits_for_a_writer_holding_an_order_row(orders_db, orders_db_url):
    """The table lock makes the rebuild wait for a live writer's transaction, then see its work."""
    import eventlet

    from nameko_services.common.db import patch_psycopg_for_eventlet
    from nameko_services.ops.projections import rebuild_projections

    patch_psycopg_for_eventlet()  # the rebuild waits on the server without blocking this test
    order_id = place_order(orders_db)
    writer = orders_db.connect()
    transaction = writer.begin()
    writer.execute(text("SELECT id FROM orders WHERE id = :id FOR UPDATE"), {"id": order_id})
    rebuilding = eventlet.spawn(rebuild_projections, ["orders"], apply=True, urls={"orders": orders_db_url})
    eventlet.sleep(0.5)
    assert not rebuilding.dead  # blocked on the writer's row lock
    transaction.commit()
    writer.close()
    with eventlet.Timeout(10):
        [report] = rebuilding.wait()
    assert (report.streams, report.differences) == (1, [])


# --- attention ---------------------------------------------------------------------------------------

@pytest.fixture
def orders_service(container_factory, orders_config, rabbit_config, monkeypatch):
    container = container_factory(OrdersService, dict(orders_config, RPC_TIMEOUT=5))
    container.start()
    monkeypatch.setenv("SHOP_AMQP_URI", rabbit_config["AMQP_URI"])  # where shopctl finds the broker
    return container


def test_attention_lists_a_flagged_order_and_a_retry_clears_it(orders_service, orders_db, capsys):
    fine, flagged = place_order(orders_db), place_order(orders_db)
    cancel(orders_db, flagged)
    payment_id = str(uuid.uuid4())
    void_keeps_failing(orders_db, flagged, payment_id)

    assert main(["attention", "list", "--timeout", "10"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["ORDER", "ID", "STATUS", "SINCE", "REASON"]
    assert row.startswith(f"{flagged}  cancelled  ") and fine not in row
    assert row.endswith(f"void of payment {payment_id} failed: provider down")

    assert main(["attention", "retry", flagged, "--timeout", "10"]) == 0
    assert f"order {flagged} (cancelled): compensation requested again" in capsys.readouterr().err
    assert main(["attention", "list", "--timeout", "10"]) == 0
    assert capsys.readouterr().out.strip() == "no order needs attention"
    with orders_db.connect() as conn:
        queued = conn.execute(text("SELECT count(*) FROM outbox WHERE event_type = 'order_cancelled'"))
    assert queued.scalar() == 2  # by the cancellation, then again by the retry (it voids the payment)


def test_attention_retry_of_an_order_not_needing_it_or_unknown_fails_with_a_message(orders_service,
                                                                                      orders_db, capsys):
    fine = place_order(orders_db)
    assert main(["attention", "retry", fine, "--timeout", "10"]) == 2
    assert "The order has no failed compensation to retry." in capsys.readouterr().err
    assert main(["attention", "retry", str(uuid.uuid4()), "--timeout", "10"]) == 2
    assert "Order not found." in capsys.readouterr().err
    assert main(["attention", "retry", "not-an-id", "--timeout", "10"]) == 2
    assert "Order not found." in capsys.readouterr().err


def test_attention_without_a_running_orders_service_says_so(rabbit_config, monkeypatch, capsys):
    monkeypatch.setenv("SHOP_AMQP_URI", rabbit_config["AMQP_URI"])
    assert main(["attention", "list", "--timeout", "2"]) == 2
    assert "the orders service is not running" in capsys.readouterr().err
