"""Crafted, contract-faithful CP2 worlds: the history a Prometheus holds and the /metrics texts the
components serve, for a healthy Wave 1 rollout and for named mutations that break one criterion each.

A world is built from a `WorldSpec` (knobs, healthy by default) at a fixed `now`. Every expected value
(quantiles, ratios, uptimes) is computed here from the crafted data with the same arithmetic
Prometheus uses, so the self-tests assert numbers they can explain.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from harness import (
    LOOPBACK,
    History,
    MetricsEndpoint,
    PrometheusServer,
    Series,
    environment_document,
    free_port,
    write_environment,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

COMPONENTS = ("router", "gateway", "worker")
JOBS = (*COMPONENTS, "prometheus")
STEP = 15.0
WAVE1_FLAGS = ("CP2_ADVANCED_RETRY_ENABLED", "CP2_COMPLETE_TIMEOUT_ENABLED", "CP2_QUEUE_MANAGEMENT_ENABLED")
OBSERVABILITY_FLAG = "CP2_OBSERVABILITY_METRICS_ENABLED"
FLAGS = (*WAVE1_FLAGS, OBSERVABILITY_FLAG)
MIB = 1024 * 1024
GIB = 1024 * MIB

POOL_LIMITS = {"cpu": 1000, "gpu": 100, "io": 500}

# Contract buckets (CONTRACT.md); the backoff buckets are the worker's own choice (not in the contract).
ROUTER_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
GATEWAY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
WORKER_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BACKOFF_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

LATENCY_HISTOGRAMS = {
    "gateway_http_request_duration_seconds": "gateway",
    "router_decision_duration_seconds": "router",
    "worker_step_execution_duration_seconds": "worker",
}

HELP = {
    "router_decisions_total": "Routing decisions made.",
    "router_decision_duration_seconds": "Time to make a routing decision.",
    "router_provider_selections_total": "Times a provider was selected.",
    "router_errors_total": "Routing errors.",
    "gateway_http_requests_total": "HTTP requests handled.",
    "gateway_http_request_duration_seconds": "HTTP request duration.",
    "gateway_rate_limit_hits_total": "Requests rejected by the rate limiter.",
    "gateway_idempotency_hits_total": "Requests answered from the idempotency cache.",
    "worker_step_executions_total": "Step executions.",
    "worker_step_execution_duration_seconds": "Step execution duration.",
    "worker_step_errors_total": "Step errors.",
    "worker_queue_depth": "Tasks waiting in the resource pool's queue.",
    "worker_queue_rejections_total": "Tasks rejected by the bounded queue.",
    "worker_queue_acceptances_total": "Tasks accepted by the bounded queue.",
    "worker_overload_status": "Pool status: 0 healthy, 1 degraded, 2 overloaded, 3 critical.",
    "worker_retry_attempts_total": "Retry attempts.",
    "worker_retry_success_rate": "Retry successes / retry attempts.",
    "worker_retry_backoff_duration_seconds": "Backoff slept before a retry attempt.",
    "worker_timeout_events_total": "Operations that hit their timeout.",
    "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
    "process_resident_memory_bytes": "Resident memory size in bytes.",
    "cp2_feature_flag_enabled": "1 when the CP2 feature flag is on, 0 when off.",
    "router_build_info": "The router's build; always 1.",
    "gateway_build_info": "The gateway's build; always 1.",
    "worker_build_info": "The worker's build; always 1.",
}


# --- Prometheus' histogram_quantile, for expected values ------------------------------------------


def prometheus_quantile(q: float, cumulative: Sequence[tuple[float, float]]) -> float:
    """histogram_quantile as Prometheus 2.42 computes it (promql/quantile.go, bucketQuantile).

    `cumulative` is [(upper bound, cumulative count)] ending with +Inf. The answer interpolates
    linearly inside the bucket where the rank q * total falls: start + width * (rank - below) / in.
    """
    buckets = sorted(cumulative)
    if not buckets or not math.isinf(buckets[-1][0]) or len(buckets) < 2:
        return math.nan
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_, count) in enumerate(buckets[:-1] + [(math.inf, math.inf)]) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0]
    start, below = (buckets[index - 1][0], buckets[index - 1][1]) if index > 0 else (0.0, 0.0)
    end, count = buckets[index]
    return start + (end - start) * ((rank - below) / (count - below))


@dataclass(frozen=True)
class Profile:
    """Observations per scrape step of one histogram series: counts[i] falls in bucket i
    (bounds[i-1], bounds[i]]; the last count is the +Inf overflow."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.bounds) + 1:
            raise ValueError("a profile needs one count per finite bucket plus the overflow")

    @property
    def total(self) -> int:
        return sum(self.counts)

    def cumulative(self, scale: float = 1.0) -> list[tuple[float, float]]:
        running, out = 0.0, []
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += count * scale
            out.append((bound, running))
        return out

    def quantile(self, q: float) -> float:
        return prometheus_quantile(q, self.cumulative())

    def moved(self, source: int, target: int, amount: int) -> Profile:
        """The same profile with `amount` observations moved from bucket `source` to `target`."""
        counts = list(self.counts)
        counts[source] -= amount
        counts[target] += amount
        if counts[source] < 0:
            raise ValueError("cannot move more observations than the bucket holds")
        return replace(self, counts=tuple(counts))

    def midpoints(self) -> list[float]:
        """A representative value per bucket (for the _sum series)."""
        lows = (0.0, *self.bounds)
        highs = (*self.bounds, self.bounds[-1] * 1.5)
        return [(lo + hi) / 2 for lo, hi in zip(lows, highs, strict=True)]


def with_p99_increase(profile: Profile, increase: float) -> Profile:
    """Move observations out of the p99 bucket into the next one so that p99 grows by `increase`
    (as close as whole observations allow) while p50 and p95 stay exactly the same.

    p99 = start + width * k / n, where k = rank - observations below the bucket and n = the bucket's
    count; moving m observations up leaves k alone and gives n - m, so p99 rises. The buckets below,
    and the total, are untouched, hence p50 and p95 (in lower buckets) do not move.
    """
    target = profile.quantile(0.99) * (1 + increase)
    cumulative = profile.cumulative()
    rank = 0.99 * profile.total
    index = next(i for i, (_, count) in enumerate(cumulative) if count >= rank)
    best: Profile | None = None
    for amount in range(1, profile.counts[index]):
        candidate = profile.moved(index, index + 1, amount)
        if candidate.quantile(0.99) <= profile.quantile(0.99):
            continue
        if best is None or abs(candidate.quantile(0.99) - target) < abs(best.quantile(0.99) - target):
            best = candidate
    if best is None:
        raise ValueError("cannot shift p99 within its bucket")
    for q in (0.5, 0.95):
        assert best.quantile(q) == profile.quantile(q), f"p{q * 100:g} moved"
    return best


