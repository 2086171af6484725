"""Which commands start local servers, given what is installed."""
from nameko_services.ops.local_servers import (
    postgres_clusters,
    postgres_start_commands,
    rabbitmq_plugins_command,
    rabbitmq_start_commands,
)


def installed(*names):
    return lambda name: f"/usr/sbin/{name}" if name in names else None


def _cluster(etc, version):
    conf = etc / version / "main" / "postgresql.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("")


def test_rabbitmq_is_started_detached_only_when_installed():
    assert rabbitmq_start_commands(installed("rabbitmq-server")) == [["rabbitmq-server", "-detached"]]
    assert rabbitmq_start_commands(installed()) == []


def test_the_newest_debian_cluster_is_started_without_systemctl(tmp_path):
    _cluster(tmp_path, "9.6")
    _cluster(tmp_path, "15")
    _cluster(tmp_path, "13")
    assert postgres_clusters(tmp_path) == ["15", "13", "9.6"]
    assert postgres_start_commands(installed("pg_ctlcluster"), tmp_path) == [
        ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"]]


def test_postgres_cannot_be_started_without_pg_ctlcluster_or_a_cluster(tmp_path):
    _cluster(tmp_path, "15")
    assert postgres_start_commands(installed(), tmp_path) == []
    assert postgres_start_commands(installed("pg_ctlcluster"), tmp_path / "missing") == []


def test_the_management_and_prometheus_plugins_are_enabled_with_rabbitmq_plugins_when_present():
    assert rabbitmq_plugins_command(installed("rabbitmq-plugins")) == [
        "rabbitmq-plugins", "enable", "rabbitmq_management", "rabbitmq_prometheus"]
    assert rabbitmq_plugins_command(installed()) is None
