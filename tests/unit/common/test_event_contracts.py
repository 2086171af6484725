"""Event contracts (common.event_contracts): every event a service emits validates against the JSON
Schema of its type and version, every handler accepts every version it supports (an unversioned
1.0, 1.0, and a newer minor with added fields), and an unknown major is refused with a reason.

The producers are the services' own decision code (the orders aggregate, the catalog's handlers and
saga with their fake unit of work, payments' announcements); the consumers are the schemas their
event handlers load payloads with (test_saga_limits.CONSUMERS, which a test there keeps complete).
"""
from __future__ import annotations

import copy
import uuid

import pytest
from jsonschema import Draft202012Validator

from nameko_services.catalog import saga as catalog_saga
from nameko_services.catalog.commands import AdjustReservation, CreateCategory, CreateProduct, ReserveStock
from nameko_services.catalog.domain import ReservedItem
from nameko_services.catalog.handlers import create_category, create_product, delete_category, update_category
from nameko_services.common import event_contracts
from nameko_services.common.event_contracts import SCHEMA_VERSION, UnsupportedVersion, contracts, read, stamp
from nameko_services.common.validation import load
from nameko_services.orders.domain import Line, Priced
from nameko_services.orders.order import Order
from nameko_services.payments import domain as payments_domain
from nameko_services.payments import messages as payments_messages
from nameko_services.payments.domain import Payment
from tests.unit.catalog.conftest import ADMIN
from tests.unit.catalog.conftest import FakeUnitOfWork as CatalogUnitOfWork
from tests.unit.common.test_saga_limits import CONSUMERS, handled_events
from tests.unit.orders.builders import ADDRESS, CUSTOMER, DEADLINE, decide, placing, price
from tests.unit.orders.builders import ADMIN as ORDERS_ADMIN

ORDER, PAYMENT, OTHER_PAYMENT = (str(uuid.uuid4()) for _ in range(3))


def _order_events():
    """Every orders.events message of an order's life: placed, modified, the card's step shown,
    paid, a stale authorisation voided, confirmed, shipped, delivered; another cancelled; a free one
    confirmed without payment; one captured at once, and a stray capture of it refunded."""
    emitted = []

    def take(outcome):
        emitted.extend(("orders", m.type, m.payload) for m in outcome.messages)
        return outcome.after

    lines = Priced("EUR", (Line(str(uuid.uuid4()), "Mug", 999, 2),))
    order = take(placing(ORDER, CUSTOMER.user_id, lines, ADDRESS, "tok_visa", DEADLINE, "Ring twice"))
    order = take(decide(order, Order.on_stock_reserved, order.saga_version))
    more = Priced("EUR", (Line(str(uuid.uuid4()), "Cup", 500, 3),))
    order = take(decide(order, Order.modify, CUSTOMER, price(more), None))
    order = take(decide(order, Order.on_stock_adjusted, order.saga_version))
    order = take(decide(order, Order.on_payment_action_required, order.saga_version, PAYMENT,
                        {"type": "redirect", "url": "/sandbox/3ds/sbx_pi_0"}))
    order = take(decide(order, Order.on_payment_authorised, order.saga_version, PAYMENT))
    take(decide(order, Order.on_payment_authorised, order.saga_version - 1, OTHER_PAYMENT))
    confirmed = take(decide(order, Order.on_payment_captured, order.saga_version, PAYMENT))
    shipped = take(decide(confirmed, Order.ship, ORDERS_ADMIN))
    take(decide(shipped, Order.deliver, ORDERS_ADMIN))
    other = take(placing(str(uuid.uuid4()), CUSTOMER.user_id, lines, ADDRESS, "tok_visa", DEADLINE))
    take(decide(other, Order.cancel, CUSTOMER))
    free = Priced("EUR", (Line(str(uuid.uuid4()), "Sticker", 0, 1),))
    gift = take(placing(str(uuid.uuid4()), CUSTOMER.user_id, free, ADDRESS, "tok_visa", DEADLINE))
    take(decide(gift, Order.on_stock_reserved, gift.saga_version))
    at_once = take(placing(str(uuid.uuid4()), CUSTOMER.user_id, lines, ADDRESS, "tok_visa", DEADLINE))
    at_once = take(decide(at_once, Order.on_stock_reserved, at_once.saga_version))
    at_once = take(decide(at_once, Order.on_payment_captured, at_once.saga_version, PAYMENT))
    take(decide(at_once, Order.on_payment_captured, at_once.saga_version - 1, OTHER_PAYMENT))
    return emitted


