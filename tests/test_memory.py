"""Memory safety: the worker's queues stay bounded and no component's memory runs away."""

from __future__ import annotations

import pytest

from wavegate.checks import memory_bound, promql_rule, queue_bound
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("queue_bound")
def test_queue_bound(criterion, gate, evidence):
    observation = queue_bound(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("memory_bound")
def test_memory_bound(criterion, gate, evidence):
    observation = memory_bound(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
