"""Prometheus integration: targets up, scrapes succeed."""

from __future__ import annotations

import math
from typing import Any

from wavegate import criteria as c
from wavegate import promql
from wavegate.checks.common import (
    _finite,
    conclude,
)
from wavegate.context import GateContext
from wavegate.settings import format_duration
from wavegate.verdicts import Observation


def targets_up(criterion: c.TargetsUp, ctx: GateContext) -> Observation:
    ctx.ensure_prometheus()
    scope = ctx.scope
    every = ctx.prometheus.targets()
    # In a shared Prometheus only the environment's targets count (the selector's labels, by target labels).
    targets = [t for t in every if scope.admits_target(t.get("labels") or {})]
    obs = Observation(passed=True, summary="")
    if len(targets) != len(every):
        obs.notes.append(f"{len(every) - len(targets)} active target(s) of other environments left out "
                         f"({scope.describe()})")
    jobs = [ctx.environment.prometheus.job if job == "prometheus" else ctx.component_jobs.get(job, job)
            for job in criterion.jobs]
    by_job: dict[str, list[dict[str, Any]]] = {}
    for target in targets:
        job = (target.get("labels") or {}).get("job") or target.get("scrapePool", "")
        by_job.setdefault(job, []).append(target)
    failures, observed = [], {}
    for job in jobs:
        members = by_job.get(job, [])
        up = [t for t in members if t.get("health") == "up"]
        observed[job] = f"{len(up)}/{len(members)} up"
        obs.measure({"job": job}, float(len(up)), unit="targets up", threshold=float(len(members)),
                    passed=bool(members) and len(up) == len(members))
        if not members:
            failures.append(f"job={job}: no active target of this environment in Prometheus (is it in the scrape "
                            "config, and do its target labels match prometheus.selector?)")
        for target in members:
            if target.get("health") != "up":
                failures.append(f"job={job} target {target.get('scrapeUrl')} is {target.get('health')}: "
                                f"{target.get('lastError') or 'no error text'}")
    obs.observed, obs.threshold = observed, "every target of every expected job up"
    obs.queries = [{"query": "GET /api/v1/targets?state=active", "time": "now",
                    "result": [{"job": (t.get("labels") or {}).get("job"), "instance":
                                (t.get("labels") or {}).get("instance"), "health": t.get("health"),
                                "lastError": t.get("lastError")} for t in targets], "warnings": []}]
    return conclude(obs, failures, "all expected targets are up")


def scrape_success(criterion: c.ScrapeSuccess, ctx: GateContext) -> Observation:
    probe = ctx.probe()
    lookback = format_duration(criterion.lookback)
    now = ctx.now
    jobs = [ctx.environment.prometheus.job if job == "prometheus" else ctx.component_jobs.get(job, job)
            for job in criterion.jobs]
    # Prometheus' own job and the components' jobs are scoped apart (see promql.Scope), so one selector each.
    self_job = ctx.environment.prometheus.job
    component_jobs = [job for job in jobs if job != self_job]
    selectors = [f"up{{{ctx.jobs_matcher(component_jobs)}}}"] if component_jobs else []
    if self_job in jobs:
        selectors.append(f"up{{job={promql.quote(self_job)}}}")
    minimum = probe.at(" or ".join(f"min by (job) (min_over_time({s}[{lookback}]))" for s in selectors), now).by("job")
    obs = Observation(passed=True, summary="", observed=minimum,
                      threshold=f"min up == 1 over the last {lookback} for {', '.join(jobs)}; 0 limit hits")
    obs.notes.append(f"evaluated at run time {now:%Y-%m-%dT%H:%M:%SZ} over the last {lookback}")
    failures = []
    for job in jobs:
        if job not in minimum:
            obs.no_data = True
            failures.append(f"job={job}: no `up` samples in the last {lookback} (no data)")
        elif not math.isfinite(minimum[job]):
            obs.no_data = True
            failures.append(f"job={job}: `up` is {minimum[job]} over the last {lookback} (no data)")
        else:
            obs.measure({"job": job}, minimum[job], unit="min up", threshold=1.0, passed=minimum[job] >= 1)
            if minimum[job] < 1:
                failures.append(f"job={job}: at least one scrape failed in the last {lookback}")
    for counter in criterion.limit_counters:
        hits = probe.at(f"sum(increase({counter}{{job=\"{self_job}\"}}[{lookback}]))", now).scalar()
        if not _finite(hits):
            obs.no_data = True
            failures.append(f"{counter}{{job=\"{self_job}\"}} has no samples (no data): is Prometheus "
                            "scraping itself under that job?")
        elif hits and hits > 0:
            failures.append(f"{hits:g} scrape(s) hit a limit in the last {lookback} ({counter})")
    return conclude(obs, failures, f"every job scraped successfully for {lookback}", probe)



