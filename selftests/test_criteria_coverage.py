"""coverage.endpoints_exported, coverage.required_metrics and coverage.required_labels, judged by real
gate runs against crafted /metrics endpoints and a real Prometheus."""

from __future__ import annotations

import pytest
from harness import GateRun, assert_verdict, closed_port, run_gate, violations
from worlds import LiveWorld


def test_endpoints_exported_passes_when_all_three_answer_with_an_exposition(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "coverage.endpoints_exported", "passed")


def test_endpoints_exported_fails_on_html_an_http_500_and_a_closed_port(
    broken_endpoints_run: GateRun,
) -> None:
    record = broken_endpoints_run.record("coverage.endpoints_exported")
    # The endpoints that answered wrongly are violations; with them, the unreachable one is listed too.
    assert_verdict(
        broken_endpoints_run, "coverage.endpoints_exported", "failed", "HTTP 500", "answered an HTML page"
    )
    assert "worker" in record["message"] or "metrics" in str(record["observed"].get("worker"))


def test_an_endpoint_that_cannot_be_reached_at_all_is_an_error_not_a_pass(
    healthy_world: LiveWorld, pytester: pytest.Pytester
) -> None:
    # Alone, an unreachable endpoint may be the gate's configuration as much as the component: "could not
    # evaluate" (exit 6), naming the URL and what to check.
    url = f"http://127.0.0.1:{closed_port()}/metrics"
    env_file = healthy_world.env_file("worker-closed.yaml", metrics_urls={"worker": url})
    run = run_gate(pytester, env_file=env_file, select="endpoints_exported or endpoint_latency")
    for criterion_id in ("coverage.endpoints_exported", "performance.endpoint_latency"):
        assert_verdict(run, criterion_id, "error", url, "components.worker.metrics_url")
    assert run.ret == 6


def test_required_metrics_passes_when_all_twelve_are_exported_and_stored(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "coverage.required_metrics", "passed", "12")


def test_required_metrics_fails_when_the_gateway_stops_exporting_one(missing_metric_run: GateRun) -> None:
    record = assert_verdict(
        missing_metric_run, "coverage.required_metrics", "failed", "gateway", "gateway_idempotency_hits_total"
    )
    assert "NOT in Prometheus" not in str(record["observed"])


def test_required_metrics_fails_when_prometheus_has_no_history_of_one(world_a_run: GateRun) -> None:
    record = assert_verdict(
        world_a_run,
        "coverage.required_metrics",
        "failed",
        "Prometheus has no router_provider_selections_total",
    )
    # The router still exports it live; only the stored history is missing.
    assert "does not export router_provider_selections_total" not in violations(record)


def test_required_labels_passes_when_every_series_has_its_labels(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "coverage.required_labels", "passed")


def test_required_labels_fails_when_router_decisions_lose_decision_reason(
    labels_and_latency_run: GateRun,
) -> None:
    assert_verdict(
        labels_and_latency_run,
        "coverage.required_labels",
        "failed",
        "router_decisions_total",
        "decision_reason",
    )
