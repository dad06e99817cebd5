"""Performance impact: latency quantiles, throughput, /metrics answer time."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import requests

from wavegate import criteria as c
from wavegate import transport
from wavegate.checks.common import (
    _bucket_counts,
    _finite,
    _raise_unreachable_unless_violated,
    _saturated,
    bucket_quantile,
    conclude,
)
from wavegate.context import GateContext, Probe
from wavegate.settings import redact_url
from wavegate.verdicts import Observation


def _compare_windows(
    probe: Probe, ctx: GateContext, template: str, scale: Callable[[float, float], float] | None = None
) -> tuple[float | None, float | None]:
    env = ctx.environment
    values = []
    for window in (env.baseline, env.candidate):
        value = probe.over(template, window).scalar()
        if _finite(value) and scale is not None:
            value = scale(value, window.seconds)
        values.append(value if _finite(value) else None)
    return values[0], values[1]


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _layout(counts: dict[float, float]) -> tuple[float, ...]:
    return tuple(sorted(b for b in counts if math.isfinite(b)))


def _dip(counts: dict[float, float]) -> str:
    """Where cumulative bucket counts fall from one bound to the next (not one layout all window long)."""
    ordered = sorted(counts.items())
    total = max((v for _, v in ordered if math.isfinite(v)), default=0.0)
    for (low, below), (high, above) in zip(ordered, ordered[1:], strict=False):
        if above < below - 1e-6 * max(total, 1.0):
            return f" (le={high:g} counts {above:.6g} observations, fewer than le={low:g}'s {below:.6g})"
    return ""


def latency_increase(criterion: c.LatencyIncrease, ctx: GateContext) -> Observation:
    probe = ctx.probe()
    obs = Observation(passed=True, summary="", unit="seconds", window=ctx.environment.candidate)
    obs.notes.append(f"baseline window: {ctx.environment.baseline.describe()}")
    obs.notes.append("quantiles are compared only when both windows have the same bucket bounds; the mean "
                     "(_sum / _count) is compared too, so a shift inside one bucket is not hidden")
    failures, baseline, candidate, changes = [], {}, {}, {}
    env = ctx.environment
    windows = (env.baseline, env.candidate)
    for histogram in criterion.histograms:
        # histogram_quantile reports the largest finite bound for a quantile in the +Inf bucket: a p99 that
        # went from 4 s to 60 s would read 5 s. The bucket counts tell when that happens.
        counts = {w.name: _bucket_counts(probe, histogram, w) for w in windows}
        layouts = {name: _layout(found) for name, found in counts.items()}
        # A layout changed inside a window shows as a bucket counting fewer observations than a lower one.
        dips = {name: _dip(found) for name, found in counts.items()}
        if all(layouts.values()) and (layouts["baseline"] != layouts["candidate"] or any(dips.values())):
            failures.append(
                f"{histogram}: bucket layouts differ, so quantiles cannot be compared: baseline "
                f"{', '.join(f'{b:g}' for b in layouts['baseline'])}{dips['baseline']}; candidate "
                f"{', '.join(f'{b:g}' for b in layouts['candidate'])}{dips['candidate']}")
            continue
        for q in criterion.quantiles:
            key = f"{histogram} p{q * 100:g}"
            # histogram_quantile's own arithmetic on the bucket counts already fetched (bucket_quantile).
            before, after = (_finite_or_none(bucket_quantile(q, counts[w.name])) for w in windows)
            baseline[key], candidate[key] = before, after
            capped = {w: _saturated(counts[w.name], q) for w in windows}
            if capped[env.candidate] is not None:
                failures.append(f"{key}: the candidate quantile lies above the largest finite bucket "
                                f"({capped[env.candidate]:g} s), so its value is unknown and may be far higher")
                obs.measure({"histogram": histogram, "quantile": f"{q:g}"}, None, passed=False,
                            cause="candidate above the largest finite bucket")
                continue
            if capped[env.baseline] is not None and after is not None:
                obs.notes.append(f"{key}: the baseline quantile lay above the largest finite bucket "
                                 f"({capped[env.baseline]:g} s) and the candidate's is {after:.6g} s: an improvement")
                obs.measure({"histogram": histogram, "quantile": f"{q:g}"}, after, baseline=math.inf,
                            candidate=after, passed=True)
                continue
            if before is None or after is None:
                obs.no_data = True
                failures.append(f"{key}: no data ({'baseline' if before is None else 'candidate'} quantile is "
                                "NaN or missing)")
                continue
            if before <= 0:
                obs.no_data = True
                failures.append(f"{key}: the baseline quantile is {before:g}; a relative increase is undefined")
                continue
            changes[key] = after / before - 1
            ok = changes[key] < criterion.max_increase
            obs.measure({"histogram": histogram, "quantile": f"{q:g}"}, changes[key], unit="ratio",
                        threshold=criterion.max_increase, baseline=before, candidate=after, passed=ok)
            if not ok:
                failures.append(f"{key}: {before:.6g} s -> {after:.6g} s, +{changes[key] * 100:.2f} % "
                                f"(limit < +{criterion.max_increase * 100:g} %)")
        failures += _mean_check(probe, ctx, criterion, histogram, obs, baseline, candidate)
    obs.baseline, obs.candidate = baseline, candidate
    obs.observed = {key: f"{value * 100:+.2f} %" for key, value in changes.items()}
    obs.threshold = f"< +{criterion.max_increase * 100:g} % for every quantile and the mean"
    if changes:
        worst = max(changes, key=lambda k: changes[k])
        obs.worst = f"{worst}: {changes[worst] * 100:+.2f} %"
    return conclude(obs, failures, "no latency quantile grew by the limit", probe)


def _mean_check(probe: Probe, ctx: GateContext, criterion: c.LatencyIncrease, histogram: str, obs: Observation,
                baseline: dict[str, float | None], candidate: dict[str, float | None]) -> list[str]:
    key = f"{histogram} mean"
    sums = _compare_windows(probe, ctx, f"sum(increase({histogram}_sum[$W]))")
    counts = _compare_windows(probe, ctx, f"sum(increase({histogram}_count[$W]))")
    before, after = (s / n if s is not None and n else None for s, n in zip(sums, counts, strict=True))
    baseline[key], candidate[key] = before, after
    if before is None or after is None or before <= 0:
        obs.notes.append(f"{key}: not compared (baseline {before}, candidate {after}); the quantiles decide")
        return []
    change = after / before - 1
    ok = change < criterion.max_increase
    obs.measure({"histogram": histogram, "quantile": "mean"}, change, unit="ratio", threshold=criterion.max_increase,
                baseline=before, candidate=after, passed=ok)
    if ok:
        return []
    return [f"{key}: {before:.6g} s -> {after:.6g} s, +{change * 100:.2f} % (limit < +{criterion.max_increase * 100:g} "
            "%): latency rose although it may stay inside the same buckets"]


def throughput(criterion: c.Throughput, ctx: GateContext) -> Observation:
    probe = ctx.probe()
    obs = Observation(passed=True, summary="", unit="per second", window=ctx.environment.candidate)
    obs.notes.append(f"baseline window: {ctx.environment.baseline.describe()}")
    failures, baseline, candidate = [], {}, {}
    for counter in criterion.counters:
        before, after = _compare_windows(probe, ctx, f"sum(increase({counter}[$W]))", lambda v, s: v / s)
        baseline[counter], candidate[counter] = before, after
        if before is None or after is None or before <= 0:
            obs.no_data = True
            which = "baseline" if before is None or before <= 0 else "candidate"
            failures.append(f"{counter}: no data in the {which} window ({before if which == 'baseline' else after})")
            continue
        floor = before * (1 - criterion.tolerance)
        obs.measure({"counter": counter}, after, threshold=floor, baseline=before, candidate=after,
                    passed=after >= floor)
        if after < floor:
            failures.append(f"{counter}: {after:.4g}/s in the candidate window, below {floor:.4g}/s "
                            f"(baseline {before:.4g}/s - {criterion.tolerance * 100:g} %)")
    obs.baseline, obs.candidate = baseline, candidate
    obs.observed = {}
    for counter, before in baseline.items():
        after = candidate.get(counter)
        obs.observed[counter] = f"{(after / before - 1) * 100:+.2f} %" if before and after is not None else "n/a"
    obs.threshold = f">= baseline - {criterion.tolerance * 100:g} %"
    return conclude(obs, failures, "throughput neutral or better", probe)


def endpoint_latency(criterion: c.EndpointLatency, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="", unit="seconds")
    failures: list[str] = []
    unreachable: list[str] = []
    medians: dict[str, float] = {}
    session = requests.Session()
    for component, settings in ctx.environment.components.items():
        shown = redact_url(settings.metrics_url)
        timings = []
        for _ in range(criterion.requests):
            started = time.perf_counter()
            try:
                # the full response is timed; its body is read and discarded, not held
                response = transport.get(session, settings.metrics_url, timeout=settings.timeout, keep=False,
                                         limit=settings.max_bytes, budget=ctx.budget)
            except transport.BudgetSpent:
                raise
            except transport.TransportFailed as exc:
                unreachable.append(f"{component} metrics endpoint: {exc}; check components.{component}.metrics_url")
                break
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures.append(f"{shown} answered HTTP {response.status_code}")
                break
        if len(timings) == criterion.requests:
            medians[component] = statistics.median(timings)
            obs.measure({"component": component}, medians[component], threshold=criterion.maximum_seconds,
                        passed=medians[component] < criterion.maximum_seconds)
            if medians[component] >= criterion.maximum_seconds:
                failures.append(f"{shown}: median {medians[component] * 1000:.1f} ms over "
                                f"{criterion.requests} requests, not under {criterion.maximum_seconds * 1000:g} ms")
    _raise_unreachable_unless_violated(unreachable, failures)
    failures += unreachable
    obs.observed = medians
    obs.threshold = f"< {criterion.maximum_seconds:g} s (median of {criterion.requests})"
    if medians:
        worst = max(medians, key=lambda k: medians[k])
        obs.worst = f"{worst}: {medians[worst] * 1000:.1f} ms"
    return conclude(obs, failures, "every endpoint answers quickly")


