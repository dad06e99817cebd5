"""What raw samples say about time: measured scrape intervals, down and unobserved time, restarts and
replacements, memory over an instance's own life. Pure functions on (unix seconds, value) points.

The checks fetch the raw samples of a few small series (`up`, `process_start_time_seconds`,
`process_resident_memory_bytes`: one series per instance) and judge them here, because the rules below
depend on when each sample was taken, which PromQL's `*_over_time` functions do not weigh.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import statistics
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from wavegate import samples
from wavegate.samples import Points

# An instance is observed at a moment when its newest sample is no older than this many of its own
# scrape intervals (one missed scrape is tolerated, two in a row are not).
FRESH_INTERVALS = 2.0
# A replacement: one instance disappears (its samples stop more than GONE_INTERVALS before the window's
# end) and another appears within REPLACEMENT_INTERVALS scrape intervals of that moment.
GONE_INTERVALS = 3.0
REPLACEMENT_INTERVALS = 4.0


def measured_interval(points: Points) -> float | None:
    """The median spacing of the points: the series' real scrape interval (None for fewer than 2 points)."""
    if len(points) < 2:
        return None
    spacing = samples.spacing(points)
    return statistics.median(spacing) if spacing else None


def job_interval(series: Iterable[Points], fallback: float) -> float:
    """The median spacing over all instances of a job, or `fallback` (the expected interval) without data."""
    spacing = [gap for points in series for gap in samples.spacing(points)]
    return statistics.median(spacing) if spacing else fallback


