"""compose/docker-compose.yml runs the same processes with the documented settings."""
import re
from pathlib import Path

import yaml

from nameko_services.ops.procfile import read

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "compose" / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _documented_settings():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    return set(re.findall(r"`((?:SHOP|SENTRY)_[A-Z_]+)`", text))


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


def test_postgres_creates_the_three_databases_on_first_start():
    script = (ROOT / "compose" / "postgres-init" / "01-databases.sql").read_text()
    assert re.findall(r"CREATE DATABASE (\w+);", script) == ["shop_core", "shop_orders", "shop_payments"]
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in SERVICES["postgres"]["volumes"]
