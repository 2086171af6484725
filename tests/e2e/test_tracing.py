"""One order placed through the gateway is one trace, across every process (issue 10).

The session's platform exports OTLP/HTTP to the suite's receiver (``conftest.otlp_receiver``).
The client starts the trace (``traceparent``), so its id is known; the saga's events carry it on
through the outboxes, so the trace runs from the HTTP request to the order's confirmation.
"""
import secrets

from tests.e2e.saga_support import FINAL, new_product, place, wait_for

# From the request to the confirmation: each step the parent of the next (server spans, the
# relays' "<event> publish" producer spans and the handlers' consumer spans).
CHAIN = [
    ("gateway", "POST /api/v1/orders"),
    ("orders", "orders.place_order"),
    ("orders", "order_placed publish"),
    ("catalog", "catalog.on_order_placed"),
    ("catalog", "stock_reserved publish"),
    ("orders", "orders.on_stock_reserved"),
    ("orders", "payment_requested publish"),
    ("payments", "payments.on_payment_requested"),  # authorises and captures at once
    ("payments", "payment_captured publish"),
    ("orders", "orders.on_payment_captured"),
]
LAST = CHAIN[-1][1]


def ancestry(spans, span):
    """``span`` and its ancestors in this trace, root first."""
    by_id = {s.span_id: s for s in spans}
    line = [span]
    while line[0].parent_id in by_id:
        line.insert(0, by_id[line[0].parent_id])
    return line


def tree(spans):
    """The trace as an indented tree: process, span name, duration, start offset."""
    start = min(s.start_ns for s in spans)
    children = {}
    for s in sorted(spans, key=lambda s: s.start_ns):
        children.setdefault(s.parent_id, []).append(s)
    ids = {s.span_id for s in spans}
    lines = []

    def walk(span, depth):
        lines.append(f"{'  ' * depth}{span.service:<8} {span.name}  {span.duration_ms:.1f} ms "
                     f"(+{(span.start_ns - start) / 1e6:.0f} ms){' ERROR' if span.error else ''}")
        for child in children.get(span.span_id, []):
            walk(child, depth + 1)

    for root in [s for s in spans if s.parent_id not in ids]:
        walk(root, 0)
    return "\n".join(lines)


def test_an_order_placed_through_the_gateway_is_one_trace_from_request_to_confirmation(
        client, otlp_receiver, register_customer, admin_token):
    _, token = register_customer(name="Traced")
    product_id = new_product(client, admin_token)["id"]
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    placed = place(client, token, product_id, headers={"traceparent": f"00-{trace_id}-{client_span}-01"})
    assert placed.status_code == 201, placed.text
    assert wait_for(client, token, placed.json()["id"], FINAL)["status"] == "confirmed"

    def finished():
        """The trace once the last step and all its ancestors are in (each process exports its
        own batches: a handler's span may come before the publishing span it is a child of)."""
        spans = otlp_receiver.spans(trace_id)
        last = next((s for s in spans if s.name == LAST), None)
        return spans if last and ancestry(spans, last)[0].parent_id == client_span else None

    spans = otlp_receiver.wait_until(finished)
    assert spans, f"no chain to {LAST!r} in trace {trace_id}: {tree(otlp_receiver.spans(trace_id))}"
    print(f"\ntrace {trace_id}, {len(spans)} spans:\n{tree(spans)}")

    assert {"gateway", "orders", "catalog", "payments"} <= {s.service for s in spans}
    assert {s.service for s in spans} <= {"gateway", "users", "orders", "catalog", "payments"}
    root = next(s for s in spans if s.name == "POST /api/v1/orders")
    assert root.parent_id == client_span  # the client's traceparent was honoured
    line = ancestry(spans, next(s for s in spans if s.name == LAST))
    assert [(s.service, s.name) for s in line if s.kind != "client"] == CHAIN
    assert not any(s.error for s in line)
    # The catalog priced the order in the same trace, called by orders over RPC.
    place_order = next(s for s in spans if s.name == "orders.place_order")
    assert any(s.name == "catalog.price_items" and s.parent_id == place_order.span_id for s in spans)
    # Each unit of work's transaction, and each provider call, is a span of the work that made it.
    workers = {s.span_id: s for s in spans if s.kind in ("server", "consumer")}
    transactions = [s for s in spans if s.name.startswith("transaction ")]
    assert transactions and all(s.parent_id in workers for s in transactions)
    assert all(s.attributes["shop.transaction"] == "committed" for s in transactions if s.parent_id in
               {w.span_id for w in line})
    authorise = next(s for s in spans if s.name == "sandbox authorise")
    assert workers[authorise.parent_id].name == "payments.on_payment_requested"


def test_a_request_without_traceparent_starts_a_trace_at_the_gateway(client, otlp_receiver):
    # A search of its own: never answered from the gateway's cache, so the catalog is called.
    answer = client.get(f"/api/v1/products?q={secrets.token_hex(6)}",
                        headers={"X-Request-ID": f"trace-{secrets.token_hex(6)}"})
    assert answer.status_code == 200
    request_id = answer.headers["X-Request-ID"]

    def request_span():
        return next((s for s in otlp_receiver.spans() if s.service == "gateway"
                     and s.attributes.get("shop.correlation_id") == request_id), None)

    span = otlp_receiver.wait_until(request_span)
    assert span is not None and span.parent_id is None and span.name == "GET /api/v1/products"
    served = otlp_receiver.wait_until(lambda: [s for s in otlp_receiver.spans(span.trace_id)
                                               if s.name == "catalog.list_products"])
    assert served and served[0].parent_id == span.span_id


def test_every_log_line_of_a_traced_request_carries_its_trace_and_span_ids(client, platform, otlp_receiver):
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    assert client.get("/api/v1/categories", headers={"traceparent": traceparent}).status_code == 200
    spans = otlp_receiver.wait_until(
        lambda: [s for s in otlp_receiver.spans(trace_id) if s.service == "gateway"])
    access = otlp_receiver.wait_until(lambda: [line for line in (platform.log_dir / "gateway.log").read_text()
                                               .splitlines() if trace_id in line])
    assert access and f'"span_id": "{spans[0].span_id}"' in access[0]
