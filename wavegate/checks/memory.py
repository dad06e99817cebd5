"""Memory safety: queues stay within their bounds and resident memory stays bounded."""

from __future__ import annotations

import math

from wavegate import criteria as c
from wavegate import samples, timeline
from wavegate.checks.common import conclude, no_data
from wavegate.context import GateContext
from wavegate.settings import format_duration
from wavegate.verdicts import Observation, render


def queue_bound(criterion: c.QueueBound, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    raw = probe.samples(criterion.metric, window)
    obs = Observation(passed=True, summary="", unit="tasks", window=window)
    obs.samples = sum(len(s.points) for s in raw)
    if not raw:
        return no_data(obs, f"{criterion.metric} has no series in the candidate window", probe)
    label = criterion.group_label
    failures: list[str] = []
    observed: dict[str, float] = {}
    for series, unreadable in zip(raw, probe.unreadable_scrapes(raw, window), strict=True):
        pool = series.labels.get(label, "")
        where = f"{label}={pool or '(empty)'} on {series.labels.get('instance', '?')}"
        if unreadable:
            obs.no_data = True
            failures.append(f"{where}: {unreadable} successful scrape(s) with a NaN or no sample of "
                            f"{criterion.metric} (no data)")
            continue
        observed[pool] = max(observed.get(pool, -math.inf), max(samples.values_of(series.points)))
    limits: dict[str, float] = {}
    for pool, depth in observed.items():
        limit = criterion.limits.get(pool, criterion.default_limit)
        if limit is None:
            failures.append(f"{label}={pool or '(empty)'} has no declared max_queue_size in the criteria file "
                            f"(declare it under limits, or set default_limit for undeclared pools)")
            obs.measure({label: pool}, depth, passed=False, cause="no declared limit")
            continue
        limits[pool] = limit
        ok = depth <= limit
        obs.measure({label: pool}, depth, threshold=limit, passed=ok)
        if not ok:
            failures.append(f"{label}={pool}: queue depth reached {depth:g}, above max_queue_size {limit:g}")
    obs.observed = observed
    obs.threshold = {pool: f"<= {limit:g}" for pool, limit in limits.items()}
    if limits:
        worst = max(limits, key=lambda pool: observed[pool] / limits[pool] if limits[pool] else math.inf)
        obs.worst = f"{criterion.metric}{{{label}=\"{worst}\"}} max {observed[worst]:g} / {limits[worst]:g}"
    return conclude(obs, failures, "every pool stayed within its max_queue_size", probe)


def memory_bound(criterion: c.MemoryBound, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    raw = probe.samples(f"{criterion.metric}{{{ctx.jobs_matcher()}}}", window)
    obs = Observation(passed=True, summary="", unit="bytes", window=window)
    obs.samples = sum(len(s.points) for s in raw)
    obs.notes.append(
        "per instance, over its own life inside the window: peak, and growth = mean of the last quarter of its "
        "life / mean of the first quarter - 1; an instance observed for less than a quarter of the window is "
        "reported, not judged on growth")
    failures: list[str] = []
    observed: dict[str, str] = {}
    worst: tuple[float, str] | None = None
    unreadable = dict(zip(map(id, raw), probe.unreadable_scrapes(raw, window), strict=True))
    for component, job in ctx.component_jobs.items():
        instances = [s for s in raw if s.labels.get("job") == job]
        if not instances:
            failures.append(f"job={job} ({component}): no {criterion.metric} samples in the window (no data)")
            obs.no_data = True
            continue
        for series in instances:
            instance = series.labels.get("instance", "")
            key = {"job": job, "instance": instance}
            if unreadable[id(series)]:
                obs.no_data = True
                failures.append(f"job={job} instance={instance}: {unreadable[id(series)]} successful "
                                f"scrape(s) with a NaN or no sample of {criterion.metric} (no data)")
                obs.measure(key, None, passed=False, cause="NaN samples")
                continue
            seen = timeline.growth(series.points, window.seconds)
            if seen is None:
                continue
            ok = seen.peak <= criterion.ceiling_bytes
            if not ok:
                failures.append(f"job={job} instance={instance}: peak {render(seen.peak, 'bytes')} is above the "
                                f"ceiling {render(criterion.ceiling_bytes, 'bytes')}")
            if seen.judged and seen.growth > criterion.max_growth:
                ok = False
                failures.append(
                    f"job={job} instance={instance}: memory grew {seen.growth * 100:.1f} % over its "
                    f"{format_duration(round(seen.life))} in the window (first quarter mean "
                    f"{render(seen.first_quarter, 'bytes')} -> last quarter mean {render(seen.last_quarter, 'bytes')}),"
                    f" more than {criterion.max_growth * 100:g} %")
            growth_text = f"growth {seen.growth * 100:.1f} %" if seen.judged else \
                f"observed {format_duration(max(round(seen.life), 1))} only, growth not judged"
            observed[f"{job}/{instance}"] = f"peak {render(seen.peak, 'bytes')}, {growth_text}"
            obs.measure(key, seen.peak, threshold=criterion.ceiling_bytes, passed=ok,
                        candidate=seen.growth if seen.judged else None)
            score = seen.growth if seen.judged else -math.inf
            if worst is None or score > worst[0]:
                worst = (score, f"{criterion.metric}{{job=\"{job}\", instance=\"{instance}\"}} {growth_text}")
    obs.observed = observed
    obs.threshold = f"peak <= {render(criterion.ceiling_bytes, 'bytes')}, growth <= {criterion.max_growth * 100:g} %"
    if worst and not failures:
        obs.worst = worst[1]
    return conclude(obs, failures, "memory stayed bounded for every instance", probe)
