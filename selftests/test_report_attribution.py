"""The report says what the gate judged, no more and no less: its summary and tables read the gate's records
(one row per criterion, the deciding sub-series first) and mark exactly the sub-series the gate found
violated — on crafted worlds with regressions, judged by the real gate against a real Prometheus."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from report_support import failed_in_summary, judged, table_rows
from worlds import HEALTHY

from wavegate.prometheus import RangeSeries
from wavegate.report import graphs, layout
from wavegate.report.build import gate_marks
from wavegate.report.bundle import external_references
from wavegate.report.catalogue import GRAPHS
from wavegate.report.collect import Collected, GraphData
from wavegate.report.screenshots import find_chromium
from wavegate.report.status import FAILED
from wavegate.results import CriterionRecord, MeasurementRecord
from wavegate.settings import Window

ROUTER_P99 = "histogram=router_decision_duration_seconds, quantile=0.99"

# Router p99 +30 % is the only violation; gateway p99 stays at +4.9 % of its 5 % limit.
ROUTER_SLOWER = dataclasses.replace(HEALTHY, p99_increase={"gateway_http_request_duration_seconds": 0.049,
                                                           "router_decision_duration_seconds": 0.30})
# Three regressions at once: router p99, the worker's error ratio doubled, the gateway restarted.
SEVERAL = dataclasses.replace(ROUTER_SLOWER, error_factor={"worker": 2.0}, restarts={"gateway": 600.0})


@pytest.fixture(scope="module")
def router_slower(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return judged(ROUTER_SLOWER, tmp_path_factory.mktemp("router-slower"), screenshots=find_chromium() is not None)


@pytest.fixture(scope="module")
def several(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return judged(SEVERAL, tmp_path_factory.mktemp("several"))


def test_the_summary_names_the_router_p99_and_marks_no_other_row_failed(router_slower: dict[str, Any]) -> None:
    failed = [r.id for r in router_slower["records"] if r.verdict != "passed"]
    assert failed == ["performance.latency_increase"], router_slower["gate"].output[-3000:]

    assert failed_in_summary(router_slower["text"]) == {"performance.latency_increase": ROUTER_P99}
    assert router_slower["outcome"].status.value == FAILED


def test_the_latency_table_marks_exactly_the_router_p99_row_violated(router_slower: dict[str, Any]) -> None:
    rows = {row[0]: row[4] for row in table_rows(router_slower["text"], "Metric | CP1 baseline") if row[4]}
    latency = {name: mark for name, mark in rows.items() if name.split()[0] in ("gateway", "router", "worker")}

    assert latency["router p99"] == "❌ violated"
    assert [name for name, mark in latency.items() if mark == "❌ violated"] == ["router p99"]
    assert latency["gateway p99"] == "✅"  # +4.9 % of a 5 % limit: passed, and shown as passed


def test_with_several_regressions_the_report_fails_exactly_the_gates_criteria_with_their_culprits(
        several: dict[str, Any]) -> None:
    records = {r.id: r for r in several["records"]}
    failed = {cid for cid, r in records.items() if r.verdict == "failed"}
    assert {"performance.latency_increase", "errors.rate_not_higher", "availability.no_crashes"} <= failed

    summary = failed_in_summary(several["text"])
    assert set(summary) == failed
    for criterion_id in failed:
        culprit = records[criterion_id].culprits[0]
        assert summary[criterion_id].startswith(culprit.label)
    assert summary["availability.no_crashes"].startswith("job=gateway")
    assert summary["errors.rate_not_higher"].startswith("component=worker")
    assert set(several["outcome"].status.failing) == failed


def test_the_criteria_table_shows_the_culprit_uncut(several: dict[str, Any]) -> None:
    rows = {row[0].split(" (")[0]: row[2] for row in table_rows(several["text"], "Criterion | Verdict")}

    assert rows["performance.latency_increase"].startswith(ROUTER_P99)


def test_every_field_the_report_reads_is_one_the_gate_writes(router_slower: dict[str, Any]) -> None:
    read = {f.name for f in dataclasses.fields(CriterionRecord)} - {"raw"}
    measured = {f.name for f in dataclasses.fields(MeasurementRecord)}

    for raw in router_slower["gate"].results["criteria"]:
        assert read <= set(raw), f"{raw['id']} lacks {sorted(read - set(raw))}"
        for measurement in raw["measurements"]:
            # interval and verdict are written only for a measurement judged by an interval between tracks
            assert measured - {"interval", "verdict"} <= set(measurement) <= measured


def test_the_single_file_html_opens_offline_in_chromium_with_its_status_and_every_graph(
        several: dict[str, Any], tmp_path: Path) -> None:
    page = several["root"] / layout.REPORT_HTML
    text = page.read_text(encoding="utf-8")
    assert 'id="status"' in text
    assert "Status: FAILED" in text
    assert external_references(text) == []
    assert 'src="data:image/png;base64,' in text
    chromium = find_chromium()
    assert chromium is not None, "Chromium is needed to open the report (scripts/test installs it)"

    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=120, check=False)

    found = re.search(r'data-images="(\d+)" data-images-rendered="(\d+)"', done.stdout)
    assert found is not None, done.stdout[-2000:] + done.stderr[-2000:]
    images, rendered = int(found.group(1)), int(found.group(2))
    assert images >= 5
    assert rendered == images
    assert "criterion-performance-latency_increase" in done.stdout


def test_graphs_draw_the_gates_thresholds_and_mark_the_violated_series(
        router_slower: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = {r.id: r for r in router_slower["records"]}
    marks = gate_marks(SimpleNamespace(record=records.get))  # type: ignore[arg-type]
    latency = marks["latency_percentiles"]
    assert latency.violated == {"router p99"}
    baseline = next(m.baseline for m in records["performance.latency_increase"].measurements
                    if m.key == {"histogram": "router_decision_duration_seconds", "quantile": "0.99"})
    assert baseline is not None
    assert latency.thresholds["router p99"] == pytest.approx(baseline * 1.05 * 1000)
    assert marks["uptime"].thresholds == {"router": 99.9, "gateway": 99.9, "worker": 99.9}

    # Drawn: the violated series named in the legend, every threshold as a line.
    legends: list[str] = []
    real_finish = graphs._finish

    def finish(fig: Any, path: Path) -> Path:
        legends.extend(text.get_text() for ax in fig.axes if ax.get_legend() for text in ax.get_legend().get_texts())
        return real_finish(fig, path)

    monkeypatch.setattr(graphs, "_finish", finish)
    now = time.time()
    windows = {name: Window(name, datetime.fromtimestamp(now - offset - 3600, UTC),
                            datetime.fromtimestamp(now - offset, UTC))
               for name, offset in (("baseline", 7200), ("candidate", 0))}
    graph = next(g for g in GRAPHS if g.key == "latency_percentiles")
    data = GraphData(graph, series={name: [(curve.prefix, RangeSeries({}, ((w.start.timestamp(), 0.05),
                                                                           (w.end.timestamp(), 0.06))))
                                           for curve in graph.curves] for name, w in windows.items()})
    graphs.draw(graph, data, Collected({}, {graph.key: data}, windows, 15.0), tmp_path, latency)

    assert "router p99 (candidate) — violated" in legends
    assert sum(" limit (" in text for text in legends) == len(latency.thresholds)
    assert not any("violated" in text for text in legends if not text.startswith("router p99"))


def test_the_query_that_failed_a_criterion_is_shown_as_prometheus_graphs_it(router_slower: dict[str, Any]) -> None:
    assert find_chromium() is not None, "Chromium is needed for the screenshots (scripts/test installs it)"
    shot = router_slower["root"] / layout.SCREENSHOTS / "query_failing_performance_latency_increase.png"

    assert shot.is_file(), router_slower["outcome"].missing
    assert "Prometheus graph of the query that failed performance.latency_increase" in router_slower["text"]


def test_a_waived_failure_does_not_fail_the_report_and_is_shown_with_its_reason(tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - criterion: performance.latency_increase\n"
        "    scope: {histogram: router_decision_duration_seconds}\n"
        "    reason: router p99 accepted until the cache fix ships (CP2-77)\n    approver: jane.doe\n"
        "    expires: 2099-01-01T00:00:00Z\n", encoding="utf-8")
    run = judged(ROUTER_SLOWER, tmp_path / "waived", gate_args=(f"--waivers={waivers}",))

    assert run["gate"].ret == 0, run["gate"].output[-3000:]
    outcome = run["outcome"]
    assert outcome.status.value != FAILED
    assert any("WAIVED" in reason and "CP2-77" in reason for reason in outcome.status.reasons)
    assert failed_in_summary(run["text"]) == {}
    assert "🟡 WAIVED (failed, does not block)" in run["text"]
