"""The main report, section by section in the spec's template order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from wavegate.report import layout
from wavegate.report.document import (
    STATUS_BADGE,
    Doc,
    anchor,
    figure,
    link,
    notes,
)
from wavegate.report.fmt import shorten
from wavegate.report.intervals import INCONCLUSIVE
from wavegate.report.model import Built
from wavegate.report.rollout_section import header_line, rollout_section, summary_line
from wavegate.report.values import (
    achievements,
    compact,
    comparison_rows,
    culprit_text,
    flag_rows,
    gate_observed,
    provenance_flags,
    recorded_flags,
    summary_rows,
    verdict_badge,
    verdict_cell,
)
from wavegate.settings import format_time
from wavegate.verdicts import render


def counts(summary: dict[str, int]) -> str:
    """The gate's tally: "9 passed, 1 failed, 0 error" (and how many were inconclusive, when any was)."""
    text = f"{summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, {summary.get('error', 0)} error"
    return text + (f", {summary[INCONCLUSIVE]} inconclusive" if summary.get(INCONCLUSIVE) else "")


def comparison(doc: Doc, built: Built, title: str, keys: Sequence[str]) -> None:
    doc.add(f"**{title}** (CP1 baseline vs Wave 1 actual)", "")
    doc.table(["Metric", "CP1 baseline", "Wave 1 actual", "Change", "Gate"], comparison_rows(built, keys))
    notes(doc, keys)


def artifact_link(built: Built, name: str, text: str) -> str:
    path = built.artifacts.get(name)
    return f"[{text}]({link(path)})" if path is not None else f"{text} — not available: {built.missing.get(name, '')}"


def screenshot(doc: Doc, built: Built, name: str, title: str) -> None:
    path = built.artifacts.get(f"screenshot:{name}")
    if path is not None:
        doc.add(f"![{title}]({link(path)})", f"*{title}*", "")
    else:
        doc.add(f"*Screenshot “{title}” not taken: {built.missing.get(f'screenshot:{name}', 'unknown reason')}.*", "")


def _header(doc: Doc, built: Built) -> None:
    inputs, status = built.inputs, built.status
    results = inputs.results
    doc.add("# CP2 Wave 1 Deployment Report", "",
            f"**Date**: {built.generated_at:%Y-%m-%d}  ",
            "**Deployment Scope**: Worker Reliability + Observability (Router, Gateway, Worker)  ",
            "**Feature Flags**: CP2_ADVANCED_RETRY_ENABLED, CP2_COMPLETE_TIMEOUT_ENABLED, "
            "CP2_QUEUE_MANAGEMENT_ENABLED, CP2_OBSERVABILITY_METRICS_ENABLED  ",
            f"**Status**: {STATUS_BADGE[status.value]}", "")
    if status.failing:
        verdicts = {r.id: r.verdict for r in built.records}
        failed = [cid for cid in status.failing if verdicts.get(cid) != INCONCLUSIVE]
        undecided = [cid for cid in status.failing if verdicts.get(cid) == INCONCLUSIVE]
        said = [f"criteria not met: {', '.join(f'[{cid}](#{anchor(cid)})' for cid in failed)}"] if failed else []
        said += [f"not decided yet (INCONCLUSIVE: too little data to tell; blocks until more traffic decides): "
                 f"{', '.join(f'[{cid}](#{anchor(cid)})' for cid in undecided)}"] if undecided else []
        doc.add(f"> **{status.value}** — {'; '.join(said)}. See [Success Criteria Validation]"
                "(#success-criteria-validation).", "")
    elif status.reasons:
        doc.add(f"> **{status.value}** because:", *(f"> - {r}" for r in status.reasons), "")
    rollout = header_line(built)
    if rollout:
        doc.add(rollout, "")
    summary = results.get("summary") or {}
    doc.add(f"*Generated {format_time(built.generated_at)} by `scripts/build_report` from the gate run of "
            f"{results.get('started_at', '?')} (environment `{results.get('environment', '?')}`, gate status "
            f"**{str(results.get('status', '?')).upper()}**: {counts(summary)}) and Prometheus at "
            f"`{inputs.prometheus_display_url}`. CP1 baseline window: {inputs.baseline.describe()}; Wave 1 window: "
            f"{inputs.candidate.describe()}. Instant values are evaluated at each window's end over the whole "
            f"window.*", "", "---", "")

