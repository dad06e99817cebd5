"""One environment of a shared Prometheus: two environments with the same job and metric names, told apart
by an `env` label (see worlds.start_shared), in one real Prometheus that also scrapes both environments'
live endpoints. Each environment's verdicts must equal those of the same world alone in its own Prometheus,
criterion by criterion, whichever of the two is the healthy one; every query the gate sent must carry the
environment's selector; and a job of prod that no environment file names (a batch worker exporting the
worker's metric names) must change nothing, because each component's metrics are read from its own job.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
from harness import GateRun, run_gate
from worlds import (
    COMPONENTS,
    HEALTHY,
    SharedWorlds,
    cp1_backoff,
    critical_without_rejections,
    hung_steps,
    job_down,
    memory_grows,
    more_errors,
    mutate,
    p99_increase,
    queue_over_bound,
    restart,
    retry_success,
    slow_steps,
    start_shared,
    start_world,
    throughput,
    wasted_retries,
    wave_flags,
)

from wavegate.report import ReportOptions, build_report, layout

# A wave that is bad in many ways at once: the other environment of each pair.
BAD = mutate(
    HEALTHY,
    hung_steps(2),
    slow_steps(3),
    more_errors("worker", 1.5),
    throughput("gateway", 0.5),
    memory_grows("worker", 2.0),
    restart("router", 1500),
    wasted_retries(80),
    retry_success(0.6, 0.85),
    cp1_backoff(),
    p99_increase("router_decision_duration_seconds", 0.3),
    queue_over_bound("cpu", 1010),
    critical_without_rejections("io"),
    job_down("gateway", 600, 1200),
    wave_flags("worker", 1800, 2400, 0.0),
)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedWorlds]:
    """prod (healthy) and staging (bad) in one Prometheus; plus `worker-batch`, a prod job that is none of
    the environment's components, exporting the bad worker's series under the worker's metric names."""
    worlds = start_shared({"prod": HEALTHY, "staging": BAD}, tmp_path_factory.mktemp("shared"),
                          strays={"worker-batch": ("staging", "worker", "prod")})
    try:
        worlds.prometheus.wait_for_scrapes()
        yield worlds
    finally:
        worlds.stop()


@pytest.fixture(scope="module")
def runs(shared: SharedWorlds) -> dict[str, GateRun]:
    work = shared.workdir
    return {
        # the selector as a mapping, and as a PromQL matcher string
        "prod": run_gate(work / "prod", env_file=shared.env_file("prod", "prod.yaml", selector={"env": "prod"})),
        "staging": run_gate(work / "staging",
                            env_file=shared.env_file("staging", "staging.yaml", selector='env="staging"')),
        "prod-unscoped": run_gate(work / "unscoped", env_file=shared.env_file("prod", "unscoped.yaml")),
    }


@pytest.fixture(scope="module")
def bad_alone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateRun]:
    """The bad world alone in its own Prometheus, judged on every criterion."""
    live = start_world(BAD, tmp_path_factory.mktemp("bad-alone"), scraped=COMPONENTS)
    try:
        live.prometheus.wait_for_scrapes()
        yield run_gate(live.workdir / "run", env_file=live.env_file())
    finally:
        live.stop()


def verdicts(run: GateRun) -> dict[str, str]:
    return {cid: record["verdict"] for cid, record in run.criteria.items()}


def test_prod_verdicts_are_those_of_prod_alone(runs: dict[str, GateRun], healthy_run: GateRun) -> None:
    assert verdicts(healthy_run)
    assert set(verdicts(healthy_run).values()) == {"passed"}
    assert verdicts(runs["prod"]) == verdicts(healthy_run), runs["prod"].tail()
    assert runs["prod"].ret == 0


def test_staging_verdicts_are_those_of_staging_alone(runs: dict[str, GateRun], bad_alone: GateRun) -> None:
    alone = verdicts(bad_alone)
    # The bad world fails most criteria on its own: the comparison is not between two passes.
    assert sum(v == "failed" for v in alone.values()) >= 12, alone
    assert verdicts(runs["staging"]) == alone


