"""The deployment report (wavegate.report, scripts/build_report) built from real gate runs on crafted worlds.

One healthy world is served by a real Prometheus for the whole module; the gate judges it, and the report is
built from what the gate wrote. A failing run comes from the same data judged with one threshold tightened.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import REPO, FaultProxy, closed_port, environment_document, write_environment
from report_support import ServedWorld, stricter_criteria, write_logs

from wavegate.report import EXIT_BAD_INPUT, EXIT_PROMETHEUS_UNREACHABLE, ReportOptions, build_report, layout
from wavegate.report.bundle import external_references
from wavegate.report.cli import main
from wavegate.report.fmt import value
from wavegate.report.screenshots import find_chromium
from wavegate.report.status import FAILED, PARTIAL, SUCCESSFUL, Item, Ticked, compute_status
from wavegate.results import CriterionRecord

TEMPLATE_HEADINGS = (
    "# CP2 Wave 1 Deployment Report", "## Executive Summary", "## Worker Reliability Results", "### Retry Metrics",
    "### Timeout Metrics", "### Queue Metrics", "### System Availability", "### Performance Impact",
    "## Observability Results", "### Prometheus Metrics Export", "### CP1 Profile Execution",
    "### Metrics Coverage and Quality", "## Appendices", "### Appendix A: Detailed Metrics",
    "### Appendix B: Execution Logs", "### Appendix C: Screenshots", "## Success Criteria Validation",
    "## References",
)
TEMPLATE_FIELDS = ("**Date**: ", "**Deployment Scope**: ", "**Feature Flags**: ", "**Status**: ",
                   "**Reference**: ")
REQUIRED_GRAPHS = ("retry_attempts", "retry_success_by_error_code", "retry_backoff_distribution",
                   "timeout_events_by_operation", "queue_depth", "queue_rejections_by_pool",
                   "overload_status_distribution", "uptime", "latency_percentiles", "request_rate",
                   "error_rate_by_code")


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The healthy crafted world, served by a real Prometheus for the module."""
    with ServedWorld(tmp_path_factory.mktemp("world")) as world:
        yield world


