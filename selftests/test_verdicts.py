"""Observations become verdicts a release engineer can act on; gate status and exit codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from test_loading_criteria import SHIPPED

from wavegate.criteria import load_criteria
from wavegate.results import gate_status
from wavegate.settings import Window
from wavegate.verdicts import CriterionViolated, Observation, assert_criterion_met, render


def test_a_violation_message_leads_with_the_violation_and_carries_values_window_samples_worst() -> None:
    criterion = load_criteria(SHIPPED).get("retry.wasted_below_5pct")
    window = Window("candidate", datetime(2026, 11, 17, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))
    observation = Observation(
        passed=False,
        summary="5.1 % is not below 5 %",
        observed=0.051,
        threshold=0.05,
        unit="ratio",
        window=window,
        samples=40320,
        worst='worker_retry_attempts_total{error_code="validation"}',
        queries=[{"query": "sum(increase(x[7d]))", "time": "2026-11-24T00:00:00Z"}],
    )
    with pytest.raises(CriterionViolated) as caught:
        assert_criterion_met(criterion, observation)
    text = str(caught.value)
    for expected in (
        "[retry.wasted_below_5pct]",
        "5.100 %",
        "5.000 %",
        "2026-11-17T00:00:00Z .. 2026-11-24T00:00:00Z",
        "samples:   40320",
        'error_code="validation"',
        "1 queries: -v shows them",
    ):
        assert expected in text
    # The violation comes first (a JUnit message that starts with the requirement reads like a pass) ...
    assert text.splitlines()[0] == "[retry.wasted_below_5pct] 5.1 % is not below 5 %"
    assert text.splitlines()[1].startswith("  requirement: ")
    # ... and the queries, always in gate-results.json and gate.html, are printed with -v.
    assert "sum(increase(x[7d]))" not in text
    assert "query @ 2026-11-24T00:00:00Z: sum(increase(x[7d]))" in observation.message(criterion, queries=True)
    assert caught.value.criterion_id == "retry.wasted_below_5pct"


def test_a_passing_observation_raises_nothing() -> None:
    criterion = load_criteria(SHIPPED).get("retry.wasted_below_5pct")
    assert_criterion_met(criterion, Observation(passed=True, summary="1 %"))


def test_values_are_rendered_with_their_units() -> None:
    assert render(0.999, "ratio") == "0.999 (99.900 %)"
    assert render(2 * 2**20, "bytes") == "2097152 bytes (2.0 MiB)"
    assert render(float("nan"), "seconds") == "NaN"
    assert render({"cpu": 3.0}, "tasks") == "cpu: 3 tasks"


@pytest.mark.parametrize(
    ("verdicts", "status", "code"),
    [
        (["passed", "passed"], "passed", 0),
        (["passed", "failed", "error"], "failed", 1),
        (["passed", "error"], "error", 6),
        ([], "error", 5),
    ],
)
def test_gate_status_puts_a_violation_before_an_evaluation_error_and_nothing_is_not_a_pass(
    verdicts: list[str], status: str, code: int
) -> None:
    assert gate_status([{"verdict": v} for v in verdicts]) == (status, code)
