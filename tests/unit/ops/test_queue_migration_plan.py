"""Which queues shopctl migrate-queues moves, in which order, and when it refuses (a fake management API)."""
import pytest

from nameko_services.ops.queue_migration import Binding, ServicesRunning, plan

HANDLER = "evt-orders-order_placed--catalog.on_order_placed"
RETRY_ARGS = {"x-message-ttl": 1000, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": HANDLER}


def queue(name, kind="classic", consumers=0, arguments=None, exclusive=False, auto_delete=False):
    return {"name": name, "type": kind, "consumers": consumers, "durable": True, "exclusive": exclusive,
            "auto_delete": auto_delete, "arguments": arguments or {}}


class FakeApi:
    def __init__(self, *queues):
        self._queues = list(queues)

    def queues(self):
        return self._queues

    def bindings(self, name):
        handler = name.startswith(HANDLER) and ".retry" not in name and not name.endswith(".dead-letter")
        return [Binding("orders.events", "order_placed")] if handler else []


def platform(kind="classic"):
    return [queue("rpc-catalog", kind), queue(HANDLER, kind),
            queue(f"{HANDLER}.retry-1000ms", kind, arguments=RETRY_ARGS),
            queue(f"{HANDLER}.dead-letter", kind),
            queue("rpc.reply-orders-1", "classic", arguments={"x-expires": 300000}),
            queue("rpc.reply-gateway-2", "classic", exclusive=True, auto_delete=True),
            queue("someone-elses-queue", "classic")]


def test_only_the_platforms_queues_of_the_other_type_move_retry_queues_first_to_quorum():
    moves = plan(FakeApi(*platform()), "quorum")
    assert moves[0].name == f"{HANDLER}.retry-1000ms"
    assert {m.name for m in moves} == {"rpc-catalog", HANDLER, f"{HANDLER}.retry-1000ms",
                                       f"{HANDLER}.dead-letter"}
    retry = moves[0]
    assert retry.arguments == {**RETRY_ARGS, "x-queue-type": "quorum",
                               "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    assert next(m for m in moves if m.name == HANDLER).bindings == [Binding("orders.events", "order_placed")]
    assert all(m.exists_as_other_type for m in moves)


def test_to_classic_the_retry_queues_move_last():
    moves = plan(FakeApi(*platform("quorum")), "classic")
    assert moves[-1].name == f"{HANDLER}.retry-1000ms" and len(moves) == 4
    assert moves[-1].arguments == RETRY_ARGS


def test_queues_of_the_right_type_are_left_alone():
    assert plan(FakeApi(*platform("quorum")), "quorum") == []


def test_nothing_is_planned_while_any_platform_queue_has_a_consumer():
    queues = platform("quorum")[:1] + [queue(HANDLER, "classic", consumers=2)]
    with pytest.raises(ServicesRunning, match=f"{HANDLER} \\(2\\)"):
        plan(FakeApi(*queues), "quorum")


def test_a_left_over_temporary_queue_is_moved_back_even_when_its_queue_is_gone():
    moves = plan(FakeApi(queue(f"{HANDLER}.migrating", "quorum"), queue("rpc-catalog", "quorum")), "quorum")
    assert [(m.name, m.exists_as_other_type) for m in moves] == [(HANDLER, False)]
    assert moves[0].bindings == [Binding("orders.events", "order_placed")]
