"""Raw samples read from their arrays (wavegate.samples.Samples) give exactly what reading them pair by pair gives.

The checks answer their questions in bulk from a series' float64 arrays where the answer is sure (every `up` 1,
every flag sample at its scrape's time, one start time throughout) and pair by pair otherwise. Here each rule of
wavegate.timeline and each helper is asked the same question of the same samples, once as a Samples view and once
as a list of pairs, on generated series with gaps, jitter, NaN, infinities, failed scrapes, flags off, missing
and shifted flag samples, restarts and replacements: the answers must be equal.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import asdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wavegate import samples, timeline
from wavegate.checks.availability import _episodes
from wavegate.samples import Samples

Pairs = list[tuple[float, float]]
START, END = 1_000_000.0, 1_003_600.0  # an hour's window


def view(points: Pairs) -> Samples:
    return Samples(array("d", [t for t, _ in points]), array("d", [v for _, v in points]))


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN (a result may carry a NaN value either way)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


_values = st.sampled_from([1.0, 1.0, 1.0, 1.0, 0.0, math.nan, math.inf, 2.0, 0.5])


@st.composite
def series(draw: st.DrawFn, *, values: st.SearchStrategy[float] = _values, interval: float = 15.0) -> Pairs:
    """Scrapes every `interval` s around the window, with jitter, missed scrapes, a gap, and drawn values; the
    times strictly increase, as a backend returns them."""
    begin = START + draw(st.sampled_from([-900.0, -30.0, 0.0, 7.5, 600.0]))
    stop = END + draw(st.sampled_from([-1200.0, -15.0, 0.0, 30.0]))
    jitter = draw(st.sampled_from([0.0, 0.001, 3.0]))
    gap = draw(st.one_of(st.none(), st.tuples(st.floats(START - 600, END), st.floats(10, 900))))
    constant = draw(st.one_of(st.none(), values))
    points: Pairs = []
    t = begin
    while t <= stop and len(points) < 400:
        moment = t + draw(st.floats(0, jitter)) if jitter else t
        skipped = gap is not None and gap[0] <= moment < gap[0] + gap[1]
        if not skipped and (not points or moment > points[-1][0]) and draw(st.integers(0, 30)):
            points.append((moment, constant if constant is not None else draw(values)))
        t += interval
    return points


def flag_of(up: Pairs, draw: st.DrawFn) -> Pairs:
    """A flag series exported at the successful scrapes of `up`: mostly at their very time, sometimes shifted,
    dropped, doubled or of another value."""
    how = draw(st.sampled_from(["exact", "exact", "exact", "off-once", "dropped", "shifted", "extra", "nan"]))
    points: Pairs = []
    for index, (t, value) in enumerate(up):
        if value != 1:
            continue
        moment, flag = t, 1.0
        if how == "off-once" and index == len(up) // 2:
            flag = 0.0
        elif how == "dropped" and index % 7 == 3:
            continue
        elif how == "shifted" and index % 5 == 0:
            moment = t + 4.0
        elif how == "nan" and index == 1:
            flag = math.nan
        if points and moment <= points[-1][0]:
            continue
        if how == "extra" and index % 9 == 4 and (not points or t - 2.0 > points[-1][0]):
            points.append((t - 2.0, 1.0))
        points.append((moment, flag))
    return points


def check(question: Any, *pairs: Pairs) -> None:
    """The question asked of plain pairs and of Samples views gives the same answer."""
    as_pairs = question(*pairs)
    as_views = question(*(view(p) for p in pairs))
    assert same(as_views, as_pairs), (as_views, as_pairs)


_settings = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(series(), st.floats(START - 100, END), st.floats(10, 4000))
def test_helpers_answer_the_same(points: Pairs, start: float, length: float) -> None:
    check(lambda p: samples.count_between(p, start, start + length), points)
    check(lambda p: samples.times_where_equal(p, 1.0), points)
    check(lambda p: samples.times_where_equal(p, 1.0, since=start), points)
    check(lambda p: samples.finite_times(p), points)
    check(lambda p: samples.positive_times(p), points)
    check(lambda p: samples.spacing(p), points)
    check(timeline.measured_interval, points)
    check(lambda p: _episodes(p, 2.0, 15.0), points)
    check(lambda p: list(samples.values_of(p)), points)
    check(lambda p: asdict(g) if (g := timeline.growth(p, length)) is not None else None, points)


@_settings
@given(st.lists(series(), min_size=1, max_size=3))
def test_availability_is_the_same(instances: list[Pairs]) -> None:
    def question(*points: Any) -> dict[str, Any]:
        return asdict(timeline.availability({f"i{n}": p for n, p in enumerate(points)}, START, END, 15.0))

    check(question, *instances)


@_settings
@given(st.lists(series(values=st.sampled_from([5000.0, 5000.0, 5000.0, 5000.005, 9000.0, math.nan])),
                min_size=1, max_size=3))
def test_restarts_are_the_same(instances: list[Pairs]) -> None:
    check(lambda *points: timeline.restarts({f"i{n}": p for n, p in enumerate(points)}, START, END, 15.0),
          *instances)
    check(lambda *points: timeline.job_interval(points, 15.0), *instances)


@_settings
@given(st.data())
def test_flag_state_is_the_same(data: st.DataObject) -> None:
    up = data.draw(series(values=st.sampled_from([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, math.nan])))
    flags = [flag_of(up, data.draw) for _ in range(data.draw(st.integers(0, 2)))]
    expected = data.draw(st.sampled_from([1.0, 0.0]))

    def question(up_points: Any, *flag_points: Any) -> dict[str, Any]:
        state = timeline.flag_state({"t": up_points}, {"t": list(flag_points)}, expected, START, END)
        return {**asdict(state), "instances": sorted(state.instances)}

    check(question, up, *flags)


@pytest.mark.parametrize("points", [
    [(math.nan, 1.0)],
    [(-math.inf, 1.0), (START, 1.0)],
    [(START, 1.0), (math.inf, 1.0)],
    [(START, 1.0), (math.nan, 1.0), (START + 30, 1.0)],
], ids=["only-nan", "from-minus-inf", "to-inf", "nan-inside"])
def test_a_time_that_is_not_finite_is_read_pair_by_pair_and_judged_as_before(points: Pairs) -> None:
    assert samples.arrays(view(points)) is None
    check(lambda p: samples.count_between(p, START - 100, END), points)
    check(lambda p: samples.times_where_equal(p, 1.0, since=START), points)
    check(lambda p: asdict(timeline.availability({"a": p}, START, END, 15.0)), points)


def test_runs_split_where_the_sum_leaves_a_gap_even_near_zero() -> None:
    # next - t rounds here (the times are not within a factor of 2 of each other): the rule compares t + fresh
    # with the next time, as availability() always did.
    points = [(-0.001, 1.0), (1e-300, 1.0), (1.0000000000000002e-300, 1.0)]
    check(lambda p: asdict(timeline.availability({"a": p}, -7.5, 7.499, 15.0)), points)
    gap = [(START, 1.0), (START + 30.0, 1.0), (START + 30.0 + 60.0, 1.0), (START + 90.0 + 30.0, 1.0)]
    check(lambda p: asdict(timeline.availability({"a": p}, START, START + 200, 15.0)), gap)


def test_an_up_series_always_1_reads_its_scrapes_from_the_array() -> None:
    up = [(START + 15.0 * i, 1.0) for i in range(-2, 241)]
    tolerance, scrapes = timeline.successful_scrapes({"t": view(up)}, START, END)["t"]
    assert isinstance(scrapes, array)
    assert list(scrapes) == [t for t, _ in up if START < t <= END]
    assert tolerance == 7.5


@pytest.mark.parametrize("times", [[1.0, 1.0, 2.0], [2.0, 1.0], [1.0, math.nan]], ids=["equal", "back", "nan"])
def test_times_that_do_not_increase_are_read_pair_by_pair(times: list[float]) -> None:
    assert samples.arrays(Samples(array("d", times), array("d", [1.0] * len(times)))) is None


def test_a_sum_that_overflows_is_not_taken_for_a_nan() -> None:
    huge = [1e308, 1e308]
    assert not samples.all_finite(huge)
    assert not samples.any_not_finite(huge)
    assert samples.any_not_finite([1.0, math.nan])


def test_a_view_is_a_sequence_of_pairs() -> None:
    points = [(START, 1.0), (START + 15, 0.0), (START + 30, 1.0)]
    seen = view(points)
    assert seen == points
    assert seen == tuple(points)
    assert seen != points[:2]
    assert list(seen) == points
    assert seen[1] == (START + 15, 0.0)
    assert seen[-1] == points[-1]
    assert list(seen[1:]) == points[1:]
    assert len(seen) == 3
    assert sorted(seen) == sorted(points)
