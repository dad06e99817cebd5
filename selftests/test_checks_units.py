"""Small pure pieces of the checks, tested without a Prometheus."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest
from test_loading_criteria import SHIPPED

from wavegate.checks import _detailed, _le_regex, _saturated
from wavegate.criteria import load_criteria


def test_a_created_series_is_as_detailed_as_its_counter_or_histogram() -> None:
    # prometheus_client exports router_decisions_created beside router_decisions_total, with run_id on it.
    context = SimpleNamespace(contract=load_criteria(SHIPPED).contract)
    assert _detailed(context, "router_decisions_created")  # type: ignore[arg-type]
    assert _detailed(context, "worker_step_execution_duration_seconds_created")  # type: ignore[arg-type]
    assert not _detailed(context, "gateway_http_requests_created")  # type: ignore[arg-type]
    assert not _detailed(context, "worker_queue_depth")  # type: ignore[arg-type]


@pytest.mark.parametrize(("bound", "matches", "misses"), [
    (30, ["30", "30.0", "30.00"], ["3", "300", "30.5"]),
    (0.5, ["0.5", "0.50"], ["0.05", "5"]),
])
def test_a_bucket_bound_matches_both_client_spellings_and_nothing_else(
        bound: float, matches: list[str], misses: list[str]) -> None:
    # PromQL regex matchers are anchored; the double backslash is PromQL string escaping.
    pattern = re.compile(_le_regex(bound).replace("\\\\", "\\"))
    assert all(pattern.fullmatch(text) for text in matches)
    assert not any(pattern.fullmatch(text) for text in misses)


def test_a_quantile_in_the_inf_bucket_is_recognised_as_beyond_the_largest_bound() -> None:
    # histogram_quantile would report 5 s for all of these; only the counts say p99 may be 60 s.
    counts = {1.0: 900.0, 5.0: 985.0, math.inf: 1000.0}
    assert _saturated(counts, 0.99) == 5.0  # 990 of 1000 needed, only 985 at or below 5 s
    assert _saturated(counts, 0.95) is None
    assert _saturated({math.inf: 10.0}, 0.5) is None  # no finite bucket: nothing to compare


def test_a_measured_value_that_is_not_finite_fails_as_no_data_in_every_check() -> None:
    from wavegate.checks.common import conclude
    from wavegate.verdicts import Observation

    observation = Observation(passed=True, summary="")
    observation.measure({"job": "router"}, math.nan, threshold=0.999, passed=True)
    observation.measure({"job": "gateway"}, 1.0, threshold=0.999, passed=True)
    conclude(observation, [], "every component met the target")
    assert not observation.passed
    assert observation.no_data
    assert "job=router" in observation.summary
    assert [m.passed for m in observation.measurements] == [False, True]


def test_a_check_without_violations_holds_with_its_own_summary() -> None:
    from wavegate.checks.common import conclude
    from wavegate.verdicts import Observation

    observation = Observation(passed=True, summary="")
    observation.measure({"job": "router"}, 1.0, threshold=0.999, passed=True)
    assert conclude(observation, [], "held").summary == "held"
    assert observation.passed
