"""The gate against an independent oracle on realistic, randomly drawn histories.

`realistic.generate(seed, ...)` draws one case per seed with hypothesis (replicas that come and go, per-job
scrape intervals with jitter, gaps and failed scrapes at the window edges, restarts, re-created series, NaN
gauges, and zero to four bad-wave knobs). All cases are backfilled into ONE real Prometheus 2.42, each in
its own 9 h time slice; one gate run per case judges the history criteria (selected with -k), and each
verdict must equal the one `oracle.evaluate` computes from the raw samples.

Tolerance: the gate computes counter increases exactly for series without resets, but with Prometheus'
extrapolating increase() for series that reset inside the window, so its values may differ slightly from
the oracle's. Every case keeps its true values at least oracle.MARGINS away from the thresholds (1.5
percentage points of the throughput ratio, 2 % of the error-ratio limit, 0.25 pp of the wasted share,
1 pp of the success rate, 0.02 % uptime (1.44 s of 2 h), half a scrape interval for a replacement's
limits, 1 % of the memory ceiling and 1 pp of growth); a draw closer than that is rejected and redrawn.
A disagreement is therefore a real difference, not rounding.

Seeds (each test id names its seed; the suite prints them):
    WAVEGATE_ORACLE_SEEDS="17,42"   judge exactly these seeds (replays a failure)
    WAVEGATE_ORACLE_RANDOM=50       judge 50 random seeds instead of the default list
A seed replays the same case with the same hypothesis version, whatever else pytest imported (only the
absolute times move). To look for seeds with a given mix, scan `realistic.draw_plan(seed)`: it draws the
knobs without rendering samples (milliseconds per seed). About 40 cases take 2.5 minutes on 2 cores:
generating ~25 s, backfilling ~35 s, one gate run of 2-3 s per case.

The unit tests at the end check the oracle itself on tiny hand-made histories (no Prometheus).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oracle
import pytest
import realistic
from harness import (
    GateRun,
    History,
    PrometheusServer,
    Series,
    VictoriaMetricsServer,
    closed_port,
    environment_document,
    run_gate,
    write_environment,
)

# Seeds 1-36, plus four a scan of seeds 1-800 (realistic.draw_plan) found where a throughput drop meets a
# restart of the dropped job inside the baseline while it was unscraped across the baseline start; the gate
# disagreed on them when this suite was written (kept as regression seeds).
DEFAULT_SEEDS = (*range(1, 37), 109, 445, 528, 712)


def _seeds() -> list[int]:
    chosen = os.environ.get("WAVEGATE_ORACLE_SEEDS", "").replace(",", " ").split()
    if chosen:
        return [int(seed) for seed in chosen]
    count = int(os.environ.get("WAVEGATE_ORACLE_RANDOM", "0") or 0)
    if count:
        return [random.SystemRandom().randrange(1, 2**31) for _ in range(count)]
    return list(DEFAULT_SEEDS)


SEEDS = _seeds()
# The same cases, the same gate runs and the same verdicts on each backend.
BACKENDS = ("prometheus", "victoriametrics")
JUDGED = oracle.CRITERIA
SELECT = " or ".join(JUDGED)


@dataclass
class OracleWorld:
    """The drawn cases and the one backend (a Prometheus or a VictoriaMetrics) that holds them all."""

    cases: list[realistic.Case]
    backend: str
    server: PrometheusServer | VictoriaMetricsServer
    workdir: Path
    nowhere: str


@pytest.fixture(scope="module")
def cases() -> list[realistic.Case]:
    """One realistic case per seed, each in its own slice of time."""
    t0 = realistic.origin(time.time(), len(SEEDS))
    drawn = [realistic.generate(seed, index, t0) for index, seed in enumerate(SEEDS)]
    print(f"\noracle cases, seeds: {','.join(map(str, SEEDS))}")
    return drawn


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, cases: list[realistic.Case],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[OracleWorld]:
    """Every case in one real backend (stopped at the end of its half of the module): backfilled into a
    Prometheus with promtool, or imported into a VictoriaMetrics through its import API."""
    backend = request.param
    workdir = tmp_path_factory.mktemp(f"oracle-{backend}")
    history = _MERGED.get("history") or realistic.merge(cases)
    _MERGED["history"] = history
    server: PrometheusServer | VictoriaMetricsServer
    if backend == "prometheus":
        # One block for the whole range (2h x 3^5): promtool reads its input once per block.
        server = PrometheusServer(jobs={}, history=history, max_block_duration="486h",
                                  workdir=workdir / "prometheus", ready_timeout=60)
    else:
        server = VictoriaMetricsServer(workdir / "victoria-metrics", history=history, ready_timeout=60)
    with server:
        yield OracleWorld(cases, backend, server, workdir, f"http://127.0.0.1:{closed_port()}/metrics")


# The merged history, built once for both backends.
_MERGED: dict[str, History] = {}


def judge(world: OracleWorld, case: realistic.Case) -> GateRun:
    """One gate run of the history criteria over the case's windows."""
    document = environment_document(
        world.server.url,
        dict.fromkeys(realistic.JOBS, world.nowhere),  # only history criteria are selected
        {"baseline": (case.baseline.start, case.baseline.end),
         "candidate": (case.candidate.start, case.candidate.end)},
    )
    workdir = world.workdir / f"seed-{case.seed}"
    workdir.mkdir(exist_ok=True)
    env_file = write_environment(workdir / "environment.yaml", document)
    return run_gate(workdir, env_file=env_file, select=SELECT)


