"""The chart rendered for each value set: every object valid for Kubernetes, pods locked down,
and the chart's own rules (SQLite, replicas, checksums, admin token, cluster protection, ingress)."""

import base64
import json
import pathlib
import tomllib

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest

from conftest import (CHART, CLUSTER_NAMESPACES, CLUSTER_WIDE, IMAGE, NAMESPACE, POSTGRES, RELEASE,
                      VALUE_SETS, config_text, container, deployment, env, merge, of_kind, only, render,
                      render_error, render_files)

# The oldest Kubernetes the chart supports (policy/v1, batch/v1 CronJob, networking.k8s.io/v1)
# and the newest kubernetes-validate knows.
KUBE_VERSIONS = ["1.25.0", kubernetes_validate.latest_version()]
CRDS = json.loads((pathlib.Path(__file__).parent / "schemas" / "monitoring.coreos.com_v1.json").read_text())
READ_VERBS = ["get", "list", "watch"]
# Issue 8: exactly what cluster protection reads.
PROTECTION_RULES = {
    ("", "pods"), ("", "replicationcontrollers"),
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"),
    ("batch", "jobs"), ("batch", "cronjobs"),
}


def granted(rules):
    """(apiGroup, resource) pairs of RBAC rules, each checked to be read-only."""
    pairs = set()
    for rule in rules:
        assert sorted(rule["verbs"]) == sorted(READ_VERBS), rule
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        pairs |= {(g, r) for g in rule["apiGroups"] for r in rule["resources"]}
    return pairs


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_every_object_is_valid_for_kubernetes(chart, name):
    objects = render(chart, VALUE_SETS[name])
    assert objects
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            jsonschema.validate(obj, CRDS[obj["kind"]])
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                pytest.fail(f"{where} is not valid for Kubernetes {version}: {e.message} at {list(e.path)}")
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding") and obj["metadata"].get("namespace") is None:
            pytest.fail(f"{where} has no namespace")


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_pods_are_locked_down(chart, name):
    objects = render(chart, VALUE_SETS[name])
    pod = deployment(objects)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True, c["name"]
        assert sc["allowPrivilegeEscalation"] is False, c["name"]
        assert sc["runAsNonRoot"] is True, c["name"]
        assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, c["name"]
        assert not sc.get("privileged"), c["name"]
    assert not pod.get("hostNetwork") and not pod.get("hostPID")


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_rendered_config_is_toml_with_secrets_only_by_reference(chart, name):
    objects = render(chart, VALUE_SETS[name])
    config = tomllib.loads(config_text(objects))
    assert "admin_token" not in config.get("server", {}), "the chart sets it through the environment"
    for project in config.get("projects", []):
        for token in project.get("webhook_tokens", []):
            assert isinstance(token, dict) and set(token) == {"env"}, "a ConfigMap holds no secret"


