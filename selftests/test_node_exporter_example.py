"""The documented example (examples/node-exporter/) gates a service nobody here wrote — Debian's real, unmodified
prometheus-node-exporter and a real Prometheus scraping it and itself — with built-in kinds and two `promql`
rules: it passes while both run as they should, and fails when the exporter is restarted without most of its
collectors (a regression in its own data) and when it is stopped."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from harness import (
    LOOPBACK,
    REPO,
    GateRun,
    PrometheusServer,
    environment_document,
    free_port,
    run_gate,
    wait_until,
    write_environment,
)

EXAMPLE = REPO / "examples" / "node-exporter"
PHASE = 15.0  # seconds of history per phase, scraped every second
ALL = {"availability.uptime", "availability.no_restarts", "memory.bounded_usage", "integration.scrape_success",
       "coverage.endpoints_exported", "coverage.required_metrics", "quality.exposition_format",
       "errors.no_collector_lost", "performance.scrape_duration"}


@dataclass
class NodeExporter:
    address: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)

    def start(self, *args: str) -> None:
        binary = shutil.which("prometheus-node-exporter")
        assert binary is not None, "prometheus-node-exporter is needed (scripts/test installs it)"
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([binary, f"--web.listen-address={self.address}", *args], stdout=out,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def answers() -> bool:
            try:
                return requests.get(f"http://{self.address}/metrics", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(answers, f"prometheus-node-exporter on {self.address}", timeout=20)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


@dataclass
class Runs:
    healthy: GateRun
    regressed: GateRun
    stopped: GateRun


def _judge(prometheus: PrometheusServer, exporter: NodeExporter, workdir: Path, name: str,
           baseline: tuple[float, float], candidate: tuple[float, float]) -> GateRun:
    document = environment_document(
        prometheus.url, {"node": f"http://{exporter.address}/metrics", "prometheus": f"{prometheus.url}/metrics"},
        {"baseline": baseline, "candidate": candidate}, scrape_interval="1s")
    env_file = write_environment(workdir / f"{name}.yaml", document)
    return run_gate(workdir / name, f"--criteria={EXAMPLE / 'criteria.yaml'}", env_file=env_file)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    workdir = tmp_path_factory.mktemp("node-exporter-example")
    exporter = NodeExporter(f"{LOOPBACK}:{free_port()}", workdir / "node-exporter.log")
    exporter.start()
    prometheus = PrometheusServer({"node": [exporter.address]}, scrape_interval="1s", workdir=workdir / "prom")
    try:
        prometheus.start()
        prometheus.wait_for_scrapes()
        t0 = time.time()
        time.sleep(PHASE)
        t1 = time.time()
        time.sleep(PHASE)
        t2 = time.time()
        baseline = (t0 + 1, t1 - 1)
        healthy = _judge(prometheus, exporter, workdir, "healthy", baseline, (t1 + 1, t2 - 1))
        # A regression in its own data: the exporter comes back with only two of its collectors.
        exporter.stop()
        exporter.start("--collector.disable-defaults", "--collector.cpu", "--collector.meminfo")
        t3 = time.time()
        time.sleep(PHASE)
        t4 = time.time()
        regressed = _judge(prometheus, exporter, workdir, "regressed", baseline, (t2, t4 - 1))
        # Stopped: nothing answers on its port any more.
        exporter.stop()
        time.sleep(6)
        t5 = time.time()
        stopped = _judge(prometheus, exporter, workdir, "stopped", baseline, (t3 + 1, t5 - 1))
        yield Runs(healthy, regressed, stopped)
    finally:
        exporter.stop()
        prometheus.stop()


def test_the_example_passes_on_the_real_processes_running_as_they_should(runs: Runs) -> None:
    run = runs.healthy
    assert run.ret == 0, run.tail()
    assert set(run.criteria) == ALL
    assert {cid for cid, r in run.criteria.items() if r["verdict"] != "passed"} == set()
    # The accepted lint rule is in the evidence, not hidden.
    assert any("not-snake-case" in note for note in run.record("quality.exposition_format")["notes"])


def test_a_restart_without_most_collectors_fails_the_restart_and_collector_rules(runs: Runs) -> None:
    run = runs.regressed
    assert run.ret == 1, run.tail()
    assert run.verdict("availability.no_restarts") == "failed"
    lost = run.record("errors.no_collector_lost")
    assert lost["verdict"] == "failed"
    violated = [m["key"] for m in lost["measurements"] if m["passed"] is False]
    assert violated == [{"job": "node"}]  # Prometheus' own job kept its samples


def test_a_stopped_exporter_fails_uptime_and_scrape_success_and_is_not_a_pass(runs: Runs) -> None:
    run = runs.stopped
    assert run.ret == 1, run.tail()
    for criterion_id in ("availability.uptime", "integration.scrape_success"):
        record = run.record(criterion_id)
        assert record["verdict"] == "failed", criterion_id
        assert "job=node" in str(record["measurements"]) or "node" in record["message"], record["message"]
    assert run.verdict("coverage.endpoints_exported") in ("failed", "error")
