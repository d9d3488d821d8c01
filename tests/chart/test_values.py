"""values.yaml, values.schema.json and the templates agree: every .Values path a template reads has
a default, every default is allowed by the schema, and the schema rejects misspelt values, both as
jsonschema reads it and as Helm itself does at install."""

import json
import re

import helm_python as helm
import jsonschema
import pytest
import yaml

from conftest import CHART, IMAGE, RELEASE, VALUE_SETS, merge

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())
VALUES_PATH = re.compile(r"\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def template_paths():
    for template in sorted((CHART / "templates").iterdir()):
        for match in VALUES_PATH.finditer(template.read_text()):
            yield template.name, match.group(1)[1:].split(".")


def test_templates_read_values_through_dot_values_paths():
    assert len(list(template_paths())) > 50


@pytest.mark.parametrize("template, path", [(t, ".".join(p)) for t, p in template_paths()])
def test_every_values_path_a_template_uses_has_a_default(template, path):
    node = DEFAULTS
    for part in path.split("."):
        assert isinstance(node, dict) and part in node, f"{template}: .Values.{path} is not in values.yaml"
        node = node[part]


def test_values_yaml_is_valid_for_the_schema():
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    jsonschema.validate(DEFAULTS, SCHEMA)


def test_every_default_key_is_in_the_schema():
    def walk(values, schema, where):
        for key, value in values.items():
            assert key in schema.get("properties", {}), f"{where}{key} has no schema"
            sub = schema["properties"][key]
            if isinstance(value, dict) and sub.get("additionalProperties") is False:
                walk(value, sub, f"{where}{key}.")
    walk(DEFAULTS, SCHEMA, "")


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_value_sets_are_valid_for_the_schema(name):
    jsonschema.validate(merge(DEFAULTS, IMAGE, VALUE_SETS[name]), SCHEMA)


MISTAKES = [
    ({"replicaCont": 2}, "replicaCont"),
    ({"image": {"tagg": "0.1.0"}}, "tagg"),
    ({"prometheusRule": {"enable": True}}, "enable"),
    ({"clusterProtection": {"namespace": ["shop"]}}, "namespace"),
    ({"adminToken": {"existingSecretKey": "token"}}, "existingSecretKey"),
    ({"ingress": {"hosts": ["a.example.com"]}}, "hosts"),
    ({"database": {"type": "mysql"}}, "mysql"),
    ({"replicaCount": "3"}, "replicaCount"),
    ({"logFormat": "text"}, "text"),
    ({"clusterProtection": {"kubeconfigs": {"keys": ["../etc/passwd"]}}}, "keys"),
]


@pytest.mark.parametrize("values, word", MISTAKES)
def test_schema_rejects_misspelt_and_wrong_values(values, word):
    with pytest.raises(jsonschema.ValidationError) as err:
        jsonschema.validate(merge(DEFAULTS, IMAGE, values), SCHEMA)
    assert word in str(err.value)


@pytest.mark.parametrize("values, word", MISTAKES)
def test_helm_rejects_them_before_rendering(chart, values, word):
    with pytest.raises(helm.HelmValuesError) as err:
        chart.render(merge(IMAGE, values), name=RELEASE)
    assert word in str(err.value) or "schema" in str(err.value).lower()


def readme_values():
    text = (CHART.parents[1] / "README.md").read_text()
    section = text[text.index("### Values"):]
    return section


def test_every_value_is_documented_in_deploy_readme():
    section = readme_values()

    def walk(values, schema, prefix):
        for key, value in values.items():
            sub = schema["properties"][key]
            if isinstance(value, dict) and value and sub.get("additionalProperties") is False:
                walk(value, sub, f"{prefix}{key}.")
            else:
                assert f"`{prefix}{key}`" in section or (prefix and f", `.{key}`" in section), \
                    f"{prefix}{key} is not in deploy/README.md's Values table"
    walk(DEFAULTS, SCHEMA, "")
