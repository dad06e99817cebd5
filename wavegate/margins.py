"""How much of its allowed margin a sub-series used: the warning band of a criterion that passed.

Defined per kind from the gate's own numbers (a measurement's value, threshold and baseline), as the share of
the distance from the ideal to the threshold that the value covered: 0 at the ideal, 1 on the line, above 1
beyond it. Examples: router p99 +4.87 % against a +5 % limit used 97 %; 99.93 % uptime against 99.9 % used
70 % of the downtime budget; a throughput floor of 95 % of the baseline, met at 98 %, used 40 %.
Kinds with a yes/no threshold (a status code, "no restarts", "every target up") have no margin, nor has a
measurement judged by a confidence interval between tracks (its interval says how close it came).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from wavegate.verdicts import Measurement

# kind -> the ideal value: a number, or "baseline" (the measurement's own baseline). The threshold is the
# measurement's. Kinds not listed have no margin.
IDEAL: dict[str, float | str] = {
    "queue_bound": 0.0,
    "memory_bound": 0.0,
    "histogram_tail": 0.0,
    "label_cardinality": 0.0,
    "endpoint_latency": 0.0,
    "ratio_below": 0.0,
    "latency_increase": 0.0,
    "error_ratio": "baseline",
    "throughput": "baseline",
    "uptime": 1.0,
    "retry_success_rate": 1.0,
    "promql": "baseline",  # compared with the baseline: the allowed change used; an absolute bound has no ideal
}


def used(criterion: Any, measurement: Measurement) -> float | None:
    """The share of the margin `measurement` used (>= 0), or None when its kind or numbers define none.

    A sub-series the gate judged violated whose numbers stay inside the line (it failed for another reason: a
    forbidden label, no data) has no margin to show: a share under 100 % would read as a pass."""
    share = _share(criterion, measurement)
    if measurement.passed is False and (share is None or share < 1.0):
        return None
    return share


def _share(criterion: Any, measurement: Measurement) -> float | None:
    if measurement.interval is not None:
        return None  # judged by an interval between tracks: INCONCLUSIVE, not a margin, says it was close
    kind = criterion.kind
    ideal_spec = IDEAL.get(kind)
    value, threshold = measurement.value, measurement.threshold
    ideal = measurement.baseline if ideal_spec == "baseline" else ideal_spec
    if not isinstance(ideal, float) or value is None or threshold is None:
        return None
    if not all(math.isfinite(x) for x in (value, threshold, ideal)) or threshold == ideal:
        return None
    share = max(0.0, (value - ideal) / (threshold - ideal))
    growth = measurement.candidate
    if kind == "memory_bound" and growth is not None and math.isfinite(growth) and criterion.max_growth > 0:
        share = max(share, growth / criterion.max_growth)  # peak against the ceiling, growth against its limit
    return share


def most_used(criterion: Any, measurements: Iterable[Measurement], verdict: str) -> float | None:
    """The criterion's share: its most-used sub-series; for a criterion that did not pass, only among those
    the gate judged violated (a passing sub-series says nothing about a failure)."""
    measurements = list(measurements)
    if verdict != "passed":
        measurements = [m for m in measurements if m.passed is False]
    shares = [share for m in measurements if (share := used(criterion, m)) is not None]
    return max(shares) if shares else None
