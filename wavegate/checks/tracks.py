"""Judging a canary against the stable track by confidence intervals (see wavegate.stats).

Each relative criterion between tracks gives an interval on the quantity its limit is about. The interval
decides: within the limit, PASSED; entirely beyond it, FAILED; straddling it, or fewer observations than the
criterion's `min_samples` on either track, INCONCLUSIVE, with how much more traffic (and time, at the rate seen)
would decide it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from wavegate import stats
from wavegate.durations import format_duration
from wavegate.verdicts import Observation, render


@dataclass
class Judged:
    """The outcome of one interval: the verdict and a sentence for people (empty when passed)."""

    verdict: str
    text: str


def judge_interval(obs: Observation, key: dict[str, str], interval: stats.Interval, limit: float,
                   rule: Literal["at_most", "at_least"], *, what: str, unit: str, confidence: float, method: str,
                   samples: tuple[float, float], min_samples: int, seconds: float, noun: str = "observations",
                   baseline: float | None = None, candidate: float | None = None) -> Judged:
    """Record the measurement `key` with its interval and judge it (see the module's docstring); `samples` are
    the stable and canary observation counts, `seconds` the window's length."""
    shown = f"{render(interval.estimate, unit)} [{render(interval.low, unit)}, {render(interval.high, unit)}]"
    sign = "<=" if rule == "at_most" else ">="
    few = min(samples) < min_samples
    verdict = stats.INCONCLUSIVE if few else stats.judge(interval, limit, rule)
    record = {"estimate": interval.estimate, "low": interval.low, "high": interval.high, "limit": limit,
              "rule": rule, "confidence": confidence, "method": method,
              "samples": {"baseline": samples[0], "candidate": samples[1]}, "min_samples": min_samples}
    obs.measure(key, interval.estimate, unit=unit, threshold=limit, baseline=baseline, candidate=candidate,
                passed=True if verdict == stats.PASSED else False if verdict == stats.FAILED else None,
                interval=record, verdict=verdict,
                cause=None if verdict == stats.PASSED else verdict)
    level = f"{confidence * 100:g} %"
    if verdict == stats.PASSED:
        return Judged(verdict, "")
    if verdict == stats.FAILED:
        return Judged(verdict, f"{what}: {shown} ({level} interval) lies entirely beyond the limit ({sign} "
                               f"{render(limit, unit)}) [{method}]")
    counts = f"{samples[1]:.0f} canary and {samples[0]:.0f} stable {noun}"
    if few:
        factor = min_samples / max(min(samples), 1.0)
        return Judged(verdict, f"{what}: only {counts}, fewer than min_samples {min_samples} on a track; "
                               f"{_more(factor, samples, seconds, noun)} (estimate so far {shown})")
    needed = stats.more_data(interval, limit)
    hint = "the estimate sits on the limit, so more data will not decide it soon" if needed is None else \
        _more(needed, samples, seconds, noun)
    return Judged(verdict, f"{what}: {shown} ({level} interval, {counts}) straddles the limit ({sign} "
                           f"{render(limit, unit)}); {hint} [{method}]")


def _more(factor: float, samples: tuple[float, float], seconds: float, noun: str) -> str:
    """"about 3.2x the traffic so far (~2,100 more canary observations, ~4m at this rate) would decide it"."""
    extra = max(0.0, (factor - 1) * samples[1])
    time = format_duration(math.ceil((factor - 1) * seconds)) if seconds > 0 and math.isfinite(factor) else "?"
    return (f"about {factor:.1f}x the traffic so far (~{extra:,.0f} more canary {noun}, ~{time} more at this rate) "
            "would decide it")
