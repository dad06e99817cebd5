"""The pieces behind dry runs, waivers, the warning band and the generic `promql` kind, on the inputs that
can mislead them (NaN, negative baselines, look-alike series, failures no sub-series explains), without a
Prometheus: a fake probe answers exactly what each case needs."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from wavegate.checks.generic import promql_rule
from wavegate.criteria import PromQLRule
from wavegate.margins import most_used, used
from wavegate.prometheus import Series
from wavegate.verdicts import Measurement, Observation
from wavegate.waivers import Waiver, Waivers

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class FakeProbe:
    """Answers the candidate and the baseline window with the given series."""

    def __init__(self, candidate: list[Series], baseline: list[Series]) -> None:
        self.answers = {"candidate": candidate, "baseline": baseline}

    def over(self, query: str, window: Any) -> Any:
        return SimpleNamespace(series=tuple(self.answers[window.name]))

    def finish(self, observation: Observation) -> Observation:
        return observation


def _judge(rule: dict[str, Any], candidate: list[Series], baseline: list[Series] | None = None) -> Observation:
    criterion = PromQLRule(id="errors.custom", description="d", kind="promql", query="up", **rule)
    windows = SimpleNamespace(candidate=SimpleNamespace(name="candidate"), baseline=SimpleNamespace(name="baseline"))
    ctx = SimpleNamespace(probe=lambda: FakeProbe(candidate, baseline or []), environment=windows)
    return promql_rule(criterion, ctx)  # type: ignore[arg-type]


def test_a_nan_series_fails_the_promql_rule_as_no_data() -> None:
    observation = _judge({"max": 1.0}, [Series({"job": "a"}, 0.5), Series({"job": "b"}, math.nan)])
    assert not observation.passed
    assert observation.no_data
    assert "job=b is nan" in observation.summary


@pytest.mark.parametrize(("compare", "before", "after", "passes"), [
    ("not_higher", -10.0, -10.0, True),   # unchanged: within any tolerance
    ("not_higher", -10.0, -8.5, False),   # rose by 15 % of its size
    ("not_lower", -10.0, -12.0, False),   # fell by 20 % of its size
    ("not_lower", -10.0, -10.5, True),    # fell by 5 %
    ("not_lower", 100.0, 89.0, False),
    ("not_higher", 100.0, 109.0, True),
])
def test_compare_moves_the_limit_by_a_share_of_the_baselines_size_whatever_its_sign(
        compare: str, before: float, after: float, passes: bool) -> None:
    observation = _judge({"compare": compare, "tolerance": 0.1}, [Series({"job": "a"}, after)],
                         [Series({"job": "a"}, before)])
    assert observation.passed is passes, observation.summary


def test_series_that_differ_only_by_name_are_told_apart_and_compared_with_their_own_baseline() -> None:
    candidate = [Series({"__name__": "a", "i": "x"}, 50.0), Series({"__name__": "b", "i": "x"}, 100.0)]
    baseline = [Series({"__name__": "a", "i": "x"}, 5.0), Series({"__name__": "b", "i": "x"}, 100.0)]
    observation = _judge({"compare": "not_higher", "tolerance": 0.1}, candidate, baseline)
    assert not observation.passed
    assert "__name__=a" in observation.summary


def test_series_with_the_same_labels_twice_fail_instead_of_hiding_one() -> None:
    observation = _judge({"max": 10.0}, [Series({"job": "a"}, 1.0), Series({"job": "a"}, 99.0)])
    assert not observation.passed


def test_a_series_missing_from_the_baseline_is_no_data_and_fewer_series_than_declared_is_no_data() -> None:
    missing = _judge({"compare": "not_higher"}, [Series({"job": "a"}, 1.0)], [Series({"job": "b"}, 1.0)])
    assert not missing.passed
    assert missing.no_data
    too_few = _judge({"max": 1.0, "min_series": 2}, [Series({"job": "a"}, 0.1)])
    assert not too_few.passed
    assert too_few.no_data


def _criterion(kind: str, **fields: Any) -> Any:
    return SimpleNamespace(kind=kind, **fields)


def test_a_violated_sub_series_inside_its_line_shows_no_margin_and_a_failure_only_its_violations() -> None:
    # Failed for a forbidden label, with 5 series of 1,000,000 allowed: "0 % of margin" would read as a pass.
    forbidden = Measurement({"metric": "x"}, 5.0, threshold=1e6, passed=False)
    assert used(_criterion("label_cardinality"), forbidden) is None
    # An uptime failure for job A (no data) next to job B at 99.95 %: the passing B says nothing about it.
    no_data = Measurement({"job": "a"}, None, threshold=0.999, passed=False)
    good = Measurement({"job": "b"}, 0.9995, threshold=0.999, passed=True)
    assert most_used(_criterion("uptime"), [no_data, good], "failed") is None
    assert most_used(_criterion("uptime"), [good], "passed") == pytest.approx(0.5)


def test_memory_margin_counts_growth_against_its_own_limit() -> None:
    growing = Measurement({"job": "w"}, 100.0, threshold=1000.0, passed=True, candidate=0.09)
    assert used(_criterion("memory_bound", max_growth=0.1), growing) == pytest.approx(0.9)


def _waivers(**scope: str) -> Waivers:
    waiver = Waiver(criterion="memory.bounded_usage", scope=scope, reason="r", approver="a",
                    expires=NOW + timedelta(days=1))
    return Waivers(None, (waiver,), NOW)


def test_a_scoped_waiver_covers_only_a_failure_entirely_inside_its_scope() -> None:
    waivers = _waivers(job="router")
    router = [{"job": "router", "instance": "r1"}]
    explained = ["job=router instance=r1: peak 1.2 GiB, above 1 GiB"]
    assert waivers.covering("memory.bounded_usage", "failed", router, explained) is not None
    # The worker had no samples at all: a failure no sub-series inside the scope explains.
    also = [*explained, "job=worker (worker): no process_resident_memory_bytes samples in the window (no data)"]
    assert waivers.covering("memory.bounded_usage", "failed", router, also, no_data=True) is None
    assert waivers.covering("memory.bounded_usage", "failed", router, also) is None
    assert waivers.covering("memory.bounded_usage", "failed", [], explained) is None
    assert waivers.covering("memory.bounded_usage", "error", router, explained) is None


def test_a_waiver_expiring_now_no_longer_applies() -> None:
    waiver = Waiver(criterion="memory.bounded_usage", reason="r", approver="a", expires=NOW)
    waivers = Waivers(None, (waiver,), NOW)
    assert waivers.covering("memory.bounded_usage", "failed", [{"job": "x"}], ["x"]) is None
    assert waivers.expired_for("memory.bounded_usage") == [waiver]
