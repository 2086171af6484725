"""One trace across two nameko containers (common.tracing, common.trace_context): a service calls
another over ServiceRpc and announces an event through its outbox; the relay publishes it and the
other service handles it, every span a child of the one before, all in one trace.

The spans are recorded in memory by a provider installed as the process's own (once: every later
container of this test process records spans too, which changes nothing else).
"""
from nameko.testing.services import entrypoint_waiter
from opentelemetry.trace import SpanKind

from nameko_services.common.db import Database
from nameko_services.common.events import event_handler
from nameko_services.common.relay import OutboxRelayRunner
from nameko_services.common.rpc import rpc
from nameko_services.common.service import ShopService
from nameko_services.common.service_rpc import ServiceRpc
from nameko_services.common.unit_of_work import SqlEventUnitOfWork
from nameko_services.orders.models import outbox, processed_events
from tests.span_recorder import installed, traceparent_of

GATEWAY_TRACE, GATEWAY_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


class UnitOfWork(SqlEventUnitOfWork):
    outbox_table = outbox
    processed_events = processed_events


# The platform's service names: only they hold keys the others trust (calls and events).
class Front(ShopService):
    name = "orders"
    db = Database("orders")
    back = ServiceRpc("catalog")
    relay = OutboxRelayRunner(outbox)

    @rpc
    def start(self):
        answer = self.back.echo("ping")
        with UnitOfWork(self.db, self.context.correlation_id) as uow:
            uow.outbox.add("thing_happened", {"answer": answer})
            uow.commit()
        return answer


class Back(ShopService):
    name = "catalog"

    @rpc
    def echo(self, text):
        return text

    @event_handler("orders", "thing_happened")
    def on_thing_happened(self, payload):
        return payload


def test_a_call_its_downstream_call_and_the_event_it_causes_are_one_trace(
        container_factory, orders_config, call, monkeypatch):
    recorded = installed()
    monkeypatch.setenv("SHOP_TRACE_SQL_STATEMENTS", "true")  # read when the database sets up
    back = container_factory(Back, orders_config)
    back.start()
    container_factory(Front, orders_config).start()

    with entrypoint_waiter(back, "on_thing_happened", timeout=10):
        assert call("orders", "start", context_data={
            "traceparent": f"00-{GATEWAY_TRACE}-{GATEWAY_SPAN}-01"}) == "ping"
    recorded.wait_for("orders.start", "thing_happened publish", "catalog.on_thing_happened")

    start = recorded.named("orders.start")
    echo, handled = recorded.named("catalog.echo"), recorded.named("catalog.on_thing_happened")
    transaction = next(s for s in recorded.spans() if s.name.startswith("transaction shop_test_orders"))
    publish = recorded.named("thing_happened publish")
    chain = [start, transaction, publish, handled]
    assert {f"{span.context.trace_id:032x}" for span in [*chain, echo]} == {GATEWAY_TRACE}
    assert f"{start.parent.span_id:016x}" == GATEWAY_SPAN  # the caller's span, from the headers
    assert echo.parent.span_id == start.context.span_id  # the span of the caller, not its caller
    for parent, child in zip(chain, chain[1:], strict=False):
        assert child.parent.span_id == parent.context.span_id, (parent.name, child.name)
    assert [start.kind, echo.kind, publish.kind, handled.kind] == [
        SpanKind.SERVER, SpanKind.SERVER, SpanKind.PRODUCER, SpanKind.CONSUMER]
    assert transaction.attributes["shop.transaction"] == "committed"
    # The outbox row kept the transaction's span; the published event the publishing's.
    statements = [s for s in recorded.spans() if s.parent and s.parent.span_id == transaction.context.span_id]
    assert any(s.name.startswith("INSERT") for s in statements)
    assert handled.attributes["messaging.message.id"] == publish.attributes["messaging.message.id"]
    assert traceparent_of(publish.context).startswith(f"00-{GATEWAY_TRACE}-")
