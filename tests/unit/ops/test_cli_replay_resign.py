"""`shopctl replay --resign`: which queue's emitter re-signs, and what a wrong queue name says."""
from nameko_services.cli import main

QUEUE = "evt-orders-order_cancelled--catalog.on_order_cancelled"


def test_resign_builds_a_resigner_for_the_queues_emitter_and_hands_it_to_the_replay(monkeypatch, capsys):
    made, calls = [], []

    def resigner(queue, max_age):
        made.append((queue, max_age))
        return "the resigner"

    def replay(amqp_uri, queue, limit, resign=None):
        calls.append((queue, limit, resign))
        return 2

    monkeypatch.setenv("SHOP_EVENT_TOKEN_MAX_AGE", "3600")
    monkeypatch.setattr("nameko_services.common.event_keys.event_resigner", resigner)
    monkeypatch.setattr("nameko_services.common.events.replay_dead_letters", replay)
    assert main(["replay", "--queue", QUEUE, "--resign"]) == 0
    assert made == [(QUEUE, 3600)]
    assert calls == [(QUEUE, None, "the resigner")]
    assert "moved 2 message(s)" in capsys.readouterr().err


def test_resign_on_a_queue_that_is_not_an_event_handler_queue_says_so(monkeypatch, capsys):
    monkeypatch.setattr("nameko_services.common.events.replay_dead_letters",
                        lambda *args, **kwargs: 0)
    assert main(["replay", "--queue", "rpc-catalog", "--resign"]) == 2
    assert "'rpc-catalog' is not an event handler queue" in capsys.readouterr().err


def test_the_emitter_and_event_type_come_from_the_handler_queue_name():
    from nameko_services.common.event_keys import HANDLER_QUEUE

    match = HANDLER_QUEUE.match(QUEUE)
    assert (match["source"], match["event_type"]) == ("orders", "order_cancelled")
    assert HANDLER_QUEUE.match("evt-orders-order_cancelled--catalog") is None
