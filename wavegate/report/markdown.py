"""The report's Markdown: the main document (the spec's template, in its order) and appendices A, B and C.

Also writes the small CSVs the summary tables are built from, so every table of the report has a file
behind it that the checklist can tick.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from wavegate.report import layout
from wavegate.report.catalogue import GRAPHS, LATENCY_HISTOGRAMS, ROWS
from wavegate.report.collect import RowResult
from wavegate.report.fmt import NO_DATA, cell, change, shorten, value
from wavegate.report.single import single_file_html
from wavegate.report.status import FAILED, PARTIAL, SUCCESSFUL, Status
from wavegate.settings import format_time
from wavegate.verdicts import render

if TYPE_CHECKING:
    from wavegate.report.build import Built
    from wavegate.results import CriterionRecord, MeasurementRecord

STATUS_BADGE = {SUCCESSFUL: "✅ **SUCCESSFUL**", PARTIAL: "⚠ **PARTIAL**", FAILED: "❌ **FAILED**"}
VERDICT_BADGE = {"passed": "✅ passed", "failed": "❌ failed", "error": "⛔ error"}
FLAGS = ("flag_retry", "flag_timeout", "flag_queue", "flag_observability")
GRAPH_TITLES = {g.key: g.title for g in GRAPHS}
ROW_BY_KEY = {r.key: r for r in ROWS}
MAX_LOG_LINES = 400


def anchor(criterion_id: str) -> str:
    return "criterion-" + criterion_id.replace(".", "-")


def _link(target: PurePosixPath, source: PurePosixPath = layout.REPORT) -> str:
    return layout.link(target, source)


class Doc:
    """A Markdown document being written, line by line."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        self.add("| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|")
        body = [("| " + " | ".join(cell(c) for c in row) + " |") for row in rows]
        self.add(*(body or ["| " + " | ".join([NO_DATA] + [""] * (len(header) - 1)) + " |"]))
        self.add("")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"


# --- values ---------------------------------------------------------------------------------------------------


def _result(built: Built, key: str) -> RowResult:
    return built.collected.row(key)


# Report rows the gate judged, and which of a criterion's sub-series each is: a table marks exactly the rows
# whose sub-series the gate found violated (grouped rows add their label, e.g. job=router).
_JUDGED_ROWS: dict[str, tuple[str, dict[str, str]]] = {
    **{f"latency_{component}_p{round(q * 100)}": ("performance.latency_increase",
                                                  {"histogram": histogram, "quantile": f"{q:g}"})
       for component, histogram in LATENCY_HISTOGRAMS.items() for q in (0.5, 0.95, 0.99)},
    **{f"latency_{component}_mean": ("performance.latency_increase", {"histogram": histogram, "quantile": "mean"})
       for component, histogram in LATENCY_HISTOGRAMS.items()},
    "throughput_gateway": ("performance.throughput", {"counter": "gateway_http_requests_total"}),
    "throughput_worker": ("performance.throughput", {"counter": "worker_step_executions_total"}),
    "throughput_router": ("performance.throughput", {"counter": "router_decisions_total"}),
    **{f"error_ratio_{component}": ("errors.rate_not_higher", {"component": component})
       for component in ("gateway", "router", "worker")},
    "uptime": ("availability.uptime", {}),
    "restarts": ("availability.no_crashes", {}),
    "queue_depth_max": ("memory.queue_bounded", {}),
}


def gate_mark(built: Built, row_key: str, by: str | None = None, label: str = "") -> str:
    """❌ when the gate judged this row's sub-series violated, ✅ when it judged it met, blank when the gate
    judged no such sub-series."""
    judged = _JUDGED_ROWS.get(row_key)
    record = built.record(judged[0]) if judged else None
    if judged is None or record is None:
        return ""
    wanted = {**judged[1], **({by: label} if by and label else {})}
    found = [m for m in record.measurements if all(m.key.get(k) == v for k, v in wanted.items())]
    if not found:
        return ""
    return "❌ violated" if any(m.passed is False for m in found) else "✅"


def comparison_rows(built: Built, keys: Iterable[str]) -> list[list[str]]:
    """Metric | CP1 baseline | Wave 1 actual | Change | Gate, one line per row (per label value for grouped
    rows); Gate marks the rows whose sub-series the gate judged."""
    out = []
    for key in keys:
        result = _result(built, key)
        row = result.row
        if result.error:
            out.append([row.label, "query failed", "query failed", shorten(result.error, 80), gate_mark(built, key)])
            continue
        labels = result.keys() if row.by else [""]
        if row.by and not labels:
            out.append([row.label.rstrip(" =,") + " (no series)", NO_DATA, NO_DATA, "n/a", ""])
        for label in labels:
            before, after = result.value("baseline", label), result.value("candidate", label)
            name = f"{row.label} {label}".strip() if row.by else row.label
            out.append([name, value(before, row.unit), value(after, row.unit), change(before, after, row.better),
                        gate_mark(built, key, row.by, label)])
    return out


def _compact(built: Built, key: str, window: str) -> str:
    result = _result(built, key)
    if result.row.by:
        parts = [f"{label}: {value(result.value(window, label), result.row.unit)}" for label in result.keys()]  # noqa: SIM118 - RowResult.keys(), not a dict
        return ", ".join(parts) or NO_DATA
    return value(result.value(window), result.row.unit)