@pytest.fixture(scope="module")
def passing(served: ServedWorld, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real gate run on the healthy world, and the report built from it (screenshots, Allure and logs)."""
    root = tmp_path_factory.mktemp("passing")
    gate = served.run_gate(root)
    assert gate.ret == 0, gate.output[-3000:]
    outcome = build_report(ReportOptions(output_root=root, env_file=served.env_file, logs=write_logs(root)))
    return {"root": root, "gate": gate, "outcome": outcome,
            "text": (root / layout.REPORT).read_text(encoding="utf-8")}


@pytest.fixture(scope="module")
def failing(served: ServedWorld, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same world judged with the wasted-retries limit tightened below what the data shows (4.9 %)."""
    root = tmp_path_factory.mktemp("failing")
    criteria = stricter_criteria(root / "criteria", "retry.wasted_below_5pct", "maximum", 0.04)
    gate = served.run_gate(root, f"--criteria={criteria}")
    assert gate.ret == 1, gate.output[-3000:]
    outcome = build_report(ReportOptions(output_root=root, env_file=served.env_file, screenshots=False,
                                         logs=write_logs(root)))
    return {"root": root, "gate": gate, "outcome": outcome,
            "text": (root / layout.REPORT).read_text(encoding="utf-8")}


def table_row(text: str, first_cell: str) -> list[str]:
    """The cells of the first Markdown table row whose first cell is `first_cell`."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row {first_cell!r} in the report")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- the passing run --------------------------------------------------------------------------------------------


def test_a_passing_gate_run_with_every_artifact_gives_a_successful_report(passing: dict[str, Any]) -> None:
    outcome = passing["outcome"]
    # Allure and the screenshots are produced here only when their tools are present; say which is missing.
    assert outcome.status.value == SUCCESSFUL or not find_chromium(), outcome.status.reasons
    if outcome.status.value == SUCCESSFUL:
        assert "**Status**: ✅ **SUCCESSFUL**" in passing["text"]


def test_the_feature_flags_status_is_what_the_gate_proved(passing: dict[str, Any]) -> None:
    # integration.rollout_provenance judged every flag at every successful scrape; the report shows that.
    text = passing["text"]
    assert "criterion integration.rollout_provenance" in text
    row = table_row(text, "CP2_ADVANCED_RETRY_ENABLED")
    assert row[1] == "off at every successful scrape (gateway, router, worker) ✅"
    assert row[2] == "on at every successful scrape (gateway, router, worker) ✅"
    row = table_row(text, "CP2_OBSERVABILITY_METRICS_ENABLED")
    assert row[1].startswith("on at every successful scrape")


def test_the_report_has_every_section_and_field_of_the_spec_template(passing: dict[str, Any]) -> None:
    text = passing["text"]
    lines = text.splitlines()
    positions = [lines.index(heading) for heading in TEMPLATE_HEADINGS]
    assert positions == sorted(positions), "sections are out of the template's order"
    for field_name in TEMPLATE_FIELDS:
        assert any(line.startswith(field_name) for line in lines), field_name
    for appendix in (layout.APPENDIX_A, layout.APPENDIX_B, layout.APPENDIX_C):
        assert (passing["root"] / appendix).is_file()
        assert f"]({appendix.name})" in text


def test_latency_table_numbers_equal_the_gate_results_prometheus_and_the_crafted_data(
        passing: dict[str, Any], served: ServedWorld) -> None:
    record = passing["gate"].record("performance.latency_increase")
    assert served.world is not None
    assert served.prometheus is not None
    for component, histogram in (("gateway", "gateway_http_request_duration_seconds"),
                                 ("router", "router_decision_duration_seconds"),
                                 ("worker", "worker_step_execution_duration_seconds")):
        for q in (0.5, 0.95, 0.99):
            name = f"{component} p{round(q * 100)}"
            cells = table_row(passing["text"], name)
            key = f"{histogram} p{round(q * 100)}"
            expected = served.world.expected["latency"][histogram]
            for column, window in ((1, "baseline"), (2, "candidate")):
                start, end = served.world.windows[window]
                from_prometheus = served.prometheus.scalar(
                    f"histogram_quantile({q}, sum by (le) (increase({histogram}_bucket[1h])))", at=end)
                assert cells[column] == value(record[window][key], "seconds") == value(from_prometheus, "seconds") \
                    == value(expected[window][q], "seconds"), (name, window)


def test_retry_error_throughput_uptime_and_queue_numbers_equal_the_gate_results(passing: dict[str, Any]) -> None:
    gate, text = passing["gate"], passing["text"]
    retry = gate.record("retry.success_rate")
    cells = table_row(text, "Retry success rate (attempt-weighted)")
    assert cells[1:3] == [value(retry["baseline"], "ratio"), value(retry["candidate"], "ratio")]
    errors = gate.record("errors.rate_not_higher")
    for component, label in (("gateway", "Gateway error ratio (5xx / requests)"),
                             ("router", "Router error ratio (errors / decisions)"),
                             ("worker", "Worker error ratio (step errors / executions)")):
        cells = table_row(text, label)
        assert cells[1:3] == [value(errors["baseline"][component], "ratio"),
                              value(errors["candidate"][component], "ratio")], component
    throughput = gate.record("performance.throughput")
    cells = table_row(text, "Gateway request rate (requests / s)")
    assert cells[1:3] == [value(throughput["baseline"]["gateway_http_requests_total"], "per_second"),
                          value(throughput["candidate"]["gateway_http_requests_total"], "per_second")]
    for job, uptime in gate.record("availability.uptime")["observed"].items():
        assert table_row(text, f"Uptime, job = {job}")[2] == value(uptime, "ratio")
    for pool, depth in gate.record("memory.queue_bounded")["observed"].items():
        assert table_row(text, f"Max queue depth, resource_pool = {pool}")[2] == value(depth, "tasks")
    wasted = gate.record("retry.wasted_below_5pct")
    assert table_row(text, "Wasted retries (non-retryable / all attempts)")[2] == value(wasted["observed"], "ratio")


def test_every_ticked_checklist_item_links_files_that_exist(passing: dict[str, Any]) -> None:
    root, text = passing["root"], passing["text"]
    ticked = [line for line in text.splitlines() if line.startswith("- [x] ") and " — " in line]
    assert len(ticked) >= 15, "fewer ticked items than a passing run should have"
    report_dir = root / layout.REPORT.parent
    for line in ticked:
        links = re.findall(r"\]\(([^)#]+)\)", line.split(" — ", 1)[1])
        assert links, line
        for link in links:
            assert (report_dir / link).resolve().is_file(), f"{line}: {link} does not exist"
    for ticked_item in passing["outcome"].checklist:
        for artifact in ticked_item.present:
            assert (root / artifact).is_file(), artifact


def test_graphs_are_valid_pngs_of_a_reasonable_size(passing: dict[str, Any]) -> None:
    folder = passing["root"] / layout.GRAPHS
    for key in REQUIRED_GRAPHS:
        path = folder / f"{key}.png"
        assert path.is_file(), f"{key}: {passing['outcome'].missing.get(f'graph:{key}')}"
        width, height = png_size(path)
        assert 800 <= width <= 2400, (key, width)
        assert 400 <= height <= 1200, (key, height)
        assert 15_000 <= path.stat().st_size <= 1_500_000, (key, path.stat().st_size)


def test_graphs_without_data_are_left_out_and_the_report_says_why(passing: dict[str, Any]) -> None:
    # The crafted world exports no worker_retry_budget_usage: no graph is drawn from nothing.
    assert not (passing["root"] / layout.GRAPHS / "retry_budget_usage.png").exists()
    assert "Graph “Retry budget usage over time” not drawn: Prometheus has no series" in passing["text"]


def test_every_query_result_is_exported_as_csv(passing: dict[str, Any]) -> None:
    metrics = passing["root"] / layout.METRICS
    assert (metrics / "latency_gateway_p99.csv").read_text(encoding="utf-8").count("\n") == 3
    rows = (metrics / "graph_queue_depth.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("window,series,labels,timestamp")
    assert len(rows) > 400


def test_bundled_html_reports_make_no_external_reference(passing: dict[str, Any]) -> None:
    root, outcome = passing["root"], passing["outcome"]
    for document in (layout.GATE_HTML, layout.ALLURE_HTML):
        path = root / document
        assert path.is_file(), outcome.missing.get("html:allure" if "ALLURE" in document.name else "html:gate")
        html = path.read_text(encoding="utf-8")
        assert len(html) > 50_000
        assert external_references(html) == []
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.IGNORECASE)


def test_screenshots_are_taken_with_chromium_or_the_report_says_why(passing: dict[str, Any]) -> None:
    root, text = passing["root"], passing["text"]
    names = ("prometheus_targets", "query_router", "query_gateway", "query_worker")
    if find_chromium():
        for name in names:
            path = root / layout.SCREENSHOTS / f"{name}.png"
            assert path.is_file(), passing["outcome"].missing.get(f"screenshot:{name}")
            width, height = png_size(path)
            assert (width, height) == (1400, 1000)
            assert path.stat().st_size > 20_000
    else:
        assert "not taken: Chromium is not installed" in text
        assert "- [ ] Prometheus targets status screenshot" in text


def test_the_logs_are_copied_and_shown_in_appendix_b(passing: dict[str, Any]) -> None:
    root = passing["root"]
    assert "CP1 profile: PASSED" in (root / layout.LOGS / "run_cp1_profile.log").read_text(encoding="utf-8")
    appendix = (root / layout.APPENDIX_B).read_text(encoding="utf-8")
    assert "validate_metrics: VALID (exit 0)" in appendix
    assert "CP1 profile: PASSED (exit 0)" in appendix


# --- failing and incomplete runs ----------------------------------------------------------------------------------


def test_a_failing_gate_run_gives_a_failed_report_that_points_at_the_criterion(failing: dict[str, Any]) -> None:
    outcome, text = failing["outcome"], failing["text"]
    assert outcome.status.value == FAILED
    assert outcome.status.failing == ("retry.wasted_below_5pct",)
    assert "**Status**: ❌ **FAILED**" in text
    assert "[retry.wasted_below_5pct](#criterion-retry-wasted_below_5pct)" in text
    assert '<a id="criterion-retry-wasted_below_5pct"></a>' in text
    assert "#### ❌ retry.wasted_below_5pct — failed" in text


def test_a_passing_run_with_a_required_artifact_missing_is_partial_and_says_which(
        passing: dict[str, Any], tmp_path: Path) -> None:
    root = tmp_path / "partial"
    shutil.copytree(passing["root"] / "reports/cp2-wave1-deployment/validation",
                    root / "reports/cp2-wave1-deployment/validation")
    results = json.loads((root / "reports/cp2-wave1-deployment/validation/gate-results.json").read_text())
    outcome = build_report(ReportOptions(output_root=root, env_file=Path(results["environment_file"]),
                                         screenshots=False))
    assert outcome.status.value == PARTIAL
    text = (root / layout.REPORT).read_text(encoding="utf-8")
    assert "**Status**: ⚠ **PARTIAL**" in text
    assert "- [ ] CP1 profile execution log — **missing**" in text
    assert "- [ ] Prometheus targets status screenshot — **missing**" in text
    assert "--skip-screenshots" in text


def test_status_is_failed_for_an_errored_criterion_and_partial_for_an_unjudged_one() -> None:
    ok = [Ticked(Item("g", "table", ("a.csv",)), True, ["a.csv"])]
    passed = [CriterionRecord("a.one", "passed"), CriterionRecord("b.two", "passed")]
    assert compute_status(passed, ok).value == SUCCESSFUL
    errored = compute_status([*passed, CriterionRecord("c.three", "error")], ok)
    assert (errored.value, errored.failing) == (FAILED, ("c.three",))
    assert compute_status([], ok).value == FAILED
    assert compute_status(passed, ok, unjudged=["c.three"]).value == PARTIAL
    optional_missing = [*ok, Ticked(Item("g", "cpu", (), required=False), False, [], "not produced")]
    assert compute_status(passed, optional_missing).value == SUCCESSFUL


# --- bad inputs ---------------------------------------------------------------------------------------------------


def test_missing_gate_results_exit_2_naming_the_path_and_write_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--output-root", str(tmp_path)]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert "gate-results.json" in error
    assert "run the gate first" in error
    assert list(tmp_path.iterdir()) == []


def test_unreachable_prometheus_exits_3_naming_the_url_and_keeps_the_previous_report(
        passing: dict[str, Any], served: ServedWorld, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    shutil.copytree(passing["root"], root)
    before = (root / layout.REPORT).read_text(encoding="utf-8")
    assert served.world is not None
    port = closed_port()
    document = environment_document(f"http://127.0.0.1:{port}", dict.fromkeys(("router", "gateway", "worker"), "http://127.0.0.1:1/metrics"),
                                    served.world.windows)
    document["prometheus"]["retries"] = 0
    env = write_environment(tmp_path / "down.yaml", document)
    assert main(["--output-root", str(root), "--env-file", str(env)]) == EXIT_PROMETHEUS_UNREACHABLE
    error = capsys.readouterr().err
    assert f"http://127.0.0.1:{port}" in error
    assert "unreachable" in error
    assert (root / layout.REPORT).read_text(encoding="utf-8") == before
    assert not list(root.glob(".wavegate-report-*")), "a staging folder was left behind"


def test_secrets_from_the_environment_are_never_written(
        passing: dict[str, Any], served: ServedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-token-value-1234"
    monkeypatch.setenv("WAVEGATE_TEST_TOKEN", secret)
    root = tmp_path / "root"
    shutil.copytree(passing["root"] / "reports/cp2-wave1-deployment/validation",
                    root / "reports/cp2-wave1-deployment/validation")
    logs = write_logs(root)
    logs["run_cp1_profile"].write_text(f"curl -H 'Authorization: Bearer {secret}' ...\n", encoding="utf-8")
    assert served.env_file is not None
    document = yaml.safe_load(served.env_file.read_text(encoding="utf-8"))
    document["prometheus"]["bearer_token_env"] = "WAVEGATE_TEST_TOKEN"
    env = write_environment(tmp_path / "token.yaml", document)
    outcome = build_report(ReportOptions(output_root=root, env_file=env, logs=logs))
    inputs = ("validation", "script-logs")
    written = [p for p in root.rglob("*") if p.is_file() and not any(part in p.parts for part in inputs)]
    assert written
    for path in written:
        assert secret.encode() not in path.read_bytes(), path
    # Screenshots go through the loopback credential proxy: taken, and no secret in their names either.
    if find_chromium():
        assert (root / layout.SCREENSHOTS / "prometheus_targets.png").is_file(), outcome.missing


def test_a_prometheus_behind_a_bearer_token_front_end_gives_a_successful_report_with_screenshots(
        served: ServedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "front-end-token-5678"
    monkeypatch.setenv("WAVEGATE_FRONT_TOKEN", token)
    assert served.env_file is not None
    assert served.prometheus is not None
    with FaultProxy(served.prometheus.url, require_headers={"Authorization": f"Bearer {token}"}) as front:
        document = yaml.safe_load(served.env_file.read_text(encoding="utf-8"))
        document["prometheus"].update(url=front.url, bearer_token_env="WAVEGATE_FRONT_TOKEN")
        env = write_environment(tmp_path / "prod-like.yaml", document)
        root = tmp_path / "root"
        gate = served.run_gate(root, f"--env-file={env}")
        assert gate.ret == 0, gate.output[-3000:]
        outcome = build_report(ReportOptions(output_root=root, env_file=env, logs=write_logs(root)))
        ui_requests = [path for path, headers in front.seen if "/graph" in path or "/targets" in path]

    assert outcome.status.value == SUCCESSFUL, outcome.status.reasons
    for name in ("prometheus_targets", "query_router", "query_gateway", "query_worker"):
        assert (root / layout.SCREENSHOTS / f"{name}.png").is_file(), outcome.missing.get(f"screenshot:{name}")
    assert ui_requests  # the pages came through the front end, with the token the proxy added
    for path in [p for p in root.rglob("*") if p.is_file()]:
        assert token.encode() not in path.read_bytes(), path


def test_without_matplotlib_the_build_fails_with_exit_5_and_an_install_hint(
        passing: dict[str, Any], served: ServedWorld, tmp_path: Path) -> None:
    # A None entry in sys.modules makes `import matplotlib` raise ImportError: the package looks uninstalled.
    code = ("import sys; sys.modules['matplotlib'] = None; from wavegate.report.cli import main; "
            f"sys.exit(main(['--output-root', {str(tmp_path)!r}, '--results', "
            f"{str(passing['gate'].results_path)!r}, '--env-file', {str(served.env_file)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO,
                          check=False)
    assert done.returncode == 5, done.stderr
    assert "pip install 'wavegate[report]'" in done.stderr
    assert not (tmp_path / layout.REPORT).exists()


def test_the_build_report_script_prints_the_report_path_and_status(passing: dict[str, Any], tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(passing["root"] / "reports/cp2-wave1-deployment/validation",
                    root / "reports/cp2-wave1-deployment/validation")
    results = json.loads((root / "reports/cp2-wave1-deployment/validation/gate-results.json").read_text())
    done = subprocess.run([str(REPO / "scripts" / "build_report"), "--output-root", str(root), "--env-file",
                           results["environment_file"], "--skip-screenshots", "--no-install"],
                          capture_output=True, text=True, timeout=180, check=False,
                          env={**os.environ, "WAVEGATE_PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"report: {root / layout.REPORT}" in done.stdout
    assert f"single-file HTML: {root / layout.REPORT_HTML}" in done.stdout
    assert re.search(r"^status: (SUCCESSFUL|PARTIAL|FAILED)$", done.stdout, re.MULTILINE)
    # a line per step on stderr, so a 15 s build is never silent
    steps = re.findall(r"^build_report: \[ *[0-9.]+ s\] (.*)$", done.stderr, re.MULTILINE)
    assert steps[0].startswith("reading ")
    assert any(step.startswith("asking Prometheus") for step in steps)
    assert steps[-1].startswith("writing the report")


def test_the_environment_file_names_the_profile_logs_and_a_missing_one_makes_the_report_partial(
        passing: dict[str, Any], served: ServedWorld, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(passing["root"] / "reports/cp2-wave1-deployment/validation",
                    root / "reports/cp2-wave1-deployment/validation")
    logs = write_logs(tmp_path / "where-the-profile-ran")
    assert served.env_file is not None
    document = yaml.safe_load(served.env_file.read_text(encoding="utf-8"))
    document["report"] = {"run_cp1_profile_log": str(logs["run_cp1_profile"].relative_to(tmp_path))}
    env = write_environment(tmp_path / "elsewhere.yaml", document)

    outcome = build_report(ReportOptions(output_root=root, env_file=env, screenshots=False, install_tools=False))

    copied = root / layout.LOGS / "run_cp1_profile.log"
    assert copied.read_text(encoding="utf-8") == logs["run_cp1_profile"].read_text(encoding="utf-8")
    assert outcome.status.value == PARTIAL
    reasons = " ".join(outcome.status.reasons)
    assert "report.validate_metrics_log in elsewhere.yaml" in reasons
    assert "--validate-metrics-log PATH" in reasons