# Baseline latency per histogram series and scrape step (20,000 observations, 2 series each):
#   gateway: p50 = 0.025 + 0.025 * (10000 - 7000) / 6000 = 0.0375 s; p95 = 0.1 + 0.15 * 2000 / 2600
#            = 0.2154 s; p99 = 0.25 + 0.25 * (19800 - 19600) / 400 = 0.375 s.
#   router:  p50 = 0.004556 s, p95 = 0.0225 s, p99 = 0.025 + 0.025 * 200 / 400 = 0.0375 s.
#   worker:  p50 = 0.3125 s, p95 = 2.1538 s, p99 = 2.5 + 2.5 * 200 / 400 = 3.75 s.
BASELINE_LATENCY = {
    "gateway_http_request_duration_seconds": Profile(
        GATEWAY_BUCKETS, (0, 1000, 2000, 4000, 6000, 4000, 2600, 400, 0, 0, 0, 0)
    ),
    "router_decision_duration_seconds": Profile(ROUTER_BUCKETS, (2000, 9000, 5000, 3600, 400, 0, 0, 0, 0, 0)),
    "worker_step_execution_duration_seconds": Profile(
        WORKER_BUCKETS, (0, 1000, 3000, 5000, 4000, 4000, 2600, 400, 0, 0, 0, 0)
    ),
}


def full_jitter_profile(cap: float, observations: int) -> Profile:
    """Backoff with full jitter, uniform on [0, cap]: each bucket gets its share of the width.

    Uniform data makes histogram_quantile exact: the median is cap / 2 (0.05, 0.1, 0.2 s for the
    Wave 1 policy's 0.1, 0.2, 0.4 s caps of attempts 1, 2, 3).
    """
    counts, low = [], 0.0
    for bound in (*BACKOFF_BUCKETS, math.inf):
        share = max(0.0, min(bound, cap) - low) / cap
        low = min(bound, cap) if bound < cap else cap
        exact = share * observations
        if abs(exact - round(exact)) > 1e-9:
            raise ValueError(f"{observations} observations do not split evenly over the buckets")
        counts.append(round(exact))
    return Profile(BACKOFF_BUCKETS, tuple(counts))


def fixed_backoff_profile(value: float, observations: int) -> Profile:
    """CP1's fixed backoff: every observation equals `value`."""
    index = next(i for i, bound in enumerate((*BACKOFF_BUCKETS, math.inf)) if value <= bound)
    counts = [0] * (len(BACKOFF_BUCKETS) + 1)
    counts[index] = observations
    return Profile(BACKOFF_BUCKETS, tuple(counts))


# Wave 1 retry policy: base 100 ms, x2 per attempt, full jitter; fewer attempts at each level.
EXPONENTIAL_BACKOFF = {
    "1": full_jitter_profile(0.1, 600),
    "2": full_jitter_profile(0.2, 320),
    "3": full_jitter_profile(0.4, 160),
}
# CP1: fixed 100 x (attempt + 1) ms. Medians: 0.1 + 0.15 * 0.5 = 0.175, then 0.25 + 0.25 * 0.5 = 0.375
# for both 0.3 s and 0.4 s (same bucket): growth 2.14, then 1.0 < 1.5.
CP1_BACKOFF = {
    "1": fixed_backoff_profile(0.2, 600),
    "2": fixed_backoff_profile(0.3, 320),
    "3": fixed_backoff_profile(0.4, 160),
}


# --- The knobs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    """A span of time relative to the candidate window's start, in seconds."""

    start: float
    end: float

    def covers(self, offset: float) -> bool:
        return self.start <= offset < self.end


@dataclass(frozen=True)
class WorldSpec:
    """Every knob of a crafted world; the defaults are a healthy Wave 1 rollout.

    Rates are per scrape step (15 s). "Candidate" knobs apply from halfway between the two windows on.
    """

    # Memory: steady RSS per job, optional linear growth across the candidate window.
    rss_bytes: Mapping[str, float] = field(
        default_factory=lambda: {
            "router": 150 * MIB,
            "gateway": 200 * MIB,
            "worker": 300 * MIB,
            "prometheus": 120 * MIB,
        }
    )
    rss_growth: Mapping[str, float] = field(default_factory=dict)
    restarts: Mapping[str, float] = field(default_factory=dict)  # job -> offset into the candidate
    down: Mapping[str, Episode] = field(default_factory=dict)  # job -> span with up == 0
    # Queue: gpu fills to its bound (critical) for two minutes, rejecting work: graceful degradation.
    critical: Mapping[str, Episode] = field(default_factory=lambda: {"gpu": Episode(1200, 1320)})
    critical_depth: Mapping[str, int] = field(default_factory=dict)  # pool -> depth while critical
    rejects_when_critical: bool = True
    # Retries (candidate): 49 of 1000 attempts per step on non-retryable errors = 4.9 % (< 5 %).
    wasted_per_mille: int = 49
    baseline_wasted_per_mille: int = 200  # CP1 retried every error
    success_rate: float = 0.90
    baseline_success_rate: float | None = 0.85
    backoff: Mapping[str, Profile] = field(default_factory=lambda: dict(EXPONENTIAL_BACKOFF))
    flat_retry_attempts: bool = False
    # Latency: candidate p99 increase per histogram (p50/p95 unchanged). Gateway sits at the boundary.
    p99_increase: Mapping[str, float] = field(
        default_factory=lambda: {"gateway_http_request_duration_seconds": 0.049}
    )
    slow_steps: int = 0  # step executions in (30 s, 60 s] during the candidate window
    hung_steps: int = 0  # step executions above 60 s
    # One step above 60 s whose label combination first appears mid-candidate: a series born at 1.
    newborn_hang: bool = False
    throughput: Mapping[str, float] = field(default_factory=dict)  # component -> candidate factor
    error_factor: Mapping[str, float] = field(default_factory=dict)  # component -> candidate factor
    # Provenance: the Wave 1 flags are off before the switch between the windows and on after it, the
    # observability flag always on; episodes (offsets from the candidate start) give a job's Wave 1 flags
    # another value; flag series exist only from `flags_from` (an offset) on, if given.
    flag_episodes: Mapping[str, tuple[tuple[Episode, float], ...]] = field(default_factory=dict)
    flags_from: float | None = None
    # Metrics left out of the history, and out of the live expositions.
    absent: frozenset[str] = frozenset()
    absent_live: frozenset[str] = frozenset()


