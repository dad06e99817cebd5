"""The criteria file: the shipped one is valid and complete; a bad one names the file, criterion and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from wavegate.checks import CHECKS
from wavegate.criteria import KINDS, load_criteria
from wavegate.errors import CriteriaError

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "criteria" / "wave1.yaml"
ISSUE_IDS = {
    "memory.queue_bounded",
    "memory.bounded_usage",
    "timeout.compliance",
    "timeout.events_tracked",
    "timeout.no_hangs",
    "retry.success_rate",
    "retry.wasted_below_5pct",
    "retry.backoff_exponential",
    "availability.uptime",
    "availability.no_crashes",
    "availability.graceful_degradation",
    "coverage.endpoints_exported",
    "coverage.required_metrics",
    "coverage.required_labels",
    "integration.targets_up",
    "integration.scrape_success",
    "quality.label_cardinality",
    "quality.metric_types",
    "quality.exposition_format",
    "performance.latency_increase",
    "performance.throughput",
    "performance.endpoint_latency",
    "errors.rate_not_higher",
    # "Judge the right data": the windows hold the rollout they claim.
    "integration.rollout_provenance",
}


def test_the_shipped_criteria_are_exactly_the_issue_s_criteria() -> None:
    criteria = load_criteria(SHIPPED)
    assert {c.id for c in criteria} == ISSUE_IDS


def test_every_criterion_kind_has_a_check_and_a_gate_test() -> None:
    assert set(KINDS) == set(CHECKS)
    for criterion in load_criteria(SHIPPED):
        module = (REPO / "tests" / f"test_{criterion.area}.py").read_text()
        assert f"def test_{criterion.kind}(" in module, criterion.id


def test_the_contract_lists_twelve_required_metrics_four_per_component() -> None:
    contract = load_criteria(SHIPPED).contract
    assert len(contract.required()) == 12
    assert {component: len(names) for component, names in contract.components.items()} == {
        "router": 4,
        "gateway": 4,
        "worker": 4,
    }


def copy_criteria(tmp_path: Path, old: str, new: str) -> Path:
    shutil.copy(REPO / "criteria" / "contract.yaml", tmp_path / "contract.yaml")
    path = tmp_path / "wave1.yaml"
    text = SHIPPED.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("    maximum: 0.05\n", "    maximum: 0.05\n    maximun: 0.04\n", "criteria[retry.wasted_below_5pct]"),
        (
            "    min_growth: 1.5",
            "    min_growth: fast",
            "criteria[retry.backoff_exponential].backoff_growth.min_growth",
        ),
        ("kind: uptime", "kind: uptim", "criteria[availability.uptime]"),
        (
            "    severity: critical\n    metric: worker_queue_depth",
            "    severity: huge\n    metric: worker_queue_depth",
            "criteria[memory.queue_bounded].queue_bound.severity",
        ),
        ("id: timeout.no_hangs", "id: timeout.compliance", "appears twice"),
        ("id: errors.rate_not_higher", "id: mistakes.rate_not_higher", "area one of"),
        # PromQL in a criteria file is parsed when the file is loaded: the gate rewrites it with a parser.
        (
            'numerator: sum(increase(worker_retry_attempts_total{retryable="false"}[$W]))',
            'numerator: sum(increase(worker_retry_attempts_total{retryable="false"[$W]))',
            "criteria[retry.wasted_below_5pct].ratio_below.numerator: 'sum(increase(worker_retry_attempts_total",
        ),
        ("    metric: worker_queue_depth", "    metric: worker_queue_depth{", "is not valid PromQL"),
    ],
)
def test_an_invalid_criteria_file_names_the_file_the_criterion_and_the_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    path = copy_criteria(tmp_path, old, new)
    with pytest.raises(CriteriaError) as caught:
        load_criteria(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_a_contract_that_names_an_undescribed_metric_is_rejected(tmp_path: Path) -> None:
    path = copy_criteria(tmp_path, "contract: contract.yaml", "contract: contract.yaml")
    contract = tmp_path / "contract.yaml"
    contract.write_text(contract.read_text().replace("router_errors_total]", "router_faults_total]", 1))
    with pytest.raises(CriteriaError, match="router_faults_total, not described"):
        load_criteria(path)