def _union(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _length(intervals: Iterable[tuple[float, float]]) -> float:
    return sum(end - start for start, end in intervals)


def _clip(intervals: Iterable[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    return [(max(a, start), min(b, end)) for a, b in intervals if b > start and a < end]


@dataclass
class Availability:
    """A job's down time in a window, from the `up` samples of all its instances."""

    window_seconds: float
    down: list[tuple[float, float]] = field(default_factory=list)
    unobserved: list[tuple[float, float]] = field(default_factory=list)
    interval: float = math.nan
    instances: int = 0
    samples: int = 0

    @property
    def down_seconds(self) -> float:
        return _length(self.down)

    @property
    def unobserved_seconds(self) -> float:
        return _length(self.unobserved)

    @property
    def uptime(self) -> float:
        return 1.0 - self.down_seconds / self.window_seconds if self.window_seconds > 0 else math.nan

    def longest_down(self) -> tuple[float, float] | None:
        return max(self.down, key=lambda i: i[1] - i[0]) if self.down else None


def availability(instances: Mapping[str, Points], start: float, end: float, expected_interval: float) -> Availability:
    """Down time of a job in [start, end].

    Each sample of an instance covers the time until its next sample, but no longer than FRESH_INTERVALS of
    the instance's own measured interval: then the instance is unobserved. The job is down while an
    observed instance reports `up` != 1, and while no instance at all is observed (unobserved time is not
    up time). Instances that come and go do not count against the job while another one is observed.
    """
    result = Availability(window_seconds=end - start, instances=len(instances))
    all_points = [points for points in instances.values() if points]
    result.interval = job_interval(all_points, expected_interval)
    observed: list[tuple[float, float]] = []
    failing: list[tuple[float, float]] = []
    for points in all_points:
        own = measured_interval(points) or result.interval
        result.samples += samples.count_between(points, start, end)
        found = samples.arrays(points)
        if found is not None and samples.all_equal(found[1], 1.0):
            observed += _observed_runs(found[0], FRESH_INTERVALS * own)  # always up: only when it was observed
            continue
        for index, (t, value) in enumerate(points):
            until = t + FRESH_INTERVALS * own
            if index + 1 < len(points):
                until = min(until, points[index + 1][0])
            observed.append((t, until))
            if value != 1:  # 0, NaN or anything else is not up
                failing.append((t, until))
    seen = _union(_clip(observed, start, end))
    gaps, cursor = [], start
    for a, b in seen:
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        gaps.append((cursor, end))
    result.unobserved = gaps
    result.down = _union(gaps + _clip(failing, start, end))
    return result


def _observed_runs(times: array[float], fresh: float) -> list[tuple[float, float]]:
    """The union of the spans (t, min(t + fresh, next t)) of increasing times, as availability() makes them one
    by one: a span reaching the next sample touches the next span; one ending before it (t + fresh < next t,
    the same sum availability() computes) leaves a gap. So: runs of samples, each until its last t + fresh."""
    if not times:
        return []
    ends = list(map(operator.add, times, itertools.repeat(fresh)))
    later = times[1:]
    gaps = [] if all(map(operator.ge, ends, later)) else \
        [i for i, (until, following) in enumerate(zip(ends, later, strict=False), start=1)
         if until < following]
    bounds = [0, *gaps, len(times)]
    return [(times[a], ends[b - 1]) for a, b in zip(bounds, bounds[1:], strict=False)]


@dataclass(frozen=True)
class Restart:
    """A process start inside a window: a start time that changed on one instance, or a replacement."""

    kind: str  # "restart" or "replacement"
    at: float
    instance: str
    detail: str


# A start time that moved by less than this is the same start. VictoriaMetrics stores floats as decimals and
# can give the same start time back a few 1e-7 s apart (1796527653.97, then 1796527653.9699998); any real
# restart moves it by the new process's start-up at least, which takes longer than 10 ms.
START_TIME_RESOLUTION = 0.01


def restarts(instances: Mapping[str, Points], start: float, end: float, interval: float) -> list[Restart]:
    """Process starts inside (start, end] seen in `process_start_time_seconds` points per instance
    (points may begin before `start`: a change between the last sample before the window and the first
    inside it counts).

    A replacement is an instance whose samples stop inside the window (more than GONE_INTERVALS before its
    end: it disappeared) while another instance, with no sample before the window, appears within
    REPLACEMENT_INTERVALS scrape intervals of that moment. An instance added while the others go on
    (scale-out) or one that only disappears (scale-in) is not a restart.
    """
    found: list[Restart] = []
    for instance, points in instances.items():
        packed = samples.arrays(points)
        if packed is not None and packed[1] and samples.all_equal(packed[1], packed[1][0]):
            continue  # one start time throughout (finite: NaN equals nothing)
        finite = [(t, v) for t, v in points if math.isfinite(v)]
        for (_, before), (t, value) in zip(finite, finite[1:], strict=False):
            if start < t <= end and abs(value - before) > START_TIME_RESOLUTION:
                found.append(Restart("restart", t, instance, f"process_start_time_seconds changed from "
                                     f"{before:.3f} to {value:.3f}"))
    reach = REPLACEMENT_INTERVALS * interval
    spans = {name: (points[0][0], points[-1][0]) for name, points in instances.items() if points}
    gone = {name: last for name, (_, last) in spans.items() if start <= last < end - GONE_INTERVALS * interval}
    new = {name: first for name, (first, _) in spans.items() if start < first <= end}
    for old, last in sorted(gone.items(), key=lambda item: item[1]):
        successors = [name for name, first in new.items() if name != old and abs(first - last) <= reach]
        if successors:
            found.append(Restart("replacement", new[successors[0]], successors[0],
                                 f"instance {old} disappeared and {successors[0]} appeared "
                                 f"{new[successors[0]] - last:+.0f} s later"))
    return sorted(found, key=lambda r: r.at)


@dataclass(frozen=True)
class Growth:
    """Memory of one instance over its own life inside a window."""

    peak: float
    life: float
    first_quarter: float
    last_quarter: float
    judged: bool

    @property
    def growth(self) -> float:
        if not self.judged:
            return math.nan
        return self.last_quarter / self.first_quarter - 1 if self.first_quarter > 0 else math.inf


def growth(points: Points, window_seconds: float, min_life_fraction: float = 0.25) -> Growth | None:
    """Peak and growth (mean of the last quarter of the instance's life / mean of the first quarter - 1);
    an instance observed for less than `min_life_fraction` of the window is not judged on growth."""
    if not points:
        return None
    first, last = points[0][0], points[-1][0]
    life = last - first
    quarter = life / 4
    packed = samples.arrays(points)
    if packed is not None:
        times, values = packed
        early: Sequence[float] = values[:bisect.bisect_right(times, first + quarter)]
        late: Sequence[float] = values[bisect.bisect_left(times, last - quarter):]
    else:
        early = [v for t, v in points if t <= first + quarter]
        late = [v for t, v in points if t >= last - quarter]
    return Growth(
        peak=max(samples.values_of(points)),
        life=life,
        first_quarter=statistics.fmean(early),
        last_quarter=statistics.fmean(late),
        judged=life >= min_life_fraction * window_seconds,
    )


@dataclass
class FlagState:
    """How one flag of one job looked at every successful scrape of the job's instances in a window."""

    expected: float
    scrapes: int = 0
    wrong: int = 0  # the flag had another value
    missing: int = 0  # no flag sample at a successful scrape (not exported then)
    first: float | None = None
    last: float | None = None
    instances: set[str] = field(default_factory=set)

    @property
    def bad(self) -> int:
        return self.wrong + self.missing

    @property
    def share(self) -> float:
        """The share of successful scrapes at which the flag had its expected value (NaN without scrapes)."""
        return (self.scrapes - self.bad) / self.scrapes if self.scrapes else math.nan


Scrapes = dict[str, tuple[float, Sequence[float]]]  # target -> (tolerance, times of its successful scrapes)


def successful_scrapes(up: Mapping[str, Points], start: float, end: float) -> Scrapes:
    """Per target, half its measured scrape interval (how far a flag sample may be from its scrape) and the times
    of its successful scrapes (`up` == 1) in (start, end]: what flag_state needs of `up`, the same for every flag."""
    found: Scrapes = {}
    for target, points in up.items():
        tolerance = (measured_interval(points) or 0.0) / 2
        packed = samples.arrays(points)
        if packed is not None and samples.all_equal(packed[1], 1.0):
            times = packed[0]
            found[target] = tolerance, times[bisect.bisect_right(times, start):bisect.bisect_right(times, end)]
        else:
            found[target] = tolerance, [t for t, value in points if start < t <= end and value == 1]
    return found


def flag_state(up: Mapping[str, Points], flag: Mapping[str, Sequence[Points]], expected: float,
               start: float, end: float, scrapes_by_target: Scrapes | None = None) -> FlagState:
    """Check a flag at every successful scrape (`up` == 1) in (start, end] of each target.

    `up` holds each target's `up` points; `flag` each target's flag series (usually one; every series the
    target exports for the flag counts). All series of one scrape carry its timestamp, so a series' sample
    of a scrape is the one closest to the `up` sample, within half the target's measured interval. A scrape
    at which no series has a sample counts as missing; one at which any series has another value than
    `expected` (two series disagreeing included) as wrong. Failed scrapes (`up` != 1) are availability's.
    `scrapes_by_target` is successful_scrapes(up, start, end), when the caller has it already."""
    state = FlagState(expected)
    if scrapes_by_target is None:
        scrapes_by_target = successful_scrapes(up, start, end)
    for target in up:
        tolerance, scrapes = scrapes_by_target[target]
        state.scrapes += len(scrapes)
        if _all_as_expected(scrapes, flag.get(target, ()), expected, tolerance):
            continue
        scrapes = list(scrapes)
        columns = [_Samples(sorted(s)).at_scrapes(scrapes, tolerance) for s in flag.get(target, ())]
        missing, wrong = _missing_and_wrong(scrapes, columns, expected)
        state.missing += len(missing)
        state.wrong += len(wrong)
        bad = missing + wrong
        if bad:
            state.first = min(bad) if state.first is None else min(state.first, *bad)
            state.last = max(bad) if state.last is None else max(state.last, *bad)
            state.instances.add(target)
    return state


def _all_as_expected(scrapes: Sequence[float], series: Sequence[Points], expected: float, tolerance: float) -> bool:
    """True only if every series has `expected` at each scrape, read from the arrays: each series has a sample
    at the very time of each scrape, which is the one _at_scrape would choose (no two samples within `tolerance`
    before it), and every such sample is `expected`. Anything else is read scrape by scrape (False)."""
    if not scrapes:
        return True
    if not series:
        return False
    wanted = scrapes if isinstance(scrapes, array) else array("d", scrapes)
    for points in series:
        packed = samples.arrays(points)
        if packed is None:
            return False
        times, values = packed
        first = bisect.bisect_left(times, scrapes[0])
        last = first + len(scrapes)
        if times[first:last] != wanted or values[first:last].count(expected) != len(wanted):
            return False
        around = times[max(first - 2, 0):last]
        if not all(map(operator.lt, around[:-2], map(operator.sub, around[2:], itertools.repeat(tolerance)))):
            return False
    return True


def _missing_and_wrong(scrapes: list[float], columns: list[list[float | None]], expected: float
                       ) -> tuple[list[float], list[float]]:
    """The scrape times at which no series has a sample, and those at which a series has another value than
    `expected`; one series (the usual case) is read in two passes instead of scrape by scrape."""
    if len(columns) == 1:
        (values,) = columns
        return ([t for t, v in zip(scrapes, values, strict=True) if v is None],
                [t for t, v in zip(scrapes, values, strict=True) if v is not None and v != expected])
    missing, wrong = [], []
    for t, *found in zip(scrapes, *columns, strict=True):
        seen = [v for v in found if v is not None]
        if not seen:
            missing.append(t)
        elif any(v != expected for v in seen):
            wrong.append(t)
    return missing, wrong


class _Samples:
    """One series' samples with their timestamps indexed: a week of scrapes is looked up once per `up` sample
    of every flag, so the usual case (the sample carries the scrape's very timestamp) is a dictionary hit."""

    def __init__(self, samples: Points) -> None:
        self.samples = samples
        self.times = [t for t, _ in samples]
        self.index = {t: i for i, t in enumerate(self.times)}

    def at_scrapes(self, scrapes: Sequence[float], tolerance: float) -> list[float | None]:
        """What _at_scrape answers at each scrape time, the same sample chosen, without a search when a sample
        is at the scrape's time itself and is one of the two _at_scrape compares (at most one sample in
        [t - tolerance, t) before it)."""
        times, index, samples = self.times, self.index, self.samples
        return [samples[i][1] if (i := index.get(t)) is not None and tolerance >= 0
                and (i < 2 or times[i - 2] < t - tolerance) else _at_scrape(samples, times, t, tolerance)
                for t in scrapes]


def _at_scrape(samples: Points, times: Sequence[float], t: float, tolerance: float) -> float | None:
    """The value of the sample closest to `t` within `tolerance`, or None."""
    at = bisect.bisect_left(times, t - tolerance)
    near = [i for i in (at, at + 1) if i < len(times) and abs(times[i] - t) <= tolerance]
    return samples[min(near, key=lambda i: abs(times[i] - t))][1] if near else None
