"""The healthy CP2 world passes every criterion of criteria/wave1.yaml in one gate run."""

from __future__ import annotations

import yaml
from harness import REPO, GateRun


def wave1_ids() -> list[str]:
    document = yaml.safe_load((REPO / "criteria" / "wave1.yaml").read_text(encoding="utf-8"))
    return [criterion["id"] for criterion in document["criteria"]]


def test_every_criterion_passes_in_the_healthy_world(healthy_run: GateRun) -> None:
    failing = {cid: r["message"] for cid, r in healthy_run.criteria.items() if r["verdict"] != "passed"}
    assert not failing, failing
    assert healthy_run.ret == 0, healthy_run.tail()
    assert sorted(healthy_run.criteria) == sorted(wave1_ids())


def test_the_healthy_run_reports_passed_with_a_full_summary(healthy_run: GateRun) -> None:
    assert healthy_run.results is not None
    assert healthy_run.results["status"] == "passed"
    assert healthy_run.results["exit_code"] == 0
    assert healthy_run.results["summary"] == {"passed": len(wave1_ids()), "failed": 0, "error": 0, "inconclusive": 0}


def test_each_criterion_is_one_test_whose_node_id_ends_with_its_id(healthy_run: GateRun) -> None:
    for cid, record in healthy_run.criteria.items():
        assert record["nodeid"].endswith(f"[{cid}]"), record["nodeid"]
    nodeids = [r["nodeid"] for r in healthy_run.criteria.values()]
    assert len(set(nodeids)) == len(nodeids)
