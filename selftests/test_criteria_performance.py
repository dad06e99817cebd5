"""performance.latency_increase, performance.throughput and performance.endpoint_latency, judged by
real gate runs; latency boundaries at +4.9 % / +5.1 % on p99 only."""

from __future__ import annotations

import pytest
from harness import GateRun, assert_verdict, violations


def test_latency_passes_when_gateway_p99_grew_4_9_percent(healthy_run: GateRun) -> None:
    # Gateway p99 bucket (0.25, 0.5]: 400 of 20,000 observations per scrape in the baseline, 349 in the
    # candidate (51 moved up): p99 = 0.25 + 0.25 * 200 / 349 = 0.39327 s vs 0.375 s, +4.87 %.
    record = assert_verdict(healthy_run, "performance.latency_increase", "passed")
    gateway = "gateway_http_request_duration_seconds"
    assert record["candidate"][f"{gateway} p99"] == pytest.approx(0.25 + 0.25 * 200 / 349)
    assert record["baseline"][f"{gateway} p99"] == pytest.approx(0.375)
    for q in ("p50", "p95"):
        assert record["candidate"][f"{gateway} {q}"] == pytest.approx(record["baseline"][f"{gateway} {q}"])


def test_latency_fails_when_router_p99_grew_5_1_percent(world_a_run: GateRun) -> None:
    # Router p99 bucket (0.025, 0.05]: 347 of 400 stay: p99 = 0.025 + 0.025 * 200 / 347 = 0.039409 s, +5.09 %.
    record = assert_verdict(
        world_a_run,
        "performance.latency_increase",
        "failed",
        "router_decision_duration_seconds p99",
        "+5.09 %",
    )
    # p50/p95 and the gateway's +4.87 % are not violations.
    assert len(record["details"]) == 1, record["details"]


def test_latency_fails_without_histogram_data(sparse_run: GateRun) -> None:
    assert_verdict(sparse_run, "performance.latency_increase", "failed", "no data")


def test_throughput_passes_when_rates_are_unchanged(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "performance.throughput", "passed")


def test_throughput_fails_when_gateway_requests_dropped_10_percent(world_a_run: GateRun) -> None:
    record = assert_verdict(world_a_run, "performance.throughput", "failed", "gateway_http_requests_total")
    assert "worker_step_executions_total:" not in violations(record)


def test_throughput_fails_without_counter_data(sparse_run: GateRun) -> None:
    assert_verdict(sparse_run, "performance.throughput", "failed", "no data")


def test_endpoint_latency_passes_for_fast_endpoints(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "performance.endpoint_latency", "passed")


def test_endpoint_latency_fails_when_the_worker_answers_in_150ms(labels_and_latency_run: GateRun) -> None:
    record = assert_verdict(labels_and_latency_run, "performance.endpoint_latency", "failed", "100 ms")
    assert record["observed"]["worker"] >= 0.15
