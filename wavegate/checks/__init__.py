"""One function per criterion kind, one module per area (mirroring tests/): each asks Prometheus and the
endpoints and returns an Observation.

Checks never pass on missing data: an empty result, NaN, a zero denominator or a missing job is a failure
that says "no data" and names what was missing. Evaluation problems (Prometheus down, an endpoint
unreachable, a query error) propagate as EvaluationError and become an ERROR verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wavegate.checks.availability import graceful_degradation, no_restarts, uptime
from wavegate.checks.common import _le_regex, _saturated
from wavegate.checks.coverage import endpoints_exported, required_labels, required_metrics
from wavegate.checks.errors import error_ratio
from wavegate.checks.generic import promql_rule
from wavegate.checks.integration import rollout_provenance, scrape_success, targets_up
from wavegate.checks.memory import memory_bound, queue_bound
from wavegate.checks.performance import endpoint_latency, latency_increase, throughput
from wavegate.checks.quality import _detailed, exposition_format, label_cardinality, metric_types
from wavegate.checks.retry import backoff_growth, ratio_below, retry_success_rate
from wavegate.checks.timeout import histogram_tail, series_tracked
from wavegate.context import GateContext
from wavegate.verdicts import Observation

__all__ = [
    "CHECKS", "evaluate", "preflight", "_detailed", "_le_regex", "_saturated",
    "backoff_growth", "endpoint_latency", "endpoints_exported", "error_ratio", "exposition_format",
    "graceful_degradation", "histogram_tail", "label_cardinality", "latency_increase", "memory_bound",
    "metric_types", "no_restarts", "promql_rule", "queue_bound", "ratio_below", "required_labels", "required_metrics",
    "retry_success_rate", "rollout_provenance", "scrape_success", "series_tracked", "targets_up", "throughput",
    "uptime",
]

# What each kind reads besides its own judging: `preflight` fetches it during test setup, so an
# unreachable input is an ERROR before the check runs. Kinds that judge reachability itself
# (endpoints_exported, endpoint_latency) read nothing up front.
_READS_PROMETHEUS = {
    "queue_bound", "memory_bound", "histogram_tail", "series_tracked", "retry_success_rate", "ratio_below",
    "backoff_growth", "uptime", "no_restarts", "graceful_degradation", "required_metrics", "targets_up",
    "scrape_success", "label_cardinality", "latency_increase", "throughput", "error_ratio", "rollout_provenance",
    "promql",
}
_READS_SCRAPES = {"required_metrics", "required_labels", "label_cardinality", "metric_types", "exposition_format"}


def preflight(kind: str, ctx: GateContext) -> None:
    """Make sure the inputs of a criterion kind are reachable; raise EvaluationError naming the one that is not."""
    if kind in _READS_PROMETHEUS:
        ctx.ensure_prometheus()
    if kind in _READS_SCRAPES:
        for component in ctx.environment.components:
            ctx.scrape_ok(component)


CHECKS: dict[str, Callable[[Any, GateContext], Observation]] = {
    "queue_bound": queue_bound,
    "memory_bound": memory_bound,
    "histogram_tail": histogram_tail,
    "series_tracked": series_tracked,
    "retry_success_rate": retry_success_rate,
    "ratio_below": ratio_below,
    "backoff_growth": backoff_growth,
    "uptime": uptime,
    "no_restarts": no_restarts,
    "graceful_degradation": graceful_degradation,
    "endpoints_exported": endpoints_exported,
    "required_metrics": required_metrics,
    "required_labels": required_labels,
    "targets_up": targets_up,
    "scrape_success": scrape_success,
    "rollout_provenance": rollout_provenance,
    "label_cardinality": label_cardinality,
    "metric_types": metric_types,
    "exposition_format": exposition_format,
    "latency_increase": latency_increase,
    "throughput": throughput,
    "endpoint_latency": endpoint_latency,
    "error_ratio": error_ratio,
    "promql": promql_rule,
}


def evaluate(criterion: Any, ctx: GateContext) -> Observation:
    """Judge one criterion with the check of its kind."""
    return CHECKS[criterion.kind](criterion, ctx)
