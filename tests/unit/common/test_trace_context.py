"""W3C trace context in nameko's headers (common.trace_context): what is injected, what is read
back, which parent a worker's span gets, and that a worker hands on its own span."""
import logging
import re

from opentelemetry import trace
from opentelemetry.context import Context

from nameko_services.common.logging import ContextFilter, bind, clear
from nameko_services.common.trace_context import (
    TraceIdsFilter,
    data_parent,
    forward,
    headers_parent,
    log_ids,
    message_headers,
    trace_id_in,
    worker_parent,
)
from tests.span_recorder import recorder, traceparent_of

CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
CALLER = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "tracestate": "vendor=opaque"}
TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[13]")  # sampled (and a random trace id)


def span_of(context):
    return trace.get_current_span(context).get_span_context()


def test_without_a_span_nothing_is_injected():
    assert message_headers() == {}


def test_the_current_span_travels_as_nameko_headers():
    with recorder().tracer().start_as_current_span("work") as span:
        headers = message_headers()
    assert headers == {"nameko.traceparent": traceparent_of(span.get_span_context())}
    assert TRACEPARENT.fullmatch(headers["nameko.traceparent"])


def test_headers_written_by_one_part_are_the_parent_read_by_the_next():
    with recorder().tracer().start_as_current_span("writes the outbox row") as span:
        stored = {"nameko.correlation_id": "c-1", **message_headers()}
    parent = span_of(headers_parent(stored))
    assert parent.is_remote and (parent.trace_id, parent.span_id) == (
        span.get_span_context().trace_id, span.get_span_context().span_id)


def test_the_trace_id_of_stored_headers_is_what_an_operator_looks_up():
    assert trace_id_in({"nameko.traceparent": CALLER["traceparent"]}) == CALLER_TRACE
    assert trace_id_in({"nameko.correlation_id": "c-1"}) is None


def test_a_worker_continues_its_callers_trace_from_context_data():
    parent = span_of(worker_parent({**CALLER, "call_id_stack": ["gateway.x.1"]}, new_trace=False))
    assert (f"{parent.trace_id:032x}", f"{parent.span_id:016x}") == (CALLER_TRACE, CALLER_SPAN)
    assert parent.trace_state.get("vendor") == "opaque"


def test_a_timer_starts_a_trace_of_its_own_whatever_its_context_holds():
    assert worker_parent(CALLER, new_trace=True) == Context()
    assert not span_of(worker_parent(CALLER, new_trace=True)).is_valid


def test_no_or_a_malformed_traceparent_means_no_parent():
    assert not span_of(data_parent({})).is_valid
    assert not span_of(data_parent({"traceparent": "00-not-a-trace-01"})).is_valid
    assert not span_of(data_parent({"traceparent": f"00-{'0' * 32}-{CALLER_SPAN}-01"})).is_valid


def test_a_worker_hands_on_its_own_span_not_its_callers():
    data = {**CALLER, "correlation_id": "c-1"}
    with recorder().tracer().start_as_current_span("orders.place_order", context=data_parent(data)) as span:
        forward(data)
    ids = span.get_span_context()
    assert data["traceparent"] == f"00-{CALLER_TRACE}-{ids.span_id:016x}-01"  # same trace, our span
    assert data["correlation_id"] == "c-1"


def test_a_span_starting_a_new_trace_drops_the_callers_tracestate():
    data = dict(CALLER)
    with recorder().tracer().start_as_current_span("orders.time_out_orders", context=Context()):
        forward(data)
    assert TRACEPARENT.fullmatch(data["traceparent"]) and CALLER_TRACE not in data["traceparent"]
    assert "tracestate" not in data


def test_log_lines_carry_lowercase_hex_trace_and_span_ids_inside_a_span_only():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    assert log_ids() == {} and TraceIdsFilter().filter(record) and not hasattr(record, "trace_id")
    with recorder().tracer().start_as_current_span("work") as span:
        TraceIdsFilter().filter(record)
    assert record.trace_id == f"{span.get_span_context().trace_id:032x}"
    assert re.fullmatch(r"[0-9a-f]{32}", record.trace_id) and re.fullmatch(r"[0-9a-f]{16}", record.span_id)


def test_the_services_log_filter_adds_the_span_ids_to_the_workers_fields():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    bind(order_id="o-1")
    try:
        with recorder().tracer().start_as_current_span("work") as span:
            ContextFilter("orders").filter(record)
    finally:
        clear()
    assert (record.service, record.order_id) == ("orders", "o-1")
    assert record.span_id == f"{span.get_span_context().span_id:016x}"
