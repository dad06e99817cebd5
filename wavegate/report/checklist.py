"""The spec's "Report Checklist" with the artifact files that back each item (paths under the output root)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wavegate.report import layout
from wavegate.report.catalogue import IMPROVEMENT_GRAPHS, SCREENSHOT_QUERIES
from wavegate.report.status import Item

if TYPE_CHECKING:
    from wavegate.report.model import Built


def _m(*keys: str) -> tuple[str, ...]:
    return tuple(str(layout.METRICS / f"{k}.csv") for k in keys)


def _latency_keys() -> tuple[str, ...]:
    return tuple(f"latency_{c}_p{q}" for c in ("gateway", "router", "worker") for q in (50, 95, 99))


def checklist_items(built: Built | None = None) -> list[Item]:
    """Required items first (they decide SUCCESSFUL vs PARTIAL), then the spec's optional ones."""
    graphs = {area: tuple(str(layout.GRAPHS / f"{k}.png") for k in keys) for area, keys in IMPROVEMENT_GRAPHS.items()}
    queries = [n for n, _ in SCREENSHOT_QUERIES if n in ("router", "gateway", "worker")]
    items = [
        Item("Executive Summary", "Deployment date and scope", (str(layout.METRICS / "gate-results.json"),)),
        Item("Executive Summary", "Feature flags status", _m("feature_flags")),
        Item("Executive Summary", "Key achievements (3-5 improvements)", _m("key_achievements")),
        Item("Executive Summary", "Success metrics summary table", _m("success_metrics_summary")),
        Item("Executive Summary", "Link to product summary", (str(layout.REPORT),)),
        Item("Worker Reliability", "Retry metrics comparison table (before/after)",
             _m("retry_attempts", "retry_success_rate")),
        Item("Worker Reliability", "Timeout metrics comparison table (before/after)", _m("timeout_events")),
        Item("Worker Reliability", "Queue metrics comparison table (before/after)", _m("queue_depth_max")),
        Item("Worker Reliability", "System availability comparison table", _m("uptime", "restarts")),
        Item("Worker Reliability", "At least 3 graphs showing improvements (retry, timeout, queue)",
             tuple(p for group in graphs.values() for p in group), minimum=3, groups=tuple(graphs.values())),
        Item("Observability", "Prometheus targets status screenshot",
             (str(layout.SCREENSHOTS / "prometheus_targets.png"),)),
        Item("Observability", "Metrics endpoints accessibility evidence",
             tuple(str(layout.LOGS / f"metrics_endpoint_{c}.txt") for c in ("router", "gateway", "worker"))),
        Item("Observability", "CP1 profile execution log", (str(layout.LOGS / "run_cp1_profile.log"),)),
        Item("Observability", "Metrics validation script results", (str(layout.LOGS / "validate_metrics.log"),)),
        Item("Observability", "At least 3 Prometheus query screenshots (Router, Gateway, Worker)",
             tuple(str(layout.SCREENSHOTS / f"query_{n}.png") for n in queries)),
        Item("Performance Impact", "Latency comparison table", _m(*_latency_keys())),
        Item("Performance Impact", "Throughput comparison table", _m("throughput_gateway", "throughput_worker")),
        Item("Performance Impact", "Performance impact analysis (<5% latency increase)", _m("performance_impact")),
        Item("Error Analysis", "Error rate comparison table",
             _m("error_ratio_gateway", "error_ratio_router", "error_ratio_worker")),
        Item("Error Analysis", "Retry success rate improvement evidence", _m("retry_success_rate")),
        Item("Validation", "Gate result bundled: self-contained pytest-html report", (str(layout.GATE_HTML),)),
        Item("Validation", "Gate result bundled: single-file Allure report", (str(layout.ALLURE_HTML),)),
        # --- optional (never change the status) ---
        Item("Worker Reliability", "Detailed retry breakdown by step type", (), required=False,
             why_missing="not produced: no report query breaks retries down by step type"),
        Item("Worker Reliability", "Detailed timeout breakdown by operation type",
             _m("timeout_events_by_operation"), required=False),
        Item("Worker Reliability", "Detailed queue breakdown by resource pool",
             _m("queue_depth_max", "queue_depth_mean"), required=False),
        Item("Worker Reliability", "Memory usage over time (detailed)", _m("memory_peak", "memory_mean"),
             required=False),
        Item("Observability", "Grafana dashboard screenshots (if available)", (), required=False,
             why_missing="no Grafana in this deployment"),
        Item("Observability", "Detailed metrics breakdown by tenant/run_id", (), required=False,
             why_missing="not produced"),
        Item("Observability", "Label cardinality detailed breakdown", _m("series_per_metric"), required=False),
        Item("Observability", "Metrics format validation results", (str(layout.METRICS / "gate-results.json"),),
             required=False),
        Item("Performance Impact", "Latency breakdown by component", _m(*_latency_keys()), required=False),
        Item("Performance Impact", "Throughput breakdown by component",
             _m("throughput_gateway", "throughput_worker", "throughput_router"), required=False),
        Item("Performance Impact", "CPU usage comparison", (), required=False, why_missing="not produced"),
        Item("Error Analysis", "Error rate breakdown by tenant", (), required=False, why_missing="not produced"),
        Item("Error Analysis", "Error rate breakdown by operation type", _m("errors_worker_by_code"),
             required=False),
        *_rollout_items(built),
    ]
    return items


def _rollout_items(built: Built | None) -> list[Item]:
    """The spec's artifacts of the deployment itself (rollout metrics, incidents, rollback evidence): optional,
    and only as a staged rollout recorded them."""
    rollout = built.rollout if built is not None else None
    if rollout is None:
        why = "no staged rollout was recorded (scripts/rollout writes rollout.json; --rollout PATH names one)"
        return [Item("Rollout", text, (), required=False, why_missing=why) for text in (
            "Rollout metrics at each stage (10 %, 50 %, 100 %)", "Incident reports (if any)",
            "Rollback evidence (if needed)")]
    folder = layout.ROLLOUT
    stopping = rollout.stopping_stage
    incident = (str(folder.joinpath(stopping.gate_output, "gate-results.json")),) if stopping is not None else ()
    rollback = (str(folder.joinpath(rollout.rollback.evidence_name, "rollback.json")),) \
        if rollout.rollback is not None and rollout.rollback.evidence_name else ()
    return [
        Item("Rollout", f"Rollout metrics at each stage ({rollout.sequence()})",
             (str(folder / "rollout_stages.csv"), str(folder / "rollout_intervals.csv")), required=False),
        Item("Rollout", "Incident reports (if any)", incident, required=False,
             why_missing="no incident: every stage passed" if stopping is None else ""),
        Item("Rollout", "Rollback evidence (if needed)", rollback, required=False,
             why_missing="no rollback was needed" if rollout.outcome == "promoted" else ""),
    ]
