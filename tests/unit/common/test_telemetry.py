"""When the platform exports traces, what it names itself, and which root spans it keeps
(common.telemetry)."""
import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind

from nameko_services.common.telemetry import (
    WorkSampler,
    export_configured,
    statement_spans_wanted,
    tracer_provider,
    tracing_active,
)

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}


@pytest.mark.parametrize(("environ", "exported"), [
    ({}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, False),
    (ENDPOINT, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
    ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
    ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
    ({**ENDPOINT, "OTEL_SDK_DISABLED": "false", "OTEL_TRACES_EXPORTER": "otlp"}, True),
])
def test_traces_are_exported_only_when_an_endpoint_is_set_and_nothing_turns_them_off(environ, exported):
    assert export_configured(environ) is exported


def test_without_an_endpoint_the_unit_test_process_records_nothing():
    assert not tracing_active()


def test_statement_spans_are_opt_in():
    assert not statement_spans_wanted({})
    assert statement_spans_wanted({"SHOP_TRACE_SQL_STATEMENTS": "true"})


def test_service_name_is_the_processs_own_whatever_otel_service_name_says(monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shared-by-every-process")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    attributes = tracer_provider("orders").resource.attributes
    assert attributes["service.name"] == "orders"
    assert attributes["service.namespace"] == "nameko-shop"
    assert attributes["deployment.environment"] == "staging"  # the other variables still count


def _decision(kind, parent=None):
    context = Context() if parent is None else trace.set_span_in_context(NonRecordingSpan(parent))
    return WorkSampler(ALWAYS_ON).should_sample(context, 1, "x", kind).decision


def test_a_database_or_http_call_outside_any_work_starts_no_trace():
    assert _decision(SpanKind.CLIENT) is Decision.DROP


@pytest.mark.parametrize("kind", [SpanKind.SERVER, SpanKind.CONSUMER, SpanKind.PRODUCER, SpanKind.INTERNAL])
def test_work_starts_a_trace(kind):
    assert _decision(kind) is Decision.RECORD_AND_SAMPLE


def test_a_call_made_by_work_is_kept():
    parent = SpanContext(trace_id=7, span_id=9, is_remote=False, trace_flags=trace.TraceFlags(1))
    assert _decision(SpanKind.CLIENT, parent) is Decision.RECORD_AND_SAMPLE


def test_the_configured_sampler_decides_the_rest(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    assert WorkSampler().should_sample(Context(), 1, "x", SpanKind.SERVER).decision is Decision.DROP
