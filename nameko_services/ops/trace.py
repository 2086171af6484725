"""``shopctl trace ORDER``: one order's timeline across the services, without grep.

It reads what the services themselves stored: the order's events (orders database), its
stock reservation (core), its payments and their events (payments), every outbox row about
it in the three databases (queued, published or not), which handler applied each of those
events and when (``processed_events``), and the dead letters about it (peeked through the
RabbitMQ management API with ``ack_requeue_true``, so they stay where they are). The outbox rows'
headers name the trace(s) the order's events belong to, to open in Grafana (Tempo).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import Engine, text

from nameko_services.common.trace_context import trace_id_in

DATABASES = ("orders", "core", "payments")
OWNER = {"orders": "orders", "core": "catalog", "payments": "payments"}  # whose outbox each holds
PEEK_PER_QUEUE = 100


@dataclass(frozen=True, order=True)
class Entry:
    """One thing that happened to the order."""

    at: datetime
    service: str
    what: str


@dataclass
class Trace:
    order_id: str
    summary: str = "no such order"
    correlation_ids: set[str] = field(default_factory=set)
    trace_ids: set[str] = field(default_factory=set)
    entries: list[Entry] = field(default_factory=list)
    unpublished: list[str] = field(default_factory=list)
    dead_letters: list[str] = field(default_factory=list)


def trace(order_id: str, engines: Mapping[str, Engine], dead_letters: Iterable[str] = ()) -> Trace:
    """Everything the databases (and the given dead letters) say about ``order_id``."""
    found = Trace(order_id, dead_letters=list(dead_letters))
    with engines["orders"].connect() as conn:
        _order(conn, found)
    with engines["core"].connect() as conn:
        _reservation(conn, found)
    with engines["payments"].connect() as conn:
        _payments(conn, found)
    outbox_ids: dict[str, str] = {}
    for database in DATABASES:
        with engines[database].connect() as conn:
            outbox_ids |= _outbox(conn, OWNER[database], found)
    for database in DATABASES:
        with engines[database].connect() as conn:
            _handled(conn, outbox_ids, found)
    found.entries.sort()
    return found


def _order(conn: Any, found: Trace) -> None:
    row = conn.execute(text("SELECT status, payment_status, total, currency, user_id FROM orders "
                            "WHERE id = :id"), {"id": found.order_id}).mappings().first()
    if row is not None:
        found.summary = (f"{row['status']}, payment {row['payment_status']}, {row['total']} "
                         f"{row['currency']}, customer {row['user_id']}")
    events = conn.execute(text("SELECT version, type, occurred_at, correlation_id FROM order_events "
                               "WHERE stream_id = :id ORDER BY version"), {"id": found.order_id}).mappings()
    for event in events:
        found.entries.append(Entry(event["occurred_at"], "orders", f"v{event['version']} {event['type']}"))
        if event["correlation_id"]:
            found.correlation_ids.add(event["correlation_id"])


def _reservation(conn: Any, found: Trace) -> None:
    row = conn.execute(text("SELECT status, order_version, updated_at FROM stock_reservations "
                            "WHERE order_id = :id"), {"id": found.order_id}).mappings().first()
    if row is None:
        return
    items = conn.execute(text("SELECT product_id::text AS product, quantity FROM stock_reservation_items "
                              "WHERE order_id = :id ORDER BY 1"), {"id": found.order_id}).mappings()
    held = ", ".join(f"{item['quantity']} x {item['product']}" for item in items) or "nothing"
    found.entries.append(Entry(row["updated_at"], "catalog", f"reservation {row['status']} for order "
                                                          f"v{row['order_version']}: {held}"))


def _payments(conn: Any, found: Trace) -> None:
    events = conn.execute(text(
        "SELECT e.stream_id::text AS payment, e.version, e.type, e.occurred_at FROM payment_events e "
        "JOIN payments p ON p.id = e.stream_id WHERE p.order_id = :id ORDER BY e.occurred_at, e.version"),
        {"id": found.order_id}).mappings()
    for event in events:
        found.entries.append(Entry(event["occurred_at"], "payments",
                                   f"payment {event['payment'][:8]} v{event['version']} {event['type']}"))


def _outbox(conn: Any, service: str, found: Trace) -> dict[str, str]:
    """The service's outbox rows about the order: queued and published; their event ids."""
    rows = conn.execute(text("SELECT event_id::text AS id, event_type, created_at, published_at, headers "
                             "FROM outbox WHERE payload->>'order_id' = :id ORDER BY seq"),
                        {"id": found.order_id}).mappings()
    ids = {}
    for row in rows:
        ids[row["id"]] = f"{service}.{row['event_type']}"
        if trace_id := trace_id_in(row["headers"] or {}):
            found.trace_ids.add(trace_id)
        if row["published_at"] is None:
            found.unpublished.append(f"{service}.{row['event_type']} queued {row['created_at'].isoformat()}")
            found.entries.append(Entry(row["created_at"], service, f"-> {row['event_type']} (NOT published)"))
        else:
            lag = (row["published_at"] - row["created_at"]).total_seconds()
            found.entries.append(Entry(row["created_at"], service,
                                       f"-> {row['event_type']} (published after {lag:.3f} s)"))
    return ids


