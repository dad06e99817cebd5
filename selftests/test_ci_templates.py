"""What a CI pipeline and an editor read: the GitHub Actions and GitLab CI templates pass the official schemas
(check-jsonschema's built-in vendor schemas, offline), the JSON Schemas of our YAML files are up to date with
the models that validate them, and every YAML file we ship names its schema and passes it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import REPO

CHECK = [sys.executable, "-m", "check_jsonschema"]
TEMPLATES = [(REPO / "ci" / "github" / "wavegate-rollout.yml", "vendor.github-workflows"),
             (REPO / "ci" / "github" / "wavegate-stage.yml", "vendor.github-workflows"),
             (REPO / "ci" / "gitlab" / "wavegate-rollout.gitlab-ci.yml", "vendor.gitlab-ci")]
SCHEMAS = REPO / "wavegate" / "schemas"
SHIPPED_YAML = {**dict.fromkeys((REPO / "environments").glob("*.yaml"), "environment"),
                REPO / "criteria" / "wave1.yaml": "criteria", REPO / "criteria" / "contract.yaml": "contract"}


def _check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHECK, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("template", "schema"), TEMPLATES, ids=[t.name for t, _ in TEMPLATES])
def test_the_ci_template_passes_its_vendor_schema(template: Path, schema: str) -> None:
    done = _check("--builtin-schema", schema, str(template))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("template", "schema"), TEMPLATES, ids=[t.name for t, _ in TEMPLATES])
def test_a_broken_template_fails_the_same_check(template: Path, schema: str, tmp_path: Path) -> None:
    broken = tmp_path / template.name
    text = template.read_text(encoding="utf-8")
    # A misspelled job key.
    old, new = ("runs-on:", "runs_on:") if "runs-on:" in text else ("extends:", "extend:")
    assert old in text
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")

    done = _check("--builtin-schema", schema, str(broken))
    assert done.returncode != 0, done.stdout


def test_the_shipped_json_schemas_are_up_to_date_with_the_models() -> None:
    done = subprocess.run([sys.executable, "-m", "wavegate", "schemas", "--check"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path", sorted(SHIPPED_YAML), ids=lambda p: p.name)
def test_each_shipped_yaml_names_its_schema_and_passes_it(path: Path) -> None:
    schema = SCHEMAS / f"{SHIPPED_YAML[path]}.schema.json"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=../wavegate/schemas/{schema.name}", first
    assert (path.parent / first.split("=", 1)[1]).resolve() == schema

    done = _check("--schemafile", str(schema), str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_environment_file_with_a_misspelled_key_fails_its_schema(tmp_path: Path) -> None:
    text = (REPO / "environments" / "prod.yaml").read_text(encoding="utf-8").replace("scrape_interval:",
                                                                                     "scrape_intervall:", 1)
    broken = tmp_path / "env.yaml"
    broken.write_text(text, encoding="utf-8")

    done = _check("--schemafile", str(SCHEMAS / "environment.schema.json"), str(broken))
    assert done.returncode != 0
    assert "scrape_intervall" in done.stdout + done.stderr


@pytest.mark.parametrize("path", [REPO / "ci" / "github" / "wavegate-stage.yml",
                                  REPO / "ci" / "gitlab" / "wavegate-rollout.gitlab-ci.yml"], ids=lambda p: p.name)
def test_each_stage_judges_the_canary_against_the_stable_track_until_the_intervals_decide(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "python -m wavegate watch" in text
    assert "--comparison=" in text
    assert "--stage=" in text
    assert "--since=" in text
