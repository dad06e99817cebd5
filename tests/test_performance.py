"""Performance impact: latency, throughput and /metrics response time against the baseline."""

from __future__ import annotations

import pytest

from wavegate.checks import endpoint_latency, latency_increase, promql_rule, throughput
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("latency_increase")
def test_latency_increase(criterion, gate, evidence):
    observation = latency_increase(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("throughput")
def test_throughput(criterion, gate, evidence):
    observation = throughput(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("endpoint_latency")
def test_endpoint_latency(criterion, gate, evidence):
    observation = endpoint_latency(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
