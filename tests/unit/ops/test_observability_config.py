"""The monitoring configuration in deploy/ and the compose profile "observability".

promtool checks the scrape config and the rule files and runs the rules' unit tests
(deploy/prometheus/tests/); amtool checks Alertmanager's configuration and its routes. Every
PromQL expression of the rules and dashboards may only name the series in SERIES (what the
services, the gateway and RabbitMQ's rabbitmq_prometheus plugin export) or a recording rule built
from them, so dashboards, rules and metrics cannot drift apart unnoticed. Missing tools fail, never
skip: promtool comes with Debian's `prometheus` package, amtool with `prometheus-alertmanager`.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"
GRAFANA = DEPLOY / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
COMPOSE_FILE = ROOT / "compose" / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())

# Every series a rule or dashboard may read. Metrics engineers: these names and labels are what
# issue 10 fixes; a new series goes here first, then into a rule or panel.
SERIES = frozenset({
    # Prometheus itself, per target
    "up",
    # nameko services (ports 9101-9104)
    "shop_entrypoint_duration_seconds_bucket",     # {service, entrypoint, kind, outcome, le}
    "shop_entrypoint_duration_seconds_count",
    "shop_entrypoint_duration_seconds_sum",
    "shop_outbox_pending",                         # {service}
    "shop_outbox_oldest_age_seconds",              # {service}
    "shop_relay_published_total",                  # {service}
    "shop_saga_step_seconds_bucket",               # {step, le} (+ reason on *_to_cancelled)
    "shop_saga_step_seconds_count",
    "shop_saga_step_seconds_sum",
    "shop_orders_total",                           # {status, reason}
    "shop_orders_needing_attention",               # no labels (orders service)
    "shop_payments_total",                         # {outcome}
    "shop_payments_amount_minor_total",            # {currency, kind = captured|refunded}
    "shop_db_pool_in_use",                         # {service, database}
    # gateway (port 8000)
    "gateway_http_requests_total",                 # {method, route, status}
    "gateway_http_request_duration_seconds_bucket",
    "gateway_http_request_duration_seconds_count",
    "gateway_http_request_duration_seconds_sum",
    "gateway_rate_limited_total",                  # {route, scope}
    # RabbitMQ rabbitmq_prometheus, /metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count
    "rabbitmq_detailed_queue_messages",            # {vhost, queue}: ready + unacked
    "rabbitmq_detailed_queue_messages_ready",
    "rabbitmq_detailed_queue_messages_unacked",
    "rabbitmq_detailed_queue_consumers",
    # RabbitMQ rabbitmq_prometheus, /metrics (aggregated per node)
    "rabbitmq_connections",
    "rabbitmq_channels",
    "rabbitmq_queues",
    "rabbitmq_global_messages_received_total",
    "rabbitmq_global_messages_routed_total",
    "rabbitmq_global_messages_confirmed_total",
    "rabbitmq_global_messages_delivered_total",
    "rabbitmq_global_messages_acknowledged_total",
    "rabbitmq_global_messages_redelivered_total",
    "rabbitmq_global_messages_unroutable_returned_total",
    "rabbitmq_global_messages_unroutable_dropped_total",
    "rabbitmq_process_resident_memory_bytes",
    "rabbitmq_resident_memory_limit_bytes",
    "rabbitmq_disk_space_available_bytes",
    "rabbitmq_disk_space_available_limit_bytes",
    "rabbitmq_alarms_memory_used_watermark",
    "rabbitmq_alarms_free_disk_space_watermark",
    "rabbitmq_alarms_file_descriptor_limit",
})

# The processes Prometheus scrapes and their metrics ports (docs/ARCHITECTURE.md, issue 10).
SHOP_TARGETS = {"gateway": "gateway:8000", "users": "users:9101", "catalog": "catalog:9102",
                "orders": "orders:9103", "payments": "payments:9104", "rabbitmq": "rabbitmq:15692",
                "rabbitmq-queues": "rabbitmq:15692"}
OBSERVABILITY = {"prometheus", "alertmanager", "grafana", "loki", "vector", "otel-collector", "tempo"}
SEVERITIES = {"critical", "warning"}


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: install Debian's `{package}` package "
                    f"(apt-get install {package}); .ci/run does it in CI")
    return path


def _run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(part) for part in command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _rules() -> list[dict]:
    return [rule for path in RULE_FILES for group in _load(path)["groups"] for rule in group["rules"]]


def _alerts() -> list[dict]:
    return [rule for rule in _rules() if "alert" in rule]


def _recorded() -> set[str]:
    return {rule["record"] for rule in _rules() if "record" in rule}


def _dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARD_FILES}


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _concrete(expr: str) -> str:
    """A dashboard query as Prometheus would receive it: Grafana's variables replaced."""
    for variable, value in (("$__rate_interval", "5m"), ("$__interval", "1m"), ("$__range", "1h")):
        expr = expr.replace(variable, value)
    return re.sub(r"\$\{?\w+(?::\w+)?\}?", "x", expr)


