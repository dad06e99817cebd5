"""wavegate.timeline's rules on raw samples, as plain maths: down and unobserved time, measured intervals,
restarts and replacements, memory growth over an instance's own life."""

from __future__ import annotations

import math

import pytest

from wavegate import timeline

HOUR = 3600.0


def every(interval: float, start: float, end: float, value: float = 1.0) -> list[tuple[float, float]]:
    count = int((end - start) // interval) + 1
    return [(start + i * interval, value) for i in range(count)]


def test_a_job_scraped_every_30_seconds_is_not_down_between_scrapes() -> None:
    seen = timeline.availability({"a": every(30, -60, HOUR)}, 0, HOUR, expected_interval=15)
    assert seen.interval == 30
    assert seen.uptime == 1.0


def test_an_unobserved_stretch_is_down_time() -> None:
    points = [p for p in every(15, -60, HOUR) if not 600 <= p[0] < 600 + 0.09 * HOUR]
    seen = timeline.availability({"a": points}, 0, HOUR, expected_interval=15)
    # Samples 600..915 are missing: the one at 585 covers two intervals (to 615), the next comes at 930.
    assert seen.unobserved_seconds == pytest.approx(930 - 615)
    assert seen.uptime < 0.95


def test_one_missed_scrape_is_not_down_time() -> None:
    points = [p for p in every(15, -60, HOUR) if p[0] != 900]
    assert timeline.availability({"a": points}, 0, HOUR, 15).uptime == 1.0


def test_an_instance_reporting_up_0_makes_the_job_down_while_its_twin_is_up() -> None:
    twin = every(15, -60, HOUR)
    failing = [(t, 0.0 if 900 <= t < 1800 else 1.0) for t, _ in every(15, -60, HOUR)]
    seen = timeline.availability({"a": twin, "b": failing}, 0, HOUR, 15)
    assert seen.down_seconds == pytest.approx(900)


def test_a_rolling_replacement_without_a_gap_is_not_down_time() -> None:
    old = every(15, -60, 1800)
    new = every(15, 1805, HOUR)
    assert timeline.availability({"old": old, "new": new}, 0, HOUR, 15).uptime == 1.0


def test_a_nan_up_sample_is_not_up() -> None:
    points = [(t, math.nan if t == 900 else 1.0) for t, _ in every(15, -60, HOUR)]
    assert timeline.availability({"a": points}, 0, HOUR, 15).down_seconds == pytest.approx(15)


def test_a_start_time_change_is_a_restart() -> None:
    points = [(t, 100.0 if t < 1800 else 1800.0) for t, _ in every(15, -600, HOUR)]
    found = timeline.restarts({"a": points}, 0, HOUR, 15)
    assert [r.kind for r in found] == ["restart"]


def test_a_start_time_change_right_across_the_window_start_counts() -> None:
    points = [(-15.0, 100.0), (0.0 + 10, 5.0), (25.0, 5.0)]
    assert [r.kind for r in timeline.restarts({"a": points}, 0, HOUR, 15)] == ["restart"]


def test_a_pod_replaced_under_a_new_instance_label_is_a_replacement() -> None:
    old = [(t, 100.0) for t, _ in every(15, -600, 1800)]
    new = [(t, 1830.0) for t, _ in every(15, 1830, HOUR)]
    found = timeline.restarts({"old": old, "new": new}, 0, HOUR, 15)
    assert [r.kind for r in found] == ["replacement"]
    assert "old" in found[0].detail
    assert found[0].instance == "new"


def test_scale_out_and_scale_in_are_not_restarts() -> None:
    steady = [(t, 100.0) for t, _ in every(15, -600, HOUR)]
    added = [(t, 1200.0) for t, _ in every(15, 1200, HOUR)]
    removed = [(t, 50.0) for t, _ in every(15, -600, 2400)]
    assert timeline.restarts({"a": steady, "b": added, "c": removed}, 0, HOUR, 15) == []


def test_a_restart_in_the_baseline_is_not_in_the_candidate_window() -> None:
    points = [(t, 100.0 if t < -1800 else 3000.0) for t, _ in every(15, -HOUR, HOUR)]
    assert timeline.restarts({"a": points}, 0, HOUR, 15) == []


def test_memory_growth_is_judged_over_the_instance_own_life() -> None:
    # Born half-way through the window, from 160 to 220: the first quarter of its life averages 167.5, the
    # last 212.5 (+26.9 %); the window's own first quarter has no sample of it at all.
    leaking = [(t, 100.0 + t / 30) for t, _ in every(15, 1800, HOUR)]
    seen = timeline.growth(leaking, HOUR)
    assert seen is not None
    assert seen.judged
    assert seen.growth == pytest.approx(212.5 / 167.5 - 1)


def test_a_short_lived_instance_is_reported_not_judged_on_growth() -> None:
    seen = timeline.growth([(0.0, 100.0), (600.0, 300.0)], HOUR)
    assert seen is not None
    assert not seen.judged
    assert math.isnan(seen.growth)
    assert seen.peak == 300.0


# --- flags at every successful scrape (integration.rollout_provenance) ------------------------------------


def test_a_flag_on_at_every_successful_scrape_is_proven() -> None:
    up = {"a": every(15, 0, HOUR)}
    state = timeline.flag_state(up, {"a": [every(15, 0, HOUR, 1.0)]}, 1.0, 0, HOUR)
    assert state.bad == 0
    assert state.scrapes == 240  # (0, HOUR]: the sample at 0 is the previous window's
    assert state.share == 1.0


def test_a_flag_off_for_a_stretch_names_its_first_and_last_scrape() -> None:
    up = {"a": every(15, 0, HOUR), "b": every(15, 0, HOUR)}
    flag = {"a": [[(t, 0.0 if 600 <= t <= 900 else 1.0) for t, _ in every(15, 0, HOUR)]],
            "b": [every(15, 0, HOUR, 1.0)]}
    state = timeline.flag_state(up, flag, 1.0, 0, HOUR)
    assert (state.wrong, state.missing) == (21, 0)
    assert (state.first, state.last, state.instances) == (600, 900, {"a"})


def test_a_successful_scrape_without_a_flag_sample_is_missing_and_a_failed_scrape_is_not_judged() -> None:
    up = {"a": [(t, 0.0 if 1200 <= t < 1500 else 1.0) for t, _ in every(15, 0, HOUR)]}
    # No flag samples while the scrapes failed (as Prometheus stores it), none either from 3000 on.
    flag = {"a": [[(t, 1.0) for t, _ in every(15, 0, HOUR) if not (1200 <= t < 1500 or t >= 3000)]]}
    state = timeline.flag_state(up, flag, 1.0, 0, HOUR)
    assert state.missing == len([t for t, _ in every(15, 3000, HOUR)])
    assert state.wrong == 0
    assert state.first == 3000


def test_a_flag_sample_half_an_interval_away_still_belongs_to_the_scrape() -> None:
    up = {"a": every(30, 0, HOUR)}
    shifted = {"a": [[(t + 14, 1.0) for t, _ in every(30, 0, HOUR)]]}
    assert timeline.flag_state(up, shifted, 1.0, 0, HOUR).bad == 0
    # Flag samples every 60 s only: the scrapes at 30, 90, 150 ... have none within 15 s.
    sparse = {"a": [[(t, 1.0) for t, _ in every(60, 0, HOUR)]]}
    assert timeline.flag_state(up, sparse, 1.0, 0, HOUR).missing == 60


def test_no_successful_scrape_gives_no_share() -> None:
    state = timeline.flag_state({"a": every(15, 0, HOUR, 0.0)}, {}, 1.0, 0, HOUR)
    assert state.scrapes == 0
    assert math.isnan(state.share)


def test_two_series_of_one_flag_that_disagree_at_a_scrape_are_wrong_whichever_sorts_first() -> None:
    up = {"a": every(15, 0, HOUR)}
    off, override_on = every(15, 0, HOUR, 0.0), every(15, 0, HOUR, 1.0)
    for order in ([off, override_on], [override_on, off]):
        state = timeline.flag_state(up, {"a": order}, 0.0, 0, HOUR)
        assert state.wrong == 240


def test_a_start_time_read_back_one_float_step_apart_is_no_restart() -> None:
    # What VictoriaMetrics returned for one router process: its decimals give the same start time back as
    # 1796527653.97 and as 1796527653.9699998.
    points = [(100.0, 1796527653.97), (102.0, 1796527653.9699998), (104.0, 1796527653.97)]
    assert timeline.restarts({"router": points}, 99.0, 105.0, 2.0) == []
    restarted = [*points, (106.0, 1796527705.1)]
    assert [r.kind for r in timeline.restarts({"router": restarted}, 99.0, 107.0, 2.0)] == ["restart"]


def test_a_flag_sample_at_the_scrapes_own_time_is_taken_unless_two_earlier_ones_are_within_tolerance() -> None:
    # Scrapes every 15 s (tolerance 7.5 s). At 100 two samples (93, 96) lie within the tolerance before the one
    # at 100 itself: the two nearest the tolerance's start are compared and 96's 0 is taken (a wrong flag),
    # whether or not a sample carries the scrape's very timestamp; at 85 and 115 the scrape's own sample is.
    up = {"a": [(85.0, 1.0), (100.0, 1.0), (115.0, 1.0)]}
    flag = {"a": [[(85.0, 1.0), (93.0, 0.0), (96.0, 0.0), (100.0, 1.0), (115.0, 1.0)]]}
    state = timeline.flag_state(up, flag, 1.0, 0.0, 200.0)
    assert (state.scrapes, state.wrong, state.missing, state.first, state.last) == (3, 1, 0, 100.0, 100.0)
