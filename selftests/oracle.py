"""A reference evaluator for the history criteria: each criterion's true value and verdict, computed from
the raw samples a history holds (what Prometheus stores), with no PromQL and nothing from `wavegate`.

The rules are the gate's documented ones (windows [s, e], W = e - s):

- a counter series' window increase starts from its last sample at or before s (looked for in [s - W, s];
  none there: the series was born in the window and starts from 0) and adds each step up to e, a drop
  counting as a reset to 0. What no sample shows is not counted.
- availability, restarts and memory are judged per instance from raw samples (see `uptime`, `restarts`
  and `memory`).

`evaluate` returns one `Truth` per criterion: the verdict, the true values, the cause, and the margin: how
far the deciding values lie from their thresholds, in units of MARGINS (>= 1 means a gate that computes
within that tolerance cannot flip the verdict).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Points = Sequence[tuple[float, float]]

JOBS = ("router", "gateway", "worker")
EXPECTED_INTERVAL = 15.0  # the environment's scrape_interval: the fallback when a job has fewer than 2 samples

# Thresholds of criteria/wave1.yaml.
THROUGHPUT_TOLERANCE = 0.02
ERROR_TOLERANCE = 0.05
WASTED_MAXIMUM = 0.05
SUCCESS_MINIMUM = 0.80
UPTIME_MINIMUM = 0.999
UPTIME_LOOKBACK = 600.0
FRESH_INTERVALS = 2.0
GONE_INTERVALS = 3.0
REPLACEMENT_INTERVALS = 4.0
MEMORY_CEILING = 1073741824.0
MEMORY_MAX_GROWTH = 0.20
MEMORY_MIN_LIFE = 0.25

THROUGHPUT_COUNTERS = ("gateway_http_requests_total", "worker_step_executions_total")
HISTOGRAM = "worker_step_execution_duration_seconds"

# A margin of 1 is this far from a threshold (see Truth.margin).
MARGINS: dict[str, float] = {
    "performance.throughput": 0.015,  # candidate/baseline rate ratio, absolute
    "errors.rate_not_higher": 0.02,  # candidate ratio relative to baseline x 1.05
    "retry.wasted_below_5pct": 0.0025,  # wasted share, absolute
    "retry.success_rate": 0.01,  # success rate, absolute (vs 0.80 and vs the baseline's)
    "timeout.no_hangs": 1.0,  # observations (counts are whole numbers)
    "timeout.compliance": 1.0,
    "availability.uptime": 0.0002,  # uptime ratio, absolute (1.44 s of a 2 h window)
    "availability.no_crashes": 0.5,  # scrape intervals between a replacement's ends and their limits
    "memory.bounded_usage": 0.01,  # peak / ceiling and growth, relative resp. absolute
}
LIFE_MARGIN_SECONDS = 60.0  # an instance's life in the window vs W/4 (judged on growth or not)

CRITERIA = tuple(MARGINS)


class SeriesLike(Protocol):
    """What the oracle reads of a series (harness.Series fits)."""

    @property
    def name(self) -> str: ...

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def points(self) -> Points: ...


@dataclass(frozen=True)
class Window:
    name: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Truth:
    """One criterion's true verdict, values and cause.

    `margin`: when passed, the smallest distance of any judged value from its threshold; when failed, the
    largest distance among the violations (one clear violation decides). In units of MARGINS[criterion];
    infinite for categorical findings (no data, a restart, a NaN).
    """

    criterion: str
    passed: bool
    values: dict[str, Any] = field(default_factory=dict)
    cause: str = ""
    margin: float = math.inf

    @property
    def verdict(self) -> str:
        return "passed" if self.passed else "failed"

    def describe(self) -> str:
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.values.items())
        return f"{self.criterion}: {self.verdict} (margin {self.margin:.3g}) - {self.cause} [{shown}]"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


class _Judgement:
    """Collects a criterion's comparisons and turns them into a Truth."""

    def __init__(self, criterion: str) -> None:
        self.criterion = criterion
        self.unit = MARGINS[criterion]
        self.violations: list[tuple[str, float]] = []
        self.passing: list[float] = []
        self.values: dict[str, Any] = {}

    def compare(self, ok: bool, distance: float, violation: str) -> None:
        """A comparison with a threshold; `distance` in the criterion's natural units."""
        scaled = abs(distance) / self.unit
        if ok:
            self.passing.append(scaled)
        else:
            self.violations.append((violation, scaled))

    def near(self, distance: float) -> None:
        """A passing fact that lies `distance` (natural units) from turning into a violation."""
        self.passing.append(abs(distance) / self.unit)

    def fail(self, violation: str) -> None:
        """A categorical violation (no data, a restart, a NaN)."""
        self.violations.append((violation, math.inf))

    def truth(self, ok_cause: str) -> Truth:
        if self.violations:
            return Truth(self.criterion, False, self.values, "; ".join(v for v, _ in self.violations),
                         max(d for _, d in self.violations))
        return Truth(self.criterion, True, self.values, ok_cause, min(self.passing, default=math.inf))