Mutation = Callable[[WorldSpec], WorldSpec]

HEALTHY = WorldSpec()


def mutate(spec: WorldSpec, *mutations: Mutation) -> WorldSpec:
    for mutation in mutations:
        spec = mutation(spec)
    return spec


def _merged(mapping: Mapping[str, Any], **items: Any) -> dict[str, Any]:
    return {**mapping, **items}


def queue_over_bound(pool: str = "cpu", depth: int = 1010) -> Mutation:
    """A pool's queue grows past its max_queue_size for two minutes (it is critical and rejects)."""
    return lambda s: replace(
        s,
        critical=_merged(s.critical, **{pool: Episode(1800, 1920)}),
        critical_depth=_merged(s.critical_depth, **{pool: depth}),
    )


def critical_without_rejections(pool: str = "io") -> Mutation:
    """A pool sits critical (at its bound) for two minutes, and the worker rejects nothing in any pool."""
    return lambda s: replace(
        s, critical=_merged(s.critical, **{pool: Episode(2400, 2520)}), rejects_when_critical=False
    )


def calm() -> Mutation:
    """No pool ever reaches critical (the normal case: graceful degradation holds vacuously)."""
    return lambda s: replace(s, critical={})


def memory_grows(job: str = "gateway", factor: float = 2.0) -> Mutation:
    """RSS grows linearly across the candidate window to `factor` times its start."""
    return lambda s: replace(s, rss_growth=_merged(s.rss_growth, **{job: factor}))


def memory_above_ceiling(job: str = "worker", value: float = 1.2 * GIB) -> Mutation:
    return lambda s: replace(s, rss_bytes=_merged(s.rss_bytes, **{job: value}))


def restart(job: str = "router", offset: float = 1500) -> Mutation:
    """The process restarts `offset` seconds into the candidate window (a new start time)."""
    return lambda s: replace(s, restarts=_merged(s.restarts, **{job: offset}))


def job_down(job: str, start: float, end: float) -> Mutation:
    return lambda s: replace(s, down=_merged(s.down, **{job: Episode(start, end)}))


def wasted_retries(per_mille: int) -> Mutation:
    return lambda s: replace(s, wasted_per_mille=per_mille)


def retry_success(candidate: float, baseline: float | None = 0.85) -> Mutation:
    return lambda s: replace(s, success_rate=candidate, baseline_success_rate=baseline)


def cp1_backoff() -> Mutation:
    return lambda s: replace(s, backoff=dict(CP1_BACKOFF))


def flat_retries() -> Mutation:
    """Retry counters exist but never move: every increase is 0 (a zero denominator)."""
    return lambda s: replace(s, flat_retry_attempts=True)


def p99_increase(histogram: str, increase: float) -> Mutation:
    return lambda s: replace(s, p99_increase=_merged(s.p99_increase, **{histogram: increase}))


def slow_steps(count: int = 3) -> Mutation:
    return lambda s: replace(s, slow_steps=count)


def hung_steps(count: int = 2) -> Mutation:
    return lambda s: replace(s, hung_steps=count)


def hung_step_on_a_new_series() -> Mutation:
    return lambda s: replace(s, newborn_hang=True)


def throughput(component: str, factor: float) -> Mutation:
    return lambda s: replace(s, throughput=_merged(s.throughput, **{component: factor}))


def more_errors(component: str, factor: float) -> Mutation:
    return lambda s: replace(s, error_factor=_merged(s.error_factor, **{component: factor}))


def without(*metrics: str, live: bool = True, history: bool = True) -> Mutation:
    """Leave metrics out of the history and/or the live /metrics texts."""
    return lambda s: replace(
        s,
        absent=s.absent | frozenset(metrics) if history else s.absent,
        absent_live=s.absent_live | frozenset(metrics) if live else s.absent_live,
    )


def wave_flags(job: str, start: float, end: float, value: float) -> Mutation:
    """`job`'s Wave 1 flags at `value` from `start` to `end` (seconds from the candidate window's start)."""
    return lambda s: replace(s, flag_episodes=_merged(
        s.flag_episodes, **{job: (*s.flag_episodes.get(job, ()), (Episode(start, end), value))}))


def flags_exported_from(offset: float) -> Mutation:
    """No flag series before `offset` (a CP1 binary that does not export the flag gauge)."""
    return lambda s: replace(s, flags_from=offset)


# --- The world ------------------------------------------------------------------------------------


def standard_windows(now: float) -> dict[str, tuple[float, float]]:
    """baseline = [now-2h10m, now-1h10m], candidate = [now-1h05m, now-5m] (both one hour)."""
    return {"baseline": (now - 7800, now - 4200), "candidate": (now - 3900, now - 300)}


def long_windows(now: float, days: float = 7) -> dict[str, tuple[float, float]]:
    """standard_windows stretched to `days` each: the candidate ends 5 minutes before `now`, the baseline
    ends 5 minutes before the candidate starts (a realistic week-over-week comparison)."""
    length = days * 86400
    return {"baseline": (now - 600 - 2 * length, now - 600 - length), "candidate": (now - 300 - length, now - 300)}


@dataclass
class World:
    """A built world: history to backfill, the live texts per component and what to expect."""

    spec: WorldSpec
    now: float
    windows: dict[str, tuple[float, float]]
    targets: dict[str, str]
    history: History
    expositions: dict[str, str]
    expected: dict[str, Any]


