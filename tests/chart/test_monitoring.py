"""Alerts and dashboard: the PrometheusRule passes `promtool check rules`, every alert fires (and
stays quiet) as its unit test in alerts.test.yaml says, every alert has a runbook section, and the
alerts and the dashboard query only metrics of the contract in metric_names.py, documented in
docs/runbooks.md."""

import json
import pathlib
import re
import shutil
import subprocess

import promql_parser
import pytest
import yaml

from conftest import CHART, MONITORING, ROOT, of_kind, only, promtool, render
from metric_names import METRICS, labels_of

HERE = pathlib.Path(__file__).parent
RUNBOOKS = (ROOT / "docs" / "runbooks.md").read_text()
DASHBOARD = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
# Grafana's variables, replaced by values a query may have at run time.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d",
                     "$namespace": "registry-gc", "$job": "registry-gc", "$time_budget": "1800"}


def rules(chart, values=None):
    rule = only(render(chart, {**MONITORING, **(values or {})}), "PrometheusRule")
    return rule


def alerts(chart, values=None):
    return [r for g in rules(chart, values)["spec"]["groups"] for r in g["rules"] if "alert" in r]


def write_rules(path, rule, keep_annotations=True):
    groups = json.loads(json.dumps(rule["spec"]["groups"]))
    if not keep_annotations:
        for group in groups:
            for r in group["rules"]:
                r.pop("annotations", None)
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))


def run(*args, cwd=None):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_promtool_checks_the_rules(chart, tmp_path):
    write_rules(tmp_path / "rules.yaml", rules(chart))
    out = run(promtool(), "check", "rules", tmp_path / "rules.yaml")
    assert f"SUCCESS: {len(alerts(chart))} rules found" in out


def test_promtool_checks_the_rules_with_other_values(chart, tmp_path):
    values = {"prometheusRule": {"enabled": True, "scheduleIntervalSeconds": 900,
                                 "selector": 'job="gc", cluster="eu"', "runbookBaseUrl": "https://docs.example.com/runbooks"}}
    write_rules(tmp_path / "rules.yaml", rules(chart, values))
    run(promtool(), "check", "rules", tmp_path / "rules.yaml")
    for alert in alerts(chart, values):
        assert 'job="gc", cluster="eu"' in alert["expr"]
        assert alert["annotations"]["runbook_url"].startswith("https://docs.example.com/runbooks#")