# Gate runs in flight at once: each is a process of its own, mostly waiting on the backend or starting up.
GATE_WORKERS = max(1, min(4, os.cpu_count() or 1))


@pytest.fixture(scope="module")
def judged(world: OracleWorld) -> dict[int, GateRun]:
    """Every case's gate run on this backend, GATE_WORKERS at a time (the tests then compare each)."""
    with ThreadPoolExecutor(GATE_WORKERS) as pool:
        return dict(zip(range(len(world.cases)), pool.map(lambda case: judge(world, case), world.cases),
                        strict=True))


def _gate_record(record: dict[str, Any]) -> str:
    shown = {key: record.get(key) for key in ("verdict", "message", "summary", "cause", "observed", "baseline",
                                              "candidate", "worst", "details")}
    return json.dumps(shown, indent=1, default=str)[:4000]


@pytest.mark.parametrize("index", range(len(SEEDS)), ids=[f"seed-{seed}" for seed in SEEDS])
def test_the_gate_agrees_with_the_oracle_on_a_realistic_history(world: OracleWorld, judged: dict[int, GateRun],
                                                                 index: int) -> None:
    case = world.cases[index]
    print(f"seed {case.seed}")
    run = judged[index]
    records = run.criteria
    if not records:
        pytest.fail(f"seed {case.seed}: the gate wrote no results (exit {run.ret})\n{run.tail()}\n\n{case.describe()}",
                    pytrace=False)
    disagreements = []
    for criterion in JUDGED:
        truth = case.truth[criterion]
        record = records.get(criterion)
        said = record["verdict"] if record else "missing"
        if said != truth.verdict:
            disagreements.append(f"{criterion}: gate {said}, oracle {truth.verdict}\n  oracle: {truth.describe()}\n"
                                 f"  gate: {_gate_record(record) if record else run.tail()}")
    if disagreements:
        pytest.fail(f"seed {case.seed} (replay: WAVEGATE_ORACLE_SEEDS={case.seed}): {len(disagreements)} "
                    f"disagreement(s)\n\n" + "\n\n".join(disagreements) + f"\n\ncase:\n{case.describe()}",
                    pytrace=False)


def test_every_case_stays_inside_its_own_time_slice(cases: list[realistic.Case]) -> None:
    assert realistic.check_slices(cases) == []
    latest = max(case.slice[1] for case in cases)
    assert latest < time.time() - 3 * 3600, "promtool must not backfill the last 3 h"
    assert min(case.slice[0] for case in cases) <= time.time() - 3 * 86400


def test_the_backend_stores_the_generated_samples_exactly(world: OracleWorld) -> None:
    case = world.cases[0]
    series = next(s for s in case.history.series("up") if len(s.points) > 100)
    start, end = series.points[0][0], series.points[-1][0]
    selector = f'up{{job="{series.labels["job"]}",instance="{series.labels["instance"]}"}}'
    stored = world.server.query(f"{selector}[{math.ceil(end - start) + 1}s]", at=end)
    assert len(stored) == 1
    assert [(float(t), float(v)) for t, v in stored[0]["values"]] == series.points


