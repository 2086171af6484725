"""How to start RabbitMQ and PostgreSQL on this machine, if their server packages are installed (pure)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Which = Callable[[str], "str | None"]
Command = list[str]

DEBIAN_CLUSTERS = Path("/etc/postgresql")


def rabbitmq_start_commands(which: Which) -> list[Command]:
    """``rabbitmq-server -detached`` when the server is installed, else nothing."""
    return [["rabbitmq-server", "-detached"]] if which("rabbitmq-server") else []


def postgres_clusters(etc_dir: Path = DEBIAN_CLUSTERS) -> list[str]:
    """Versions of the Debian ``main`` clusters configured under ``etc_dir``, newest first."""
    if not etc_dir.is_dir():
        return []
    versions = [conf.parent.parent.name for conf in etc_dir.glob("*/main/postgresql.conf")]
    return sorted(versions, key=_version_key, reverse=True)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def postgres_start_commands(which: Which, etc_dir: Path = DEBIAN_CLUSTERS) -> list[Command]:
    """``pg_ctlcluster ... start`` for the newest Debian cluster, else nothing."""
    if not which("pg_ctlcluster"):
        return []
    return [["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]
            for version in postgres_clusters(etc_dir)[:1]]


BROKER_PLUGINS = ("rabbitmq_management", "rabbitmq_prometheus")


def rabbitmq_plugins_command(which: Which) -> Command | None:
    """The command that turns the management (console, API) and Prometheus (queue depths)
    plugins on, if ``rabbitmq-plugins`` is installed; enabling one already on is a no-op."""
    if not which("rabbitmq-plugins"):
        return None
    return ["rabbitmq-plugins", "enable", *BROKER_PLUGINS]
