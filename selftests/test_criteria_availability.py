"""availability.uptime, availability.no_crashes and availability.graceful_degradation, judged by real
gate runs -- the uptime boundaries on a long, sparse world of one-minute scrapes over a week."""

from __future__ import annotations

import pytest
from harness import GateRun, assert_verdict, violations


def test_uptime_passes_in_the_healthy_world(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "availability.uptime", "passed")


def test_uptime_passes_at_99_91_percent(uptime_runs: dict[str, GateRun]) -> None:
    # 9 one-minute outages per job in a week of 10,080 scrapes: 10071 / 10080 = 99.911 %.
    record = assert_verdict(uptime_runs["boundary_pass"], "availability.uptime", "passed")
    assert record["observed"]["router"] == pytest.approx(10071 / 10080)


def test_uptime_fails_at_99_89_percent(uptime_runs: dict[str, GateRun]) -> None:
    # 11 outages of the gateway: 10069 / 10080 = 99.891 %.
    record = assert_verdict(
        uptime_runs["boundary_fail"], "availability.uptime", "failed", "job=gateway", "99.891"
    )
    assert "job=router" not in violations(record)
    assert "job=worker" not in violations(record)
    assert record["samples"] >= 10_000


def test_uptime_fails_when_one_component_was_down_for_an_hour(uptime_runs: dict[str, GateRun]) -> None:
    # The worker down 60 minutes in a row: 10020 / 10080 = 99.405 %; router and gateway at 100 %.
    record = assert_verdict(
        uptime_runs["down_an_hour"], "availability.uptime", "failed", "job=worker", "99.405"
    )
    assert "job=router" not in violations(record)
    assert "job=gateway" not in violations(record)
    assert "worker" in (record["worst"] or "")


def test_uptime_fails_when_a_fifth_of_the_window_has_no_samples(uptime_runs: dict[str, GateRun]) -> None:
    # Every sample says up == 1, but 20 % of the week was never scraped: coverage 80 % < 90 %.
    assert_verdict(uptime_runs["gap"], "availability.uptime", "failed", "job=router", "not uptime")


def test_uptime_fails_when_the_window_has_no_up_series(empty_window_run: GateRun) -> None:
    assert_verdict(empty_window_run, "availability.uptime", "failed", "no data")


def test_no_crashes_passes_when_start_times_never_change(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "availability.no_crashes", "passed")


def test_no_crashes_fails_when_the_router_restarted(world_b_run: GateRun) -> None:
    record = assert_verdict(world_b_run, "availability.no_crashes", "failed", "job=router", "restarted")
    assert "job=gateway" not in violations(record)
    assert "job=worker" not in violations(record)


def test_no_crashes_fails_without_start_time_data(empty_window_run: GateRun) -> None:
    assert_verdict(empty_window_run, "availability.no_crashes", "failed", "no data")


def test_graceful_degradation_passes_when_the_critical_pool_rejected_work(healthy_run: GateRun) -> None:
    record = assert_verdict(healthy_run, "availability.graceful_degradation", "passed", "gpu")
    assert record["vacuous"] is False


def test_graceful_degradation_passes_for_a_pool_over_its_bound_that_rejected(world_a_run: GateRun) -> None:
    # cpu over its bound fails memory.queue_bounded, but it was rejecting and nothing restarted.
    assert_verdict(world_a_run, "availability.graceful_degradation", "passed", "cpu")


def test_graceful_degradation_is_a_reported_vacuous_pass_when_no_pool_was_critical(
    sparse_run: GateRun,
) -> None:
    record = assert_verdict(sparse_run, "availability.graceful_degradation", "passed", "vacuous")
    assert record["vacuous"] is True


def test_graceful_degradation_fails_when_a_critical_pool_rejected_nothing(world_b_run: GateRun) -> None:
    assert_verdict(
        world_b_run,
        "availability.graceful_degradation",
        "failed",
        "resource_pool=io",
        "worker_queue_rejections_total",
        "job=router restarted",
    )


def test_graceful_degradation_fails_without_overload_data(empty_window_run: GateRun) -> None:
    assert_verdict(empty_window_run, "availability.graceful_degradation", "failed", "no data")