# --- Raw samples ----------------------------------------------------------------------------------


class Samples:
    """The series of a history, indexed by metric name."""

    def __init__(self, series: Iterable[SeriesLike]) -> None:
        self.by_name: dict[str, list[SeriesLike]] = {}
        for s in series:
            self.by_name.setdefault(s.name, []).append(s)

    def family(self, name: str, **match: str) -> list[SeriesLike]:
        return [s for s in self.by_name.get(name, []) if all(s.labels.get(k) == v for k, v in match.items())]


def between(points: Points, start: float, end: float) -> list[tuple[float, float]]:
    """The points with start <= t <= end (closed, as Prometheus 2.42's range selectors)."""
    return [(t, v) for t, v in points if start <= t <= end]


def has_samples(points: Points, window: Window) -> bool:
    return any(window.start <= t <= window.end for t, _ in points)


def counter_increase(points: Points, start: float, end: float) -> float:
    """A counter series' increase over [start, end] (see the module docstring)."""
    width = end - start
    finite = [(t, v) for t, v in points if start - width <= t <= end and math.isfinite(v)]
    previous = 0.0
    for t, v in finite:
        if t <= start:
            previous = v
    total = 0.0
    for t, v in finite:
        if t <= start:
            continue
        total += v - previous if v >= previous else v
        previous = v
    return total


def family_increase(series: Iterable[SeriesLike], window: Window) -> float | None:
    """Sum of the window increases of the series with a sample in the window; None when there is none."""
    present = [s for s in series if has_samples(s.points, window)]
    if not present:
        return None
    return sum(counter_increase(s.points, window.start, window.end) for s in present)


# --- Counter criteria -----------------------------------------------------------------------------


def throughput(samples: Samples, baseline: Window, candidate: Window) -> Truth:
    judge = _Judgement("performance.throughput")
    floor = 1 - THROUGHPUT_TOLERANCE
    for counter in THROUGHPUT_COUNTERS:
        before = family_increase(samples.family(counter), baseline)
        after = family_increase(samples.family(counter), candidate)
        rates = {w.name: None if v is None else v / w.seconds for w, v in ((baseline, before), (candidate, after))}
        judge.values[counter] = rates
        if before is None or before <= 0:
            judge.fail(f"{counter}: no data in the baseline window ({before})")
            continue
        if after is None:
            judge.fail(f"{counter}: no data in the candidate window")
            continue
        ratio = (after / candidate.seconds) / (before / baseline.seconds)
        judge.values[f"{counter} ratio"] = ratio
        judge.compare(ratio >= floor, ratio - floor, f"{counter}: candidate/baseline {ratio:.4f} < {floor:g}")
    return judge.truth("throughput neutral or better")


ERROR_RATIOS: dict[str, tuple[tuple[str, dict[str, str]], str]] = {
    "gateway": (("gateway_http_requests_total", {"status_code": "5.."}), "gateway_http_requests_total"),
    "router": (("router_errors_total", {}), "router_decisions_total"),
    "worker": (("worker_step_errors_total", {}), "worker_step_executions_total"),
}