def test_the_default_seeds_exercise_every_criterion_both_ways(cases: list[realistic.Case]) -> None:
    if list(DEFAULT_SEEDS) != SEEDS:
        pytest.skip("custom seeds: coverage is only promised for the default list")
    verdicts = {criterion: {case.truth[criterion].verdict for case in cases} for criterion in JUDGED}
    assert all(v == {"passed", "failed"} for v in verdicts.values()), verdicts
    assert any(all(t.passed for t in case.truth.values()) for case in cases), "no case passes every criterion"


def test_a_seed_draws_the_same_case_whatever_local_modules_are_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds = range(1, 31)
    before = [realistic.draw_plan(seed) for seed in seeds]
    # Hypothesis mixes literals of loaded local modules (here 1000 new ones) into its draws unless the
    # generator keeps them out.
    (tmp_path / "many_constants.py").write_text(f"VALUES = {tuple(range(100, 1100))}\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "many_constants", raising=False)
    importlib.import_module("many_constants")
    try:
        assert [realistic.draw_plan(seed) for seed in seeds] == before
    finally:
        del sys.modules["many_constants"]


# --- The oracle on tiny hand-made histories ------------------------------------------------------------

W = 7200.0
S, E = 10_000.0, 10_000.0 + W
BASELINE = oracle.Window("baseline", S - W, S)
CANDIDATE = oracle.Window("candidate", S, E)


def _every(step: float, start: float, end: float, value: float = 1.0) -> list[tuple[float, float]]:
    return [(start + i * step, value) for i in range(int((end - start) // step) + 1)]


def test_a_counter_reset_adds_the_value_after_the_drop() -> None:
    points = [(S - 100, 10.0), (S, 20.0), (S + 100, 5.0), (S + 200, 15.0)]
    assert oracle.counter_increase(points, S, E) == 15.0


def test_a_counter_born_in_the_window_counts_from_zero() -> None:
    assert oracle.counter_increase([(S + 50, 4.0), (S + 150, 10.0)], S, E) == 10.0


def test_a_gap_before_the_window_start_takes_the_last_sample_within_one_window_length() -> None:
    assert oracle.counter_increase([(S - 3000, 100.0), (S + 120, 130.0)], S, E) == 30.0
    # Older than one window length before the start: the series counts as born in the window.
    assert oracle.counter_increase([(S - W - 1, 100.0), (S + 120, 130.0)], S, E) == 130.0


def test_a_counter_re_created_with_a_higher_value_across_a_gap_is_invisible() -> None:
    points = [(S - 10, 50.0), (S + 10, 60.0), (S + 900, 70.0)]  # removed, re-created, climbed past 60 unseen
    assert oracle.counter_increase(points, S, E) == 20.0


def test_uptime_counts_an_unobserved_gap_as_down_after_two_intervals() -> None:
    points = [*_every(10, S - 600, S + 1000), *_every(10, S + 1300, E)]
    down = oracle.down_time({"a": points}, S, E)
    assert down == pytest.approx(280.0)  # from the last sample + 2 intervals (S + 1020) to S + 1300


def test_uptime_counts_a_failed_scrape_of_one_of_two_instances() -> None:
    a = [(t, 0.0 if t == S + 510 else v) for t, v in _every(15, S - 600, E)]
    b = _every(15, S - 605, E)
    assert oracle.down_time({"a": a, "b": b}, S, E) == pytest.approx(15.0)


def test_uptime_ignores_a_gap_of_one_instance_while_another_is_observed() -> None:
    a = [*_every(15, S - 600, S + 1000), *_every(15, S + 2000, E)]
    b = _every(15, S - 605, E)
    assert oracle.down_time({"a": a, "b": b}, S, E) == 0.0


def test_a_scale_out_is_not_a_restart() -> None:
    old = _every(15, S - W, E, 1000.0)
    new = _every(15, S + 3000, E, 13_000.0)
    found, _ = oracle.restarts({"a": old, "b": new}, S, E, 15.0)
    assert found == []


def test_a_scale_in_is_not_a_restart() -> None:
    found, _ = oracle.restarts({"a": _every(15, S - W, S + 3000, 1.0), "b": _every(15, S - W, E, 2.0)}, S, E, 15.0)
    assert found == []


def test_a_replacement_within_four_intervals_is_a_restart() -> None:
    old = _every(15, S - W, S + 3000, 1000.0)
    new = _every(15, S + 3030, E, 13_030.0)
    found, _ = oracle.restarts({"a": old, "b": new}, S, E, 15.0)
    assert [(r.kind, r.instance) for r in found] == [("replacement", "b")]


def test_a_changed_start_time_is_a_restart_even_right_after_the_window_start() -> None:
    points = [(S - 10, 1000.0), (S + 5, 2000.0), (S + 20, 2000.0)]
    found, _ = oracle.restarts({"a": points}, S, E, 15.0)
    assert [r.kind for r in found] == ["restart"]


def _series(name: str, points: list[tuple[float, float]], **labels: str) -> Series:
    return Series(name, {"job": "worker", "instance": "w1", **labels}, points)


def test_a_nan_success_rate_fails_only_for_a_pair_with_attempts() -> None:
    busy = {"error_code": "TIMEOUT", "step_type": "tool_call"}
    idle = {"error_code": "QUOTA", "step_type": "tool_call"}
    history = [
        _series("worker_retry_attempts_total", [(S - 10, 0.0), (E, 100.0)], retryable="true", **busy),
        _series("worker_retry_success_rate", [(S + 10, 0.9), (E - 10, 0.95)], **busy),
        _series("worker_retry_attempts_total", [(S - 10, 3.0), (E, 3.0)], retryable="true", **idle),
        _series("worker_retry_success_rate", [(S + 10, math.nan)], **idle),
    ]
    rate, attempts, problems, pairs = oracle.success_rate(oracle.Samples(history), CANDIDATE)
    assert (rate, attempts, problems, pairs) == (pytest.approx(0.925), 100.0, [], 1)
    history[1] = _series("worker_retry_success_rate", [(S + 10, 0.9), (E - 10, math.nan)], **busy)
    assert oracle.success_rate(oracle.Samples(history), CANDIDATE)[2]


def test_a_hung_step_on_a_child_born_in_the_window_counts() -> None:
    name = "worker_step_execution_duration_seconds_bucket"
    child = {"step_type": "tool_call", "execution_status": "timeout"}
    history = [
        _series(name, [(S + 600, 0.0), (S + 615, 0.0)], le="60", **child),
        _series(name, [(S + 600, 1.0), (S + 615, 1.0)], le="+Inf", **child),
    ]
    above, total, _ = oracle.histogram_above(oracle.Samples(history), CANDIDATE, 60.0)
    assert (above, total) == (1.0, 1.0)


def test_memory_growth_is_judged_only_over_a_quarter_of_the_window() -> None:
    short = [(S + 6000 + i * 15, 100.0 + i) for i in range(60)]  # 15 minutes of steep growth
    assert not oracle.memory_growth(short, W).judged
    leak = [(S + i * 15, 100.0 * (1 + i / 480)) for i in range(481)]  # doubles over the window
    seen = oracle.memory_growth(leak, W)
    assert seen.judged
    assert seen.growth == pytest.approx((1 + 7 / 8) / (1 + 1 / 8) - 1, rel=0.01)


def test_the_margin_reflects_the_distance_to_the_threshold() -> None:
    def requests(rate: float) -> Series:
        return Series("gateway_http_requests_total", {"job": "gateway", "instance": "g"},
                      [(BASELINE.start, 0.0), (BASELINE.end, 1000.0), (CANDIDATE.end, 1000.0 + rate * 1000)])

    steps = Series("worker_step_executions_total", {"job": "worker", "instance": "w"},
                   [(BASELINE.start, 0.0), (BASELINE.end, 1000.0), (CANDIDATE.end, 2000.0)])
    samples = oracle.Samples([requests(0.985), steps])
    truth = oracle.throughput(samples, BASELINE, CANDIDATE)
    assert truth.passed
    assert truth.margin == pytest.approx(0.005 / oracle.MARGINS["performance.throughput"])
    truth = oracle.throughput(oracle.Samples([requests(0.90), steps]), BASELINE, CANDIDATE)
    assert not truth.passed
    assert truth.margin > 1
