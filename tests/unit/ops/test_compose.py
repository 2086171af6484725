"""compose/docker-compose.yml runs the same processes with the documented settings."""
import re
from pathlib import Path

import yaml
from opentelemetry import environment_variables as api_variables
from opentelemetry.sdk import environment_variables as sdk_variables

from nameko_services.ops.procfile import read

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "compose" / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _documented_settings():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    return set(re.findall(r"`((?:SHOP|SENTRY|OTEL)_[A-Z_]+)`", text))


def _standard_otel_variables():
    """The variables OpenTelemetry's own Python API and SDK read (their lists of names)."""
    return {value for module in (api_variables, sdk_variables) for name, value in vars(module).items()
            if name.startswith("OTEL_") and isinstance(value, str)}


def test_every_procfile_process_has_a_container_running_the_same_program():
    for name, command in read(ROOT / "Procfile").items():
        program = command.split(" --host")[0]
        assert " ".join(SERVICES[name]["command"]).startswith(program), name


def test_the_gateway_listens_on_8000_on_all_interfaces_of_its_container():
    gateway = SERVICES["gateway"]
    assert gateway["ports"] == ["8000:8000"]
    assert gateway["environment"]["SHOP_GATEWAY_HOST"] == "0.0.0.0"


def test_services_start_only_after_migrations_succeeded():
    assert SERVICES["migrate"]["command"] == ["shopctl", "migrate"]
    for name in ("users", "catalog"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_setting_given_to_the_containers_is_a_documented_one():
    given = set(SERVICES["gateway"]["environment"]) | set(SERVICES["users"]["environment"])
    assert given <= _documented_settings()
    assert {name for name in given if name.startswith("OTEL_")} <= _standard_otel_variables()


def test_the_app_containers_export_their_traces_to_the_observability_profiles_collector():
    collector = SERVICES["otel-collector"]
    assert collector["profiles"] == ["observability"] and "127.0.0.1:4318:4318" in collector["ports"]
    for name in ("users", "catalog", "orders", "payments", "gateway"):
        endpoint = SERVICES[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint == "${OTEL_EXPORTER_OTLP_ENDPOINT-http://otel-collector:4318}", name


def test_postgres_creates_the_three_databases_on_first_start():
    script = (ROOT / "compose" / "postgres-init" / "01-databases.sql").read_text()
    assert re.findall(r"CREATE DATABASE (\w+);", script) == ["shop_core", "shop_orders", "shop_payments"]
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in SERVICES["postgres"]["volumes"]
