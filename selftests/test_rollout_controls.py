"""Rolling criteria out safely, through real gate runs against the healthy world's real Prometheus: a dry run
(`enforce: false`) and `--report-only` judge and report without blocking; waivers accept a known failure
until their expiry, never an ERROR; the warning band shows a pass that used most of its margin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import REPO, GateRun, closed_port, criteria_variant, run_gate
from worlds import LiveWorld

from wavegate.report.screenshots import find_chromium

AREA = ("performance",)
LATENCY = "performance.latency_increase"
# +1 % allowed: the healthy world's gateway p99 (+4.9 %) violates it, nothing else in the performance area does.
STRICT = {LATENCY: {"max_increase": 0.01}}


def _gate(world: LiveWorld, workdir: Path, name: str, changes: dict[str, dict[str, Any]], *args: str,
          metrics_urls: dict[str, str] | None = None) -> GateRun:
    criteria = criteria_variant(workdir / name, changes)
    env_file = world.env_file(f"{name}.yaml", metrics_urls=metrics_urls)
    return run_gate(workdir / name, f"--criteria={criteria}", *args, env_file=env_file, areas=AREA)


def _waivers(folder: Path, *entries: dict[str, Any]) -> Path:
    path = folder / "waivers.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"waivers": list(entries)}, sort_keys=False), encoding="utf-8")
    return path


def _waiver(**changes: Any) -> dict[str, Any]:
    entry = {"criterion": LATENCY, "scope": {"histogram": "gateway_http_request_duration_seconds"},
             "reason": "gateway p99 accepted until the pool fix ships (CP2-1234)", "approver": "jane.doe",
             "expires": "2099-01-01T00:00:00Z"}
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rollout-controls")


def test_the_strict_latency_limit_blocks_without_controls(healthy_world: LiveWorld, workdir: Path) -> None:
    run = _gate(healthy_world, workdir, "strict", STRICT)

    assert run.ret == 1, run.tail()
    record = run.record(LATENCY)
    assert record["verdict"] == "failed"
    assert record["blocking"] is True
    assert run.results is not None
    assert run.results["blocked_by"] == [LATENCY]
    allure = run.outdir / "allure-results"
    properties = (allure / "environment.properties").read_text(encoding="utf-8")
    assert "Gate.status=FAILED (exit 1)" in properties
    assert "Baseline.window=baseline " in properties
    assert "violated" in (allure / "categories.json").read_text(encoding="utf-8")
    summary = _summary(run)
    assert summary.startswith("## ❌ wavegate: FAILED (exit 1)")
    assert f"- ❌ `{LATENCY}` — histogram=gateway_http_request_duration_seconds, quantile=0.99" in summary


def _summary(run: GateRun) -> str:
    """The Markdown a CI job summary gets (python -m wavegate summary)."""
    done = subprocess.run([sys.executable, "-m", "wavegate", "summary", str(run.outdir / "gate-results.json")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_dry_run_criterion_is_judged_and_reported_but_never_blocks(healthy_world: LiveWorld,
                                                                   workdir: Path) -> None:
    run = _gate(healthy_world, workdir, "dry-run", {LATENCY: {"max_increase": 0.01, "enforce": False}})

    assert run.ret == 0, run.tail()
    record = run.record(LATENCY)
    assert record["verdict"] == "failed"  # the real verdict stays
    assert record["blocking"] is False
    assert record["non_blocking"] == "DRY-RUN"
    assert run.results is not None
    assert run.results["status"] == "passed"
    assert run.results["non_blocking"][0]["id"] == LATENCY
    assert f"DRY-RUN  {LATENCY}" in run.stdout
    junit = (run.outdir / "junit.xml").read_text(encoding="utf-8")
    assert 'type="pytest.xfail"' in junit
    assert "dry run (enforce: false)" in junit
    html = (run.outdir / "gate.html").read_text(encoding="utf-8")
    assert "Gate: PASSED (exit 0)" in html
    assert f"DRY-RUN: {LATENCY} (failed)" in html


def test_report_only_exits_0_and_lists_what_would_have_blocked(healthy_world: LiveWorld, workdir: Path) -> None:
    run = _gate(healthy_world, workdir, "report-only", STRICT, "--report-only")

    assert run.ret == 0, run.tail()
    assert run.results is not None
    assert run.results["status"] == "failed"
    assert run.results["exit_code"] == 0
    assert run.results["report_only"] is True
    assert run.results["would_exit_code"] == 1
    assert run.results["blocked_by"] == [LATENCY]
    assert f"REPORT-ONLY: would have blocked (exit 1): {LATENCY}" in run.stdout
    assert "Gate: REPORT-ONLY (exit 0)" in (run.outdir / "gate.html").read_text(encoding="utf-8")
    reproduce = next(line for line in run.stdout.splitlines() if line.startswith("reproduce: "))
    assert "--report-only" in reproduce
    assert str(REPO / "tests") in reproduce  # the word after a switch is kept


def test_report_only_does_not_forgive_an_incomplete_selection(healthy_world: LiveWorld, workdir: Path) -> None:
    run = _gate(healthy_world, workdir, "report-only-narrowed", STRICT, "--report-only", "-k", "latency_increase")

    assert run.ret == 5, run.tail()
    assert run.results is not None
    assert run.results["would_exit_code"] == 1
    assert "gate: INCOMPLETE (exit 5)" in run.stdout


def test_report_only_still_exits_4_on_a_configuration_error(healthy_world: LiveWorld, workdir: Path) -> None:
    run = run_gate(workdir / "report-only-bad", "--report-only", "--area=nosuch",
                   env_file=healthy_world.env_file("report-only-bad.yaml"))

    assert run.ret == 4, run.tail()


def test_a_waiver_covering_every_violated_sub_series_unblocks_until_its_expiry(healthy_world: LiveWorld,
                                                                              workdir: Path) -> None:
    waivers = _waivers(workdir / "waived", _waiver())
    run = _gate(healthy_world, workdir, "waived", STRICT, f"--waivers={waivers}")

    assert run.ret == 0, run.tail()
    record = run.record(LATENCY)
    assert record["verdict"] == "failed"
    assert record["blocking"] is False
    assert record["non_blocking"] == "WAIVED"
    assert "jane.doe" in record["non_blocking_reason"]
    assert "CP2-1234" in record["non_blocking_reason"]
    assert record["waiver"]["expires"] == "2099-01-01T00:00:00Z"
    assert f"WAIVED   {LATENCY}" in run.stdout
    reproduce = next(line for line in run.stdout.splitlines() if line.startswith("reproduce: "))
    assert f"--waivers={waivers.resolve()}" in reproduce
    assert "WAIVED: performance.latency_increase (failed)" in (run.outdir / "gate.html").read_text(encoding="utf-8")
    summary = _summary(run)
    assert summary.startswith("## ✅ wavegate: PASSED (exit 0)")
    assert f"- 🟡 `{LATENCY}` WAIVED (failed): waived for histogram=gateway_http_request_duration_seconds" in summary


def test_a_waiver_whose_scope_misses_a_violated_sub_series_does_not_apply(healthy_world: LiveWorld,
                                                                         workdir: Path) -> None:
    waivers = _waivers(workdir / "mis-scoped", _waiver(scope={"histogram": "router_decision_duration_seconds"}))
    run = _gate(healthy_world, workdir, "mis-scoped", STRICT, f"--waivers={waivers}")

    assert run.ret == 1, run.tail()
    assert run.record(LATENCY)["blocking"] is True


def test_an_expired_waiver_stops_applying_and_is_listed_as_expired(healthy_world: LiveWorld,
                                                                  workdir: Path) -> None:
    waivers = _waivers(workdir / "expired", _waiver(expires="2020-01-01T00:00:00Z"))
    run = _gate(healthy_world, workdir, "expired", STRICT, f"--waivers={waivers}")

    assert run.ret == 1, run.tail()
    record = run.record(LATENCY)
    assert record["blocking"] is True
    assert record["expired_waivers"][0]["expires"] == "2020-01-01T00:00:00Z"
    assert run.results is not None
    assert run.results["waivers"]["expired"][0]["criterion"] == LATENCY
    assert f"EXPIRED waiver for {LATENCY}" in run.stdout


def test_a_waiver_never_covers_an_error(healthy_world: LiveWorld, workdir: Path) -> None:
    unreachable = {"worker": f"http://127.0.0.1:{closed_port()}/metrics"}
    waivers = _waivers(workdir / "on-error", _waiver(criterion="performance.endpoint_latency", scope=None))
    run = _gate(healthy_world, workdir, "on-error", {}, f"--waivers={waivers}", metrics_urls=unreachable)

    assert run.ret == 6, run.tail()
    record = run.record("performance.endpoint_latency")
    assert record["verdict"] == "error"
    assert record["blocking"] is True
    assert "waiver" not in record


@pytest.mark.parametrize(
    ("entry", "mentions"),
    [
        (_waiver(approver=None), ["waivers.0.approver", "Field required"]),
        (_waiver(expires="next week"), ["waivers.0.expires", "RFC 3339"]),
        (_waiver(criterion="performance.latency_increse"), ["waivers.0.criterion", "latency_increse"]),
        ({**_waiver(), "approved_by": "x"}, ["waivers.0.approved_by", "unknown key"]),
    ],
    ids=["no-approver", "bad-expiry", "unknown-criterion", "unknown-key"],
)
def test_a_malformed_waivers_file_is_a_configuration_error_naming_file_and_field(
        healthy_world: LiveWorld, workdir: Path, entry: dict[str, Any], mentions: list[str]) -> None:
    folder = workdir / f"malformed-{mentions[0]}-{len(entry)}"
    waivers = _waivers(folder, entry)
    run = run_gate(folder, f"--waivers={waivers}", env_file=healthy_world.env_file("malformed.yaml"), areas=AREA)

    assert run.ret == 4, run.tail()
    output = run.stdout + run.stderr
    for mention in [str(waivers), *mentions]:
        assert mention in output, f"{mention!r} not in:\n{run.tail()}"


def test_the_warning_band_shows_a_pass_that_used_most_of_its_margin(healthy_world: LiveWorld,
                                                                   workdir: Path) -> None:
    run = _gate(healthy_world, workdir, "warning", {})

    assert run.ret == 0, run.tail()
    record = run.record(LATENCY)
    assert record["verdict"] == "passed"
    assert record["warning"] is True
    assert record["margin_used"] == pytest.approx(0.98, abs=0.02)  # gateway p99 +4.9 % of a +5 % limit
    gateway_p99 = next(m for m in record["measurements"]
                       if m["key"] == {"histogram": "gateway_http_request_duration_seconds", "quantile": "0.99"})
    assert gateway_p99["margin_used"] == pytest.approx(record["margin_used"])
    assert run.results is not None
    assert LATENCY in run.results["warnings"]
    line = next(line for line in run.stdout.splitlines() if line.startswith(f"PASSED   {LATENCY}"))
    assert "% of margin WARNING" in line
    assert f"WARNING: {LATENCY} used" in (run.outdir / "gate.html").read_text(encoding="utf-8")

    quiet = _gate(healthy_world, workdir, "no-warning", {LATENCY: {"warn_at": None}})
    assert quiet.record(LATENCY)["warning"] is False


def test_gate_html_opens_in_chromium_with_the_status_banner_first_and_the_failed_row_visible(
        healthy_world: LiveWorld, workdir: Path, tmp_path: Path) -> None:
    run = _gate(healthy_world, workdir, "html-banner", STRICT)
    chromium = find_chromium()
    assert chromium is not None, "Chromium is needed to open gate.html (scripts/test installs it)"

    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
                           (run.outdir / "gate.html").as_uri()], capture_output=True, text=True, timeout=120,
                          check=False)

    body = done.stdout.split("<body", 1)[-1]
    first = body.split(">", 1)[1].lstrip()
    assert first.startswith('<div id="wavegate-status"'), first[:300]
    assert "Gate: FAILED (exit 1)" in first[:2000]
    assert f"BLOCKS: {LATENCY}" in first[:2000]
    row = next((chunk for chunk in body.split("<tr")[1:] if LATENCY in chunk and "Failed" in chunk), None)
    assert row is not None, body[-3000:]
    assert "critical" in row
    assert "+4.87 %" in row or "+4.8" in row
