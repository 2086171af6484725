"""`shopctl attention`: listing orders that need attention and retrying them, with a fake orders service."""
import pytest

from nameko_services.cli import main
from nameko_services.common.errors import NoCompensationPending, OrderNotFound
from nameko_services.ops import attention
from nameko_services.ops.attention import AttentionItem, attention_since, list_attention, table

FAILED, RETRIED = attention.COMPENSATION_FAILED, attention.COMPENSATION_RETRIED


def event(kind, at):
    return {"type": kind, "occurred_at": at, "version": 1, "data": {}}


def test_attention_starts_at_the_first_failure_after_the_last_retry():
    history = [event("OrderPlaced", "t1"), event(FAILED, "t2"), event(FAILED, "t3"), event(RETRIED, "t4"),
               event(FAILED, "t5"), event(FAILED, "t6")]
    assert attention_since(history) == "t5"
    assert attention_since(history[:3]) == "t2"
    assert attention_since(history[:4]) is None


class FakeOrders:
    """Answers the orders RPCs the commands use, from a dict of orders and their histories."""

    def __init__(self, orders):
        self.orders = orders  # id -> (document, events)
        self.calls = []

    def __call__(self, method, *args, **kwargs):
        self.calls.append(method)
        if method == "list_orders_needing_attention":
            flagged = [doc for doc, _ in self.orders.values() if doc["needs_attention"]]
            start = (kwargs["page"] - 1) * kwargs["per_page"]
            return {"items": flagged[start:start + kwargs["per_page"]], "total": len(flagged)}
        if method == "get_order_events":
            return self.orders[args[0]][1]
        if method == "retry_compensation":
            if args[0] not in self.orders:
                raise OrderNotFound(details={"order_id": args[0]})
            doc = self.orders[args[0]][0]
            if not doc["needs_attention"]:
                raise NoCompensationPending(details={"order_id": args[0]})
            return dict(doc, needs_attention=False, attention_reason=None)
        raise AssertionError(method)


def order(order_id, since, status="cancelled", flagged=True):
    doc = {"id": order_id, "status": status, "needs_attention": flagged, "updated_at": "later",
           "attention_reason": f"refund of payment p-{order_id} failed: declined" if flagged else None}
    return order_id, (doc, [event("OrderPlaced", "t0"), event(FAILED, since)] if flagged else [])


def test_the_list_holds_every_flagged_order_over_all_pages_oldest_first(monkeypatch):
    monkeypatch.setattr(attention, "PER_PAGE", 2)
    fake = FakeOrders(dict([order("o3", "2026-01-03"), order("o1", "2026-01-01"),
                            order("ok", "", flagged=False), order("o2", "2026-01-02", status="confirmed")]))
    items = list_attention(fake)
    assert [(i.order_id, i.status, i.since) for i in items] == [("o1", "cancelled", "2026-01-01"),
                                                                ("o2", "confirmed", "2026-01-02"),
                                                                ("o3", "cancelled", "2026-01-03")]
    assert fake.calls.count("list_orders_needing_attention") == 2


def test_the_table_has_a_header_and_aligned_columns():
    text = table([
        AttentionItem("o-1", "cancelled", reason="void failed", since="2026-01-01T00:00:00+00:00"),
        AttentionItem("o-22", "confirmed", reason="refund failed", since="2026-01-02T00:00:00+00:00")])
    header, first, second = text.splitlines()
    assert header.split() == ["ORDER", "ID", "STATUS", "SINCE", "REASON"]
    assert first.index("cancelled") == second.index("confirmed") == header.index("STATUS")
    assert first.endswith("void failed") and second.index("refund") == header.index("REASON")


@pytest.fixture
def orders_service(monkeypatch):
    """`shopctl attention` talks to this fake instead of RabbitMQ."""
    fake = FakeOrders(dict([order("o1", "2026-01-01"), order("fine", "", flagged=False)]))

    class Client:
        def __init__(self, env, timeout):
            pass

        def __enter__(self):
            return fake

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(attention, "OrdersClient", Client)
    return fake


def test_attention_list_prints_the_table(orders_service, capsys):
    assert main(["attention", "list"]) == 0
    out = capsys.readouterr().out
    assert "o1" in out and "refund of payment p-o1 failed: declined" in out and "fine" not in out


def test_attention_retry_of_a_flagged_order_succeeds(orders_service, capsys):
    assert main(["attention", "retry", "o1"]) == 0
    assert "order o1 (cancelled): compensation requested again" in capsys.readouterr().err


def test_attention_retry_of_an_unknown_order_fails_with_a_message(orders_service, capsys):
    assert main(["attention", "retry", "nope"]) == 2
    assert capsys.readouterr().err == "shopctl: Order not found.\n  order_id: nope\n"


def test_attention_retry_of_an_order_that_needs_nothing_fails_with_a_message(orders_service, capsys):
    assert main(["attention", "retry", "fine"]) == 2
    assert "no failed compensation to retry" in capsys.readouterr().err


def test_an_unreachable_orders_service_is_a_message(monkeypatch, capsys):
    class Down:
        def __init__(self, env, timeout):
            self.timeout = timeout

        def __enter__(self):
            raise attention.OrdersUnreachable(f"the orders service did not answer within {self.timeout} s")

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(attention, "OrdersClient", Down)
    assert main(["attention", "list", "--timeout", "3"]) == 2
    assert "did not answer within 3 s" in capsys.readouterr().err
