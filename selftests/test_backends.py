"""The building blocks of the gate's verdicts answer the same on Prometheus and VictoriaMetrics.

One small crafted history (a steady counter, one with a 40-minute gap before the window start, one born
inside the window, one that resets inside it, one reset across the window start, a NaN gauge sample) goes
into a real Prometheus (promtool) and a real VictoriaMetrics (import API). The gate's window increase, the
raw samples it walks, resets() and the value before the window must agree exactly; the backends' own
increase(), changes() and count_over_time() are shown to differ (Prometheus extrapolates to the window's
edges and its range includes a sample exactly at the range's start; VictoriaMetrics starts from the last
sample before the range and leaves its start out), which is why no verdict rests on them.
VictoriaMetrics drops a NaN sample on ingestion, Prometheus keeps it: the gate counts a successful scrape
without a finite sample (Probe.unreadable_scrapes), which is the same on both.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import (
    History,
    MetricsEndpoint,
    PrometheusServer,
    VictoriaMetricsServer,
    VmAgentServer,
    environment_document,
    run_gate,
    wait_until,
    write_environment,
)

from wavegate.context import PART, window_increase, window_parts

HOUR = 3600.0
T0 = math.floor((time.time() - 2 * 86400) / HOUR) * HOUR
START, END = T0 + 2 * HOUR, T0 + 3 * HOUR  # the judged window
W = "1h"


def _every(first: float, last: float, step: float = 15.0) -> list[float]:
    return [first + i * step for i in range(int((last - first) // step) + 1)]


def history() -> History:
    h = History()
    ident = {"job": "j"}
    h.add("c_total", {**ident, "instance": "steady"}, [(t, t - T0) for t in _every(T0, END)])
    h.add("c_total", {**ident, "instance": "gap"},
          [(t, t - T0) for t in _every(T0, END) if not START - 2400 < t < START + 20])
    h.add("c_total", {**ident, "instance": "born"}, [(t, 50 + t - (START + 600)) for t in _every(START + 600, END)])
    h.add("c_total", {**ident, "instance": "reset"},
          [(t, t - T0 if t < START + 1800 else t - START - 1800) for t in _every(T0, END)])
    h.add("c_total", {**ident, "instance": "reset_at_start"},
          [(t, t - T0 if t <= START - 15 else t - START + 30) for t in _every(T0, END)])
    h.add("up", {**ident, "instance": "steady"}, [(t, 1.0) for t in _every(T0, END)])
    h.add("g", {**ident, "instance": "steady"},
          [(t, math.nan if START + 600 <= t < START + 660 else 0.5) for t in _every(T0, END)])
    return h


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PrometheusServer | VictoriaMetricsServer]]:
    folder = tmp_path_factory.mktemp("backends")
    crafted = history()
    with PrometheusServer({}, history=crafted, workdir=folder / "prometheus") as prometheus, \
            VictoriaMetricsServer(folder / "victoria-metrics", history=crafted) as victoria:
        yield {"prometheus": prometheus, "victoriametrics": victoria}


def answers(backends: dict[str, PrometheusServer | VictoriaMetricsServer], query: str) -> dict[str, dict[str, str]]:
    def key(labels: dict[str, str]) -> str:
        return "/".join(filter(None, (labels.get("instance", ""), labels.get(PART, ""))))

    return {name: {key(r["metric"]): r["value"][1] for r in server.query(query, END)}
            for name, server in backends.items()}


@pytest.mark.parametrize("query", [
    window_increase("c_total", W),
    window_parts("c_total", HOUR, 300.0),
    f"resets(c_total[{W}])",
    f"last_over_time(c_total[{W}] offset {W})",
    f"timestamp(last_over_time(c_total[{W}] offset {W}))",
    "g",
], ids=["window_increase", "window_parts", "resets", "value_before_the_window", "time_before_the_window",
        "instant_gauge"])
def test_the_gates_building_blocks_answer_the_same_on_both_backends(
    backends: dict[str, PrometheusServer | VictoriaMetricsServer], query: str
) -> None:
    seen = answers(backends, query)
    assert seen["prometheus"]
    assert seen["prometheus"] == seen["victoriametrics"], seen


def test_the_gates_window_increase_is_the_documented_one(
    backends: dict[str, PrometheusServer | VictoriaMetricsServer],
) -> None:
    seen = answers(backends, window_increase("c_total", W))["victoriametrics"]
    # From the last sample at or before the start (the gap's 4800) or from 0 when born inside; a drop inside
    # the window adds the value after it (the reset case is the backend's increase(): equal here, both 3585).
    assert {k: float(v) for k, v in seen.items()} == {
        "steady": 3600.0, "gap": 6000.0, "born": 3050.0, "reset": 3585.0, "reset_at_start": 3600.0}


def test_the_backends_own_increase_and_changes_differ(
    backends: dict[str, PrometheusServer | VictoriaMetricsServer],
) -> None:
    increase = answers(backends, f"increase(c_total[{W}])")
    assert increase["prometheus"]["born"] != increase["victoriametrics"]["born"]  # extrapolated vs from the start
    changes = answers(backends, f"changes(c_total[{W}])")
    assert changes["prometheus"]["born"] != changes["victoriametrics"]["born"]  # a first sample counts as one
    count = answers(backends, f"count_over_time(c_total[{W}])")
    # Prometheus 2.42's range includes a sample exactly at its start, VictoriaMetrics' does not.
    assert int(count["prometheus"]["steady"]) == int(count["victoriametrics"]["steady"]) + 1


def test_a_nan_sample_is_kept_by_prometheus_and_dropped_by_victoriametrics(
    backends: dict[str, PrometheusServer | VictoriaMetricsServer],
) -> None:
    samples = {name: server.query("g[2m]", START + 660) for name, server in backends.items()}
    kept = [v for _, v in samples["prometheus"][0]["values"]]
    assert any(v == "NaN" for v in kept)
    left = samples["victoriametrics"][0]["values"] if samples["victoriametrics"] else []
    assert all(v != "NaN" for _, v in left)
    assert len(left) < len(kept)


# --- The backend profile: vmagent scrapes, VictoriaMetrics answers ------------------------------------------

COMPONENTS = ("router", "gateway", "worker")


@pytest.fixture(scope="module")
def vmagent_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VictoriaMetricsServer, VmAgentServer]]:
    """Three component endpoints scraped every second by a real vmagent into a real VictoriaMetrics."""
    folder = tmp_path_factory.mktemp("vmagent")
    with MetricsEndpoint("# TYPE x gauge\nx 1\n") as router, MetricsEndpoint("# TYPE x gauge\nx 1\n") as gateway, \
            MetricsEndpoint("# TYPE x gauge\nx 1\n") as worker, \
            VictoriaMetricsServer(folder / "victoria-metrics", flags=("-search.latencyOffset=1s",)) as victoria:
        jobs = {"router": [router.address], "gateway": [gateway.address], "worker": [worker.address]}
        with VmAgentServer(folder / "vmagent", jobs, victoria.url) as agent:
            def scraped() -> bool:
                found = victoria.query("count(count_over_time(up[1m]) >= 3)"
                                       " + count(vm_promscrape_scrapes_skipped_by_sample_limit_total)")
                return bool(found) and float(found[0]["value"][1]) >= len(jobs) + 2
            wait_until(scraped, "vmagent's scrapes stored in VictoriaMetrics", timeout=30)
            yield victoria, agent


def _integration_run(folder: Path, victoria: VictoriaMetricsServer, agent: VmAgentServer,
                     **prometheus: str) -> dict[str, dict[str, object]]:
    now = time.time()
    document = environment_document(victoria.url, dict.fromkeys(COMPONENTS, "http://127.0.0.1:9/metrics"),
                                    {"baseline": (now - 1200, now - 600), "candidate": (now - 600, now - 5)},
                                    scrape_interval="1s", prometheus_job="vmagent")
    document["prometheus"].update(prometheus)
    folder.mkdir(parents=True, exist_ok=True)
    run = run_gate(folder, env_file=write_environment(folder / "environment.yaml", document),
                   select="targets_up or scrape_success")
    return run.criteria


def test_with_the_victoriametrics_profile_the_integration_criteria_read_vmagent(
    vmagent_world: tuple[VictoriaMetricsServer, VmAgentServer], tmp_path: Path
) -> None:
    victoria, agent = vmagent_world
    records = _integration_run(tmp_path, victoria, agent, backend="victoriametrics", targets_url=agent.url)
    assert records["integration.targets_up"]["verdict"] == "passed", records["integration.targets_up"]
    success = records["integration.scrape_success"]
    assert success["verdict"] == "passed", success
    assert any("vm_promscrape_scrapes_skipped_by_sample_limit_total" in note for note in success["notes"])


def test_without_the_profile_prometheus_signals_are_missing_and_nothing_passes(
    vmagent_world: tuple[VictoriaMetricsServer, VmAgentServer], tmp_path: Path
) -> None:
    victoria, agent = vmagent_world
    records = _integration_run(tmp_path, victoria, agent)
    assert records["integration.scrape_success"]["verdict"] in {"failed", "error"}
    assert "prometheus_target_scrapes_exceeded_sample_limit_total" in str(records["integration.scrape_success"])
    assert records["integration.targets_up"]["verdict"] in {"failed", "error"}