def _executive_summary(doc: Doc, built: Built, product_summary: bool) -> None:
    inputs = built.inputs
    doc.add("## Executive Summary", "")
    jobs = sorted({t["job"] for t in built.targets}) or ["router", "gateway", "worker"]
    staged = summary_line(built)
    comparison = inputs.results.get("comparison") or {}
    if comparison.get("mode") == "concurrent":  # a canary judged against the stable track in one window
        share = f" at {comparison['stage']:g} % of the traffic" if isinstance(comparison.get("stage"), int | float) \
            else ""
        deployed = (f"- **Deployment Date**: Wave 1 ran on the canary track {{{inputs.candidate.track}}}{share}, "
                    f"judged against the stable track {{{inputs.baseline.track}}} in the same window "
                    f"({format_time(inputs.candidate.start)} .. {format_time(inputs.candidate.end)}).")
    else:
        deployed = (f"- **Deployment Date**: Wave 1 reached 100 % between the end of the baseline window "
                    f"({format_time(inputs.baseline.end)}) and the start of the candidate window "
                    f"({format_time(inputs.candidate.start)}).")
    doc.add(deployed, *([staged] if staged else []),
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
    failing = [r for r in built.records if r.blocks and r.verdict != INCONCLUSIVE]
    if failing:
        doc.add("Regressions found by the gate (these block the rollout):", "")
        doc.add(*(f"- ❌ [{r.id}](#{anchor(r.id)}): {culprit_text(r)}" for r in failing), "")
    undecided = [r for r in built.records if r.blocks and r.verdict == INCONCLUSIVE]
    if undecided:
        doc.add("Not decided yet — INCONCLUSIVE, too little data to tell (these block the rollout until more traffic "
                "decides them):", "")
        doc.add(*(f"- ❔ [{r.id}](#{anchor(r.id)}): {culprit_text(r)}" for r in undecided), "")
        failing += undecided
    accepted = [r for r in built.records if r.verdict != "passed" and not r.blocking]
    if accepted:
        doc.add("Failures that do not block (waived or dry run):", "")
        doc.add(*(f"- 🟡 [{r.id}](#{anchor(r.id)}) {r.non_blocking}: {r.non_blocking_reason} — {culprit_text(r)}"
                  for r in accepted), "")
    if failing or accepted:
        doc.add("Still achieved:", "")
    doc.add(*([f"{i}. {text}" for i, (text, _) in enumerate(found, 1)] or ["(none measured)"]))
    if len(found) < 3:
        doc.add("", f"*Only {len(found)} improvement(s) could be shown from the data; the spec asks for 3-5.*")
    doc.add("", "**Success Metrics Summary** (as the gate judged each criterion: the deciding sub-series, the "
            "culprit first when it failed)", "")
    doc.table(["Criterion", "Sub-series", "Observed", "Threshold", "CP1 → Wave 1", "Gate verdict"],
              summary_rows(built))
    target = link(layout.PRODUCT_SUMMARY)
    suffix = "" if product_summary else " (not in this repository)"
    doc.add(f"**Reference**: [`{layout.PRODUCT_SUMMARY}`]({target}) - Product summary{suffix}", "", "---", "")

def _worker_reliability(doc: Doc, built: Built) -> None:
    doc.add("## Worker Reliability Results", "", "### Retry Metrics", "")
    comparison(doc, built, "Retry metrics", [
        "retry_attempts", "retry_attempts_rate", "retry_success_rate", "retry_wasted_share", "retry_per_failed_step",
        "retry_budget_mean", "retry_budget_max"])
    comparison(doc, built, "Wasted retries breakdown (retryable vs non-retryable)", ["retry_by_retryable",
                                                                                      "retry_wasted_share"])
    comparison(doc, built, "Retry success rate by error code", ["retry_success_by_code"])
    comparison(doc, built, "Exponential backoff by attempt", ["retry_backoff_p50", "retry_backoff_p95"])
    for key in ("retry_attempts", "retry_success_by_error_code", "retry_backoff_distribution", "retry_budget_usage"):
        figure(doc, built, key)
    doc.add("### Timeout Metrics", "")
    comparison(doc, built, "Timeout metrics", ["timeout_events", "timeout_events_by_operation", "timeout_rate",
                                                "timeout_duration_p95", "timeout_duration_mean"])
    doc.add("**Timeout compliance** (100 % of operations respect the timeout)", "")
    doc.table(["Check", "CP1 baseline", "Wave 1 actual", "Gate verdict"], [
        *([r[0], r[1], r[2], verdict_cell(built, cid)] for r, cid in zip(
            comparison_rows(built, ["timeout_within_total", "timeout_above_60s"]),
            ("timeout.compliance", "timeout.no_hangs"), strict=False)),
        ["worker_timeout_events_total tracked", "", compact(built, "timeout_events", "candidate") + " events",
         verdict_cell(built, "timeout.events_tracked")],
    ])
    for key in ("timeout_events_by_operation", "timeout_rate", "timeout_duration_distribution"):
        figure(doc, built, key)
    doc.add("### Queue Metrics", "")
    limits = ", ".join(f"{pool} {limit:g}" for pool, limit in sorted(built.queue_limits.items()))
    doc.add(f"max_queue_size per pool (as memory.queue_bounded judged it): {limits}." if limits else
            "max_queue_size per pool: unknown — memory.queue_bounded was not judged by this gate run.", "")
    comparison(doc, built, "Queue metrics", ["queue_depth_max", "queue_depth_mean", "queue_rejections",
                                              "queue_rejection_rate", "queue_wait_p95", "queue_critical_share"])
    comparison(doc, built, "Memory usage (before: unbounded, after: bounded)", ["memory_peak", "memory_mean"])
    for key in ("queue_depth", "queue_rejections_by_pool", "overload_status_distribution", "queue_wait_distribution"):
        figure(doc, built, key)
    doc.add("### System Availability", "")
    comparison(doc, built, "System availability", ["uptime", "restarts"])
    doc.add("**Crashes and memory exhaustion**", "")
    doc.table(["Evidence", "Wave 1 actual", "Gate verdict"], [
        ["Restarts (process_start_time_seconds changes)", compact(built, "restarts", "candidate"),
         verdict_cell(built, "availability.no_crashes")],
        ["Memory bounded (peak, growth)", gate_observed(built, "memory.bounded_usage"),
         verdict_cell(built, "memory.bounded_usage")],
        ["Graceful degradation (rejections when critical)", gate_observed(built, "availability.graceful_degradation"),
         verdict_cell(built, "availability.graceful_degradation")],
    ])
    figure(doc, built, "uptime")
    doc.add("### Performance Impact", "")
    comparison(doc, built, "Latency", [f"latency_{c}_{q}" for c in ("gateway", "router", "worker")
                                        for q in ("p50", "p95", "p99", "mean")])
    doc.add("Latency increase limit: < 5 % for p50, p95 and p99 — gate: "
            f"{verdict_cell(built, 'performance.latency_increase')}.",
            "")
    comparison(doc, built, "Throughput (neutral or positive)", ["throughput_gateway", "throughput_worker",
                                                                 "throughput_router"])
    doc.add(f"Throughput — gate: {verdict_cell(built, 'performance.throughput')}.", "")
    figure(doc, built, "latency_percentiles")
    figure(doc, built, "request_rate")
    doc.add("---", "")

def _observability(doc: Doc, built: Built) -> None:
    doc.add("## Observability Results", "", "### Prometheus Metrics Export", "")
    doc.add("**Metrics export status** (endpoint accessible, Prometheus scraping)", "")
    health: dict[str, list[str]] = {}
    for target in built.targets:
        health.setdefault(target["job"], []).append(target["health"])
    rows = []
    for component in list(built.endpoints) or ["router", "gateway", "worker"]:
        info = built.endpoints.get(component, {})
        evidence = artifact_link(built, f"endpoint:{component}", "response head")
        states = health.get(component.partition("[")[0])
        scraped = f"{states.count('up')}/{len(states)} targets up" if states else (
            built.targets_error or "no active target")
        rows.append([component, info.get("url", ""), info.get("result", ""), info.get("families", ""), scraped,
                     evidence])
    doc.table(["Component", "Endpoint", "Fetched now", "Metric families", "Prometheus scrape", "Evidence"], rows)
    doc.add(f"Gate: endpoints exported {verdict_cell(built, 'coverage.endpoints_exported')}; targets up "
            f"{verdict_cell(built, 'integration.targets_up')}; scrape success "
            f"{verdict_cell(built, 'integration.scrape_success')}"
            ".", "")
    scraper = "vmagent" if built.inputs.prometheus.backend == "victoriametrics" else "Prometheus"
    doc.add(f"**{scraper} targets** (now)", "")
    doc.table(["Job", "Instance", "Health", "Last scrape", "Last error"],
              [[t["job"], t["instance"], t["health"], t["last_scrape"][:19], shorten(t["last_error"], 80)]
               for t in sorted(built.targets, key=lambda t: (t["job"], t["instance"]))])
    screenshot(doc, built, "prometheus_targets", f"{scraper} targets page")
    doc.add("**Key metrics summary** (request rates, latencies, error rates)", "")
    doc.table(["Metric", "CP1 baseline", "Wave 1 actual", "Change", "Gate"], comparison_rows(built, [
        "key_router_decisions", "key_router_p95", "key_router_errors", "key_gateway_requests", "key_gateway_p95",
        "key_gateway_rate_limit", "key_gateway_idempotency", "key_worker_steps", "key_worker_p95",
        "key_worker_errors", "key_queue_depth"]))
    for name, title in (("router", "Router"), ("gateway", "Gateway"), ("worker", "Worker"),
                        ("worker_queue", "Worker queue depth")):
        screenshot(doc, built, f"query_{name}", f"Prometheus query page — {title}")
    for record in built.records:
        name = f"query_failing_{record.id.replace('.', '_')}"
        if f"screenshot:{name}" in built.artifacts:
            screenshot(doc, built, name, f"Prometheus graph of the query that left {record.id} inconclusive"
                       if record.verdict == INCONCLUSIVE else f"Prometheus graph of the query that failed {record.id}")
    doc.add("### CP1 Profile Execution", "")
    info = built.log_info.get("run_cp1_profile", {})
    last = info["last"][-1] if info.get("last") else ""
    doc.table(["Item", "Result"], [
        ["run_cp1_profile.sh log", artifact_link(built, "log:run_cp1_profile", "run_cp1_profile.log") +
         (f" ({info['lines']} lines)" if info else "")],
        ["Script completion status", info.get("outcome", "n/a")],
        ["Last line of the log", last or "n/a"],
        ["Components started (targets up now)", ", ".join(f"{j}: {', '.join(s)}" for j, s in sorted(health.items()))
         or built.targets_error or "no targets"],
        ["Metrics generated (series in the Wave 1 window)", ", ".join(
            f"{n}: {compact(built, k, 'candidate')}" for n, k in (("router_decisions_total", "series_router"),
                                                                   ("gateway_http_requests_total", "series_gateway"),
                                                                   ("worker_step_executions_total", "series_worker")))],
    ])
    doc.add("**Metrics validation results** (required metrics present/absent)", "")
    required = built.record("coverage.required_metrics")
    observed = required.observed if required else None
    if isinstance(observed, dict):
        doc.table(["Required metric", "Result"], [[k, v] for k, v in observed.items()])
    else:
        doc.add(f"Gate: {verdict_cell(built, 'coverage.required_metrics')} — "
                f"{gate_observed(built, 'coverage.required_metrics')}", "")
    outcome = built.log_info.get("validate_metrics", {}).get("outcome")
    doc.add(f"validate_metrics.sh: {artifact_link(built, 'log:validate_metrics', 'validate_metrics.log')}"
            + (f" — `{outcome}`" if outcome else "")
            + f" (full text in [Appendix B]({link(layout.APPENDIX_B)})).", "")
    doc.add("### Metrics Coverage and Quality", "")
    doc.table(["Check", "Gate verdict", "Observed"], [
        [cid, verdict_cell(built, cid), gate_observed(built, cid)] for cid in (
            "coverage.endpoints_exported", "coverage.required_metrics", "coverage.required_labels",
            "quality.label_cardinality", "quality.metric_types", "quality.exposition_format")])
    doc.add("**Label cardinality summary** (series per metric at the end of each window)", "")
    doc.table(["Metric", "CP1 baseline", "Wave 1 actual", "Change", "Gate"],
              comparison_rows(built, ["series_per_metric"]))
    doc.add("High-cardinality labels (run_id, flow_id, step_id) are allowed only on the detailed router_* and "
            "worker_step_* metrics; trace_id nowhere — judged by quality.label_cardinality above.", "")
    doc.add("### Performance Impact", "")
    doc.add(f"The components' /metrics endpoints answer fast: {gate_observed(built, 'performance.endpoint_latency')} "
            f"— gate: {verdict_cell(built, 'performance.endpoint_latency')}. Latency and throughput of the traffic "
            "itself: "
            "see [Worker Reliability — Performance Impact](#performance-impact).", "", "---", "")

def _errors(doc: Doc, built: Built) -> None:
    doc.add("## Error Analysis", "")
    comparison(doc, built, "Error rate", ["error_ratio_gateway", "error_ratio_router", "error_ratio_worker"])
    doc.add(f"Error rate same or lower than the baseline — gate: {verdict_cell(built, 'errors.rate_not_higher')}.", "")
    comparison(doc, built, "Error rate by error code and component", [
        "errors_worker_by_code", "errors_router_by_code", "errors_gateway_by_status", "errors_component"])
    comparison(doc, built, "Retry success rate improvement", ["retry_success_rate"])
    doc.add(f"Gate: {verdict_cell(built, 'retry.success_rate')} — {gate_observed(built, 'retry.success_rate')}.", "")
    figure(doc, built, "error_rate_by_code")
    doc.add("---", "")

def _appendix_links(doc: Doc) -> None:
    doc.add("## Appendices", "",
            "### Appendix A: Detailed Metrics",
            f"[{layout.APPENDIX_A.name}]({link(layout.APPENDIX_A)}) — every Prometheus query, its raw values and "
            f"CSV exports (`{layout.METRICS}/`), and the gate's evidence per criterion.", "",
            "### Appendix B: Execution Logs",
            f"[{layout.APPENDIX_B.name}]({link(layout.APPENDIX_B)}) — run_cp1_profile.sh and validate_metrics.sh "
            f"logs (`{layout.LOGS}/`).", "",
            "### Appendix C: Screenshots",
            f"[{layout.APPENDIX_C.name}]({link(layout.APPENDIX_C)}) — Prometheus UI screenshots "
            f"(`{layout.SCREENSHOTS}/`) and the graphs (`{layout.GRAPHS}/`).", "", "---", "")

def _validation(doc: Doc, built: Built) -> None:
    results = built.inputs.results
    summary = results.get("summary") or {}
    doc.add("## Success Criteria Validation", "",
            f"The release gate judged {len(built.records)} criteria: **{counts(summary)}** (gate status "
            f"{str(results.get('status', '?')).upper()}, exit code {results.get('exit_code', '?')}).", "",
            f"- Gate report (pytest-html, self-contained): {artifact_link(built, 'html:gate', layout.GATE_HTML.name)}",
            f"- Allure report (single file): {artifact_link(built, 'html:allure', layout.ALLURE_HTML.name)}",
            f"- Machine-readable results: [gate-results.json]({link(layout.METRICS / 'gate-results.json')})", "")
    if built.unjudged:
        doc.add(f"Not judged by this gate run: {', '.join(built.unjudged)}.", "")
    evidence = link(layout.APPENDIX_A)
    doc.table(["Criterion", "Verdict", "Observed (deciding sub-series first)", "Threshold", "Evidence"], [
        [f"{r.id} ({r.severity})", verdict_badge(r), culprit_text(r),
         shorten(render(r.threshold, r.unit), 100) if r.threshold is not None else "",
         f"[queries and values]({evidence}#{anchor(r.id)})"]
        for r in built.records])
    failing = [r for r in built.records if r.verdict in ("failed", "error", INCONCLUSIVE)]
    for record in failing:
        mark = ("❔" if record.verdict == INCONCLUSIVE else "❌") if record.blocking else f"🟡 {record.non_blocking}:"
        doc.add(f'<a id="{anchor(record.id)}"></a>', f"#### {mark} {record.id} — {record.verdict}", "",
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
        files = ", ".join(f"[{Path(p).name}]({link(PurePosixPath(p))})" for p in ticked.present[:4])
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
    rollout_section(doc, built)
    _appendix_links(doc)
    _validation(doc, built)
    return doc.text()
