"""Timeout compliance: operations respect their timeouts, timeouts are tracked, nothing hangs."""

from __future__ import annotations

import pytest

from wavegate.checks import histogram_tail, promql_rule, series_tracked
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("histogram_tail")
def test_histogram_tail(criterion, gate, evidence):
    observation = histogram_tail(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("series_tracked")
def test_series_tracked(criterion, gate, evidence):
    observation = series_tracked(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
