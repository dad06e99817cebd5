"""The deployment report's Rollout section and the INCONCLUSIVE verdict in the report, built from crafted
rollout.json and stage gate-results.json files (the shapes scripts/rollout and the gate write) against a real
Prometheus holding a stable and a canary track (tracks_world.py), so the canary-vs-stable graph is drawn from
real answers.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import History, PrometheusServer, closed_port, rfc3339
from report_support import table_rows
from tracks_world import Track, TracksWorld

from wavegate.report import EXIT_BAD_INPUT, ReportOptions, build_report, layout
from wavegate.report.cli import main
from wavegate.report.rollout import DEFAULT_ROLLOUT
from wavegate.results import MeasurementRecord

NOW = float(int(time.time()) // 60 * 60)
START = NOW - 1800 - 120  # the tracks' history: 30 minutes, ending two minutes ago
STAGES = {10: (START + 60, START + 540), 50: (START + 540, START + 1020), 100: (START + 1020, START + 1500)}
STABLE, CANARY = 'track="stable"', 'track="canary"'
LATENCY, ERRORS, PROVENANCE = "performance.latency_increase", "errors.rate_not_higher", "integration.rollout_provenance"
GATEWAY_P50 = {"histogram": "gateway_http_request_duration_seconds", "quantile": "0.5"}
GATEWAY_P99 = {"histogram": "gateway_http_request_duration_seconds", "quantile": "0.99"}
FLAGS_OFF = {component: {"CP2_ADVANCED_RETRY_ENABLED": 0, "CP2_COMPLETE_TIMEOUT_ENABLED": 0,
                         "CP2_QUEUE_MANAGEMENT_ENABLED": 0, "CP2_OBSERVABILITY_METRICS_ENABLED": 1}
             for component in ("router", "gateway", "worker")}


# --- crafted records, in the shapes the gate and scripts/rollout write -------------------------------------------


def judged(key: dict[str, str], estimate: float, low: float, high: float, verdict: str, limit: float = 0.0,
           rule: str = "at_most") -> dict[str, Any]:
    """A sub-series judged by a 95 % confidence interval, as the gate writes it."""
    return {"key": key, "value": estimate, "unit": "ratio", "threshold": limit,
            "passed": {"passed": True, "failed": False}.get(verdict), "baseline": 0.53, "candidate": 0.53 + estimate,
            "cause": verdict if verdict == "inconclusive" else None,
            "interval": {"estimate": estimate, "low": low, "high": high, "limit": limit, "rule": rule,
                         "confidence": 0.95, "method": "Newcombe difference of Wilson intervals",
                         "samples": {"baseline": 5400.0, "candidate": 600.0}, "min_samples": 200},
            "verdict": verdict, "margin_used": None}


def criterion(criterion_id: str, verdict: str, measurements: list[dict[str, Any]],
              first_line: str = "") -> dict[str, Any]:
    summary = first_line or f"{verdict}: every sub-series judged"
    return {"id": criterion_id, "verdict": verdict, "area": criterion_id.split(".")[0], "kind": "crafted",
            "description": f"{criterion_id} as crafted for the report's self-test.", "severity": "critical",
            "summary": summary, "message": f"[{criterion_id}] {summary}\n  requirement: as crafted", "cause": None,
            "observed": None, "threshold": None, "unit": "ratio", "worst": None, "no_data": False, "blocking": True,
            "non_blocking": None, "non_blocking_reason": None, "margin_used": None, "warn_at": None,
            "warning": False, "measurements": measurements, "queries": [], "details": [], "notes": []}


def provenance() -> dict[str, Any]:
    return criterion(PROVENANCE, "passed", [{"key": {"window": "candidate", "job": "gateway", "flag": flag,
                                                     "expected": "on"}, "value": 1.0, "unit": "share of scrapes",
                                             "threshold": 1.0, "passed": True, "baseline": None, "candidate": None,
                                             "cause": None, "margin_used": None}
                                            for flag in FLAGS_OFF["gateway"]])


def healthy() -> list[dict[str, Any]]:
    return [criterion(LATENCY, "passed", [judged(GATEWAY_P50, -0.004, -0.011, 0.0079, "passed"),
                                          judged(GATEWAY_P99, 0.0, -0.003, 0.004, "passed")]),
            criterion(ERRORS, "passed", [judged({"component": "gateway"}, -0.0003, -0.0012, -0.0001, "passed")]),
            provenance()]


def undecided() -> list[dict[str, Any]]:
    first = ("inconclusive: gateway_http_request_duration_seconds p50: +1.96 % [-2.33 %, +6.20 %] straddles the "
             "limit; about 4.8x the traffic so far would decide it")
    return [criterion(LATENCY, "inconclusive", [judged(GATEWAY_P50, 0.0196, -0.0233, 0.062, "inconclusive"),
                                                judged(GATEWAY_P99, -0.0046, -0.0109, -0.0012, "passed")], first),
            criterion(ERRORS, "passed", [judged({"component": "gateway"}, -0.0003, -0.0012, -0.0001, "passed")]),
            provenance()]


def regressed() -> list[dict[str, Any]]:
    first = "gateway_http_request_duration_seconds p99: +11.4 % [+8.0 %, +15.0 %] is over the limit"
    return [criterion(LATENCY, "failed", [judged(GATEWAY_P99, 0.114, 0.08, 0.15, "failed"),
                                          judged(GATEWAY_P50, 0.01, -0.01, 0.03, "inconclusive")], first),
            criterion(ERRORS, "passed", [judged({"component": "gateway"}, -0.0003, -0.0012, -0.0001, "passed")]),
            provenance()]


def gate_results(env_file: Path, url: str, percent: int, records: list[dict[str, Any]]) -> dict[str, Any]:
    start, end = STAGES[percent]
    concurrent = percent < 100
    baseline = STAGES[50] if not concurrent else (start, end)
    counts = {v: sum(r["verdict"] == v for r in records) for v in ("passed", "failed", "error", "inconclusive")}
    status = next((v for v in ("failed", "error", "inconclusive") if counts[v]), "passed")
    return {
        "schema": 1, "status": status, "exit_code": {"passed": 0, "failed": 1, "error": 6, "inconclusive": 7}[status],
        "finished": True, "report_only": False, "environment": "rollout", "environment_file": str(env_file),
        "prometheus_url": url, "started_at": rfc3339(end + 5), "finished_at": rfc3339(end + 9),
        "windows": {"baseline": {"start": rfc3339(baseline[0]), "end": rfc3339(baseline[1]), "track": STABLE},
                    "candidate": {"start": rfc3339(start), "end": rfc3339(end), "track": CANARY}},
        "comparison": {"mode": "concurrent" if concurrent else "windows", "baseline_track": STABLE,
                       "candidate_track": CANARY, "confidence": 0.95, "stage": float(percent)},
        "stage": float(percent), "summary": counts, "outputs": {"html": "gate.html"}, "criteria": records,
    }


def stage_entry(percent: int, status: str) -> dict[str, Any]:
    start, end = STAGES[percent]
    canary = {10: 120, 50: 600, 100: 1200}[percent]
    return {"percent": percent, "start": rfc3339(start), "end": rfc3339(end), "seconds": end - start,
            "comparison": "concurrent" if percent < 100 else "windows",
            "exit_code": {"passed": 0, "failed": 1, "inconclusive": 7}[status], "status": status,
            "gate_output": f"stage-{percent}", "requests": {"stable": 1200 - canary, "canary": canary}}


def write_rollout(folder: Path, env_file: Path, url: str, stages: dict[int, list[dict[str, Any]]],
                  stopped: int | None = None) -> Path:
    """rollout.json, stage-<P>/gate-results.json and, for a stopped rollout, rollback/ as scripts/rollout does."""
    entries = []
    for percent, records in stages.items():
        results = gate_results(env_file, url, percent, records)
        (folder / f"stage-{percent}").mkdir(parents=True)
        (folder / f"stage-{percent}" / "gate-results.json").write_text(json.dumps(results), encoding="utf-8")
        (folder / f"stage-{percent}" / "gate.html").write_text("<html>gate</html>", encoding="utf-8")
        entries.append(stage_entry(percent, results["status"]))
    rollback = None
    if stopped is not None:
        stage = entries[-1]
        rollback = {"at": rfc3339(STAGES[stopped][1] + 30), "reason": f"stage {stopped} %: the gate exited "
                    f"{stage['exit_code']} ({stage['status']}); not passed: {LATENCY}", "stage": stopped,
                    "criteria": [LATENCY], "flags_after": FLAGS_OFF, "evidence": "rollback"}
        (folder / "rollback").mkdir()
        (folder / "rollback" / "rollback.json").write_text(json.dumps(rollback), encoding="utf-8")
        (folder / "rollback" / "flags_after.txt").write_text("cp2_feature_flag_enabled 0\n", encoding="utf-8")
        (folder / "rollback" / "canary_share.csv").write_text("time,canary_share\n", encoding="utf-8")
    record = {"schema": 1, "started_at": rfc3339(STAGES[10][0] - 5), "finished_at": rfc3339(STAGES[100][1] + 60),
              "regression": "latency" if stopped else None, "outcome": "stopped" if stopped else "promoted",
              "stopped_at_stage": stopped, "stages": entries, "rollback": rollback}
    path = folder / "rollout.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


# --- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    history = TracksWorld(START, NOW - 120, {"stable": Track(18), "canary": Track(2, latency=1.3, wave1=True)},
                          seed=7, labels={"world": "rollout"}).history(History())
    with PrometheusServer(history=history, workdir=tmp_path_factory.mktemp("prometheus")) as server:
        yield server


def environment(folder: Path, url: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "prometheus": {"url": url, "scrape_interval": "15s", "selector": {"world": "rollout"}},
        "components": {name: {"metrics_url": {"stable": f"http://127.0.0.1:{closed_port()}/metrics",
                                              "canary": f"http://127.0.0.1:{closed_port()}/metrics"}, "job": name}
                       for name in ("router", "gateway", "worker")},
        "comparison": {"mode": "concurrent", "baseline": {"track": "stable"}, "candidate": {"track": "canary"}},
    }
    path = folder / "rollout.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def report(root: Path, env_file: Path, results: Path, rollout: Path | None) -> dict[str, Any]:
    outcome = build_report(ReportOptions(output_root=root, results=results, env_file=env_file, screenshots=False,
                                         install_tools=False, rollout=rollout))
    return {"root": root, "outcome": outcome, "text": (root / layout.REPORT).read_text(encoding="utf-8"),
            "appendix_a": (root / layout.APPENDIX_A).read_text(encoding="utf-8"),
            "html": (root / layout.REPORT_HTML).read_text(encoding="utf-8")}


@pytest.fixture(scope="module")
def stopped(prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """10 % passed, 50 % INCONCLUSIVE: stopped and rolled back; the report is of the 50 % stage's gate run."""
    work = tmp_path_factory.mktemp("stopped")
    env_file = environment(work / "env", prometheus.url)
    path = write_rollout(work / "rollout", env_file, prometheus.url, {10: healthy(), 50: undecided()}, stopped=50)
    return report(work / "out", env_file, work / "rollout" / "stage-50" / "gate-results.json", path)


