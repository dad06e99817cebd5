"""Fixtures for the self-tests: crafted worlds served by a real Prometheus and real /metrics endpoints,
and the gate runs judged against them. Everything started here stops by itself at the end of its scope.

Worlds are session-scoped and started on first use; each one is judged by as few gate runs as possible
(one run per world, criteria picked with -k), and the tests read the verdicts out of gate-results.json.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from harness import (
    GateRun,
    MetricsEndpoint,
    PrometheusServer,
    closed_port,
    environment_document,
    free_port,
    run_gate,
    wait_until,
    write_environment,
)
from worlds import (
    COMPONENTS,
    GIB,
    HEALTHY,
    LiveWorld,
    UptimeScenario,
    calm,
    cp1_backoff,
    critical_without_rejections,
    exposition,
    exposition_variant,
    flat_retries,
    hung_steps,
    memory_above_ceiling,
    memory_grows,
    more_errors,
    mutate,
    p99_increase,
    queue_over_bound,
    restart,
    retry_success,
    slow_steps,
    start_world,
    throughput,
    uptime_world,
    wasted_retries,
    with_lint_problems,
    without,
)

# World A breaks one criterion per mutation, each on its own metric, so one gate run judges them all.
# (graceful_degradation is judged too: cpu over its bound is critical *and* rejecting, so it holds.)
WORLD_A = mutate(
    HEALTHY,
    queue_over_bound("cpu", 1010),  # memory.queue_bounded: cpu 1010 > 1000
    memory_grows("gateway", 2.0),  # memory.bounded_usage: gateway RSS doubles across the window
    slow_steps(3),  # timeout.compliance: 3 steps in (30 s, 60 s]
    retry_success(0.75, 0.85),  # retry.success_rate: 0.75 is not above 0.80
    cp1_backoff(),  # retry.backoff_exponential: CP1's fixed 200/300/400 ms
    p99_increase("router_decision_duration_seconds", 0.051),  # performance.latency_increase
    throughput("gateway", 0.90),  # performance.throughput: gateway -10 % (error ratio unchanged)
    without("worker_timeout_events_total"),  # timeout.events_tracked: not exported, not stored
    without("router_provider_selections_total", live=False),  # coverage.required_metrics: not stored
)
WORLD_A_CRITERIA = (
    "memory.queue_bounded",
    "memory.bounded_usage",
    "timeout.compliance",
    "timeout.no_hangs",
    "timeout.events_tracked",
    "retry.success_rate",
    "retry.wasted_below_5pct",
    "retry.backoff_exponential",
    "availability.uptime",
    "availability.no_crashes",
    "availability.graceful_degradation",
    "coverage.required_metrics",
    "performance.latency_increase",
    "performance.throughput",
    "errors.rate_not_higher",
)

# World B: the failures that would collide with world A's (a restart also breaks graceful degradation).
WORLD_B = mutate(
    HEALTHY,
    restart("router", 1500),  # availability.no_crashes
    critical_without_rejections("io"),  # availability.graceful_degradation (and the restart above)
    hung_steps(2),  # timeout.no_hangs (and timeout.compliance)
    wasted_retries(51),  # retry.wasted_below_5pct: 5.1 %
    retry_success(0.82, 0.85),  # retry.success_rate: above 0.80 but below the baseline's 0.85
    more_errors("worker", 2.0),  # errors.rate_not_higher: worker error ratio doubles
    memory_above_ceiling("worker", 1.2 * GIB),  # memory.bounded_usage: over the 1 GiB ceiling
)
WORLD_B_CRITERIA = (
    "memory.queue_bounded",
    "memory.bounded_usage",
    "timeout.no_hangs",
    "retry.success_rate",
    "retry.wasted_below_5pct",
    "availability.no_crashes",
    "availability.graceful_degradation",
    "performance.latency_increase",
    "errors.rate_not_higher",
)

# The sparse world: the metrics the history criteria read are missing, or never move; nothing is
# critical. Missing data must fail, a zero denominator must fail, and graceful degradation is vacuous.
SPARSE = mutate(
    HEALTHY,
    without(
        "worker_queue_depth",
        "process_resident_memory_bytes",
        "worker_step_execution_duration_seconds",
        "gateway_http_request_duration_seconds",
        "router_decision_duration_seconds",
        "worker_retry_success_rate",
        "worker_retry_backoff_duration_seconds",
        "gateway_http_requests_total",
        "worker_step_executions_total",
        "router_decisions_total",
    ),
    flat_retries(),
    calm(),
)
SPARSE_CRITERIA = (
    "memory.queue_bounded",
    "memory.bounded_usage",
    "timeout.compliance",
    "retry.success_rate",
    "retry.wasted_below_5pct",
    "retry.backoff_exponential",
    "availability.graceful_degradation",
    "performance.latency_increase",
    "performance.throughput",
    "errors.rate_not_higher",
)

UPTIME_SCENARIOS = (
    # 9 one-minute outages in a week: 10071 / 10080 = 99.911 % (passes).
    UptimeScenario("boundary_pass", down={"router": 9, "gateway": 9, "worker": 9}),
    # 11 one-minute outages of the gateway: 10069 / 10080 = 99.891 % (fails).
    UptimeScenario("boundary_fail", down={"gateway": 11}),
    # The worker down for one hour in a row: 10020 / 10080 = 99.405 %; the others fine.
    UptimeScenario("down_an_hour", down={"worker": 60}, consecutive=True),
    # The router always up when scraped, but 20 % of the week has no samples: coverage 80 % < 90 %.
    UptimeScenario("gap", gaps={"router": 0.20}),
)


def select(criteria: tuple[str, ...] | list[str]) -> str:
    """A -k expression picking exactly these criterion ids (node ids end with [<id>])."""
    return " or ".join(criteria)


@pytest.fixture(scope="session")
def healthy_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    """The healthy CP2 world: full history, three live endpoints, all scraped by Prometheus every 2 s."""
    live = start_world(HEALTHY, tmp_path_factory.mktemp("healthy"), scraped=("router", "gateway", "worker"))
    try:
        live.prometheus.wait_for_scrapes()
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def healthy_run(healthy_world: LiveWorld) -> GateRun:
    """One gate run of every criterion against the healthy world."""
    return run_gate(healthy_world.workdir / "run", env_file=healthy_world.env_file())


def _judged(spec_world: LiveWorld, criteria: tuple[str, ...]) -> GateRun:
    return run_gate(spec_world.workdir / "run", env_file=spec_world.env_file(), select=select(criteria))


@pytest.fixture(scope="session")
def world_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    """World A (see WORLD_A): history-only; its endpoints serve the same mutated texts, unscraped."""
    live = start_world(WORLD_A, tmp_path_factory.mktemp("world-a"))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def world_a_run(world_a: LiveWorld) -> GateRun:
    return _judged(world_a, WORLD_A_CRITERIA)


@pytest.fixture(scope="session")
def world_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    """World B (see WORLD_B)."""
    live = start_world(WORLD_B, tmp_path_factory.mktemp("world-b"))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def world_b_run(world_b: LiveWorld) -> GateRun:
    return _judged(world_b, WORLD_B_CRITERIA)


@pytest.fixture(scope="session")
def sparse_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    """The sparse world (see SPARSE)."""
    live = start_world(SPARSE, tmp_path_factory.mktemp("sparse"))
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def sparse_run(sparse_world: LiveWorld) -> GateRun:
    return _judged(sparse_world, SPARSE_CRITERIA)


@pytest.fixture(scope="session")
def empty_window_run(sparse_world: LiveWorld) -> GateRun:
    """The sparse world judged over windows before its history began: no series at all."""
    start = sparse_world.world.now - 6 * 3600
    windows = {"baseline": (start - 3600, start), "candidate": (start, start + 3600)}
    env_file = sparse_world.env_file("empty-window.yaml", windows=windows)
    criteria = ("availability.uptime", "availability.no_crashes", "availability.graceful_degradation")
    return run_gate(sparse_world.workdir / "empty", env_file=env_file, select=select(criteria))


@pytest.fixture(scope="session")
def uptime_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, GateRun]]:
    """The long, sparse uptime world (one week of one-minute `up` per scenario, nothing else) and one
    gate run of availability.uptime per scenario, each over its own week."""
    workdir = tmp_path_factory.mktemp("uptime")
    port = free_port()
    nowhere = f"http://127.0.0.1:{closed_port()}/metrics"  # uptime reads Prometheus only
    now = float(int(time.time()) // 60 * 60)
    # Nothing is scraped live, so the component instances need not exist.
    targets = {job: f"127.0.0.1:{9100 + i}" for i, job in enumerate(COMPONENTS)}
    targets["prometheus"] = f"127.0.0.1:{port}"
    world = uptime_world(now, targets, UPTIME_SCENARIOS)
    with PrometheusServer(history=world.history, port=port, workdir=workdir / "prometheus") as prometheus:
        runs = {}
        for name, window in world.windows.items():
            document = environment_document(
                prometheus.url,
                dict.fromkeys(COMPONENTS, nowhere),
                {"baseline": (window[0] - 3600, window[0]), "candidate": window},
                scrape_interval="60s",
            )
            env_file = write_environment(workdir / f"{name}.yaml", document)
            runs[name] = run_gate(workdir / name, env_file=env_file, select="availability.uptime")
        yield runs


@pytest.fixture
def endpoint() -> Iterator[MetricsEndpoint]:
    """An extra /metrics endpoint (not scraped by any Prometheus) for crafted expositions."""
    with MetricsEndpoint() as served:
        yield served


@pytest.fixture(scope="session")
def fault_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    """Healthy history, but live scraping goes wrong: the gateway job is missing from Prometheus' config,
    the worker answers HTTP 503, and the router exposes more samples than its job's sample_limit of 5."""
    live = start_world(
        HEALTHY,
        tmp_path_factory.mktemp("faults"),
        scraped=("router", "worker"),
        job_options={"router": {"sample_limit": 5}},
    )
    try:
        live.endpoints["worker"].status = 503
        live.prometheus.wait_for_scrapes()
        # Prometheus counts the limit hit in its own metrics, which reach the TSDB on its next self-scrape.
        wait_until(
            lambda: live.prometheus.scalar("sum(prometheus_target_scrapes_exceeded_sample_limit_total)") > 0,
            "the sample-limit counter to count the router's scrape",
        )
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def fault_run(fault_world: LiveWorld) -> GateRun:
    return _judged(fault_world, ("integration.targets_up", "integration.scrape_success"))


