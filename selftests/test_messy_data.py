"""One named regression self-test per reality of production data and per rule of the criteria: each
scenario is a small history in a real Prometheus (see messy.py), judged by a real gate run, and has a
bad twin that must be blocked and a healthy twin, with the same noise, that must pass.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import pytest
from harness import (
    GateRun,
    PrometheusServer,
    VictoriaMetricsServer,
    closed_port,
    criteria_variant,
    environment_document,
    run_gate,
    write_environment,
)
from messy import (
    CANDIDATE,
    HOUR,
    MIB,
    SLICE,
    Builder,
    Counter,
    Hang,
    Latency,
    RetryPair,
    Scenario,
    Target,
    both,
)

COMPONENTS = ("router", "gateway", "worker")
GATE_WORKERS = max(1, min(4, os.cpu_count() or 1))


def fleet(**changes: Target) -> list[Target]:
    """The default fleet (router-0, gateway-0/1, worker-0/1) with some instances replaced or added."""
    targets = {t.instance: t for t in Scenario("x", ()).targets}
    targets.update(changes)
    return list(targets.values())


def gateway(instance: str = "gateway-0", **options: object) -> Target:
    return Target("gateway", instance, **options)  # type: ignore[arg-type]


def worker(instance: str = "worker-1", **options: object) -> Target:
    return Target("worker", instance, **options)  # type: ignore[arg-type]


C0, C1 = CANDIDATE
B0 = C0 - HOUR
# Failed scrapes for 6 minutes right across the candidate's start: longer than the 5-minute lookback of an
# instant selector, which is how backfilled history shows what staleness markers do to a live one.
FAILED_BEFORE_CANDIDATE = [(C0 - 360, C0 + 15)]
LATENCY = (0.05, 0.2, 0.3, 0.2, 0.1, 0.08, 0.04, 0.02, 0.006, 0.003, 0.001, 0.0)


def leak(instance: str, t: float) -> float:
    """worker-1 leaks from the candidate's start: +60 % over the hour; every other instance is flat."""
    grown = 0.6 * max(0.0, t - C0) / HOUR if instance == "worker-1" else 0.0
    return 300 * MIB * (1 + min(grown, 0.6))


@dataclass
class Case:
    scenario: Scenario
    expect: dict[str, str]  # criterion id -> verdict
    mentions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    criteria_file: dict[str, object] | None = None  # changes to criteria/wave1.yaml entries, by id


T = "performance.throughput"
E = "errors.rate_not_higher"
U = "availability.uptime"
R = "availability.no_crashes"
M = "memory.bounded_usage"
H = "timeout.no_hangs"
S = "retry.success_rate"
WASTE = "retry.wasted_below_5pct"
L = "performance.latency_increase"
Q = "memory.queue_bounded"
G = "availability.graceful_degradation"
B = "retry.backoff_exponential"

SIX_WAYS_GAP = [(C0 + 600, C0 + 600 + 324)]  # both workers unobserved for 9 % of the candidate hour

