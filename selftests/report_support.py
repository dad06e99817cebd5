"""A crafted CP2 world served by a real Prometheus, judged by the real gate, for the report's self-tests.

Uses harness.py (real `prometheus` with backfilled history, /metrics endpoints on loopback) and worlds.py
(the crafted data and its expected values); runs the gate as the command a person runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from harness import REPO, MetricsEndpoint, PrometheusServer, environment_document, free_port, write_environment
from worlds import COMPONENTS, HEALTHY, World, WorldSpec, build_world

from wavegate.report import ReportOptions, build_report, layout
from wavegate.results import criterion_records

VALIDATION = Path("reports/cp2-wave1-deployment/validation")


@dataclass
class GateOutcome:
    ret: int
    output: str
    results_path: Path

    @property
    def results(self) -> dict[str, Any]:
        return dict(json.loads(self.results_path.read_text(encoding="utf-8")))

    def record(self, criterion_id: str) -> dict[str, Any]:
        return next(r for r in self.results["criteria"] if r["id"] == criterion_id)


@dataclass
class ServedWorld:
    """World + endpoints + Prometheus, started together; `run_gate` judges it into an output root."""

    workdir: Path
    spec: WorldSpec = HEALTHY
    world: World | None = None
    prometheus: PrometheusServer | None = None
    endpoints: dict[str, MetricsEndpoint] = field(default_factory=dict)
    env_file: Path | None = None

    def start(self) -> ServedWorld:
        self.endpoints = {c: MetricsEndpoint().start() for c in COMPONENTS}
        port = free_port()
        targets = {c: e.address for c, e in self.endpoints.items()}
        targets["prometheus"] = f"127.0.0.1:{port}"
        self.world = build_world(self.spec, time.time(), targets)
        for component, endpoint in self.endpoints.items():
            endpoint.text = self.world.expositions[component]
        self.prometheus = PrometheusServer({c: [e.address] for c, e in self.endpoints.items()},
                                           history=self.world.history, scrape_interval="1s", port=port,
                                           workdir=self.workdir / "prometheus")
        self.prometheus.start()
        self.prometheus.wait_for_scrapes()
        document = environment_document(self.prometheus.url, {c: e.url for c, e in self.endpoints.items()},
                                        self.world.windows, scrape_interval="15s")
        self.env_file = write_environment(self.workdir / "environment.yaml", document)
        return self

    def stop(self) -> None:
        if self.prometheus is not None:
            self.prometheus.stop()
        for endpoint in self.endpoints.values():
            endpoint.stop()

    def __enter__(self) -> ServedWorld:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def run_gate(self, root: Path, *extra: str) -> GateOutcome:
        """The real gate (`pytest tests --env-file=...`) writing into root/reports/.../validation."""
        output = root / VALIDATION
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
                str(REPO / "tests"), f"--env-file={self.env_file}", f"--gate-output={output}", *extra]
        done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
        return GateOutcome(done.returncode, done.stdout + done.stderr, output / "gate-results.json")


def write_logs(root: Path) -> dict[str, Path]:
    """Logs as run_cp1_profile.sh and validate_metrics.sh leave them (their content is theirs, not the report's)."""
    folder = root / "script-logs"
    folder.mkdir(parents=True, exist_ok=True)
    profile = folder / "run_cp1_profile.log"
    profile.write_text("== starting router, gateway, worker\n== scenarios: 12 passed\nCP1 profile: PASSED (exit 0)\n",
                       encoding="utf-8")
    validate = folder / "validate_metrics.log"
    validate.write_text("router: 4/4 required metrics\ngateway: 4/4\nworker: 4/4\nvalidate_metrics: VALID (exit 0)\n",
                        encoding="utf-8")
    return {"run_cp1_profile": profile, "validate_metrics": validate}


def stricter_criteria(folder: Path, criterion_id: str, key: str, value: float) -> Path:
    """A copy of criteria/wave1.yaml (and its contract) with one threshold changed: an injected regression."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((REPO / "criteria" / "wave1.yaml").read_text(encoding="utf-8"))
    for criterion in raw["criteria"]:
        if criterion["id"] == criterion_id:
            criterion[key] = value
    contract = raw.get("contract")
    if isinstance(contract, str):
        (folder / contract).write_text((REPO / "criteria" / contract).read_text(encoding="utf-8"), encoding="utf-8")
    path = folder / "wave1.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def judged(spec: WorldSpec, workdir: Path, *, screenshots: bool = False,
           prepare: Callable[[ServedWorld], None] | None = None, gate_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """The crafted world judged by the real gate, then reported on: the gate's run, its records, the report's
    outcome and text. `prepare` changes the served world (its live /metrics) before the gate runs."""
    with ServedWorld(workdir / "world", spec) as world:
        if prepare is not None:
            prepare(world)
        root = workdir / "out"
        gate = world.run_gate(root, *gate_args)
        outcome = build_report(ReportOptions(output_root=root, env_file=world.env_file, screenshots=screenshots,
                                             install_tools=False, logs=write_logs(root)))
    return {"gate": gate, "records": criterion_records(gate.results), "outcome": outcome, "root": root,
            "text": (root / layout.REPORT).read_text(encoding="utf-8")}


def table_rows(text: str, header_start: str) -> list[list[str]]:
    """The body rows of every Markdown table whose header row starts with `header_start`."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.startswith(f"| {header_start} |"):
            inside = True
        elif inside and line.startswith("|") and not line.startswith("|--") and not line.startswith("| --"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif not line.startswith("|"):
            inside = False
    return [row for row in rows if not set("".join(row)) <= set("-: ")]


def summary_rows(text: str) -> dict[str, tuple[str, str]]:
    """The Success Metrics Summary: criterion id -> (its sub-series cell, its verdict cell)."""
    return {row[0]: (row[1], row[5]) for row in table_rows(text, "Criterion | Sub-series")}


def failed_in_summary(text: str) -> dict[str, str]:
    return {cid: sub for cid, (sub, verdict) in summary_rows(text).items() if "❌ failed" in verdict}
