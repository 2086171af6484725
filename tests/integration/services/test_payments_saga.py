"""The payments service over RabbitMQ and PostgreSQL: orders events in, payments events out, RPC."""
import uuid
from functools import partial

import eventlet
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from nameko_services.common.errors import PaymentNotFound, PermissionDenied, RefundExceedsBalance
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import event_publisher
from nameko_services.payments import projection
from nameko_services.payments.service import PaymentsService
from tests.integration.services import event_listeners
from tests.integration.services.event_listeners import recording_listener, wait_for
from tests.unit.payments.fake_stripe import API_KEY, FakeStripe

ADMIN = ("00000000-0000-4000-8000-0000000000ad", ["customer", "admin"])
EVENTS = ("payment_authorised", "payment_failed", "payment_captured", "payment_voided", "payment_refunded",
          "payment_compensation_failed")


PaymentEvents = recording_listener("payments_events_listener", "payments", EVENTS)
answers = partial(event_listeners.answers, PaymentEvents)
answered = partial(event_listeners.answered, PaymentEvents)


@pytest.fixture
def config(payments_config):
    return dict(payments_config, EVENT_RETRY_DELAYS=[0.1, 0.2], PAYMENT_RETRY_DELAYS=[0.05, 0.05],
                PAYMENT_PROVIDER="sandbox")


@pytest.fixture
def service(container_factory, config):
    PaymentEvents.received = []
    container_factory(PaymentEvents, config).start()  # its queues exist before payments publishes
    container = container_factory(PaymentsService, config)
    container.start()
    return container


@pytest.fixture
def sandbox(service):
    processor = next(d for d in service.dependencies if d.attr_name == "processor").processor
    return processor.adapters.of_provider("sandbox")


@pytest.fixture
def dispatch(config):
    """Publish an orders event with the orders relay's publisher: confirmed, signed, with an event id."""
    publish = event_publisher(config, "orders")

    def _dispatch(event_type, payload, event_id=None):
        event_id = event_id or str(uuid.uuid4())
        publish(OutboxMessage(event_id, event_type, payload, {}))
        return event_id

    return _dispatch




def requested(order_id, token="tok_visa", version=1, user=None, amount=2500):
    return {"order_id": order_id, "order_version": version, "user_id": user or str(uuid.uuid4()),
            "amount": amount, "currency": "EUR", "payment_token": token}


def new_order():
    return str(uuid.uuid4())


def authorise(dispatch, order, **kwargs):
    dispatch("payment_requested", requested(order, **kwargs))
    return answered("payment_authorised", order)[0]


def capture(dispatch, order, payment_id):
    dispatch("capture_requested", {"order_id": order, "order_version": 2, "payment_id": payment_id})
    return answered("payment_captured", order)[0]


def test_a_payment_request_is_authorised(service, dispatch, call):
    order = new_order()
    authorised = authorise(dispatch, order)
    assert (authorised["order_version"], authorised["amount"], authorised["currency"]) == (1, 2500, "EUR")
    payment = call("payments", "get_payment", authorised["payment_id"], as_user=ADMIN)
    assert (payment["status"], payment["order_id"], payment["provider"]) == ("authorised", order, "sandbox")


@pytest.mark.parametrize("token, reason", [("tok_chargeDeclined", "declined"),
                                           ("tok_processingError", "processing_error")])
def test_a_refused_card_answers_payment_failed(service, dispatch, token, reason):
    order = new_order()
    dispatch("payment_requested", requested(order, token))
    [failed] = answered("payment_failed", order)
    assert (failed["reason"], failed["order_version"]) == (reason, 1)


def test_a_transient_error_then_success_is_authorised(service, dispatch, sandbox):
    authorise(dispatch, new_order(), token="tok_processingErrorOnce")
    assert sandbox.charges == 1


def test_the_same_request_delivered_twice_makes_one_payment_and_one_authorisation(service, dispatch,
                                                                                    sandbox, payments_db):
    order, event_id = new_order(), str(uuid.uuid4())
    payload = requested(order)
    dispatch("payment_requested", payload, event_id)
    dispatch("payment_requested", payload, event_id)
    dispatch("payment_requested", payload)  # the same order version under another event id
    answered("payment_authorised", order)
    eventlet.sleep(0.5)
    assert len(answers("payment_authorised", order)) == 1 and sandbox.charges == 1
    with payments_db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments")).scalar() == 1