@pytest.fixture(scope="module")
def promoted(prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """10 %, 50 %, 100 % all passed; found at its default place under the output root."""
    work = tmp_path_factory.mktemp("promoted")
    env_file = environment(work / "env", prometheus.url)
    root = work / "out"
    folder = root / DEFAULT_ROLLOUT.parent
    write_rollout(folder, env_file, prometheus.url, {10: healthy(), 50: healthy(), 100: healthy()})
    return report(root, env_file, folder / "stage-100" / "gate-results.json", None)


def section(text: str) -> str:
    return text.split("\n## Rollout\n", 1)[1].split("\n## Appendices\n", 1)[0]


# --- the stages table --------------------------------------------------------------------------------------------


def test_the_stages_table_has_one_row_per_stage_with_window_requests_gate_and_each_relative_criterion(
        promoted: dict[str, Any]) -> None:
    text = promoted["text"]
    rows = table_rows(text, "Stage (canary share)")
    header = next(line for line in text.splitlines() if line.startswith("| Stage (canary share) |"))

    assert [row[0] for row in rows] == ["10 %", "50 %", "100 %"]
    assert header.endswith(f"| {LATENCY} | {ERRORS} |")  # relative criteria only: provenance is not a column
    ten = rows[0]
    assert ten[1] == f"{rfc3339(STAGES[10][0])} – {rfc3339(STAGES[10][1]).split('T')[1]} (8m)"
    assert ten[2] == "stable 1,080 / canary 120 (10.0 % canary)"
    assert ten[3].startswith("concurrent: canary vs stable in this window, 95 % intervals")
    assert ten[4].startswith("✅ passed (exit 0) — [gate-results.json](")
    assert ten[5] == "✅ passed: gateway p50 −0.4 % [−1.1 %, +0.8 %] 95 %, limit ≤ 0.0 %"
    assert rows[2][3].startswith(f"windows: vs baseline {{{STABLE}}} {rfc3339(STAGES[50][0])}")
    assert "**Outcome**: ✅ **PROMOTED** — every stage passed the gate; the canary reached 100 %." in text
    assert "No incident: every stage passed the gate." in section(text)
    assert "No rollback was needed: the rollout was promoted." in section(text)


def test_each_stage_gate_results_are_copied_into_the_bundle_and_linked(promoted: dict[str, Any]) -> None:
    root = promoted["root"]
    bundle = root / layout.ROLLOUT

    for percent in (10, 50, 100):
        assert json.loads((bundle / f"stage-{percent}" / "gate-results.json").read_text())["stage"] == percent
        assert f"rollout-evidence/stage-{percent}/gate-results.json)" in promoted["text"]
    stages = (bundle / "rollout_stages.csv").read_text().splitlines()
    assert stages[0].startswith("percent,start,end,seconds,comparison,requests_canary,requests_stable,exit_code")
    assert len(stages) == 4
    intervals = (bundle / "rollout_intervals.csv").read_text()
    assert "10,performance.latency_increase,passed,\"histogram=gateway_http_request_duration_seconds" in intervals


def test_the_canary_vs_stable_graph_is_drawn_from_prometheus_per_track(promoted: dict[str, Any]) -> None:
    root = promoted["root"]
    png = root / layout.GRAPHS / "rollout_tracks.png"
    with (root / layout.METRICS / "graph_rollout_tracks.csv").open(newline="", encoding="utf-8") as stream:
        data = list(csv.DictReader(stream))

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](../../../reports/cp2-wave1-deployment/graphs/rollout_tracks.png)" in section(promoted["text"])
    assert {(row["panel"], row["track"]) for row in data} == {
        ("p99", "stable"), ("p99", "canary"), ("errors", "stable"), ("errors", "canary"), ("share", "canary/all")}
    for row in data:
        assert f'track="{row["track"]}"' in row["query"] or row["panel"] == "share", row
        assert 'world="rollout"' in row["query"]  # scoped to the stages' environment, as the gate scopes
    # 2 of 20 requests a second are the canary's
    shares = [float(row["value"]) for row in data if row["panel"] == "share"]
    assert 0.05 < sum(shares) / len(shares) < 0.15