def _verdict(built: Built, criterion_id: str) -> str:
    record = built.record(criterion_id)
    if record is None:
        return "not judged"
    evidence = f"{_link(layout.APPENDIX_A)}#{anchor(criterion_id)}"
    return f"{VERDICT_BADGE.get(record.verdict, record.verdict)} ([{criterion_id}]({evidence}))"


def _measured(measurement: MeasurementRecord, number: float | None) -> str:
    return render(number, measurement.unit) if number is not None else NO_DATA


def _sub_series(record: CriterionRecord) -> tuple[str, MeasurementRecord | None]:
    """The sub-series a summary row shows: the culprit (with how many more failed) when the criterion failed,
    else the one nearest its threshold; or what the gate said when it measured none."""
    worst = record.worst_measurement()
    if worst is None:
        return (record.worst or record.summary or record.verdict), None
    more = len(record.culprits) - 1
    return worst.label + (f" (+{more} more failing)" if more > 0 else ""), worst


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)


def summary_rows(built: Built) -> list[list[str]]:
    """One row per criterion the gate judged, read from its record: the sub-series that decided it (the
    culprit first when it failed), the value the gate compared with its threshold, the CP1 → Wave 1 numbers
    behind it and the gate's verdict — so the summary can never say what the gate did not."""
    rows = []
    for record in sorted(built.records, key=lambda r: (r.verdict == "passed", r.id)):
        shown, worst = _sub_series(record)
        if worst is None:
            rows.append([record.id, shown, "", "", "", _verdict(built, record.id)])
            continue
        rows.append([record.id, shown, _measured(worst, worst.value),
                     _measured(worst, worst.threshold) if worst.threshold is not None else "",
                     _before_after(worst), _verdict(built, record.id)])
    return rows


def _before_after(measurement: MeasurementRecord) -> str:
    """The CP1 baseline and Wave 1 numbers a comparison was made from (in the metric's own unit)."""
    if measurement.baseline is None and measurement.candidate is None:
        return ""
    def number(x: float | None) -> str:
        return f"{x:.6g}" if x is not None else NO_DATA
    return f"{number(measurement.baseline)} → {number(measurement.candidate)}"


ACHIEVEMENTS = (
    ("retry_wasted_share", "Wasted retries (attempts on non-retryable errors)"),
    ("retry_success_rate", "Retry success rate"),
    ("retry_attempts", "Retry attempts"),
    ("queue_rejection_rate", "Queue rejection rate"),
    ("timeout_within_total", "Step executions within the 30 s total timeout"),
    ("error_ratio_worker", "Worker error ratio"),
    ("error_ratio_gateway", "Gateway error ratio"),
    ("error_ratio_router", "Router error ratio"),
    ("throughput_gateway", "Gateway request rate"),
    ("throughput_worker", "Worker throughput"),
    ("latency_gateway_p95", "Gateway p95 latency"),
    ("latency_worker_p95", "Worker p95 latency"),
)
GOALS = (
    ("memory.queue_bounded", "Bounded queues: every resource pool stayed within its max_queue_size"),
    ("availability.graceful_degradation", "Graceful degradation: critical pools rejected work instead of crashing"),
    ("timeout.compliance", "Timeout compliance: no step execution exceeded the 30 s total timeout"),
    ("retry.backoff_exponential", "Exponential backoff: the median backoff grows per attempt"),
    ("availability.no_crashes", "No component restarted during the candidate window"),
    ("coverage.required_metrics", "Observability: all 12 required metrics exported and stored"),
)


def achievements(built: Built) -> list[tuple[str, str]]:
    """Measured improvements (largest first), then Wave 1 goals the gate verified; at most 5."""
    found: list[tuple[float, str, str]] = []
    for key, text in ACHIEVEMENTS:
        result = _result(built, key)
        before, after = result.value("baseline"), result.value("candidate")
        if before is None or after is None or before == 0 or not result.row.better:
            continue
        relative = (after - before) / abs(before)
        if (relative < -0.005 if result.row.better == "lower" else relative > 0.005):
            found.append((abs(relative), f"{text}: {value(before, result.row.unit)} → {value(after, result.row.unit)} "
                                         f"({change(before, after, result.row.better)})", f"metrics/{key}.csv"))
    out = [(text, source) for _, text, source in sorted(found, reverse=True)]
    for criterion_id, text in GOALS:
        record = built.record(criterion_id)
        if record is not None and record.verdict == "passed":
            out.append((f"{text} ({record.summary or 'passed'})", f"gate: {criterion_id}"))
    return out[:5]


FLAG_NAMES = {"flag_retry": "CP2_ADVANCED_RETRY_ENABLED", "flag_timeout": "CP2_COMPLETE_TIMEOUT_ENABLED",
              "flag_queue": "CP2_QUEUE_MANAGEMENT_ENABLED", "flag_observability": "CP2_OBSERVABILITY_METRICS_ENABLED"}


def recorded_flags(built: Built) -> dict[str, dict[str, bool]] | None:
    """Flag state per window as recorded by the run that produced the windows (gate-results.json `phases`)."""
    phases = built.inputs.results.get("phases")
    if not isinstance(phases, dict):
        return None
    flags = {w: (phases.get(w) or {}).get("flags") for w in ("baseline", "candidate")}
    if not all(isinstance(f, dict) for f in flags.values()):
        return None
    return {w: {k: bool(v) for k, v in f.items()} for w, f in flags.items()}  # type: ignore[union-attr]


