"""integration.rollout_provenance: the windows hold the rollout they claim. Each case is one environment of
one shared Prometheus (told apart by its `env` label, see worlds.start_shared), judged by a real gate run:
flags on through the candidate and off through the baseline passes; a candidate window that starts before
the rollout finished, a rollback inside the candidate window and flags on in the baseline each fail, naming
the flag, the job and when; missing flag metrics are "no data", and a baseline without flag series counts
as off only when the criteria file says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest
from harness import GateRun, History, assert_verdict, criteria_variant, run_gate
from worlds import (
    HEALTHY,
    SharedWorlds,
    World,
    flags_exported_from,
    mutate,
    start_shared,
    wave_flags,
    without,
)

P = "integration.rollout_provenance"
CASES = {
    "healthy": HEALTHY,
    # The router's rollout finished 10 minutes after the candidate window started.
    "late": mutate(HEALTHY, wave_flags("router", -300, 600, 0.0)),
    # The gateway was rolled back to CP1 for 10 minutes in the middle of the candidate window.
    "rollback": mutate(HEALTHY, wave_flags("gateway", 1800, 2400, 0.0)),
    # The worker ran with the Wave 1 flags for 10 minutes of the baseline.
    "on_in_baseline": mutate(HEALTHY, wave_flags("worker", -2400, -1800, 1.0)),
    # No flag gauge anywhere.
    "unexported": mutate(HEALTHY, without("cp2_feature_flag_enabled")),
    # CP1 binaries that do not export the gauge: flag series only from the switch between the windows on.
    "cp1_without_gauge": mutate(HEALTHY, flags_exported_from(-150)),
    # Two more found by review (series added by `add_review_cases`): a second worker target in another
    # cluster under the same `instance` label, up for 10 minutes of the candidate, exporting no flags
    # (a CP1 canary); and a second series of one flag (`source="override"`) on through the baseline.
    "twin": HEALTHY,
    "override_in_baseline": HEALTHY,
}


def add_review_cases(history: History, worlds: Mapping[str, World]) -> None:
    twin = worlds["twin"]
    start = twin.windows["candidate"][0]
    instance = twin.targets["worker"]
    history.add("up", {"job": "worker", "instance": instance, "env": "twin", "cluster": "b"},
                [(start + 5 + 15 * i, 1.0) for i in range(40)])
    override = worlds["override_in_baseline"]
    b0, b1 = override.windows["baseline"]
    history.add("cp2_feature_flag_enabled",
                {"job": "worker", "instance": override.targets["worker"], "env": "override_in_baseline",
                 "flag": "CP2_ADVANCED_RETRY_ENABLED", "source": "override"},
                [(b0 - 600 + 7.5 + 15 * i, 1.0) for i in range(int((b1 - b0 + 600) // 15))])


@pytest.fixture(scope="module")
def provenance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SharedWorlds, dict[str, GateRun]]]:
    workdir = tmp_path_factory.mktemp("provenance")
    shared = start_shared(CASES, workdir, extra=add_review_cases)
    try:
        runs = {env: run_gate(workdir / env, env_file=shared.env_file(env, f"{env}.yaml", selector={"env": env}),
                              select=P) for env in CASES}
        lenient = criteria_variant(workdir / "lenient", {P: {"baseline_without_flags": "off"}})
        runs["cp1_without_gauge_counted_off"] = run_gate(
            workdir / "lenient-run", f"--criteria={lenient}", select=P,
            env_file=shared.env_file("cp1_without_gauge", "lenient.yaml", selector={"env": "cp1_without_gauge"}))
        yield shared, runs
    finally:
        shared.stop()


def test_flags_on_through_the_candidate_and_off_through_the_baseline_pass(provenance) -> None:
    _, runs = provenance
    record = assert_verdict(runs["healthy"], P, "passed")
    shown = {(m["key"]["window"], m["key"]["job"], m["key"]["flag"]): m for m in record["measurements"]}
    # Every flag of every job in both windows was judged, each at every successful scrape.
    assert len(shown) == 2 * 3 * 4
    assert all(m["value"] == 1.0 and m["passed"] for m in shown.values())
    # The builds each job reported are shown beside the verdict.
    assert any("candidate builds: router: 2.0.0-wave1 (cp2w1)" in note for note in record["notes"])


def test_a_candidate_window_that_starts_before_the_rollout_finished_fails_naming_when(provenance) -> None:
    shared, runs = provenance
    record = assert_verdict(runs["late"], P, "failed", "candidate: CP2_ADVANCED_RETRY_ENABLED should be on",
                            "job=router")
    start = shared.worlds["late"].windows["candidate"][0]
    # The first offending scrape is the window's first one, the last one 10 minutes in.
    assert f"from {_rfc3339(start + 7.5)} to {_rfc3339(start + 600 - 7.5)}" in runs["late"].text(P)
    violations = "\n".join(record["details"])
    assert "job=router" in violations
    assert "job=gateway" not in violations
    assert "job=worker" not in violations


def test_a_rollback_inside_the_candidate_window_fails_naming_when(provenance) -> None:
    shared, runs = provenance
    assert_verdict(runs["rollback"], P, "failed", "candidate: CP2_QUEUE_MANAGEMENT_ENABLED should be on",
                   "job=gateway", "off at 40 of 240")
    start = shared.worlds["rollback"].windows["candidate"][0]
    assert f"from {_rfc3339(start + 1800 + 7.5)} to {_rfc3339(start + 2400 - 7.5)}" in runs["rollback"].text(P)


def test_flags_on_in_the_baseline_fail(provenance) -> None:
    _, runs = provenance
    assert_verdict(runs["on_in_baseline"], P, "failed",
                   "baseline: CP2_COMPLETE_TIMEOUT_ENABLED should be off for job=worker", "on at 40 of 240")


def test_missing_flag_metrics_are_no_data_not_a_pass(provenance) -> None:
    _, runs = provenance
    record = assert_verdict(runs["unexported"], P, "failed", "no cp2_feature_flag_enabled series", "no data")
    assert record["no_data"] is True


def test_a_baseline_without_flag_series_counts_as_off_only_when_the_criteria_file_says_so(provenance) -> None:
    _, runs = provenance
    assert_verdict(runs["cp1_without_gauge"], P, "failed", "baseline: job=router", "no data")
    record = assert_verdict(runs["cp1_without_gauge_counted_off"], P, "passed")
    assert any("count as off" in note for note in record["notes"])


def test_a_second_target_under_the_same_instance_label_without_flags_fails(provenance) -> None:
    _, runs = provenance
    assert_verdict(runs["twin"], P, "failed", "should be on for job=worker", "not exported at 40 of 280",
                   "cluster=b")


def test_a_second_series_of_a_flag_that_says_on_fails_the_baseline(provenance) -> None:
    _, runs = provenance
    assert_verdict(runs["override_in_baseline"], P, "failed",
                   "baseline: CP2_ADVANCED_RETRY_ENABLED should be off for job=worker", "on at 240 of 240")


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
