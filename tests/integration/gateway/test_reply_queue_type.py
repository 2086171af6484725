"""The gateway's reply queue stays a classic, exclusive, auto-delete queue whatever the services'
queue type: it belongs to one process and goes with it."""
from gateway.rpc import AmqpRpcClient


async def test_the_reply_queue_is_an_exclusive_auto_delete_classic_queue(client: AmqpRpcClient, broker):
    queue = broker.queue(client.reply_to)
    assert queue is not None
    assert (queue["type"], queue["exclusive"], queue["auto_delete"], queue["durable"]) == (
        "classic", True, True, False)
    assert "x-queue-type" not in queue["arguments"]
