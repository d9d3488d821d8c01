"""The deployment docs show values, configuration and CI files that work: every YAML and TOML block
parses, the values examples pass values.schema.json and render, and the CI snippet pushes exactly
the tags docs/gitlab-setup.md's image rules expect."""

import json
import re
import tomllib

import jsonschema
import pytest
import yaml

from conftest import CHART, ROOT, config_text, merge, render

DOCS = [ROOT / "deploy" / "README.md", ROOT / "docs" / "gitlab-setup.md", ROOT / "docs" / "runbooks.md"]
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())


def blocks(lang):
    for doc in DOCS:
        for text in re.findall(rf"```{lang}\n(.*?)```", doc.read_text(), re.S):
            yield doc.name, text


def test_toml_blocks_parse():
    found = list(blocks("toml"))
    assert len(found) >= 4
    for name, text in found:
        tomllib.loads(text)


def test_yaml_blocks_parse():
    found = list(blocks("yaml"))
    assert len(found) >= 3
    for name, text in found:
        yaml.safe_load(text)


def values_examples():
    return [yaml.safe_load(t) for _, t in blocks("yaml") if "gitlab-ci" not in t and "stage:" not in t]


@pytest.mark.parametrize("index", range(2))
def test_readme_values_examples_pass_the_schema_and_render(chart, index):
    values = values_examples()[index]
    jsonschema.validate(merge(DEFAULTS, values), SCHEMA)
    objects = render(chart, values)
    if "config" in values:
        assert tomllib.loads(config_text(objects))["projects"][0]["path"] == "group/app"


def test_ci_snippet_pushes_what_the_image_rules_expect():
    setup = (ROOT / "docs" / "gitlab-setup.md").read_text()
    rules = tomllib.loads(re.findall(r"```toml\n(.*?)```", setup, re.S)[1])["projects"][0]["images"]
    expected = {rule["image"] for rule in rules}
    ci = yaml.safe_load(re.findall(r"```yaml\n(.*?)```", setup, re.S)[0])
    pushed = {re.fullmatch(r'docker push "(.+)"', line).group(1)
              for job in ci.values() for line in job["script"] if line.startswith("docker push")}
    assert pushed == expected
    release = ci["release"]["rules"][0]["if"]
    assert release == "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
    assert all(r.get("refs") == ["^$CI_DEFAULT_BRANCH$"] for r in rules if r["kind"].startswith("prod"))
