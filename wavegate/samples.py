"""Raw samples kept as two float64 arrays (times, values), and the questions the checks ask of a series answered
from those arrays in bulk where the answer is sure, pair by pair otherwise.

A week of raw samples at 15 s is 40,320 pairs per series. Read pair by pair, each pair is a tuple of two Python
floats; most questions (every value 1? every value finite? which times?) have an answer from the whole array at
once. Each helper takes any sequence of (time, value) pairs, uses the arrays only when it is a Samples view, and
gives exactly what the pair-by-pair reading gives.
"""

from __future__ import annotations

import bisect
import math
import operator
from array import array
from collections.abc import Iterator, Sequence
from typing import overload

Points = Sequence[tuple[float, float]]


class Samples(Sequence[tuple[float, float]]):
    """A series' raw samples as (unix seconds, value) pairs, kept as two float64 arrays: a week of samples is
    read pair by pair only where that is needed, and in bulk (a set of times, a count of values) from the arrays.
    Compares equal to any sequence of the same pairs."""

    __slots__ = ("_increasing", "times", "values")

    def __init__(self, times: array[float], values: array[float], *, rising: bool | None = None) -> None:
        self.times, self.values = times, values
        self._increasing = rising  # whether the times strictly increase, once known

    def increasing(self) -> bool:
        """Whether the times are finite and strictly increase (see increasing()); asked once per view."""
        if self._increasing is None:
            self._increasing = increasing(self.times)
        return self._increasing

    def __len__(self) -> int:
        return len(self.times)

    def __iter__(self) -> Iterator[tuple[float, float]]:
        return zip(self.times, self.values, strict=True)

    @overload
    def __getitem__(self, index: int) -> tuple[float, float]: ...

    @overload
    def __getitem__(self, index: slice) -> Samples: ...

    def __getitem__(self, index: int | slice) -> tuple[float, float] | Samples:
        if isinstance(index, slice):
            return Samples(self.times[index], self.values[index])
        return self.times[index], self.values[index]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=False))

    __hash__ = None  # type: ignore[assignment]  # mutable arrays, like a list

    def __repr__(self) -> str:
        return f"Samples({list(self)!r})"


def arrays(points: Points) -> tuple[array[float], array[float]] | None:
    """The (times, values) arrays of a Samples view whose times are finite and strictly increase (as every raw
    series of a Prometheus-compatible API is), or None: then the points are read pair by pair."""
    if isinstance(points, Samples) and points.increasing():
        return points.times, points.values
    return None


def increasing(times: Sequence[float]) -> bool:
    """Whether the times are finite and each is later than the one before (none equal). A NaN or infinite time
    (a broken backend's) is read pair by pair, where the comparisons decide as they always did."""
    if times and not (math.isfinite(times[0]) and math.isfinite(times[-1])):
        return False
    return all(map(operator.lt, times[:-1], times[1:]))


def all_finite(values: Sequence[float]) -> bool:
    """True only if every value is finite (a sum of finite values that overflows answers False: then the caller
    reads pair by pair)."""
    return math.isfinite(sum(values))


def any_not_finite(values: Sequence[float]) -> bool:
    """Whether a value is NaN or infinite."""
    return not all_finite(values) and any(not math.isfinite(v) for v in values)


def all_equal(values: array[float], value: float) -> bool:
    """Whether every value is `value` (never for NaN)."""
    return values.count(value) == len(values)


def in_time_order(parts: Sequence[Points]) -> Points:
    """The points of one target's series merged in time order; a single series already in order as it is."""
    if len(parts) == 1 and arrays(parts[0]) is not None:
        return parts[0]
    return sorted(point for points in parts for point in points)


def values_of(points: Points) -> Sequence[float]:
    """The values of the points, in order."""
    found = arrays(points)
    return found[1] if found is not None else [v for _, v in points]


def count_between(points: Points, start: float, end: float) -> int:
    """How many points have start <= t <= end."""
    found = arrays(points)
    if found is None:
        return sum(1 for t, _ in points if start <= t <= end)
    times = found[0]
    return max(0, bisect.bisect_right(times, end) - bisect.bisect_left(times, start))


def times_where_equal(points: Points, value: float, since: float = -math.inf) -> set[float]:
    """The times t >= since of the points whose value is `value`."""
    found = arrays(points)
    if found is not None and all_equal(found[1], value):
        times = found[0]
        return set(times[bisect.bisect_left(times, since):]) if since > -math.inf else set(times)
    return {t for t, v in points if v == value and t >= since}


def finite_times(points: Points) -> set[float]:
    """The times of the points whose value is finite."""
    found = arrays(points)
    if found is not None and all_finite(found[1]):
        return set(found[0])
    return {t for t, v in points if math.isfinite(v)}


def positive_times(points: Points) -> set[float]:
    """The times of the points whose value is finite and above 0."""
    found = arrays(points)
    if found is not None and found[1] and all_finite(found[1]) and min(found[1]) > 0:
        return set(found[0])
    return {t for t, v in points if math.isfinite(v) and v > 0}


def spacing(points: Points) -> list[float]:
    """The positive differences between consecutive times, in order."""
    found = arrays(points)
    if found is not None:
        times = found[0]
        return list(map(operator.sub, times[1:], times[:-1]))
    return [b[0] - a[0] for a, b in zip(points, points[1:], strict=False) if b[0] > a[0]]
