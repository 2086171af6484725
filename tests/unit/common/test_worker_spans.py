"""The services' spans (common.tracing): one per worker, its parent, what it hands on, how a
failure shows; and the relay's span for each event it publishes."""
from types import SimpleNamespace

import pytest
from nameko.events import EventHandler
from nameko.rpc import Rpc
from nameko.timer import Timer
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from nameko_services.common import spans, tracing
from nameko_services.common.errors import NotFound, ServiceUnavailable
from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.service_rpc import SignedMethodProxy
from nameko_services.common.trace_context import data_parent, message_headers
from tests.span_recorder import recorder, traceparent_of

CALLER = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "correlation_id": "c-1"}


def entrypoint(kind, method, *args):
    made = kind(*args)
    made.method_name = method
    return made


@pytest.fixture
def recorded(monkeypatch):
    """The module tracers write to a recorder of this test's; tracing counts as on."""
    spans_recorder = recorder("orders")
    for module in (tracing, spans):
        monkeypatch.setattr(module, "tracer", spans_recorder.tracer(module.__name__))
    monkeypatch.setattr(tracing, "tracing_active", lambda: True)
    monkeypatch.setattr(spans, "tracing_active", lambda: True)
    return spans_recorder


@pytest.fixture
def dependency(recorded):
    provider = tracing.Tracing()
    provider.container = SimpleNamespace(service_name="orders")
    provider.enabled, provider.spans = True, {}
    return provider


class WorkerContext:
    """What the dependency reads of nameko's (hashable by identity, as nameko's is)."""

    def __init__(self, method_entrypoint, data):
        self.entrypoint, self.data = method_entrypoint, dict(data)


def run(dependency, method_entrypoint, data, error=None):
    """One worker through the hooks nameko calls; what it hands on to the calls it makes."""
    worker_ctx = WorkerContext(method_entrypoint, data)
    dependency.worker_setup(worker_ctx)
    handed_on = dict(worker_ctx.data)
    current = trace.get_current_span().get_span_context()
    dependency.worker_result(worker_ctx, None, None if error is None else (type(error), error, None))
    dependency.worker_teardown(worker_ctx)
    return handed_on, current


def test_an_rpc_worker_is_a_server_span_child_of_its_caller_and_hands_on_its_own(dependency, recorded):
    handed_on, current = run(dependency, entrypoint(Rpc, "place_order"), CALLER)
    span = recorded.named("orders.place_order")
    assert span.kind is SpanKind.SERVER
    assert span.parent.span_id == 0x00f067aa0ba902b7 and span.parent.is_remote
    assert current.span_id == span.context.span_id  # current while the worker ran
    assert trace.get_current_span().get_span_context().is_valid is False  # and not after
    assert trace.get_current_span(data_parent(handed_on)).get_span_context().span_id == span.context.span_id
    assert span.attributes["rpc.method"] == "place_order"
    assert span.attributes["shop.correlation_id"] == "c-1"


def test_a_service_rpc_call_carries_the_span_current_when_it_is_made(recorded):
    worker_ctx = SimpleNamespace(container=SimpleNamespace(config={"AMQP_URI": "memory://"}),
                                 context_data=dict(CALLER))
    proxy = SignedMethodProxy(worker_ctx, "catalog", "price_items", None, token_for=lambda audience: "t")
    assert proxy.get_message_headers(worker_ctx)["nameko.traceparent"] == CALLER["traceparent"]  # off
    with recorded.tracer().start_as_current_span("transaction shop_orders") as inner:
        headers = proxy.get_message_headers(worker_ctx)
    assert headers["nameko.traceparent"] == traceparent_of(inner.get_span_context())
    assert headers["nameko.correlation_id"] == "c-1" and headers["nameko.authorization"] == "t"


def test_an_event_worker_is_a_consumer_span_of_the_source_exchange(dependency, recorded):
    handler = entrypoint(EventHandler, "on_stock_reserved", "catalog", "stock_reserved")
    run(dependency, handler, {**CALLER, "event_id": "e-1", "x-shop-attempts": 2})
    span = recorded.named("orders.on_stock_reserved")
    assert span.kind is SpanKind.CONSUMER and span.parent.span_id == 0x00f067aa0ba902b7
    assert span.attributes["messaging.destination.name"] == "catalog.events"
    assert span.attributes["messaging.message.id"] == "e-1"
    assert span.attributes["shop.failed_attempts"] == 2


def test_a_timer_run_starts_a_new_trace(dependency, recorded):
    handed_on, _ = run(dependency, entrypoint(Timer, "time_out_orders", 5), CALLER)
    span = recorded.named("orders.time_out_orders")
    assert span.parent is None and span.context.trace_id != 0x4bf92f3577b34da6a3ce929d0e0e4736
    assert f"{span.context.span_id:016x}" in handed_on["traceparent"]


def test_an_rpc_answering_with_a_service_error_keeps_it_but_is_no_error_span(dependency, recorded):
    run(dependency, entrypoint(Rpc, "get_order"), CALLER, NotFound("no such order"))
    span = recorded.named("orders.get_order")
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["error.type"] == "NotFound" and span.events[0].name == "exception"


@pytest.mark.parametrize(("kind", "error"), [
    ((Rpc,), RuntimeError("bug")), ((Rpc,), ServiceUnavailable("down")),
    ((EventHandler, "catalog", "stock_reserved"), NotFound("no such order")),
])
def test_a_failed_worker_is_an_error_span(dependency, recorded, kind, error):
    run(dependency, entrypoint(kind[0], "work", *kind[1:]), CALLER, error)
    assert recorded.named("orders.work").status.status_code is StatusCode.ERROR


def test_with_tracing_off_a_worker_gets_no_span_and_its_context_stays_as_it_came(dependency, recorded):
    dependency.enabled = False
    handed_on, current = run(dependency, entrypoint(Rpc, "place_order"), CALLER)
    assert recorded.spans() == [] and handed_on == CALLER and not current.is_valid


def test_the_relay_publishes_an_event_in_a_producer_span_child_of_the_row_writer(recorded):
    with recorded.tracer().start_as_current_span("orders.place_order") as writer:
        stored = {"nameko.correlation_id": "c-1", **message_headers()}
    message = OutboxMessage("e-1", "order_placed", {}, stored)
    with tracing.publishing("orders", message) as headers:
        pass
    span = recorded.named("order_placed publish")
    assert span.kind is SpanKind.PRODUCER and span.parent.span_id == writer.get_span_context().span_id
    assert headers == {"nameko.traceparent": traceparent_of(span.context)}


def test_with_tracing_off_the_relay_adds_nothing(recorded, monkeypatch):
    monkeypatch.setattr(tracing, "tracing_active", lambda: False)
    with tracing.publishing("orders", OutboxMessage("e-1", "order_placed", {}, {})) as headers:
        assert headers == {}
    assert recorded.spans() == []


def test_a_declined_card_is_recorded_on_the_provider_span_but_is_no_error(recorded):
    class Declined(Exception):
        pass

    def fault(error):
        return not isinstance(error, Declined)

    with recorded.tracer().start_as_current_span("payments.on_payment_requested"), pytest.raises(Declined), \
            spans.child_span("sandbox authorise", SpanKind.CLIENT, fault=fault):
        raise Declined("insufficient_funds")
    span = recorded.named("sandbox authorise")
    assert span.status.status_code is StatusCode.UNSET and span.attributes["error.type"] == "Declined"
