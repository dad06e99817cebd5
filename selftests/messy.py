"""Small, named histories shaped like production data, for the regression self-tests of the gate's rules:
replicas, instances that come and go, per-job scrape intervals, jittered timestamps, failed scrapes and
gaps at window edges, restarts, re-created children, NaN gauge samples.

A `Scenario` describes one history with plain knobs (healthy by default). Many scenarios share one real
Prometheus: scenario k lives in its own time slice, with a baseline window [slice + 1 h, slice + 2 h] and a
candidate window [slice + 2 h, slice + 3 h]; the hour before the baseline is the history the gate looks
back over. Only the metric families the judged criteria read are written, to keep the backfill small.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from harness import History

HOUR = 3600.0
SLICE = 5 * HOUR
BASELINE = (HOUR, 2 * HOUR)
CANDIDATE = (2 * HOUR, 3 * HOUR)
END = 3 * HOUR + 600.0  # history runs a little past the candidate window
MIB = 1024.0 * 1024.0

WORKER_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BACKOFF_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Which families each criterion reads (so a scenario writes only what its criteria need).
FAMILIES: dict[str, tuple[str, ...]] = {
    "performance.throughput": ("gateway_requests", "worker_steps"),
    "errors.rate_not_higher": ("gateway_requests", "worker_steps", "router_decisions"),
    "retry.success_rate": ("retries",),
    "retry.wasted_below_5pct": ("retries",),
    "retry.backoff_exponential": ("backoff",),
    "timeout.no_hangs": ("step_durations",),
    "timeout.compliance": ("step_durations",),
    "availability.uptime": ("up",),
    # A gauge's NaN is told from `up` where the backend drops NaN samples (VictoriaMetrics): every real scrape
    # writes `up`, so the histories of the gauges' criteria have it too.
    "availability.no_crashes": ("start_time", "up"),
    "availability.graceful_degradation": ("queue", "start_time", "up"),
    "memory.bounded_usage": ("memory", "up"),
    "memory.queue_bounded": ("queue", "up"),
    "performance.latency_increase": ("latency",),
}


@dataclass
class Target:
    """One scraped instance. Offsets are seconds from the slice start."""

    job: str
    instance: str
    interval: float = 15.0
    first: float = 0.0
    last: float = END
    gaps: list[tuple[float, float]] = field(default_factory=list)  # no sample at all (Prometheus saw nothing)
    failed: list[tuple[float, float]] = field(default_factory=list)  # up = 0, every other series missing
    restarts: list[float] = field(default_factory=list)  # the process restarts: counters from 0
    jitter: float = 0.0  # share of the interval each timestamp may move
    nan_start_time: list[tuple[float, float]] = field(default_factory=list)  # process_start_time_seconds is NaN

    def times(self, seed: int) -> list[float]:
        shaky = random.Random(f"{seed}/{self.instance}")
        out, t = [], self.first
        while t <= self.last:
            moved = round(t + (shaky.uniform(-1, 1) * self.jitter * self.interval if self.jitter else 0.0), 3)
            if not any(a <= t < b for a, b in self.gaps) and (not out or moved > out[-1]):
                out.append(moved)
            t += self.interval
        return out

    def scraped(self, t: float) -> bool:
        return not any(a <= t < b for a, b in self.failed)

    def started(self, t: float) -> float:
        """The offset at which the process that runs at `t` started (an instance there from the slice's
        start has run for hours; a later one started just before its first scrape)."""
        born = self.first - 3 * HOUR if self.first == 0 else self.first - 5
        return max([born, *(r for r in self.restarts if r <= t)])


def in_candidate(t: float) -> bool:
    return t >= CANDIDATE[0]


def both(baseline: float, candidate: float) -> Callable[[float], float]:
    """A rate that is `baseline` until the candidate window starts and `candidate` from then on."""
    return lambda t: candidate if in_candidate(t) else baseline


@dataclass
class Counter:
    """A counter child: labels, rate per second over time, and when the application (re)creates it."""

    labels: dict[str, str]
    rate: Callable[[float], float]
    born: float | None = None  # first exported at this offset (a new label combination)
    removed: list[tuple[float, float]] = field(default_factory=list)  # removed, then re-created from 0


@dataclass
class Scenario:
    """One history; every knob healthy by default."""

    name: str
    criteria: tuple[str, ...]
    targets: list[Target] = field(default_factory=lambda: [
        Target("router", "router-0"), Target("gateway", "gateway-0"), Target("gateway", "gateway-1"),
        Target("worker", "worker-0"), Target("worker", "worker-1")])
    gateway_rate: Callable[[float], float] = field(default_factory=lambda: both(10.0, 10.0))
    gateway_5xx: Callable[[float], float] = field(default_factory=lambda: both(0.02, 0.02))
    worker_rate: Callable[[float], float] = field(default_factory=lambda: both(5.0, 5.0))
    worker_errors: Callable[[float], float] = field(default_factory=lambda: both(0.04, 0.04))
    router_rate: Callable[[float], float] = field(default_factory=lambda: both(8.0, 8.0))
    router_errors: Callable[[float], float] = field(default_factory=lambda: both(0.01, 0.01))
    worker_error_child: Counter | None = None  # an extra worker error child (e.g. re-created)
    no_router_errors_family: bool = False
    retries: list[RetryPair] = field(default_factory=lambda: [
        RetryPair("network_error", "http", True, both(2.0, 2.0), both(0.85, 0.9)),
        RetryPair("resource_unavailable", "fs", True, both(1.0, 1.0), both(0.85, 0.9)),
        RetryPair("validation", "http", False, both(0.02, 0.02), both(0.0, 0.0))])
    hangs: list[Hang] = field(default_factory=list)
    step_children: list[dict[str, str]] = field(default_factory=lambda: [{"step_type": "http"}])
    step_child_born: dict[str, float] = field(default_factory=dict)  # step_type -> first offset
    step_child_reset: dict[str, float] = field(default_factory=dict)  # step_type -> re-created at offset
    broken_buckets: bool = False  # le=60 above +Inf
    memory: Callable[[str, float], float] | None = None  # (instance, offset) -> bytes
    latency: Latency | None = None
    backoff: dict[str, dict[str, float]] = field(default_factory=lambda: {"http": {"1": 0.1, "2": 0.2, "3": 0.4}})
    backoff_rate: dict[tuple[str, str], float] = field(default_factory=dict)  # (step_type, attempt) -> per second
    pools: dict[str, Callable[[float], float]] = field(default_factory=lambda: {
        "cpu": lambda t: 100.0, "gpu": lambda t: 10.0, "io": lambda t: 50.0})
    overload: dict[str, Callable[[float], float]] = field(default_factory=dict)  # pool -> status over time
    rejections: dict[str, Callable[[float], float]] = field(default_factory=dict)  # pool -> rate per second
    seed: int = 0

    def families(self) -> set[str]:
        return {family for criterion in self.criteria for family in FAMILIES.get(criterion, ())}


@dataclass
class RetryPair:
    error_code: str
    step_type: str
    retryable: bool
    attempts: Callable[[float], float]  # per second, per worker instance
    success: Callable[[float], float]  # the gauge's value
    born: float | None = None
    nan_at: tuple[float, float] | None = None  # gauge samples are NaN in this span
    gauge: bool = True  # exported at all


@dataclass
class Hang:
    at: float
    count: int
    step_type: str = "http"


@dataclass
class Latency:
    """Shares of observations per bucket (the last share is +Inf overflow), per window."""

    baseline: tuple[float, ...]
    candidate: tuple[float, ...]
    candidate_buckets: tuple[float, ...] = LATENCY_BUCKETS
    candidate_mean_factor: float = 1.0


def _constant(value: float) -> Callable[[float], float]:
    return lambda t: value


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class Builder:
    """Turns scenarios into one History, each in its own slice starting at `origin + k * SLICE`."""

    def __init__(self, origin: float) -> None:
        self.origin = origin
        self.history = History()
        self.count = 0

    def add(self, scenario: Scenario) -> tuple[dict[str, tuple[float, float]], float]:
        """Write the scenario; return its windows (absolute) and its slice start."""
        base = self.origin + self.count * SLICE
        self.count += 1
        families = scenario.families()
        for target in scenario.targets:
            _write_target(self.history, base, scenario, target, families)
        windows = {"baseline": (base + BASELINE[0], base + BASELINE[1]),
                   "candidate": (base + CANDIDATE[0], base + CANDIDATE[1])}
        return windows, base


def _counter_points(times: Iterable[float], target: Target, rate: Callable[[float], float], start_value: float,
                    born: float | None = None, removed: Iterable[tuple[float, float]] = ()) -> list[
                        tuple[float, float]]:
    """A counter's samples at the scrape times: it grows by rate x elapsed time, starts again from 0 when the
    process restarts or the child is re-created, and is not exported before it is born or while removed."""
    out, value, previous = [], (0.0 if born is not None else start_value), None
    spans = list(removed)
    for t in times:
        if born is not None and t < born:
            continue
        if any(a <= t < b for a, b in spans):
            value, previous = 0.0, None
            continue
        if previous is not None and any(previous < r <= t for r in target.restarts):
            restart = max(r for r in target.restarts if previous < r <= t)
            value, previous = 0.0, restart
        elapsed = t - previous if previous is not None else 0.0
        if previous is None and born is not None:
            elapsed = t - born
        value += rate(t) * elapsed
        previous = t
        if target.scraped(t):
            out.append((t, round(value, 6)))
    return out


def _write_target(history: History, base: float, scenario: Scenario, target: Target, families: set[str]) -> None:
    times = target.times(scenario.seed)
    ident = {"job": target.job, "instance": target.instance}

    def add(name: str, labels: Mapping[str, str], points: list[tuple[float, float]]) -> None:
        if points:
            history.add(name, {**ident, **labels}, [(base + t, v) for t, v in points])

    def counter(name: str, labels: Mapping[str, str], rate: Callable[[float], float], **options: object) -> None:
        add(name, labels, _counter_points(times, target, rate, 1000 * rate(0), **options))  # type: ignore[arg-type]

    def gauge(name: str, labels: Mapping[str, str], value: Callable[[float], float]) -> None:
        add(name, labels, [(t, value(t)) for t in times if target.scraped(t)])

    if "up" in families:
        add("up", {}, [(t, 1.0 if target.scraped(t) else 0.0) for t in times])
    if "start_time" in families:
        gauge("process_start_time_seconds", {}, lambda t: math.nan if any(
            a <= t < b for a, b in target.nan_start_time) else round(base + target.started(t)))
    if "memory" in families:
        memory = scenario.memory or (lambda instance, t: 200 * MIB * (1 + 0.01 * math.sin(t / 600)))
        gauge("process_resident_memory_bytes", {}, lambda t: round(memory(target.instance, t)))
    if target.job == "gateway":
        _gateway(scenario, families, counter, add, times, target)
    if target.job == "router" and "latency" in families and scenario.latency is not None:
        _latency(scenario.latency, "router_decision_duration_seconds", {"policy_id": "p1", "provider": "a"}, add,
                 times, target, scenario.router_rate)
    if target.job == "worker" and "latency" in families and scenario.latency is not None:
        _latency(scenario.latency, "worker_step_execution_duration_seconds", {"step_type": "http",
                 "execution_status": "success"}, add, times, target, scenario.worker_rate)
    if target.job == "router" and "router_decisions" in families:
        counter("router_decisions_total", {"policy_id": "p1", "provider": "a", "decision_reason": "cost"},
                scenario.router_rate)
        if not scenario.no_router_errors_family:
            counter("router_errors_total", {"error_code": "timeout"},
                    lambda t: scenario.router_rate(t) * scenario.router_errors(t))
    if target.job == "worker":
        _worker(scenario, families, counter, gauge, add, times, target)


def _gateway(scenario: Scenario, families: set[str], counter: Callable[..., None], add: Callable[..., None],
             times: list[float], target: Target) -> None:
    if "gateway_requests" in families:
        base = {"method": "GET", "route": "/v1/runs"}
        counter("gateway_http_requests_total", {**base, "status_code": "200"},
                lambda t: scenario.gateway_rate(t) * (1 - scenario.gateway_5xx(t)))
        counter("gateway_http_requests_total", {**base, "status_code": "500"},
                lambda t: scenario.gateway_rate(t) * scenario.gateway_5xx(t))
    if "latency" in families and scenario.latency is not None:
        _latency(scenario.latency, "gateway_http_request_duration_seconds", {"method": "GET", "route": "/v1/runs",
                 "status_code": "200"}, add, times, target, scenario.gateway_rate)


def _histogram(name: str, labels: Mapping[str, str], add: Callable[..., None], times: list[float], target: Target,
               buckets_at: Callable[[float], tuple[float, ...]], shares_at: Callable[[float], tuple[float, ...]],
               rate: Callable[[float], float], mean_at: Callable[[float], float],
               extra_inf: Callable[[float, float], float] | None = None, born: float | None = None,
               reset_at: float | None = None, broken: bool = False) -> None:
    """Cumulative bucket series of one child: `rate` observations per second spread by `shares_at(t)` over
    the buckets `buckets_at(t)` (plus the +Inf overflow); `extra_inf(previous, t)` adds observations above
    every finite bucket between two scrapes."""
    layouts: dict[tuple[float, ...], dict[str, list[tuple[float, float]]]] = {}
    counts: dict[float, float] = {}
    total_sum, previous = 0.0, None
    sums, totals = [], []
    resets = sorted([*target.restarts, *([reset_at] if reset_at is not None else [])])
    for t in times:
        if born is not None and t < born:
            continue
        if previous is not None and any(previous < r <= t for r in resets):
            counts, total_sum = {}, 0.0
        bounds = buckets_at(t)
        shares = shares_at(t)
        elapsed = t - previous if previous is not None else (t - born if born is not None else 1000.0)
        observed = rate(t) * elapsed
        running = 0.0
        for bound, share in zip((*bounds, math.inf), shares, strict=True):
            running += observed * share
            counts[bound] = counts.get(bound, 0.0) + running
        if extra_inf is not None and previous is not None:
            counts[math.inf] = counts.get(math.inf, 0.0) + extra_inf(previous, t)
        total_sum += observed * mean_at(t) + (extra_inf(previous, t) * 120 if extra_inf and previous else 0.0)
        previous = t
        if not target.scraped(t):
            continue
        series = layouts.setdefault(bounds, {})
        for bound in (*bounds, math.inf):
            value = counts.get(bound, 0.0)
            if broken and bound == 60.0 and in_candidate(t):
                value += (t - CANDIDATE[0]) / 60  # the le=60 bucket outgrows +Inf: broken data

            series.setdefault(_le(bound), []).append((t, round(value, 6)))
        sums.append((t, round(total_sum, 6)))
        totals.append((t, round(counts.get(math.inf, 0.0), 6)))
    for series in layouts.values():
        for le, points in series.items():
            add(f"{name}_bucket", {**labels, "le": le}, points)
    add(f"{name}_sum", labels, sums)
    add(f"{name}_count", labels, totals)


def _latency(latency: Latency, name: str, labels: Mapping[str, str], add: Callable[..., None], times: list[float],
             target: Target, rate: Callable[[float], float]) -> None:
    def mean(t: float) -> float:
        return 0.02 * (latency.candidate_mean_factor if in_candidate(t) else 1.0)

    _histogram(name, labels, add, times, target,
               lambda t: latency.candidate_buckets if in_candidate(t) else LATENCY_BUCKETS,
               lambda t: latency.candidate if in_candidate(t) else latency.baseline, rate, mean)


def _worker(scenario: Scenario, families: set[str], counter: Callable[..., None], gauge: Callable[..., None],
            add: Callable[..., None], times: list[float], target: Target) -> None:
    if "worker_steps" in families:
        counter("worker_step_executions_total", {"step_type": "http", "execution_status": "success"},
                scenario.worker_rate)
        counter("worker_step_errors_total", {"step_type": "http", "error_code": "execution_failed"},
                lambda t: scenario.worker_rate(t) * scenario.worker_errors(t))
        extra = scenario.worker_error_child
        if extra is not None:
            counter("worker_step_errors_total", extra.labels, extra.rate, born=extra.born, removed=extra.removed)
    if "step_durations" in families:
        shares = (0.2, 0.3, 0.2, 0.1, 0.1, 0.05, 0.03, 0.01, 0.005, 0.005, 0.0, 0.0)
        for child in scenario.step_children:
            step_type = child["step_type"]
            hangs = [h for h in scenario.hangs if h.step_type == step_type]

            def hung(previous: float, t: float, hangs: list[Hang] = hangs) -> float:
                return float(sum(h.count for h in hangs if previous < h.at <= t))

            _histogram("worker_step_execution_duration_seconds", {**child, "execution_status": "success"}, add,
                       times, target, lambda t: WORKER_BUCKETS, lambda t: shares, lambda t: 1.0,
                       lambda t: 0.3, extra_inf=hung, born=scenario.step_child_born.get(step_type),
                       reset_at=scenario.step_child_reset.get(step_type), broken=scenario.broken_buckets)
    if "retries" in families:
        for pair in scenario.retries:
            labels = {"error_code": pair.error_code, "step_type": pair.step_type}
            counter("worker_retry_attempts_total", {**labels, "retryable": str(pair.retryable).lower()},
                    pair.attempts, born=pair.born)
            if pair.gauge:
                nan_at = pair.nan_at

                def success(t: float, pair: RetryPair = pair, nan_at: tuple[float, float] | None = nan_at) -> float:
                    if nan_at is not None and nan_at[0] <= t < nan_at[1]:
                        return math.nan
                    return pair.success(t)

                points = [(t, success(t)) for t in times
                          if target.scraped(t) and (pair.born is None or t >= pair.born)]
                add("worker_retry_success_rate", labels, points)
    if "backoff" in families:
        for step_type, medians in scenario.backoff.items():
            for attempt, median in medians.items():
                # All of one attempt's backoffs in the bucket whose bound is just above its median.
                shares = tuple(1.0 if bound == min(b for b in BACKOFF_BUCKETS if b >= median * 1.5) else 0.0
                               for bound in (*BACKOFF_BUCKETS, math.inf))
                _histogram("worker_retry_backoff_duration_seconds", {"attempt": attempt, "step_type": step_type},
                           add, times, target, lambda t: BACKOFF_BUCKETS, lambda t, s=shares: s,
                           _constant(scenario.backoff_rate.get((step_type, attempt), 0.5)), _constant(median))
    if "queue" in families:
        for pool, depth in scenario.pools.items():
            gauge("worker_queue_depth", {"resource_pool": pool}, depth)
            status = scenario.overload.get(pool, lambda t: 0.0)
            gauge("worker_overload_status", {"resource_pool": pool}, status)
            rejected = scenario.rejections.get(pool, lambda t: 0.0)
            counter("worker_queue_rejections_total", {"resource_pool": pool, "rejection_reason": "queue_full"},
                    rejected)