def test_a_request_to_capture_at_once_answers_payment_captured_alone(service, dispatch, call, sandbox):
    order, event_id = new_order(), str(uuid.uuid4())
    payload = dict(requested(order, version=2), capture_at_once=True, schema_version="1.1")
    dispatch("payment_requested", payload, event_id)
    dispatch("payment_requested", payload, event_id)  # redelivered: charged and captured once
    [captured] = answered("payment_captured", order)
    assert (captured["order_version"], captured["amount"]) == (2, 2500)
    eventlet.sleep(0.5)
    assert answers("payment_authorised", order) == [] and len(answers("payment_captured", order)) == 1
    assert sandbox.charges == 1
    payment = call("payments", "get_payment", captured["payment_id"], as_user=ADMIN)
    assert (payment["status"], payment["amount"]) == ("captured", 2500)


def test_a_capture_made_at_once_that_orders_calls_stray_is_refunded(service, dispatch):
    order = new_order()
    dispatch("payment_requested", dict(requested(order), capture_at_once=True, schema_version="1.1"))
    [captured] = answered("payment_captured", order)
    dispatch("void_requested", {"order_id": order, "payment_id": captured["payment_id"]})
    [refunded] = answered("payment_refunded", order)
    assert (refunded["payment_id"], refunded["refunded_total"]) == (captured["payment_id"], 2500)


def test_capture_answers_payment_captured(service, dispatch, call):
    order = new_order()
    payment_id = authorise(dispatch, order)["payment_id"]
    captured = capture(dispatch, order, payment_id)
    assert (captured["order_version"], captured["payment_id"]) == (2, payment_id)
    assert call("payments", "get_payment", payment_id, as_user=ADMIN)["status"] == "captured"


def test_cancelling_after_capture_refunds_the_payment(service, dispatch, call):
    order = new_order()
    payment_id = authorise(dispatch, order)["payment_id"]
    capture(dispatch, order, payment_id)
    dispatch("order_cancelled", {"order_id": order, "order_version": 3, "reason": "cancelled_by_admin"})
    [refunded] = answered("payment_refunded", order)
    assert (refunded["amount"], refunded["refunded_total"]) == (2500, 2500)
    assert call("payments", "get_payment", payment_id, as_user=ADMIN)["status"] == "refunded"


def test_a_payment_captured_before_a_restart_is_refunded_after_it(service, container_factory, config,
                                                                   dispatch, call):
    order = new_order()
    payment_id = authorise(dispatch, order)["payment_id"]
    capture(dispatch, order, payment_id)
    service.stop()  # the payments process ends; the sandbox's records must outlive it
    container_factory(PaymentsService, config).start()
    dispatch("order_cancelled", {"order_id": order, "order_version": 3, "reason": "cancelled_by_admin"})
    wait_for(lambda: answers("payment_refunded", order) or answers("payment_compensation_failed", order))
    assert answers("payment_compensation_failed", order) == []
    [refunded] = answers("payment_refunded", order)
    assert (refunded["payment_id"], refunded["refunded_total"]) == (payment_id, 2500)
    payment = call("payments", "get_payment", payment_id, as_user=ADMIN)
    assert (payment["status"], payment["needs_attention"]) == ("refunded", False)


@pytest.fixture
def stripe_server():
    server = FakeStripe()
    yield server
    server.close()


def test_a_payment_authorised_before_a_switch_to_stripe_is_refunded_by_the_sandbox(
        service, container_factory, config, dispatch, call, stripe_server):
    order = new_order()
    payment_id = authorise(dispatch, order)["payment_id"]
    capture(dispatch, order, payment_id)
    service.stop()  # payments comes back with Stripe as the provider of new payments
    container_factory(PaymentsService, dict(config, PAYMENT_PROVIDER="stripe", STRIPE_API_KEY=API_KEY,
                                            STRIPE_API_BASE=stripe_server.base_url)).start()
    refunded = call("payments", "refund_payment", payment_id, as_user=ADMIN)
    assert (refunded["status"], refunded["provider"], refunded["refunded_amount"]) == \
        ("refunded", "sandbox", 2500)
    assert answered("payment_refunded", order)[0]["refunded_total"] == 2500
    assert stripe_server.requests == []
    newer = authorise(dispatch, new_order())["payment_id"]
    assert call("payments", "get_payment", newer, as_user=ADMIN)["provider"] == "stripe"
    assert [path for _, path, _, _ in stripe_server.requests] == ["/v1/payment_intents"]
    assert stripe_server.problems == []


