"""Error analysis: no component's error ratio rises above the baseline's."""

from __future__ import annotations

import pytest

from wavegate.checks import error_ratio, promql_rule
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("error_ratio")
def test_error_ratio(criterion, gate, evidence):
    observation = error_ratio(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