def _served(texts: dict[str, tuple[str, int, float]]) -> dict[str, MetricsEndpoint]:
    return {
        component: MetricsEndpoint(text, status=status, delay=delay).start()
        for component, (text, status, delay) in texts.items()
    }


@pytest.fixture(scope="session")
def quality_run(healthy_world: LiveWorld) -> Iterator[GateRun]:
    """The healthy Prometheus, with the components' /metrics swapped for crafted, unscraped variants:
    router histogram buckets differ from the contract (0.001 left out) and router_errors_total carries
    trace_id; gateway_rate_limit_hits_total (an aggregate metric) carries run_id; the worker adds two
    families the linter rejects. Each breaks one of the quality criteria."""
    world = healthy_world.world
    endpoints = _served(
        {
            "router": (
                exposition_variant(
                    world,
                    "router",
                    drop_buckets={"router_decision_duration_seconds": ["0.001"]},
                    add_labels={"router_errors_total": {"trace_id": "4bf92f3577b34da6"}},
                ),
                200,
                0.0,
            ),
            "gateway": (
                exposition_variant(
                    world, "gateway", add_labels={"gateway_rate_limit_hits_total": {"run_id": "run-8812"}}
                ),
                200,
                0.0,
            ),
            "worker": (with_lint_problems(world.expositions["worker"]), 200, 0.0),
        }
    )
    try:
        env_file = healthy_world.env_file(
            "quality.yaml", metrics_urls={c: e.url for c, e in endpoints.items()}
        )
        criteria = ("quality.label_cardinality", "quality.metric_types", "quality.exposition_format")
        yield run_gate(healthy_world.workdir / "quality", env_file=env_file, select=select(criteria))
    finally:
        for served in endpoints.values():
            served.stop()


