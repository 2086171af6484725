"""Two of everything, one of each SIGKILLed mid-run: every order final, nothing lost, nothing twice.

The platform here runs two processes of every service and two gateways, competing for the same
queues and rows, on a RabbitMQ node and databases of its own (``private_broker.py``): the end state
is this test's alone, and a machine's broker slowed by other runs (vhosts of quorum queues being
created and deleted by the hundred) cannot hold it up. Clients
place orders over both gateways as a frontend behind a load balancer does: an answer of 5xx, 409
or none is retried with the same Idempotency-Key at the next gateway. A third of the way in, one
process of each service and one gateway are SIGKILLed (no clean shutdown: unacked messages go
back to their queue, open transactions roll back, claimed outbox rows are unlocked); placing goes
on at the surviving gateway. Then every accepted order must end confirmed or cancelled, the stock
taken must be the confirmed quantities, the money held the confirmed totals, once each.
"""
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from nameko_services.users.admin import ensure_admin
from tests.e2e.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CUSTOMER_PASSWORD,
    fresh_databases,
    running_platform,
)
from tests.e2e.private_broker import PrivateBroker
from tests.e2e.saga_support import (
    FINAL,
    bearer,
    is_work_queue,
    management,
    new_product,
    place_until_accepted,
    queues,
    stock,
    token_for,
    wait_for_consumers,
    wait_until,
)

pytestmark = pytest.mark.slow

ORDERS, CUSTOMERS, CLIENTS = 120, 4, 16
STOCK, PRICES = 38, (700, 1250, 2300)  # three products; the orders ask 44 units of each (and more)
SPREAD = 0.08  # seconds between the orders' first attempts: about 10 s of placing
KILL_AFTER = ORDERS // 3  # accepted orders before the kill
SETTLE_TIMEOUT = 90.0
DECLINED = "tok_chargeDeclined"
SERVICES = ("users", "catalog", "orders", "payments")
KILLED = tuple(f"{name}-2" for name in (*SERVICES, "gateway"))
OVERRIDES = {
    # Eight service processes beside the suite's four: few enough connections for the server's 100.
    "SHOP_MAX_WORKERS": "5",
    # The production default, not the harness's 3 s (there for tests that pause a service): ten
    # processes on a shared machine may take longer than 3 s to answer, and that would be no fault.
    "SHOP_RPC_TIMEOUT": "10",
    # What a killed process leaves half done is picked up by the survivor within the test's bound:
    # a processor call without its result (the recovery timer runs every 30 s) ...
    "SHOP_PAYMENT_RESUME_AFTER": "10",
    # ... and an Idempotency-Key left in progress (the client's retries get 409 until then).
    "SHOP_IDEMPOTENCY_KEY_ABANDONED_SECONDS": "15",
}


@pytest.fixture(scope="module")
def scaled(keys_dir, platform_overrides, tmp_path_factory):
    """(the platform, its second gateway's URL, its broker, its databases' engines)."""
    with PrivateBroker.running(management=True) as broker, fresh_databases("shop_e2e_scale") as urls, \
            running_platform(broker.uri, urls, keys_dir, tmp_path_factory.mktemp("logs"),
                             platform_overrides | OVERRIDES) as running:
        second = running.scale_out()
        consumers = wait_for_consumers(broker.uri, instances=2, api=broker.management_url)
        assert min(consumers.values()) == 2, f"queues without their second consumer: {consumers}"
        ensure_admin(urls["core"], ADMIN_EMAIL, ADMIN_PASSWORD)
        engines = {name: sa.create_engine(url) for name, url in urls.items()}
        try:
            yield running, second, broker, engines
        finally:
            for engine in engines.values():
                engine.dispose()


def new_customer(client):
    email = f"customer-{uuid.uuid4().hex[:10]}@example.com"
    created = client.post("/api/v1/users",
                          json={"email": email, "password": CUSTOMER_PASSWORD, "name": "Ada"})
    assert created.status_code == 201, created.text
    return token_for(client, email, CUSTOMER_PASSWORD)


