"""The main report's Rollout section (the spec's "During Wave 1 Deployment": rollout metrics at each stage,
incident reports, rollback evidence), written from rollout.json and each stage's gate records as copied into
the report's bundle; and the lines the header and the executive summary say about the rollout."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from wavegate.report.catalogue import LATENCY_HISTOGRAMS
from wavegate.report.document import VERDICT_BADGE, Doc, link
from wavegate.report.fmt import shorten
from wavegate.report.intervals import (
    deciding,
    limit_text,
    measurement_verdict,
    others_text,
    samples_text,
    value_text,
)
from wavegate.report.model import Built
from wavegate.report.rollout import DEFAULT_ROLLOUT, Rollout, StageRecord
from wavegate.report.rollout_graphs import KEY, TITLE
from wavegate.report.values import FLAG_NAMES
from wavegate.results import CriterionRecord, MeasurementRecord
from wavegate.settings import format_duration, format_time

ANCHOR = "rollout"
OUTCOME = {"promoted": "✅ **PROMOTED**", "stopped": "❌ **STOPPED**", "error": "⛔ **ERROR**"}
_COMPONENT = {histogram: component for component, histogram in LATENCY_HISTOGRAMS.items()}
# The Wave 1 flags a rollback turns off (observability stays on in both tracks).
WAVE1_FLAGS = tuple(FLAG_NAMES[k] for k in ("flag_retry", "flag_timeout", "flag_queue"))


def badge(verdict: str) -> str:
    return VERDICT_BADGE.get(verdict, verdict)


def short_label(measurement: MeasurementRecord) -> str:
    """A sub-series in few words: "gateway p99", "worker_step_executions_total", "router"."""
    parts = []
    for key, value in measurement.key.items():
        if key == "histogram":
            parts.append(_COMPONENT.get(value, value))
        elif key == "quantile":
            try:
                parts.append(f"p{float(value) * 100:g}")
            except ValueError:
                parts.append(value)
        elif key in ("component", "job", "counter", "track"):
            parts.append(value)
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts) or "all"


def _artifact(built: Built, name: str, text: str) -> str:
    path = built.artifacts.get(name)
    return f"[{text}]({link(path)})" if path is not None else ""


def _window(stage: StageRecord) -> str:
    if stage.start is None or stage.end is None:
        return "not recorded"
    end = format_time(stage.end)
    if stage.end.date() == stage.start.date():
        end = end.split("T", 1)[1]
    seconds = stage.seconds if stage.seconds is not None else (stage.end - stage.start).total_seconds()
    return f"{format_time(stage.start)} – {end} ({format_duration(seconds)})"


def _requests(stage: StageRecord) -> str:
    if not stage.requests:
        return "not recorded"
    total = sum(stage.requests.values())
    shown = " / ".join(f"{track} {count:,.0f}" for track, count in sorted(
        stage.requests.items(), key=lambda item: (item[0] != "stable", item[0])))
    canary = stage.requests.get("canary")
    return shown + (f" ({canary / total * 100:.1f} % canary)" if canary is not None and total else "")


def _comparison(stage: StageRecord) -> str:
    results = stage.results or {}
    comparison = results.get("comparison") or {}
    if stage.comparison == "concurrent" or comparison.get("mode") == "concurrent":
        confidence = comparison.get("confidence")
        return "concurrent: canary vs stable in this window" + (
            f", {confidence * 100:g} % intervals" if isinstance(confidence, int | float) else "")
    baseline = (results.get("windows") or {}).get("baseline") or {}
    if baseline.get("start") and baseline.get("end"):
        track = f" {{{baseline['track']}}}" if baseline.get("track") else ""
        return f"windows: vs baseline{track} {baseline['start']} – {baseline['end']}"
    return stage.comparison or "not recorded"


def _gate(built: Built, stage: StageRecord) -> str:
    code = f" (exit {stage.exit_code})" if stage.exit_code is not None else ""
    results = _artifact(built, f"rollout:stage-{stage.percent:g}", "gate-results.json")
    problem = f" — {shorten(stage.problem, 160)}" if stage.problem else ""
    return f"{badge(stage.status)}{code}" + (f" — {results}" if results else "") + problem


def criterion_cell(record: CriterionRecord | None) -> str:
    """A relative criterion at one stage: its verdict, the sub-series that decided it and that one's interval."""
    if record is None:
        return "not judged"
    shown = badge(record.verdict) if record.blocking else f"🟡 {record.non_blocking} ({record.verdict})"
    worst = deciding(record)
    if worst is None:
        return f"{shown}: {shorten(record.summary or record.cause or '', 120)}".rstrip(": ")
    limit = f", limit {limit_text(worst)}" if worst.interval is not None and limit_text(worst) else ""
    return f"{shown}: {short_label(worst)} {value_text(worst)}{limit}{others_text(record)}"


