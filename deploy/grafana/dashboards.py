"""Writes the Grafana dashboards of deploy/grafana/dashboards/*.json.

    python deploy/grafana/dashboards.py

Edit the dashboards here and run it: the provisioned dashboards cannot be saved from Grafana's UI,
and tests/unit/ops/test_observability_config.py fails when the JSON differs from what this writes
or names a series the platform does not export. One dashboard per process (users, catalog,
orders, payments, gateway), one for the saga, one for the broker.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"

PROM = {"type": "prometheus", "uid": "prometheus"}
LOKI = {"type": "loki", "uid": "loki"}
RATE = "$__rate_interval"
SERVICES = ("users", "catalog", "orders", "payments")
WITH_OUTBOX = ("catalog", "orders", "payments")
DLQ = 'queue=~".+\\\\.dead-letter"'
RETRY = 'queue=~".+\\\\.retry-[0-9]+"'

Panel = dict[str, Any]


def _thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": value, "color": color} for value, color in steps]}


def _targets(queries: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"refId": chr(ord("A") + i), "datasource": PROM, "expr": expr, "legendFormat": legend,
             "range": True} for i, (expr, legend) in enumerate(queries)]


def timeseries(title: str, queries: list[tuple[str, str]], unit: str = "short", description: str = "",
               width: int = 12, height: int = 8, thresholds: dict[str, Any] | None = None) -> Panel:
    defaults: dict[str, Any] = {"unit": unit, "custom": {"fillOpacity": 10, "showPoints": "never"}}
    if thresholds:
        defaults["thresholds"] = thresholds
        defaults["custom"]["thresholdsStyle"] = {"mode": "line"}
    return {
        "type": "timeseries", "title": title, "description": description, "datasource": PROM,
        "targets": _targets(queries), "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "_size": (width, height),
    }


def stat(title: str, expr: str, unit: str = "short", description: str = "",
         thresholds: dict[str, Any] | None = None, width: int = 4) -> Panel:
    return {
        "type": "stat", "title": title, "description": description, "datasource": PROM,
        "targets": _targets([(expr, "")]),
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": thresholds or _thresholds((None, "green"))},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "area", "textMode": "value"},
        "_size": (width, 4),
    }


def logs(title: str, expr: str, description: str = "") -> Panel:
    return {
        "type": "logs", "title": title, "description": description, "datasource": LOKI,
        "targets": [{"refId": "A", "datasource": LOKI, "expr": expr}],
        "options": {"showTime": True, "wrapLogMessage": True, "sortOrder": "Descending",
                    "enableLogDetails": True, "dedupStrategy": "none"},
        "_size": (24, 10),
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_size": (24, 1)}


def dashboard(uid: str, title: str, description: str, panels: list[Panel],
              variables: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    x = y = row_height = 0
    placed = []
    for number, panel in enumerate(panels, start=1):
        width, height = panel.pop("_size")
        if x + width > 24 or panel["type"] == "row":
            x, y, row_height = 0, y + row_height, 0
        placed.append({"id": number, "gridPos": {"x": x, "y": y, "w": width, "h": height}, **panel})
        x, row_height = x + width, max(row_height, height)
    return {
        "uid": uid, "title": title, "description": description, "tags": ["nameko-shop"],
        "timezone": "utc", "schemaVersion": 39, "version": 1, "editable": False,
        "graphTooltip": 1, "refresh": "30s", "time": {"from": "now-1h", "to": "now"},
        "links": [{"type": "dashboards", "tags": ["nameko-shop"], "asDropdown": True,
                   "title": "nameko-shop", "includeVars": False, "keepTime": True}],
        "annotations": {"list": []},
        "templating": {"list": variables or []},
        "panels": placed,
    }


def _variable(name: str, query: str) -> dict[str, Any]:
    return {"name": name, "label": name.capitalize(), "type": "query", "datasource": PROM,
            "query": {"query": query, "refId": name}, "definition": query, "refresh": 2,
            "multi": True, "includeAll": True, "allValue": ".*", "sort": 1,
            "current": {"text": ["All"], "value": ["$__all"]}}


def service_dashboard(service: str) -> dict[str, Any]:
    sel = f'service="{service}", entrypoint=~"$entrypoint"'
    handler_queues = f'queue=~"evt-.+--{service}\\\\..+"'
    calls = "shop_entrypoint_duration_seconds_count"
    buckets = "shop_entrypoint_duration_seconds_bucket"
    panels: list[Panel] = [
        stat("Instances up", f'sum(up{{job="{service}"}})',
             description="Processes Prometheus scrapes successfully (alert ShopTargetDown).",
             thresholds=_thresholds((None, "red"), (1, "green")), width=6),
        stat("Calls/s", f'sum(rate({calls}{{service="{service}"}}[{RATE}]))', unit="reqps",
             description="RPC calls, event deliveries and timer runs, every outcome.", width=6),
        stat("Error ratio (5 min)", f'shop:entrypoint_error_ratio:rate5m{{service="{service}"}}',
             unit="percentunit",
             description="outcome error or dead_lettered over all calls (alert ServiceHighErrorRatio "
                         "over 5 %).",
             thresholds=_thresholds((None, "green"), (0.05, "red")), width=6),
        stat("DB connections in use", f'sum(shop_db_pool_in_use{{service="{service}"}})',
             description="Checked-out connections of the SQLAlchemy pools, every instance; each pool "
                         "holds up to SHOP_MAX_WORKERS.", width=6),
        row("Traffic and errors"),
        timeseries("Calls/s per entrypoint",
                   [(f"sum by (kind, entrypoint) (rate({calls}{{{sel}}}[{RATE}]))",
                     "{{kind}} {{entrypoint}}")], unit="reqps"),
        timeseries("Failures/s per entrypoint",
                   [(f'sum by (entrypoint, outcome) (rate({calls}{{{sel}, outcome!="ok"}}[{RATE}]))',
                     "{{entrypoint}} {{outcome}}")], unit="reqps",
                   description="error: the call failed; retried: an event that will be redelivered; "
                               "dead_lettered: an event parked for good; refused: an event without a "
                               "valid token."),
        row("Latency"),
        timeseries("p50 per entrypoint",
                   [(f"histogram_quantile(0.5, sum by (entrypoint, le) (rate({buckets}{{{sel}}}[{RATE}])))",
                     "{{entrypoint}}")], unit="s"),
        timeseries("p99 per entrypoint",
                   [(f"histogram_quantile(0.99, sum by (entrypoint, le) (rate({buckets}{{{sel}}}[{RATE}])))",
                     "{{entrypoint}}")], unit="s"),
        row("Database" + (" and outbox" if service in WITH_OUTBOX else "")),
        timeseries("DB connections in use",
                   [(f'sum by (database, instance) (shop_db_pool_in_use{{service="{service}"}})',
                     "{{database}} {{instance}}")]),
    ]
    if service in WITH_OUTBOX:
        panels += [
            timeseries("Outbox: oldest unpublished event",
                       [(f'max(shop_outbox_oldest_age_seconds{{service="{service}"}})', "oldest")], unit="s",
                       description="Alert OutboxBacklog over 60 s.",
                       thresholds=_thresholds((None, "green"), (60, "red")), width=6),
            timeseries("Outbox: rows waiting, relay: published/s",
                       [(f'max(shop_outbox_pending{{service="{service}"}})', "waiting"),
                        (f'sum(rate(shop_relay_published_total{{service="{service}"}}[{RATE}]))',
                         "published/s")], width=6),
        ]
    panels += [
        row("Queues"),
        timeseries(f"rpc-{service}: waiting requests and consumers",
                   [(f'sum(rabbitmq_detailed_queue_messages_ready{{queue="rpc-{service}"}})', "waiting"),
                    (f'sum(rabbitmq_detailed_queue_consumers{{queue="rpc-{service}"}})', "consumers")],
                   description="Consumers are the running instances; waiting requests mean they are "
                               "all busy."),
        timeseries("Event handler queues: messages",
                   [(f"sum by (queue) (rabbitmq_detailed_queue_messages{{{handler_queues}}})", "{{queue}}")],
                   description="Each handler's queue with its .retry-<ms> and .dead-letter queues."),
        row("Logs"),
        logs("Errors and warnings", f'{{service="{service}", level=~"error|critical|warning"}}',
             description="JSON lines of the containers (Loki); a line's trace_id opens its trace."),
    ]
    return dashboard(
        f"shop-{service}", f"nameko-shop / {service}",
        f"The {service} service: calls, failures, latency per entrypoint, database pool, queues, logs.",
        panels,
        [_variable("entrypoint", f'label_values({calls}{{service="{service}"}}, entrypoint)')],
    )


def gateway_dashboard() -> dict[str, Any]:
    requests = "gateway_http_requests_total"
    buckets = "gateway_http_request_duration_seconds_bucket"
    sel = 'route=~"$route"'
    panels: list[Panel] = [
        stat("Instances up", 'sum(up{job="gateway"})',
             thresholds=_thresholds((None, "red"), (1, "green")), width=6),
        stat("Requests/s", f"sum(rate({requests}[{RATE}]))", unit="reqps", width=6),
        stat("5xx ratio (5 min)", "gateway:http_5xx_ratio:rate5m", unit="percentunit",
             description="Alert GatewayHighErrorRatio over 5 %.",
             thresholds=_thresholds((None, "green"), (0.05, "red")), width=6),
        stat("Rate limited/s", f"sum(rate(gateway_rate_limited_total[{RATE}]))", unit="reqps", width=6),
        row("Traffic"),
        timeseries("Requests/s per route", [(f"sum by (method, route) (rate({requests}{{{sel}}}[{RATE}]))",
                                             "{{method}} {{route}}")], unit="reqps"),
        timeseries("Requests/s per status", [(f"sum by (status) (rate({requests}{{{sel}}}[{RATE}]))",
                                              "{{status}}")], unit="reqps"),
        timeseries("5xx/s per route and status",
                   [(f'sum by (route, status) (rate({requests}{{{sel}, status=~"5.."}}[{RATE}]))',
                     "{{status}} {{route}}")], unit="reqps",
                   description="503: a service is not running; 504: a service did not answer within "
                               "SHOP_RPC_TIMEOUT; 500/502: a bug (request_id in the log)."),
        timeseries("Rate limited/s per route and scope",
                   [(f"sum by (route, scope) (rate(gateway_rate_limited_total[{RATE}]))",
                     "{{route}} per {{scope}}")], unit="reqps"),
        row("Latency"),
        timeseries("p50 per route",
                   [(f"histogram_quantile(0.5, sum by (route, le) (rate({buckets}{{{sel}}}[{RATE}])))",
                     "{{route}}")], unit="s"),
        timeseries("p99 per route",
                   [(f"histogram_quantile(0.99, sum by (route, le) (rate({buckets}{{{sel}}}[{RATE}])))",
                     "{{route}}")], unit="s"),
        row("Logs"),
        logs("Errors and warnings", '{service="gateway", level=~"error|critical|warning"}',
             description="Access lines and errors; a 500's details.request_id is in its line."),
    ]
    return dashboard("shop-gateway", "nameko-shop / gateway",
                     "The HTTP gateway: requests, statuses, latency per route, rate limits, logs.",
                     panels, [_variable("route", f"label_values({requests}, route)")])


def saga_dashboard() -> dict[str, Any]:
    steps = "shop_saga_step_seconds_bucket"
    cancelled, kept = 'step=~".+_cancelled"', 'step!~".+_cancelled"'
    handler_failures = 'kind="event", outcome!="ok"'
    panels: list[Panel] = [
        stat("Confirmed/s", f'sum(rate(shop_orders_total{{status="confirmed"}}[{RATE}]))', unit="reqps"),
        stat("Cancelled/s", f'sum(rate(shop_orders_total{{status="cancelled"}}[{RATE}]))', unit="reqps"),
        stat("p99 placed → confirmed", 'shop:saga_step_seconds:p99_5m{step="placed_to_confirmed"}', unit="s",
             description="Objective 5 s (alert OrderSagaSlow).",
             thresholds=_thresholds((None, "green"), (5, "red"))),
        stat("Orders needing attention", "max(shop_orders_needing_attention)",
             description="shopctl attention list (alert OrdersNeedingAttention).",
             thresholds=_thresholds((None, "green"), (1, "red"))),
        stat("Dead letters", "sum(rabbitmq:dead_letter_queue_messages) or vector(0)",
             description="Events parked in .dead-letter queues (alert DeadLetterQueueNotEmpty).",
             thresholds=_thresholds((None, "green"), (1, "red"))),
        stat("Oldest unpublished event", "max(shop_outbox_oldest_age_seconds)", unit="s",
             description="Over every outbox (alert OutboxBacklog over 60 s).",
             thresholds=_thresholds((None, "green"), (60, "red"))),
        row("Orders and payments"),
        timeseries("Orders/s by outcome", [(f"sum by (status, reason) (rate(shop_orders_total[{RATE}]))",
                                            "{{status}} {{reason}}")], unit="reqps"),
        timeseries("Payments/s by outcome", [(f"sum by (outcome) (rate(shop_payments_total[{RATE}]))",
                                              "{{outcome}}")], unit="reqps"),
        timeseries("Money per hour (minor units)",
                   [("sum by (currency, kind) (increase(shop_payments_amount_minor_total[1h]))",
                     "{{kind}} {{currency}}")],
                   description="Captured and refunded amounts over the last hour, in minor units."),
        timeseries("Cancellations/s by step and reason",
                   [(f"sum by (step, reason) (rate(shop_saga_step_seconds_count{{{cancelled}}}[{RATE}]))",
                     "{{step}} {{reason}}")], unit="reqps"),
        row("Step durations"),
        timeseries("p50 per step",
                   [(f"histogram_quantile(0.5, sum by (step, le) (rate({steps}{{{kept}}}[{RATE}])))",
                     "{{step}}")], unit="s"),
        timeseries("p99 per step",
                   [(f"histogram_quantile(0.99, sum by (step, le) (rate({steps}{{{kept}}}[{RATE}])))",
                     "{{step}}")], unit="s",
                   description="placed_to_confirmed has the objective of 5 s.",
                   thresholds=_thresholds((None, "green"), (5, "red"))),
        row("Events: outbox, handlers, dead letters"),
        timeseries("Outbox: oldest unpublished event per service",
                   [("max by (service) (shop_outbox_oldest_age_seconds)", "{{service}}")], unit="s",
                   thresholds=_thresholds((None, "green"), (60, "red"))),
        timeseries("Outbox: rows waiting per service",
                   [("max by (service) (shop_outbox_pending)", "{{service}}")]),
        timeseries("Relay: events published/s per service",
                   [(f"sum by (service) (rate(shop_relay_published_total[{RATE}]))", "{{service}}")],
                   unit="reqps"),
        timeseries("Event handler failures/s",
                   [("sum by (service, entrypoint, outcome) "
                     f"(rate(shop_entrypoint_duration_seconds_count{{{handler_failures}}}[{RATE}]))",
                     "{{service}}.{{entrypoint}} {{outcome}}")], unit="reqps"),
        timeseries("Dead-letter queues", [("rabbitmq:dead_letter_queue_messages", "{{queue}}")],
                   description="shopctl replay --queue <queue without .dead-letter> once the cause is "
                               "fixed."),
        timeseries("Retry queues", [(f"sum by (queue) (rabbitmq_detailed_queue_messages{{{RETRY}}})",
                                     "{{queue}}")],
                   description="Events waiting for their next attempt (1 s, 5 s, 25 s)."),
    ]
    return dashboard("shop-saga", "nameko-shop / order saga",
                     "Orders from placed to confirmed or cancelled: outcomes, step durations, money, "
                     "outboxes, handler failures and dead letters.", panels)


def broker_dashboard() -> dict[str, Any]:
    handler_queues = 'queue=~"evt-.+", queue!~".+\\\\.(dead-letter|retry-[0-9]+)"'
    panels: list[Panel] = [
        stat("Broker up", 'sum(up{job="rabbitmq"})', thresholds=_thresholds((None, "red"), (1, "green"))),
        stat("Connections", "sum(rabbitmq_connections)"),
        stat("Channels", "sum(rabbitmq_channels)"),
        stat("Queues", "sum(rabbitmq_queues)"),
        stat("Handler queues without consumer",
             f"count(rabbitmq_detailed_queue_consumers{{{handler_queues}}} == 0) or vector(0)",
             description="Event handler queues nobody reads: the service that owns them is down.",
             thresholds=_thresholds((None, "green"), (1, "red"))),
        stat("Alarms",
             "sum(rabbitmq_alarms_memory_used_watermark) + sum(rabbitmq_alarms_free_disk_space_watermark)"
             " + sum(rabbitmq_alarms_file_descriptor_limit)",
             description="Memory, disk or file descriptor alarm: publishers are blocked "
                         "(alert RabbitMQResourceAlarm).",
             thresholds=_thresholds((None, "green"), (1, "red"))),
        row("Messages"),
        timeseries("Messages/s", [
            (f"sum(rate(rabbitmq_global_messages_received_total[{RATE}]))", "published"),
            (f"sum(rate(rabbitmq_global_messages_routed_total[{RATE}]))", "routed"),
            (f"sum(rate(rabbitmq_global_messages_confirmed_total[{RATE}]))", "confirmed"),
            (f"sum(rate(rabbitmq_global_messages_delivered_total[{RATE}]))", "delivered"),
            (f"sum(rate(rabbitmq_global_messages_acknowledged_total[{RATE}]))", "acknowledged"),
            (f"sum(rate(rabbitmq_global_messages_redelivered_total[{RATE}]))", "redelivered"),
        ], unit="reqps"),
        timeseries("Unroutable messages/s", [
            (f"sum(rate(rabbitmq_global_messages_unroutable_returned_total[{RATE}]))", "returned"),
            (f"sum(rate(rabbitmq_global_messages_unroutable_dropped_total[{RATE}]))", "dropped"),
        ], unit="reqps", description="Returned: an RPC call to a service with no queue (the gateway's "
                                     "503); dropped: an event no handler queue is bound for."),
        row("Queues"),
        timeseries("Ready messages per queue (top 15)",
                   [("topk(15, sum by (queue) (rabbitmq_detailed_queue_messages_ready))", "{{queue}}")]),
        timeseries("Unacknowledged messages per queue (top 15)",
                   [("topk(15, sum by (queue) (rabbitmq_detailed_queue_messages_unacked))", "{{queue}}")]),
        timeseries("RPC queues: waiting requests",
                   [('sum by (queue) (rabbitmq_detailed_queue_messages_ready{queue=~"rpc-[a-z]+"})',
                     "{{queue}}")]),
        timeseries("RPC queues: consumers (running instances)",
                   [('sum by (queue) (rabbitmq_detailed_queue_consumers{queue=~"rpc-[a-z]+"})',
                     "{{queue}}")]),
        timeseries("Dead-letter queues", [(f"sum by (queue) (rabbitmq_detailed_queue_messages{{{DLQ}}})",
                                           "{{queue}}")]),
        timeseries("Retry queues", [(f"sum by (queue) (rabbitmq_detailed_queue_messages{{{RETRY}}})",
                                     "{{queue}}")]),
        row("Resources"),
        timeseries("Memory", [
            ("sum by (instance) (rabbitmq_process_resident_memory_bytes)", "used {{instance}}"),
            ("sum by (instance) (rabbitmq_resident_memory_limit_bytes)", "alarm at {{instance}}"),
        ], unit="bytes"),
        timeseries("Free disk", [
            ("sum by (instance) (rabbitmq_disk_space_available_bytes)", "free {{instance}}"),
            ("sum by (instance) (rabbitmq_disk_space_available_limit_bytes)", "alarm at {{instance}}"),
        ], unit="bytes"),
        row("Logs"),
        logs("Broker log", '{service="rabbitmq"} |~ "(?i)error|warning|alarm|blocked"'),
    ]
    return dashboard("shop-broker", "nameko-shop / RabbitMQ",
                     "The broker from its rabbitmq_prometheus plugin: connections, message rates, queue "
                     "depth and consumers, dead letters, memory and disk.", panels)


def dashboards() -> dict[str, dict[str, Any]]:
    """File name → dashboard."""
    built = {f"{service}.json": service_dashboard(service) for service in SERVICES}
    built["gateway.json"] = gateway_dashboard()
    built["saga.json"] = saga_dashboard()
    built["broker.json"] = broker_dashboard()
    return built


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, board in dashboards().items():
        (OUT / name).write_text(render(board))
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