def _handled(conn: Any, outbox_ids: Mapping[str, str], found: Trace) -> None:
    """Which handler applied each of those events, and when."""
    if not outbox_ids:
        return
    rows = conn.execute(text("SELECT event_id, handler, processed_at FROM processed_events "
                             "WHERE event_id = ANY(:ids)"), {"ids": list(outbox_ids)}).mappings()
    for row in rows:
        service = row["handler"].split(".")[0]
        found.entries.append(Entry(row["processed_at"], service,
                                   f"<- {outbox_ids[row['event_id']]} handled by {row['handler']}"))


def dead_letters_about(order_id: str, api: str, vhost: str, auth: tuple[str, str]) -> list[str]:
    """Dead-lettered messages whose payload names the order, as ``queue: event (reason)``; the
    messages are peeked and requeued, never taken."""
    quoted = requests.utils.quote(vhost, safe="")
    queues = requests.get(f"{api}/api/queues/{quoted}", auth=auth, timeout=10)
    queues.raise_for_status()
    found = []
    for queue in queues.json():
        if not queue["name"].endswith(".dead-letter"):
            continue  # the listing's message counts lag by seconds: peek every dead-letter queue
        name = requests.utils.quote(queue["name"], safe="")
        peek: dict[str, Any] = {"count": PEEK_PER_QUEUE, "ackmode": "ack_requeue_true", "encoding": "auto"}
        peeked = requests.post(f"{api}/api/queues/{quoted}/{name}/get", auth=auth, timeout=10, json=peek)
        peeked.raise_for_status()
        for message in peeked.json():
            if _names_order(message.get("payload"), order_id):
                headers = (message.get("properties") or {}).get("headers") or {}
                reason = headers.get("x-shop-refused") or headers.get("x-shop-last-error") or "?"
                found.append(f"{queue['name']}: {message.get('routing_key')} ({reason})")
    return found


def _names_order(payload: Any, order_id: str) -> bool:
    try:
        return json.loads(payload).get("order_id") == order_id
    except (TypeError, ValueError, AttributeError):
        return False


def render(found: Trace) -> str:
    """The text an operator reads."""
    lines = [f"order {found.order_id}: {found.summary}"]
    if found.correlation_ids:
        lines.append(f"correlation id(s): {', '.join(sorted(found.correlation_ids))}")
    if found.trace_ids:
        lines.append(f"trace id(s): {', '.join(sorted(found.trace_ids))}")
    lines += [f"{entry.at.isoformat(timespec='milliseconds')}  {entry.service:<8}  {entry.what}"
              for entry in found.entries]
    lines.append("unpublished outbox rows: " + ("; ".join(found.unpublished) or "none"))
    lines.append("dead letters: " + ("; ".join(found.dead_letters) or "none"))
    return "\n".join(lines)


def from_environment(order_id: str, with_broker: bool = True) -> Trace:
    """The trace, reading the databases and the broker the configuration names."""
    from urllib.parse import unquote, urlsplit

    from nameko_services.common.engine import create_engine
    from nameko_services.common.migrate import database_url
    from nameko_services.ops.endpoints import amqp_credentials, amqp_uri, management_url

    engines = {name: create_engine(database_url(name)) for name in DATABASES}
    try:
        letters: list[str] = []
        if with_broker:
            uri = amqp_uri()
            vhost = unquote(urlsplit(uri).path.lstrip("/")) or "/"
            letters = dead_letters_about(order_id, management_url(uri), vhost, amqp_credentials(uri))
        return trace(order_id, engines, letters)
    finally:
        for engine in engines.values():
            engine.dispose()
