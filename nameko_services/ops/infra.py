"""Make sure RabbitMQ and PostgreSQL are up before anything runs (`shopctl up`, `make test`).

A server that does not answer is started when it runs on this machine and its package is
installed; otherwise the error names exactly what to install or which URL to set. Every side
effect goes through ``Tools`` so the decisions are testable with fakes.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nameko_services.common import migrate
from nameko_services.ops import local_servers, probes
from nameko_services.ops.endpoints import (
    Server,
    amqp_server,
    amqp_uri,
    broker_metrics_url,
    management_url,
    postgres_server,
    redact,
)

START_WAIT = 60.0
MANAGEMENT_WAIT = 30.0
POLL = 1.0


class InfrastructureUnavailable(RuntimeError):
    """RabbitMQ or PostgreSQL cannot be reached and cannot be started here."""


def _run(command: list[str]) -> int:
    # Output is inherited, never piped: a daemon that forks (-detached) keeps pipes open.
    try:
        return subprocess.run(command, stdin=subprocess.DEVNULL, timeout=120, check=False).returncode
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"shopctl: {' '.join(command)} failed: {exc}", file=sys.stderr)
        return 1


def _say(message: str) -> None:
    print(f"shopctl: {message}", file=sys.stderr, flush=True)


@dataclass
class Tools:
    """The side effects infrastructure checks need; tests pass fakes."""

    which: Callable[[str], str | None] = shutil.which
    run: Callable[[list[str]], int] = _run
    probe_rabbitmq: Callable[[str], probes.Probe] = probes.probe_rabbitmq
    probe_postgres: Callable[[str], probes.Probe] = probes.probe_postgres
    management_answers: Callable[[str, str], bool] = probes.management_answers
    metrics_answer: Callable[[str], bool] = probes.metrics_answer
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    say: Callable[[str], None] = _say
    postgres_etc: Path = field(default=local_servers.DEBIAN_CLUSTERS)


@dataclass(frozen=True)
class Dependency:
    """One server the platform needs, and how to get it."""

    name: str
    url: str
    env: str
    package: str
    server: Server
    probe: Callable[[str], probes.Probe]
    start_commands: list[list[str]]


def dependencies(env: Mapping[str, str], tools: Tools) -> list[Dependency]:
    """The broker and the core database server, as configured in ``env``."""
    broker = amqp_uri(env)
    database = env.get("SHOP_CORE_DB_URL", migrate.URL_ENV["core"][1])
    return [
        Dependency("RabbitMQ", broker, "SHOP_AMQP_URI", "rabbitmq-server", amqp_server(broker),
                   tools.probe_rabbitmq, local_servers.rabbitmq_start_commands(tools.which)),
        Dependency("PostgreSQL", database, "SHOP_CORE_DB_URL", "postgresql", postgres_server(database),
                   tools.probe_postgres,
                   local_servers.postgres_start_commands(tools.which, tools.postgres_etc)),
    ]


@dataclass(frozen=True)
class Problem:
    """Why a dependency is unusable; ``package`` when installing it would help."""

    text: str
    package: str | None = None


def ensure_running(dep: Dependency, tools: Tools, wait: float = START_WAIT) -> Problem | None:
    """Probe ``dep``; start it locally if it is down and installed; say what is wrong otherwise."""
    probe = dep.probe(dep.url)
    if probe.ok:
        return None
    where = redact(dep.url)
    if not probe.down:
        return Problem(f"{dep.name} at {where} answers but refuses us ({probe.detail}): "
                       f"fix the credentials or set {dep.env}.")
    if not dep.server.is_local:
        return Problem(f"{dep.name} at {where} is not reachable: start it or set {dep.env}.")
    if not dep.start_commands:
        return Problem(f"{dep.name} is not running at {where} and no local server is installed.",
                       dep.package)
    for command in dep.start_commands:
        tools.say(f"{dep.name} is not running; starting it: {' '.join(command)}")
        tools.run(command)
    return _wait_until_up(dep, tools, wait)


def _wait_until_up(dep: Dependency, tools: Tools, wait: float) -> Problem | None:
    deadline = tools.clock() + wait
    while True:
        probe = dep.probe(dep.url)
        if probe.ok:
            tools.say(f"{dep.name} is up.")
            return None
        if tools.clock() >= deadline:
            return Problem(f"{dep.name} was started but does not answer at {redact(dep.url)} "
                           f"after {wait:.0f} s ({probe.detail}).")
        tools.sleep(POLL)


def explain(problems: list[Problem]) -> str:
    """One message for all problems, with a single install command for what is missing."""
    lines = [problem.text for problem in problems]
    packages = [problem.package for problem in problems if problem.package]
    if packages:
        lines.append(f"Install the server packages: apt-get install {' '.join(packages)} "
                     "(or point SHOP_AMQP_URI / SHOP_CORE_DB_URL at servers you run).")
    return "\n".join(lines)


def enable_broker_plugins(env: Mapping[str, str], tools: Tools, wait: float = MANAGEMENT_WAIT) -> bool:
    """Turn on RabbitMQ's management (console, API) and Prometheus (queue depths, port 15692)
    plugins if either does not answer; never fatal."""
    broker = amqp_uri(env)
    root, metrics = management_url(broker, env), broker_metrics_url(broker, env)

    def answering() -> bool:
        return tools.management_answers(root, broker) and tools.metrics_answer(metrics)

    if answering():
        return True
    command = local_servers.rabbitmq_plugins_command(tools.which)
    if command is None or not amqp_server(broker).is_local:
        tools.say(f"the RabbitMQ management API ({root}) or Prometheus endpoint ({metrics}) does not "
                  "answer and cannot be enabled here (ignored; the console, queue metrics and the "
                  "e2e tests need them).")
        return False
    if tools.run(command) != 0:
        tools.say(f"`{' '.join(command)}` failed (ignored).")
        return False
    deadline = tools.clock() + wait
    while not answering():
        if tools.clock() >= deadline:
            tools.say(f"the broker plugins are enabled but {root} or {metrics} does not answer yet "
                      "(ignored).")
            return False
        tools.sleep(POLL)
    return True


def ensure_infrastructure(env: Mapping[str, str] = os.environ, tools: Tools | None = None) -> None:
    """RabbitMQ and PostgreSQL up (started if need be), the broker's plugins on; else raise."""
    tools = tools or Tools()
    problems = [problem for dep in dependencies(env, tools) if (problem := ensure_running(dep, tools))]
    if problems:
        raise InfrastructureUnavailable(explain(problems))
    enable_broker_plugins(env, tools)
