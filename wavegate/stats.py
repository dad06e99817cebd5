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
from statistics import NormalDist
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


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for a confidence level (0.95 -> 1.96)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def combination(a: Interval, b: Interval, factor: float = 1.0, offset: float = 0.0) -> Interval:
    """An interval for a - factor * b - offset from intervals on a and b (MOVER: Zou & Donner 2008, the
    method behind Newcombe's difference interval, for any linear combination of independent estimates)."""
    d = a.estimate - factor * b.estimate - offset
    low = d - math.sqrt((a.estimate - a.low) ** 2 + (factor * (b.high - b.estimate)) ** 2)
    high = d + math.sqrt((a.high - a.estimate) ** 2 + (factor * (b.estimate - b.low)) ** 2)
    return Interval(d, low, high)


def rate_ratio(count_a: int, exposure_a: float, count_b: int, exposure_b: float, z: float = Z95) -> Interval:
    """An interval for (count_a / exposure_a) / (count_b / exposure_b), two Poisson rates: given the total, a's
    share of the counts is binomial, and its Wilson interval maps onto the ratio."""
    if exposure_a <= 0 or exposure_b <= 0 or count_a + count_b <= 0:
        raise ValueError("a rate ratio needs positive exposures and at least one count")
    share = proportion(count_a, count_a + count_b, z)
    scale = exposure_b / exposure_a

    def ratio(p: float) -> float:
        return math.inf if p >= 1 else p / (1 - p) * scale

    return Interval(ratio(share.estimate), ratio(share.low), ratio(share.high))


def mean_ratio(mean_a: float, variance_a: float, n_a: float, mean_b: float, variance_b: float, n_b: float,
               z: float = Z95) -> Interval:
    """An interval for mean_a / mean_b of two independent samples (delta method on the log of the ratio)."""
    if min(mean_a, mean_b) <= 0 or min(n_a, n_b) < 2:
        raise ValueError("a ratio of means needs positive means and at least two observations each")
    spread = math.sqrt(max(variance_a, 0.0) / (n_a * mean_a ** 2) + max(variance_b, 0.0) / (n_b * mean_b ** 2))
    ratio = mean_a / mean_b
    return Interval(ratio, ratio * math.exp(-z * spread), ratio * math.exp(z * spread))


def more_data(interval: Interval, limit: float) -> float | None:
    """How many times the data so far would decide an interval that straddles `limit`, if the estimate held and
    the interval narrowed as 1/sqrt(n): the side that crosses the limit must shrink to the estimate's distance
    from it. None when the estimate sits on the limit (no amount of data decides it)."""
    if interval.estimate < limit:
        width, distance = interval.high - interval.estimate, limit - interval.estimate
    else:
        width, distance = interval.estimate - interval.low, interval.estimate - limit
    if distance <= 1e-12 * max(1.0, abs(limit)) or not math.isfinite(width):
        return None
    return max(1.0, (width / distance) ** 2)
