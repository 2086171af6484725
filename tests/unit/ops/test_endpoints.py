"""Working out servers, vhosts and databases from the configured URLs."""
from nameko_services.ops.endpoints import (
    Server,
    amqp_server,
    amqp_uri,
    broker_metrics_url,
    management_url,
    postgres_server,
    redact,
    with_database,
    with_vhost,
)


def test_the_broker_defaults_to_rabbitmq_on_this_machine():
    assert amqp_uri({}) == "amqp://guest:guest@127.0.0.1:5672/"
    assert amqp_server(amqp_uri({})) == Server("127.0.0.1", 5672)
    assert amqp_server(amqp_uri({})).is_local


def test_a_broker_uri_without_a_port_means_5672_and_a_remote_host_is_not_local():
    server = amqp_server("amqp://shop:secret@rabbit.internal/shop")
    assert server == Server("rabbit.internal", 5672)
    assert not server.is_local


def test_the_database_server_comes_from_the_sqlalchemy_url():
    assert postgres_server("postgresql+psycopg2://postgres@localhost/shop_core") == Server("localhost", 5432)
    assert postgres_server("postgresql+psycopg2://u:p@db:6543/x") == Server("db", 6543)


def test_a_vhost_is_url_encoded_into_the_path_and_replaces_the_old_one():
    assert with_vhost("amqp://guest:guest@127.0.0.1:5672/", "shop e2e") == \
        "amqp://guest:guest@127.0.0.1:5672/shop%20e2e"
    assert with_vhost("amqp://h/old", "new") == "amqp://h/new"


def test_another_database_keeps_the_server_and_password():
    url = with_database("postgresql+psycopg2://app:s3cret@db:5432/shop_core", "shop_e2e_core")
    assert url == "postgresql+psycopg2://app:s3cret@db:5432/shop_e2e_core"


def test_the_management_api_sits_beside_the_broker_unless_configured():
    assert management_url("amqp://guest:guest@rabbit:5672/", {}) == "http://rabbit:15672"
    assert management_url("amqp://rabbit/", {"SHOP_RABBIT_MANAGEMENT_URL": "https://mq/admin/"}) == \
        "https://mq/admin"


def test_passwords_never_appear_in_messages():
    assert redact("postgresql+psycopg2://app:s3cret@db:5432/shop") == "postgresql+psycopg2://app:***@db:5432/shop"
    assert redact("amqp://guest:guest@127.0.0.1/") == "amqp://guest:***@127.0.0.1/"
    assert redact("postgresql://postgres@db/shop") == "postgresql://postgres@db/shop"


def test_the_broker_metrics_endpoint_is_the_broker_host_on_15692_unless_configured():
    assert broker_metrics_url("amqp://u:p@mq.internal:5673/shop", {}) == "http://mq.internal:15692/metrics"
    assert broker_metrics_url("amqp://mq/", {"SHOP_RABBIT_METRICS_URL": "https://mq/prom/metrics/"}) == \
        "https://mq/prom/metrics"
