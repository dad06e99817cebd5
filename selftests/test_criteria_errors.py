"""errors.rate_not_higher, judged by real gate runs."""

from __future__ import annotations

from harness import GateRun, assert_verdict, violations


def test_error_ratio_passes_when_unchanged(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "errors.rate_not_higher", "passed")


def test_error_ratio_passes_when_gateway_traffic_drops_but_its_error_share_does_not(
    world_a_run: GateRun,
) -> None:
    assert_verdict(world_a_run, "errors.rate_not_higher", "passed")


def test_error_ratio_fails_when_worker_step_errors_double(world_b_run: GateRun) -> None:
    # 200 -> 400 step errors per 40,200 executions: 0.4975 % -> 0.995 %.
    record = assert_verdict(world_b_run, "errors.rate_not_higher", "failed", "worker", "0.995 %", "0.498 %")
    assert "gateway:" not in violations(record)
    assert "router:" not in violations(record)


def test_error_ratio_fails_without_data(sparse_run: GateRun) -> None:
    assert_verdict(sparse_run, "errors.rate_not_higher", "failed", "no data")