def _catalog_events():
    """Every catalog.events message: categories and products changed, stock reserved or not,
    adjusted or not, committed and released."""
    uow = CatalogUnitOfWork()
    category = create_category(uow, ADMIN, lambda: CreateCategory(name="Mugs"))
    update_category(uow, ADMIN, category.id, lambda: {"name": "Cups"})
    delete_category(uow, ADMIN, category.id)
    mug, cup = (create_product(uow, ADMIN, lambda n=n: CreateProduct(
        sku=f"SKU-{n}", name="Mug", price=999, currency="EUR", stock=5)).product for n in range(2))
    fits, short = str(uuid.uuid4()), str(uuid.uuid4())
    catalog_saga.on_order_placed(uow, "e1", ReserveStock(fits, (ReservedItem(mug.id, 2),), 1))
    catalog_saga.on_order_placed(uow, "e2", ReserveStock(short, (ReservedItem(mug.id, 99),), 1))
    catalog_saga.on_stock_adjustment_requested(uow, "e3", AdjustReservation(
        fits, 3, (ReservedItem(cup.id, 1),), (ReservedItem(mug.id, 2),)))
    catalog_saga.on_stock_adjustment_requested(uow, "e4", AdjustReservation(
        fits, 5, (ReservedItem(cup.id, 99),), (ReservedItem(cup.id, 1),)))
    catalog_saga.on_order_confirmed(uow, "e5", fits)
    catalog_saga.on_order_cancelled(uow, "e6", short, 2)
    return [("catalog", kind, payload) for kind, payload in uow.outbox.rows]


def _payments_events():
    """payments.events: an announcement for every payment event that has one."""
    payment = Payment(PAYMENT, ORDER, 3, CUSTOMER.user_id, 2997, "EUR", "sandbox", "tok_visa")
    emitted = []
    for event_type, data in [
            (payments_domain.PAYMENT_AUTHORISED, {}),
            (payments_domain.PAYMENT_ACTION_REQUIRED, {"next_action": {"type": "redirect",
                                                                       "url": "/sandbox/3ds/sbx_pi_1"}}),
            (payments_domain.PAYMENT_FAILED, {"reason": "declined", "message": "Declined."}),
            (payments_domain.PAYMENT_CAPTURED, {"order_version": 4}),
            (payments_domain.CAPTURE_FAILED, {"order_version": 4, "message": "Expired."}),
            (payments_domain.PAYMENT_REFUNDED, {"amount": 1000, "refunded_total": 1000}),
            (payments_domain.PAYMENT_VOIDED, {}),
            (payments_domain.COMPENSATION_FAILED, {"action": "refund", "reason": "Provider down."})]:
        message = payments_messages.announcement(payment, event_type, data)
        emitted.append(("payments", message.type, message.payload))
    payment.captured_at = "2026-12-02T05:00:00+00:00"
    captured = payments_messages.captured(payment, 4)
    return [*emitted, ("payments", captured.type, captured.payload)]


EMITTED = [*_order_events(), *_catalog_events(), *_payments_events()]
WRITTEN = {"payment_requested": "1.1"}  # the minors past 1.0 this code writes (capture_at_once)


def _contract(event_type, major=1):
    return contracts()[event_type][major]


# --- the schema files ---------------------------------------------------------------------------

def _objects(schema):
    """Every object schema within ``schema`` (itself included)."""
    if schema.get("type") == "object":
        yield schema
    for sub in [*schema.get("properties", {}).values(), *([schema["items"]] if "items" in schema else [])]:
        if isinstance(sub, dict):
            yield from _objects(sub)


@pytest.mark.parametrize("contract", [c for by_major in contracts().values() for c in by_major.values()],
                         ids=lambda c: f"{c.service}.{c.event_type}.v{c.major}")
def test_every_schema_is_valid_json_schema_open_to_added_fields_and_requires_its_version(contract):
    Draft202012Validator.check_schema(contract.schema)
    assert contract.path.parent.name == "event_schemas"
    assert SCHEMA_VERSION in contract.schema["required"]
    # A minor version adds fields, at any depth (an address gaining a line): never closed.
    assert all(obj.get("additionalProperties", True) is True for obj in _objects(contract.schema))


def test_event_types_are_unique_across_services_and_files_are_where_their_producer_is():
    producers = {(service, kind) for service, kind, _ in EMITTED}
    assert {(c.service, c.event_type) for m in contracts().values() for c in m.values()} == producers


def test_every_event_a_service_emits_or_handles_has_a_contract():
    missing = sorted({kind for _, kind, _ in EMITTED} - set(contracts()))
    assert missing == [], f"add nameko_services/<service>/event_schemas/<event>.v1.json for {missing}"
    assert {kind for _, kind in handled_events()} <= set(contracts())


# --- producers ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("service", "event_type", "payload"), EMITTED,
                         ids=[f"{s}.{k}-{n}" for n, (s, k, _) in enumerate(EMITTED)])
def test_every_event_each_service_emits_validates_against_its_schema(service, event_type, payload):
    stamped = stamp(event_type, payload)
    assert stamped[SCHEMA_VERSION] == _contract(event_type).version == WRITTEN.get(event_type, "1.0")
    validator = Draft202012Validator(_contract(event_type).schema)
    assert [error.message for error in validator.iter_errors(stamped)] == []