# --- an inconclusive stage, a stopped rollout and its rollback -------------------------------------------------------


def test_an_inconclusive_stage_shows_its_verdict_and_the_interval_that_straddles_the_limit(
        stopped: dict[str, Any]) -> None:
    rows = {row[0]: row for row in table_rows(stopped["text"], "Stage (canary share)")}

    assert list(rows) == ["10 %", "50 %"]
    assert rows["50 %"][4].startswith("❔ INCONCLUSIVE (exit 7) — [gate-results.json](")
    assert rows["50 %"][5] == "❔ INCONCLUSIVE: gateway p50 +2.0 % [−2.3 %, +6.2 %] 95 %, limit ≤ 0.0 %"
    assert rows["50 %"][6].startswith("✅ passed: gateway")
    details = table_rows(stopped["text"], "Criterion | Sub-series | Estimate [interval]")
    assert [LATENCY, "gateway p50", "+2.0 % [−2.3 %, +6.2 %] 95 %", "≤ 0.0 %",
            "600 candidate, 5,400 baseline (minimum 200)", "❔ INCONCLUSIVE"] in details


def test_a_stopped_rollout_names_the_stage_its_criteria_and_their_first_lines(stopped: dict[str, Any]) -> None:
    text = section(stopped["text"])

    assert "**Outcome**: ❌ **STOPPED** at 50 % (❔ INCONCLUSIVE, exit 7) and rolled back." in text
    assert "> This rollout injected the regression `latency` into the canary" in text
    incident = text.split("### Incident Reports", 1)[1].split("### Rollback Evidence", 1)[0]
    assert "**Stage 50 % stopped the rollout**: the gate exited 7 (❔ INCONCLUSIVE)" in incident
    assert ("- ❔ INCONCLUSIVE **performance.latency_increase** (critical): inconclusive: "
            "gateway_http_request_duration_seconds p50: +1.96 % [-2.33 %, +6.20 %] straddles the limit") in incident
    assert "requirement: as crafted" not in incident  # the first line only
    assert ERRORS not in incident  # it passed
    assert "> Staged rollout: ❌ **STOPPED** at 50 %" in stopped["text"]  # under the status