def provenance_flags(built: Built) -> dict[tuple[str, str], str] | None:
    """Each flag's state per window as integration.rollout_provenance proved it (its measurements: per
    window, job and flag the share of successful scrapes at the expected value), or None if not judged."""
    record = next((r for r in built.records if r.kind == "rollout_provenance"), None)
    if record is None or record.verdict == "error":
        return None
    found: dict[tuple[str, str], list[MeasurementRecord]] = {}
    for m in record.measurements:
        found.setdefault((m.key.get("flag", ""), m.key.get("window", "")), []).append(m)
    cells = {}
    for name in FLAG_NAMES.values():
        for window in ("baseline", "candidate"):
            rows = found.get((name, window))
            if not rows:
                cells[(name, window)] = "not proven (no flag data; see integration.rollout_provenance)"
                continue
            expected = rows[0].key.get("expected", "?")
            jobs = sorted(m.key.get("job", "?") for m in rows)
            bad = [m for m in rows if not m.passed]
            if not bad:
                cells[(name, window)] = f"{expected} at every successful scrape ({', '.join(jobs)}) ✅"
            else:
                shares = ", ".join(f"{m.key.get('job')} {(m.value or 0) * 100:.1f} %" for m in bad)
                cells[(name, window)] = (f"NOT {expected} throughout: {expected} at {shares} of successful scrapes "
                                         "❌ (see integration.rollout_provenance)")
    return cells


def flag_rows(built: Built) -> list[list[str]]:
    rows = []
    proven = provenance_flags(built)
    if proven is not None:
        return [[name, proven[(name, "baseline")], proven[(name, "candidate")]] for name in FLAG_NAMES.values()]
    recorded = recorded_flags(built)
    for key in FLAGS:
        result = _result(built, key)
        if recorded is not None:
            states = ["on" if recorded[w].get(FLAG_NAMES[key]) else "off" for w in ("baseline", "candidate")]
            rows.append([result.row.label, *states])
            continue
        states = []
        for window in ("baseline", "candidate"):
            number = result.value(window)
            if key == "flag_observability":
                states.append(f"on ({number:.0f} of 3 components export)" if number else "off (nothing exported)")
            else:
                states.append(f"on ({number:.0f} series exported)" if number else "off (its metrics not exported)")
        rows.append([result.row.label, *states])
    return rows


def write_derived_csvs(built: Built, staging: Path) -> None:
    """The CSVs behind the summary tables (read back by the checklist)."""
    metrics = staging / layout.METRICS
    _write_csv(metrics / "feature_flags.csv", ["flag", "window", "value", "query"],
               [[_result(built, k).row.label, w, _result(built, k).value(w) or "", _result(built, k).queries.get(w, "")]
                for k in FLAGS for w in ("baseline", "candidate")])
    if any(_result(built, k).value(w) is not None for k in FLAGS for w in ("baseline", "candidate")):
        pass
    verdicts = {r.id: r.verdict for r in built.records}
    _write_csv(metrics / "success_metrics_summary.csv",
               ["criterion", "sub_series", "observed", "threshold", "baseline_to_candidate", "verdict", "value"],
               [[*r[:5], verdicts[r[0]], r[2] if r[2] != NO_DATA else ""] for r in summary_rows(built)])
    found = achievements(built)
    if len(found) >= 3:
        _write_csv(metrics / "key_achievements.csv", ["value", "source"], found)
    else:
        built.missing["key-achievements"] = f"only {len(found)} improvement(s) or verified goal(s) found; 3 needed"
    impact = []
    for component in ("gateway", "router", "worker"):
        for q in (50, 95, 99):
            result = _result(built, f"latency_{component}_p{q}")
            before, after = result.value("baseline"), result.value("candidate")
            if before and after is not None:
                impact.append([component, f"p{q}", before, after, (after - before) / before])
    _write_csv(metrics / "performance_impact.csv", ["component", "quantile", "baseline_seconds",
                                                    "candidate_seconds", "value"], impact)


# --- the main report ----------------------------------------------------------------------------------------


def _figure(doc: Doc, built: Built, key: str) -> None:
    title = GRAPH_TITLES.get(key, key)
    path = built.artifacts.get(f"graph:{key}")
    if path is not None:
        data_csv = _link(layout.METRICS / f"graph_{key}.csv")
        doc.add(f"![{title}]({_link(path)})", f"*{title} — data: [{key} CSV]({data_csv})*",
                "")
    else:
        doc.add(f"*Graph “{title}” not drawn: {built.missing.get(f'graph:{key}', 'no data')}.*", "")


def _notes(doc: Doc, keys: Iterable[str]) -> None:
    notes = sorted({ROW_BY_KEY[k].note for k in keys if ROW_BY_KEY[k].note})
    for note in notes:
        doc.add(f"> Note: {note}")
    if notes:
        doc.add("")


def _comparison(doc: Doc, built: Built, title: str, keys: Sequence[str]) -> None:
    doc.add(f"**{title}** (CP1 baseline vs Wave 1 actual)", "")
    doc.table(["Metric", "CP1 baseline", "Wave 1 actual", "Change", "Gate"], comparison_rows(built, keys))
    _notes(doc, keys)


def _artifact_link(built: Built, name: str, text: str) -> str:
    path = built.artifacts.get(name)
    return f"[{text}]({_link(path)})" if path is not None else f"{text} — not available: {built.missing.get(name, '')}"


