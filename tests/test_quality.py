"""Metrics quality: label cardinality, metric types and the exposition format."""

from __future__ import annotations

import pytest

from wavegate.checks import exposition_format, label_cardinality, metric_types, promql_rule
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("label_cardinality")
def test_label_cardinality(criterion, gate, evidence):
    observation = label_cardinality(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("metric_types")
def test_metric_types(criterion, gate, evidence):
    observation = metric_types(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("exposition_format")
def test_exposition_format(criterion, gate, evidence):
    observation = exposition_format(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