def _matches(labels: Mapping[str, str], patterns: Mapping[str, str]) -> bool:
    """Label filters; a value of '5..' means a status code 500-599 (the only regex the criteria use)."""
    for key, pattern in patterns.items():
        value = labels.get(key, "")
        if pattern == "5..":
            if not (len(value) == 3 and value.startswith("5")):
                return False
        elif value != pattern:
            return False
    return True


def _ratio(samples: Samples, numerator: tuple[str, dict[str, str]], denominator: str,
           window: Window) -> tuple[float | None, str]:
    name, patterns = numerator
    family = samples.family(name)
    below = family_increase(samples.family(denominator), window)
    if below is None or below == 0:
        return None, f"denominator {denominator} is {below} in the {window.name} window (no data)"
    if not any(has_samples(s.points, window) for s in family):
        return None, f"{name} has no series in the {window.name} window (no data)"
    above = family_increase([s for s in family if _matches(s.labels, patterns)], window) or 0.0
    return above / below, ""


def error_ratios(samples: Samples, baseline: Window, candidate: Window) -> Truth:
    judge = _Judgement("errors.rate_not_higher")
    factor = 1 + ERROR_TOLERANCE
    for component, (numerator, denominator) in ERROR_RATIOS.items():
        before, why_before = _ratio(samples, numerator, denominator, baseline)
        after, why_after = _ratio(samples, numerator, denominator, candidate)
        judge.values[component] = {"baseline": before, "candidate": after}
        if before is None or after is None:
            judge.fail(f"{component}: {why_before or why_after}")
            continue
        limit = before * factor
        if limit == 0:
            judge.compare(after == 0, math.inf, f"{component}: {after:.5f} > baseline 0")
            continue
        judge.compare(after <= limit, after / limit - 1,
                      f"{component}: error ratio {after:.5f} > baseline {before:.5f} x {factor:g}")
    return judge.truth("no component's error ratio rose")


def wasted_retries(samples: Samples, candidate: Window) -> Truth:
    judge = _Judgement("retry.wasted_below_5pct")
    family = samples.family("worker_retry_attempts_total")
    total = family_increase(family, candidate)
    if not total:
        judge.fail(f"the denominator is {total} in the candidate window (no data)")
        return judge.truth("")
    wasted = family_increase([s for s in family if s.labels.get("retryable") == "false"], candidate) or 0.0
    share = wasted / total
    judge.values.update(wasted=wasted, attempts=total, share=share)
    judge.compare(share < WASTED_MAXIMUM, share - WASTED_MAXIMUM, f"{share:.4f} of retry attempts were not retryable")
    return judge.truth(f"{share:.4f} wasted")


PairKey = tuple[str, str, str, str]  # job, instance, error_code, step_type


def _pair(labels: Mapping[str, str]) -> PairKey:
    return (labels.get("job", ""), labels.get("instance", ""), labels.get("error_code", ""),
            labels.get("step_type", ""))


def success_rate(samples: Samples, window: Window) -> tuple[float | None, float, list[str], int]:
    """(attempt-weighted rate, attempts, problems, pairs) of one window."""
    attempts: dict[PairKey, float] = {}
    for s in samples.family("worker_retry_attempts_total"):
        if has_samples(s.points, window):
            key = _pair(s.labels)
            attempts[key] = attempts.get(key, 0.0) + counter_increase(s.points, window.start, window.end)
    gauges: dict[PairKey, list[float]] = {}
    for s in samples.family("worker_retry_success_rate"):
        gauges.setdefault(_pair(s.labels), []).extend(v for _, v in between(s.points, window.start, window.end))
    problems: list[str] = []
    rows: list[tuple[float, float]] = []
    for key, weight in sorted(attempts.items()):
        if weight <= 0:
            continue
        values = gauges.get(key, [])
        if not values:
            problems.append(f"{key}: {weight:.0f} attempts in the {window.name} window but no gauge sample (no data)")
        elif any(math.isnan(v) for v in values):
            problems.append(f"{key}: NaN gauge samples in the {window.name} window with {weight:.0f} attempts")
        elif any(not 0 <= v <= 1 for v in values):
            problems.append(f"{key}: gauge outside 0..1 in the {window.name} window (data error)")
        else:
            rows.append((statistics.fmean(values), weight))
    total = sum(w for _, w in rows)
    rate = sum(r * w for r, w in rows) / total if rows and total > 0 and not problems else None
    return rate, total, problems, len(rows)


