"""Answers that are well-formed but empty, all NaN, or evaluated at the wrong time never make a criterion
pass: a loopback proxy in front of the healthy world's real Prometheus rewrites every query answer (the
data stays Prometheus'; only its values are taken away), and the gate runs over all areas and over the
subsets of areas that hold the affected criteria. A subset must never exit 0 on such a fault.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import FaultProxy, GateRun, environment_document, run_gate, write_environment
from worlds import LiveWorld

from wavegate.checks import _READS_PROMETHEUS

# Kinds that read query answers (targets_up reads /api/v1/targets, which the proxy leaves alone).
READS_ANSWERS = _READS_PROMETHEUS - {"targets_up"}
CASES = {
    ("empty", ()): {"rewrite": "empty"},
    ("empty", ("quality",)): {"rewrite": "empty"},
    ("empty", ("timeout", "coverage")): {"rewrite": "empty"},
    ("nan", ()): {"rewrite": "nan"},
    ("nan", ("availability", "integration")): {"rewrite": "nan"},
    ("nan", ("timeout",)): {"rewrite": "nan"},
    ("wrong_time", ("performance", "errors")): {"drop_params": ("time",)},
}


@pytest.fixture(scope="module")
def fault_runs(healthy_world: LiveWorld, tmp_path_factory: pytest.TempPathFactory) -> dict:
    workdir: Path = tmp_path_factory.mktemp("fault-answers")
    runs = {}
    for (name, areas), options in CASES.items():
        with FaultProxy(healthy_world.prometheus.url, **options) as proxy:  # type: ignore[arg-type]
            document = environment_document(proxy.url, healthy_world.metrics_urls, healthy_world.world.windows)
            env = write_environment(workdir / f"{name}-{'-'.join(areas) or 'all'}.yaml", document)
            runs[(name, areas)] = run_gate(workdir / f"{name}-{'-'.join(areas) or 'all'}", env_file=env,
                                           areas=areas, timeout=180)
    return runs


@pytest.mark.parametrize(("name", "areas"), list(CASES), ids=[f"{n}-{'-'.join(a) or 'all'}" for n, a in CASES])
def test_no_criterion_that_reads_the_answers_passes(fault_runs: dict, name: str, areas: tuple[str, ...]) -> None:
    run: GateRun = fault_runs[(name, areas)]
    assert run.results is not None, run.tail()
    judged = {record["id"]: record for record in run.results["criteria"]}
    affected = {cid: r for cid, r in judged.items() if r["kind"] in READS_ANSWERS}
    assert affected, "the case judged no criterion that reads Prometheus' answers"
    passed = [cid for cid, r in affected.items() if r["verdict"] == "passed"]
    assert not passed, f"{name}: {passed} passed on answers without data"
    for cid, record in affected.items():
        assert record["message"] or record["cause"], f"{cid}: failed without a named cause"
    assert run.ret != 0
    assert run.results["status"] != "passed"
    if name == "wrong_time":
        for record in affected.values():
            assert record["verdict"] == "error", run.tail()
            assert "drops or rewrites the `time` parameter" in record["message"], record["message"]
