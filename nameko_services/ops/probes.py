"""Is the broker / database server up, and does it let us in? (network side effects only)."""
from __future__ import annotations

import socket
from dataclasses import dataclass

import requests
from kombu import Connection
from sqlalchemy import text
from sqlalchemy.engine import make_url

from nameko_services.common.engine import create_engine
from nameko_services.ops.endpoints import Server, amqp_credentials, amqp_server, postgres_server

TIMEOUT = 3.0


@dataclass(frozen=True)
class Probe:
    """The outcome of checking one server: ``down`` means nothing answers on its port."""

    ok: bool
    down: bool = False
    detail: str = ""


OK = Probe(ok=True)


def tcp_open(server: Server, timeout: float = TIMEOUT) -> bool:
    """Whether something accepts TCP connections at ``server``."""
    try:
        with socket.create_connection((server.host, server.port), timeout=timeout):
            return True
    except OSError:
        return False


def probe_rabbitmq(uri: str) -> Probe:
    """Connect and log in to the broker."""
    if not tcp_open(amqp_server(uri)):
        return Probe(ok=False, down=True, detail="connection refused")
    try:
        with Connection(uri, connect_timeout=TIMEOUT) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:  # kombu/amqp raise many kinds; all mean "cannot use it"
        return Probe(ok=False, detail=f"{type(exc).__name__}: {exc}")
    return OK


def probe_postgres(url: str) -> Probe:
    """Connect and log in to the server (its ``postgres`` database)."""
    if not tcp_open(postgres_server(url)):
        return Probe(ok=False, down=True, detail="connection refused")
    engine = create_engine(make_url(url).set(database="postgres"),
                           connect_args={"connect_timeout": int(TIMEOUT)})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # driver errors: bad password, no such role, server starting up
        return Probe(ok=False, detail=str(exc).splitlines()[0])
    finally:
        engine.dispose()
    return OK


def management_answers(root: str, amqp_uri: str) -> bool:
    """Whether the RabbitMQ management API answers at ``root``."""
    try:
        response = requests.get(f"{root}/api/overview", auth=amqp_credentials(amqp_uri), timeout=TIMEOUT)
    except requests.RequestException:
        return False
    return response.status_code == 200


def metrics_answer(url: str) -> bool:
    """Whether a Prometheus endpoint (the broker's plugin) answers at ``url``."""
    try:
        return requests.get(url, timeout=TIMEOUT).status_code == 200
    except requests.RequestException:
        return False
