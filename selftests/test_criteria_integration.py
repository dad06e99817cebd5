"""integration.targets_up and integration.scrape_success, judged against a Prometheus that really
scrapes (or fails to scrape) the crafted endpoints."""

from __future__ import annotations

from harness import GateRun, assert_verdict, violations


def test_targets_up_passes_when_all_four_jobs_are_scraped(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "integration.targets_up", "passed")


def test_targets_up_fails_naming_the_missing_job_and_the_down_targets(fault_run: GateRun) -> None:
    record = assert_verdict(fault_run, "integration.targets_up", "failed", "job=gateway", "job=worker", "503")
    assert "job=prometheus" not in violations(record)


def test_scrape_success_passes_after_fifteen_minutes_of_good_scrapes(healthy_run: GateRun) -> None:
    assert_verdict(healthy_run, "integration.scrape_success", "passed")


def test_scrape_success_fails_on_failed_scrapes_and_a_sample_limit_hit(fault_run: GateRun) -> None:
    record = assert_verdict(
        fault_run,
        "integration.scrape_success",
        "failed",
        "job=worker",
        "job=router",
        "prometheus_target_scrapes_exceeded_sample_limit_total",
    )
    # The gateway is not scraped live, but its history covers the last 15 minutes.
    assert "job=gateway" not in violations(record)
