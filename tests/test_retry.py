"""Retry efficiency: retries succeed, are not wasted on non-retryable errors, and back off exponentially."""

from __future__ import annotations

import pytest

from wavegate.checks import backoff_growth, promql_rule, ratio_below, retry_success_rate
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("retry_success_rate")
def test_retry_success_rate(criterion, gate, evidence):
    observation = retry_success_rate(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("ratio_below")
def test_ratio_below(criterion, gate, evidence):
    observation = ratio_below(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("backoff_growth")
def test_backoff_growth(criterion, gate, evidence):
    observation = backoff_growth(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
