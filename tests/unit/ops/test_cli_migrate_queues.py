"""shopctl migrate-queues: the type it migrates to, and its exit code when services run (no broker)."""
import pytest

from nameko_services import cli
from nameko_services.ops import queue_migration


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def fake(amqp_uri, kind, say, *, management, dry_run=False):
        seen.append((amqp_uri, kind, management, dry_run))
        return []

    monkeypatch.setattr(queue_migration, "migrate_queues", fake)
    monkeypatch.setenv("SHOP_AMQP_URI", "amqp://u:p@rabbit-0:5672/shop;amqp://u:p@rabbit-1:5672/shop")
    monkeypatch.delenv("SHOP_RABBIT_MANAGEMENT_URL", raising=False)
    return seen


def test_it_migrates_to_the_configured_type_through_the_first_nodes_management_api(calls, monkeypatch):
    monkeypatch.setenv("SHOP_QUEUE_TYPE", "classic")
    assert cli.main(["migrate-queues", "--dry-run"]) == 0
    assert calls == [("amqp://u:p@rabbit-0:5672/shop;amqp://u:p@rabbit-1:5672/shop", "classic",
                      "http://rabbit-0:15672", True)]


def test_without_a_setting_it_migrates_to_quorum_and_to_overrides_it(calls, monkeypatch):
    monkeypatch.delenv("SHOP_QUEUE_TYPE", raising=False)
    assert cli.main(["migrate-queues"]) == 0
    assert cli.main(["migrate-queues", "--to", "classic"]) == 0
    assert [kind for _, kind, _, _ in calls] == ["quorum", "classic"]


def test_running_services_are_a_message_and_exit_code_2(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise queue_migration.ServicesRunning("stop every service first: rpc-orders (1)")

    monkeypatch.setattr(queue_migration, "migrate_queues", refuse)
    assert cli.main(["migrate-queues"]) == 2
    assert "rpc-orders (1)" in capsys.readouterr().err


def test_up_migrates_queues_of_the_other_type_before_starting_the_services(calls, monkeypatch):
    monkeypatch.delenv("SHOP_QUEUE_TYPE", raising=False)
    cli._queues_of_the_configured_type()
    assert [(kind, dry_run) for _, kind, _, dry_run in calls] == [("quorum", False)]


def test_up_goes_on_with_a_note_when_the_queues_cannot_be_migrated(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise queue_migration.ServicesRunning("stop every service first: rpc-orders (1)")

    monkeypatch.setattr(queue_migration, "migrate_queues", refuse)
    cli._queues_of_the_configured_type()
    assert "see `shopctl migrate-queues`" in capsys.readouterr().err