def _stage_details(doc: Doc, stage: StageRecord, criteria: list[str]) -> None:
    rows = []
    for record in (r for r in stage.records if r.id in criteria):
        ordered = [*record.culprits, *(m for m in record.measurements if m.passed is not False)]
        for m in ordered:
            rows.append([record.id, short_label(m), value_text(m), limit_text(m), samples_text(m.interval),
                         badge(measurement_verdict(m) or "") if measurement_verdict(m) else ""])
    if not rows:
        return
    doc.add(f"<details><summary>Stage {stage.label}: every sub-series of the relative criteria "
            f"({len(rows)})</summary>", "")
    doc.table(["Criterion", "Sub-series", "Estimate [interval]", "Limit", "Samples", "Verdict"], rows)
    doc.add("</details>", "")


def _others(stage: StageRecord, criteria: list[str]) -> str:
    others = [r for r in stage.records if r.id not in criteria]
    if not others:
        return ""
    passed = sum(r.verdict == "passed" for r in others)
    rest = [f"{badge(r.verdict)} {r.id}" for r in others if r.verdict != "passed"]
    return f"- **{stage.label}**, every other criterion: {passed} passed" + (f"; {', '.join(rest)}" if rest else "")


def _outcome(rollout: Rollout) -> str:
    stopping = rollout.stopping_stage
    if rollout.outcome == "promoted":
        return f"{OUTCOME['promoted']} — every stage passed the gate; the canary reached {rollout.stages[-1].label}" \
            if rollout.stages else OUTCOME["promoted"]
    where = f" at {stopping.label} ({badge(stopping.status)}, exit {stopping.exit_code})" if stopping else ""
    rolled = " and rolled back" if rollout.rollback is not None else ""
    return f"{OUTCOME.get(rollout.outcome, rollout.outcome)}{where}{rolled}"


def summary_line(built: Built) -> str | None:
    """The executive summary's line about the staged rollout, or None without one."""
    rollout = built.rollout
    if rollout is None:
        return None
    return (f"- **Staged Rollout**: {rollout.sequence()} — {_outcome(rollout)} (see [Rollout](#{ANCHOR})).")


def header_line(built: Built) -> str | None:
    """A line under the status when the rollout did not reach its last stage (it says nothing otherwise)."""
    rollout = built.rollout
    if rollout is None or rollout.outcome == "promoted":
        return None
    return f"> Staged rollout: {_outcome(rollout)} — see [Rollout](#{ANCHOR})."


def rollout_section(doc: Doc, built: Built) -> None:
    doc.add(f'<a id="{ANCHOR}"></a>', "## Rollout", "")
    rollout = built.rollout
    if rollout is None and built.rollout_left_out:
        doc.add(f"No staged rollout in this report: {built.rollout_left_out}.", "", "---", "")
        return
    if rollout is None:
        doc.add(f"No staged rollout was recorded (no `{DEFAULT_ROLLOUT}` under the output root; scripts/rollout "
                "writes it, or pass --rollout PATH).", "", "---", "")
        return
    tracks = rollout.tracks()
    on = f" {{{tracks[1]}}} (the rest on the stable track {{{tracks[0]}}})" if tracks else ""
    when = (f" from {format_time(rollout.started_at)} to {format_time(rollout.finished_at)}"
            if rollout.started_at and rollout.finished_at else "")
    doc.add(f"Wave 1 was enabled gradually, {rollout.sequence()} of the traffic on the canary track{on},{when}; the "
            "gate judged each stage's window before the next one began.", "",
            f"**Outcome**: {_outcome(rollout)}.", "")
    if rollout.regression:
        doc.add(f"> This rollout injected the regression `{rollout.regression}` into the canary (a demonstration of "
                "the stop and the rollback).", "")
    record = _artifact(built, "rollout:record", "rollout.json")
    csvs = ", ".join(x for x in (_artifact(built, "rollout:stages", "rollout_stages.csv"),
                                 _artifact(built, "rollout:intervals", "rollout_intervals.csv")) if x)
    doc.add(f"Record: {record} (copied from `{rollout.path}`)" + (f"; per stage: {csvs}" if csvs else "") + ".", "")
    _metrics(doc, built, rollout)
    _incident(doc, built, rollout)
    _rollback(doc, built, rollout)
    doc.add("---", "")


