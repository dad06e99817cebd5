"""How much of its allowed margin a sub-series used: the warning band of a criterion that passed.

Defined per kind from the gate's own numbers (a measurement's value, threshold and baseline), as the share of
the distance from the ideal to the threshold that the value covered: 0 at the ideal, 1 on the line, above 1
beyond it. Examples: router p99 +4.87 % against a +5 % limit used 97 %; 99.93 % uptime against 99.9 % used
70 % of the downtime budget; a throughput floor of 95 % of the baseline, met at 98 %, used 40 %.
Kinds with a yes/no threshold (a status code, "no restarts", "every target up") have no margin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

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


def used(kind: str, measurement: Measurement) -> float | None:
    """The share of the margin `measurement` used (>= 0), or None when its kind or numbers define none."""
    ideal_spec = IDEAL.get(kind)
    value, threshold = measurement.value, measurement.threshold
    ideal = measurement.baseline if ideal_spec == "baseline" else ideal_spec
    if not isinstance(ideal, float) or value is None or threshold is None:
        return None
    if not all(math.isfinite(x) for x in (value, threshold, ideal)) or threshold == ideal:
        return None
    return max(0.0, (value - ideal) / (threshold - ideal))


def most_used(kind: str, measurements: Iterable[Measurement]) -> float | None:
    shares = [share for m in measurements if (share := used(kind, m)) is not None]
    return max(shares) if shares else None
