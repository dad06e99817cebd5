"""The report's numbers, read from the gate's records and the report's own queries: the summary rows, the
comparison rows with the gate's marks, the flags, the achievements, and the CSVs behind the tables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from wavegate.report import layout
from wavegate.report.catalogue import LATENCY_HISTOGRAMS
from wavegate.report.collect import RowResult
from wavegate.report.document import VERDICT_BADGE, anchor, link, write_csv
from wavegate.report.fmt import NO_DATA, change, shorten, value
from wavegate.report.intervals import (
    INCONCLUSIVE,
    deciding,
    interval_text,
    measurement_verdict,
    others_text,
    threshold_text,
    value_text,
)
from wavegate.report.model import Built
from wavegate.results import CriterionRecord, MeasurementRecord
from wavegate.verdicts import render


def row_result(built: Built, key: str) -> RowResult:
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
    """❌ when the gate judged this row's sub-series violated, ❔ when it could not tell, ✅ when it judged it met,
    blank when the gate judged no such sub-series; with the interval when the gate judged by one."""
    judged = _JUDGED_ROWS.get(row_key)
    record = built.record(judged[0]) if judged else None
    if judged is None or record is None:
        return ""
    wanted = {**judged[1], **({by: label} if by and label else {})}
    found = [m for m in record.measurements if all(m.key.get(k) == v for k, v in wanted.items())]
    if not found:
        return ""
    verdicts = [measurement_verdict(m) for m in found]
    mark = "❌ violated" if "failed" in verdicts else "❔ inconclusive" if INCONCLUSIVE in verdicts else "✅"
    # One sub-series judged by an interval: show it, so the row says how sure the gate was.
    return f"{mark} {interval_text(found[0])}" if len(found) == 1 and found[0].interval is not None else mark

def comparison_rows(built: Built, keys: Iterable[str]) -> list[list[str]]:
    """Metric | CP1 baseline | Wave 1 actual | Change | Gate, one line per row (per label value for grouped
    rows); Gate marks the rows whose sub-series the gate judged."""
    out = []
    for key in keys:
        result = row_result(built, key)
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

def compact(built: Built, key: str, window: str) -> str:
    result = row_result(built, key)
    if result.row.by:
        parts = [f"{label}: {value(result.value(window, label), result.row.unit)}" for label in result.keys()]  # noqa: SIM118 - RowResult.keys(), not a dict
        return ", ".join(parts) or NO_DATA
    return value(result.value(window), result.row.unit)

def verdict_badge(record: CriterionRecord) -> str:
    """The gate's verdict as shown everywhere in the report: a failure that does not block says why not
    (WAIVED, DRY-RUN); a pass that used most of its margin says how much."""
    badge = VERDICT_BADGE.get(record.verdict, record.verdict)
    if record.verdict != "passed" and not record.blocking:
        return f"🟡 {record.non_blocking or 'NOT BLOCKING'} ({record.verdict}, does not block)"
    if record.warning and record.margin_used is not None:
        return f"{badge} ⚠️ {record.margin_used * 100:.0f} % of its margin used"
    return badge

def verdict_cell(built: Built, criterion_id: str) -> str:
    record = built.record(criterion_id)
    if record is None:
        return "not judged"
    evidence = f"{link(layout.APPENDIX_A)}#{anchor(criterion_id)}"
    return f"{verdict_badge(record)} ([{criterion_id}]({evidence}))"

def measured(measurement: MeasurementRecord, number: float | None) -> str:
    return render(number, measurement.unit) if number is not None else NO_DATA

def sub_series(record: CriterionRecord) -> tuple[str, MeasurementRecord | None]:
    """The sub-series a summary row shows: the culprit (with how many more failed) when the criterion failed,
    the most undecided one when it is inconclusive, else the one nearest its threshold; or what the gate said
    when it measured none."""
    worst = deciding(record)
    if worst is None:
        return (record.worst or record.summary or _first_line(record.message) or record.verdict), None
    return worst.label + others_text(record), worst

def _first_line(message: str) -> str:
    """A record's message without the criterion prefix, first line, shortened for a table cell."""
    first = message.splitlines()[0] if message else ""
    return shorten(re.sub(r"^\[[^\]]*\]\s*(could not be evaluated:\s*)?", "", first), 140)

def summary_rows(built: Built) -> list[list[str]]:
    """One row per criterion the gate judged, read from its record: the sub-series that decided it (the
    culprit first when it failed), the value the gate compared with its threshold, the CP1 → Wave 1 numbers
    behind it and the gate's verdict — so the summary can never say what the gate did not."""
    rows = []
    for record in sorted(built.records, key=lambda r: (r.verdict == "passed", r.id)):
        shown, worst = sub_series(record)
        if worst is None:
            rows.append([record.id, shown, "", "", "", verdict_cell(built, record.id)])
            continue
        rows.append([record.id, shown, value_text(worst), threshold_text(worst), _before_after(worst),
                     verdict_cell(built, record.id)])
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
        result = row_result(built, key)
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

FLAGS = ("flag_retry", "flag_timeout", "flag_queue", "flag_observability")

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
        result = row_result(built, key)
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
    flags = [row_result(built, k) for k in FLAGS]
    write_csv(metrics / "feature_flags.csv", ["flag", "window", "value", "query"],
              [[r.row.label, w, r.value(w) or "", r.queries.get(w, "")]
               for r in flags for w in ("baseline", "candidate")])
    verdicts = {r.id: r.verdict for r in built.records}
    write_csv(metrics / "success_metrics_summary.csv",
               ["criterion", "sub_series", "observed", "threshold", "baseline_to_candidate", "verdict", "value"],
               [[*r[:5], verdicts[r[0]], r[2] if r[2] != NO_DATA else ""] for r in summary_rows(built)])
    found = achievements(built)
    if len(found) >= 3:
        write_csv(metrics / "key_achievements.csv", ["value", "source"], found)
    else:
        built.missing["key-achievements"] = f"only {len(found)} improvement(s) or verified goal(s) found; 3 needed"
    impact = []
    for component in ("gateway", "router", "worker"):
        for q in (50, 95, 99):
            result = row_result(built, f"latency_{component}_p{q}")
            before, after = result.value("baseline"), result.value("candidate")
            if before and after is not None:
                impact.append([component, f"p{q}", before, after, (after - before) / before])
    write_csv(metrics / "performance_impact.csv", ["component", "quantile", "baseline_seconds",
                                                    "candidate_seconds", "value"], impact)

def gate_observed(built: Built, criterion_id: str) -> str:
    record = built.record(criterion_id)
    return "not judged" if record is None else culprit_text(record)

def culprit_text(record: CriterionRecord) -> str:
    """What the gate saw, the deciding sub-series first (never cut before the culprit)."""
    shown, worst = sub_series(record)
    if worst is None:
        return record.summary or record.cause or record.verdict
    limit = threshold_text(worst)
    threshold = f" ({'limit' if worst.interval is not None else 'threshold'} {limit})" if limit else ""
    return f"{shown}: {value_text(worst)}{threshold} — {record.summary or record.verdict}"
