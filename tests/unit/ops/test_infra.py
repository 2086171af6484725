"""Bringing RabbitMQ and PostgreSQL up: what is started, what is said, and when we give up."""
import pytest

from nameko_services.ops.infra import (
    InfrastructureUnavailable,
    Tools,
    enable_broker_plugins,
    ensure_infrastructure,
)
from nameko_services.ops.probes import OK, Probe

DOWN = Probe(ok=False, down=True, detail="connection refused")
REFUSED = Probe(ok=False, detail='password authentication failed for user "app"')


class FakeMachine:
    """Servers that come up after a given number of probes once started; records commands."""

    def __init__(self, installed=(), rabbit=OK, postgres=OK, probes_to_start=2, management=True,
                 plugins_rc=0, metrics=None):
        self.installed = set(installed)
        self.state = {"rabbit": rabbit, "postgres": postgres}
        self.started = {}
        self.probes_to_start = probes_to_start
        self.management = management
        self.metrics = management if metrics is None else metrics
        self.plugins_rc = plugins_rc
        self.commands, self.said, self.now = [], [], 0.0

    def which(self, name):
        return f"/usr/sbin/{name}" if name in self.installed else None

    def run(self, command):
        self.commands.append(command)
        if command[0] == "rabbitmq-server":
            self.started["rabbit"] = self.probes_to_start
        if command[0] == "pg_ctlcluster":
            self.started["postgres"] = self.probes_to_start
        if command[0] == "rabbitmq-plugins":
            self.management = self.metrics = self.plugins_rc == 0
            return self.plugins_rc
        return 0

    def _probe(self, which):
        if which in self.started:
            self.started[which] -= 1
            if self.started[which] <= 0:
                self.state[which] = OK
        return self.state[which]

    def tools(self, etc_dir):
        return Tools(which=self.which, run=self.run, probe_rabbitmq=lambda url: self._probe("rabbit"),
                     probe_postgres=lambda url: self._probe("postgres"),
                     management_answers=lambda root, uri: self.management,
                     metrics_answer=lambda url: self.metrics,
                     sleep=self.advance, clock=lambda: self.now, say=self.said.append,
                     postgres_etc=etc_dir)

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def etc(tmp_path):
    (tmp_path / "15" / "main").mkdir(parents=True)
    (tmp_path / "15" / "main" / "postgresql.conf").write_text("")
    return tmp_path


def test_running_servers_are_left_alone(etc):
    machine = FakeMachine(installed={"rabbitmq-server", "pg_ctlcluster", "rabbitmq-plugins"})
    ensure_infrastructure({}, machine.tools(etc))
    assert machine.commands == []


def test_installed_servers_that_are_down_are_started_and_waited_for(etc):
    machine = FakeMachine(installed={"rabbitmq-server", "pg_ctlcluster"}, rabbit=DOWN, postgres=DOWN)
    ensure_infrastructure({}, machine.tools(etc))
    assert machine.commands == [["rabbitmq-server", "-detached"],
                                ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "start"]]
    assert "RabbitMQ is up." in machine.said and "PostgreSQL is up." in machine.said


def test_missing_servers_are_named_in_one_install_command(etc):
    machine = FakeMachine(installed=(), rabbit=DOWN, postgres=DOWN)
    with pytest.raises(InfrastructureUnavailable) as error:
        ensure_infrastructure({}, machine.tools(etc))
    assert "apt-get install rabbitmq-server postgresql" in str(error.value)
    assert machine.commands == []


def test_only_the_missing_server_is_named(etc):
    machine = FakeMachine(installed={"rabbitmq-server"}, postgres=DOWN)
    with pytest.raises(InfrastructureUnavailable) as error:
        ensure_infrastructure({}, machine.tools(etc))
    assert "apt-get install postgresql (" in str(error.value)
    assert "rabbitmq-server" not in str(error.value)


def test_a_remote_server_that_is_down_names_the_url_to_set_and_is_not_started(etc):
    machine = FakeMachine(installed={"rabbitmq-server", "pg_ctlcluster"}, rabbit=DOWN)
    env = {"SHOP_AMQP_URI": "amqp://shop:secret@rabbit.internal:5672/shop"}
    with pytest.raises(InfrastructureUnavailable) as error:
        ensure_infrastructure(env, machine.tools(etc))
    message = str(error.value)
    assert "amqp://shop:***@rabbit.internal:5672/shop" in message and "SHOP_AMQP_URI" in message
    assert "secret" not in message and machine.commands == []


def test_a_server_that_refuses_our_login_is_reported_not_restarted(etc):
    machine = FakeMachine(installed={"rabbitmq-server", "pg_ctlcluster"}, postgres=REFUSED)
    with pytest.raises(InfrastructureUnavailable) as error:
        ensure_infrastructure({}, machine.tools(etc))
    assert "password authentication failed" in str(error.value) and "SHOP_CORE_DB_URL" in str(error.value)
    assert machine.commands == []


def test_a_started_server_that_never_answers_fails_after_the_wait(etc):
    machine = FakeMachine(installed={"rabbitmq-server"}, rabbit=DOWN, probes_to_start=10_000)
    with pytest.raises(InfrastructureUnavailable) as error:
        ensure_infrastructure({}, machine.tools(etc))
    assert "does not answer" in str(error.value) and "after 60 s" in str(error.value)
    assert 60 <= machine.now <= 62


def test_the_management_plugin_is_enabled_when_its_api_does_not_answer(etc):
    machine = FakeMachine(installed={"rabbitmq-plugins"}, management=False)
    assert enable_broker_plugins({}, machine.tools(etc)) is True
    assert machine.commands == [["rabbitmq-plugins", "enable", "rabbitmq_management", "rabbitmq_prometheus"]]


def test_the_prometheus_plugin_is_enabled_when_only_the_management_api_answers(etc):
    machine = FakeMachine(installed={"rabbitmq-plugins"}, management=True, metrics=False)
    assert enable_broker_plugins({}, machine.tools(etc)) is True
    assert machine.commands == [["rabbitmq-plugins", "enable", "rabbitmq_management", "rabbitmq_prometheus"]]
    assert machine.metrics


def test_failing_to_enable_the_management_plugin_is_said_and_ignored(etc):
    machine = FakeMachine(installed={"rabbitmq-plugins"}, management=False, plugins_rc=70)
    ensure_infrastructure({}, machine.tools(etc))
    assert any("failed (ignored)" in line for line in machine.said)


def test_without_rabbitmq_plugins_a_silent_management_api_is_only_reported(etc):
    machine = FakeMachine(installed=(), management=False)
    assert enable_broker_plugins({}, machine.tools(etc)) is False
    assert machine.commands == [] and "ignored" in machine.said[-1]
