"""System availability: components stay up, do not restart, and degrade gracefully under overload."""

from __future__ import annotations

import pytest

from wavegate.checks import graceful_degradation, no_restarts, promql_rule, uptime
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("uptime")
def test_uptime(criterion, gate, evidence):
    observation = uptime(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("no_restarts")
def test_no_restarts(criterion, gate, evidence):
    observation = no_restarts(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("graceful_degradation")
def test_graceful_degradation(criterion, gate, evidence):
    observation = graceful_degradation(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