def _metrics(doc: Doc, built: Built, rollout: Rollout) -> None:
    doc.add(f"### Rollout Metrics ({', '.join(s.label for s in rollout.stages) or 'no stage'})", "")
    criteria = rollout.relative_criteria()
    rows = []
    for stage in rollout.stages:
        records = {r.id: r for r in stage.records}
        rows.append([stage.label, _window(stage), _requests(stage), _comparison(stage), _gate(built, stage),
                     *(criterion_cell(records.get(c)) for c in criteria)])
    doc.table(["Stage (canary share)", "Window", "Requests per track", "Comparison", "Gate (exit code)", *criteria],
              rows)
    if criteria:
        doc.add("Each relative criterion shows the sub-series that decided it (the culprit first; when it is "
                "INCONCLUSIVE, the one farthest from a pass) with the estimate, its confidence interval and "
                "confidence; ❔ INCONCLUSIVE: the interval still straddles the limit, or too few samples — it "
                "blocks like a failure until more traffic decides it.", "")
    others = [line for line in (_others(s, criteria) for s in rollout.stages) if line]
    if others:
        doc.add(*others, "")
    for stage in rollout.stages:
        _stage_details(doc, stage, criteria)
    path = built.artifacts.get(f"graph:{KEY}")
    if path is not None:
        data = _artifact(built, f"graph-data:{KEY}", "CSV")
        doc.add(f"![{TITLE}]({link(path)})", f"*{TITLE}: p99 latency and error ratio per component and track, and "
                f"the canary's share of the gateway's requests; each stage's window shaded"
                + (f" — data: {data}" if data else "") + "*", "")
    else:
        doc.add(f"*Graph “{TITLE}” not drawn: {built.missing.get(f'graph:{KEY}', 'unknown reason')}. The table "
                "above is from the gate's records of each stage.*", "")


def _incident(doc: Doc, built: Built, rollout: Rollout) -> None:
    doc.add("### Incident Reports", "")
    stopping = rollout.stopping_stage
    if rollout.outcome == "promoted" or stopping is None:
        doc.add("No incident: every stage passed the gate." if rollout.outcome == "promoted" else
                f"The rollout ended with an error before a stage stopped it (outcome {rollout.outcome}).", "")
        return
    html = _artifact(built, f"rollout:stage-{stopping.percent:g}:html", "gate report")
    results = _artifact(built, f"rollout:stage-{stopping.percent:g}", "gate-results.json")
    evidence = " · ".join(x for x in (results, html) if x)
    doc.add(f"**Stage {stopping.label} stopped the rollout**: the gate exited {stopping.exit_code} "
            f"({badge(stopping.status)}) over {_window(stopping)}" + (f" — {evidence}" if evidence else "") + ".", "")
    blocking = stopping.blocking
    for record in blocking:
        first = record.message.splitlines()[0] if record.message else record.summary or record.verdict
        first = re.sub(r"^\[[^\]]*\]\s*", "", first)  # the message starts with the criterion's id, shown already
        doc.add(f"- {badge(record.verdict)} **{record.id}** ({record.severity or 'no severity'}): "
                f"{shorten(first, 400)}")
    if not blocking:
        named = ", ".join(rollout.rollback.criteria) if rollout.rollback and rollout.rollback.criteria else ""
        doc.add(f"- The stage's gate records name no criterion{f' (rollout.json names: {named})' if named else ''}"
                + (f": {stopping.problem}" if stopping.problem else "") + ".")
    doc.add("")


def _flag(value: float | None) -> str:
    return "not exported" if value is None else "off" if value == 0 else "on" if value == 1 else f"{value:g}"


def _rollback(doc: Doc, built: Built, rollout: Rollout) -> None:
    doc.add("### Rollback Evidence", "")
    rollback = rollout.rollback
    if rollback is None:
        doc.add("No rollback was needed: the rollout was promoted." if rollout.outcome == "promoted" else
                "No rollback was recorded in rollout.json.", "")
        return
    folder = built.artifacts.get("rollout:rollback")
    files = []
    if folder is not None:
        staged = sorted(p for p in built.rollout_files if PurePosixPath(p).is_relative_to(folder))
        files = [f"[{PurePosixPath(p).relative_to(folder)}]({link(PurePosixPath(p))})" for p in staged]
    evidence = (f"[{folder.name}/]({link(folder)})" + (f": {', '.join(files)}" if files else "")) if folder else \
        f"not copied: {built.missing.get('rollout:rollback', rollback.problem)}"
    doc.table(["Rollback", ""], [
        ["At", format_time(rollback.at) if rollback.at else "not recorded"],
        ["Stage", f"{rollback.stage:g} %" if rollback.stage is not None else "not recorded"],
        ["Reason", rollback.reason or "not recorded"],
        ["Criteria", ", ".join(rollback.criteria) or "none named"],
        ["Evidence", evidence],
    ])
    if not rollback.flags_after:
        doc.add("Feature flags after the rollback: not recorded (the canary's /metrics could not be read).", "")
        return
    flags = list(dict.fromkeys(f for per in rollback.flags_after.values() for f in per))
    doc.add("**Feature flags on the canary after the rollback** (its `cp2_feature_flag_enabled`)", "")
    doc.table(["Component", *flags], [[component, *(_flag(per.get(f)) for f in flags)]
                                      for component, per in sorted(rollback.flags_after.items())])
    wave1 = [per.get(f) for per in rollback.flags_after.values() for f in WAVE1_FLAGS]
    doc.add("Wave 1 flags after the rollback: " + (
        "off on every component ✅" if wave1 and all(v == 0 for v in wave1) else
        "NOT off on every component ❌ (see the table)") + ".", "")