def plan(index, tokens, products):
    """The ``index``th order: its customer's token, product, quantity and card."""
    quantity = 2 if index % 5 == 0 else 1
    card = DECLINED if index % 10 == 7 else "tok_visa"
    return tokens[index % len(tokens)], products[index % len(products)]["id"], quantity, card


def rows(engine, sql):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def count(engine, sql):
    return rows(engine, sql)[0][0]


def redeliveries(broker):
    """Messages delivered again (the broker's count, seconds behind): those the killed took, unacked."""
    stats = management(broker.uri, "vhosts", broker.management_url).get("message_stats", {})
    return stats.get("redeliver", 0)


def queue_depths(broker):
    """{queue: ready messages} of the broker's durable queues."""
    return {name: messages for name, (messages, _) in queues(broker.uri, broker.management_url).items()}


def still_moving(engines, broker, order_ids):
    """What is not settled yet: open orders, unpublished events, queued messages, unfinished calls."""
    statuses = dict(rows(engines["orders"], "SELECT id::text, status FROM orders"))
    moving = {
        "open orders": sum(statuses.get(order_id) not in FINAL for order_id in order_ids),
        "unpublished events": sum(count(engines[db], "SELECT count(*) FROM outbox WHERE published_at IS NULL")
                                  for db in engines),
        "queued messages": sum(messages for name, messages in queue_depths(broker).items()
                               if not name.endswith(".dead-letter")),
        "processor calls": count(engines["payments"],
                                 "SELECT count(*) FROM payments WHERE pending_action IS NOT NULL"),
        "reserved units": count(engines["core"], "SELECT coalesce(sum(reserved), 0) FROM stock_levels"),
    }
    return {what: count for what, count in moving.items() if count}