def test_cancelling_an_authorised_payment_voids_it(service, dispatch):
    order = new_order()
    payment_id = authorise(dispatch, order)["payment_id"]
    dispatch("order_cancelled", {"order_id": order, "order_version": 2, "reason": "timed_out"})
    assert answered("payment_voided", order) == [{"order_id": order, "payment_id": payment_id}]


def test_a_request_after_the_cancellation_is_ignored(service, dispatch, sandbox, payments_db):
    order = new_order()
    dispatch("order_cancelled", {"order_id": order, "order_version": 1, "reason": "cancelled_by_customer"})
    wait_for(lambda: _count(payments_db, "cancelled_orders") == 1)
    dispatch("payment_requested", requested(order))
    eventlet.sleep(1)
    assert answers("payment_authorised", order) == [] and sandbox.charges == 0


def test_a_void_that_fails_is_announced_as_compensation_failed(service, dispatch, call):
    order = new_order()
    payment_id = authorise(dispatch, order, token="tok_refundFail")["payment_id"]
    dispatch("void_requested", {"order_id": order, "payment_id": payment_id})
    [failed] = answered("payment_compensation_failed", order)
    assert (failed["payment_id"], failed["action"]) == (payment_id, "void")
    assert call("payments", "get_payment", payment_id, as_user=ADMIN)["needs_attention"] is True


def test_admins_refund_part_then_all_and_never_more(service, dispatch, call):
    order = new_order()
    payment_id = authorise(dispatch, order)["payment_id"]
    capture(dispatch, order, payment_id)
    partial = call("payments", "refund_payment", payment_id, amount=1000, as_user=ADMIN)
    assert (partial["status"], partial["refunded_amount"]) == ("partially_refunded", 1000)
    with pytest.raises(RefundExceedsBalance):
        call("payments", "refund_payment", payment_id, amount=1501, as_user=ADMIN)
    full = call("payments", "refund_payment", payment_id, as_user=ADMIN)
    assert (full["status"], full["refunded_amount"]) == ("refunded", 2500)
    assert [p["refunded_total"] for p in answered("payment_refunded", order, 2)] == [1000, 2500]
    history = call("payments", "get_payment_events", payment_id, as_user=ADMIN)
    assert [e["type"] for e in history][-2:] == ["RefundStarted", "PaymentRefunded"]


def test_customers_see_their_own_payments_only(service, dispatch, call):
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    order = new_order()
    payment_id = authorise(dispatch, order, user=owner)["payment_id"]
    as_owner, as_stranger = (owner, ["customer"]), (stranger, ["customer"])
    assert call("payments", "get_payment", payment_id, as_user=as_owner)["id"] == payment_id
    assert call("payments", "list_payments", as_user=as_owner)["total"] == 1
    assert call("payments", "list_payments", order_id=order, as_user=ADMIN)["total"] == 1
    with pytest.raises(PaymentNotFound):
        call("payments", "get_payment", payment_id, as_user=as_stranger)
    with pytest.raises(PaymentNotFound):
        call("payments", "get_payment_events", payment_id, as_user=as_stranger)
    assert call("payments", "list_payments", as_user=as_stranger)["total"] == 0
    with pytest.raises(PermissionDenied):
        call("payments", "refund_payment", payment_id, as_user=as_owner)


def test_the_projection_rebuilt_from_the_events_equals_the_live_table(service, dispatch, call,
                                                                       payments_db):
    first, second, third = new_order(), new_order(), new_order()
    paid = authorise(dispatch, first)["payment_id"]
    capture(dispatch, first, paid)
    call("payments", "refund_payment", paid, amount=700, as_user=ADMIN)
    authorise(dispatch, second)
    dispatch("payment_requested", requested(third, "tok_chargeDeclined"))
    answered("payment_failed", third)
    live = _rows(payments_db)
    with Session(payments_db) as session:
        assert projection.rebuild(session) == 3
        session.commit()
    assert _rows(payments_db) == live and len(live) == 3


def _rows(engine):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text("SELECT * FROM payments ORDER BY id")).mappings()]


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