def test_the_rollback_evidence_is_shown_and_copied_into_the_bundle(stopped: dict[str, Any]) -> None:
    text = section(stopped["text"])
    rollback = text.split("### Rollback Evidence", 1)[1]
    evidence = stopped["root"] / layout.ROLLOUT / "rollback"

    assert f"| At | {rfc3339(STAGES[50][1] + 30)} |" in rollback
    assert f"| Reason | stage 50 %: the gate exited 7 (inconclusive); not passed: {LATENCY} |" in rollback
    assert "| Evidence | [rollback/](../../../reports/cp2-wave1-deployment/rollout-evidence/rollback)" in rollback
    assert "[flags_after.txt](../../../reports/cp2-wave1-deployment/rollout-evidence/rollback/flags_after.txt)" \
        in rollback
    assert sorted(p.name for p in evidence.iterdir()) == ["canary_share.csv", "flags_after.txt", "rollback.json"]
    assert ["gateway", "off", "off", "off", "on"] in table_rows(rollback, "Component")
    assert "Wave 1 flags after the rollback: off on every component ✅." in rollback


# --- INCONCLUSIVE and intervals on the report's existing pages ---------------------------------------------------


def test_an_inconclusive_gate_run_gives_an_inconclusive_status_with_its_own_colour(stopped: dict[str, Any]) -> None:
    text, outcome = stopped["text"], stopped["outcome"]

    assert outcome.status.value == "INCONCLUSIVE"
    assert outcome.status.failing == (LATENCY,)
    assert "**Status**: ❔ **INCONCLUSIVE**" in text
    assert (f"> **INCONCLUSIVE** — not decided yet (INCONCLUSIVE: too little data to tell; blocks until more traffic "
            f"decides): [{LATENCY}](#criterion-performance-latency_increase)") in text
    assert "2 passed, 0 failed, 0 error, 1 inconclusive" in text
    assert 'id="status" style="background:#8250df">Status: INCONCLUSIVE' in stopped["html"]
    assert f"#### ❔ {LATENCY} — inconclusive" in text