CASES: dict[str, Case] = {
    # --- the wave that once passed all 23 criteria with exit 0 ------------------------------------------
    "a_wave_bad_in_six_ways_at_once_is_blocked_six_times": Case(
        Scenario("six", (T, E, H, S, U, M),
                 targets=fleet(**{"gateway-0": gateway(failed=FAILED_BEFORE_CANDIDATE),
                                  "gateway-1": gateway("gateway-1", failed=FAILED_BEFORE_CANDIDATE),
                                  "worker-0": worker("worker-0", gaps=SIX_WAYS_GAP),
                                  "worker-1": worker(gaps=SIX_WAYS_GAP)}),
                 gateway_rate=both(10, 5), gateway_5xx=both(0.02, 0.024),
                 step_children=[{"step_type": "http"}, {"step_type": "llm"}], step_child_born={"llm": C0 + 900},
                 hangs=[Hang(C0 + 1800, 2, "llm")], memory=leak,
                 retries=[RetryPair("network_error", "http", True, both(2.0, 2.0), both(0.85, 0.95)),
                          RetryPair("system_overload", "http", True, both(0.0, 8.0), both(0.3, 0.3),
                                    born=C0 + 300)]),
        {T: "failed", E: "failed", H: "failed", S: "failed", U: "failed", M: "failed"},
        {T: ("gateway_http_requests_total",), E: ("gateway",), H: ("llm",), S: ("not above",),
         U: ("job=worker",), M: ("worker-1",)}),
    # --- failed scrapes, staleness and gaps at window edges -----------------------------------------
    "throughput_halved_behind_failed_scrapes_at_the_candidate_start": Case(
        Scenario("t1", (T, E), targets=fleet(**{"gateway-0": gateway(failed=FAILED_BEFORE_CANDIDATE),
                                                "gateway-1": gateway("gateway-1", failed=FAILED_BEFORE_CANDIDATE)}),
                 gateway_rate=both(10, 5)),
        {T: "failed", E: "passed"}, {T: ("gateway_http_requests_total",)}),
    "healthy_throughput_with_failed_scrapes_at_the_candidate_start": Case(
        Scenario("t2", (T, E), targets=fleet(**{"gateway-0": gateway(failed=FAILED_BEFORE_CANDIDATE)})),
        {T: "passed", E: "passed"}),
    "healthy_wave_with_failed_scrapes_before_the_baseline_start": Case(
        # (A counter's increase while nothing was stored is counted where its next sample lands: keep the
        # failure realistic, a few scrapes, or a 1-hour window sees it.)
        Scenario("t3", (T, E), targets=fleet(**{"gateway-0": gateway(failed=[(B0 - 30, B0 + 15)]),
                                                "worker-0": worker("worker-0", failed=[(B0 - 15, B0 + 15)])})),
        {T: "passed", E: "passed"}),
    "healthy_wave_after_a_40_minute_gap_before_the_candidate": Case(
        Scenario("t4", (T, E), targets=fleet(**{"gateway-1": gateway("gateway-1", gaps=[(C0 - 2400, C0 + 15)])})),
        {T: "passed", E: "passed"}),
    "gateway_5xx_up_20_percent_with_failed_scrapes_at_the_candidate_start": Case(
        Scenario("e1", (E,), targets=fleet(**{"gateway-0": gateway(failed=FAILED_BEFORE_CANDIDATE)}),
                 gateway_5xx=both(0.02, 0.024)),
        {E: "failed"}, {E: ("gateway",)}),
    # --- counter resets: restarts and re-created children --------------------------------------------
    "healthy_throughput_across_a_restart_in_the_candidate_window": Case(
        Scenario("r1", (T, R), targets=fleet(**{"gateway-1": gateway("gateway-1", restarts=[C0 + 1200])})),
        {T: "passed", R: "failed"}, {R: ("job=gateway", "restart")}),
    "a_nan_start_time_could_hide_a_restart_so_it_is_no_data": Case(
        Scenario("r3", (R,), targets=fleet(**{"router-0": Target("router", "router-0",
                                                                 nan_start_time=[(C0 + 600, C0 + 900)])})),
        {R: "failed"}, {R: ("job=router", "NaN", "no data")}),
    "a_restart_in_the_baseline_is_not_a_candidate_restart": Case(
        Scenario("r2", (T, R), targets=fleet(**{"worker-0": worker("worker-0", restarts=[B0 + 1200])})),
        {T: "passed", R: "passed"}),
    "worker_errors_up_50_percent_on_a_re_created_child": Case(
        Scenario("c1", (E,), worker_error_child=Counter(
            {"step_type": "fs", "error_code": "resource_unavailable"}, both(0.1, 0.35),
            removed=[(C0 + 600, C0 + 900)])),
        {E: "failed"}, {E: ("worker",)}),
    "healthy_errors_with_a_re_created_child": Case(
        Scenario("c2", (E,), worker_error_child=Counter(
            {"step_type": "fs", "error_code": "resource_unavailable"}, both(0.1, 0.1),
            removed=[(C0 + 600, C0 + 900)])),
        {E: "passed"}),
    # --- histograms: hangs on new and re-created children, broken buckets ----------------------------
    "two_steps_hung_on_a_child_born_inside_the_candidate_window": Case(
        Scenario("h1", (H,), step_children=[{"step_type": "http"}, {"step_type": "llm"}],
                 step_child_born={"llm": C0 + 900}, hangs=[Hang(C0 + 1800, 2, "llm")]),
        {H: "failed"}, {H: ("step_type=\\\"llm\\\"",)}),
    "two_steps_hung_on_a_child_reset_inside_the_window": Case(
        Scenario("h2", (H,), step_child_reset={"http": C0 + 600}, hangs=[Hang(C0 + 1200, 2, "http")]),
        {H: "failed"}),
    "healthy_steps_across_a_histogram_child_reset": Case(
        Scenario("h3", (H,), step_child_reset={"http": C0 + 600},
                 targets=fleet(**{"worker-1": worker(restarts=[C0 + 1500])})),
        {H: "passed"}),
    "a_bucket_above_inf_is_a_data_error": Case(
        Scenario("h4", (H,), broken_buckets=True), {H: "failed"}, {H: ("data error",)}),
    # --- instances, intervals and uptime --------------------------------------------------------------
    "one_component_unobserved_for_9_percent_of_the_window": Case(
        Scenario("u1", (U,), targets=fleet(**{"worker-0": worker("worker-0", gaps=[(C0 + 600, C0 + 600 + 324)]),
                                              "worker-1": worker(gaps=[(C0 + 600, C0 + 600 + 324)])})),
        {U: "failed"}, {U: ("job=worker", "not uptime")}),
    "one_replica_failing_its_scrapes_while_its_twin_is_up": Case(
        Scenario("u2", (U,), targets=fleet(**{"gateway-1": gateway("gateway-1", failed=[(C0 + 600, C0 + 700)])})),
        {U: "failed"}, {U: ("job=gateway",)}),
    "healthy_churn_scale_out_rolling_replacement_and_a_30s_job": Case(
        Scenario("u3", (U, R), targets=[
            Target("router", "router-0", interval=30.0, jitter=0.1),
            Target("gateway", "gateway-0", interval=5.0, jitter=0.1), Target("gateway", "gateway-1", interval=5.0),
            Target("gateway", "gateway-2", interval=5.0, first=C0 + 900),  # scale-out
            Target("worker", "worker-0", jitter=0.1), Target("worker", "worker-1", last=C0 + 1800),  # scale-in
        ]),
        {U: "passed", R: "passed"}),
    "a_pod_replaced_under_a_new_instance_label_is_a_restart": Case(
        Scenario("u4", (U, R), targets=fleet(**{
            "worker-1": worker(last=C0 + 1800), "worker-2": worker("worker-2", first=C0 + 1815)})),
        {U: "passed", R: "failed"}, {R: ("replacement", "worker-2")}),
    # --- memory per instance ----------------------------------------------------------------------------
    "one_worker_replica_leaking_memory": Case(
        Scenario("m1", (M,), memory=leak), {M: "failed"}, {M: ("worker-1",)}),
    "flat_replicas_and_a_late_short_lived_instance_pass": Case(
        Scenario("m2", (M,), memory=lambda instance, t: 300 * MIB * (1.3 if instance == "worker-2" else 1.0),
                 targets=fleet(**{"worker-2": worker("worker-2", first=C1 - 600)})),
        {M: "passed"}),
    # --- retries ----------------------------------------------------------------------------------------
    "a_new_retry_error_class_carries_most_attempts_at_30_percent": Case(
        Scenario("s1", (S, WASTE), retries=[
            RetryPair("network_error", "http", True, both(2.0, 2.0), both(0.85, 0.95)),
            RetryPair("system_overload", "http", True, both(0.0, 8.0), both(0.3, 0.3), born=C0 + 300)]),
        {S: "failed", WASTE: "passed"}, {S: ("not above",)}),
    "nan_gauge_samples_on_a_pair_with_attempts_are_no_data": Case(
        Scenario("s2", (S,), retries=[
            RetryPair("network_error", "http", True, both(2.0, 2.0), both(0.85, 0.95), nan_at=(C0 + 60, C0 + 120))]),
        {S: "failed"}, {S: ("no data for", "NaN")}),
    "a_success_rate_gauge_in_percent_is_a_data_error": Case(
        Scenario("s3", (S,), retries=[RetryPair("network_error", "http", True, both(2.0, 2.0), both(85, 95))]),
        {S: "failed"}, {S: ("data error",)}),
    "attempts_without_a_success_rate_gauge_are_no_data": Case(
        Scenario("s4", (S,), retries=[
            RetryPair("network_error", "http", True, both(2.0, 2.0), both(0.85, 0.95)),
            RetryPair("connection_timeout", "http", True, both(1.0, 1.0), both(0.0, 0.0), gauge=False)]),
        {S: "failed"}, {S: ("no data for", "connection_timeout")}),
    "healthy_retries_with_nan_on_a_pair_without_attempts": Case(
        Scenario("s5", (S, WASTE), retries=[
            RetryPair("network_error", "http", True, both(2.0, 2.0), both(0.85, 0.95)),
            RetryPair("permission_denied", "fs", False, both(0.0, 0.0), both(0.0, 0.0), nan_at=(0, 4 * HOUR))]),
        {S: "passed", WASTE: "passed"}),
    # --- zero for a label value, no data for a family -----------------------------------------------------
    "a_gateway_without_any_5xx_in_the_candidate_counts_zero": Case(
        Scenario("z1", (E,), gateway_5xx=both(0.02, 0.0)), {E: "passed"}),
    "an_error_counter_never_exported_is_no_data": Case(
        Scenario("z2", (E,), no_router_errors_family=True), {E: "failed"}, {E: ("router", "no series")}),
    # --- latency ------------------------------------------------------------------------------------------
    "latency_bucket_layouts_differ": Case(
        Scenario("l1", (L,), latency=Latency(LATENCY, (*LATENCY[:5], 0.04, 0.04, *LATENCY[6:]),
                                             candidate_buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                                                0.5, 1.0, 2.5, 5.0))),
        {L: "failed"}, {L: ("bucket layouts differ",)}),
    "a_latency_shift_inside_one_bucket_is_caught_by_the_mean": Case(
        Scenario("l2", (L,), latency=Latency(LATENCY, LATENCY, candidate_mean_factor=1.15)),
        {L: "failed"}, {L: ("mean",)}),
    "a_baseline_quantile_in_inf_is_improved_by_a_finite_candidate": Case(
        Scenario("l3", (L,), latency=Latency((*LATENCY[:-2], 0.0, 0.02), (*LATENCY[:-2], 0.02, 0.0))),
        {L: "passed"}),
    "healthy_latency": Case(Scenario("l4", (L,), latency=Latency(LATENCY, LATENCY)), {L: "passed"}),
    # --- queue pools, graceful degradation, backoff ----------------------------------------------------
    "a_pool_without_a_declared_limit_fails": Case(
        Scenario("q1", (Q,), pools={"cpu": lambda t: 100.0, "tpu": lambda t: 3.0}),
        {Q: "failed"}, {Q: ("tpu", "no declared max_queue_size")},
        criteria_file={"memory.queue_bounded": {"default_limit": None}}),
    "rejections_outside_the_critical_episode_do_not_count": Case(
        Scenario("g1", (G,), overload={"io": lambda t: 3.0 if C0 + 600 <= t < C0 + 1200 else 0.0},
                 rejections={"io": lambda t: 2.0 if t >= C0 + 2400 else 0.0}),
        {G: "failed"}, {G: ("resource_pool=io",)}),
    "rejections_during_the_critical_episode_pass": Case(
        Scenario("g2", (G,), overload={"io": lambda t: 3.0 if C0 + 600 <= t < C0 + 1200 else 0.0},
                 rejections={"io": lambda t: 2.0 if C0 + 600 <= t < C0 + 1200 else 0.0}),
        {G: "passed"}),
    "backoff_growth_faked_by_mixing_step_types": Case(
        # Neither step type's backoff grows; but first attempts are mostly fast http steps and second ones
        # mostly slow fs steps, so the pooled median looks x8.
        Scenario("b1", (B,), backoff={"http": {"1": 0.1, "2": 0.1}, "fs": {"1": 0.8, "2": 0.8}},
                 backoff_rate={("http", "1"): 10.0, ("fs", "1"): 0.5, ("http", "2"): 0.5, ("fs", "2"): 10.0}),
        {B: "failed"}, {B: ("only x1",)}),
    "a_non_numeric_attempt_label_is_a_data_error": Case(
        Scenario("b2", (B,), backoff={"http": {"1": 0.1, "2": 0.2, "3": 0.4, "last": 0.8}}),
        {B: "failed"}, {B: ("data error", "last")}),
    "healthy_backoff_per_step_type": Case(
        Scenario("b3", (B,), backoff={"http": {"1": 0.1, "2": 0.2, "3": 0.4}, "fs": {"1": 0.5, "2": 1.0}}),
        {B: "passed"}),
}