class _Timeline:
    """Sample times and the phase (baseline / candidate) each belongs to."""

    def __init__(self, now: float, windows: Mapping[str, tuple[float, float]]) -> None:
        self.windows = dict(windows)
        start = windows["baseline"][0] - 600
        # Samples sit half a step off the window edges, so each one-hour window holds exactly 240
        # samples whatever the range boundary rule; increase() then extrapolates every counter by the
        # same factor 3600/3585, and ratios of increases are exact.
        self.times = [start + STEP / 2 + i * STEP for i in range(int((now - start) // STEP))]
        self.switch = (windows["baseline"][1] + windows["candidate"][0]) / 2
        self.candidate_start = windows["candidate"][0]
        self.candidate_length = windows["candidate"][1] - windows["candidate"][0]

    def candidate(self, t: float) -> bool:
        return t >= self.switch

    def offset(self, t: float) -> float:
        """Seconds since the candidate window started (negative before)."""
        return t - self.candidate_start


T = TypeVar("T")


def _constant(value: T) -> Callable[[float], T]:
    """A signal that is the same at every time."""
    return lambda _t: value


def _le(bound: float) -> str:
    """An `le` label value as prometheus_client writes it ("30.0", "+Inf"), so backfilled and live
    bucket series are the same series."""
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


def _counter(
    times: Sequence[float], increments: Iterable[float], initial: float
) -> list[tuple[float, float]]:
    value, points = initial, []
    for t, inc in zip(times, increments, strict=True):
        value += inc
        points.append((t, value))
    return points


def _status(depth: float, limit: int) -> int:
    """Wave 1 overload status from utilization: < 0.5 healthy, < 0.8 degraded, < 1.0 overloaded."""
    utilization = depth / limit
    return 0 if utilization < 0.5 else 1 if utilization < 0.8 else 2 if utilization < 1.0 else 3


def build_world(
    spec: WorldSpec,
    now: float,
    targets: Mapping[str, str],
    windows: Mapping[str, tuple[float, float]] | None = None,
) -> World:
    """Craft the history (both windows and up to `now`) and the live texts for `spec`.

    `targets` maps each job of JOBS to the host:port Prometheus scrapes it at; it becomes the
    `instance` label so backfilled and live series are the same series.
    """
    windows = dict(windows or standard_windows(now))
    timeline = _Timeline(now, windows)
    times = timeline.times
    history = History()
    expected: dict[str, Any] = {}

    def inst(job: str) -> dict[str, str]:
        return {"job": job, "instance": targets[job]}

    def add(name: str, job: str, labels: Mapping[str, str], points: list[tuple[float, float]]) -> None:
        # Everything goes in; `spec.absent` is taken out of the history after the live texts are made.
        history.add(name, {**inst(job), **labels}, points)

    def add_counter(
        name: str, job: str, labels: Mapping[str, str], per_step: Callable[[float], float]
    ) -> None:
        increments = [per_step(t) for t in times]
        # A long-running process: the counter already holds ~1000 steps of history.
        add(name, job, labels, _counter(times, increments, 1000 * increments[0]))

    def add_histogram(
        name: str, job: str, labels: Mapping[str, str], profile_at: Callable[[float], Profile]
    ) -> None:
        profiles = [profile_at(t) for t in times]
        first = profiles[0]
        bounds = first.bounds
        running = [c * 1000.0 for c in first.counts]
        total_sum = sum(c * 1000.0 * m for c, m in zip(first.counts, first.midpoints(), strict=True))
        per_le: list[list[tuple[float, float]]] = [[] for _ in running]
        sums, counts = [], []
        for t, profile in zip(times, profiles, strict=True):
            running = [r + c for r, c in zip(running, profile.counts, strict=True)]
            total_sum += sum(c * m for c, m in zip(profile.counts, profile.midpoints(), strict=True))
            acc = 0.0
            for i, r in enumerate(running):
                acc += r
                per_le[i].append((t, acc))
            sums.append((t, total_sum))
            counts.append((t, acc))
        for bound, points in zip((*bounds, math.inf), per_le, strict=True):
            add(f"{name}_bucket", job, {**labels, "le": _le(bound)}, points)
        add(f"{name}_sum", job, labels, sums)
        add(f"{name}_count", job, labels, counts)

    # --- up, process_* for every job ------------------------------------------------------------
    for job in JOBS:
        episode = spec.down.get(job)
        add(
            "up",
            job,
            {},
            [(t, 0.0 if episode and episode.covers(timeline.offset(t)) else 1.0) for t in times],
        )
        started = now - 3 * 86400 - 3600 * JOBS.index(job)
        restart_at = spec.restarts.get(job)
        add(
            "process_start_time_seconds",
            job,
            {},
            [
                (
                    t,
                    timeline.candidate_start + restart_at
                    if restart_at is not None and timeline.offset(t) >= restart_at
                    else started,
                )
                for t in times
            ],
        )
        base = spec.rss_bytes[job]
        growth = spec.rss_growth.get(job, 1.0)

        def rss(t: float, base: float = base, growth: float = growth) -> float:
            # A small wobble (±1 %) so the series looks alive; growth is linear across the candidate.
            wobble = 1 + 0.01 * math.sin(t / 600)
            progress = min(max(timeline.offset(t) / timeline.candidate_length, 0.0), 1.0)
            return round(base * wobble * (1 + (growth - 1) * progress))

        add("process_resident_memory_bytes", job, {}, [(t, rss(t)) for t in times])

    # --- Provenance: the flags each component runs with, and its build -----------------------------
    for job in COMPONENTS:
        for flag in FLAGS:
            def flag_value(t: float, job: str = job, flag: str = flag) -> float:
                if flag == OBSERVABILITY_FLAG:
                    return 1.0
                for episode, value in spec.flag_episodes.get(job, ()):
                    if episode.covers(timeline.offset(t)):
                        return value
                return 1.0 if timeline.candidate(t) else 0.0

            exported = [t for t in times if spec.flags_from is None or timeline.offset(t) >= spec.flags_from]
            add("cp2_feature_flag_enabled", job, {"flag": flag}, [(t, flag_value(t)) for t in exported])
        add(f"{job}_build_info", job, {"version": "2.0.0-wave1", "revision": "cp2w1"}, [(t, 1.0) for t in times])

    # Prometheus' own scrape-limit counters (its self-scrape job): never incremented.
    for name in (
        "prometheus_target_scrapes_exceeded_sample_limit_total",
        "prometheus_target_scrape_pool_exceeded_label_limits_total",
    ):
        add(name, "prometheus", {}, [(t, 0.0) for t in times])

    # --- Latency histograms and the counters beside them -----------------------------------------
    quantiles: dict[str, dict[str, dict[float, float]]] = {}
    for histogram, component in LATENCY_HISTOGRAMS.items():
        baseline = BASELINE_LATENCY[histogram]
        increase = spec.p99_increase.get(histogram)
        candidate = with_p99_increase(baseline, increase) if increase else baseline
        quantiles[histogram] = {
            "baseline": {q: baseline.quantile(q) for q in (0.5, 0.95, 0.99)},
            "candidate": {q: candidate.quantile(q) for q in (0.5, 0.95, 0.99)},
        }

        def profile_at(
            t: float,
            histogram: str = histogram,
            baseline: Profile = baseline,
            candidate: Profile = candidate,
            first_series: bool = True,
        ) -> Profile:
            if not timeline.candidate(t):
                return baseline
            profile = candidate
            # Slow and hung steps land in single scrapes in the middle of the candidate window, all in
            # the first series (step_type="http").
            if histogram == "worker_step_execution_duration_seconds" and first_series:
                index = int(timeline.offset(t) // STEP)
                overflow = len(profile.bounds)  # index of the +Inf-only bucket; the one before is (30, 60]
                if 0 <= index - 100 < spec.slow_steps:
                    profile = profile.moved(1, overflow - 1, 1)  # one step in (30 s, 60 s]
                if 0 <= index - 140 < spec.hung_steps:
                    profile = profile.moved(1, overflow, 1)  # one step above 60 s
            return profile

        for position, labels in enumerate(_latency_series(component)):
            add_histogram(
                histogram,
                component,
                labels,
                functools.partial(profile_at, first_series=position == 0),
            )
    expected["latency"] = quantiles

    if spec.newborn_hang:
        # The client creates the series on its first observation, already at 1 in +Inf: increase() alone
        # never sees that step.
        labels = {"step_type": "http", "execution_status": "timeout", "tenant_id": "newcomer"}
        born = [t for t in times if timeline.candidate(t) and timeline.offset(t) >= timeline.candidate_length / 2]
        bounds = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
        for bound in (*bounds, math.inf):
            add("worker_step_execution_duration_seconds_bucket", "worker", {**labels, "le": _le(bound)},
                [(t, 1.0 if math.isinf(bound) else 0.0) for t in born])
        add("worker_step_execution_duration_seconds_sum", "worker", labels, [(t, 75.0) for t in born])
        add("worker_step_execution_duration_seconds_count", "worker", labels, [(t, 1.0) for t in born])

    def rate(component: str, per_step: float, *, error: bool = False) -> Callable[[float], float]:
        def at(t: float) -> float:
            if not timeline.candidate(t):
                return per_step
            factor = spec.throughput.get(component, 1.0) * (
                spec.error_factor.get(component, 1.0) if error else 1
            )
            return per_step * factor

        return at

    # Gateway: 40,000 requests per step, 1 % of them 5xx.
    for method, route, code, per_step in (
        ("GET", "/v1/runs", "200", 19800),
        ("POST", "/v1/runs", "201", 19800),
        ("GET", "/v1/runs", "500", 200),
        ("POST", "/v1/runs", "503", 200),
    ):
        add_counter(
            "gateway_http_requests_total",
            "gateway",
            {"method": method, "route": route, "status_code": code, "tenant_id": "acme"},
            rate("gateway", per_step, error=code.startswith("5")),
        )
    add_counter(
        "gateway_rate_limit_hits_total",
        "gateway",
        {"tenant_id": "acme", "endpoint": "/v1/runs"},
        rate("gateway", 30),
    )
    add_counter("gateway_idempotency_hits_total", "gateway", {}, rate("gateway", 12))

    # Router: 40,000 decisions per step over two providers, 40 errors (0.1 %).
    for provider in ("openai", "anthropic"):
        common = {"policy_id": "default", "provider": provider, "tenant_id": "acme"}
        add_counter(
            "router_decisions_total",
            "router",
            {**common, "decision_reason": "lowest_cost"},
            rate("router", 20000),
        )
        add_counter("router_provider_selections_total", "router", common, rate("router", 20000))
    add_counter(
        "router_errors_total",
        "router",
        {"error_code": "no_provider", "tenant_id": "acme"},
        rate("router", 40, error=True),
    )

    # Worker: 40,000 successful steps per step plus 200 failed ones; 200 step errors (0.5 %).
    for step_type, status, per_step in (
        ("http", "success", 20000),
        ("llm", "success", 20000),
        ("http", "failed", 200),
    ):
        add_counter(
            "worker_step_executions_total",
            "worker",
            {"step_type": step_type, "execution_status": status, "tenant_id": "acme", "flow_id": "ingest"},
            rate("worker", per_step),
        )
    add_counter(
        "worker_step_errors_total",
        "worker",
        {"step_type": "http", "error_code": "network_error", "tenant_id": "acme", "flow_id": "ingest"},
        rate("worker", 200, error=True),
    )
    expected["error_ratio"] = _error_ratios(spec)

    # --- Queue: depth per pool, status by utilization, rejections while critical -----------------
    depth_of: dict[str, Callable[[float], float]] = {}
    for pool, limit in POOL_LIMITS.items():

        def depth(t: float, pool: str = pool, limit: int = limit) -> float:
            episode = spec.critical.get(pool)
            if timeline.candidate(t) and episode and episode.covers(timeline.offset(t)):
                return spec.critical_depth.get(pool, limit)
            # Calm load: a slow wave between 10 % and 40 % of the bound.
            return round(limit * (0.25 + 0.15 * math.sin(t / 900 + len(pool))))

        depth_of[pool] = depth
        depths = [(t, float(depth(t))) for t in times]
        add("worker_queue_depth", "worker", {"resource_pool": pool}, depths)
        add(
            "worker_overload_status",
            "worker",
            {"resource_pool": pool},
            [(t, float(_status(d, limit))) for t, d in depths],
        )
        rejecting = [spec.rejects_when_critical and _status(d, limit) == 3 for _, d in depths]
        add(
            "worker_queue_rejections_total",
            "worker",
            {"resource_pool": pool, "rejection_reason": "queue_full"},
            _counter(times, [12.0 if r else 0.0 for r in rejecting], 0.0),
        )
        add_counter(
            "worker_queue_acceptances_total",
            "worker",
            {"resource_pool": pool},
            _constant(limit * 0.3),
        )
    # max_over_time(worker_queue_depth[candidate]) per pool.
    candidate_start, candidate_end = windows["candidate"]
    expected["max_depth"] = {
        pool: max(depth_of[pool](t) for t in times if candidate_start <= t <= candidate_end)
        for pool in POOL_LIMITS
    }

    # --- Retries ---------------------------------------------------------------------------------
    def attempts(error_code: str, step_type: str, retryable: bool, candidate: float, baseline: float) -> None:
        labels = {
            "error_code": error_code,
            "step_type": step_type,
            "retryable": "true" if retryable else "false",
        }
        if spec.flat_retry_attempts:
            add("worker_retry_attempts_total", "worker", labels, [(t, 5000.0) for t in times])
        else:
            add_counter(
                "worker_retry_attempts_total",
                "worker",
                labels,
                lambda t: candidate if timeline.candidate(t) else baseline,
            )

    # Candidate: 1000 attempts per step, `wasted_per_mille` of them on execution_failed (not retryable).
    # Baseline (CP1 retried every error): 200 of 1000 wasted.
    wasted, base_wasted = spec.wasted_per_mille, spec.baseline_wasted_per_mille
    attempts("network_error", "http", True, 500, 400)
    attempts("resource_unavailable", "llm", True, 300, 250)
    attempts("system_overload", "http", True, 200 - wasted, 150)
    attempts("execution_failed", "llm", False, wasted, base_wasted)
    expected["wasted"] = wasted / 1000
    for error_code, step_type in (
        ("network_error", "http"),
        ("resource_unavailable", "llm"),
        ("system_overload", "http"),
        ("execution_failed", "llm"),
    ):
        points = [
            (t, spec.success_rate if timeline.candidate(t) else spec.baseline_success_rate)
            for t in times
            if timeline.candidate(t) or spec.baseline_success_rate is not None
        ]
        add(
            "worker_retry_success_rate",
            "worker",
            {"error_code": error_code, "step_type": step_type},
            [(t, float(v)) for t, v in points if v is not None],
        )
    expected["success_rate"] = {"candidate": spec.success_rate, "baseline": spec.baseline_success_rate}

    for attempt, profile in spec.backoff.items():
        add_histogram(
            "worker_retry_backoff_duration_seconds",
            "worker",
            {"attempt": attempt, "step_type": "http"},
            _constant(profile),
        )
    expected["backoff_median"] = {attempt: p.quantile(0.5) for attempt, p in spec.backoff.items()}

    # Timeouts: a handful of events per hour, per operation.
    for operation, kind in (
        ("fs_read", "operation"),
        ("fs_write", "operation"),
        ("http_connect", "connect"),
        ("total", "total"),
    ):
        add(
            "worker_timeout_events_total",
            "worker",
            {"operation_type": operation, "timeout_type": kind},
            _counter(times, [1.0 if i % 40 == 0 else 0.0 for i in range(len(times))], 7.0),
        )

    expected["uptime"] = {job: _uptime(spec, job, timeline) for job in JOBS}
    expositions = {component: exposition(history, component, spec.absent_live) for component in COMPONENTS}
    for name in spec.absent:
        for suffix in ("", "_bucket", "_sum", "_count"):
            history.drop(name + suffix)
    return World(spec, now, windows, dict(targets), history, expositions, expected)


def _latency_series(component: str) -> list[dict[str, str]]:
    """Two label sets per latency histogram; each carries the full profile (sums keep the quantiles)."""
    if component == "gateway":
        return [
            {"method": "GET", "route": "/v1/runs", "status_code": "200", "tenant_id": "acme"},
            {"method": "POST", "route": "/v1/runs", "status_code": "201", "tenant_id": "acme"},
        ]
    if component == "router":
        return [{"policy_id": "default", "provider": p, "tenant_id": "acme"} for p in ("openai", "anthropic")]
    return [
        {"step_type": s, "execution_status": "success", "tenant_id": "acme", "flow_id": "ingest"}
        for s in ("http", "llm")
    ]


def _error_ratios(spec: WorldSpec) -> dict[str, dict[str, float]]:
    """Error ratios per window: the same per-step rates scale numerator and denominator alike."""
    base = {"gateway": 400 / 40400, "router": 40 / 40000, "worker": 200 / 40200}
    out = {}
    for component, ratio in base.items():
        factor = spec.error_factor.get(component, 1.0)
        if component == "gateway":
            candidate = 400 * factor / (39600 + 400 * factor)
        elif component == "router":
            candidate = 40 * factor / 40000
        else:
            candidate = 200 * factor / 40200
        out[component] = {"baseline": ratio, "candidate": candidate}
    return out


def _uptime(spec: WorldSpec, job: str, timeline: _Timeline) -> float:
    start, end = timeline.windows["candidate"]
    inside = [t for t in timeline.times if start <= t <= end]
    episode = spec.down.get(job)
    down = sum(1 for t in inside if episode and episode.covers(timeline.offset(t)))
    return 1 - down / len(inside)


# --- Live expositions -----------------------------------------------------------------------------


class _Families(Collector):
    """A prometheus_client collector that yields prepared metric families as they are."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return list(self._families)


def _exposition_order(series: Series) -> tuple[Any, ...]:
    """prometheus_client's order: per label set, buckets by ascending le, then _count, then _sum."""
    labels = sorted((k, v) for k, v in series.labels.items() if k != "le")
    suffix = 0 if series.name.endswith("_bucket") else 1 if series.name.endswith("_count") else 2
    return (labels, suffix, float(series.labels.get("le", "0")))


def _family_type(base: str, histograms: set[str]) -> str:
    if base in histograms:
        return "histogram"
    return "counter" if base.endswith("_total") else "gauge"


def exposition(history: History, component: str, absent: Iterable[str] = ()) -> str:
    """The component's /metrics text now: the last value of each of its series, rendered by
    prometheus_client from a fresh CollectorRegistry (job/instance dropped: Prometheus adds them)."""
    absent = set(absent)
    mine = [s for s in history.series() if s.labels.get("job") == component and s.name != "up"]
    names = {s.name for s in mine}
    histograms = {n[: -len("_bucket")] for n in names if n.endswith("_bucket")}
    bases: dict[str, list[Any]] = {}
    for series in mine:
        stripped = re.sub(r"_(bucket|sum|count)$", "", series.name)
        bases.setdefault(stripped if stripped in histograms else series.name, []).append(series)
    families: list[Metric] = []
    for base in sorted(bases):
        if base in absent:
            continue
        kind = _family_type(base, histograms)
        family = Metric(base[: -len("_total")] if kind == "counter" else base, HELP.get(base, base), kind)
        for series in sorted(bases[base], key=_exposition_order):
            labels = {k: v for k, v in series.labels.items() if k not in ("job", "instance")}
            family.samples.append(Sample(series.name, labels, series.points[-1][1]))
        families.append(family)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry).decode("utf-8")


# --- Crafted exposition variants ------------------------------------------------------------------


def exposition_variant(
    world: World,
    component: str,
    *,
    drop_labels: Mapping[str, Sequence[str]] | None = None,
    add_labels: Mapping[str, Mapping[str, str]] | None = None,
    drop_buckets: Mapping[str, Sequence[str]] | None = None,
    absent: Iterable[str] = (),
) -> str:
    """The component's /metrics text with some series changed: labels dropped or added per metric,
    histogram buckets (le values) left out, metrics left out. Still rendered by prometheus_client."""
    drop_labels, add_labels, drop_buckets = drop_labels or {}, add_labels or {}, drop_buckets or {}
    variant = History()
    for series in world.history.series():
        base = re.sub(r"_(bucket|sum|count)$", "", series.name)
        if series.name.endswith("_bucket") and series.labels.get("le") in drop_buckets.get(base, ()):
            continue
        labels = {k: v for k, v in series.labels.items() if k not in drop_labels.get(base, ())}
        labels.update(add_labels.get(base, {}))
        variant.add(series.name, labels, series.points[-1:])
    return exposition(variant, component, absent)


def with_lint_problems(text: str) -> str:
    """Append two families promtool's linter rejects: an abbreviated unit (`_ms`, and not the base
    unit seconds) and a counter without HELP."""
    return text + (
        "# HELP worker_poll_time_ms Time of the last poll.\n"
        "# TYPE worker_poll_time_ms gauge\n"
        "worker_poll_time_ms 12.0\n"
        "# TYPE worker_cache_hits_total counter\n"
        "worker_cache_hits_total 5.0\n"
    )


# --- The long, sparse uptime world ----------------------------------------------------------------

UPTIME_STEP = 60.0
UPTIME_LENGTH = 7 * 86400.0  # 10,080 one-minute scrapes: enough to tell 99.89 % from 99.91 %


@dataclass(frozen=True)
class UptimeScenario:
    """One week of `up` per job. `down` = scrapes with up == 0 per job; `consecutive` puts them in one
    block (an outage) instead of spreading them out; `gaps` = share of the week with no samples at all."""

    name: str
    down: Mapping[str, int] = field(default_factory=dict)
    consecutive: bool = False
    gaps: Mapping[str, float] = field(default_factory=dict)

    def expected(self, job: str) -> tuple[float, int]:
        """(avg_over_time(up), count_over_time(up)) over this scenario's week."""
        total = UPTIME_LENGTH / UPTIME_STEP
        count = round(total * (1 - self.gaps.get(job, 0.0)))
        return (count - self.down.get(job, 0)) / count, count


@dataclass
class UptimeWorld:
    history: History
    windows: dict[str, tuple[float, float]]  # scenario name -> its candidate window
    scenarios: dict[str, UptimeScenario]


def uptime_world(now: float, targets: Mapping[str, str], scenarios: Sequence[UptimeScenario]) -> UptimeWorld:
    """Back-to-back weeks ending 5 minutes before `now`, one per scenario, holding only `up`.

    Samples sit at 30 s past each minute of the week, so a window [start, end] holds exactly 10,080
    of them whichever way Prometheus treats the edges.
    """
    history = History()
    windows: dict[str, tuple[float, float]] = {}
    end = now - 300
    ordered = list(scenarios)
    starts = [end - (len(ordered) - i) * UPTIME_LENGTH for i in range(len(ordered))]
    # An hour of healthy scrapes before the first week: its first moments are observed, as in production.
    points: dict[str, list[tuple[float, float]]] = {
        job: [(starts[0] - 3600 + UPTIME_STEP / 2 + i * UPTIME_STEP, 1.0) for i in range(int(3600 / UPTIME_STEP))]
        for job in JOBS
    }
    for scenario, start in zip(ordered, starts, strict=True):
        windows[scenario.name] = (start, start + UPTIME_LENGTH)
        total = int(UPTIME_LENGTH / UPTIME_STEP)
        for job in JOBS:
            gap = scenario.gaps.get(job, 0.0)
            # A gap is cut out of the middle of the week: the exporter was not scraped at all.
            gap_from, gap_to = int(total * (0.5 - gap / 2)), int(total * (0.5 - gap / 2)) + round(total * gap)
            kept = [i for i in range(total) if not gap_from <= i < gap_to]
            down = scenario.down.get(job, 0)
            if scenario.consecutive:
                first = len(kept) // 3
                down_at = set(kept[first : first + down])
            else:
                down_at = (
                    {kept[(k * len(kept)) // down + len(kept) // (2 * down)] for k in range(down)}
                    if down
                    else set()
                )
            points[job].extend(
                (start + UPTIME_STEP / 2 + i * UPTIME_STEP, 0.0 if i in down_at else 1.0) for i in kept
            )
    for job in JOBS:
        history.add("up", {"job": job, "instance": targets[job]}, points[job])
    return UptimeWorld(history, windows, {s.name: s for s in ordered})


# --- Running a world ------------------------------------------------------------------------------


@dataclass
class LiveWorld:
    """A world served for real: its history in a running Prometheus, its texts on /metrics endpoints."""

    world: World
    prometheus: PrometheusServer
    endpoints: dict[str, MetricsEndpoint]
    workdir: Path

    @property
    def metrics_urls(self) -> dict[str, str]:
        return {component: endpoint.url for component, endpoint in self.endpoints.items()}

    def env_file(
        self,
        name: str = "env.yaml",
        *,
        windows: Mapping[str, tuple[float, float]] | None = None,
        metrics_urls: Mapping[str, str] | None = None,
        scrape_interval: str = "15s",
        prometheus_url: str | None = None,
    ) -> Path:
        """Write an environment file for this world (default: its windows and its endpoints)."""
        document = environment_document(
            prometheus_url or self.prometheus.url,
            {**self.metrics_urls, **(metrics_urls or {})},
            windows or self.world.windows,
            scrape_interval=scrape_interval,
        )
        return write_environment(self.workdir / name, document)

    def stop(self) -> None:
        self.prometheus.stop()
        for endpoint in self.endpoints.values():
            endpoint.stop()


def start_world(
    spec: WorldSpec,
    workdir: Path,
    *,
    scraped: Sequence[str] = (),
    scrape_interval: str = "2s",
    job_options: Mapping[str, Mapping[str, Any]] | None = None,
    windows: Callable[[float], Mapping[str, tuple[float, float]]] | None = None,
    prometheus_options: Mapping[str, Any] | None = None,
) -> LiveWorld:
    """Build `spec` at the current time and serve it: endpoints first (their ports are the `instance`
    labels of the history), then Prometheus with the history backfilled.

    `scraped` lists the components Prometheus scrapes live (besides itself); scraping is only needed
    by criteria that look at targets or the last minutes, and the first scrape takes ~6 s to come.
    `windows(now)` gives the baseline and candidate windows (default: standard_windows);
    `prometheus_options` go to PrometheusServer (e.g. max_block_duration for long histories).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    endpoints = {component: MetricsEndpoint().start() for component in COMPONENTS}
    try:
        port = free_port()
        targets = {component: endpoint.address for component, endpoint in endpoints.items()}
        targets["prometheus"] = f"{LOOPBACK}:{port}"
        now = float(int(time.time()) // int(STEP) * int(STEP))
        world = build_world(spec, now, targets, windows(now) if windows is not None else None)
        for component, endpoint in endpoints.items():
            endpoint.text = world.expositions[component]
        prometheus = PrometheusServer(
            {component: [targets[component]] for component in scraped},
            history=world.history,
            scrape_interval=scrape_interval,
            job_options=job_options,
            port=port,
            workdir=workdir / "prometheus",
            **dict(prometheus_options or {}),
        )
        prometheus.start()
    except BaseException:
        for endpoint in endpoints.values():
            endpoint.stop()
        raise
    return LiveWorld(world, prometheus, endpoints, workdir)


# --- Several environments in one Prometheus ------------------------------------------------------------


@dataclass
class SharedWorlds:
    """Worlds of several environments in one real Prometheus, told apart by an `env` label: the same job
    names and metric names in each, as in a shared production Prometheus."""

    worlds: dict[str, World]
    prometheus: PrometheusServer
    endpoints: dict[str, dict[str, MetricsEndpoint]]
    workdir: Path

    def env_file(self, env: str, name: str, *, selector: object = None) -> Path:
        """An environment file judging `env`'s world (its endpoints and windows), scoped by `selector`."""
        world = self.worlds[env]
        document = environment_document(
            self.prometheus.url,
            {component: endpoint.url for component, endpoint in self.endpoints[env].items()},
            world.windows,
        )
        if selector is not None:
            document["prometheus"]["selector"] = selector
        return write_environment(self.workdir / name, document)

    def stop(self) -> None:
        self.prometheus.stop()
        for endpoints in self.endpoints.values():
            for endpoint in endpoints.values():
                endpoint.stop()


def start_shared(
    specs: Mapping[str, WorldSpec],
    workdir: Path,
    *,
    strays: Mapping[str, tuple[str, str, str]] | None = None,
    extra: Callable[[History, Mapping[str, World]], None] | None = None,
) -> SharedWorlds:
    """Build each environment's world at the same `now`, label every series `env=<name>` and serve them all
    from one Prometheus that also scrapes every environment's live endpoints under the shared job names
    (one static config per environment, labelled with its env). Prometheus' own series (its job) come
    once, without an env label. `strays` adds series under a job no environment file names:
    {job: (from_env, component, to_env)} copies from_env's series of `component` as `job`, labelled to_env.
    `extra(history, worlds)` may add series of its own before the history is backfilled.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    endpoints = {env: {c: MetricsEndpoint().start() for c in COMPONENTS} for env in specs}
    try:
        port = free_port()
        now = float(int(time.time()) // int(STEP) * int(STEP))
        worlds: dict[str, World] = {}
        history = History()
        for index, (env, spec) in enumerate(specs.items()):
            targets = {c: e.address for c, e in endpoints[env].items()}
            targets["prometheus"] = f"{LOOPBACK}:{port}"
            world = worlds[env] = build_world(spec, now, targets)
            for component, endpoint in endpoints[env].items():
                endpoint.text = world.expositions[component]
            for series in world.history.series():
                if series.labels.get("job") == "prometheus":
                    if index == 0:
                        history.add(series.name, series.labels, series.points)
                    continue
                history.add(series.name, {**series.labels, "env": env}, series.points)
        for job, (source, component, env) in (strays or {}).items():
            for series in worlds[source].history.series():
                if series.labels.get("job") == component and series.name.startswith(f"{component}_"):
                    labels = {**series.labels, "job": job, "instance": f"{job}:1", "env": env}
                    history.add(series.name, labels, series.points)
        if extra is not None:
            extra(history, worlds)
        scrape_configs = {
            component: {"static_configs": [
                {"targets": [endpoints[env][component].address], "labels": {"env": env}} for env in specs]}
            for component in COMPONENTS
        }
        prometheus = PrometheusServer(
            {component: [] for component in COMPONENTS},
            history=history,
            scrape_interval="2s",
            job_options=scrape_configs,
            port=port,
            workdir=workdir / "prometheus",
            ready_timeout=60,
        )
        prometheus.start()
    except BaseException:
        for group in endpoints.values():
            for endpoint in group.values():
                endpoint.stop()
        raise
    return SharedWorlds(worlds, prometheus, endpoints, workdir)
