"""Prometheus integration: targets up, scrapes succeed."""

from __future__ import annotations

import math
from typing import Any

from wavegate import backends, promql, samples, timeline
from wavegate import criteria as c
from wavegate.checks.availability import _at
from wavegate.checks.common import (
    _finite,
    conclude,
)
from wavegate.context import GateContext, Probe, apply_warnings_policy, window_increase
from wavegate.errors import EvaluationError
from wavegate.prometheus import RangeSeries
from wavegate.samples import Points
from wavegate.settings import Window, format_duration, format_time, redact_text
from wavegate.verdicts import Observation


def targets_up(criterion: c.TargetsUp, ctx: GateContext) -> Observation:
    ctx.ensure_prometheus()
    scope = ctx.scope
    every, warnings = ctx.prometheus.targets_answer()
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
                error = redact_text(str(target.get("lastError") or "no error text"))
                failures.append(f"job={job} target {redact_text(str(target.get('scrapeUrl')))} is "
                                f"{target.get('health')}: {error}")
    obs.observed, obs.threshold = observed, "every target of every expected job up"
    obs.queries = [{"query": "GET /api/v1/targets?state=active", "time": "now",
                    "result": [{"job": (t.get("labels") or {}).get("job"), "instance":
                                (t.get("labels") or {}).get("instance"), "health": t.get("health"),
                                "lastError": redact_text(str(t.get("lastError") or ""))} for t in targets],
                    "warnings": list(warnings)}]
    conclude(obs, failures, "all expected targets are up")
    return apply_warnings_policy(obs, warnings, ctx.environment.prometheus.allow_warnings)


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
    # The limit counters count for the whole Prometheus, not per target. A scrape of this environment's
    # targets that hits a sample or label limit fails as a whole (up == 0), which the check above sees; in a
    # shared Prometheus (a selector is set) the counters are shown, since another environment's hit is not
    # this one's, and decide only for a Prometheus of its own.
    shared = bool(ctx.environment.prometheus.selector)
    for wanted in criterion.limit_counters:
        counter, note = backends.limit_counter(ctx.environment.prometheus.backend, wanted)
        if note:
            obs.notes.append(note)
        if counter is None:
            continue
        # The gate's window increase, not the backend's increase(): Prometheus extrapolates, VictoriaMetrics
        # does not, and a counter born inside the lookback would read differently.
        selector = f"{counter}{{job={promql.quote(self_job)}}}"
        hits = probe.at(f"sum({window_increase(selector, lookback)})", now).scalar()
        if not _finite(hits):
            obs.no_data = True
            failures.append(f"{counter}{{job=\"{self_job}\"}} has no samples (no data): is Prometheus "
                            "scraping itself under that job?")
        elif hits and hits > 0 and shared:
            obs.notes.append(f"{hits:g} scrape(s) of the whole shared Prometheus hit a limit in the last {lookback} "
                             f"({counter}); this environment's own scrapes all succeeded (up above)")
        elif hits and hits > 0:
            failures.append(f"{hits:g} scrape(s) hit a limit in the last {lookback} ({counter})")
    return conclude(obs, failures, f"every job scraped successfully for {lookback}", probe)




def rollout_provenance(criterion: c.RolloutProvenance, ctx: GateContext) -> Observation:
    """The windows hold the rollout they claim: each flag at its expected value at every successful scrape of
    every instance of every component job, Wave 1 flags off through the baseline and on through the
    candidate, the always-on flags on in both. A flag not exported at a successful scrape is not proven."""
    probe = ctx.probe()
    env = ctx.environment
    obs = Observation(passed=True, summary="", unit="share of scrapes")
    obs.threshold = (f"{', '.join(criterion.wave_flags)} off through the baseline and on through the candidate"
                     + (f"; {', '.join(criterion.always_on)} on in both" if criterion.always_on else "")
                     + ", at every successful scrape of every instance")
    failures: list[str] = []
    observed: dict[str, str] = {}
    for window in (env.baseline, env.candidate):
        wanted = dict.fromkeys(criterion.wave_flags, 1.0 if window is env.candidate else 0.0)
        wanted.update(dict.fromkeys(criterion.always_on, 1.0))
        start, end = window.start.timestamp(), window.end.timestamp()
        for component, job in ctx.component_jobs.items():
            # One job at a time: a week of raw samples of every target's up and flags is held only briefly.
            up, flags = _targets_and_flags(probe.samples(promql.add_matchers("up", {"job": job}), window),
                                           probe.samples(_flag_selector(criterion.metric, job), window),
                                           criterion.flag_label)
            instances = up.get(job, {})
            if not any(v == 1 for points in instances.values() for _, v in points):
                obs.no_data = True
                failures.append(f"{window.name}: job={job} ({component}) has no successful scrape in the window, so "
                                "what it ran cannot be proven (no data)")
                continue
            if not flags.get(job):
                if window is env.baseline and criterion.baseline_without_flags == "off":
                    obs.notes.append(f"baseline: job={job} exports no {criterion.metric}; its Wave 1 flags count as "
                                     "off (baseline_without_flags: off in the criteria file)")
                    observed[f"{window.name} {job}"] = "no flag series (counted as off)"
                    continue
                obs.no_data = True
                failures.append(f"{window.name}: job={job} ({component}) has no {criterion.metric} series in the "
                                "window (no data): the flags it ran with cannot be proven")
                continue
            shown = []
            scrapes = timeline.successful_scrapes(instances, start, end)
            for flag, expected in wanted.items():
                state = timeline.flag_state(instances, flags[job].get(flag, {}), expected, start, end, scrapes)
                obs.measure({"window": window.name, "job": job, "flag": flag, "expected": "on" if expected else "off"},
                            state.share, threshold=1.0, passed=state.bad == 0)
                shown.append(f"{flag} {'on' if expected else 'off'} {state.scrapes - state.bad}/{state.scrapes}")
                if state.bad:
                    failures.append(_flag_violation(window.name, job, flag, state))
            observed[f"{window.name} {job}"] = "; ".join(shown)
        _note_builds(probe, ctx, window, obs)
    obs.observed = observed
    return conclude(obs, failures, "every flag as expected at every successful scrape of both windows", probe)