def test_sqlite_runs_one_replica_with_recreate(chart):
    objects = render(chart)
    spec = deployment(objects)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert env(objects)["REGISTRY_GC__DATABASE__URL"]["value"] == "sqlite:///var/lib/registry-gc/registry-gc.db"
    claim = only(objects, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert not of_kind(objects, "PodDisruptionBudget")


@pytest.mark.parametrize("replicas", [2, 3])
def test_sqlite_refuses_more_than_one_replica(chart, replicas):
    message = render_error(chart, {"replicaCount": replicas})
    assert f"replicaCount={replicas} needs database.type=postgres" in message


def test_postgres_rolls_and_keeps_a_disruption_budget(chart):
    objects = render(chart, POSTGRES)
    spec = deployment(objects)["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    url = env(objects)["REGISTRY_GC__DATABASE__URL"]["valueFrom"]["secretKeyRef"]
    assert url == {"name": "registry-gc-db-app", "key": "uri"}
    assert not of_kind(objects, "PersistentVolumeClaim")
    pdb = only(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]


def test_no_disruption_budget_for_one_replica(chart):
    assert not of_kind(render(chart, merge(POSTGRES, {"replicaCount": 1})), "PodDisruptionBudget")


def test_postgres_needs_the_url_in_a_secret(chart):
    message = render_error(chart, {"database": {"type": "postgres"}})
    assert "needs the database URL in a Secret" in message


def checksum(objects):
    return deployment(objects)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_config_checksum_changes_with_the_config_and_only_then(chart):
    base = checksum(render(chart))
    assert base == checksum(render(chart)), "same values, same checksum"
    assert base == checksum(render(chart, {"ingress": VALUE_SETS["ingress"]["ingress"]}))
    assert base != checksum(render(chart, {"config": "[gc]\ndry_run = false\n"}))
    cluster = checksum(render(chart, CLUSTER_WIDE))
    assert base != cluster
    assert cluster != checksum(render(chart, CLUSTER_NAMESPACES)), "the [cluster] table is part of the config"


def test_chart_made_secret_has_its_own_checksum(chart):
    values = {"secret": {"env": {"RGC_WEBHOOK_TOKEN_GROUP_APP": "a"}}}
    one = deployment(render(chart, values))["spec"]["template"]["metadata"]["annotations"]
    two = deployment(render(chart, merge(values, {"secret": {"env": {"RGC_WEBHOOK_TOKEN_GROUP_APP": "b"}}})))
    assert one["checksum/secret"] != two["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
    assert one["checksum/config"] == two["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_admin_token_is_generated_when_none_is_given(chart):
    objects = render(chart)
    secret = only(objects, "Secret", f"{RELEASE}-admin-token")
    token = base64.b64decode(secret["data"]["admin-token"]).decode()
    assert len(token) == 48 and token.isalnum()
    variables = env(objects)
    assert variables["RGC_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-admin-token", "key": "admin-token"}
    assert variables["REGISTRY_GC__SERVER__ADMIN_TOKEN"]["value"] == '{env="RGC_ADMIN_TOKEN"}'
    other = only(render(chart), "Secret", f"{RELEASE}-admin-token")
    assert other["data"] != secret["data"], "offline, every install gets a fresh random token"


def test_admin_token_from_an_existing_secret(chart):
    objects = render(chart, {"adminToken": {"existingSecret": "ops-admin", "secretKey": "token"}})
    assert not [s for s in of_kind(objects, "Secret") if s["metadata"]["name"].endswith("admin-token")]
    assert env(objects)["RGC_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "ops-admin", "key": "token"}
    assert env(objects)["REGISTRY_GC__SERVER__ADMIN_TOKEN"]["value"] == '{env="RGC_ADMIN_TOKEN"}'


@pytest.mark.parametrize("values, words", [
    ({"config": "[server]\nadmin_token = \"x\"\n"}, "config sets server.admin_token"),
    ({"secret": {"env": {"RGC_ADMIN_TOKEN": "x"}}}, "secret.env.RGC_ADMIN_TOKEN would be ignored"),
])
def test_admin_token_set_elsewhere_is_refused(chart, values, words):
    assert words in render_error(chart, values)


def test_commented_admin_token_is_not_a_setting(chart):
    render(chart, {"config": "[server]\n# admin_token = { env = \"X\" }\n"})


def test_no_cluster_access_by_default(chart):
    objects = render(chart)
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        assert not of_kind(objects, kind), kind
    assert deployment(objects)["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert only(objects, "ServiceAccount")["automountServiceAccountToken"] is False
    assert "REGISTRY_GC__GC__CLUSTER_PROTECTION" not in env(objects)
    assert "cluster" not in tomllib.loads(config_text(objects))


def test_cluster_protection_reads_every_namespace_through_a_cluster_role(chart):
    objects = render(chart, CLUSTER_WIDE)
    role = only(objects, "ClusterRole")
    assert granted(role["rules"]) == PROTECTION_RULES
    binding = only(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    assert role["metadata"]["name"] == f"{NAMESPACE}-{RELEASE}", "two releases of one name stay apart"
    assert not of_kind(objects, "Role") and not of_kind(objects, "RoleBinding")
    assert deployment(objects)["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
    assert env(objects)["REGISTRY_GC__GC__CLUSTER_PROTECTION"]["value"] == "kubernetes"
    cluster = tomllib.loads(config_text(objects))["cluster"]
    assert cluster["namespaces"] == []
    assert cluster["kubeconfigs"] == ["/etc/registry-gc-clusters/prod-eu.yaml", "/etc/registry-gc-clusters/prod-us.yaml"]


def test_kubeconfigs_are_mounted_from_their_secret(chart):
    objects = render(chart, CLUSTER_WIDE)
    pod = deployment(objects)["spec"]["template"]["spec"]
    volume = {v["name"]: v for v in pod["volumes"]}["kubeconfigs"]["secret"]
    assert volume["secretName"] == "registry-gc-kubeconfigs"
    assert volume["items"] == [{"key": "prod-eu.yaml", "path": "prod-eu.yaml"},
                               {"key": "prod-us.yaml", "path": "prod-us.yaml"}]
    mount = {m["name"]: m for m in container(objects)["volumeMounts"]}["kubeconfigs"]
    assert mount == {"name": "kubeconfigs", "mountPath": "/etc/registry-gc-clusters", "readOnly": True}


def test_cluster_protection_with_namespaces_uses_roles(chart):
    objects = render(chart, CLUSTER_NAMESPACES)
    assert not of_kind(objects, "ClusterRole") and not of_kind(objects, "ClusterRoleBinding")
    roles = of_kind(objects, "Role")
    bindings = of_kind(objects, "RoleBinding")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["review-apps", "shop"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["review-apps", "shop"]
    for role in roles:
        assert granted(role["rules"]) == PROTECTION_RULES
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]
    cluster = tomllib.loads(config_text(objects))["cluster"]
    assert cluster == {"namespaces": ["shop", "review-apps"], "kubeconfigs": []}
    assert "kubeconfigs" not in {v["name"] for v in deployment(objects)["spec"]["template"]["spec"]["volumes"]}


def test_cluster_protection_extra_rules_and_config(chart):
    extra = {"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": READ_VERBS}
    objects = render(chart, merge(CLUSTER_WIDE, {"clusterProtection": {
        "extraRules": [extra], "extraConfig": "staleness_secs = 600\n"}}))
    assert granted(only(objects, "ClusterRole")["rules"]) == PROTECTION_RULES | {("argoproj.io", "rollouts")}
    assert tomllib.loads(config_text(objects))["cluster"]["staleness_secs"] == 600


@pytest.mark.parametrize("values, words", [
    ({"config": "[gc]\ncluster_protection = \"none\"\n"}, "the chart sets gc.cluster_protection"),
    ({"config": "[cluster]\nnamespaces = []\n"}, "the chart writes the [cluster] table"),
    ({"clusterProtection": {"kubeconfigs": {"keys": ["a.yaml"]}}},
     "kubeconfigs.keys needs clusterProtection.kubeconfigs.secretName"),
])
def test_cluster_protection_conflicts_fail_clearly(chart, values, words):
    assert words in render_error(chart, merge({"clusterProtection": {"enabled": True}}, values))


def test_ingress_routes_only_the_webhook(chart):
    objects = render(chart, VALUE_SETS["ingress"])
    spec = only(objects, "Ingress")["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == [{"hosts": ["registry-gc.example.com"], "secretName": "registry-gc-tls"}]
    [rule] = spec["rules"]
    assert rule["host"] == "registry-gc.example.com"
    assert rule["http"]["paths"] == [{"path": "/webhooks/gitlab", "pathType": "Exact", "backend": {
        "service": {"name": RELEASE, "port": {"name": "http"}}}}]
    assert not of_kind(render(chart), "Ingress")


def test_ingress_needs_a_host(chart):
    assert "ingress.host is required" in render_error(chart, {"ingress": {"enabled": True}})


def test_network_policy_opens_only_the_http_port(chart):
    objects = render(chart, VALUE_SETS["network-policy"])
    spec = only(objects, "NetworkPolicy")["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    [rule] = spec["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert rule["from"] == VALUE_SETS["network-policy"]["networkPolicy"]["ingressFrom"]
    ports = {p["name"]: p["containerPort"] for p in container(objects)["ports"]}
    assert ports == {"http": 8080}


def test_one_port_everywhere(chart):
    objects = render(chart, merge(VALUE_SETS["monitoring"], {"service": {"port": 9000}}))
    assert container(objects)["ports"][0]["containerPort"] == 9000
    assert env(objects)["REGISTRY_GC__SERVER__LISTEN"]["value"] == "0.0.0.0:9000"
    assert only(objects, "Service")["spec"]["ports"][0]["port"] == 9000
    assert only(objects, "ServiceMonitor")["spec"]["endpoints"][0]["port"] == "http"


def test_image_repository_is_required(chart):
    with pytest.raises(Exception) as err:
        chart.render({}, name=RELEASE, namespace=NAMESPACE)
    assert "image.repository is required" in str(err.value)


def test_notes_tell_how_to_read_the_admin_token(chart):
    notes = render_files(chart)["registry-gc/templates/NOTES.txt"]
    assert f"secret {RELEASE}-admin-token" in notes


@pytest.mark.parametrize("name", ["sqlite-default", "everything-postgres", "cluster-protection-namespaces"])
def test_helm_lint_strict_finds_nothing_above_info(name):
    report = helm.lint(CHART, merge(IMAGE, VALUE_SETS[name]), strict=True, namespace=NAMESPACE)
    assert not report["errors"], report
    assert [m for m in report["messages"] if m["severity"] >= 2] == [], report["messages"]
