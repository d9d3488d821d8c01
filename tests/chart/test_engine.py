"""The renderer is Helm's own template engine, not a look-alike: a probe chart exercising what this
chart relies on renders exactly as `helm template` does (named templates, include, tpl, toYaml,
required, fail, .Capabilities, .Files, lookup offline, schema validation)."""

import helm_python as helm
import pytest
import yaml


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("charts") / "probe"
    (root / "templates").mkdir(parents=True)
    (root / "files").mkdir()
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 1.2.3\nappVersion: \"4.5\"\n")
    (root / "values.yaml").write_text('nested: {list: [1, two]}\ngreeting: "hi {{ .Release.Name }}"\nneed: ""\nboom: false\n')
    (root / "values.schema.json").write_text('{"type": "object", "additionalProperties": false, "properties": '
                                             '{"nested": {}, "greeting": {}, "need": {}, "boom": {"type": "boolean"}}}')
    (root / "files" / "data.txt").write_text("file {{ not templated }}\n")
    (root / "templates" / "_helpers.tpl").write_text('{{- define "probe.name" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end }}\n')
    (root / "templates" / "cm.yaml").write_text("""\
{{- if .Values.boom }}{{ fail "boom was set" }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "probe.name" . }}
  namespace: {{ .Release.Namespace }}
data:
  tpl: {{ tpl .Values.greeting . | quote }}
  yaml: |
    {{- toYaml .Values.nested | nindent 4 }}
  required: {{ required "need is required" .Values.need | quote }}
  kubeMajor: {{ .Capabilities.KubeVersion.Major | quote }}
  hasV1: {{ .Capabilities.APIVersions.Has "v1" | quote }}
  hasMonitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}
  helm: {{ .Capabilities.HelmVersion.Version | quote }}
  file: {{ .Files.Get "files/data.txt" | quote }}
  lookup: {{ lookup "v1" "Secret" .Release.Namespace "any" | toJson | quote }}
  sum: {{ "abc" | sha256sum | quote }}
  install: {{ .Release.IsInstall | quote }}
""")
    with helm.Chart.load(root) as chart:
        yield chart


def test_probe_renders_as_helm_does(probe):
    out = probe.render({"need": "yes"}, name="rel", namespace="ns")
    doc = yaml.safe_load(out["probe/templates/cm.yaml"])
    assert doc["metadata"] == {"name": "rel-probe", "namespace": "ns"}
    data = doc["data"]
    assert data["tpl"] == "hi rel"
    assert data["yaml"] == "list:\n- 1\n- two\n"
    assert data["required"] == "yes"
    assert data["kubeMajor"] == "1"
    assert data["hasV1"] == "true"
    assert data["hasMonitoring"] == "false", "like helm template without --api-versions"
    assert data["helm"].startswith("v4.")
    assert data["file"] == "file {{ not templated }}\n"
    assert data["lookup"] == "{}", "offline, lookup finds nothing (as in helm template)"
    assert data["sum"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert data["install"] == "true"


def test_required_and_fail_stop_the_render(probe):
    with pytest.raises(helm.HelmRenderError, match="need is required"):
        probe.render({}, name="rel")
    with pytest.raises(helm.HelmRenderError, match="boom was set"):
        probe.render({"need": "y", "boom": True}, name="rel")


def test_values_schema_is_enforced(probe):
    with pytest.raises(helm.HelmValuesError, match="nope"):
        probe.render({"need": "y", "nope": 1}, name="rel")
    with pytest.raises(helm.HelmValuesError):
        probe.render({"need": "y", "boom": "yes"}, name="rel")