def _header(doc: Doc, built: Built) -> None:
    inputs, status = built.inputs, built.status
    results = inputs.results
    doc.add("# CP2 Wave 1 Deployment Report", "",
            f"**Date**: {built.generated_at:%Y-%m-%d}  ",
            "**Deployment Scope**: Worker Reliability + Observability (Router, Gateway, Worker)  ",
            "**Feature Flags**: CP2_ADVANCED_RETRY_ENABLED, CP2_COMPLETE_TIMEOUT_ENABLED, "
            "CP2_QUEUE_MANAGEMENT_ENABLED, CP2_OBSERVABILITY_METRICS_ENABLED  ",
            f"**Status**: {STATUS_BADGE[status.value]}", "")
    if status.value == FAILED and status.failing:
        links = ", ".join(f"[{cid}](#{anchor(cid)})" for cid in status.failing)
        doc.add(f"> **FAILED** — criteria not met: {links}. See [Success Criteria Validation]"
                "(#success-criteria-validation).", "")
    elif status.reasons:
        doc.add(f"> **{status.value}** because:", *(f"> - {r}" for r in status.reasons), "")
    summary = results.get("summary") or {}
    doc.add(f"*Generated {format_time(built.generated_at)} by `scripts/build_report` from the gate run of "
            f"{results.get('started_at', '?')} (environment `{results.get('environment', '?')}`, gate status "
            f"**{str(results.get('status', '?')).upper()}**: {summary.get('passed', 0)} passed, "
            f"{summary.get('failed', 0)} failed, {summary.get('error', 0)} error) and Prometheus at "
            f"`{inputs.prometheus_display_url}`. CP1 baseline window: {inputs.baseline.describe()}; Wave 1 window: "
            f"{inputs.candidate.describe()}. Instant values are evaluated at each window's end over the whole "
            f"window.*", "", "---", "")


def _executive_summary(doc: Doc, built: Built, product_summary: bool) -> None:
    inputs = built.inputs
    doc.add("## Executive Summary", "")
    jobs = sorted({t["job"] for t in built.targets}) or ["router", "gateway", "worker"]
    doc.add(f"- **Deployment Date**: Wave 1 reached 100 % between the end of the baseline window "
            f"({format_time(inputs.baseline.end)}) and the start of the candidate window "
            f"({format_time(inputs.candidate.start)}).",
            f"- **Deployment Scope**: Router, Gateway and Worker updated (Prometheus jobs seen: {', '.join(jobs)}).",
            "- **Feature Flags Status**: " + (
                "as the gate proved them from each component's `cp2_feature_flag_enabled` at every successful "
                "scrape (criterion integration.rollout_provenance):"
                if provenance_flags(built) is not None else
                "as recorded for each window by the run that produced them (gate-results.json `phases`):"
                if recorded_flags(built) is not None else
                "inferred from the metrics each flag makes the components export (no flag state was recorded "
                "for these windows):"), "")
    doc.table(["Flag", "CP1 baseline window", "Wave 1 window"], flag_rows(built))
    doc.add("**Key Achievements**", "")
    found = achievements(built)
    failing = [r for r in built.records if r.verdict in ("failed", "error")]
    if failing:
        doc.add("Regressions found by the gate (these block the rollout):", "")
        doc.add(*(f"- ❌ [{r.id}](#{anchor(r.id)}): {_culprit_text(r)}" for r in failing), "")
        doc.add("Still achieved:", "")
    doc.add(*([f"{i}. {text}" for i, (text, _) in enumerate(found, 1)] or ["(none measured)"]))
    if len(found) < 3:
        doc.add("", f"*Only {len(found)} improvement(s) could be shown from the data; the spec asks for 3-5.*")
    doc.add("", "**Success Metrics Summary** (as the gate judged each criterion: the deciding sub-series, the "
            "culprit first when it failed)", "")
    doc.table(["Criterion", "Sub-series", "Observed", "Threshold", "CP1 → Wave 1", "Gate verdict"],
              summary_rows(built))
    target = _link(layout.PRODUCT_SUMMARY)
    suffix = "" if product_summary else " (not in this repository)"
    doc.add(f"**Reference**: [`{layout.PRODUCT_SUMMARY}`]({target}) - Product summary{suffix}", "", "---", "")