def test_each_alert_behaves_as_its_unit_test_says(chart, tmp_path):
    plain = only(render(chart, {"prometheusRule": {"enabled": True}}), "PrometheusRule")
    write_rules(tmp_path / "rules.yaml", plain, keep_annotations=False)
    shutil.copy(HERE / "alerts.test.yaml", tmp_path)
    out = run(promtool(), "test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert "SUCCESS" in out


def test_every_alert_has_a_unit_test(chart):
    tested = {t["alertname"] for case in yaml.safe_load((HERE / "alerts.test.yaml").read_text())["tests"]
              for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert {a["alert"] for a in alerts(chart)} == tested


def test_no_successful_run_alert_follows_the_schedule(chart):
    names = {a["alert"]: a for a in alerts(chart, {"prometheusRule": {"enabled": True, "scheduleIntervalSeconds": 0}})}
    assert "RegistryGcNoSuccessfulRun" not in names
    assert "[5400s]" in names["RegistryGcLastRunFailed"]["expr"], "an hour and a half without a schedule"
    expr = {a["alert"]: a for a in alerts(chart)}["RegistryGcNoSuccessfulRun"]["expr"]
    assert "> 7200" in expr


def test_every_alert_has_severity_summary_description_and_a_runbook_section(chart):
    headings = {re.sub(r"[^a-z0-9-]", "", h.strip().lower().replace(" ", "-"))
                for h in re.findall(r"^## (.+)$", RUNBOOKS, re.M)}
    for alert in alerts(chart):
        assert alert["labels"]["severity"] in ("critical", "warning")
        assert alert["labels"]["team"] == "platform", "additionalLabels reach every alert"
        assert alert["annotations"]["summary"] and alert["annotations"]["description"]
        url = alert["annotations"]["runbook_url"]
        assert url == f"docs/runbooks.md#{alert['alert'].lower()}"
        assert url.split("#")[1] in headings, f"docs/runbooks.md has no section ## {alert['alert']}"
        section = RUNBOOKS.split(f"## {alert['alert']}\n")[1].split("\n## ")[0]
        for part in ("Meaning", "Check", "Fix"):
            assert f"**{part}.**" in section, f"runbook of {alert['alert']} lacks {part}"


def selectors(expr):
    """(metric name, matcher label names) of every series an expression reads."""
    found = []

    def walk(node):
        if node is None:
            return
        if type(node).__name__ == "VectorSelector":
            names = {m.name for m in node.matchers.matchers} if node.matchers else set()
            found.append((node.name, names))
            return
        for attr in ("expr", "lhs", "rhs", "param", "vector_selector"):
            walk(getattr(node, attr, None))
        for arg in getattr(node, "args", None) or []:
            walk(arg)
    walk(promql_parser.parse(expr))
    return found


def check_queries(exprs, where):
    used = set()
    for expr in exprs:
        found = selectors(expr)
        for name, labels in found:
            allowed = labels_of(name)
            assert allowed is not None, f"{where} queries {name}, which is not in metric_names.py: {expr}"
            assert labels <= allowed, f"{where}: {name} has no label {labels - allowed}"
            used.add(re.sub(r"_(bucket|sum|count)$", "", name) if name not in METRICS else name)
    return used


def test_alerts_query_only_known_metrics(chart):
    used = check_queries([a["expr"] for a in alerts(chart)], "an alert")
    assert "registry_gc_gc_last_success_timestamp_seconds" in used


def dashboard_exprs():
    exprs = []
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(var, value)
            assert "$" not in expr, f"unknown Grafana variable in {target['expr']}"
            exprs.append(expr)
    return exprs


def test_dashboard_is_grafana_json_with_a_datasource_variable():
    assert DASHBOARD["uid"] == "registry-gc" and DASHBOARD["title"]
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in DASHBOARD["panels"]:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_dashboard_queries_only_known_metrics_and_parse(tmp_path):
    used = check_queries(dashboard_exprs(), "the dashboard")
    # The panels: runs, duration, removed, kept, bytes, refusals, webhooks, registry client, DB, HTTP.
    for name in ("registry_gc_gc_runs_total", "registry_gc_gc_last_duration_seconds", "registry_gc_gc_tags_removed_total",
                 "registry_gc_gc_tags_kept", "registry_gc_gc_last_bytes_unreferenced", "registry_gc_gc_refusals_total",
                 "registry_gc_webhook_deliveries_total", "registry_gc_registry_requests_total",
                 "registry_gc_registry_request_duration_seconds", "registry_gc_registry_retries_total",
                 "registry_gc_database_up", "registry_gc_http_requests_total"):
        assert name in used, f"the dashboard shows no {name}"
    # promtool is the reference parser: every query as a recording rule must pass its check.
    records = [{"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(dashboard_exprs())]
    (tmp_path / "dashboard.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    run(promtool(), "check", "rules", tmp_path / "dashboard.yaml")


def test_dashboard_configmap_carries_the_file_for_the_sidecar(chart):
    objects = render(chart, MONITORING)
    [cm] = [c for c in of_kind(objects, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["annotations"] == {"grafana_folder": "registry-gc"}
    assert json.loads(cm["data"]["registry-gc.json"]) == DASHBOARD
    elsewhere = render(chart, {**MONITORING, "grafanaDashboard": {"enabled": True, "namespace": "monitoring"}})
    assert [c for c in of_kind(elsewhere, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")][0][
        "metadata"]["namespace"] == "monitoring"


def test_monitoring_objects_are_optional(chart):
    kinds = {o["kind"] for o in render(chart)}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert not [c for c in of_kind(render(chart), "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]


def test_runbooks_document_every_metric_in_the_contract():
    table = RUNBOOKS[RUNBOOKS.index("## Metrics"):]
    for name, (labels, kind, exists) in METRICS.items():
        row = next((line for line in table.splitlines()
                    if line.startswith("|") and f"`{name}`" in line.split("|")[1]), None)
        assert row, f"docs/runbooks.md's metrics table has no row for {name}"
        for label in labels:
            assert label in row, f"{name}'s row does not name its label {label}"
        if not exists:
            assert "planned" in row, f"{name} is not exported yet: its row must say planned"
