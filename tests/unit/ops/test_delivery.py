"""The pipeline: .github/workflows (ci, deliver), Dependabot, deploy/k8s/deploy.sh and the smoke test.

The workflows and Dependabot's file validate against the schemas check-jsonschema ships
(vendor.github-workflows, vendor.dependabot). Every process has its way from a change to
production: a path filter naming its folder and the shared code, a Dockerfile target, an image
the overlays deploy. deploy.sh runs against stand-ins for kubectl and kustomize that record what
they are asked, and the smoke test against a local stand-in for the gateway.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from nameko_services.ops.procfile import read
from tests.unit.ops.test_images import STAGES

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
DELIVER = yaml.safe_load((WORKFLOWS / "deliver.yml").read_text())
PROCESSES = list(read(ROOT / "Procfile"))
IMAGES = [*PROCESSES, "migrate"]
SHARED = {"nameko_services/common/**", "setup.cfg", "requirements/runtime.txt", "Dockerfile"}
DEPLOY = ROOT / "deploy" / "k8s" / "deploy.sh"


def _on(workflow: dict) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1).
    return workflow.get("on", workflow.get(True))


def _checker() -> Path:
    checker = Path(sys.executable).with_name("check-jsonschema")
    if not checker.exists():
        pytest.fail("check-jsonschema is missing: install the test extras (pip install -e '.[test]')")
    return checker


@pytest.mark.parametrize(("path", "schema"), [
    (".github/workflows/ci.yml", "vendor.github-workflows"),
    (".github/workflows/deliver.yml", "vendor.github-workflows"),
    (".github/dependabot.yml", "vendor.dependabot"),
])
def test_pipeline_files_validate_against_their_schemas(path, schema):
    done = subprocess.run([str(_checker()), "--builtin-schema", schema, str(ROOT / path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{path}:\n{done.stdout}\n{done.stderr}"


def test_every_workflow_is_checked():
    assert sorted(path.name for path in WORKFLOWS.iterdir()) == ["ci.yml", "deliver.yml"]


# --- ci.yml ---------------------------------------------------------------------------------------

def _makefile_suites() -> list[str]:
    line = re.search(r"^SUITES := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    return line.group(1).split()


def test_ci_runs_on_every_push_and_pull_request():
    assert set(_on(CI)) == {"push", "pull_request"}
    assert not any(_on(CI)[event] for event in ("push", "pull_request")), "no branch or path filter"


def test_ci_lints_type_checks_and_runs_every_suite_as_its_own_job():
    jobs = CI["jobs"]
    assert any("make lint" in step.get("run", "") for step in jobs["lint"]["steps"])
    assert any("make typecheck" in step.get("run", "") for step in jobs["typecheck"]["steps"])
    test = jobs["test"]
    assert test["strategy"]["matrix"]["suite"] == _makefile_suites()
    assert test["strategy"]["fail-fast"] is False, "every suite runs even when one fails, as in make test"
    runs = [step.get("run", "") for step in test["steps"]]
    (pytest,) = [number for number, run in enumerate(runs) if ".venv/bin/pytest ${{ matrix.suite }}" in run]
    assert runs.index("make install") < pytest


def test_ci_suites_get_rabbitmq_with_its_management_api_and_postgresql():
    services = CI["jobs"]["test"]["services"]
    assert services["rabbitmq"]["image"].endswith("-management")
    assert {"5672:5672", "15672:15672"} <= set(services["rabbitmq"]["ports"])
    assert services["postgres"]["image"].startswith("postgres:")
    assert "5432:5432" in services["postgres"]["ports"]
    user = services["rabbitmq"]["env"]["RABBITMQ_DEFAULT_USER"]
    assert CI["env"]["SHOP_AMQP_URI"].startswith(f"amqp://{user}:{services['rabbitmq']['env']['RABBITMQ_DEFAULT_PASS']}@")


# --- deliver.yml: a path from each change to production ------------------------------------------

def _filters() -> dict[str, list[str]]:
    (step,) = [step for step in DELIVER["jobs"]["changes"]["steps"]
               if step.get("uses", "").startswith("dorny/paths-filter@")]
    raw = yaml.safe_load(step["with"]["filters"])

    def flat(items):
        for item in items:
            yield from (flat(item) if isinstance(item, list) else [item])

    return {name: list(flat(patterns)) for name, patterns in raw.items()}


def _glob(pattern: str) -> re.Pattern[str]:
    regex = ""
    for part in re.split(r"(\*\*/?|\*)", pattern):
        regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*"}.get(part, re.escape(part))
    return re.compile(regex + r"\Z")


def _rebuilt_by(path: str) -> set[str]:
    return {name for name, patterns in _filters().items()
            if name != "shared" and any(_glob(pattern).match(path) for pattern in patterns)}


def test_deliver_runs_on_pushes_to_main():
    assert _on(DELIVER)["push"] == {"branches": ["main"]}
    assert DELIVER["concurrency"]["cancel-in-progress"] is False


@pytest.mark.parametrize("image", IMAGES)
def test_every_image_has_a_filter_a_dockerfile_target_and_a_deploy(image):
    filters = _filters()
    assert image in filters, f"deliver.yml has no path filter for {image}"
    patterns = set(filters[image])
    assert patterns >= SHARED, f"{image}: a change in {SHARED - patterns} must rebuild it"
    own = {"gateway": "gateway/**", "migrate": "migrations/**"}.get(image, f"nameko_services/{image}/**")
    assert own in patterns, f"{image}: its own folder {own} is not in its filter"
    assert image in STAGES, f"no Dockerfile target for {image}"
    overlays = ROOT / "deploy" / "k8s" / "overlays"
    for env in ("dev", "staging", "production"):
        kustomization = overlays / env / ("migrations" if image == "migrate" else "") / "kustomization.yaml"
        names = {entry["name"] for entry in yaml.safe_load(kustomization.read_text())["images"]}
        assert f"nameko-shop-{image}" in names, f"{kustomization} does not deploy nameko-shop-{image}"
    listed = re.search(r"^IMAGES=\((.*)\)$", DEPLOY.read_text(), re.M).group(1).split()
    assert image in listed, f"deploy.sh leaves {image} out"


@pytest.mark.parametrize(("path", "images"), [
    ("nameko_services/payments/handlers.py", {"payments"}),
    ("nameko_services/payments/gateways/stripe.py", {"payments"}),
    ("config/orders.yaml", {"orders"}),
    ("gateway/routes/ops.py", {"gateway"}),
    ("migrations/orders/versions/0009_note.py", {"orders", "migrate"}),
    ("migrations/core/versions/0003_x.py", {"users", "catalog", "migrate"}),
    ("nameko_services/common/relay.py", set(IMAGES)),
    ("setup.cfg", set(IMAGES)),
    ("requirements/runtime.txt", set(IMAGES)),
    ("requirements/test.txt", set()),
    ("Dockerfile", set(IMAGES)),
    ("README.md", set()),
    ("tests/unit/ops/test_images.py", set()),
    ("deploy/k8s/base/users.yaml", set()),
])
def test_a_change_rebuilds_only_the_images_it_touches(path, images):
    assert _rebuilt_by(path) == images


def test_the_build_pushes_each_changed_target_tagged_with_the_git_sha():
    build = DELIVER["jobs"]["build"]
    assert build["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.changes.outputs.images) }}"
    assert build["permissions"]["packages"] == "write"
    (push,) = [step for step in build["steps"]
               if step.get("uses", "").startswith("docker/build-push-action@")]
    options = push["with"]
    assert options["target"] == "${{ matrix.image }}" and options["push"] is True
    assert options["tags"].endswith("/nameko-shop-${{ matrix.image }}:${{ github.sha }}")
    assert options["tags"].startswith("${{ steps.registry.outputs.name }}")
    assert "GIT_REVISION=${{ github.sha }}" in options["build-args"]
    registry = [step["run"] for step in build["steps"] if step.get("id") == "registry"][0]
    assert "ghcr.io/${GITHUB_REPOSITORY_OWNER,,}" in registry


def test_staging_is_deployed_and_smoke_tested_then_production_on_approval_with_the_same_images():
    jobs = DELIVER["jobs"]
    staging, production = jobs["staging"], jobs["production"]
    assert staging["environment"]["name"] == "staging"
    assert production["environment"]["name"] == "production" and production["needs"] == "staging"
    staging_runs = "\n".join(step.get("run", "") for step in staging["steps"])
    assert "deploy/k8s/deploy.sh images staging" in staging_runs
    assert "deploy/k8s/deploy.sh apply staging ${{ steps.images.outputs.images }}" in staging_runs
    assert staging["outputs"]["images"] == "${{ steps.images.outputs.images }}"
    production_runs = "\n".join(step.get("run", "") for step in production["steps"])
    assert "deploy/k8s/deploy.sh apply production ${{ needs.staging.outputs.images }}" in production_runs
    for runs in (staging_runs, production_runs):
        assert runs.index("deploy.sh apply") < runs.index("deploy/k8s/smoke_test.py")


def test_dependabot_updates_python_packages_actions_and_the_base_image():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"] for update in config["updates"]}
    assert ecosystems == {"pip", "github-actions", "docker"}


# --- deploy.sh ------------------------------------------------------------------------------------

@pytest.fixture
def cluster(tmp_path):
    """kubectl and kustomize stand-ins: they log their arguments; staging runs images of sha `old`."""
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kubectl", "kustomize"):
        script = bin_dir / tool
        script.write_text(f"""#!/bin/sh