def _worker_reliability(doc: Doc, built: Built) -> None:
    doc.add("## Worker Reliability Results", "", "### Retry Metrics", "")
    _comparison(doc, built, "Retry metrics", [
        "retry_attempts", "retry_attempts_rate", "retry_success_rate", "retry_wasted_share", "retry_per_failed_step",
        "retry_budget_mean", "retry_budget_max"])
    _comparison(doc, built, "Wasted retries breakdown (retryable vs non-retryable)", ["retry_by_retryable",
                                                                                      "retry_wasted_share"])
    _comparison(doc, built, "Retry success rate by error code", ["retry_success_by_code"])
    _comparison(doc, built, "Exponential backoff by attempt", ["retry_backoff_p50", "retry_backoff_p95"])
    for key in ("retry_attempts", "retry_success_by_error_code", "retry_backoff_distribution", "retry_budget_usage"):
        _figure(doc, built, key)
    doc.add("### Timeout Metrics", "")
    _comparison(doc, built, "Timeout metrics", ["timeout_events", "timeout_events_by_operation", "timeout_rate",
                                                "timeout_duration_p95", "timeout_duration_mean"])
    doc.add("**Timeout compliance** (100 % of operations respect the timeout)", "")
    doc.table(["Check", "CP1 baseline", "Wave 1 actual", "Gate verdict"], [
        *([r[0], r[1], r[2], _verdict(built, cid)] for r, cid in zip(
            comparison_rows(built, ["timeout_within_total", "timeout_above_60s"]),
            ("timeout.compliance", "timeout.no_hangs"), strict=False)),
        ["worker_timeout_events_total tracked", "", _compact(built, "timeout_events", "candidate") + " events",
         _verdict(built, "timeout.events_tracked")],
    ])
    for key in ("timeout_events_by_operation", "timeout_rate", "timeout_duration_distribution"):
        _figure(doc, built, key)
    doc.add("### Queue Metrics", "")
    limits = ", ".join(f"{pool} {limit:g}" for pool, limit in sorted(built.queue_limits.items()))
    doc.add(f"max_queue_size per pool (as memory.queue_bounded judged it): {limits}." if limits else
            "max_queue_size per pool: unknown — memory.queue_bounded was not judged by this gate run.", "")
    _comparison(doc, built, "Queue metrics", ["queue_depth_max", "queue_depth_mean", "queue_rejections",
                                              "queue_rejection_rate", "queue_wait_p95", "queue_critical_share"])
    _comparison(doc, built, "Memory usage (before: unbounded, after: bounded)", ["memory_peak", "memory_mean"])
    for key in ("queue_depth", "queue_rejections_by_pool", "overload_status_distribution", "queue_wait_distribution"):
        _figure(doc, built, key)
    doc.add("### System Availability", "")
    _comparison(doc, built, "System availability", ["uptime", "restarts"])
    doc.add("**Crashes and memory exhaustion**", "")
    doc.table(["Evidence", "Wave 1 actual", "Gate verdict"], [
        ["Restarts (process_start_time_seconds changes)", _compact(built, "restarts", "candidate"),
         _verdict(built, "availability.no_crashes")],
        ["Memory bounded (peak, growth)", _gate_observed(built, "memory.bounded_usage"),
         _verdict(built, "memory.bounded_usage")],
        ["Graceful degradation (rejections when critical)", _gate_observed(built, "availability.graceful_degradation"),
         _verdict(built, "availability.graceful_degradation")],
    ])
    _figure(doc, built, "uptime")
    doc.add("### Performance Impact", "")
    _comparison(doc, built, "Latency", [f"latency_{c}_{q}" for c in ("gateway", "router", "worker")
                                        for q in ("p50", "p95", "p99", "mean")])
    doc.add("Latency increase limit: < 5 % for p50, p95 and p99 — gate: "
            f"{_verdict(built, 'performance.latency_increase')}.",
            "")
    _comparison(doc, built, "Throughput (neutral or positive)", ["throughput_gateway", "throughput_worker",
                                                                 "throughput_router"])
    doc.add(f"Throughput — gate: {_verdict(built, 'performance.throughput')}.", "")
    _figure(doc, built, "latency_percentiles")
    _figure(doc, built, "request_rate")
    doc.add("---", "")


def _gate_observed(built: Built, criterion_id: str) -> str:
    record = built.record(criterion_id)
    return "not judged" if record is None else _culprit_text(record)


def _culprit_text(record: CriterionRecord) -> str:
    """What the gate saw, the deciding sub-series first (never cut before the culprit)."""
    shown, worst = _sub_series(record)
    if worst is None:
        return record.summary or record.cause or record.verdict
    value_text = _measured(worst, worst.value)
    threshold = f" (threshold {_measured(worst, worst.threshold)})" if worst.threshold is not None else ""
    return f"{shown}: {value_text}{threshold} — {record.summary or record.verdict}"