def retry_success(samples: Samples, baseline: Window, candidate: Window) -> Truth:
    judge = _Judgement("retry.success_rate")
    after, attempts, problems, pairs = success_rate(samples, candidate)
    judge.values.update(candidate=after, attempts=attempts, pairs=pairs)
    for problem in problems:
        judge.fail(problem)
    if problems:
        return judge.truth("")
    if after is None:
        judge.fail("no retry attempts with a success-rate gauge in the candidate window (no data)")
        return judge.truth("")
    judge.compare(after > SUCCESS_MINIMUM, after - SUCCESS_MINIMUM, f"rate {after:.4f} <= {SUCCESS_MINIMUM}")
    before, _, problems, pairs = success_rate(samples, baseline)
    judge.values.update(baseline=before, baseline_pairs=pairs)
    for problem in problems:
        judge.fail(problem)
    if before is not None and not problems:
        judge.compare(after > before, after - before, f"rate {after:.4f} <= baseline {before:.4f}")
    return judge.truth(f"rate {after:.4f}")


def _le(labels: Mapping[str, str]) -> float | None:
    try:
        return float(labels.get("le", ""))
    except ValueError:
        return None


def histogram_above(samples: Samples, window: Window, bound: float) -> tuple[float | None, float, dict[str, float]]:
    """(observations above `bound` summed over children, total observations, per-child counts above);
    None when the histogram has no +Inf series in the window."""
    children: dict[tuple[tuple[str, str], ...], dict[str, float]] = {}
    for s in samples.family(f"{HISTOGRAM}_bucket"):
        le = _le(s.labels)
        if le not in (math.inf, bound) or not has_samples(s.points, window):
            continue
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        side = "inf" if le == math.inf else "bound"
        row = children.setdefault(key, {})
        row[side] = row.get(side, 0.0) + counter_increase(s.points, window.start, window.end)
    if not any("inf" in row for row in children.values()):
        return None, 0.0, {}
    total = sum(row.get("inf", 0.0) for row in children.values())
    per_child = {",".join(f"{k}={v}" for k, v in key if k not in ("job",)): row["inf"] - row["bound"]
                 for key, row in children.items() if "inf" in row and "bound" in row}
    return sum(per_child.values()), total, per_child


def histogram_tail(samples: Samples, candidate: Window, criterion: str, bound: float) -> Truth:
    judge = _Judgement(criterion)
    above, total, per_child = histogram_above(samples, candidate, bound)
    judge.values.update(above=above, total=total)
    if above is None:
        judge.fail(f"{HISTOGRAM}_bucket has no series in the candidate window (no data)")
        return judge.truth("")
    judge.values["children"] = {k: v for k, v in per_child.items() if v}
    if above > 0:
        judge.fail(f"{above:g} observations above {bound:g} s")
    elif total <= 0:
        judge.fail("no observations in the candidate window (no data)")
    return judge.truth(f"no observation above {bound:g} s")


# --- Availability ---------------------------------------------------------------------------------


def _spacings(points: Points) -> list[float]:
    return [b[0] - a[0] for a, b in zip(points, points[1:], strict=False) if b[0] > a[0]]


def median_interval(series: Iterable[Points], fallback: float) -> float:
    spacing = [d for points in series for d in _spacings(points)]
    return statistics.median(spacing) if spacing else fallback


