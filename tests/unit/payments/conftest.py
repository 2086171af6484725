"""Fakes for the payments unit tests: an in-memory unit of work, processors, a local Stripe-like server."""
import copy
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from nameko_services.common.event_store import StoredEvent
from nameko_services.payments.gateways import Adapters, Authorisation, GatewayError, SandboxGateway
from nameko_services.payments.processor import Processor
from nameko_services.payments.projection import PROJECTION
from tests.unit.payments.fake_stripe import FakeStripe


class FakePayments:
    def __init__(self, outbox):
        self.events = {}  # payment id -> [StoredEvent]
        self.outbox = outbox
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)

    def load(self, payment_id):
        events = self.events.get(payment_id)
        return PROJECTION.fold(payment_id, events) if events else None

    def all(self):
        return [self.load(i) for i in self.events]

    def for_order_version(self, order_id, order_version):
        return next((p for p in self.all() if (p.order_id, p.order_version) == (order_id, order_version)),
                    None)

    def of_order(self, order_id):
        return [p for p in self.all() if p.order_id == order_id]

    def save(self, payment, *, causation_id=None, now=None):
        stream = self.events.setdefault(payment.id, [])
        assert len(stream) == payment.stored_version, "the event store would raise StreamConflict"
        changes, messages = payment.collect()
        for change in changes:
            self.clock += timedelta(seconds=1)
            stream.append(StoredEvent(str(uuid.uuid4()), payment.id, len(stream) + 1, change.type,
                                      copy.deepcopy(change.data), self.clock, None, causation_id))
        if changes:
            payment.created_at, payment.updated_at = payment.created_at or stream[0].occurred_at, self.clock
        for message in messages:
            self.outbox.add(message.type, message.payload)

    def history(self, payment_id):
        return list(self.events.get(payment_id, []))

    def page(self, user_id, order_id, page, per_page):
        found = [p for p in self.all() if user_id in (None, p.user_id) and order_id in (None, p.order_id)]
        found.sort(key=lambda p: p.created_at, reverse=True)
        return found[(page - 1) * per_page: page * per_page], len(found)

    def pending_ids(self, started_before):
        return [p.id for p in self.all() if p.pending and p.updated_at < started_before]

    def by_reference(self, provider, reference):
        return next((p for p in self.all() if (p.provider, p.provider_reference) == (provider, reference)),
                    None)


class FakeCancelledOrders:
    def __init__(self):
        self.rows = set()

    def add(self, order_id):
        self.rows.add(order_id)

    def contains(self, order_id):
        return order_id in self.rows


class FakeOutbox:
    def __init__(self):
        self.rows = []

    def add(self, event_type, payload):
        self.rows.append((event_type, copy.deepcopy(payload)))
        return str(uuid.uuid4())

    def of_type(self, event_type):
        return [payload for kind, payload in self.rows if kind == event_type]


class FakeUnitOfWork:
    """State in dicts; leaving the block without commit restores the last committed state."""

    def __init__(self):
        self.outbox = FakeOutbox()
        self.payments = FakePayments(self.outbox)
        self.cancelled_orders = FakeCancelledOrders()
        self.processed = set()
        self.locked = []
        self._saved = None

    def first_delivery(self, event_id, handler):
        if (event_id, handler) in self.processed:
            return False
        self.processed.add((event_id, handler))
        return True

    def lock_order(self, order_id):
        self.locked.append(order_id)

    def _state(self):
        return copy.deepcopy((self.payments.events, self.cancelled_orders.rows, self.outbox.rows,
                              self.processed))

    def __enter__(self):
        self._saved = self._state()
        return self

    def __exit__(self, *exc_info):
        (self.payments.events, self.cancelled_orders.rows, self.outbox.rows,
         self.processed) = self._saved

    def commit(self):
        self._saved = self._state()


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def sandbox():
    return SandboxGateway()


class FakeGateway:
    """A provider called ``name`` that says yes and logs every call ``(action, reference)``;
    like a real provider it refuses references it did not issue."""

    def __init__(self, name):
        self.name, self.calls, self.issued = name, [], set()

    def authorise(self, amount, currency, token, idempotency_key):
        reference = f"{self.name}_{len(self.issued) + 1}"
        self.issued.add(reference)
        self.calls.append(("authorise", reference))
        return Authorisation(reference)

    def capture(self, reference, amount, idempotency_key):
        self._called("capture", reference)

    def void(self, reference, idempotency_key):
        self._called("void", reference)

    def refund(self, reference, amount, idempotency_key):
        self._called("refund", reference)
        return f"re_{self.name}_{len(self.calls)}"

    def _called(self, action, reference):
        self.calls.append((action, reference))
        if reference not in self.issued:
            raise GatewayError("resource_missing", f"{self.name} knows no payment {reference}.")

    def actions(self):
        return [action for action, _ in self.calls]


@pytest.fixture
def processor_of():
    """``processor_of(current, *others)``: new payments go to ``current``; ``others`` stay configured."""
    def build(current, *others):
        return Processor(Adapters.of(current, *others), retry_delays=(0.0, 0.0), sleep=lambda _: None)
    return build


@pytest.fixture
def processor(sandbox, processor_of):
    return processor_of(sandbox)


@pytest.fixture
def alpha():
    return FakeGateway("alpha")


@pytest.fixture
def beta():
    return FakeGateway("beta")


@pytest.fixture
def stripe_server():
    server = FakeStripe()
    yield server
    server.close()
    assert server.problems == [], "the fake Stripe server refused requests"
