"""Prometheus integration: every target is up and scraped without failures or limit hits."""

from __future__ import annotations

import pytest

from wavegate.checks import scrape_success, targets_up
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