def test_without_the_selector_the_other_environment_changes_prod_verdicts(runs: dict[str, GateRun]) -> None:
    # What the gate did before it scoped its queries: staging's hang and halved gateway fail prod.
    unscoped = verdicts(runs["prod-unscoped"])
    assert unscoped["timeout.no_hangs"] == "failed"
    assert unscoped["performance.throughput"] == "failed"


def test_every_query_the_gate_sent_carries_the_selector(runs: dict[str, GateRun]) -> None:
    checked = 0
    for cid, record in runs["prod"].criteria.items():
        for query in record["queries"]:
            text = query["query"]
            if text.startswith("GET "):  # the targets API: filtered by the same matchers (below)
                continue
            for name, matchers in _selectors(text.removesuffix(" (exact window increase)")):
                checked += 1
                if matchers.get("job") == ("=", "prometheus"):  # Prometheus' own series: its job alone
                    continue
                assert matchers.get("env") == ("=", "prod"), f"{cid}: {name} in {text}"
                assert "job" in matchers, f"{cid}: {name} in {text} is not read from a job"
    assert checked > 100
    targets = runs["prod"].record("integration.targets_up")
    assert any("3 active target(s) of other environments left out" in note for note in targets["notes"])


def test_each_component_metric_is_read_from_its_components_job(runs: dict[str, GateRun]) -> None:
    owners = {"router_": "router", "gateway_": "gateway", "worker_": "worker"}
    seen = set()
    for record in runs["prod"].criteria.values():
        for query in record["queries"]:
            if query["query"].startswith("GET "):
                continue
            for name, matchers in _selectors(query["query"].removesuffix(" (exact window increase)")):
                owner = next((job for prefix, job in owners.items() if (name or "").startswith(prefix)), None)
                if owner is not None and "instance" not in matchers:
                    assert matchers["job"] == ("=", owner), f"{name}: {matchers}"
                    seen.add(owner)
    assert seen == set(owners.values())


def _selectors(text: str) -> list[tuple[str | None, dict[str, tuple[str, str]]]]:
    """Every vector selector of a PromQL expression: its metric name and {label: (op, value)}."""
    found: list[tuple[str | None, dict[str, tuple[str, str]]]] = []
    ops = [(promql_parser.MatchOp.Equal, "="), (promql_parser.MatchOp.NotEqual, "!="),
           (promql_parser.MatchOp.Re, "=~"), (promql_parser.MatchOp.NotRe, "!~")]

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = {}
            for m in node.matchers.matchers:
                op = next(symbol for kind, symbol in ops if kind == m.op)
                matchers[m.name] = (op, m.value)
            found.append((node.name, matchers))

    promql_parser.walk(promql_parser.parse(text), visit)
    return found


def test_the_report_reads_the_same_environment(shared: SharedWorlds, runs: dict[str, GateRun],
                                               tmp_path: Path) -> None:
    # The deployment report's own tables, graphs and targets are scoped as the gate's queries are.
    env_file = shared.workdir / "prod.yaml"
    outcome = build_report(ReportOptions(output_root=tmp_path, results=runs["prod"].outdir / "gate-results.json",
                                         env_file=env_file, screenshots=False, install_tools=False))
    assert outcome.report.is_file()
    metrics = tmp_path / layout.METRICS
    queries = {row["query"] for path in metrics.glob("*.csv") if not path.name.startswith(("graph_", "prometheus_"))
               for row in csv.DictReader(path.open(encoding="utf-8")) if row.get("query")}
    assert len(queries) > 20
    for query in queries:
        for _, matchers in _selectors(query):
            assert matchers.get("env") == ("=", "prod") or matchers.get("job") == ("=", "prometheus"), query
    with (metrics / "prometheus_targets.csv").open(encoding="utf-8") as stream:
        instances = {row["instance"] for row in csv.DictReader(stream)}
    prod = {endpoint.address for endpoint in shared.endpoints["prod"].values()}
    assert prod <= instances
    assert not instances & {endpoint.address for endpoint in shared.endpoints["staging"].values()}