def _observability(doc: Doc, built: Built) -> None:
    doc.add("## Observability Results", "", "### Prometheus Metrics Export", "")
    doc.add("**Metrics export status** (endpoint accessible, Prometheus scraping)", "")
    health: dict[str, list[str]] = {}
    for target in built.targets:
        health.setdefault(target["job"], []).append(target["health"])
    rows = []
    for component in ("router", "gateway", "worker"):
        info = built.endpoints.get(component, {})
        evidence = _artifact_link(built, f"endpoint:{component}", "response head")
        states = health.get(component)
        scraped = f"{states.count('up')}/{len(states)} targets up" if states else (
            built.targets_error or "no active target")
        rows.append([component, info.get("url", ""), info.get("result", ""), info.get("families", ""), scraped,
                     evidence])
    doc.table(["Component", "Endpoint", "Fetched now", "Metric families", "Prometheus scrape", "Evidence"], rows)
    doc.add(f"Gate: endpoints exported {_verdict(built, 'coverage.endpoints_exported')}; targets up "
            f"{_verdict(built, 'integration.targets_up')}; scrape success "
            f"{_verdict(built, 'integration.scrape_success')}"
            ".", "")
    doc.add("**Prometheus targets** (now)", "")
    doc.table(["Job", "Instance", "Health", "Last scrape", "Last error"],
              [[t["job"], t["instance"], t["health"], t["last_scrape"][:19], shorten(t["last_error"], 80)]
               for t in sorted(built.targets, key=lambda t: (t["job"], t["instance"]))])
    _screenshot(doc, built, "prometheus_targets", "Prometheus targets page")
    doc.add("**Key metrics summary** (request rates, latencies, error rates)", "")
    doc.table(["Metric", "CP1 baseline", "Wave 1 actual", "Change", "Gate"], comparison_rows(built, [
        "key_router_decisions", "key_router_p95", "key_router_errors", "key_gateway_requests", "key_gateway_p95",
        "key_gateway_rate_limit", "key_gateway_idempotency", "key_worker_steps", "key_worker_p95",
        "key_worker_errors", "key_queue_depth"]))
    for name, title in (("router", "Router"), ("gateway", "Gateway"), ("worker", "Worker"),
                        ("worker_queue", "Worker queue depth")):
        _screenshot(doc, built, f"query_{name}", f"Prometheus query page — {title}")
    for record in built.records:
        name = f"query_failing_{record.id.replace('.', '_')}"
        if f"screenshot:{name}" in built.artifacts:
            _screenshot(doc, built, name, f"Prometheus graph of the query that failed {record.id}")
    doc.add("### CP1 Profile Execution", "")
    info = built.log_info.get("run_cp1_profile", {})
    last = info["last"][-1] if info.get("last") else ""
    doc.table(["Item", "Result"], [
        ["run_cp1_profile.sh log", _artifact_link(built, "log:run_cp1_profile", "run_cp1_profile.log") +
         (f" ({info['lines']} lines)" if info else "")],
        ["Script completion status", info.get("outcome", "n/a")],
        ["Last line of the log", last or "n/a"],
        ["Components started (targets up now)", ", ".join(f"{j}: {', '.join(s)}" for j, s in sorted(health.items()))
         or built.targets_error or "no targets"],
        ["Metrics generated (series in the Wave 1 window)", ", ".join(
            f"{n}: {_compact(built, k, 'candidate')}" for n, k in (("router_decisions_total", "series_router"),
                                                                   ("gateway_http_requests_total", "series_gateway"),
                                                                   ("worker_step_executions_total", "series_worker")))],
    ])
    doc.add("**Metrics validation results** (required metrics present/absent)", "")
    required = built.record("coverage.required_metrics")
    observed = required.observed if required else None
    if isinstance(observed, dict):
        doc.table(["Required metric", "Result"], [[k, v] for k, v in observed.items()])
    else:
        doc.add(f"Gate: {_verdict(built, 'coverage.required_metrics')} — "
                f"{_gate_observed(built, 'coverage.required_metrics')}", "")
    outcome = built.log_info.get("validate_metrics", {}).get("outcome")
    doc.add(f"validate_metrics.sh: {_artifact_link(built, 'log:validate_metrics', 'validate_metrics.log')}"
            + (f" — `{outcome}`" if outcome else "")
            + f" (full text in [Appendix B]({_link(layout.APPENDIX_B)})).", "")
    doc.add("### Metrics Coverage and Quality", "")
    doc.table(["Check", "Gate verdict", "Observed"], [
        [cid, _verdict(built, cid), _gate_observed(built, cid)] for cid in (
            "coverage.endpoints_exported", "coverage.required_metrics", "coverage.required_labels",
            "quality.label_cardinality", "quality.metric_types", "quality.exposition_format")])
    doc.add("**Label cardinality summary** (series per metric at the end of each window)", "")
    doc.table(["Metric", "CP1 baseline", "Wave 1 actual", "Change", "Gate"],
              comparison_rows(built, ["series_per_metric"]))
    doc.add("High-cardinality labels (run_id, flow_id, step_id) are allowed only on the detailed router_* and "
            "worker_step_* metrics; trace_id nowhere — judged by quality.label_cardinality above.", "")
    doc.add("### Performance Impact", "")
    doc.add(f"The components' /metrics endpoints answer fast: {_gate_observed(built, 'performance.endpoint_latency')} "
            f"— gate: {_verdict(built, 'performance.endpoint_latency')}. Latency and throughput of the traffic itself: "
            "see [Worker Reliability — Performance Impact](#performance-impact).", "", "---", "")


def _screenshot(doc: Doc, built: Built, name: str, title: str) -> None:
    path = built.artifacts.get(f"screenshot:{name}")
    if path is not None:
        doc.add(f"![{title}]({_link(path)})", f"*{title}*", "")
    else:
        doc.add(f"*Screenshot “{title}” not taken: {built.missing.get(f'screenshot:{name}', 'unknown reason')}.*", "")


def _errors(doc: Doc, built: Built) -> None:
    doc.add("## Error Analysis", "")
    _comparison(doc, built, "Error rate", ["error_ratio_gateway", "error_ratio_router", "error_ratio_worker"])
    doc.add(f"Error rate same or lower than the baseline — gate: {_verdict(built, 'errors.rate_not_higher')}.", "")
    _comparison(doc, built, "Error rate by error code and component", [
        "errors_worker_by_code", "errors_router_by_code", "errors_gateway_by_status", "errors_component"])
    _comparison(doc, built, "Retry success rate improvement", ["retry_success_rate"])
    doc.add(f"Gate: {_verdict(built, 'retry.success_rate')} — {_gate_observed(built, 'retry.success_rate')}.", "")
    _figure(doc, built, "error_rate_by_code")
    doc.add("---", "")


def _appendix_links(doc: Doc) -> None:
    doc.add("## Appendices", "",
            "### Appendix A: Detailed Metrics",
            f"[{layout.APPENDIX_A.name}]({_link(layout.APPENDIX_A)}) — every Prometheus query, its raw values and "
            f"CSV exports (`{layout.METRICS}/`), and the gate's evidence per criterion.", "",
            "### Appendix B: Execution Logs",
            f"[{layout.APPENDIX_B.name}]({_link(layout.APPENDIX_B)}) — run_cp1_profile.sh and validate_metrics.sh "
            f"logs (`{layout.LOGS}/`).", "",
            "### Appendix C: Screenshots",
            f"[{layout.APPENDIX_C.name}]({_link(layout.APPENDIX_C)}) — Prometheus UI screenshots "
            f"(`{layout.SCREENSHOTS}/`) and the graphs (`{layout.GRAPHS}/`).", "", "---", "")


