"""Helpers every check uses: finite values, building a verdict, no data, bucket counts."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeGuard

from wavegate import criteria as c
from wavegate import promql
from wavegate.context import GateContext, Probe
from wavegate.endpoints import Scrape
from wavegate.errors import ScrapeFailed
from wavegate.settings import Window, format_duration
from wavegate.verdicts import Observation

EPSILON = 1e-9


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def _verdict(observation: Observation, failures: list[str], ok: str, undecided: list[str] | None = None) -> Observation:
    """Fill in the summary from the list of violations (empty = passed) and of what the data cannot decide yet
    (no violation, but undecided: INCONCLUSIVE); the first violation is the worst offender unless the check
    named one."""
    if undecided and not failures:
        observation.passed, observation.inconclusive = False, True
        observation.summary = f"inconclusive: {undecided[0]}"
        observation.details.extend(undecided)
        return observation
    observation.details.extend(failures)
    if undecided:
        observation.notes.extend(f"also undecided: {text}" for text in undecided)
    if failures and not observation.worst:
        observation.worst = failures[0]
    if failures and observation.passed:
        observation.passed = False
    if observation.passed:
        observation.summary = ok
    elif not observation.summary:
        observation.summary = failures[0] if failures else "failed"
    return observation


def conclude(observation: Observation, failures: list[str], ok: str, probe: Probe | None = None,
             undecided: list[str] | None = None) -> Observation:
    """The one way every check ends: its violations (none = the criterion holds), a measured value that is
    missing or not finite as "no data" (never a pass), the worst offender, and, for a check that queried
    Prometheus, its queries as evidence and the warnings policy."""
    failures = list(failures)
    for measurement in observation.measurements:
        if measurement.passed is not False and not _finite(measurement.value):
            measurement.passed, measurement.cause = False, "no data"
            observation.no_data = True
            shown = ", ".join(f"{k}={v}" for k, v in measurement.key.items()) or "the value"
            failures.append(f"no data: {shown} is {measurement.value}")
    _verdict(observation, failures, ok, undecided)
    return probe.finish(observation) if probe is not None else observation


def no_data(observation: Observation, what: str, probe: Probe | None = None) -> Observation:
    """End a check that has nothing to judge: a failure that says "no data" and names what was missing."""
    _no_data(observation, what)
    return probe.finish(observation) if probe is not None else observation


def _no_data(observation: Observation, what: str) -> Observation:
    observation.passed = False
    observation.no_data = True
    observation.summary = f"no data: {what}"
    return observation


def _le_regex(bound: float) -> str:
    """A regex for `le` matching both spellings of `bound` (Go prints 30, Python 30.0), escaped for a PromQL
    double-quoted string."""
    whole, _, fraction = repr(float(bound)).partition(".")
    fraction = fraction.rstrip("0")
    pattern = re.escape(f"{whole}.{fraction}") + "0*" if fraction else re.escape(whole) + r"(\.0+)?"
    return pattern.replace("\\", "\\\\")


def _samples(probe: Probe, selector: str, window: Window) -> int | None:
    result = probe.at(f"sum(count_over_time({selector}[{format_duration(window.seconds)}]))", window.end,
                      track=window.matchers)
    value = result.scalar()
    return int(value) if _finite(value) else None


def _bucket_counts(probe: Probe, histogram: str, window: Any) -> dict[float, float]:
    """Observations per bucket bound (cumulative, as exposed) over the window; "30" and "30.0" add up."""
    result = probe.over(f"sum by (le) (increase({histogram}_bucket[$W]))", window)
    counts: dict[float, float] = {}
    for series in result.series:
        try:
            bound = float(series.labels.get("le", "nan"))
        except ValueError:
            continue
        counts[bound] = counts.get(bound, 0.0) + series.value
    return counts


def _saturated(counts: dict[float, float], q: float) -> float | None:
    """The largest finite bound when quantile q lies above it (histogram_quantile would report that bound)."""
    finite = [b for b in counts if math.isfinite(b)]
    total = counts.get(math.inf)
    if not finite or not _finite(total):
        return None
    top = max(finite)
    return top if q * total > counts[top] + EPSILON else None




def _raise_unreachable_unless_violated(unreachable: list[str], failures: list[str]) -> None:
    if unreachable and not failures:
        raise ScrapeFailed("; ".join(unreachable))


def _required_in_scrapes(ctx: GateContext) -> list[tuple[str, str, c.MetricSpec, Scrape]]:
    return [(endpoint, name, spec, ctx.scrape_ok(endpoint)) for component, name, spec in ctx.contract.required()
            for endpoint in ctx.endpoints(component)]


def _counted(probe: Probe, expression: str, window: Window, obs: Observation) -> float | None:
    """The value of a counter expression over the window, 0 when its counter family has series but none
    with the selected label values (a gateway that served no 5xx at all); None when the family has no
    series at all (never exported, or an error counter never initialised: no data)."""
    value = probe.over(expression, window).scalar()
    if value is not None:
        return value
    names = sorted(promql.increase_families(expression))
    if not names:
        return None
    # one selector per family, so that each is read from the job of the component that owns it
    present = probe.over(f"count({' or '.join(f'last_over_time({name}[$W])' for name in names)})", window).scalar()
    if _finite(present) and present > 0:
        obs.notes.append(f"{', '.join(names)} has series in the {window.name} window but none with the selected "
                         "label values: counted as 0")
        return 0.0
    return None


def bucket_quantile(q: float, cumulative: dict[float, float]) -> float:
    """The q-quantile of cumulative bucket counts (upper bound -> count), step for step as Prometheus 2.42's
    histogram_quantile computes it (promql/quantile.go bucketQuantile), so a quantile computed from bucket
    counts already in hand equals the one PromQL would answer for the same counts:
    NaN q -> NaN, q < 0 -> -Inf, q > 1 -> +Inf; no +Inf bucket, fewer than 2 buckets or no observations
    -> NaN; counts made monotonic (each at least the one below); linear inside the bucket, from 0 for the
    lowest bucket when its upper bound is above 0 (else that bound); in the +Inf bucket, the largest finite
    bound."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    # Equal bounds ("30" and "30.0") arrive already added up: one entry per bound, sorted.
    bounds = sorted(cumulative)
    if not bounds or not math.isinf(bounds[-1]) or bounds[-1] < 0:
        return math.nan
    counts = _monotonic([cumulative[b] for b in bounds])
    if len(bounds) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = _search(len(bounds) - 1, lambda i: counts[i] >= rank)
    if b == len(bounds) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, end, count = 0.0, bounds[b], counts[b]
    if b > 0:
        start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    return start + (end - start) * _divide(rank, count)


def _monotonic(counts: list[float]) -> list[float]:
    """Each count raised to the largest one below it (Prometheus' ensureMonotonic; NaN left as it is)."""
    out = list(counts)
    highest = out[0]
    for i in range(1, len(out)):
        if out[i] > highest:
            highest = out[i]
        elif out[i] < highest:
            out[i] = highest
    return out


def _search(n: int, holds: Callable[[int], bool]) -> int:
    """The smallest i in [0, n) for which holds(i), by Go's sort.Search (a binary search: the same answer as
    Prometheus' even where NaN counts make the predicate not monotonic); n when there is none."""
    low, high = 0, n
    while low < high:
        middle = (low + high) // 2
        if not holds(middle):
            low = middle + 1
        else:
            high = middle
    return low


def _divide(a: float, b: float) -> float:
    """a / b with IEEE 754 results where Python raises: x/0 is ±Inf, 0/0 and NaN/0 are NaN."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)
