"""Prometheus integration: every target is up and scraped without failures or limit hits, and the windows
hold the rollout they claim (the Wave 1 flags off through the baseline, on through the candidate)."""

from __future__ import annotations

import pytest

from wavegate.checks import promql_rule, rollout_provenance, scrape_success, targets_up
from wavegate.verdicts import assert_criterion_met


@pytest.mark.criterion_kind("targets_up")
def test_targets_up(criterion, gate, evidence):
    observation = targets_up(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("scrape_success")
def test_scrape_success(criterion, gate, evidence):
    observation = scrape_success(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("rollout_provenance")
def test_rollout_provenance(criterion, gate, evidence):
    observation = rollout_provenance(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)


@pytest.mark.criterion_kind("promql")
def test_promql(criterion, gate, evidence):
    observation = promql_rule(criterion, gate)
    evidence.record(criterion, observation)
    assert_criterion_met(criterion, observation)
