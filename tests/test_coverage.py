"""Metrics coverage: every component exports the required metrics with their labels."""

from __future__ import annotations

import pytest

from wavegate.checks import endpoints_exported, promql_rule, required_labels, required_metrics
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("endpoints_exported")
def test_endpoints_exported(criterion, gate, evidence):
    observation = endpoints_exported(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("required_metrics")
def test_required_metrics(criterion, gate, evidence):
    observation = required_metrics(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("required_labels")
def test_required_labels(criterion, gate, evidence):
    observation = required_labels(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
