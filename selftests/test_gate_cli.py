"""The gate's command line as a release engineer meets it: exit codes, configuration errors that name
the file and the field, Prometheus down, and the four outputs. Each test runs the gate with pytester."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import REPO, GateRun, closed_port, environment_document, run_gate, write_environment
from worlds import LiveWorld

# Criteria that cannot be judged without Prometheus' history or targets (from the issue's rules).
PROMETHEUS_BACKED = {
    "integration.rollout_provenance",
    "memory.queue_bounded",
    "memory.bounded_usage",
    "timeout.compliance",
    "timeout.events_tracked",
    "timeout.no_hangs",
    "retry.success_rate",
    "retry.wasted_below_5pct",
    "retry.backoff_exponential",
    "availability.uptime",
    "availability.no_crashes",
    "availability.graceful_degradation",
    "coverage.required_metrics",
    "integration.targets_up",
    "integration.scrape_success",
    "quality.label_cardinality",
    "performance.latency_increase",
    "performance.throughput",
    "errors.rate_not_higher",
}
# Criteria judged from the components' /metrics alone.
ENDPOINT_ONLY = {
    "coverage.endpoints_exported",
    "coverage.required_labels",
    "quality.metric_types",
    "quality.exposition_format",
    "performance.endpoint_latency",
}


def valid_environment() -> dict[str, Any]:
    """A well-formed environment document (nothing listens on its ports; config errors come first)."""
    now = 1_795_000_000.0
    return environment_document(
        f"http://127.0.0.1:{closed_port()}",
        {c: f"http://127.0.0.1:{closed_port()}/metrics" for c in ("router", "gateway", "worker")},
        {"baseline": (now - 7200, now - 3600), "candidate": (now - 3600, now)},
    )


def run_with_environment(pytester: pytest.Pytester, text: str) -> tuple[GateRun, Path]:
    env_file = pytester.path / "broken-env.yaml"
    env_file.write_text(text, encoding="utf-8")
    return run_gate(pytester, env_file=env_file), env_file


def assert_usage_error(run: GateRun, *mentions: str) -> None:
    __tracebackhide__ = True
    assert run.ret == 4, f"exit {run.ret}, expected 4\n{run.tail()}"
    missing = [m for m in mentions if m not in run.output]
    assert not missing, f"output does not mention {missing}:\n{run.tail()}"


def test_an_environment_file_with_a_yaml_syntax_error_exits_4_naming_the_file(
    pytester: pytest.Pytester,
) -> None:
    run, env_file = run_with_environment(
        pytester, "prometheus:\n  url: [http://127.0.0.1:9090\ncomponents: {}\n"
    )
    assert_usage_error(run, str(env_file), "line")


def test_an_unknown_key_in_the_environment_file_exits_4_naming_file_and_field(
    pytester: pytest.Pytester,
) -> None:
    document = valid_environment()
    document["prometheus"]["scrape_intervall"] = "15s"
    run, env_file = run_with_environment(pytester, yaml.safe_dump(document))
    assert_usage_error(run, str(env_file), "prometheus.scrape_intervall")


def test_an_environment_without_a_component_the_contract_requires_exits_4_naming_both_files(
    pytester: pytest.Pytester,
) -> None:
    document = valid_environment()
    del document["components"]["worker"]
    run, env_file = run_with_environment(pytester, yaml.safe_dump(document))
    assert_usage_error(run, str(env_file), "components: missing worker", "contract.yaml")


def test_a_prometheus_url_that_is_not_a_url_exits_4_naming_the_field(pytester: pytest.Pytester) -> None:
    document = valid_environment()
    document["prometheus"]["url"] = "prometheus.internal:9090"
    run, env_file = run_with_environment(pytester, yaml.safe_dump(document))
    assert_usage_error(run, str(env_file), "prometheus.url")


def test_a_window_that_ends_before_it_starts_exits_4_naming_the_window(pytester: pytest.Pytester) -> None:
    document = valid_environment()
    candidate = document["windows"]["candidate"]
    candidate["start"], candidate["end"] = candidate["end"], candidate["start"]
    run, env_file = run_with_environment(pytester, yaml.safe_dump(document))
    assert_usage_error(run, str(env_file), "windows.candidate")


def test_an_unknown_environment_name_exits_4_listing_the_environments(pytester: pytest.Pytester) -> None:
    run = run_gate(pytester, "--env=nosuch")
    available = sorted(path.stem for path in (REPO / "environments").glob("*.yaml"))
    assert available, "the repository ships environment files"
    assert_usage_error(run, "nosuch", *available)


@pytest.fixture
def criteria_copy(pytester: pytest.Pytester) -> Path:
    """A copy of criteria/ (wave1.yaml names contract.yaml relative to itself) to break."""
    folder = pytester.path / "criteria"
    shutil.copytree(REPO / "criteria", folder)
    return folder / "wave1.yaml"


def run_with_criteria(pytester: pytest.Pytester, criteria: Path) -> GateRun:
    env_file = write_environment(pytester.path / "env.yaml", valid_environment())
    return run_gate(pytester, f"--criteria={criteria}", env_file=env_file)


def test_a_criteria_file_with_an_unknown_key_exits_4_naming_file_and_field(
    pytester: pytest.Pytester, criteria_copy: Path
) -> None:
    text = criteria_copy.read_text(encoding="utf-8")
    criteria_copy.write_text(
        text.replace("    min_coverage: 0.90\n", "    min_coverage: 0.90\n    min_coverag: 0.9\n")
    )
    run = run_with_criteria(pytester, criteria_copy)
    assert_usage_error(run, str(criteria_copy), "availability.uptime", "min_coverag")


def test_a_criteria_file_with_a_bad_value_exits_4_naming_file_and_field(
    pytester: pytest.Pytester, criteria_copy: Path
) -> None:
    text = criteria_copy.read_text(encoding="utf-8")
    criteria_copy.write_text(text.replace("    maximum: 0.05\n", "    maximum: five percent\n"))
    run = run_with_criteria(pytester, criteria_copy)
    assert_usage_error(run, str(criteria_copy), "retry.wasted_below_5pct", "maximum")


def test_prometheus_down_errors_every_prometheus_backed_criterion_and_exits_6(
    pytester: pytest.Pytester, healthy_world: LiveWorld, record_property: Any
) -> None:
    # The components answer; Prometheus' port is closed.
    env_file = healthy_world.env_file(
        "prometheus-down.yaml", prometheus_url=f"http://127.0.0.1:{closed_port()}"
    )
    run = run_gate(pytester, env_file=env_file)
    record_property("gate_seconds", f"{run.duration:.1f}")  # evidence: the run takes seconds, not timeouts
    verdicts = {cid: record["verdict"] for cid, record in run.criteria.items()}
    assert run.ret == 6, run.tail()
    assert {cid for cid, verdict in verdicts.items() if verdict == "error"} == PROMETHEUS_BACKED
    assert {cid for cid, verdict in verdicts.items() if verdict == "passed"} == ENDPOINT_ONLY
    for cid in PROMETHEUS_BACKED:
        record = run.record(cid)
        assert record["cause"], record
        assert "refused" in record["message"].lower() or "unreachable" in record["message"].lower(), record
    assert run.results is not None
    assert run.results["status"] == "error"
    assert run.results["exit_code"] == 6


def test_a_violated_criterion_exits_1_and_reports_failed(world_a_run: GateRun) -> None:
    assert world_a_run.ret == 1, world_a_run.tail()
    assert world_a_run.results is not None
    assert world_a_run.results["status"] == "failed"
    assert world_a_run.results["exit_code"] == 1
    assert world_a_run.results["summary"]["failed"] >= 1


def test_a_gate_run_writes_the_four_outputs(healthy_run: GateRun) -> None:
    outdir = healthy_run.outdir
    assert (outdir / "gate-results.json").is_file()
    assert (outdir / "gate.html").stat().st_size > 0
    assert (outdir / "junit.xml").read_text(encoding="utf-8").count("<testcase") == len(healthy_run.criteria)
    assert any((outdir / "allure-results").glob("*-result.json"))


def test_gate_results_json_has_the_documented_shape(healthy_run: GateRun) -> None:
    results = healthy_run.results
    assert results is not None
    assert {"status", "exit_code", "environment", "windows", "summary", "criteria"} <= set(results)
    assert set(results["windows"]) == {"baseline", "candidate"}
    documented = {
        "id", "area", "kind", "description", "severity", "verdict", "observed", "threshold", "unit",
        "baseline", "candidate", "queries", "window", "samples", "worst", "message", "cause", "nodeid",
    }  # fmt: skip
    for record in results["criteria"]:
        assert documented <= set(record), documented - set(record)
        assert record["verdict"] in ("passed", "failed", "error")