def _dashboard_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, PromQL) of every Prometheus query, template variables included."""
    queries = []
    for name, board in _dashboards().items():
        for panel in _panels(board["panels"]):
            for target in panel.get("targets", []):
                if target.get("datasource", panel.get("datasource", {})).get("type") == "prometheus":
                    queries.append((name, panel["title"], _concrete(target["expr"])))
        for variable in board["templating"]["list"]:
            query = variable["query"]["query"]
            inner = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
            assert inner, f"{name}: variable {variable['name']} is not label_values(series, label)"
            queries.append((name, f"variable {variable['name']}", inner.group(1)))
    return queries


def _series_named(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name or next(m.value for m in node.matchers.matchers if m.name == "__name__"))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def _host(address: str) -> str:
    return (urlsplit(address).hostname if "//" in address else address.rsplit(":", 1)[0]) or ""


def _port(address: str) -> int:
    return int(urlsplit(address).port if "//" in address else address.rsplit(":", 1)[1])


# --- Prometheus -----------------------------------------------------------------------------------

def test_promtool_accepts_the_scrape_config_and_its_rule_files():
    promtool = _tool("promtool", "prometheus")
    checked = _run(promtool, "check", "config", PROMETHEUS / "prometheus.yml")
    assert f"{len(RULE_FILES)} rule files found" in checked.stdout
    _run(promtool, "check", "rules", *RULE_FILES)


def test_every_rule_passes_its_promtool_unit_tests():
    promtool = _tool("promtool", "prometheus")
    assert RULE_TESTS
    _run(promtool, "test", "rules", *RULE_TESTS)


def test_every_alert_has_a_test_where_it_fires():
    fired = {case["alertname"] for path in RULE_TESTS for test in _load(path)["tests"]
             for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert {alert["alert"] for alert in _alerts()} <= fired


def test_every_alert_waits_has_a_severity_and_tells_the_operator_what_to_do():
    for alert in _alerts():
        name = alert["alert"]
        assert alert.get("for"), name
        assert alert["labels"]["severity"] in SEVERITIES, name
        annotations = alert["annotations"]
        assert annotations["summary"] and len(annotations["description"]) > 60, name
        assert annotations["runbook_url"] == f"README.md#{name.lower()}", name


def test_every_runbook_is_a_readme_section():
    headings = set(re.findall(r"^#### (\w+)$", (ROOT / "README.md").read_text(), re.M))
    assert {alert["alert"] for alert in _alerts()} <= headings


def test_the_issue_alerts_are_all_there():
    exprs = {alert["alert"]: alert["expr"] for alert in _alerts()}
    assert "up" in exprs["ShopTargetDown"]
    assert "rabbitmq:dead_letter_queue_messages > 0" in exprs["DeadLetterQueueNotEmpty"]
    assert "shop_outbox_oldest_age_seconds) > 60" in exprs["OutboxBacklog"]
    assert 'step="placed_to_confirmed"} > 5' in exprs["OrderSagaSlow"]
    assert "shop:entrypoint_error_ratio:rate5m > 0.05" in exprs["ServiceHighErrorRatio"]
    assert "max(shop_orders_needing_attention) > 0" in exprs["OrdersNeedingAttention"]


def test_every_shop_process_and_rabbitmq_is_scraped_on_its_metrics_port():
    config = _load(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name, target in SHOP_TARGETS.items():
        assert jobs[name]["static_configs"] == [{"targets": [target]}], name
    queues = jobs["rabbitmq-queues"]
    assert queues["metrics_path"] == "/metrics/detailed"
    assert queues["params"] == {"family": ["queue_coarse_metrics", "queue_consumer_count"]}
    assert config["rule_files"] == ["rules/*.yml"]
    assert config["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]
    # A target label `service` would rename the series' own `service` label to exported_service.
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            assert "service" not in static.get("labels", {}), job["job_name"]


def test_rules_name_only_exported_series():
    allowed = SERIES | _recorded()
    for rule in _rules():
        unknown = _series_named(rule["expr"]) - allowed
        assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {sorted(unknown)}"
    for rule in _rules():
        if "record" in rule:
            assert _series_named(rule["expr"]) <= SERIES | _recorded() - {rule["record"]}


# --- Alertmanager ---------------------------------------------------------------------------------

def test_amtool_accepts_the_alertmanager_config():
    amtool = _tool("amtool", "prometheus-alertmanager")
    _run(amtool, "check-config", ALERTMANAGER)


@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=critical", "alertname=ShopTargetDown"], "critical"),
    (["severity=warning", "alertname=DeadLetterQueueNotEmpty"], "warning"),
    (["alertname=SomethingElse"], "default"),
])
def test_alerts_are_routed_by_severity(labels, receiver):
    amtool = _tool("amtool", "prometheus-alertmanager")
    _run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}",
         f"--verify.receivers={receiver}", *labels)


def test_alertmanager_calls_nothing_outside_its_own_host():
    config = _load(ALERTMANAGER)
    receivers = {receiver["name"] for receiver in config["receivers"]}
    assert SEVERITIES | {config["route"]["receiver"]} <= receivers
    urls = re.findall(r"https?://[^\s'\"]+", ALERTMANAGER.read_text())
    assert urls
    for url in urls:
        assert urlsplit(url).hostname in {"127.0.0.1", "localhost"}, url


# --- Grafana --------------------------------------------------------------------------------------

def _generator():
    spec = importlib.util.spec_from_file_location("shop_dashboards", GRAFANA / "dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_dashboards_are_what_the_generator_writes():
    generator = _generator()
    built = generator.dashboards()
    assert sorted(built) == [path.name for path in DASHBOARD_FILES]
    for path in DASHBOARD_FILES:
        assert path.read_text() == generator.render(built[path.name]), (
            f"{path.name} differs from what deploy/grafana/dashboards.py writes: run it")


def test_a_dashboard_per_service_one_for_the_saga_and_one_for_the_broker():
    boards = {board["uid"]: board for board in _dashboards().values()}
    assert set(boards) == {"shop-users", "shop-catalog", "shop-orders", "shop-payments", "shop-gateway",
                           "shop-saga", "shop-broker"}
    for service in ("users", "catalog", "orders", "payments"):
        exprs = [target["expr"] for panel in _panels(boards[f"shop-{service}"]["panels"])
                 for target in panel.get("targets", [])]
        text = "\n".join(exprs)
        for series in ("shop_entrypoint_duration_seconds_count", "shop_entrypoint_duration_seconds_bucket",
                       "shop_db_pool_in_use"):
            assert f'{series}{{service="{service}"' in text, (service, series)
        assert "histogram_quantile(0.5," in text and "histogram_quantile(0.99," in text
    saga = "\n".join(target["expr"] for panel in _panels(boards["shop-saga"]["panels"])
                     for target in panel.get("targets", []))
    for series in ("shop_orders_total", "shop_saga_step_seconds_bucket", "shop_outbox_oldest_age_seconds",
                   "rabbitmq:dead_letter_queue_messages"):
        assert series in saga


def test_dashboard_queries_name_only_exported_series():
    allowed = SERIES | _recorded()
    queries = _dashboard_queries()
    assert len(queries) > 50
    for name, title, expr in queries:
        unknown = _series_named(expr) - allowed
        assert not unknown, f"{name}, {title!r} reads {sorted(unknown)}: not in SERIES"


def test_promtool_accepts_every_dashboard_query(tmp_path):
    promtool = _tool("promtool", "prometheus")
    rules = [{"record": f"dashboard:query_{number}", "expr": expr}
             for number, (_, _, expr) in enumerate(_dashboard_queries())]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    _run(promtool, "check", "rules", path)


def test_every_panel_reads_a_provisioned_datasource():
    provisioned = _load(GRAFANA / "provisioning" / "datasources" / "datasources.yml")["datasources"]
    uids = {source["uid"]: source["type"] for source in provisioned}
    for name, board in _dashboards().items():
        for panel in _panels(board["panels"]):
            if panel["type"] == "row":
                continue
            source = panel["datasource"]
            assert uids.get(source["uid"]) == source["type"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == source, (name, panel["title"])


def test_log_panels_select_only_labels_that_vector_sets():
    labels = set(_load(DEPLOY / "vector" / "vector.yaml")["sinks"]["loki"]["labels"])
    for name, board in _dashboards().items():
        for panel in _panels(board["panels"]):
            if panel["type"] == "logs":
                selector = re.match(r"\{([^}]*)\}", panel["targets"][0]["expr"]).group(1)
                assert set(re.findall(r"(\w+)\s*[=!]~?", selector)) <= labels, (name, panel["title"])


def test_logs_and_traces_link_to_each_other_by_trace_id():
    sources = {source["uid"]: source for source in
               _load(GRAFANA / "provisioning" / "datasources" / "datasources.yml")["datasources"]}
    assert set(sources) == {"prometheus", "alertmanager", "loki", "tempo"}
    (derived,) = sources["loki"]["jsonData"]["derivedFields"]
    assert derived["datasourceUid"] == "tempo"
    line = '{"level": "INFO", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}'
    assert re.search(derived["matcherRegex"], line).group(1) == (
        "4bf92f3577b34da6a3ce929d0e0e4736")
    assert derived["url"] == "$${__value.raw}"  # `$$`: a literal `$` in a provisioning file
    to_logs = sources["tempo"]["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == "loki" and "$${__trace.traceId}" in to_logs["query"]


def test_grafana_loads_the_dashboards_from_where_compose_mounts_them():
    (provider,) = _load(GRAFANA / "provisioning" / "dashboards" / "dashboards.yml")["providers"]
    mounts = COMPOSE["services"]["grafana"]["volumes"]
    assert f"../deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "../deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


# --- compose, collector, Tempo, Loki, Vector ------------------------------------------------------

def test_compose_file_validates_against_the_compose_specification():
    # docker-compose 1.x from PyPI needs PyYAML < 6, which does not build on Python 3.11, and no
    # `docker compose` plugin can be installed here; check-jsonschema ships the compose-spec schema
    # that Compose v2 validates with.
    checker = Path(sys.executable).with_name("check-jsonschema")
    if not checker.exists():
        pytest.fail("check-jsonschema is missing: install the test extras (pip install -e '.[test]')")
    _run(checker, "--builtin-schema", "vendor.compose-spec", COMPOSE_FILE)


def test_the_observability_profile_has_every_component_with_a_pinned_image():
    services = COMPOSE["services"]
    profiled = {name for name, service in services.items() if service.get("profiles")}
    assert profiled == OBSERVABILITY
    for name in OBSERVABILITY:
        service = services[name]
        assert service["profiles"] == ["observability"], name
        image, _, tag = service["image"].partition(":")
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: pin the image tag ({image})"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: publish {port} on 127.0.0.1 only"


def test_every_mounted_config_exists_and_every_dependency_is_a_service():
    services = COMPOSE["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name} mounts missing {source}"
        for dependency in service.get("depends_on", []):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_every_address_in_the_monitoring_configs_is_a_compose_service_on_its_port():
    services = set(COMPOSE["services"])
    scrape = _load(PROMETHEUS / "prometheus.yml")
    targets = [target for job in scrape["scrape_configs"] for static in job["static_configs"]
               for target in static["targets"]]
    targets += scrape["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    datasources = _load(GRAFANA / "provisioning" / "datasources" / "datasources.yml")["datasources"]
    collector = _load(DEPLOY / "otel" / "collector.yaml")
    vector = _load(DEPLOY / "vector" / "vector.yaml")
    addresses = targets + [source["url"] for source in datasources] + [
        collector["exporters"]["otlp/tempo"]["endpoint"], vector["sinks"]["loki"]["endpoint"]]
    for address in addresses:
        assert _host(address) in services | {"localhost"}, address
    tempo = _load(DEPLOY / "tempo" / "tempo.yaml")
    loki = _load(DEPLOY / "loki" / "loki.yaml")
    assert _port(collector["exporters"]["otlp/tempo"]["endpoint"]) == _port(
        tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"])
    by_type = {source["type"]: source["url"] for source in datasources}
    assert _port(by_type["tempo"]) == tempo["server"]["http_listen_port"]
    assert _port(by_type["loki"]) == _port(vector["sinks"]["loki"]["endpoint"]) == (
        loki["server"]["http_listen_port"])


def test_the_collector_receives_otlp_and_sends_traces_to_tempo():
    collector = _load(DEPLOY / "otel" / "collector.yaml")
    protocols = collector["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317" and protocols["http"]["endpoint"] == "0.0.0.0:4318"
    pipelines = collector["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp/tempo"]
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, [])) <= set(collector.get(kind, {})), kind
    assert set(collector["service"]["extensions"]) <= set(collector["extensions"])
    assert collector["service"]["pipelines"]["traces"]["processors"][0] == "memory_limiter"


def test_vector_ships_this_projects_container_logs_to_loki():
    vector = _load(DEPLOY / "vector" / "vector.yaml")
    components = set(vector["sources"]) | set(vector["transforms"])
    for component in [*vector["transforms"].values(), *vector["sinks"].values()]:
        assert set(component["inputs"]) <= components
    assert vector["sources"]["containers"]["include_labels"] == [
        f"com.docker.compose.project={COMPOSE['name']}"]
    assert vector["sinks"]["loki"]["encoding"] == {"codec": "text"}  # the JSON line as written
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in COMPOSE["services"]["vector"]["volumes"]
