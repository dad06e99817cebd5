"""Seeded synthetic histories of a canary and a stable track, for the concurrent comparison's self-tests.

Every series carries `track="stable"` or `track="canary"`. Requests arrive at each track's rate; each one is a
gateway request (an error with the track's error probability), a router decision and two worker steps, each
with a lognormal latency scaled by the track's latency factor, counted into the contract's buckets. The history
goes through promtool into a real Prometheus (harness.PrometheusServer); nothing here answers a query.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness import History

BUCKETS = {
    "gateway_http_request_duration_seconds": (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    "router_decision_duration_seconds": (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
    "worker_step_execution_duration_seconds": (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
}
MEDIANS = {"gateway_http_request_duration_seconds": 0.05, "router_decision_duration_seconds": 0.008,
           "worker_step_execution_duration_seconds": 0.2}
JOBS = {"gateway_http_request_duration_seconds": "gateway", "router_decision_duration_seconds": "router",
        "worker_step_execution_duration_seconds": "worker"}
SIGMA = 0.6
WAVE_FLAGS = ("CP2_ADVANCED_RETRY_ENABLED", "CP2_COMPLETE_TIMEOUT_ENABLED", "CP2_QUEUE_MANAGEMENT_ENABLED")


@dataclass
class Track:
    """One track's traffic and behaviour."""

    rate: float  # requests per second
    latency: float = 1.0  # every latency multiplied by this
    errors: float = 0.001  # probability that a request fails (gateway 500, router error, worker step error)
    wave1: bool = False
    retry_success: float | None = None  # the worker's retry success-rate gauge (CP1 does not export one)


@dataclass
class TracksWorld:
    start: float
    end: float
    tracks: Mapping[str, Track] = field(default_factory=dict)
    step: float = 15.0
    seed: int = 1
    labels: Mapping[str, str] = field(default_factory=dict)  # on every series, e.g. {world: healthy}

    def history(self, history: History | None = None) -> History:
        history = history if history is not None else History()
        rng = random.Random(self.seed)
        for name, track in self.tracks.items():
            _track_history(history, rng, name, track, self.start, self.end, self.step, self.labels)
        return history


def _track_history(history: History, rng: random.Random, name: str, track: Track, start: float, end: float,
                   step: float, extra: Mapping[str, str]) -> None:
    instance = {job: f"{job}-{name}:8080" for job in ("gateway", "router", "worker")}
    labels = {job: {**extra, "job": job, "instance": instance[job], "track": name} for job in instance}
    cumulative: dict[str, list[float]] = {h: [0.0] * (len(b) + 1) for h, b in BUCKETS.items()}
    sums = dict.fromkeys(BUCKETS, 0.0)
    counters = {"ok": 0.0, "failed": 0.0, "decisions": 0.0, "router_errors": 0.0, "steps": 0.0, "step_errors": 0.0}
    carry = 0.0
    # A sample just before the window starts, so every counter's increase starts from a known value.
    t = start - step
    while t <= end + 1e-9:
        if t > start - step:
            carry += track.rate * step
            arrivals = int(carry)
            carry -= arrivals
            for _ in range(arrivals):
                failed = rng.random() < track.errors
                counters["failed" if failed else "ok"] += 1
                counters["decisions"] += 1
                counters["router_errors"] += failed
                counters["steps"] += 2
                counters["step_errors"] += failed
                for histogram, observations in (("gateway_http_request_duration_seconds", 1),
                                                ("router_decision_duration_seconds", 1),
                                                ("worker_step_execution_duration_seconds", 2)):
                    for _ in range(observations):
                        value = MEDIANS[histogram] * math.exp(rng.gauss(0.0, SIGMA)) * track.latency
                        sums[histogram] += value
                        bounds = BUCKETS[histogram]
                        slot = next((i for i, bound in enumerate(bounds) if value <= bound), len(bounds))
                        cumulative[histogram][slot] += 1
        point = round(t, 3)
        for histogram, bounds in BUCKETS.items():
            job_labels = labels[JOBS[histogram]]
            running = 0.0
            for bound, count in zip((*bounds, math.inf), cumulative[histogram], strict=True):
                running += count
                le = "+Inf" if math.isinf(bound) else repr(float(bound))
                history.add(f"{histogram}_bucket", {**job_labels, "le": le}, [(point, running)])
            history.add(f"{histogram}_count", job_labels, [(point, running)])
            history.add(f"{histogram}_sum", job_labels, [(point, sums[histogram])])
        gateway, router, worker = labels["gateway"], labels["router"], labels["worker"]
        history.add("gateway_http_requests_total", {**gateway, "status_code": "200"}, [(point, counters["ok"])])
        history.add("gateway_http_requests_total", {**gateway, "status_code": "500"}, [(point, counters["failed"])])
        history.add("router_decisions_total", router, [(point, counters["decisions"])])
        history.add("router_errors_total", router, [(point, counters["router_errors"])])
        history.add("worker_step_executions_total", worker, [(point, counters["steps"])])
        history.add("worker_step_errors_total", worker, [(point, counters["step_errors"])])
        if track.retry_success is not None:
            pair = {**worker, "error_code": "timeout", "step_type": "http"}
            # one retry attempt per ten requests
            history.add("worker_retry_attempts_total", {**pair, "retryable": "true"},
                        [(point, math.floor(counters["decisions"] / 10))])
            history.add("worker_retry_success_rate", pair, [(point, track.retry_success)])
        for job_labels in labels.values():
            history.add("up", job_labels, [(point, 1.0)])
            for flag in WAVE_FLAGS:
                history.add("cp2_feature_flag_enabled", {**job_labels, "flag": flag},
                            [(point, 1.0 if track.wave1 else 0.0)])
            history.add("cp2_feature_flag_enabled", {**job_labels, "flag": "CP2_OBSERVABILITY_METRICS_ENABLED"},
                        [(point, 1.0)])
        t += step
