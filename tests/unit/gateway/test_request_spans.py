"""A span per HTTP request (gateway.tracing): the client's traceparent honoured, else a new trace;
the route in the name; 5xx an error; and the RPC client handing the span on to the service."""
from __future__ import annotations

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from gateway.app import create_app
from gateway.rpc import AmqpRpcClient
from gateway.tracing import TracingMiddleware
from nameko_services.common.trace_context import message_headers
from tests.span_recorder import Recorder, recorder, traceparent_of
from tests.unit.gateway.gateway_fakes import FakeRpc, new_key

CLIENT_TRACE, CLIENT_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


@pytest.fixture
def recorded() -> Recorder:
    return recorder("gateway")


@pytest.fixture
async def traced(settings, rpc, recorded):
    """The gateway with the request span outermost, as ``create_app`` mounts it when tracing."""
    app = TracingMiddleware(create_app(settings, rpc), tracer=recorded.tracer())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


async def test_a_request_continues_the_clients_trace(traced, rpc: FakeRpc, recorded):
    rpc.answer("catalog", "list_categories", [])
    answer = await traced.get("/api/v1/categories",
                              headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert answer.status_code == 200
    span = recorded.named("GET /api/v1/categories")
    assert span.kind is SpanKind.SERVER
    assert (f"{span.context.trace_id:032x}", f"{span.parent.span_id:016x}") == (CLIENT_TRACE, CLIENT_SPAN)
    assert span.attributes["http.route"] == "/api/v1/categories"
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["shop.correlation_id"] == answer.headers["X-Request-ID"]


async def test_a_request_without_traceparent_starts_a_trace(traced, rpc: FakeRpc, recorded):
    rpc.answer("catalog", "list_categories", [])
    await traced.get("/api/v1/categories")
    assert recorded.named("GET /api/v1/categories").parent is None


async def test_the_span_is_current_while_the_services_are_called(traced, rpc: FakeRpc, recorded):
    seen = {}
    rpc.handlers[("catalog", "list_categories")] = lambda: seen.update(message_headers()) or []
    await traced.get("/api/v1/categories")
    assert seen == {"nameko.traceparent": traceparent_of(recorded.named("GET /api/v1/categories").context)}


async def test_a_5xx_is_an_error_span_and_a_4xx_is_not(traced, rpc: FakeRpc, recorded):
    rpc.fail("catalog", "list_categories", RuntimeError("bug"))
    assert (await traced.get("/api/v1/categories")).status_code == 500
    assert (await traced.get("/api/v1/products/not-a-uuid")).status_code in (404, 422)
    failed, refused = recorded.spans()
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes["error.type"] == "500"
    assert refused.status.status_code is StatusCode.UNSET


async def test_an_unrouted_path_is_named_by_its_method_only(traced, recorded):
    assert (await traced.get("/no/such/thing/123")).status_code == 404
    assert [span.name for span in recorded.spans()] == ["GET"]


async def test_probes_and_scrapes_are_not_traced(traced, recorded):
    for path in ("/health", "/ready", "/metrics"):
        await traced.get(path)
    assert recorded.spans() == []


def test_the_rpc_client_puts_the_current_span_in_the_calls_headers(recorded):
    client = AmqpRpcClient("amqp://unused", key=new_key("service-gateway"))
    assert "nameko.traceparent" not in client._headers("orders", "place_order", None)
    with recorded.tracer().start_as_current_span("POST /api/v1/orders") as span:
        headers = client._headers("orders", "place_order", None)
    assert headers["nameko.traceparent"] == traceparent_of(span.get_span_context())
    assert "nameko.authorization" in headers and "nameko.correlation_id" in headers


def test_without_tracing_the_app_has_no_request_span(settings, rpc):
    stack = create_app(settings, rpc).user_middleware
    assert TracingMiddleware not in [middleware.cls for middleware in stack]
