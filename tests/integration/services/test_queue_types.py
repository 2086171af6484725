"""The four services' durable queues are quorum queues on the broker (or classic, when configured);
reply queues stay classic; a queue of the other type stops a service with the way out."""
from urllib.parse import quote

import httpx
import pytest

from nameko_services.catalog.service import CatalogService
from nameko_services.common.queues import QueueTypeMismatch
from nameko_services.ops.endpoints import amqp_credentials, management_url
from nameko_services.orders.service import OrdersService
from nameko_services.payments.service import PaymentsService
from nameko_services.users.service import UsersService


def broker_queues(rabbit_config) -> dict[str, dict]:
    """Every queue of the test vhost as the management API shows it, by name."""
    uri = rabbit_config["AMQP_URI"]
    response = httpx.get(f"{management_url(uri)}/api/queues/{quote(rabbit_config['vhost'], safe='')}",
                         auth=amqp_credentials(uri), timeout=10)
    response.raise_for_status()
    return {queue["name"]: queue for queue in response.json()}


def start_every_service(container_factory, configs: dict[str, dict], **settings) -> None:
    services = {"users": UsersService, "catalog": CatalogService, "orders": OrdersService,
                "payments": PaymentsService}
    for name, cls in services.items():
        container_factory(cls, dict(configs[name], **settings)).start()


@pytest.fixture
def configs(core_config, orders_config, payments_config):
    users = dict(core_config, TOKEN_ISSUER="http://shop.test", TOKEN_AUDIENCE="nameko-shop",
                 ACCESS_TOKEN_TTL=300, REFRESH_TOKEN_TTL=3600)
    return {"users": users, "catalog": core_config, "orders": orders_config, "payments": payments_config}


def test_every_service_queue_is_a_quorum_queue_and_every_reply_queue_a_classic_one(
        container_factory, configs, rabbit_config, call):
    start_every_service(container_factory, configs)
    call("catalog", "list_products")  # a caller's reply queue, as nameko shell or shopctl make

    queues = broker_queues(rabbit_config)
    replies = {name: q for name, q in queues.items() if name.startswith("rpc.reply-")}
    durable = {name: q for name, q in queues.items() if name not in replies}
    assert {f"rpc-{service}" for service in configs} <= set(durable)
    handlers = [name for name in durable if name.startswith("evt-") and ".retry-" not in name
                and not name.endswith(".dead-letter")]
    assert len(handlers) >= 6  # the saga's handlers in catalog, orders and payments
    for handler in handlers:
        assert f"{handler}.dead-letter" in durable
        assert [name for name in durable if name.startswith(f"{handler}.retry-")]
    assert {name: q["type"] for name, q in durable.items()} == dict.fromkeys(durable, "quorum")
    for name, queue in durable.items():
        if ".retry-" in name:  # expired retries go back to their handler at least once
            assert queue["arguments"]["x-dead-letter-strategy"] == "at-least-once"
            assert queue["arguments"]["x-overflow"] == "reject-publish"
            assert queue["arguments"]["x-message-ttl"] > 0
    # The services' own reply queues (orders calls the catalog) and the test caller's.
    assert any(name.startswith("rpc.reply-orders-") for name in replies)
    assert any(name.startswith("rpc.reply-standalone_rpc_proxy-") for name in replies)
    assert {name: q["type"] for name, q in replies.items()} == dict.fromkeys(replies, "classic")


def test_with_the_classic_setting_every_queue_is_a_classic_one(container_factory, configs, rabbit_config):
    start_every_service(container_factory, configs, QUEUE_TYPE="classic")

    queues = broker_queues(rabbit_config)
    assert "rpc-orders" in queues and len(queues) > 20
    assert {name: q["type"] for name, q in queues.items()} == dict.fromkeys(queues, "classic")
    assert not [name for name, q in queues.items() if "x-dead-letter-strategy" in q["arguments"]]


def test_a_service_whose_queues_exist_as_classic_ones_refuses_to_start_naming_the_migration(
        container_factory, core_config, rabbit_config):
    earlier = container_factory(CatalogService, dict(core_config, QUEUE_TYPE="classic"))
    earlier.start()
    earlier.stop()

    with pytest.raises(QueueTypeMismatch, match="shopctl migrate-queues"):
        container_factory(CatalogService, core_config).start()