def test_intervals_appear_next_to_the_estimates_in_the_summary_criteria_table_and_appendix(
        stopped: dict[str, Any]) -> None:
    executive = stopped["text"].split("\n## Worker Reliability Results\n", 1)[0]
    summary = {row[0]: row for row in table_rows(executive, "Criterion | Sub-series")}
    criteria = {row[0].split(" (")[0]: row for row in table_rows(stopped["text"], "Criterion | Verdict")}
    appendix = table_rows(stopped["appendix_a"], "Sub-series | Value")

    assert summary[LATENCY][1:4] == ["histogram=gateway_http_request_duration_seconds, quantile=0.5",
                                     "+2.0 % [−2.3 %, +6.2 %] 95 %", "≤ 0.0 %"]
    assert summary[LATENCY][5].startswith("❔ INCONCLUSIVE")
    assert criteria[LATENCY][1] == "❔ INCONCLUSIVE"
    assert criteria[LATENCY][2].startswith("histogram=gateway_http_request_duration_seconds, quantile=0.5: "
                                           "+2.0 % [−2.3 %, +6.2 %] 95 % (limit ≤ 0.0 %)")
    assert ["histogram=gateway_http_request_duration_seconds, quantile=0.5", "+2.0 % [−2.3 %, +6.2 %] 95 %",
            "≤ 0.0 %", "0.53 (53.000 %)", "0.5496 (54.960 %)", "❔ inconclusive",
            "600 candidate, 5,400 baseline (minimum 200)"] in appendix
    gate_marks = [row[4] for row in table_rows(stopped["text"], "Metric | CP1 baseline")]
    assert "❔ inconclusive +2.0 % [−2.3 %, +6.2 %] 95 %" in gate_marks


