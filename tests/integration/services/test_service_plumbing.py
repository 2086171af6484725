"""Plumbing every service shares: the dependencies of ``ShopService``, the schema check at
start-up and JSON logs with call ids."""
import json
import logging
import os

import pytest
from sqlalchemy import create_engine, text

from nameko_services.catalog.service import CatalogService
from nameko_services.common import migrate
from nameko_services.common.db import Database
from nameko_services.common.dbadmin import create_database, drop_database
from nameko_services.common.logging import ContextFilter, LoggingContext, json_formatter
from nameko_services.common.migrate import SchemaOutOfDate
from nameko_services.common.rpc import rpc
from nameko_services.common.service import ShopService
from nameko_services.orders.service import OrdersService
from nameko_services.payments.service import PaymentsService
from nameko_services.users.service import UsersService

log = logging.getLogger("tests.plumbing")
# What a failed statement must never put into a log line or an error reply.
ARGON2_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
PAYMENT_TOKEN = "tok_4eC39HqLyjWDarjtT1zdp7dc"
ADDRESS_LINE = "742 Evergreen Terrace"


class NeedsCore:
    name = "users"  # a trusted name, so the test's service token verifies
    db = Database("core")
    logging = LoggingContext()

    @rpc
    def log_something(self):
        log.info("handled")
        return self.db.execute(text("SELECT 1")).scalar()


class FailsWithSecrets:
    name = "users"
    db = Database("core")
    logging = LoggingContext()

    @rpc
    def store_secrets(self):
        self.db.execute(text("INSERT INTO no_such_table (hash, token, line1) VALUES (:h, :t, :a)"),
                        {"h": ARGON2_HASH, "t": PAYMENT_TOKEN, "a": ADDRESS_LINE})


SHARED = {"caller", "logging", "sentry", "config", "context", "metrics", "tracing"}


class Plumbed(ShopService):
    name = "users"

    @rpc
    def whoami(self):
        return {"service": self.caller.service, "correlation_id": self.context.correlation_id,
                "amqp": bool(self.config.get("AMQP_URI"))}


@pytest.mark.parametrize("service_cls", [UsersService, CatalogService, OrdersService, PaymentsService])
def test_every_service_gets_the_shared_dependencies_from_its_base(container_factory, rabbit_config,
                                                                   service_cls):
    container = container_factory(service_cls, rabbit_config)
    assert {dependency.attr_name for dependency in container.dependencies} >= SHARED


def test_a_subclass_of_the_base_has_working_shared_dependencies(container_factory, rabbit_config, call):
    container_factory(Plumbed, rabbit_config).start()
    answer = call("users", "whoami")
    assert answer["service"] == "gateway" and answer["correlation_id"] and answer["amqp"]


@pytest.fixture
def json_log_lines():
    """Every log line of the process, formatted by the production JSON formatter."""
    lines = []
    handler = logging.StreamHandler()
    handler.emit = lambda record: lines.append(handler.format(record))
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter("users"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield lines
    root.removeHandler(handler)


def test_a_failed_statement_logs_and_answers_without_its_parameters(
        container_factory, core_config, call, json_log_lines):
    container_factory(FailsWithSecrets, core_config).start()
    with pytest.raises(Exception) as raised:
        call("users", "store_secrets")
    logged = "\n".join(json_log_lines)
    assert "no_such_table" in logged and "no_such_table" in str(raised.value)  # the failure is reported
    for secret in (ARGON2_HASH, PAYMENT_TOKEN, ADDRESS_LINE):
        assert secret not in logged
        assert secret not in str(raised.value)


@pytest.fixture
def behind_database():
    url = migrate.database_url("core").rsplit("/", 1)[0] + f"/shop_test_behind_{os.getpid()}"
    create_database(url, drop_existing=True)
    yield url
    drop_database(url)


def test_a_service_refuses_to_start_on_a_database_that_is_not_at_head(
        container_factory, rabbit_config, behind_database):
    container = container_factory(NeedsCore, dict(rabbit_config, DATABASE_URL=behind_database))
    with pytest.raises(SchemaOutOfDate, match="shopctl migrate"):
        container.start()


def test_a_database_at_head_passes_the_check(core_db_url):
    engine = create_engine(core_db_url)
    try:
        migrate.ensure_compatible_schema("core", engine)
    finally:
        engine.dispose()


def test_log_lines_are_json_with_the_service_call_id_and_correlation_id(
        container_factory, core_config, call):
    handler = logging.StreamHandler()
    lines = []
    handler.emit = lambda record: lines.append(handler.format(record))
    handler.setFormatter(json_formatter())
    handler.addFilter(ContextFilter("users"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        container_factory(NeedsCore, core_config).start()
        assert call("users", "log_something") == 1
    finally:
        log.removeHandler(handler)
    record = json.loads(lines[-1])
    assert record["service"] == "users" and record["message"] == "handled"
    assert record["call_id"].startswith("users.log_something.")
    assert record["correlation_id"]
