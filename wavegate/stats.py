"""Intervals for judging a canary with little traffic (the rollout-stages issue builds on these).

A proportion's interval is Wilson's score interval with continuity correction (Newcombe 1998, method 4):
conservative where the plain Wilson interval under-covers (p near 0 or 1 with moderate n). A difference
of two proportions uses Newcombe's hybrid score interval built from those (method 11). A verdict from an
interval is PASSED when the whole interval is within the limit, FAILED when it is entirely beyond it, and
INCONCLUSIVE when it straddles the limit — "too little data to tell yet", never a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Z95 = 1.959963984540054  # two-sided 95 %

PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.estimate:.4g} [{self.low:.4g}, {self.high:.4g}]"


def proportion(successes: int, trials: int, z: float = Z95) -> Interval:
    """Wilson's score interval with continuity correction for successes / trials."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"a proportion needs 0 <= successes <= trials and trials > 0, not {successes}/{trials}")
    n, p = float(trials), successes / trials
    denominator = 2 * (n + z * z)
    low = 0.0 if successes == 0 else max(
        0.0, (2 * n * p + z * z - 1 - z * math.sqrt(z * z - 2 - 1 / n + 4 * p * (n * (1 - p) + 1))) / denominator)
    high = 1.0 if successes == trials else min(
        1.0, (2 * n * p + z * z + 1 + z * math.sqrt(z * z + 2 - 1 / n + 4 * p * (n * (1 - p) - 1))) / denominator)
    return Interval(p, low, high)


def difference(successes_a: int, trials_a: int, successes_b: int, trials_b: int, z: float = Z95) -> Interval:
    """Newcombe's hybrid score interval for p_a - p_b (each from its own continuity-corrected Wilson interval)."""
    a, b = proportion(successes_a, trials_a, z), proportion(successes_b, trials_b, z)
    d = a.estimate - b.estimate
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(d, max(-1.0, low), min(1.0, high))


def judge(interval: Interval, limit: float, rule: Literal["at_most", "at_least"]) -> str:
    """PASSED when the whole interval keeps the rule, FAILED when none of it does, else INCONCLUSIVE."""
    if rule == "at_most":
        return PASSED if interval.high <= limit else FAILED if interval.low > limit else INCONCLUSIVE
    return PASSED if interval.low >= limit else FAILED if interval.high < limit else INCONCLUSIVE
