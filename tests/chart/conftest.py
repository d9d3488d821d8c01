"""Shared helpers for the chart tests: the chart rendered by Helm's own engine (helm-python-sdk,
Helm v4's Go SDK in a library), and the value sets every structural test runs over."""

import copy
import os
import pathlib

import helm_python as helm
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "registry-gc"
RELEASE = "registry-gc"
NAMESPACE = "registry-gc"
IMAGE = {"image": {"repository": "registry.example.com/ops/registry-gc"}}

# A configuration with a project, as deploy/README.md shows it: tokens only as { env = "VAR" }.
PROJECT_CONFIG = """\
[gc]
dry_run = true
schedule = "0 0 * * * *"

[[registries]]
url = "https://registry.example.com"
username = "registry-gc"
password = { env = "RGC_REGISTRY_PASSWORD" }

[[projects]]
path = "group/app"
webhook_tokens = [{ env = "RGC_WEBHOOK_TOKEN_GROUP_APP" }]
registry = "registry.example.com"

[[projects.images]]
name = "ci-commit"
kind = "ci-commit"
image = "$CI_REGISTRY_IMAGE/app-ci:$CI_COMMIT_SHA"
"""

POSTGRES = {
    "database": {"type": "postgres", "postgres": {"urlSecretName": "registry-gc-db-app", "urlSecretKey": "uri"}},
    "replicaCount": 3,
}
INGRESS = {"ingress": {"enabled": True, "host": "registry-gc.example.com", "className": "nginx",
                       "tlsSecretName": "registry-gc-tls",
                       "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}}}
MONITORING = {
    "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"},
                       "additionalLabels": {"team": "platform"}},
    "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "registry-gc"}},
}
NETWORK_POLICY = {"networkPolicy": {
    "enabled": True,
    "ingressFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}],
    "egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
               {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "TCP"}]}],
}}
CLUSTER_WIDE = {"clusterProtection": {"enabled": True, "kubeconfigs": {
    "secretName": "registry-gc-kubeconfigs", "keys": ["prod-eu.yaml", "prod-us.yaml"]}}}
CLUSTER_NAMESPACES = {"clusterProtection": {"enabled": True, "namespaces": ["shop", "review-apps"]}}
EXISTING_SECRETS = {
    "config": PROJECT_CONFIG,
    "secret": {"existingSecret": "registry-gc-tokens"},
    "adminToken": {"existingSecret": "registry-gc-admin", "secretKey": "token"},
    "persistence": {"existingClaim": "registry-gc-data"},
}


def merge(*layers):
    """Deep-merges value layers, later ones winning (as helm's -f files do)."""
    out = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


VALUE_SETS = {
    "sqlite-default": {},
    "sqlite-project-chart-secret": {"config": PROJECT_CONFIG, "secret": {"env": {
        "RGC_WEBHOOK_TOKEN_GROUP_APP": "t0ken", "RGC_REGISTRY_PASSWORD": "pw"}}},
    "sqlite-emptydir": {"persistence": {"enabled": False}},
    "postgres-3-replicas": POSTGRES,
    "existing-secrets": EXISTING_SECRETS,
    "ingress": INGRESS,
    "monitoring": MONITORING,
    "network-policy": NETWORK_POLICY,
    "cluster-protection-clusterrole": CLUSTER_WIDE,
    "cluster-protection-namespaces": CLUSTER_NAMESPACES,
    "everything-postgres": merge(POSTGRES, EXISTING_SECRETS, INGRESS, MONITORING, NETWORK_POLICY, CLUSTER_WIDE),
}


@pytest.fixture(scope="session")
def chart():
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def render_files(chart, values=None, name=RELEASE, namespace=NAMESPACE):
    """Template path -> rendered text, as `helm template` would print it."""
    return chart.render(merge(IMAGE, values or {}), name=name, namespace=namespace)


def render(chart, values=None, **kw):
    """Every rendered Kubernetes object (NOTES.txt left out)."""
    objects = []
    for path, text in sorted(render_files(chart, values, **kw).items()):
        if path.endswith("NOTES.txt"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def render_error(chart, values):
    """The message Helm fails with; the test fails if it renders."""
    with pytest.raises((helm.HelmRenderError, helm.HelmValuesError)) as err:
        render_files(chart, values)
    return str(err.value)


def only(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def of_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def deployment(objects):
    return only(objects, "Deployment")


def container(objects):
    containers = deployment(objects)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env(objects):
    return {e["name"]: e for e in container(objects).get("env", [])}


def config_text(objects):
    return only(objects, "ConfigMap", RELEASE)["data"]["registry-gc.toml"]


def promtool():
    path = os.environ.get("PROMTOOL", "")
    assert path and os.access(path, os.X_OK), "PROMTOOL must name promtool (scripts/test-chart.sh installs it)"
    return path