@pytest.fixture(scope="session")
def labels_and_latency_run(healthy_world: LiveWorld) -> Iterator[GateRun]:
    """router_decisions_total loses its decision_reason label; the worker answers /metrics after 150 ms."""
    world = healthy_world.world
    endpoints = _served(
        {
            "router": (
                exposition_variant(
                    world, "router", drop_labels={"router_decisions_total": ["decision_reason"]}
                ),
                200,
                0.0,
            ),
            "worker": (world.expositions["worker"], 200, 0.15),
        }
    )
    try:
        env_file = healthy_world.env_file(
            "labels.yaml", metrics_urls={c: e.url for c, e in endpoints.items()}
        )
        criteria = ("coverage.required_labels", "performance.endpoint_latency")
        yield run_gate(healthy_world.workdir / "labels", env_file=env_file, select=select(criteria))
    finally:
        for served in endpoints.values():
            served.stop()


@pytest.fixture(scope="session")
def missing_metric_run(healthy_world: LiveWorld) -> Iterator[GateRun]:
    """The gateway's /metrics without gateway_idempotency_hits_total (Prometheus still has its history)."""
    world = healthy_world.world
    endpoints = _served(
        {"gateway": (exposition(world.history, "gateway", {"gateway_idempotency_hits_total"}), 200, 0.0)}
    )
    try:
        env_file = healthy_world.env_file(
            "missing.yaml", metrics_urls={c: e.url for c, e in endpoints.items()}
        )
        yield run_gate(
            healthy_world.workdir / "missing", env_file=env_file, select="coverage.required_metrics"
        )
    finally:
        for served in endpoints.values():
            served.stop()


@pytest.fixture(scope="session")
def broken_endpoints_run(healthy_world: LiveWorld) -> Iterator[GateRun]:
    """The router answers 200 with text that is not an exposition, the gateway answers HTTP 500, the
    worker's port is closed."""
    endpoints = _served(
        {
            "router": ("<html><body>Service temporarily overloaded</body></html>\n", 200, 0.0),
            "gateway": (healthy_world.world.expositions["gateway"], 500, 0.0),
        }
    )
    try:
        urls = {c: e.url for c, e in endpoints.items()}
        urls["worker"] = f"http://127.0.0.1:{closed_port()}/metrics"
        env_file = healthy_world.env_file("broken.yaml", metrics_urls=urls)
        yield run_gate(
            healthy_world.workdir / "broken", env_file=env_file, select="coverage.endpoints_exported"
        )
    finally:
        for served in endpoints.values():
            served.stop()