Targets = dict[str, dict[str, Points]]  # job -> target -> points


def _flag_selector(metric: str, job: str) -> str:
    try:
        return promql.add_matchers(metric, {"job": job})
    except promql.PromQLError as exc:
        raise EvaluationError(f"the flag metric {metric!r} must be a series selector: {exc}") from None


def _targets_and_flags(up: list[RangeSeries], flag_series: list[RangeSeries], flag_label: str
                       ) -> tuple[Targets, dict[str, dict[str, dict[str, list[Points]]]]]:
    """`up` points per job and target, and per job, flag and target the flag series that target exported.

    A target is its `up` series' whole label set (two targets with one `instance` label in two clusters are
    two targets); a flag series belongs to the target whose labels it carries, whatever labels it adds."""
    parts: dict[str, dict[str, list[Points]]] = {}
    identities: dict[str, list[tuple[str, set[tuple[str, str]]]]] = {}
    for series in up:
        labels = {k: v for k, v in series.labels.items() if k != "__name__"}
        job, name = labels.get("job", ""), _target_name(labels)
        parts.setdefault(job, {}).setdefault(name, []).append(series.points)
        identities.setdefault(job, []).append((name, set(labels.items())))
    targets: Targets = {job: {name: samples.in_time_order(found) for name, found in by_target.items()}
                        for job, by_target in parts.items()}
    flags: dict[str, dict[str, dict[str, list[Points]]]] = {}
    for series in flag_series:
        labels = {k: v for k, v in series.labels.items() if k not in ("__name__", flag_label)}
        job, flag = labels.get("job", ""), series.labels.get(flag_label, "")
        for name, identity in identities.get(job, []):
            if identity <= set(labels.items()):
                flags.setdefault(job, {}).setdefault(flag, {}).setdefault(name, []).append(series.points)
    return targets, flags


def _target_name(labels: dict[str, str]) -> str:
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("job", "instance"))
    return labels.get("instance", "") + (f" ({rest})" if rest else "")


def _flag_violation(window: str, job: str, flag: str, state: timeline.FlagState) -> str:
    what = []
    if state.wrong:
        what.append(f"{'off' if state.expected else 'on'} at {state.wrong}")
    if state.missing:
        what.append(f"not exported at {state.missing}")
    first, last = state.first or 0.0, state.last or 0.0  # set whenever a scrape was bad
    return (f"{window}: {flag} should be {'on' if state.expected else 'off'} for job={job}, but was "
            f"{' and '.join(what)} of {state.scrapes} successful scrape(s), from {format_time(_at(first))} "
            f"to {format_time(_at(last))} (instances {', '.join(sorted(state.instances))})")


def _note_builds(probe: Probe, ctx: GateContext, window: Window, obs: Observation) -> None:
    """The versions each component reported in the window, as evidence (they decide nothing)."""
    criterion_builds = []
    for component, job in ctx.component_jobs.items():
        metric = f"{component}_build_info"
        result = probe.over(f"count by (version, revision) (count_over_time({metric}[$W]))", window)
        versions = sorted(f"{s.labels.get('version', '?')} ({s.labels.get('revision', '?')})" for s in result.series)
        criterion_builds.append(f"{job}: {', '.join(versions) if versions else f'no {metric}'}")
    obs.notes.append(f"{window.name} builds: {'; '.join(criterion_builds)}")
