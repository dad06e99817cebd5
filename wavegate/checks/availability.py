"""System availability: uptime, restarts, graceful degradation under overload."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from wavegate import criteria as c
from wavegate import samples, timeline
from wavegate.checks.common import conclude, no_data
from wavegate.context import GateContext, Probe, walk_increase
from wavegate.prometheus import RangeSeries
from wavegate.samples import Points
from wavegate.settings import Window, format_duration, format_time
from wavegate.verdicts import Observation


def _by_job(series: list[RangeSeries]) -> dict[str, dict[str, Points]]:
    """Raw points grouped by job, then instance (several series of one instance are merged in time order; one
    series already in time order is kept as it is)."""
    grouped: dict[str, dict[str, list[Points]]] = {}
    for s in series:
        job, instance = s.labels.get("job", ""), s.labels.get("instance", "")
        grouped.setdefault(job, {}).setdefault(instance, []).append(s.points)
    return {job: {instance: samples.in_time_order(parts) for instance, parts in instances.items()}
            for job, instances in grouped.items()}


def _span(seconds: float) -> str:
    return format_duration(max(round(seconds), 1)) if seconds >= 1 else f"{seconds:.1f}s"


def uptime(criterion: c.Uptime, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    expected = ctx.environment.prometheus.scrape_interval
    # Samples shortly before the start tell whether the first moments of the window were observed.
    raw = _by_job(probe.samples(f"up{{{ctx.jobs_matcher()}}}", window, before=max(600.0, 10 * expected)))
    start, end = window.start.timestamp(), window.end.timestamp()
    obs = Observation(passed=True, summary="", unit="ratio", window=window)
    obs.threshold = f">= {criterion.minimum * 100:g} % of the window up, per component"
    obs.notes.append(
        "down = an observed instance reports up != 1, or no instance of the job is observed (no sample newer "
        f"than {timeline.FRESH_INTERVALS:g} of its own measured scrape intervals); unobserved time is not up "
        f"time. min_coverage ({criterion.min_coverage:g}) is kept for compatibility and no longer decides.")
    failures, observed, counted = [], {}, 0
    for component, job in ctx.component_jobs.items():
        instances = raw.get(job, {})
        inside = sum(samples.count_between(points, start, end) for points in instances.values())
        if not inside:
            obs.no_data = True
            failures.append(f"job={job} ({component}): no `up` samples in the window (no data)")
            obs.measure({"job": job}, None, threshold=criterion.minimum, passed=False, cause="no data")
            continue
        seen = timeline.availability(instances, start, end, expected)
        counted += seen.samples
        observed[job] = seen.uptime
        ok = seen.uptime >= criterion.minimum
        obs.measure({"job": job}, seen.uptime, threshold=criterion.minimum, passed=ok)
        obs.notes.append(
            f"job={job}: {len(instances)} instance(s), scrape interval measured {_span(seen.interval)} "
            f"(expected {_span(expected)}), down {_span(seen.down_seconds)} of which unobserved "
            f"{_span(seen.unobserved_seconds)}")
        if not ok:
            longest = seen.longest_down()
            where = (f"; longest from {format_time(_at(longest[0]))} to {format_time(_at(longest[1]))}"
                     if longest else "")
            failures.append(
                f"job={job} ({component}): up {seen.uptime * 100:.3f} % of the window, below "
                f"{criterion.minimum * 100:g} % (down {_span(seen.down_seconds)}, of which "
                f"{_span(seen.unobserved_seconds)} with no instance observed: a gap in the data is not uptime"
                f"{where})")
    obs.observed, obs.samples = observed, counted
    if observed:
        worst = min(observed, key=lambda j: observed[j])
        obs.worst = f"up{{job=\"{worst}\"}} {observed[worst] * 100:.3f} %"
    return conclude(obs, failures, "every component met the uptime target", probe)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _restarts(ctx: GateContext, probe: Probe, metric: str, window: Window,
              obs: Observation) -> tuple[dict[str, list[timeline.Restart]], list[str]]:
    """Process starts per job inside the window, and why a job cannot be judged (no sample of `metric` in
    the window, or a NaN start time: a restart could hide behind it): those are no data."""
    series = probe.samples(f"{metric}{{{ctx.jobs_matcher()}}}", window, before=window.seconds)
    raw = _by_job(series)
    nan_or_dropped = {(s.labels.get("job", ""), s.labels.get("instance", ""))
                      for s, count in zip(series, probe.unreadable_scrapes(series, window), strict=True) if count}
    start, end = window.start.timestamp(), window.end.timestamp()
    expected = ctx.environment.prometheus.scrape_interval
    found: dict[str, list[timeline.Restart]] = {}
    missing: list[str] = []
    for job in ctx.component_jobs.values():
        instances = raw.get(job, {})
        if not any(samples.count_between(points, start, end) for points in instances.values()):
            missing.append(f"job={job}: no {metric} samples in the window (no data)")
            continue
        unreadable = sorted(instance for instance in instances if (job, instance) in nan_or_dropped)
        if unreadable:
            missing.append(f"job={job}: {metric} is NaN (or missing at a successful scrape) on "
                           f"{', '.join(unreadable)} in the window (no data)")
            continue
        interval = timeline.job_interval(instances.values(), expected)
        found[job] = timeline.restarts(instances, start, end, interval)
        obs.measure({"job": job}, float(len(found[job])), unit="restarts", threshold=0.0, passed=not found[job])
    return found, missing


def _describe_restarts(job: str, events: list[timeline.Restart]) -> str:
    first = events[0]
    kinds = sorted({e.kind for e in events})
    return (f"job={job} restarted {len(events)} time(s) in the window ({' and '.join(kinds)}); first at "
            f"{format_time(_at(first.at))} on instance {first.instance}: {first.detail}")


def no_restarts(criterion: c.NoRestarts, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    obs = Observation(passed=True, summary="", unit="restarts", window=window, threshold="0")
    obs.notes.append(
        f"a restart is {criterion.metric} changing on an instance, or a replacement: an instance disappears "
        f"and another appears within {timeline.REPLACEMENT_INTERVALS:g} scrape intervals (a crash-loop and a "
        "redeploy look alike; either means the window did not observe one steady process). An instance "
        "added while the others go on (scale-out) is not a restart.")
    found, missing = _restarts(ctx, probe, criterion.metric, window, obs)
    failures = []
    if missing:
        obs.no_data = True
        failures += missing
    failures += [_describe_restarts(job, events) for job, events in found.items() if events]
    obs.observed = {job: len(events) for job, events in found.items()}
    return conclude(obs, failures, "no component restarted", probe)


def _episodes(points: Points, critical: float, interval: float) -> list[tuple[float, float]]:
    """Stretches of time where the status was at or above `critical` (each sample holds until the next)."""
    found = samples.arrays(points)
    if found is not None and found[1] and samples.all_finite(found[1]) and max(found[1]) < critical:
        return []  # never critical
    episodes: list[tuple[float, float]] = []
    for index, (t, value) in enumerate(points):
        if math.isfinite(value) and value >= critical:
            until = points[index + 1][0] if index + 1 < len(points) else t + interval
            if episodes and t <= episodes[-1][1]:
                episodes[-1] = (episodes[-1][0], until)
            else:
                episodes.append((t, until))
    return episodes


def graceful_degradation(criterion: c.GracefulDegradation, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    obs = Observation(passed=True, summary="", window=window)
    obs.threshold = "rejections rise during every critical episode of a pool, and 0 restarts"
    status = probe.samples(criterion.status_metric, window)
    if not status:
        return no_data(obs, f"{criterion.status_metric} has no series in the candidate window", probe)
    unreadable = sorted({s.labels.get("resource_pool", "") for s in status
                         if samples.any_not_finite(samples.values_of(s.points))})
    if unreadable:
        return no_data(
            obs, f"{criterion.status_metric} is not a number (NaN) for resource_pool {', '.join(unreadable)}", probe)
    interval = timeline.job_interval([s.points for s in status], ctx.environment.prometheus.scrape_interval)
    episodes = {(s.labels.get("resource_pool", ""), s.labels.get("instance", "")):
                _episodes(s.points, criterion.critical_value, interval) for s in status}
    episodes = {key: found for key, found in episodes.items() if found}
    obs.observed = {f"{pool}@{instance}": f"{len(found)} critical episode(s)"
                    for (pool, instance), found in episodes.items()}
    if not episodes:
        obs.vacuous = True
        obs.notes.append(f"no pool reached critical ({criterion.critical_value:g}); the criteria file says a "
                         f"vacuous window is a {criterion.vacuous}")
        if criterion.vacuous == "fail":
            return conclude(obs, ["vacuous: no pool was critical, and the criteria file requires a critical "
                                  "episode"], "", probe)
        return conclude(obs, [], "vacuous: no pool was critical in the window", probe)
    rejections = probe.samples(criterion.rejections, window, before=10 * interval)
    counters: dict[tuple[str, str], list[Points]] = {}
    for s in rejections:
        counters.setdefault((s.labels.get("resource_pool", ""), s.labels.get("instance", "")), []).append(s.points)
    failures = []
    for (pool, instance), found in episodes.items():
        for begin, finish in found:
            # A rejection counted at the first scrape after the episode still belongs to it.
            rejected = sum(walk_increase(points, begin - interval, finish + interval, math.inf)
                           for points in counters.get((pool, instance), []))
            obs.measure({"resource_pool": pool, "instance": instance, "episode": format_time(_at(begin))},
                        rejected, unit="rejections", passed=rejected > 0)
            if not rejected > 0:
                failures.append(
                    f"resource_pool={pool} on {instance} was critical from {format_time(_at(begin))} to "
                    f"{format_time(_at(finish))} but {criterion.rejections} did not increase during it")
    found_restarts, missing = _restarts(ctx, probe, criterion.restarts_metric, window, obs)
    if missing:
        obs.no_data = True
        failures += missing
    failures += [_describe_restarts(job, events) + " while pools were critical"
                 for job, events in found_restarts.items() if events]
    total = sum(len(found) for found in episodes.values())
    return conclude(obs, failures, f"{total} critical episode(s), each met by rejections", probe)