def _union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def down_time(instances: Mapping[str, Points], start: float, end: float,
              expected: float = EXPECTED_INTERVAL) -> float:
    """Seconds of [start, end] in which the job was down: an observed instance's latest `up` sample is
    not 1, or no instance is observed (its latest sample older than FRESH_INTERVALS of its own interval).
    `instances` hold the `up` samples from UPTIME_LOOKBACK before start up to end."""
    series = [list(points) for points in instances.values() if points]
    job = median_interval(series, expected)
    observed: list[tuple[float, float]] = []
    failing: list[tuple[float, float]] = []
    for points in series:
        own_spacing = _spacings(points)
        own = statistics.median(own_spacing) if own_spacing else job
        for index, (t, value) in enumerate(points):
            until = t + FRESH_INTERVALS * own
            if index + 1 < len(points):
                until = min(until, points[index + 1][0])
            observed.append((t, until))
            if value != 1:
                failing.append((t, until))
    clip = [(max(a, start), min(b, end)) for a, b in observed if b > start and a < end]
    gaps: list[tuple[float, float]] = []
    cursor = start
    for a, b in _union(clip):
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        gaps.append((cursor, end))
    failing = [(max(a, start), min(b, end)) for a, b in failing if b > start and a < end]
    return sum(b - a for a, b in _union(gaps + failing))


def _by_instance(series: Iterable[SeriesLike], start: float, end: float) -> dict[str, list[tuple[float, float]]]:
    grouped: dict[str, list[tuple[float, float]]] = {}
    for s in series:
        points = between(s.points, start, end)
        if points:
            grouped.setdefault(s.labels.get("instance", ""), []).extend(points)
    for points in grouped.values():
        points.sort()
    return grouped


def uptime(samples: Samples, candidate: Window, jobs: Sequence[str] = JOBS) -> Truth:
    judge = _Judgement("availability.uptime")
    for job in jobs:
        instances = _by_instance(samples.family("up", job=job), candidate.start - UPTIME_LOOKBACK, candidate.end)
        down = down_time(instances, candidate.start, candidate.end)
        value = 1 - down / candidate.seconds
        judge.values[job] = value
        judge.compare(value >= UPTIME_MINIMUM, value - UPTIME_MINIMUM,
                      f"job={job}: up {value * 100:.3f} % (down {down:.1f} s)")
    return judge.truth("every job met the uptime target")


@dataclass(frozen=True)
class Restart:
    kind: str  # "restart" or "replacement"
    at: float
    instance: str
    detail: str


def restarts(instances: Mapping[str, Points], start: float, end: float,
             interval: float) -> tuple[list[Restart], float]:
    """Process starts in (start, end] from process_start_time_seconds points per instance ([start - W, end]),
    and the smallest distance (in intervals) of a would-be replacement from the rule's limits."""
    found: list[Restart] = []
    for instance, points in instances.items():
        finite = [(t, v) for t, v in points if math.isfinite(v)]
        for (_, before), (t, value) in zip(finite, finite[1:], strict=False):
            if start < t <= end and value != before:
                found.append(Restart("restart", t, instance, f"start time {before:.3f} -> {value:.3f}"))
    near = min((abs(t - edge) / interval for points in instances.values() for (_, a), (t, b)
                in zip(points, points[1:], strict=False) if a != b for edge in (start, end)), default=math.inf)
    reach = REPLACEMENT_INTERVALS * interval
    spans = {name: (points[0][0], points[-1][0]) for name, points in instances.items() if points}
    limit = end - GONE_INTERVALS * interval
    gone = {}
    for name, (_, last) in spans.items():
        if start - interval <= last < end:
            near = min(near, abs(last - limit) / interval, abs(last - start) / interval)
        if start <= last < limit:
            gone[name] = last
    new = {}
    for name, (first, _) in spans.items():
        if start - interval < first <= end:
            near = min(near, abs(first - start) / interval)
        if start < first <= end:
            new[name] = first
    for old, last in sorted(gone.items(), key=lambda item: item[1]):
        for name, first in new.items():
            if name != old:
                near = min(near, abs(abs(first - last) - reach) / interval)
        successors = [name for name, first in new.items() if name != old and abs(first - last) <= reach]
        if successors:
            found.append(Restart("replacement", new[successors[0]], successors[0],
                                 f"{old} gone at {last:.3f}, {successors[0]} appeared at {new[successors[0]]:.3f}"))
    return sorted(found, key=lambda r: r.at), near


