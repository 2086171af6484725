"""Where the broker and the database server are, worked out from the configured URLs (pure)."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy.engine import make_url

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
MANAGEMENT_PORT = 15672
PROMETHEUS_PORT = 15692  # the rabbitmq_prometheus plugin: queue and dead-letter depths
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", ""})


@dataclass(frozen=True)
class Server:
    """A host and port to reach over TCP."""

    host: str
    port: int

    @property
    def is_local(self) -> bool:
        return self.host in LOCAL_HOSTS


def amqp_uri(env: Mapping[str, str] = os.environ) -> str:
    """The configured broker URI (``SHOP_AMQP_URI``)."""
    return env.get("SHOP_AMQP_URI", DEFAULT_AMQP_URI)


def amqp_server(uri: str) -> Server:
    """The broker's host and port (5672 unless the URI says otherwise)."""
    parts = urlsplit(uri)
    return Server(parts.hostname or "127.0.0.1", parts.port or 5672)


def postgres_server(url: str) -> Server:
    """The database server's host and port (5432 unless the URL says otherwise)."""
    parsed = make_url(url)
    return Server(parsed.host or "127.0.0.1", parsed.port or 5432)


def with_vhost(uri: str, vhost: str) -> str:
    """``uri`` pointing at another virtual host."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))


def with_database(url: str, database: str) -> str:
    """``url`` naming another database on the same server."""
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def management_url(uri: str, env: Mapping[str, str] = os.environ) -> str:
    """The management API root: ``SHOP_RABBIT_MANAGEMENT_URL``, else the broker host on 15672."""
    if env.get("SHOP_RABBIT_MANAGEMENT_URL"):
        return env["SHOP_RABBIT_MANAGEMENT_URL"].rstrip("/")
    server = amqp_server(uri)
    return f"http://{server.host}:{MANAGEMENT_PORT}"


def broker_metrics_url(uri: str, env: Mapping[str, str] = os.environ) -> str:
    """The broker's Prometheus endpoint: ``SHOP_RABBIT_METRICS_URL``, else its host on 15692."""
    if env.get("SHOP_RABBIT_METRICS_URL"):
        return env["SHOP_RABBIT_METRICS_URL"].rstrip("/")
    return f"http://{amqp_server(uri).host}:{PROMETHEUS_PORT}/metrics"


def amqp_credentials(uri: str) -> tuple[str, str]:
    """The user and password in ``uri`` (RabbitMQ's guest/guest when absent)."""
    parts = urlsplit(uri)
    return parts.username or "guest", parts.password or "guest"


def redact(url: str) -> str:
    """``url`` with its password hidden, fit for messages and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
