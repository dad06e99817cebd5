"""timeout.compliance, timeout.no_hangs and timeout.events_tracked, judged by real gate runs."""

from __future__ import annotations

from pathlib import Path

from harness import GateRun, assert_verdict, run_gate
from worlds import HEALTHY, hung_step_on_a_new_series, mutate, start_world


def test_compliance_passes_when_no_step_took_longer_than_30s(healthy_run: GateRun) -> None:
    record = assert_verdict(healthy_run, "timeout.compliance", "passed")
    assert record["observed"] == 0


def test_compliance_fails_when_three_steps_took_between_30s_and_60s(world_a_run: GateRun) -> None:
    # 3 observations in (30, 60] inside the window; increase() extrapolates them by 3600/3585 -> 3.0126.
    record = assert_verdict(world_a_run, "timeout.compliance", "failed", "30 s", "step_type=", "http")
    assert 3 <= record["observed"] < 3.1


def test_compliance_fails_without_step_duration_data(sparse_run: GateRun) -> None:
    assert_verdict(
        sparse_run, "timeout.compliance", "failed", "no data", "worker_step_execution_duration_seconds"
    )


def test_no_hangs_passes_when_slow_steps_still_finished_within_60s(world_a_run: GateRun) -> None:
    assert_verdict(world_a_run, "timeout.no_hangs", "passed")


def test_no_hangs_fails_when_two_steps_outlasted_the_largest_bucket(world_b_run: GateRun) -> None:
    record = assert_verdict(world_b_run, "timeout.no_hangs", "failed", "60 s", "http")
    assert 2 <= record["observed"] < 2.1


def test_events_tracked_passes_when_exported_and_stored(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "timeout.events_tracked", "passed")


def test_events_tracked_fails_when_the_worker_neither_exports_nor_stored_them(world_a_run: GateRun) -> None:
    assert_verdict(
        world_a_run,
        "timeout.events_tracked",
        "failed",
        "does not export worker_timeout_events_total",
        "no data",
    )


def test_a_hang_on_a_label_combination_never_seen_before_still_fails(tmp_path: Path) -> None:
    # The series is born at 1 in +Inf mid-window: increase() alone sees no change and would pass.
    live = start_world(mutate(HEALTHY, hung_step_on_a_new_series()), tmp_path / "world")
    try:
        run = run_gate(tmp_path / "run", env_file=live.env_file(), select="timeout.compliance or timeout.no_hangs")
    finally:
        live.stop()
    for criterion_id in ("timeout.compliance", "timeout.no_hangs"):
        record = assert_verdict(run, criterion_id, "failed", "newcomer")
        assert record["observed"] == 1