@pytest.fixture(scope="module", params=("prometheus", "victoriametrics"))
def messy_runs(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, GateRun]]:
    """Every case in its own slice of one real backend, each judged by one gate run: the same history
    backfilled into a Prometheus with promtool, or imported into a VictoriaMetrics; the same verdicts."""
    workdir = tmp_path_factory.mktemp(f"messy-{request.param}")
    now = float(int(time.time()) // 3600 * 3600)
    builder = Builder(now - 4 * HOUR - len(CASES) * SLICE)
    placed = {name: builder.add(replace(case.scenario, seed=index))[0]
              for index, (name, case) in enumerate(CASES.items())}
    nowhere = f"http://127.0.0.1:{closed_port()}/metrics"
    server: PrometheusServer | VictoriaMetricsServer
    if request.param == "prometheus":
        server = PrometheusServer({}, history=builder.history, workdir=workdir / "prometheus", ready_timeout=60)
    else:
        server = VictoriaMetricsServer(workdir / "victoria-metrics", history=builder.history, ready_timeout=60)
    def judge(name: str) -> GateRun:
        case = CASES[name]
        document = environment_document(server.url, dict.fromkeys(COMPONENTS, nowhere), placed[name])
        env_file = write_environment(workdir / f"{name}.yaml", document)
        extra = []
        if case.criteria_file is not None:
            folder = workdir / f"{name}-criteria"
            folder.mkdir()
            extra.append(f"--criteria={criteria_variant(folder, case.criteria_file)}")
        return run_gate(workdir / name, *extra, env_file=env_file, select=" or ".join(case.expect))

    with server, ThreadPoolExecutor(GATE_WORKERS) as pool:
        # Each gate run is a process of its own, mostly waiting on the backend or starting up: a few at once.
        yield dict(zip(CASES, pool.map(judge, CASES), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_messy_history(messy_runs: dict[str, GateRun], name: str) -> None:
    case, run = CASES[name], messy_runs[name]
    for criterion, verdict in case.expect.items():
        record = run.record(criterion)
        text = run.text(criterion)
        shown = (f"{name}: {criterion} expected {verdict}, the gate said {record['verdict']}\n"
                 f"{record.get('message')}\ndetails: {record.get('details')}\nnotes: {record.get('notes')}")
        assert record["verdict"] == verdict, shown
        missing = [m for m in case.mentions.get(criterion, ()) if m not in text]
        assert not missing, f"{shown}\nthe record does not mention {missing}"


def test_every_case_fits_its_slice() -> None:
    assert CANDIDATE[1] + 600 < SLICE
    assert all(math.isfinite(len(case.expect)) and case.expect for case in CASES.values())


def test_gate_results_carry_each_sub_series_number_and_verdict(messy_runs: dict[str, GateRun]) -> None:
    run = messy_runs["a_wave_bad_in_six_ways_at_once_is_blocked_six_times"]
    uptime = {m["key"]["job"]: m for m in run.record(U)["measurements"]}
    assert set(uptime) == set(COMPONENTS)
    assert uptime["worker"]["passed"] is False
    assert uptime["worker"]["value"] < 0.999
    assert uptime["router"]["passed"] is True
    assert uptime["router"]["unit"] == "ratio"
    memory = {m["key"]["instance"]: m for m in run.record(M)["measurements"]}
    assert memory["worker-1"]["passed"] is False
    assert memory["worker-0"]["passed"] is True
    throughput = {m["key"]["counter"]: m for m in run.record(T)["measurements"]}
    gateway = throughput["gateway_http_requests_total"]
    assert gateway["candidate"] < gateway["baseline"]
    assert gateway["passed"] is False