def test_a_failed_stage_shows_its_culprit_and_a_gone_prometheus_leaves_only_a_note(
        prometheus: PrometheusServer, tmp_path: Path) -> None:
    # The stages were judged on a Prometheus that is gone by report time; the report's own one still answers.
    gone = f"http://127.0.0.1:{closed_port()}"
    stage_env = environment(tmp_path / "stage-env", gone)
    path = write_rollout(tmp_path / "rollout", stage_env, gone, {10: regressed()}, stopped=10)
    built = report(tmp_path / "out", environment(tmp_path / "env", prometheus.url),
                   tmp_path / "rollout" / "stage-10" / "gate-results.json", path)
    text = section(built["text"])

    row = table_rows(text, "Stage (canary share)")[0]
    assert row[4].startswith("❌ failed (exit 1)")
    assert row[5] == "❌ failed: gateway p99 +11.4 % [+8.0 %, +15.0 %] 95 %, limit ≤ 0.0 %"
    assert ("*Graph “Canary vs stable over the rollout” not drawn: the stages' Prometheus did not answer when the "
            f"report was built: Prometheus at {gone} is unreachable") in text
    assert "### Rollback Evidence" in text
    assert built["outcome"].status.value == "FAILED"


# --- no rollout, a bad one, and the record's tolerance ---------------------------------------------------------------


def test_without_a_rollout_the_section_says_so_in_one_line(stopped: dict[str, Any], tmp_path: Path) -> None:
    results = stopped["root"] / layout.ROLLOUT / "stage-50" / "gate-results.json"
    env_file = Path(json.loads(results.read_text())["environment_file"])
    built = report(tmp_path / "out", env_file, results, None)
    lines = [line for line in section(built["text"]).splitlines() if line and line != "---"]

    assert lines == ["No staged rollout was recorded (no `reports/cp2-wave1-deployment/rollout/rollout.json` under "
                     "the output root; scripts/rollout writes it, or pass --rollout PATH)."]
    assert not (tmp_path / "out" / layout.ROLLOUT).exists()


def test_a_rollout_option_naming_no_file_exits_2_naming_it(stopped: dict[str, Any], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    results = stopped["root"] / layout.ROLLOUT / "stage-50" / "gate-results.json"
    env_file = json.loads(results.read_text())["environment_file"]
    missing = tmp_path / "nowhere" / "rollout.json"

    code = main(["--output-root", str(tmp_path / "out"), "--results", str(results), "--env-file", env_file,
                 "--rollout", str(missing), "--skip-screenshots", "--no-install"])

    assert code == EXIT_BAD_INPUT
    assert f"no rollout record at {missing}" in capsys.readouterr().err
    assert not (tmp_path / "out" / layout.REPORT).exists()


def test_a_measurement_record_reads_its_interval_and_verdict_and_tolerates_junk() -> None:
    read = MeasurementRecord.from_json(judged(GATEWAY_P50, 0.012, -0.008, 0.031, "inconclusive"))
    junk = MeasurementRecord.from_json({"key": {}, "value": 1, "interval": "wide", "verdict": "maybe"})

    assert (read.verdict, read.passed) == ("inconclusive", None)
    assert read.interval is not None
    assert (read.interval.low, read.interval.high) == (-0.008, 0.031)
    assert read.interval.samples == {"baseline": 5400.0, "candidate": 600.0}
    assert (junk.interval, junk.verdict) == (None, None)


def test_a_rollout_left_over_from_another_run_is_not_folded_into_this_report(
        promoted: dict[str, Any], tmp_path: Path) -> None:
    # A demo's gate run after the rollout: its results started after the rollout finished.
    root = tmp_path / "out"
    shutil.copytree(promoted["root"] / DEFAULT_ROLLOUT.parent, root / DEFAULT_ROLLOUT.parent)
    results = json.loads((root / DEFAULT_ROLLOUT.parent / "stage-100" / "gate-results.json").read_text())
    results["started_at"] = rfc3339(STAGES[100][1] + 3600)
    later = tmp_path / "gate-results.json"
    later.write_text(json.dumps(results), encoding="utf-8")
    built = report(root, Path(results["environment_file"]), later, None)
    text = section(built["text"])

    assert "No staged rollout in this report: the staged rollout under the output root" in text
    assert "is another run's" in text
    assert "| 10 % |" not in text
