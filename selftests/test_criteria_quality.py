"""quality.label_cardinality, quality.metric_types and quality.exposition_format, judged against crafted
expositions served on loopback (rendered by prometheus_client) and the healthy Prometheus."""

from __future__ import annotations

from harness import GateRun, assert_verdict, violations


def test_label_cardinality_passes_in_the_healthy_world(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "quality.label_cardinality", "passed")


def test_label_cardinality_fails_on_run_id_in_an_aggregate_metric_and_any_trace_id(
    quality_run: GateRun,
) -> None:
    assert_verdict(
        quality_run,
        "quality.label_cardinality",
        "failed",
        "gateway_rate_limit_hits_total",
        "run_id",
        "router_errors_total",
        "trace_id",
    )


def test_metric_types_pass_in_the_healthy_world(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "quality.metric_types", "passed")


def test_metric_types_fail_when_a_histogram_lacks_a_contract_bucket(quality_run: GateRun) -> None:
    record = assert_verdict(
        quality_run, "quality.metric_types", "failed", "router_decision_duration_seconds", "0.001"
    )
    assert "gateway_" not in violations(record)
    assert "worker_" not in violations(record)


def test_exposition_format_passes_in_the_healthy_world(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "quality.exposition_format", "passed")


def test_exposition_format_fails_naming_each_lint_problem_and_its_line(quality_run: GateRun) -> None:
    assert_verdict(
        quality_run,
        "quality.exposition_format",
        "failed",
        "worker_poll_time_ms",
        "worker_cache_hits_total",
        "line",
    )
