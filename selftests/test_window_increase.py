"""The window increase every counter criterion uses (wavegate.context.window_increase), on a real Prometheus
holding counters with the shapes production data has: a gap or failed scrapes just before the window, a
series born inside it, a restart inside it, a reset across its start, a child re-created after a gap.

The truth is computed here from the very samples backfilled, by walking them (no PromQL).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from harness import History, MetricsEndpoint, PrometheusServer

from wavegate.context import Probe, expand
from wavegate.prometheus import PrometheusClient
from wavegate.promql import Scope
from wavegate.settings import PrometheusSettings, Window

STEP = 15.0
W = 3600.0
PER_STEP = 10.0


def _steady(start: float, end: float, value: float = 0.0, per_step: float = PER_STEP) -> list[tuple[float, float]]:
    points, t = [], start
    while t <= end:
        points.append((t, value))
        value += per_step
        t += STEP
    return points


def _truth(points: list[tuple[float, float]], start: float, end: float) -> float:
    """Increase from the value at `start` (last sample at or before it within W; 0 if none) to the value at
    `end`, a drop counted as a restart from 0."""
    return _truth_over(points, start, end, W)


class Shapes:
    """Counter series, one per `shape` label, around the window [start, end]."""

    def __init__(self, end: float) -> None:
        self.end, self.start = end, end - W
        s, e = self.start, self.end
        early = s - 2 * 3600
        self.points: dict[str, list[tuple[float, float]]] = {
            "steady": _steady(early, e + 600),
            # Failed scrapes for 10 minutes right before the window start, back 1 minute after it.
            "gap_before_start": [p for p in _steady(early, e + 600, 5000) if not s - 600 < p[0] < s + 60],
            # A gap of 20 minutes inside the window: spanned.
            "gap_inside": [p for p in _steady(early, e + 600) if not s + 600 < p[0] < s + 1800],
            # A new label combination, first scraped 20 minutes into the window at 1 (counters start at 0).
            "born_inside": _steady(s + 1200, e + 600, 1.0),
            # A restart 30 minutes into the window: the counter starts again from 0.
            "restart_inside": _steady(early, s + 1800, 7000) + _steady(s + 1800 + STEP, e + 600, 0.0),
            # The process restarted during failed scrapes across the window start.
            "reset_across_start": _steady(early, s - 120, 9000) + _steady(s + 45, e + 600, 3.0),
            # The application removed the child and re-created it 30 minutes later, from 0, no restart.
            "recreated_after_gap": _steady(early, s + 600, 400) + _steady(s + 2400, e + 600, 0.0),
            # Scraped once inside the window (born there): its one value is its increase.
            "one_sample": [(s + 900, 4.0)],
            # Unscraped for 12 minutes across the window start, then a restart inside the window: increase()
            # sees neither the growth across the gap nor extrapolates over it.
            "gap_then_restart": [p for p in _steady(early, s + 1800, 3000) if not s - 360 < p[0] < s + 360]
            + _steady(s + 1800 + STEP, e + 600, 0.0),
        }

    def history(self) -> History:
        history = History()
        for shape, points in self.points.items():
            history.add("shape_events_total", {"job": "shapes", "shape": shape}, points)
        return history

    def truth(self, shape: str) -> float:
        return _truth(self.points[shape], self.start, self.end)


@pytest.fixture(scope="module")
def shapes() -> Iterator[tuple[Shapes, PrometheusServer]]:
    end = float(int(time.time()) // 3600 * 3600 - 6 * 3600)
    world = Shapes(end)
    with PrometheusServer({}, history=world.history()) as prometheus:
        yield world, prometheus


def _gate_values(prometheus: PrometheusServer, end: float) -> dict[str, float]:
    query = expand("sum by (shape) (increase(shape_events_total[$W]))", W)
    return {item["metric"]["shape"]: float(item["value"][1]) for item in prometheus.query(query, end)}


EXACT = ["steady", "gap_before_start", "gap_inside", "born_inside", "reset_across_start", "one_sample"]


@pytest.mark.parametrize("shape", EXACT)
def test_a_counter_without_a_reset_inside_the_window_counts_exactly(
        shapes: tuple[Shapes, PrometheusServer], shape: str) -> None:
    world, prometheus = shapes
    got = _gate_values(prometheus, world.end)
    assert got[shape] == pytest.approx(world.truth(shape), abs=1e-9), (shape, got)


@pytest.mark.parametrize("shape", ["restart_inside", "recreated_after_gap"])
def test_a_counter_reset_inside_the_window_counts_within_one_scrape_of_the_truth(
        shapes: tuple[Shapes, PrometheusServer], shape: str) -> None:
    world, prometheus = shapes
    got = _gate_values(prometheus, world.end)
    # increase() extrapolates to the window's edges: at most about one scrape's increase at each edge.
    assert abs(got[shape] - world.truth(shape)) <= 2 * PER_STEP, (shape, got[shape], world.truth(shape))


def _probe(prometheus: PrometheusServer) -> Probe:
    client = PrometheusClient(PrometheusSettings(url=prometheus.url))
    # No environment: nothing to scope the queries to; never evaluated ahead of a test (proceed: always).
    return Probe(SimpleNamespace(prometheus=client, scope=Scope({}), proceed=lambda: None))  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [*EXACT, "restart_inside", "recreated_after_gap", "gap_then_restart"])
def test_the_gate_counts_every_shape_exactly_with_raw_samples_for_series_that_reset(
        shapes: tuple[Shapes, PrometheusServer], shape: str) -> None:
    world, prometheus = shapes
    window = Window("candidate", datetime.fromtimestamp(world.start, UTC), datetime.fromtimestamp(world.end, UTC))
    result = _probe(prometheus).over("sum by (shape) (increase(shape_events_total[$W]))", window)
    got = {s.labels["shape"]: s.value for s in result.series}
    assert got[shape] == pytest.approx(world.truth(shape), abs=1e-9), (shape, got[shape], world.truth(shape))


def test_prometheus_increase_alone_misses_the_growth_across_a_gap_before_a_restart(
        shapes: tuple[Shapes, PrometheusServer]) -> None:
    # Why series that reset are walked from raw samples: increase() only sees samples inside the window.
    world, prometheus = shapes
    got = _gate_values(prometheus, world.end)["gap_then_restart"]
    assert got < world.truth("gap_then_restart") - 30 * PER_STEP


def test_failed_scrapes_before_the_window_do_not_count_the_lifetime_total(
        shapes: tuple[Shapes, PrometheusServer]) -> None:
    # The defect this replaces: `sel offset W` looks back 5 minutes only, so a series silent for the last
    # 10 minutes before the window looked born inside it and its whole value (5000 + ...) was counted.
    world, prometheus = shapes
    got = _gate_values(prometheus, world.end)
    assert got["gap_before_start"] == pytest.approx(world.truth("gap_before_start"))
    assert got["gap_before_start"] < 0.5 * world.points["gap_before_start"][-1][1]
    # A steady counter's increase plus what grew during the 10 silent minutes before the start: the
    # window's start value is the last sample before it, so the gap's increase falls into the window.
    assert got["gap_before_start"] == pytest.approx(got["steady"] + 600 / STEP * PER_STEP)


def test_the_oracle_walk_agrees_with_simple_arithmetic() -> None:
    # Sanity of the truth used above: steady counter over one hour at 10 per 15 s is 2400.
    end = 10 * W
    points = _steady(end - 3 * W, end)
    assert _truth(points, end - W, end) == 2400
    assert _truth([(end - 100, 5.0)], end - W, end) == 5.0
    assert math.isclose(_truth([(end - W - 60, 100.0), (end - 30, 3.0)], end - W, end), 3.0)


def test_the_window_ends_where_asked(shapes: tuple[Shapes, PrometheusServer]) -> None:
    world, prometheus = shapes
    assert datetime.fromtimestamp(world.end, UTC).minute == 0
    later = _gate_values(prometheus, world.end + 600)
    assert later["steady"] == pytest.approx(2400)


# --- Live: real failed scrapes write staleness markers ---------------------------------------------------


def test_a_failed_scrape_just_before_the_window_does_not_make_a_counter_look_new(tmp_path: Path) -> None:
    # A real Prometheus scrapes a counter every second; the endpoint fails for 3 s just before the window,
    # so Prometheus writes staleness markers for the series. The window's start value must still be found.
    started = time.time()
    endpoint = MetricsEndpoint().start()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            endpoint.text = f"# TYPE live_events_total counter\nlive_events_total {10 * (time.time() - started):.3f}\n"
            stop.wait(0.1)

    feeder = threading.Thread(target=serve, daemon=True)
    feeder.start()
    try:
        with PrometheusServer({"live": [endpoint.address]}, scrape_interval="1s", workdir=tmp_path) as prometheus:
            prometheus.wait_for_scrapes(["live"], timeout=30)
            time.sleep(6)
            endpoint.status = 503
            time.sleep(3)
            endpoint.status = 200
            start = float(int(time.time()))
            end = start + 10
            time.sleep(max(0.0, end + 2 - time.time()))
            # Prometheus really wrote staleness markers: at the window's start the instant selector sees nothing.
            assert prometheus.query("live_events_total", start) == []
            raw = prometheus.query("live_events_total[30s]", end)
            points = [(float(t), float(v)) for t, v in raw[0]["values"]]
            got = _gate_values_of(prometheus, "sum(increase(live_events_total[$W]))", 10, end)
            assert got == pytest.approx(_truth_over(points, start, end, 10), abs=1e-6)
            # At most the window's 10 s plus the 3 s of failed scrapes (plus a scrape) of events at 10/s, far
            # below the lifetime total the old reading counted.
            assert got <= 10 * (10 + 3 + 2) < points[-1][1]
    finally:
        stop.set()
        endpoint.stop()


def _gate_values_of(prometheus: PrometheusServer, template: str, seconds: float, at: float) -> float:
    result = prometheus.query(expand(template, seconds), at)
    return float(result[0]["value"][1])


def _truth_over(points: list[tuple[float, float]], start: float, end: float, window: float) -> float:
    before = [v for t, v in points if start - window <= t <= start]
    value = before[-1] if before else 0.0
    total = 0.0
    for t, v in points:
        if start < t <= end:
            total += v - value if v >= value else v
            value = v
    return total


def test_a_counter_read_back_one_float_step_lower_did_not_reset() -> None:
    from wavegate.context import walk_increase

    value = 1234.5678901
    lower = math.nextafter(value, 0.0)
    points = [(0.0, 1000.0), (10.0, value), (20.0, lower), (30.0, value + 1.0)]
    assert walk_increase(points, 5.0, 30.0, 100.0) == pytest.approx(value + 1.0 - 1000.0)
    # A real drop is a restart from 0: the value after it counts.
    assert walk_increase([(0.0, 1000.0), (10.0, 1500.0), (20.0, 3.0)], 5.0, 20.0, 100.0) == 503.0