def _validation(doc: Doc, built: Built) -> None:
    results = built.inputs.results
    summary = results.get("summary") or {}
    doc.add("## Success Criteria Validation", "",
            f"The release gate judged {len(built.records)} criteria: **{summary.get('passed', 0)} passed, "
            f"{summary.get('failed', 0)} failed, {summary.get('error', 0)} error** (gate status "
            f"{str(results.get('status', '?')).upper()}, exit code {results.get('exit_code', '?')}).", "",
            f"- Gate report (pytest-html, self-contained): {_artifact_link(built, 'html:gate', layout.GATE_HTML.name)}",
            f"- Allure report (single file): {_artifact_link(built, 'html:allure', layout.ALLURE_HTML.name)}",
            f"- Machine-readable results: [gate-results.json]({_link(layout.METRICS / 'gate-results.json')})", "")
    if built.unjudged:
        doc.add(f"Not judged by this gate run: {', '.join(built.unjudged)}.", "")
    evidence = _link(layout.APPENDIX_A)
    doc.table(["Criterion", "Verdict", "Observed (deciding sub-series first)", "Threshold", "Evidence"], [
        [f"{r.id} ({r.severity})", VERDICT_BADGE.get(r.verdict, r.verdict), _culprit_text(r),
         shorten(render(r.threshold, r.unit), 100) if r.threshold is not None else "",
         f"[queries and values]({evidence}#{anchor(r.id)})"]
        for r in built.records])
    failing = [r for r in built.records if r.verdict in ("failed", "error")]
    for record in failing:
        doc.add(f'<a id="{anchor(record.id)}"></a>', f"#### ❌ {record.id} — {record.verdict}", "",
                "```text", *record.message.splitlines(), "```", "")
    doc.add("### Report Checklist", "",
            "Each item is ticked only when the file behind it exists in this report's folders.", "")
    group = ""
    for ticked in built.checklist:
        if not ticked.item.required:
            continue
        if ticked.item.group != group:
            group = ticked.item.group
            doc.add("", f"#### {group}")
        mark = "x" if ticked.ticked else " "
        files = ", ".join(f"[{Path(p).name}]({_link(PurePosixPath(p))})" for p in ticked.present[:4])
        tail = (f" — {files}" if files else "") if ticked.ticked else f" — **missing**: {ticked.reason}"
        doc.add(f"- [{mark}] {ticked.item.text}{tail}")
    doc.add("", "#### Optional artifacts", "")
    for ticked in built.checklist:
        if ticked.item.required:
            continue
        mark = "x" if ticked.ticked else " "
        tail = "" if ticked.ticked else f" — {ticked.item.why_missing or 'not produced'}"
        doc.add(f"- [{mark}] {ticked.item.group}: {ticked.item.text}{tail}")
    doc.add("", "---", "", "## References", "",
            "- `docs/archive/dev/CP2_WAVE1_PRODUCT_SUMMARY.md` - Product summary",
            "- `docs/archive/dev/CP2_WORKER_RELIABILITY_WAVE1.md` - Worker Reliability Wave 1 specification",
            "- `docs/archive/dev/CP2_OBSERVABILITY_WAVE1.md` - Observability Wave 1 specification",
            f"- Criteria judged by the gate: `{results.get('criteria_file', 'criteria/wave1.yaml')}`")


def main_report(built: Built, staging: Path, product_summary: bool) -> str:
    doc = Doc()
    _header(doc, built)
    _executive_summary(doc, built, product_summary)
    _worker_reliability(doc, built)
    _observability(doc, built)
    _errors(doc, built)
    _appendix_links(doc)
    _validation(doc, built)
    return doc.text()


# --- appendices -----------------------------------------------------------------------------------------------


def appendix_a(built: Built) -> str:
    source = layout.APPENDIX_A
    doc = Doc()
    doc.add("# CP2 Wave 1 Deployment Report — Appendix A: Detailed Metrics", "",
            f"Back to the [report]({layout.link(layout.REPORT, source)}). Prometheus: "
            f"`{built.inputs.prometheus_display_url}`. Windows: {built.inputs.baseline.describe()}; "
            f"{built.inputs.candidate.describe()}. Instant queries run at each window's end; `$W` is the window's "
            "length.", "", "## Report queries and raw values", "")
    for table in dict.fromkeys(r.table for r in ROWS):
        doc.add(f"### {table}", "")
        for result in (built.collected.rows[r.key] for r in ROWS if r.table == table):
            row = result.row
            csv_link = layout.link(layout.METRICS / f"{row.key}.csv", source)
            doc.add(f"#### {row.key} — {row.label.rstrip(' =,')}", "", "```promql", row.promql, "```", "")
            if row.note:
                doc.add(f"> {row.note}", "")
            if result.error:
                doc.add(f"Query failed: `{result.error}`", "")
            values = [[w, k or "(single value)", value(result.value(w, k), row.unit),
                       repr(result.values.get(w, {}).get(k))] for w in ("baseline", "candidate")
                      for k in (sorted(result.values.get(w, {})) or [""])]
            doc.table(["Window", row.by or "Series", "Value", "Raw"], values)
            doc.add(f"CSV: [{row.key}.csv]({csv_link})", "")
    doc.add("## Graph queries", "")
    for key, data in built.collected.graphs.items():
        doc.add(f"### {key} — {data.graph.title}", "", f"Step {data.step:g} s. CSV: "
                f"[graph_{key}.csv]({layout.link(layout.METRICS / f'graph_{key}.csv', source)})", "")
        for window, queries in data.queries.items():
            doc.add(f"{window}:", "", "```promql", *queries, "```", "")
    doc.add("## Gate evidence per criterion", "")
    for record in built.records:
        doc.add(f'<a id="{anchor(record.id)}"></a>', f"### {record.id} — {record.verdict}", "",
                record.description, "")
        if record.measurements:
            doc.table(["Sub-series", "Value", "Threshold", "Baseline", "Candidate", "Gate"], [
                [m.label, _measured(m, m.value), _measured(m, m.threshold) if m.threshold is not None else "",
                 _measured(m, m.baseline) if m.baseline is not None else "",
                 _measured(m, m.candidate) if m.candidate is not None else "",
                 "❌ violated" if m.passed is False else "✅" if m.passed else ""]
                for m in [*record.culprits, *(m for m in record.measurements if m.passed is not False)]])
        shown = {k: record.get(k) for k in ("observed", "threshold", "unit", "baseline", "candidate", "window",
                                            "samples", "worst", "details", "notes", "warnings", "cause")}
        doc.add("```json", json.dumps(shown, indent=2, default=str), "```", "")
        for query in record.queries:
            doc.add(f"- `{query.get('query', '')}` at {query.get('time', '')}")
        doc.add("")
    return doc.text()


