"""The reference stack end to end: real Router/Gateway/Worker processes, real traffic, a real Prometheus.

One CP1 baseline phase is shared by every Wave 1 phase of the module; each Wave 1 phase (healthy, then two
groups of regression knobs that break different criteria) is judged by one gate run right after it, while
its stack is still up. About four minutes on two cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # fixtures/ is the repository's, not an installed package

from fixtures.stack.profile import Profile, PrometheusServer, Window  # noqa: E402
from fixtures.stack.run import (  # noqa: E402
    COMPONENTS,
    StackPorts,
    flag_env,
    free_ports,
    start_stack,
    stop_process,
    wait_ready,
)
from fixtures.stack.scrape import Exposition  # noqa: E402

pytestmark = pytest.mark.slow

WINDOW_SECONDS = 30.0
SCRAPE_INTERVAL = "1s"
TIME_SCALE = 0.1
# Each knob and the criterion that must catch it; a group's knobs break different criteria, so one
# Wave 1 phase and one gate run judge the whole group.
KNOB_CRITERIA = {
    "latency": "performance.latency_increase",
    "errors": "errors.rate_not_higher",
    "missing_metric": "coverage.required_metrics",
    "wrong_type": "quality.metric_types",
    "cardinality": "quality.label_cardinality",
    "crash": "availability.no_crashes",
    "hang": "integration.targets_up",
}
KNOB_GROUPS = {
    "metrics-and-performance": ("latency", "errors", "missing_metric", "wrong_type", "cardinality"),
    "crash-and-hang": ("crash", "hang"),
}


@dataclass
class GateResult:
    returncode: int
    verdicts: dict[str, str]
    output: str

    def failed(self) -> set[str]:
        return {cid for cid, verdict in self.verdicts.items() if verdict != "passed"}


@dataclass
class Phase:
    window: Window
    max_depth: dict[str, float]
    worker: Exposition | None
    gate: GateResult | None = None


@dataclass
class Reference:
    """A Prometheus and a profile on free ports; phases run on first use, in the order they are asked for."""

    profile: Profile
    tmp: Path
    phases: dict[str, Phase] = field(default_factory=dict)

    def phase(self, name: str, wave1: bool = True, knobs: tuple[str, ...] = ()) -> Phase:
        if name not in self.phases:
            if name != "baseline":
                self.phase("baseline", wave1=False)
            self.phases[name] = self._run(name, wave1, knobs)
        return self.phases[name]

    def _run(self, name: str, wave1: bool, knobs: tuple[str, ...]) -> Phase:
        depth: dict[str, float] = {}
        done = threading.Event()
        url = self.profile.ports.metrics_url("worker")

        def poll() -> None:
            # Queue depth peaks last a few seconds; Prometheus' 1 s samples may miss the top, this does not.
            while not done.wait(0.25):
                try:
                    for sample in Exposition.fetch(url, timeout=1.0).select("worker_queue_depth"):
                        pool = sample.labels["resource_pool"]
                        depth[pool] = max(depth.get(pool, 0.0), sample.value)
                except (OSError, ValueError):
                    pass

        poller = threading.Thread(target=poll, name=f"depth-{name}", daemon=True)
        poller.start()
        try:
            window = self.profile.run_phase(name, wave1, frozenset(knobs))
        finally:
            done.set()
            poller.join(5)
        worker = None if "hang" in knobs else Exposition.fetch(url)
        phase = Phase(window, depth, worker)
        if name != "baseline":
            phase.gate = self._gate(name, window)
        return phase

    def _gate(self, name: str, candidate: Window) -> GateResult:
        ports, prometheus = self.profile.ports, self.profile.prometheus
        environment = {
            "prometheus": {"url": prometheus.url, "job": "prometheus", "scrape_interval": SCRAPE_INTERVAL,
                           "timeout": "10s"},
            "components": {c: {"metrics_url": ports.metrics_url(c), "job": c} for c in COMPONENTS},
            "windows": {"baseline": self.phases["baseline"].window.as_json(), "candidate": candidate.as_json()},
        }
        env_file = self.tmp / f"{name}.yaml"
        env_file.write_text(json.dumps(environment, indent=2))  # JSON is YAML
        output = self.tmp / f"gate-{name}"
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--env-file", str(env_file),
                   "--rootdir", str(REPO), str(REPO / "tests"), "--gate-output", str(output), "-q"]
        run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
        results = output / "gate-results.json"
        records = json.loads(results.read_text())["criteria"] if results.exists() else []
        return GateResult(run.returncode, {r["id"]: r["verdict"] for r in records}, run.stdout + run.stderr)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    """A private Prometheus (1 s scrapes, temporary TSDB) and a profile runner on free loopback ports.

    Everything it starts dies with the test process (parent-death signal) or after 15 minutes at most.
    """
    tmp = tmp_path_factory.mktemp("reference-stack")
    ports = StackPorts.free()
    prometheus = PrometheusServer(free_ports(1)[0], SCRAPE_INTERVAL, tmp, ports, tmp / "prometheus.log",
                                  lifetime=900)
    prometheus.start(detach=False)
    profile = Profile(ports, prometheus, tmp / "logs", WINDOW_SECONDS, time_scale=TIME_SCALE, lifetime=900)
    try:
        yield Reference(profile, tmp)
    finally:
        profile.stop_stack()
        prometheus.stop()


def test_the_flags_off_stack_serves_health_but_no_metrics(tmp_path: Path) -> None:
    ports = StackPorts.free()
    stack = start_stack(ports, flag_env(wave1=False, observability=False), tmp_path, max_lifetime=60)
    try:
        wait_ready(ports, metrics=False, timeout=20)
        for component in COMPONENTS:
            with urllib.request.urlopen(ports.health_url(component), timeout=5) as response:
                assert set(json.load(response)) == {"status", "timestamp"}
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(ports.metrics_url(component), timeout=5)
    finally:
        stop_process(stack)


def test_cp1_wastes_retries_and_wave1_does_not(reference: Reference) -> None:
    cp1, wave1 = reference.phase("baseline", wave1=False).worker, reference.phase("healthy").worker
    assert cp1 is not None
    assert wave1 is not None
    for exposition, low, high in ((cp1, 0.05, 1.0), (wave1, 0.0, 0.05)):
        attempts = exposition.total("worker_retry_attempts_total")
        wasted = exposition.total("worker_retry_attempts_total", retryable="false")
        assert attempts > 0
        assert low <= wasted / attempts < high


def test_the_overload_burst_overflows_cp1s_gpu_queue_but_wave1_bounds_it(reference: Reference) -> None:
    cp1, wave1 = reference.phase("baseline", wave1=False), reference.phase("healthy")
    assert cp1.max_depth["gpu"] > 100
    assert 0 < wave1.max_depth["gpu"] <= 100
    assert wave1.worker is not None
    assert wave1.worker.total("worker_queue_rejections_total", resource_pool="gpu") > 0


def test_cp1_lets_steps_hang_past_30s_and_wave1_times_them_out(reference: Reference) -> None:
    cp1, wave1 = reference.phase("baseline", wave1=False).worker, reference.phase("healthy").worker
    assert cp1 is not None
    assert wave1 is not None
    name = "worker_step_execution_duration_seconds"

    def above_30s(exposition: Exposition) -> float:
        buckets = exposition.buckets(name)
        return buckets[float("inf")] - buckets[30.0]

    assert above_30s(cp1) > 0
    assert above_30s(wave1) == 0
    assert wave1.total("worker_timeout_events_total") > 0
    assert "worker_timeout_events_total" not in {s.name for s in cp1.samples}


def test_the_gate_passes_the_healthy_wave1(reference: Reference) -> None:
    gate = reference.phase("healthy").gate
    assert gate is not None
    assert gate.failed() == set(), gate.output[-4000:]
    assert len(gate.verdicts) >= 23
    assert gate.returncode == 0


@pytest.mark.parametrize(
    ("group", "knob"), [pytest.param(g, k, id=k) for g, knobs in KNOB_GROUPS.items() for k in knobs]
)
def test_the_gate_blocks_a_wave1_with_a_regression_knob(reference: Reference, group: str, knob: str) -> None:
    gate = reference.phase(group, knobs=KNOB_GROUPS[group]).gate
    assert gate is not None
    assert gate.returncode != 0
    assert gate.verdicts.get(KNOB_CRITERIA[knob]) == "failed", (
        f"{knob} should fail {KNOB_CRITERIA[knob]}; failed: {sorted(gate.failed())}\n{gate.output[-3000:]}")


def test_every_process_the_module_started_is_gone_after_a_stop(reference: Reference) -> None:
    # Runs last: stopping the stack must leave none of its ports listening.
    reference.profile.stop_stack()
    deadline = time.monotonic() + 10
    ports = reference.profile.ports.all()
    while time.monotonic() < deadline and any(_listening(p) for p in ports):
        time.sleep(0.2)
    assert not [p for p in ports if _listening(p)]


def _listening(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True
