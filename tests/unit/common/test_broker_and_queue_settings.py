"""Broker addresses and queue types as the settings give them (no broker)."""
import pytest
from kombu import Exchange, Queue

from gateway.rpc import AmqpRpcClient
from nameko_services.common.broker import broker_addresses, redact_addresses
from nameko_services.common.events import dead_letter_queue, retry_queues
from nameko_services.common.queues import of_type, queue_type, retyped_arguments


def test_one_address_is_a_list_of_one():
    assert broker_addresses("amqp://guest:guest@127.0.0.1:5672/") == ["amqp://guest:guest@127.0.0.1:5672/"]


def test_several_addresses_separated_by_semicolons_keep_their_order_without_blanks():
    setting = " amqp://u:p@rabbit-0:5672/shop ;amqp://u:p@rabbit-1:5672/shop;; "
    assert broker_addresses(setting) == ["amqp://u:p@rabbit-0:5672/shop", "amqp://u:p@rabbit-1:5672/shop"]


def test_addresses_separated_by_a_comma_are_refused_naming_the_separator_and_hiding_passwords():
    with pytest.raises(ValueError, match="separate several broker addresses with ';'") as refused:
        broker_addresses("amqp://u:secret@rabbit-0/,amqp://u:secret@rabbit-1/")
    assert "secret" not in str(refused.value)


def test_no_address_is_refused():
    with pytest.raises(ValueError, match="no broker address"):
        broker_addresses(" ; ")


def test_every_password_of_a_failover_setting_is_redacted():
    assert redact_addresses("amqp://u:one@a:5672/;amqps://v:two@b/shop") == "amqp://u:***@a:5672/;amqps://v:***@b/shop"


def test_the_gateway_client_takes_every_address_and_refuses_a_comma_list():
    client = AmqpRpcClient("amqp://guest:guest@127.0.0.1:5673/;amqp://guest:guest@127.0.0.1:5672/")
    assert client.addresses == ["amqp://guest:guest@127.0.0.1:5673/", "amqp://guest:guest@127.0.0.1:5672/"]
    with pytest.raises(ValueError):
        AmqpRpcClient("amqp://a/,amqp://b/")


@pytest.mark.parametrize(("setting", "kind"), [(None, "quorum"), ("", "quorum"), ("quorum", "quorum"),
                                               (" Classic ", "classic")])
def test_durable_queues_are_quorum_queues_unless_configured_classic(setting, kind):
    assert queue_type({"QUEUE_TYPE": setting}) == kind


def test_an_unknown_queue_type_is_refused():
    with pytest.raises(ValueError, match="quorum or classic"):
        queue_type({"QUEUE_TYPE": "stream"})


def test_a_quorum_retry_queue_dead_letters_at_least_once_and_a_classic_one_as_before():
    [quorum] = retry_queues("evt-a-b--c.d", (5.0,), "quorum")
    [classic] = retry_queues("evt-a-b--c.d", (5.0,), "classic")
    base = {"x-message-ttl": 5000, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "evt-a-b--c.d"}
    assert classic.queue_arguments == base
    at_least_once = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
    assert quorum.queue_arguments == {**base, "x-queue-type": "quorum", **at_least_once}
    assert dead_letter_queue("evt-a-b--c.d", "quorum").queue_arguments == {"x-queue-type": "quorum"}
    assert dead_letter_queue("evt-a-b--c.d", "classic").queue_arguments == {}


@pytest.mark.parametrize(("old", "new"), [("classic", "quorum"), ("quorum", "classic")])
def test_retyped_arguments_are_exactly_what_a_service_of_the_new_type_declares(old, new):
    """shopctl migrate-queues redeclares with these: any difference would stop the service."""
    for before, after in zip(retry_queues("evt-a-b--c.d", (1.0, 25.0), old),
                             retry_queues("evt-a-b--c.d", (1.0, 25.0), new), strict=True):
        assert retyped_arguments(before.queue_arguments, new) == after.queue_arguments
    assert (retyped_arguments(dead_letter_queue("q", old).queue_arguments, new)
            == dead_letter_queue("q", new).queue_arguments)


def test_reply_and_broadcast_queues_keep_their_type_and_shared_ones_get_the_configured_one():
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    reply = Queue("rpc.reply-x-1", exchange=exchange, routing_key="1", exclusive=True, auto_delete=True)
    rpc = Queue("rpc-orders", exchange=exchange, routing_key="orders.*", durable=True)
    assert of_type(reply, "quorum") is reply
    typed = of_type(rpc, "quorum")
    assert (typed.name, typed.routing_key, typed.durable) == ("rpc-orders", "orders.*", True)
    assert typed.queue_arguments == {"x-queue-type": "quorum"}
    assert of_type(rpc, "classic").queue_arguments == {}


def test_a_log_line_naming_several_broker_addresses_shows_no_password():
    import logging

    from nameko_services.common.logging import ContextFilter

    # What nameko's QueueConsumer logs when a node is down: only the first password is masked.
    record = logging.LogRecord("nameko.messaging", logging.WARNING, __file__, 1,
                               "Error connecting to broker at %s (%s).", (
                                   "amqp://shop:********@rabbit-0:5672/;amqp://shop:s3cret@rabbit-1:5672/",
                                   "connection refused"), None)
    assert ContextFilter("orders").filter(record)
    assert "s3cret" not in record.getMessage()
    assert record.getMessage() == ("Error connecting to broker at amqp://shop:***@rabbit-0:5672/;"
                                   "amqp://shop:***@rabbit-1:5672/ (connection refused).")
