"""retry.success_rate, retry.wasted_below_5pct and retry.backoff_exponential, judged by real gate runs."""

from __future__ import annotations

import pytest
from harness import GateRun, assert_verdict, violations


def test_success_rate_passes_above_80_percent_and_the_baseline(healthy_run: GateRun) -> None:
    record = assert_verdict(healthy_run, "retry.success_rate", "passed")
    assert record["candidate"] == pytest.approx(0.90)
    assert record["baseline"] == pytest.approx(0.85)


def test_success_rate_fails_at_75_percent(world_a_run: GateRun) -> None:
    assert_verdict(world_a_run, "retry.success_rate", "failed", "75.000 %", "80.000 %")


def test_success_rate_fails_when_it_does_not_beat_the_baseline(world_b_run: GateRun) -> None:
    record = assert_verdict(world_b_run, "retry.success_rate", "failed", "82.000 %", "85.000 %", "baseline")
    assert "is not above 0.8 " not in violations(record)


def test_success_rate_fails_without_data(sparse_run: GateRun) -> None:
    assert_verdict(sparse_run, "retry.success_rate", "failed", "no data")


def test_wasted_retries_pass_at_4_9_percent(healthy_run: GateRun) -> None:
    # 49 of 1000 attempts per scrape on execution_failed (retryable="false"): exactly 0.049.
    record = assert_verdict(healthy_run, "retry.wasted_below_5pct", "passed")
    assert record["observed"] == pytest.approx(0.049)


def test_wasted_retries_fail_at_5_1_percent(world_b_run: GateRun) -> None:
    record = assert_verdict(world_b_run, "retry.wasted_below_5pct", "failed", "5.100 %", "5.000 %")
    assert record["observed"] == pytest.approx(0.051)


def test_wasted_retries_fail_on_a_zero_denominator(sparse_run: GateRun) -> None:
    # The attempt counters exist but never move: 0 / 0 is no data, not 0 %.
    assert_verdict(sparse_run, "retry.wasted_below_5pct", "failed", "no data", "denominator")


def test_backoff_passes_when_medians_double_per_attempt(healthy_run: GateRun) -> None:
    # Full jitter on [0, 0.1 * 2^(n-1)] s: medians 0.05, 0.1, 0.2 s (exact for uniform data).
    record = assert_verdict(healthy_run, "retry.backoff_exponential", "passed")
    assert record["observed"] == pytest.approx({"attempt=1": 0.05, "attempt=2": 0.1, "attempt=3": 0.2})


def test_backoff_fails_with_cp1_fixed_backoff(world_a_run: GateRun) -> None:
    # Fixed 200/300/400 ms: medians 0.175, 0.375, 0.375 s -- attempt 3 does not grow.
    record = assert_verdict(world_a_run, "retry.backoff_exponential", "failed", "attempt=3", "1.5")
    assert record["observed"] == pytest.approx({"attempt=1": 0.175, "attempt=2": 0.375, "attempt=3": 0.375})


def test_backoff_fails_without_backoff_data(sparse_run: GateRun) -> None:
    assert_verdict(sparse_run, "retry.backoff_exponential", "failed", "no data")