def test_a_schema_rejects_a_payload_that_breaks_it():
    service, event_type, payload = next(e for e in EMITTED if e[1] == "order_placed")
    broken = dict(stamp(event_type, payload), items=[{"product_id": "p", "quantity": "two"}])
    del broken["currency"]
    messages = {e.message for e in Draft202012Validator(_contract(event_type).schema).iter_errors(broken)}
    assert messages == {"'currency' is a required property", "'two' is not of type 'integer'"}


def test_a_payload_that_names_its_version_keeps_it():
    assert stamp("order_placed", {"order_id": ORDER, SCHEMA_VERSION: "1.3"})[SCHEMA_VERSION] == "1.3"


def test_an_event_type_without_a_contract_yet_is_written_as_1_0():
    assert stamp("thing_happened", {"n": 1}) == {SCHEMA_VERSION: "1.0", "n": 1}


# --- consumers ----------------------------------------------------------------------------------

def _with_added_fields(schema, value):
    """A newer minor's payload: a new field on every object the schema declares, at every depth."""
    if isinstance(value, dict) and "properties" in schema:
        grown = {key: _with_added_fields(schema["properties"].get(key, {}), item)
                 for key, item in value.items()}
        return {**grown, "added_in_1_7": {"anything": [1, "two"]}}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_with_added_fields(schema["items"], item) for item in value]
    return value


def _versions(event_type, payload):
    """The payload as each supported version sends it."""
    current = stamp(event_type, payload)
    newer = dict(_with_added_fields(_contract(event_type).schema, current), schema_version="1.7")
    return {"unversioned (1.0)": dict(payload), "1.0": current, "1.7 with added fields": newer}


SAMPLES = {(service, kind): payload for service, kind, payload in reversed(EMITTED)}
CONSUMED = [(source, kind, label, version, consumer, schema)
            for (source, kind), consumers in sorted(CONSUMERS.items())
            for label, version in _versions(kind, SAMPLES[(source, kind)]).items()
            for consumer, schema in consumers]


@pytest.mark.parametrize(("source", "event_type", "label", "payload", "consumer", "schema"), CONSUMED,
                         ids=[f"{c[4]}.on_{c[1]}-{c[2]}" for c in CONSUMED])
def test_each_handler_accepts_every_supported_version(source, event_type, label, payload, consumer, schema):
    readable = read(event_type, copy.deepcopy(payload))
    assert readable == SAMPLES[(source, event_type)]  # what this code knows, nothing more or less
    load(schema(), readable)  # an InvalidInput here would retry and dead-letter the event


def test_a_payment_request_of_1_0_asks_for_the_capture_later_and_one_of_1_1_at_once():
    """Orders of 1.0 (a rolling deploy) never said capture_at_once: payments authorises only and
    waits for capture_requested, as it always did."""
    from nameko_services.payments.schemas import PaymentRequestedSchema

    current = stamp("payment_requested", SAMPLES[("orders", "payment_requested")])
    older = {key: value for key, value in current.items() if key != "capture_at_once"}
    older[SCHEMA_VERSION] = "1.0"
    assert current["capture_at_once"] is True and current[SCHEMA_VERSION] == "1.1"
    assert load(PaymentRequestedSchema, read("payment_requested", current)).capture_at_once is True
    assert load(PaymentRequestedSchema, read("payment_requested", older)).capture_at_once is False


def test_an_added_field_is_dropped_only_for_a_minor_newer_than_the_code():
    sample = SAMPLES[("orders", "order_placed")]
    same_minor = dict(stamp("order_placed", sample), gift_wrap=True)
    assert read("order_placed", same_minor) == dict(sample, gift_wrap=True)  # this code's own field


@pytest.mark.parametrize("version", ["2.0", "3.1"])
def test_an_unknown_major_is_refused_naming_the_event_and_what_this_code_reads(version):
    payload = dict(SAMPLES[("orders", "order_placed")], schema_version=version)
    refusal = rf"order_placed schema_version {version}: this code reads 1\.x"
    with pytest.raises(UnsupportedVersion, match=refusal):
        read("order_placed", payload)


@pytest.mark.parametrize("version", ["1", "v1.0", "1.07", 1.0, None, ""])
def test_a_version_that_is_no_version_is_refused(version):
    with pytest.raises(UnsupportedVersion, match="is not <major>.<minor>"):
        read("order_placed", dict(SAMPLES[("orders", "order_placed")], schema_version=version))


def test_contract_files_must_be_named_by_event_and_major(tmp_path):
    folder = tmp_path / "orders" / "event_schemas"
    folder.mkdir(parents=True)
    (folder / "order_placed.v2.json").write_text('{"x-schema-version": "1.0"}')
    with pytest.raises(ValueError, match="order_placed.v2.json"):
        event_contracts.load_contracts(tmp_path)
