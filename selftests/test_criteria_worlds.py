"""The crafted worlds mean what their comments say: checked with PromQL on the real Prometheus that
serves them, independently of the gate."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from harness import find_binary
from worlds import BASELINE_LATENCY, CP1_BACKOFF, EXPONENTIAL_BACKOFF, LATENCY_HISTOGRAMS, LiveWorld


def window_query(live: LiveWorld, template: str, window: str) -> list[dict[str, Any]]:
    start, end = live.world.windows[window]
    return live.prometheus.query(template.replace("$W", f"{int(end - start)}s"), at=end)


@pytest.mark.parametrize("histogram", sorted(LATENCY_HISTOGRAMS))
@pytest.mark.parametrize("window", ["baseline", "candidate"])
def test_latency_quantiles_match_prometheus_histogram_quantile(
    healthy_world: LiveWorld, histogram: str, window: str
) -> None:
    expected = healthy_world.world.expected["latency"][histogram][window]
    for q, value in expected.items():
        result = window_query(
            healthy_world, f"histogram_quantile({q}, sum by (le) (increase({histogram}_bucket[$W])))", window
        )
        assert float(result[0]["value"][1]) == pytest.approx(value, rel=1e-9), (histogram, window, q)


def test_only_the_gateway_p99_moves_between_windows_in_the_healthy_world(healthy_world: LiveWorld) -> None:
    latency = healthy_world.world.expected["latency"]
    for histogram, windows in latency.items():
        for q in (0.5, 0.95, 0.99):
            change = windows["candidate"][q] / windows["baseline"][q] - 1
            moved = histogram == "gateway_http_request_duration_seconds" and q == 0.99
            assert change == (pytest.approx(0.0487, abs=5e-4) if moved else 0.0), (histogram, q)


def test_wasted_ratio_and_backoff_medians_are_exact(healthy_world: LiveWorld) -> None:
    wasted = window_query(
        healthy_world,
        'sum(increase(worker_retry_attempts_total{retryable="false"}[$W])) '
        "/ sum(increase(worker_retry_attempts_total[$W]))",
        "candidate",
    )
    assert float(wasted[0]["value"][1]) == pytest.approx(0.049, rel=1e-12)
    medians = window_query(
        healthy_world,
        "histogram_quantile(0.5, sum by (le, attempt) "
        "(increase(worker_retry_backoff_duration_seconds_bucket[$W])))",
        "candidate",
    )
    observed = {r["metric"]["attempt"]: float(r["value"][1]) for r in medians}
    assert observed == pytest.approx({"1": 0.05, "2": 0.1, "3": 0.2})


def test_profiles_compute_the_quantiles_their_comments_state() -> None:
    assert BASELINE_LATENCY["gateway_http_request_duration_seconds"].quantile(0.99) == pytest.approx(0.375)
    assert BASELINE_LATENCY["worker_step_execution_duration_seconds"].quantile(0.95) == pytest.approx(
        2.153846, 1e-6
    )
    assert [EXPONENTIAL_BACKOFF[a].quantile(0.5) for a in "123"] == pytest.approx([0.05, 0.1, 0.2])
    assert [CP1_BACKOFF[a].quantile(0.5) for a in "123"] == pytest.approx([0.175, 0.375, 0.375])


def test_live_scrapes_continue_the_backfilled_series(healthy_world: LiveWorld) -> None:
    # Same labels (instance = the live target), so the head continues the blocks: no counter reset, and the
    # last 15 minutes hold both backfilled and live `up` samples of one series per job.
    resets = healthy_world.prometheus.query("resets(router_decisions_total[15m])")
    assert resets
    assert all(float(r["value"][1]) == 0 for r in resets)
    up = healthy_world.prometheus.query("count_over_time(up[15m])")
    assert sorted(r["metric"]["job"] for r in up) == ["gateway", "prometheus", "router", "worker"]


def test_the_live_expositions_pass_promtool_check_metrics(healthy_world: LiveWorld) -> None:
    for component, text in healthy_world.world.expositions.items():
        checked = subprocess.run(
            [find_binary("promtool"), "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, (component, checked.stdout, checked.stderr)


def test_error_ratios_queue_peaks_and_uptime_match_the_computed_expectations(
    healthy_world: LiveWorld,
) -> None:
    expected = healthy_world.world.expected
    for window in ("baseline", "candidate"):
        ratio = window_query(
            healthy_world,
            "sum(increase(worker_step_errors_total[$W])) / sum(increase(worker_step_executions_total[$W]))",
            window,
        )
        assert float(ratio[0]["value"][1]) == pytest.approx(expected["error_ratio"]["worker"][window])
    peaks = window_query(
        healthy_world, "max by (resource_pool) (max_over_time(worker_queue_depth[$W]))", "candidate"
    )
    assert {r["metric"]["resource_pool"]: float(r["value"][1]) for r in peaks} == expected["max_depth"]
    uptime = window_query(healthy_world, "avg by (job) (avg_over_time(up[$W]))", "candidate")
    assert {r["metric"]["job"]: float(r["value"][1]) for r in uptime} == expected["uptime"]
