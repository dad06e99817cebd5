"""Performance impact: latency quantiles, throughput, /metrics answer time."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import requests

from wavegate import criteria as c
from wavegate import stats, transport
from wavegate.checks.common import (
    EPSILON,
    _bucket_counts,
    _finite,
    _raise_unreachable_unless_violated,
    _saturated,
    bucket_quantile,
    conclude,
)
from wavegate.checks.tracks import Judged, judge_interval
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
    undecided: list[str] = []
    env = ctx.environment
    windows = (env.baseline, env.candidate)
    if env.tracks:
        obs.notes[-1] = ("between tracks: each quantile is judged by the share of canary observations above the "
                         "bucket bound just above the stable track's quantile, against the stable track's share above "
                         "that bound / (1 + max_increase) (linear inside a bucket, as histogram_quantile assumes); "
                         "the mean (_sum / _count) by the ratio of the means, its spread estimated from the buckets")
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
        if env.tracks:
            for judged in _between_tracks(probe, ctx, criterion, histogram, obs, counts["baseline"],
                                          counts["candidate"]):
                (failures if judged.verdict == "failed" else undecided).append(judged.text)
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
    if env.tracks:
        obs.observed = {" ".join(m.key.values()): f"{m.value:+.4g} [{m.interval['low']:+.4g}, "
                        f"{m.interval['high']:+.4g}] {m.verdict}"
                        for m in obs.measurements if m.interval is not None and m.value is not None}
        obs.threshold = (f"each quantile: canary share above bound B <= stable share above B / "
                         f"{1 + criterion.max_increase:g}; mean: canary / stable - 1 < {criterion.max_increase:g}; "
                         f"by {env.confidence * 100:g} % intervals")
    return conclude(obs, failures, "no latency quantile grew by the limit", probe, undecided)


def _below(counts: dict[float, float], x: float) -> float:
    """Observations at or below x, linear inside a bucket (histogram_quantile's assumption)."""
    lower, below = 0.0, 0.0
    for bound in sorted(b for b in counts if math.isfinite(b)):
        if x <= bound:
            return below + (counts[bound] - below) * (x - lower) / (bound - lower) if bound > lower else counts[bound]
        lower, below = bound, counts[bound]
    return below


def _spread(counts: dict[float, float]) -> float:
    """The variance of the observations, from the bucket midpoints (the +Inf bucket at the largest bound)."""
    total = counts.get(math.inf, 0.0)
    lower, below, first, second = 0.0, 0.0, 0.0, 0.0
    for bound in sorted(b for b in counts if math.isfinite(b)):
        mass, middle = max(counts[bound] - below, 0.0), (lower + bound) / 2
        first, second = first + mass * middle, second + mass * middle * middle
        lower, below = bound, counts[bound]
    mass = max(total - below, 0.0)
    first, second = first + mass * lower, second + mass * lower * lower
    return max(second / total - (first / total) ** 2, 0.0) if total > 0 else math.nan


def _between_tracks(probe: Probe, ctx: GateContext, criterion: c.LatencyIncrease, histogram: str, obs: Observation,
                    stable: dict[float, float], canary: dict[float, float]) -> list[Judged]:
    """Each quantile and the mean of one histogram, canary against stable, by intervals (see latency_increase)."""
    env = ctx.environment
    z, limit = stats.z_value(env.confidence), criterion.max_increase
    n_s, n_c = stable.get(math.inf, 0.0), canary.get(math.inf, 0.0)
    judged: list[Judged] = []
    common = {"confidence": env.confidence, "min_samples": criterion.min_samples, "seconds": env.candidate.seconds,
              "samples": (n_s, n_c)}
    if not (_finite(n_s) and _finite(n_c) and n_s > 0 and n_c > 0):
        obs.no_data = True
        return [Judged("failed", f"{histogram}: no observations on the {'stable' if not n_s > 0 else 'canary'} "
                                 "track in the window (no data)")]
    for q in criterion.quantiles:
        key, name = {"histogram": histogram, "quantile": f"{q:g}"}, f"{histogram} p{q * 100:g}"
        quantile = bucket_quantile(q, stable)
        bound = min((b for b in stable if math.isfinite(b) and b >= quantile - EPSILON), default=None)
        if bound is None or _saturated(stable, q) is not None:
            obs.measure(key, None, passed=None, verdict="inconclusive", cause="buckets too coarse")
            judged.append(Judged("inconclusive", f"{name}: the buckets are too coarse to decide: the stable track's "
                                                 "quantile lies above the largest finite bucket"))
            continue
        point = bound / (1 + limit)
        allowed = n_s - _below(stable, point)
        above = n_c - canary.get(bound, _below(canary, bound))
        if _below(stable, bound) - _below(stable, point) < 1:
            obs.notes.append(f"{name}: no stable observation between {point:.4g} s and {bound:g} s, so the buckets "
                             f"cannot tell +{limit * 100:g} % there; the share above {bound:g} s is compared as is")
        interval = stats.difference(round(above), round(n_c), round(allowed), round(n_s), z)
        judged.append(judge_interval(
            obs, key, interval, 0.0, "at_most", unit="ratio", **common,  # type: ignore[arg-type]
            what=f"{name}: canary share above {bound:g} s (the bound above the stable p{q * 100:g} {quantile:.4g} s) "
                 f"{above / n_c:.4g} minus the stable share above {point:.4g} s {allowed / n_s:.4g} (what "
                 f"+{limit * 100:g} % would give)",
            method="Newcombe difference of Wilson intervals with continuity correction",
            baseline=allowed / n_s, candidate=above / n_c))
    sum_s, sum_c = (probe.over(f"sum(increase({histogram}_sum[$W]))", window).scalar()
                    for window in (env.baseline, env.candidate))
    if not (_finite(sum_s) and _finite(sum_c) and sum_s > 0 and sum_c > 0):
        obs.no_data = True
        judged.append(Judged("failed", f"{histogram} mean: no data (_sum {sum_s} stable, {sum_c} canary)"))
        return judged
    mean_s, mean_c = sum_s / n_s, sum_c / n_c
    ratio = stats.mean_ratio(mean_c, _spread(canary), n_c, mean_s, _spread(stable), n_s, z)
    change = stats.Interval(ratio.estimate - 1, ratio.low - 1, ratio.high - 1)
    judged.append(judge_interval(
        obs, {"histogram": histogram, "quantile": "mean"}, change, limit, "at_most", unit="ratio",
        **common,  # type: ignore[arg-type]
        what=f"{histogram} mean: canary {mean_c:.4g} s against stable {mean_s:.4g} s, change",
        method="ratio of means, delta method on the log, spread from the buckets", baseline=mean_s,
        candidate=mean_c))
    return [j for j in judged if j.verdict != "passed"]


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
    if ctx.environment.tracks:
        return _throughput_between_tracks(criterion, ctx, probe, obs)
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
    for component, settings, url in ((f"{name}[{which}]" if which else name, each, url)
                                     for name, each in ctx.environment.components.items()
                                     for which, url in each.urls.items()):
        shown = redact_url(url)
        timings = []
        for _ in range(criterion.requests):
            started = time.perf_counter()
            try:
                # the full response is timed; its body is read and discarded, not held
                response = transport.get(session, url, timeout=settings.timeout, keep=False,
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




def _throughput_between_tracks(criterion: c.Throughput, ctx: GateContext, probe: Probe,
                               obs: Observation) -> Observation:
    """The canary serves a share of the traffic, so its raw rate says nothing: each counter after the first is
    judged per request of the first (e.g. worker steps per gateway request), canary against stable, by the
    interval of a ratio of two Poisson rates; the first counter gives each track's traffic and share."""
    env = ctx.environment
    entry, *others = criterion.counters
    obs.unit = "per request"
    totals = {w.name: probe.over(f"sum(increase({entry}[$W]))", w).scalar() for w in (env.baseline, env.candidate)}
    stable, canary = totals["baseline"], totals["candidate"]
    if not (_finite(stable) and _finite(canary) and stable > 0 and canary > 0):
        obs.no_data = True
        which = "stable" if not (_finite(stable) and stable > 0) else "canary"
        return conclude(obs, [f"{entry}: no requests on the {which} track in the window (no data)"], "", probe)
    obs.notes.append(f"{entry}: {canary:.0f} canary and {stable:.0f} stable requests, a canary share of "
                     f"{canary / (canary + stable) * 100:.1f} %" + (f" (stage {env.stage:g} %)" if env.stage else ""))
    if not others:
        return conclude(obs, [f"{criterion.id}: between tracks throughput is judged per request of the first "
                              f"counter ({entry}); list at least one more counter"], "", probe)
    failures, undecided = [], []
    z = stats.z_value(env.confidence)
    for counter in others:
        done = {w.name: probe.over(f"sum(increase({counter}[$W]))", w).scalar() for w in (env.baseline, env.candidate)}
        work_s, work_c = done["baseline"], done["candidate"]
        if not (_finite(work_s) and _finite(work_c) and work_s + work_c > 0):
            obs.no_data = True
            failures.append(f"{counter}: no data on a track (stable {work_s}, canary {work_c})")
            continue
        interval = stats.rate_ratio(round(work_c), canary, round(work_s), stable, z)
        change = stats.Interval(interval.estimate - 1, interval.low - 1, interval.high - 1)
        judged = judge_interval(
            obs, {"counter": counter}, change, -criterion.tolerance, "at_least", unit="ratio",
            what=f"{counter} per {entry}: canary {work_c / canary:.4g} against stable {work_s / stable:.4g}, change",
            confidence=env.confidence, method="ratio of Poisson rates (conditional binomial, Wilson with continuity "
            "correction)", samples=(stable, canary), min_samples=criterion.min_samples, seconds=env.candidate.seconds,
            noun="requests", baseline=work_s / stable, candidate=work_c / canary)
        if judged.verdict == "failed":
            failures.append(judged.text)
        elif judged.verdict == "inconclusive":
            undecided.append(judged.text)
    obs.observed = {" ".join(m.key.values()): f"{m.value:+.4g} [{m.interval['low']:+.4g}, {m.interval['high']:+.4g}]"
                    for m in obs.measurements if m.interval is not None and m.value is not None}
    obs.threshold = (f"per {entry}: canary / stable - 1 >= -{criterion.tolerance:g}, by a "
                     f"{env.confidence * 100:g} % interval")
    return conclude(obs, failures, "the canary does as much work per request as the stable track", probe, undecided)
