"""One function per criterion kind, one module per area (mirroring tests/): each asks Prometheus and the
endpoints and returns an Observation.

Checks never pass on missing data: an empty result, NaN, a zero denominator or a missing job is a failure
that says "no data" and names what was missing. Evaluation problems (Prometheus down, an endpoint
unreachable, a query error) propagate as EvaluationError and become an ERROR verdict.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from wavegate.checks.availability import graceful_degradation as _graceful_degradation
from wavegate.checks.availability import no_restarts as _no_restarts
from wavegate.checks.availability import uptime as _uptime
from wavegate.checks.common import _le_regex, _saturated
from wavegate.checks.coverage import endpoints_exported, required_labels
from wavegate.checks.coverage import required_metrics as _required_metrics
from wavegate.checks.errors import error_ratio as _error_ratio
from wavegate.checks.generic import promql_rule as _promql_rule
from wavegate.checks.integration import rollout_provenance as _rollout_provenance
from wavegate.checks.integration import scrape_success as _scrape_success
from wavegate.checks.integration import targets_up as _targets_up
from wavegate.checks.memory import memory_bound as _memory_bound
from wavegate.checks.memory import queue_bound as _queue_bound
from wavegate.checks.performance import endpoint_latency
from wavegate.checks.performance import latency_increase as _latency_increase
from wavegate.checks.performance import throughput as _throughput
from wavegate.checks.quality import _detailed, exposition_format, metric_types
from wavegate.checks.quality import label_cardinality as _label_cardinality
from wavegate.checks.retry import backoff_growth as _backoff_growth
from wavegate.checks.retry import ratio_below as _ratio_below
from wavegate.checks.retry import retry_success_rate as _retry_success_rate
from wavegate.checks.timeout import histogram_tail as _histogram_tail
from wavegate.checks.timeout import series_tracked as _series_tracked
from wavegate.context import GateContext
from wavegate.prefetch import judged_ahead
from wavegate.verdicts import Observation

Check = Callable[[Any, GateContext], Observation]


def canary_and_fleet(check: Check) -> Check:
    """A fleet-health criterion (uptime, restarts, memory, your own rules), when the environment tells a canary
    track from the stable one, holds only when it holds on the canary track and on the whole fleet (both
    tracks): a canary's violation is not diluted by the stable instances, nor hidden from the fleet.
    Measurements are keyed by track (canary / fleet). Criteria about Wave 1's own behaviour (wasted retries,
    timeouts, backoff, queue bounds, required metrics) judge the canary track only: the stable track runs CP1,
    which lacks that behaviour by design."""

    @functools.wraps(check)
    def judged(criterion: Any, ctx: GateContext) -> Observation:
        env = ctx.environment
        canary = check(criterion, ctx)
        if not env.tracks or getattr(criterion, "compare", None) is not None:
            return canary
        fleet = check(criterion, ctx.judging(replace(env, candidate=env.fleet)))
        for measurement in canary.measurements:
            measurement.key = {**measurement.key, "track": "canary"}
        canary.measurements += [replace(m, key={**m.key, "track": "fleet"}) for m in fleet.measurements]
        canary.queries += fleet.queries
        canary.warnings += [w for w in fleet.warnings if w not in canary.warnings]
        canary.notes.append(f"also judged on the whole fleet ({env.fleet.describe()}): "
                            f"{'passed' if fleet.passed else 'not passed'}: {fleet.summary}")
        if not fleet.passed:
            canary.details += [f"whole fleet: {detail}" for detail in fleet.details]
            canary.no_data = canary.no_data or fleet.no_data
            if canary.passed or (canary.inconclusive and not fleet.inconclusive):
                canary.passed, canary.inconclusive = False, fleet.inconclusive
                canary.summary = f"whole fleet: {fleet.summary}"
        return canary

    return judged


# Each check a test calls gives what its criterion's evaluation ahead found, when there was one (prefetch).
queue_bound = judged_ahead(_queue_bound)
memory_bound = judged_ahead(canary_and_fleet(_memory_bound))
histogram_tail = judged_ahead(_histogram_tail)
series_tracked = judged_ahead(_series_tracked)
ratio_below = judged_ahead(_ratio_below)
backoff_growth = judged_ahead(_backoff_growth)
uptime = judged_ahead(canary_and_fleet(_uptime))
no_restarts = judged_ahead(canary_and_fleet(_no_restarts))
graceful_degradation = judged_ahead(_graceful_degradation)
required_metrics = judged_ahead(_required_metrics)
promql_rule = judged_ahead(canary_and_fleet(_promql_rule))
retry_success_rate = judged_ahead(_retry_success_rate)
targets_up = judged_ahead(_targets_up)
scrape_success = judged_ahead(_scrape_success)
rollout_provenance = judged_ahead(_rollout_provenance)
label_cardinality = judged_ahead(_label_cardinality)
latency_increase = judged_ahead(_latency_increase)
throughput = judged_ahead(_throughput)
error_ratio = judged_ahead(_error_ratio)

__all__ = [
    "CHECKS", "evaluate", "preflight", "reads_only_prometheus", "_detailed", "_le_regex", "_saturated",
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


def reads_only_prometheus(kind: str) -> bool:
    """Whether a kind's check asks Prometheus and nothing else (no /metrics scrape, no timed request): such
    checks can be evaluated ahead, concurrently, without changing what they measure (see wavegate.prefetch)."""
    return kind in _READS_PROMETHEUS and kind not in _READS_SCRAPES


def preflight(kind: str, ctx: GateContext) -> None:
    """Make sure the inputs of a criterion kind are reachable; raise EvaluationError naming the one that is not."""
    if kind in _READS_PROMETHEUS:
        ctx.ensure_prometheus()
    if kind in _READS_SCRAPES:
        for component in ctx.endpoints():
            ctx.scrape_ok(component)


CHECKS: dict[str, Check] = {
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