def no_crashes(samples: Samples, candidate: Window, jobs: Sequence[str] = JOBS) -> Truth:
    judge = _Judgement("availability.no_crashes")
    s, e = candidate.start, candidate.end
    for job in jobs:
        instances = _by_instance(samples.family("process_start_time_seconds", job=job), s - candidate.seconds, e)
        if not any(s <= t <= e for points in instances.values() for t, _ in points):
            judge.fail(f"job={job}: no process_start_time_seconds samples in the window (no data)")
            continue
        interval = median_interval(instances.values(), EXPECTED_INTERVAL)
        found, near = restarts(instances, s, e, interval)
        judge.values[job] = [f"{r.kind} {r.instance} at {r.at - s:+.0f}s: {r.detail}" for r in found]
        for r in found:
            judge.fail(f"job={job}: {r.kind} of {r.instance} at {r.at - s:.3f} s into the window ({r.detail})")
        judge.near(near)
    return judge.truth("no component restarted")


# --- Memory ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Growth:
    """Memory of one instance over its life in the window; growth is judged only when `judged`."""

    peak: float
    life: float
    growth: float
    judged: bool


def memory_growth(points: Points, window_seconds: float) -> Growth:
    first, last = points[0][0], points[-1][0]
    life = last - first
    quarter = life / 4
    early = statistics.fmean(v for t, v in points if t <= first + quarter)
    late = statistics.fmean(v for t, v in points if t >= last - quarter)
    growth = late / early - 1 if early > 0 else math.inf
    return Growth(max(v for _, v in points), life, growth, life >= MEMORY_MIN_LIFE * window_seconds)


def memory(samples: Samples, candidate: Window, jobs: Sequence[str] = JOBS) -> Truth:
    judge = _Judgement("memory.bounded_usage")
    for job in jobs:
        instances = _by_instance(samples.family("process_resident_memory_bytes", job=job),
                                 candidate.start, candidate.end)
        if not instances:
            judge.fail(f"job={job}: no process_resident_memory_bytes samples in the window (no data)")
            continue
        for instance, points in sorted(instances.items()):
            where = f"job={job} instance={instance}"
            if any(math.isnan(v) for _, v in points):
                judge.fail(f"{where}: NaN samples (no data)")
                continue
            seen = memory_growth(points, candidate.seconds)
            judge.values[where] = {"peak": seen.peak, "life": seen.life,
                                   "growth": seen.growth if seen.judged else "not judged"}
            judge.compare(seen.peak <= MEMORY_CEILING, seen.peak / MEMORY_CEILING - 1,
                          f"{where}: peak {seen.peak:.0f} above the ceiling")
            if seen.growth > MEMORY_MAX_GROWTH:
                # Judged or not decides this instance's verdict: keep its life clear of W/4.
                quarter = MEMORY_MIN_LIFE * candidate.seconds
                judge.near((seen.life - quarter) / LIFE_MARGIN_SECONDS * MARGINS["memory.bounded_usage"])
            if seen.judged:
                judge.compare(seen.growth <= MEMORY_MAX_GROWTH, seen.growth - MEMORY_MAX_GROWTH,
                              f"{where}: memory grew {seen.growth * 100:.1f} % over {seen.life:.0f} s")
    return judge.truth("memory stayed bounded for every instance")


# --- All together ---------------------------------------------------------------------------------


def evaluate(series: Iterable[SeriesLike], baseline: Window, candidate: Window,
             jobs: Sequence[str] = JOBS) -> dict[str, Truth]:
    """Every history criterion's truth for one pair of windows."""
    samples = Samples(series)
    truths = [
        throughput(samples, baseline, candidate),
        error_ratios(samples, baseline, candidate),
        wasted_retries(samples, candidate),
        retry_success(samples, baseline, candidate),
        histogram_tail(samples, candidate, "timeout.no_hangs", 60.0),
        histogram_tail(samples, candidate, "timeout.compliance", 30.0),
        uptime(samples, candidate, jobs),
        no_crashes(samples, candidate, jobs),
        memory(samples, candidate, jobs),
    ]
    return {t.criterion: t for t in truths}
