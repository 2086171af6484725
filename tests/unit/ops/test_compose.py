"""compose/docker-compose.yml runs the same processes, each from its own image, with the documented settings.

Every app container is built from its own target of the top Dockerfile (whose CMD test_images
checks against the Procfile), has a healthcheck asking its own /health, and every container's
log rotates. test_observability_config validates the whole file against the Compose specification.
"""
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from opentelemetry import environment_variables as api_variables
from opentelemetry.sdk import environment_variables as sdk_variables

from nameko_services.ops.procfile import read
from tests.unit.ops.test_images import STAGES, _config_port

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_DIR = ROOT / "compose"
COMPOSE = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PROCESSES = list(read(ROOT / "Procfile"))
APP_CONTAINERS = [*PROCESSES, "migrate"]


def _interpolate(value: str, environment: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} (unset or empty) and ${VAR-default} (unset) substitution."""
    def substitute(match: re.Match[str]) -> str:
        name, operator, default = match.group(1), match.group(2), match.group(3) or ""
        if operator == ":-":
            return environment.get(name) or default
        if operator == "-":
            return environment.get(name, default)
        return environment.get(name, "")
    return re.sub(r"\$\{(\w+)(?:(:-|-)([^}]*))?\}", substitute, value)


def _documented_settings():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    return set(re.findall(r"`((?:SHOP|SENTRY|OTEL)_[A-Z_]+)`", text))


def _standard_otel_variables():
    """The variables OpenTelemetry's own Python API and SDK read (their lists of names)."""
    return {value for module in (api_variables, sdk_variables) for name, value in vars(module).items()
            if name.startswith("OTEL_") and isinstance(value, str)}


@pytest.mark.parametrize("name", APP_CONTAINERS)
def test_every_app_container_is_built_from_its_own_target_of_the_top_dockerfile(name):
    service = SERVICES[name]
    build = service["build"]
    assert (COMPOSE_DIR / build["context"] / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
    assert build["target"] == name and name in STAGES, f"{name}: target {build['target']!r}"
    assert _interpolate(build["args"]["GIT_REVISION"], {"GIT_REVISION": "abc123"}) == "abc123", (
        f"{name}: the git revision does not reach the image's label")
    assert _interpolate(service["image"], {}) == f"nameko-shop-{name}:dev"
    # The target's CMD runs the process (the Procfile's command, tests/unit/ops/test_images.py).
    assert "command" not in service and "entrypoint" not in service, f"{name} overrides its image's command"


def test_each_process_has_an_image_of_its_own_and_no_other_dockerfile_is_left():
    images = [_interpolate(SERVICES[name]["image"], {}) for name in APP_CONTAINERS]
    assert len(set(images)) == len(APP_CONTAINERS), images
    built = {name for name, service in SERVICES.items() if "build" in service}
    assert built == set(APP_CONTAINERS), f"built but not a process image: {built - set(APP_CONTAINERS)}"
    assert not (COMPOSE_DIR / "Dockerfile").exists(), "compose/Dockerfile: the top Dockerfile replaces it"


@pytest.mark.parametrize("name", PROCESSES)
def test_every_app_container_checks_its_own_health_endpoint(name):
    healthcheck = SERVICES[name].get("healthcheck")
    assert healthcheck, f"{name}: no healthcheck"
    assert healthcheck["test"][0] == "CMD", f"{name}: use the exec form"
    urls = re.findall(r"https?://[^'\"\s]+", " ".join(healthcheck["test"][1:]))
    assert len(urls) == 1, f"{name}: the healthcheck should ask one URL: {healthcheck['test']}"
    url = urlsplit(urls[0])
    assert (url.hostname, url.path) == ("127.0.0.1", "/health"), urls[0]
    assert url.port == _config_port(name), (
        f"{name}: asks port {url.port}, its config says {_config_port(name)}")
    assert {"interval", "timeout", "retries"} <= set(healthcheck), healthcheck


def test_the_gateway_starts_once_every_service_is_healthy():
    depends_on = SERVICES["gateway"]["depends_on"]
    for name in PROCESSES:
        if name != "gateway":
            assert depends_on[name]["condition"] == "service_healthy", name


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_container_rotates_its_log(name):
    logging = SERVICES[name].get("logging")
    assert logging, f"{name}: no logging options, so its log grows without bound"
    assert logging["driver"] == "json-file", name
    options = logging["options"]
    assert re.fullmatch(r"\d+[kmg]", options["max-size"]), options
    # Docker takes the options as strings only.
    assert isinstance(options["max-file"], str) and int(options["max-file"]) >= 1, options


def test_the_gateway_is_given_the_cors_origins_of_the_host():
    raw = yaml.safe_load((ROOT / "config" / "gateway.yaml").read_text())
    variable = re.fullmatch(r"\$\{(\w+):.*\}", raw["CORS_ALLOW_ORIGINS"]).group(1)
    value = SERVICES["gateway"]["environment"][variable]
    assert _interpolate(value, {variable: "https://shop.example"}) == "https://shop.example"
    assert _interpolate(value, {}) == "", "without the variable, CORS stays off"


def test_interpolation_follows_compose():
    assert _interpolate("${A:-x}/${B-y}/${C}", {"A": "", "B": "", "C": "c"}) == "x//c"
    assert _interpolate("${A:-x}/${B-y}", {}) == "x/y"


def test_the_gateway_listens_on_8000_on_all_interfaces_of_its_container():
    gateway = SERVICES["gateway"]
    assert gateway["ports"] == ["8000:8000"]
    assert gateway["environment"]["SHOP_GATEWAY_HOST"] == "0.0.0.0"


def test_services_start_only_after_migrations_succeeded():
    # The migrate target's CMD migrates every database (`shopctl migrate --database all`), once.
    assert SERVICES["migrate"]["restart"] == "no"
    for name in PROCESSES:
        if name != "gateway":
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