echo "{tool} $*" >> "{log}"
case "$*" in
  *"get deployment"*) echo "ghcr.io/acme/nameko-shop-$5:old" ;;
  *"get job migrate-core"*) echo "ghcr.io/acme/nameko-shop-migrate:old" ;;
esac
""")
        script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(DEPLOY), *args], env=env, capture_output=True, text=True,
                              timeout=60)

    run.log = log  # type: ignore[attr-defined]
    return run


def test_deploy_keeps_the_running_image_of_every_unchanged_process(cluster):
    done = cluster("images", "staging", "ghcr.io/acme", "abc123", "payments", "migrate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "nameko-shop-users=ghcr.io/acme/nameko-shop-users:old",
        "nameko-shop-catalog=ghcr.io/acme/nameko-shop-catalog:old",
        "nameko-shop-orders=ghcr.io/acme/nameko-shop-orders:old",
        "nameko-shop-payments=ghcr.io/acme/nameko-shop-payments:abc123",
        "nameko-shop-gateway=ghcr.io/acme/nameko-shop-gateway:old",
        "nameko-shop-migrate=ghcr.io/acme/nameko-shop-migrate:abc123",
    ]
    assert "kubectl -n shop-staging get deployment payments" not in cluster.log.read_text()


def test_deploy_applies_the_platform_then_waits_for_the_migrations_then_rolls_the_processes(cluster):
    images = ["nameko-shop-users=r/nameko-shop-users:1", "nameko-shop-migrate=r/nameko-shop-migrate:1"]
    done = cluster("apply", "production", *images)
    assert done.returncode == 0, done.stderr
    calls = cluster.log.read_text().splitlines()
    overlay = ROOT / "deploy" / "k8s" / "overlays" / "production"
    expected = [
        "kustomize edit set image nameko-shop-users=r/nameko-shop-users:1",
        "kustomize edit set image nameko-shop-migrate=r/nameko-shop-migrate:1",
        f"kubectl apply -k {overlay}/platform",
        "kubectl -n shop-production wait --for=condition=AllReplicasReady --timeout=15m "
        "rabbitmqcluster/shop-broker",
        "kubectl -n shop-production wait --for=condition=Ready --timeout=15m "
        "clusters.postgresql.cnpg.io --all",
        "kubectl -n shop-production delete job -l app.kubernetes.io/component=migration --ignore-not-found "
        "--wait=true",
        f"kubectl apply -k {overlay}/migrations",
        "kubectl -n shop-production wait --for=condition=Complete --timeout=10m job/migrate-core",
        "kubectl -n shop-production wait --for=condition=Complete --timeout=10m job/migrate-orders",
        "kubectl -n shop-production wait --for=condition=Complete --timeout=10m job/migrate-payments",
        f"kubectl apply -k {overlay}",
        *[f"kubectl -n shop-production rollout status deployment/{name} --timeout=10m" for name in PROCESSES],
    ]
    assert calls == expected


def test_deploy_stops_before_any_rollout_when_a_migration_fails(cluster):
    kubectl = Path(cluster.log).parent / "bin" / "kubectl"
    kubectl.write_text(kubectl.read_text().replace("esac", '  *"job/migrate-orders"*) exit 1 ;;\nesac'))
    done = cluster("apply", "staging")
    assert done.returncode == 1 and "migrate-orders did not complete" in done.stderr
    calls = cluster.log.read_text()
    assert "rollout" not in calls and f"apply -k {ROOT}/deploy/k8s/overlays/staging\n" not in calls


# --- smoke test -----------------------------------------------------------------------------------

def _gateway(answers: dict[str, tuple[int, object]]):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            status, body = answers.get(self.path, (404, {"error": {"code": "not_found"}}))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


HEALTHY = {
    "/health": (200, {"status": "ok"}),
    "/ready": (200, {"status": "ready", "checks": {"broker": "ok"}}),
    "/health/services": (200, {"status": "ok", "services": {name: "ok" for name in PROCESSES[:4]}}),
    "/api/v1/categories": (200, []),
    "/api/v1/products?per_page=1": (200, {"items": [], "total": 0, "page": 1, "per_page": 1}),
    "/.well-known/jwks.json": (200, {"keys": [{"kty": "OKP", "kid": "k"}]}),
}


def _smoke(url: str) -> subprocess.CompletedProcess[str]:
    script = ROOT / "deploy" / "k8s" / "smoke_test.py"
    return subprocess.run([sys.executable, str(script), url, "--wait", "0"], capture_output=True, text=True,
                          timeout=60)


def test_the_smoke_test_passes_against_a_healthy_gateway():
    server = _gateway(HEALTHY)
    try:
        done = _smoke(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert "6 checks passed" in done.stdout


def test_the_smoke_test_fails_naming_what_is_wrong():
    answers = {**HEALTHY, "/health/services": (200, {"status": "degraded",
                                                      "services": {"users": "ok", "payments": "timeout"}}),
               "/ready": (503, {"status": "unavailable"})}
    server = _gateway(answers)
    try:
        done = _smoke(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert done.returncode == 1
    assert "/ready: HTTP 503" in done.stderr and "'payments': 'timeout'" in done.stderr