def test_two_instances_of_everything_with_one_of_each_killed_mid_run_lose_no_order_and_double_none(scaled):
    running, second, broker, engines = scaled
    gateways = [running.base_url, second]
    client = httpx.Client(base_url=running.base_url, timeout=30)
    admin = token_for(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    tokens = [new_customer(client) for _ in range(CUSTOMERS)]
    products = [new_product(client, admin, stock=STOCK, price=price) for price in PRICES]
    orders = {uuid.uuid4().hex: plan(index, tokens, products) for index in range(ORDERS)}

    def gateway_for(index):
        # Order ``index`` starts at one gateway and moves on to the next live one on each retry.
        return lambda attempt: (live := list(gateways))[(index + attempt) % len(live)]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = {key: pool.submit(place_until_accepted, gateway_for(index), token, product_id, key,
                                    started + index * SPREAD, quantity, card)
                   for index, (key, (token, product_id, quantity, card)) in enumerate(orders.items())}
        while sum(f.done() for f in futures.values()) < KILL_AFTER:
            time.sleep(0.05)

        def open_orders():
            return count(engines["orders"],
                         "SELECT count(*) FROM orders WHERE status IN ('pending', 'awaiting_payment')")

        # Kill while sagas are in flight: a fast machine may have settled every order so far, and
        # the ones still to come are spread over the next seconds.
        open_at_kill = wait_until(open_orders, timeout=10, interval=0.02) or 0
        for name in KILLED:
            running.end(name, signal.SIGKILL)
        gateways.remove(second)
        killed_at = time.monotonic() - started
        outcomes = {key: future.exception() or future.result() for key, future in futures.items()}
    placing_took = time.monotonic() - started

    accepted = {key: outcome for key, outcome in outcomes.items() if isinstance(outcome, tuple)}
    refused = {key: str(outcome) for key, outcome in outcomes.items() if key not in accepted}
    order_ids = {order_id for order_id, _ in accepted.values()}
    left = wait_until(lambda: not still_moving(engines, broker, order_ids) or None, SETTLE_TIMEOUT, 0.5)
    settled_after = time.monotonic() - started - placing_took

    stored = {order_id: (status, reason, total, items) for order_id, status, reason, total, items in rows(
        engines["orders"], "SELECT id::text, status, cancellation_reason, total, items FROM orders")}
    confirmed = {order_id: order for order_id, order in stored.items() if order[0] == "confirmed"}
    cancelled = Counter(order[1] for order in stored.values() if order[0] == "cancelled")
    captured = rows(engines["payments"],
                    "SELECT order_id::text, amount FROM payments WHERE status = 'captured'")
    captures = Counter(order_id for order_id, _ in captured)
    # What the processor itself holds: money kept, and authorisations never captured nor voided.
    held = tuple(rows(engines["payments"], "SELECT coalesce(sum(captured_amount - refunded_amount), 0), "
                      "count(*) FILTER (WHERE status = 'requires_capture') FROM sandbox_payments")[0])
    keys = Counter(state for (state,) in rows(engines["orders"], "SELECT state FROM idempotency_keys"))
    redelivered = wait_until(lambda: redeliveries(broker), timeout=6, interval=1)
    dead = {name: messages for name, messages in queue_depths(broker).items()
            if not is_work_queue(name) and messages}
    lost = len(refused) + sum(stored.get(order_id, ("missing",))[0] not in FINAL for order_id in order_ids)
    doubled = (len(stored) - len(order_ids)) + sum(count - 1 for count in captures.values())
    print(f"\nscale-out fault test: {ORDERS} orders placed over 2 gateways, {len(accepted)} accepted "
          f"({sum(attempts for _, attempts in accepted.values())} attempts), {len(confirmed)} confirmed, "
          f"{sum(cancelled.values())} cancelled {dict(cancelled)}, lost {lost}, doubled {doubled}; "
          f"SIGKILL of {', '.join(KILLED)} at {killed_at:.1f} s with {open_at_kill} orders open; "
          f"placing took {placing_took:.1f} s, settling {settled_after:.1f} s; "
          f"captured {sum(amount for _, amount in captured)}, held by the processor {held[0]}; "
          f"messages redelivered {redelivered or 0}; dead letters {dead or 0}")

    assert refused == {}
    assert left is not None, (f"not settled {SETTLE_TIMEOUT:.0f} s after the last order: "
                              f"{still_moving(engines, broker, order_ids)}\n{running.report()}")
    assert open_at_kill > 0  # the kill did land while sagas were in flight
    # Nothing lost, nothing twice: one order per key, each final.
    assert len(order_ids) == len(accepted) == ORDERS
    assert set(stored) == order_ids
    assert keys == {"done": ORDERS}
    for token in tokens:
        listed = client.get("/api/v1/orders?per_page=100", headers=bearer(token)).json()
        assert listed["total"] == ORDERS // CUSTOMERS
    assert {status for status, *_ in stored.values()} <= {"confirmed", "cancelled"}
    assert set(cancelled) <= {"out_of_stock", "payment_failed"} and cancelled["out_of_stock"] > 0
    declined = {accepted[key][0] for key, (*_, card) in orders.items() if card == DECLINED}
    assert declined.isdisjoint(confirmed)
    # The stock taken is what the confirmed orders hold.
    for product in products:
        sold = sum(line["quantity"] for *_, items in confirmed.values() for line in items
                   if line["product_id"] == product["id"])
        assert stock(client, admin, product["id"]) == {
            "product_id": product["id"], "on_hand": STOCK - sold, "reserved": 0, "available": STOCK - sold}
    # The money: one capture of its total per confirmed order, nothing else kept by the processor.
    assert sorted(captured) == sorted((order_id, total) for order_id, (_, _, total, _) in confirmed.items())
    assert held == (sum(total for _, _, total, _ in confirmed.values()), 0)
    assert doubled == 0 and lost == 0
    assert dead == {}
    client.close()
