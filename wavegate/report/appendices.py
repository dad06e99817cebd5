"""Appendices A (metrics: every query, value and the gate's evidence), B (logs) and C (screenshots, graphs)."""

from __future__ import annotations

import json
from pathlib import Path

from wavegate.report import layout
from wavegate.report.catalogue import GRAPHS, ROWS
from wavegate.report.document import MAX_LOG_LINES, Doc, anchor
from wavegate.report.fmt import value
from wavegate.report.intervals import measurement_verdict, samples_text, threshold_text, value_text
from wavegate.report.model import Built
from wavegate.report.rollout_graphs import KEY as ROLLOUT_GRAPH
from wavegate.report.rollout_graphs import TITLE as ROLLOUT_TITLE
from wavegate.report.values import measured

_MEASUREMENT_MARK = {"failed": "❌ violated", "passed": "✅", "inconclusive": "❔ inconclusive"}


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
            intervals = any(m.interval is not None for m in record.measurements)
            doc.table(["Sub-series", "Value", "Threshold", "Baseline", "Candidate", "Gate",
                       *(["Samples"] if intervals else [])], [
                [m.label, value_text(m), threshold_text(m),
                 measured(m, m.baseline) if m.baseline is not None else "",
                 measured(m, m.candidate) if m.candidate is not None else "",
                 _MEASUREMENT_MARK.get(measurement_verdict(m) or "", ""),
                 *([samples_text(m.interval)] if intervals else [])]
                for m in [*record.culprits, *(m for m in record.measurements if m.passed is not False)]])
            methods = sorted({m.interval.method for m in record.measurements if m.interval and m.interval.method})
            if methods:
                doc.add("Intervals: " + "; ".join(methods) + ".", "")
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
    rollout = built.artifacts.get(f"graph:{ROLLOUT_GRAPH}")  # only with a staged rollout
    if rollout is not None:
        doc.add(f"### {ROLLOUT_TITLE}", "", f"![{ROLLOUT_TITLE}]({layout.link(rollout, source)})", "")
    elif f"graph:{ROLLOUT_GRAPH}" in built.missing:
        doc.add(f"### {ROLLOUT_TITLE}", "", f"*Not drawn: {built.missing[f'graph:{ROLLOUT_GRAPH}']}.*", "")
    doc.add("Grafana dashboards: none in this deployment.")
    return doc.text()