def appendix_b(built: Built, staging: Path) -> str:
    source = layout.APPENDIX_B
    doc = Doc()
    doc.add("# CP2 Wave 1 Deployment Report — Appendix B: Execution Logs", "",
            f"Back to the [report]({layout.link(layout.REPORT, source)}).", "")
    for name, title in (("run_cp1_profile", "CP1 profile execution (run_cp1_profile.sh)"),
                        ("validate_metrics", "Metrics validation (validate_metrics.sh)")):
        doc.add(f"## {title}", "")
        path = built.artifacts.get(f"log:{name}")
        if path is None:
            doc.add(f"*Not available: {built.missing.get(f'log:{name}', '')}.*", "")
            continue
        lines = (staging / path).read_text(encoding="utf-8").splitlines()
        doc.add(f"File: [{path.name}]({layout.link(path, source)}) ({len(lines)} lines, copied from "
                f"`{built.log_info[name]['source']}`)", "")
        shown = lines if len(lines) <= MAX_LOG_LINES else lines[-MAX_LOG_LINES:]
        if len(shown) < len(lines):
            doc.add(f"*Last {MAX_LOG_LINES} lines; the file holds all of them.*", "")
        doc.add("```text", *(line.replace("```", "ʼʼʼ") for line in shown), "```", "")
    doc.add("## Metrics endpoints (curl evidence)", "")
    for component in ("router", "gateway", "worker"):
        path = built.artifacts.get(f"endpoint:{component}")
        if path is None:
            doc.add(f"- {component}: not available — {built.missing.get(f'endpoint:{component}', '')}")
        else:
            doc.add(f"- {component}: [{path.name}]({layout.link(path, source)})")
    doc.add("")
    return doc.text()


def appendix_c(built: Built) -> str:
    source = layout.APPENDIX_C
    doc = Doc()
    doc.add("# CP2 Wave 1 Deployment Report — Appendix C: Screenshots", "",
            f"Back to the [report]({layout.link(layout.REPORT, source)}). Screenshots are taken from the running "
            "Prometheus with headless Chromium when the report is built; graphs are drawn from the same queries "
            "(Appendix A).", "", "## Prometheus UI", "")
    for name in sorted(k.split(":", 1)[1] for k in (*built.artifacts, *built.missing) if k.startswith("screenshot:")):
        path = built.artifacts.get(f"screenshot:{name}")
        if path is not None:
            doc.add(f"### {name}", "", f"![{name}]({layout.link(path, source)})", "")
        else:
            doc.add(f"### {name}", "", f"*Not taken: {built.missing.get(f'screenshot:{name}', '')}.*", "")
    doc.add("## Graphs", "")
    for graph in GRAPHS:
        path = built.artifacts.get(f"graph:{graph.key}")
        if path is not None:
            doc.add(f"### {graph.title}", "", f"![{graph.title}]({layout.link(path, source)})", "")
        else:
            doc.add(f"### {graph.title}", "", f"*Not drawn: {built.missing.get(f'graph:{graph.key}', '')}.*", "")
    doc.add("Grafana dashboards: none in this deployment.")
    return doc.text()


def write_documents(built: Built, staging: Path, tick_now: Callable[[], None]) -> Status:
    """Write the derived CSVs, the appendices and the main report; the checklist is ticked from the files."""
    write_derived_csvs(built, staging)
    (staging / layout.APPENDIX_A).write_text(appendix_a(built), encoding="utf-8")
    (staging / layout.APPENDIX_B).write_text(appendix_b(built, staging), encoding="utf-8")
    (staging / layout.APPENDIX_C).write_text(appendix_c(built), encoding="utf-8")
    product_summary = (Path(staging).parent / layout.PRODUCT_SUMMARY).is_file()
    # Twice: the checklist can only be ticked once every file exists, the main report included.
    (staging / layout.REPORT).write_text(main_report(built, staging, product_summary), encoding="utf-8")
    tick_now()
    (staging / layout.REPORT).write_text(main_report(built, staging, product_summary), encoding="utf-8")
    (staging / layout.REPORT_HTML).write_text(
        single_file_html(staging, built.status.value, built.status.reasons, "CP2 Wave 1 Deployment Report"),
        encoding="utf-8")
    return built.status
