"""The Kubernetes manifests (deploy/k8s/) are valid for their kinds, run each service highly
available with probes on its internal port, and take every secret from a Secret object."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from devtools.envfile import documented_names
from shared.config import BrokerUsers

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
K8S_VERSION = "1.30.0"
PUBLIC_PORTS = {"auth": 8081, "sync": 8082, "notifier": 8083}
SECRET_NAMES = re.compile(r"SECRET|TOKEN|PASSWORD|USERNAME|KEYS|DATABASE_URL|AMQP_URL")


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        found += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return found


def of_kind(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for _file, doc in documents() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def container(service: str) -> dict[str, Any]:
    containers = of_kind("Deployment", f"calsync-{service}")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@pytest.mark.parametrize(("file", "doc"), documents(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_every_manifest_validates_against_the_schema_of_its_kind(file: str, doc: dict[str, Any]) -> None:
    """Each document is a valid object of its kind (strict: no unknown fields), checked offline."""
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{file}: {doc['kind']} {doc['metadata']['name']}: {exc.message} at {list(exc.path)}")


@pytest.mark.parametrize("service", PUBLIC_PORTS)
def test_each_service_runs_two_or_more_pods_probed_on_its_internal_port(service: str) -> None:
    """2+ replicas; readiness on /readyz and liveness on /healthz of public port + 1000; resources set."""
    deployment = of_kind("Deployment", f"calsync-{service}")
    assert deployment["spec"]["replicas"] >= 2
    box = container(service)
    ports = {port["name"]: port["containerPort"] for port in box["ports"]}
    assert ports == {"http": PUBLIC_PORTS[service], "internal": PUBLIC_PORTS[service] + 1000}
    assert box["args"] == [f"services.{service}"]
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert box[probe]["httpGet"] == {"path": path, "port": "internal"}
    env = {item["name"]: item.get("value") for item in box["env"]}
    assert env["HTTP_PORT"] == str(ports["http"]) and env["INTERNAL_PORT"] == str(ports["internal"])
    assert set(box["resources"]["requests"]) >= {"cpu", "memory"}
    assert set(box["resources"]["limits"]) >= {"cpu", "memory"}


@pytest.mark.parametrize("service", PUBLIC_PORTS)
def test_each_service_has_a_public_service_a_disruption_budget_and_an_autoscaler(service: str) -> None:
    """The Service targets the pods on the public port only; the PDB and HPA cover the same pods."""
    name = f"calsync-{service}"
    labels = of_kind("Deployment", name)["spec"]["template"]["metadata"]["labels"]
    selected = of_kind("Deployment", name)["spec"]["selector"]["matchLabels"]
    assert selected.items() <= labels.items()
    svc = of_kind("Service", name)
    assert svc["spec"]["selector"].items() <= labels.items()
    assert [port["port"] for port in svc["spec"]["ports"]] == [PUBLIC_PORTS[service]]
    assert of_kind("PodDisruptionBudget", name)["spec"]["selector"]["matchLabels"] == selected
    hpa = of_kind("HorizontalPodAutoscaler", name)["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    assert hpa["minReplicas"] >= 2 and hpa["maxReplicas"] > hpa["minReplicas"]


@pytest.mark.parametrize("service", PUBLIC_PORTS)
def test_secrets_come_only_from_secret_objects(service: str) -> None:
    """Every secret-looking variable is a secretKeyRef; the ConfigMap and no manifest hold one;
    each service's AMQP_URL is its own Secret (its own broker user)."""
    box = container(service)
    for item in box["env"]:
        if SECRET_NAMES.search(item["name"]):
            assert "value" not in item and "secretKeyRef" in item["valueFrom"], item["name"]
    refs = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in box["env"] if "valueFrom" in item}
    assert refs["AMQP_URL"] == {"name": f"calsync-{service}", "key": "AMQP_URL"}
    assert {"DATABASE_URL", "SERVICE_TOKEN"} <= set(refs)
    config = of_kind("ConfigMap", "calsync-config")["data"]
    assert not [key for key in config if SECRET_NAMES.search(key)]
    assert not [doc for _file, doc in documents() if doc["kind"] == "Secret"]


def test_broker_users_are_the_documented_per_service_users() -> None:
    """The ConfigMap names calsync-auth, calsync-sync and calsync-notifier, as docs/security.md and
    deploy/broker-permissions.tsv do, and turns on publisher verification."""
    config = of_kind("ConfigMap", "calsync-config")["data"]
    defaults = BrokerUsers()
    assert config["AMQP_USER_AUTH"] == defaults.auth == "calsync-auth"
    assert config["AMQP_USER_SYNC"] == defaults.sync == "calsync-sync"
    assert config["AMQP_USER_NOTIFIER"] == defaults.notifier == "calsync-notifier"
    assert config["AMQP_VERIFY_PUBLISHERS"] == "true"
    security = (DEPLOY.parent / "docs" / "security.md").read_text(encoding="utf-8")
    assert all(f"`{user}`" in security for user in ("calsync-auth", "calsync-sync", "calsync-notifier"))


def test_every_variable_in_the_manifests_is_documented_in_env_example() -> None:
    """ConfigMap keys and container variables all appear in deploy/env.example."""
    documented = documented_names((DEPLOY / "env.example").read_text(encoding="utf-8"))
    used = set(of_kind("ConfigMap", "calsync-config")["data"])
    for service in PUBLIC_PORTS:
        used |= {item["name"] for item in container(service)["env"]}
    assert not sorted(used - documented)
