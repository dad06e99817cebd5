"""One function per criterion kind: ask Prometheus and the endpoints, return an Observation.

Checks never pass on missing data: an empty result, NaN, a zero denominator or a missing job is a failure
that says "no data" and names what was missing. Evaluation problems (Prometheus down, an endpoint
unreachable, a query error) propagate as EvaluationError and become an ERROR verdict.
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeGuard

import requests

from wavegate import criteria as c
from wavegate.context import GateContext, Probe
from wavegate.endpoints import Scrape
from wavegate.errors import EvaluationError, ScrapeFailed
from wavegate.exposition import lint
from wavegate.settings import format_duration, redact_url
from wavegate.verdicts import Observation, render

EPSILON = 1e-9


def _finite(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def _verdict(observation: Observation, failures: list[str], ok: str) -> Observation:
    """Fill in the summary from the list of violations (empty = passed); the first violation is the worst
    offender unless the check named one."""
    observation.details.extend(failures)
    if failures and not observation.worst:
        observation.worst = failures[0]
    if failures and observation.passed:
        observation.passed = False
    if observation.passed:
        observation.summary = ok
    elif not observation.summary:
        observation.summary = failures[0] if failures else "failed"
    return observation


def _no_data(observation: Observation, what: str) -> Observation:
    observation.passed = False
    observation.no_data = True
    observation.summary = f"no data: {what}"
    return observation


def _le_regex(bound: float) -> str:
    """A regex for `le` matching both spellings of `bound` (Go prints 30, Python 30.0), escaped for a PromQL
    double-quoted string."""
    whole, _, fraction = repr(float(bound)).partition(".")
    fraction = fraction.rstrip("0")
    pattern = re.escape(f"{whole}.{fraction}") + "0*" if fraction else re.escape(whole) + r"(\.0+)?"
    return pattern.replace("\\", "\\\\")


def _samples(probe: Probe, selector: str, window_seconds: float, at: Any) -> int | None:
    result = probe.at(f"sum(count_over_time({selector}[{format_duration(window_seconds)}]))", at)
    value = result.scalar()
    return int(value) if _finite(value) else None


# -- memory ---------------------------------------------------------------------------------------------
def queue_bound(criterion: c.QueueBound, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    result = probe.over(f"max by ({criterion.group_label}) (max_over_time({criterion.metric}[$W]))", window)
    obs = Observation(passed=True, summary="", unit="tasks", window=window)
    obs.samples = _samples(probe, criterion.metric, window.seconds, window.end)
    observed = {s.labels.get(criterion.group_label, ""): s.value for s in result.series}
    if not observed:
        return probe.finish(_no_data(obs, f"{criterion.metric} has no series in the candidate window"))
    limits = {pool: criterion.limits.get(pool, criterion.default_limit) for pool in observed}
    obs.observed, obs.threshold = observed, {pool: f"<= {limit:g}" for pool, limit in limits.items()}
    failures = [
        f"{criterion.group_label}={pool}: queue depth reached {depth:g}, above max_queue_size {limits[pool]:g}"
        for pool, depth in observed.items()
        if not _finite(depth) or depth > limits[pool]
    ]
    worst = max(observed, key=lambda pool: observed[pool] / limits[pool] if limits[pool] else math.inf)
    obs.worst = f"{criterion.metric}{{{criterion.group_label}=\"{worst}\"}} max {observed[worst]:g} / {limits[worst]:g}"
    return probe.finish(_verdict(obs, failures, "every pool stayed within its max_queue_size"))


def memory_bound(criterion: c.MemoryBound, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    selector = f"{criterion.metric}{{{ctx.jobs_matcher()}}}"
    quarter = window.seconds / 4
    peak = probe.over(f"max by (job) (max_over_time({selector}[$W]))", window).by("job")
    first_q = f"avg by (job) (avg_over_time({selector}[{format_duration(quarter)}]))"
    first = probe.at(first_q, window.start + timedelta(seconds=quarter)).by("job")
    last = probe.at(first_q, window.end).by("job")
    obs = Observation(passed=True, summary="", unit="bytes", window=window)
    obs.notes.append(
        "growth = average over the last quarter of the window / average over the first quarter - 1"
    )
    failures, growth = [], {}
    for component, job in ctx.component_jobs.items():
        if job not in peak or job not in first or job not in last:
            failures.append(f"job={job} ({component}): no {criterion.metric} samples in the window (no data)")
            obs.no_data = True
            continue
        if not all(_finite(v) for v in (peak[job], first[job], last[job])):
            failures.append(f"job={job} ({component}): {criterion.metric} is not a finite number (no data)")
            obs.no_data = True
            continue
        if peak[job] > criterion.ceiling_bytes:
            failures.append(
                f"job={job}: peak {render(peak[job], 'bytes')} is above the ceiling "
                f"{render(criterion.ceiling_bytes, 'bytes')}"
            )
        growth[job] = last[job] / first[job] - 1 if first[job] > 0 else math.inf
        if growth[job] > criterion.max_growth:
            failures.append(
                f"job={job}: memory grew {growth[job] * 100:.1f} % (first quarter avg "
                f"{render(first[job], 'bytes')} -> last quarter avg {render(last[job], 'bytes')}), "
                f"more than {criterion.max_growth * 100:g} %"
            )
    obs.observed = {job: f"peak {render(v, 'bytes')}, growth {growth.get(job, math.nan) * 100:.1f} %"
                    for job, v in peak.items()}
    obs.threshold = f"peak <= {render(criterion.ceiling_bytes, 'bytes')}, growth <= {criterion.max_growth * 100:g} %"
    if growth and not failures:
        worst = max(growth, key=lambda j: growth[j])
        obs.worst = f"{criterion.metric}{{job=\"{worst}\"}} growth {growth[worst] * 100:.1f} %"
    return probe.finish(_verdict(obs, failures, "memory stayed bounded for every component"))


# -- timeouts -------------------------------------------------------------------------------------------
def histogram_tail(criterion: c.HistogramTail, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    by_le = _bucket_counts(probe, criterion.histogram, window)
    obs = Observation(passed=True, summary="", unit="observations", window=window)
    obs.samples = _samples(probe, f"{criterion.histogram}_count", window.seconds, window.end)
    total = by_le.get(math.inf)
    if total is None:
        return probe.finish(_no_data(obs, f"{criterion.histogram}_bucket has no series in the candidate window"))
    if criterion.le not in by_le:
        return probe.finish(_no_data(
            obs, f"{criterion.histogram} has no le=\"{criterion.le:g}\" bucket; its buckets are "
            f"{', '.join(f'{b:g}' for b in sorted(by_le))}"))
    if not total > 0:
        return probe.finish(_no_data(obs, f"{criterion.histogram} recorded no observations in the window"))
    above = total - by_le[criterion.le]
    if not _finite(above):
        return probe.finish(_no_data(obs, f"{criterion.histogram} bucket counts are not finite ({above})"))
    obs.observed = above
    obs.threshold = f"<= {criterion.max_above:g} above {criterion.le:g} s"
    obs.details.append(f"{total:.6g} observations in the window, {above:.6g} above {criterion.le:g} s")
    failures = []
    if above > criterion.max_above + EPSILON:
        failures.append(f"{above:.6g} of {total:.6g} observations took longer than {criterion.le:g} s")
        worst = probe.over(
            f"topk(1, sum without (le) (increase({criterion.histogram}_bucket{{le=\"+Inf\"}}[$W])) - "
            f"sum without (le) (increase({criterion.histogram}_bucket{{le=~\"{_le_regex(criterion.le)}\"}}[$W])))",
            window,
        )
        if worst.series:
            obs.worst = f"{worst.series[0].describe()}: {worst.series[0].value:.6g} above {criterion.le:g} s"
    return probe.finish(_verdict(obs, failures, f"no observation above {criterion.le:g} s"))


def _bucket_counts(probe: Probe, histogram: str, window: Any) -> dict[float, float]:
    """Observations per bucket bound (cumulative, as exposed) over the window; "30" and "30.0" add up."""
    result = probe.over(f"sum by (le) (increase({histogram}_bucket[$W]))", window)
    counts: dict[float, float] = {}
    for series in result.series:
        try:
            bound = float(series.labels.get("le", "nan"))
        except ValueError:
            continue
        counts[bound] = counts.get(bound, 0.0) + series.value
    return counts


def _saturated(counts: dict[float, float], q: float) -> float | None:
    """The largest finite bound when quantile q lies above it (histogram_quantile would report that bound)."""
    finite = [b for b in counts if math.isfinite(b)]
    total = counts.get(math.inf)
    if not finite or not _finite(total):
        return None
    top = max(finite)
    return top if q * total > counts[top] + EPSILON else None


def series_tracked(criterion: c.SeriesTracked, ctx: GateContext) -> Observation:
    scrape = ctx.scrape_ok(criterion.component)
    probe, window = ctx.probe(), ctx.environment.candidate
    obs = Observation(passed=True, summary="", window=window)
    failures = []
    family = scrape.exposition.find(criterion.metric)
    if family is None:
        failures.append(f"{scrape.url} does not export {criterion.metric}")
    else:
        missing = [label for label in criterion.labels if label not in family.label_names()]
        if not family.samples:
            failures.append(f"{scrape.url} declares {criterion.metric} but exports no series of it")
        elif missing:
            failures.append(f"{scrape.url}: {criterion.metric} lacks label(s) {', '.join(missing)}")
    grouped = probe.over(f"count by ({', '.join(criterion.labels)}) (last_over_time({criterion.metric}[$W]))", window)
    obs.samples = _samples(probe, criterion.metric, window.seconds, window.end)
    obs.observed = f"{len(grouped.series)} label combinations in Prometheus"
    obs.threshold = f"exported with labels {', '.join(criterion.labels)} and present in Prometheus"
    if not grouped.series:
        obs.no_data = True
        failures.append(f"Prometheus has no {criterion.metric} series in the candidate window (no data)")
    for series in grouped.series:
        empty = [label for label in criterion.labels if not series.labels.get(label)]
        if empty:
            failures.append(f"Prometheus series of {criterion.metric} without {', '.join(empty)}: {series.describe()}")
            break
    return probe.finish(_verdict(obs, failures, f"{criterion.metric} is exported and tracked"))


# -- retries --------------------------------------------------------------------------------------------
def _weighted_rate(criterion: c.RetrySuccessRate, probe: Probe, window: Any) -> tuple[float | None, dict[str, Any]]:
    keys = "error_code, step_type"
    rates = probe.over(f"avg by ({keys}) (avg_over_time({criterion.gauge}[$W]))", window)
    weights = probe.over(f"sum by ({keys}) (increase({criterion.attempts}[$W]))", window)
    weight_of = {(s.labels.get("error_code"), s.labels.get("step_type")): s.value for s in weights.series}
    rows = []
    for series in rates.series:
        key = (series.labels.get("error_code"), series.labels.get("step_type"))
        weight = weight_of.get(key, 0.0)
        if _finite(series.value) and _finite(weight) and weight > 0:
            rows.append((key, series.value, weight))
    total = sum(w for _, _, w in rows)
    if not rows or total <= 0:
        return None, {"series": len(rates.series)}
    rate = sum(r * w for _, r, w in rows) / total
    worst = min(rows, key=lambda row: row[1])
    return rate, {
        "worst": f"{criterion.gauge}{{error_code=\"{worst[0][0]}\", step_type=\"{worst[0][1]}\"}} = "
        f"{worst[1]:.4g} over {worst[2]:.6g} attempts",
        "attempts": total,
    }


def retry_success_rate(criterion: c.RetrySuccessRate, ctx: GateContext) -> Observation:
    probe, env = ctx.probe(), ctx.environment
    obs = Observation(passed=True, summary="", unit="ratio", window=env.candidate)
    obs.notes.append(
        f"rate = average of {criterion.gauge} per (error_code, step_type), weighted by that pair's "
        f"increase({criterion.attempts}) in the window"
    )
    candidate, info = _weighted_rate(criterion, probe, env.candidate)
    if candidate is None:
        return probe.finish(_no_data(
            obs, f"{criterion.gauge} has no series with retry attempts in the candidate window"))
    obs.candidate = obs.observed = candidate
    obs.worst = info.get("worst")
    obs.samples = _samples(probe, criterion.gauge, env.candidate.seconds, env.candidate.end)
    failures = []
    threshold = f"> {criterion.minimum:g}"
    if not candidate > criterion.minimum:
        failures.append(
            f"retry success rate {render(candidate, 'ratio')} is not above {render(criterion.minimum, 'ratio')}")
    if criterion.beat_baseline:
        baseline, _ = _weighted_rate(criterion, probe, env.baseline)
        if baseline is None:
            obs.notes.append("the baseline window has no retry success rate (CP1 did not export it): "
                             "compared with the target only")
        else:
            obs.baseline = baseline
            threshold += f" and > baseline {baseline:.4g}"
            if not candidate > baseline:
                failures.append(
                    f"retry success rate {render(candidate, 'ratio')} did not improve on the baseline's "
                    f"{render(baseline, 'ratio')}")
    obs.threshold = threshold
    return probe.finish(_verdict(obs, failures, f"retry success rate {render(candidate, 'ratio')}"))


def ratio_below(criterion: c.RatioBelow, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    obs = Observation(passed=True, summary="", unit=criterion.unit, window=window)
    obs.threshold = f"< {render(criterion.maximum, criterion.unit)}"
    numerator = probe.over(criterion.numerator, window).scalar()
    denominator = probe.over(criterion.denominator, window).scalar()
    obs.details.append(f"numerator {numerator}, denominator {denominator}")
    if not _finite(denominator) or denominator == 0:
        return probe.finish(_no_data(obs, f"the denominator is {denominator} (zero or no series) in the window"))
    if not _finite(numerator):
        return probe.finish(_no_data(obs, "the numerator returned no series in the window"))
    ratio = numerator / denominator
    obs.observed = ratio
    failures = [] if ratio < criterion.maximum else [
        f"{render(ratio, criterion.unit)} is not below {render(criterion.maximum, criterion.unit)} "
        f"({numerator:.6g} / {denominator:.6g})"]
    return probe.finish(_verdict(obs, failures, f"{render(ratio, criterion.unit)}"))


def backoff_growth(criterion: c.BackoffGrowth, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    label = criterion.attempt_label
    result = probe.over(
        f"histogram_quantile({criterion.quantile}, sum by (le, {label}) (increase({criterion.histogram}_bucket[$W])))",
        window)
    obs = Observation(passed=True, summary="", unit="seconds", window=window)
    points = []
    for series in result.series:
        try:
            attempt = float(series.labels.get(label, ""))
        except ValueError:
            continue
        if _finite(series.value):
            points.append((attempt, series.labels.get(label, ""), series.value))
    points.sort()
    obs.observed = {f"{label}={name}": value for _, name, value in points}
    obs.threshold = f"x{criterion.min_growth:g} per attempt until {criterion.cap_seconds:g} s"
    if len(points) < criterion.min_attempts:
        return probe.finish(_no_data(
            obs, f"{len(points)} attempt(s) with backoff data, {criterion.min_attempts} needed to judge growth"))
    failures = []
    numbers = [attempt for attempt, _, _ in points]
    gaps = [f"{label}={n:g}" for n in range(int(numbers[0]), int(numbers[-1])) if n not in numbers]
    if gaps:
        # Comparing attempt 3 with attempt 1 would ask x1.5 of two steps: a missing attempt is no data.
        failures.append(f"no backoff data for {', '.join(gaps)} between the attempts that have it")
        obs.no_data = True
    for (_, previous_name, previous), (_, name, current) in zip(points, points[1:], strict=False):
        if previous >= criterion.cap_seconds - EPSILON:
            obs.notes.append(f"growth not required after {label}={previous_name}: backoff reached the cap")
            break
        if current >= criterion.cap_seconds - EPSILON:
            continue
        growth = current / previous if previous > 0 else math.inf
        if growth < criterion.min_growth:
            failures.append(
                f"{label}={name}: median backoff {current:.4g} s is only x{growth:.2f} of {label}={previous_name}'s "
                f"{previous:.4g} s (need x{criterion.min_growth:g})")
    return probe.finish(_verdict(obs, failures, "backoff grows exponentially per attempt"))


# -- availability ---------------------------------------------------------------------------------------
def uptime(criterion: c.Uptime, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    selector = f"up{{{ctx.jobs_matcher()}}}"
    # Per job, its worst instance: one instance down for a day is not hidden by a healthy twin.
    average = probe.over(f"min by (job) (avg_over_time({selector}[$W]))", window).by("job")
    counts = probe.over(f"min by (job) (count_over_time({selector}[$W]))", window).by("job")
    interval = ctx.environment.prometheus.scrape_interval
    expected = window.seconds / interval
    obs = Observation(passed=True, summary="", unit="ratio", window=window)
    obs.observed = average
    obs.threshold = (f">= {criterion.minimum * 100:g} % up, >= {criterion.min_coverage * 100:g} % of "
                     f"{expected:.0f} expected scrapes ({format_duration(interval)} interval)")
    obs.samples = int(sum(counts.values())) if counts else 0
    failures = []
    for component, job in ctx.component_jobs.items():
        if job not in average:
            failures.append(f"job={job} ({component}): no `up` samples in the window (no data)")
            obs.no_data = True
            continue
        if not _finite(average[job]) or not average[job] >= criterion.minimum:
            failures.append(f"job={job} ({component}): up {average[job] * 100:.3f} % of the window, "
                            f"below {criterion.minimum * 100:g} %")
        coverage = counts.get(job, 0) / expected if expected else 0
        if coverage < criterion.min_coverage:
            failures.append(f"job={job} ({component}): only {counts.get(job, 0):.0f} of {expected:.0f} expected "
                            f"scrapes ({coverage * 100:.1f} %); a gap in the data is not uptime")
    if average:
        worst = min(average, key=lambda j: average[j])
        obs.worst = f"up{{job=\"{worst}\"}} {average[worst] * 100:.3f} %"
    return probe.finish(_verdict(obs, failures, "every component met the uptime target"))


def _restarts(ctx: GateContext, probe: Probe, metric: str, window: Any) -> dict[str, float]:
    result = probe.over(f"sum by (job) (changes({metric}{{{ctx.jobs_matcher()}}}[$W]))", window)
    return result.by("job")


def no_restarts(criterion: c.NoRestarts, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    changes = _restarts(ctx, probe, criterion.metric, window)
    obs = Observation(passed=True, summary="", unit="restarts", window=window, observed=changes, threshold="0")
    failures = []
    for component, job in ctx.component_jobs.items():
        if job not in changes:
            obs.no_data = True
            failures.append(f"job={job} ({component}): no {criterion.metric} samples in the window (no data)")
        elif changes[job] > 0:
            failures.append(f"job={job} ({component}) restarted {changes[job]:g} time(s) "
                            f"({criterion.metric} changed)")
    return probe.finish(_verdict(obs, failures, "no component restarted"))


def graceful_degradation(criterion: c.GracefulDegradation, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    status = probe.over(f"max by (resource_pool) (max_over_time({criterion.status_metric}[$W]))", window)
    obs = Observation(passed=True, summary="", window=window)
    peaks = status.by("resource_pool")
    obs.observed = {pool: f"max status {value:g}" for pool, value in peaks.items()}
    obs.threshold = "rejections > 0 for every pool that was critical, and 0 restarts"
    if not peaks:
        return probe.finish(_no_data(obs, f"{criterion.status_metric} has no series in the candidate window"))
    unreadable = [pool for pool, value in peaks.items() if not _finite(value)]
    if unreadable:
        return probe.finish(_no_data(obs, f"{criterion.status_metric} is not a number for {', '.join(unreadable)}"))
    critical = [pool for pool, value in peaks.items() if value >= criterion.critical_value]
    if not critical:
        obs.vacuous = True
        obs.notes.append(f"no pool reached critical ({criterion.critical_value:g}); the criteria file says a "
                         f"vacuous window is a {criterion.vacuous}")
        if criterion.vacuous == "fail":
            obs.passed = False
            obs.summary = "vacuous: no pool was critical, and the criteria file requires a critical episode"
            return probe.finish(obs)
        obs.summary = "vacuous: no pool was critical in the window"
        return probe.finish(obs)
    rejected = probe.over(f"sum by (resource_pool) (increase({criterion.rejections}[$W]))", window).by(
        "resource_pool")
    failures = [
        f"resource_pool={pool} was critical but {criterion.rejections} did not increase "
        f"({rejected.get(pool, 'no series')})"
        for pool in critical if not rejected.get(pool, 0) > 0
    ]
    restarts = _restarts(ctx, probe, criterion.restarts_metric, window)
    missing = [job for job in ctx.component_jobs.values() if job not in restarts]
    if missing:
        obs.no_data = True
        failures.append(f"no {criterion.restarts_metric} samples for job(s) {', '.join(missing)} (no data)")
    failures += [f"job={job} restarted {n:g} time(s) while pools were critical"
                 for job, n in restarts.items() if n > 0]
    obs.details.append(f"critical pools: {', '.join(critical)}; rejections: {rejected}")
    return probe.finish(_verdict(obs, failures, f"critical pools {', '.join(critical)} degraded gracefully"))


# -- coverage -------------------------------------------------------------------------------------------
def endpoints_exported(criterion: c.EndpointsExported, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="")
    failures, unreachable, observed = [], [], {}
    for component in ctx.environment.components:
        try:
            scrape = ctx.scrape(component)
        except ScrapeFailed as exc:
            unreachable.append(str(exc))
            observed[component] = "unreachable"
            continue
        observed[component] = f"HTTP {scrape.status}, {len(scrape.exposition.families)} families"
        if not scrape.ok:
            failures.append(f"{scrape.url} answered HTTP {scrape.status}, not 200")
        elif scrape.exposition.problems:
            first = scrape.exposition.problems[0]
            failures.append(f"{scrape.url} is not a parseable exposition: {first} "
                            f"({len(scrape.exposition.problems)} problem(s))")
        elif not scrape.exposition.families:
            failures.append(f"{scrape.url} answered 200 with no metrics at all")
    # An endpoint that answers wrongly is a violation; one that cannot be reached at all may be the gate's
    # configuration as much as the component, so alone it is an ERROR (a violation elsewhere still wins).
    _raise_unreachable_unless_violated(unreachable, failures)
    obs.observed, obs.threshold = observed, "HTTP 200 and a parseable Prometheus text exposition"
    return _verdict(obs, failures + unreachable, "every component exports its metrics")


def _raise_unreachable_unless_violated(unreachable: list[str], failures: list[str]) -> None:
    if unreachable and not failures:
        raise ScrapeFailed("; ".join(unreachable))


def _required_in_scrapes(ctx: GateContext) -> list[tuple[str, str, c.MetricSpec, Scrape]]:
    return [(component, name, spec, ctx.scrape_ok(component)) for component, name, spec in ctx.contract.required()]


def required_metrics(criterion: c.RequiredMetrics, ctx: GateContext) -> Observation:
    rows = _required_in_scrapes(ctx)
    probe, window = ctx.probe(), ctx.environment.candidate
    obs = Observation(passed=True, summary="", window=window)
    failures, present = [], {}
    for component, name, spec, scrape in rows:
        exported = scrape.exposition.find(name) is not None
        series_name = f"{name}_count" if spec.type == "histogram" else name
        in_prometheus = probe.over(f"count(last_over_time({series_name}[$W]))", window).scalar()
        stored = _finite(in_prometheus) and (in_prometheus or 0) > 0
        present[name] = f"{'exported' if exported else 'NOT exported'}, " \
                        f"{'in Prometheus' if stored else 'NOT in Prometheus'}"
        if not exported:
            failures.append(f"{component} ({scrape.url}) does not export {name}")
        if not stored:
            failures.append(f"Prometheus has no {series_name} series in the candidate window")
    obs.observed = present
    obs.threshold = f"all {len(rows)} required metrics exported and stored"
    return probe.finish(_verdict(obs, failures, f"all {len(rows)} required metrics present"))


def required_labels(criterion: c.RequiredLabels, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="")
    failures, observed = [], {}
    for component, name, spec, scrape in _required_in_scrapes(ctx):
        family = scrape.exposition.find(name)
        if family is None:
            failures.append(f"{component} does not export {name}, so its labels cannot be checked")
            continue
        if not family.samples:
            failures.append(f"{component} exports {name} without any series; its labels cannot be checked")
            continue
        observed[name] = sorted(family.label_names())
        for sample in family.samples:
            missing = [label for label in spec.labels if label not in sample.labels]
            if missing:
                failures.append(f"{scrape.url} line {sample.line}: {sample.name} lacks {', '.join(missing)}")
                break
        extra = family.label_names() - set(spec.labels) - set(spec.optional_labels)
        if extra:
            obs.notes.append(f"{name} also carries {', '.join(sorted(extra))} (not in the contract)")
    obs.observed = {name: ", ".join(labels) or "(none)" for name, labels in observed.items()}
    obs.threshold = "the contract's required label names on every series"
    return _verdict(obs, failures, "every required metric carries its required labels")


# -- integration ----------------------------------------------------------------------------------------
def targets_up(criterion: c.TargetsUp, ctx: GateContext) -> Observation:
    ctx.ensure_prometheus()
    targets = ctx.prometheus.targets()
    obs = Observation(passed=True, summary="")
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
        if not members:
            failures.append(f"job={job}: no active target in Prometheus (is it in the scrape config?)")
        for target in members:
            if target.get("health") != "up":
                failures.append(f"job={job} target {target.get('scrapeUrl')} is {target.get('health')}: "
                                f"{target.get('lastError') or 'no error text'}")
    obs.observed, obs.threshold = observed, "every target of every expected job up"
    obs.queries = [{"query": "GET /api/v1/targets?state=active", "time": "now",
                    "result": [{"job": (t.get("labels") or {}).get("job"), "instance":
                                (t.get("labels") or {}).get("instance"), "health": t.get("health"),
                                "lastError": t.get("lastError")} for t in targets], "warnings": []}]
    return _verdict(obs, failures, "all expected targets are up")


def scrape_success(criterion: c.ScrapeSuccess, ctx: GateContext) -> Observation:
    probe = ctx.probe()
    lookback = format_duration(criterion.lookback)
    now = ctx.now
    jobs = [ctx.environment.prometheus.job if job == "prometheus" else ctx.component_jobs.get(job, job)
            for job in criterion.jobs]
    minimum = probe.at(f"min by (job) (min_over_time(up{{{ctx.jobs_matcher(jobs)}}}[{lookback}]))", now).by("job")
    obs = Observation(passed=True, summary="", observed=minimum,
                      threshold=f"min up == 1 over the last {lookback} for {', '.join(jobs)}; 0 limit hits")
    obs.notes.append(f"evaluated at run time {now:%Y-%m-%dT%H:%M:%SZ} over the last {lookback}")
    failures = []
    for job in jobs:
        if job not in minimum:
            obs.no_data = True
            failures.append(f"job={job}: no `up` samples in the last {lookback} (no data)")
        elif minimum[job] < 1:
            failures.append(f"job={job}: at least one scrape failed in the last {lookback}")
    self_job = ctx.environment.prometheus.job
    for counter in criterion.limit_counters:
        hits = probe.at(f"sum(increase({counter}{{job=\"{self_job}\"}}[{lookback}]))", now).scalar()
        if not _finite(hits):
            obs.no_data = True
            failures.append(f"{counter}{{job=\"{self_job}\"}} has no samples (no data): is Prometheus "
                            "scraping itself under that job?")
        elif hits and hits > 0:
            failures.append(f"{hits:g} scrape(s) hit a limit in the last {lookback} ({counter})")
    return probe.finish(_verdict(obs, failures, f"every job scraped successfully for {lookback}"))


# -- quality --------------------------------------------------------------------------------------------
def label_cardinality(criterion: c.LabelCardinality, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="", unit="series")
    failures: list[str] = []
    series_warnings: list[str] = []
    largest: dict[str, int] = {}
    for component in ctx.environment.components:
        scrape = ctx.scrape_ok(component)
        for family in scrape.exposition.families.values():
            count = family.series_count()
            largest[f"{component}/{family.name}"] = count
            where = f"{scrape.url} {family.name}"
            if count > criterion.max_series:
                failures.append(f"{where}: {count} series, above {criterion.max_series}")
            elif count > criterion.warn_series:
                series_warnings.append(f"{where}: {count} series (warning above {criterion.warn_series})")
            labels = family.label_names()
            for label in criterion.forbidden_labels:
                if label in labels:
                    failures.append(f"{where} carries {label}, which no metric may carry")
            if not _detailed(ctx, family.name):
                high = sorted(set(criterion.high_cardinality_labels) & labels)
                if high:
                    failures.append(f"{where} is an aggregate metric but carries {', '.join(high)}")
    probe, window = ctx.probe(), ctx.environment.candidate
    stored = {}
    for _, name, spec in ctx.contract.required():
        series_name = f"{name}_bucket" if spec.type == "histogram" else name
        value = probe.over(f"count(last_over_time({series_name}[$W]))", window).scalar()
        stored[series_name] = int(value) if _finite(value) else 0
        if stored[series_name] > criterion.max_series:
            failures.append(f"Prometheus holds {stored[series_name]} series of {series_name}, above "
                            f"{criterion.max_series}")
        elif stored[series_name] > criterion.warn_series:
            series_warnings.append(f"Prometheus holds {stored[series_name]} series of {series_name}")
    try:
        head = ctx.prometheus.tsdb_status().get("seriesCountByMetricName") or []
        obs.notes.append("TSDB head, top series: " + ", ".join(f"{i.get('name')}={i.get('value')}" for i in head[:5]))
    except EvaluationError as exc:  # the head summary is evidence only, never a verdict
        obs.notes.append(f"TSDB status unavailable: {exc}")
    top = sorted(largest.items(), key=lambda item: -item[1])[:5]
    most_stored = sorted(stored.items(), key=lambda item: -item[1])[:5]
    obs.observed = {"largest scraped": ", ".join(f"{k}={v}" for k, v in top),
                    "stored in window": ", ".join(f"{k}={v}" for k, v in most_stored)}
    obs.threshold = f"<= {criterion.max_series} series per metric (warning at {criterion.warn_series}); " \
                    f"{', '.join(criterion.high_cardinality_labels)} only on detailed metrics; " \
                    f"{', '.join(criterion.forbidden_labels)} nowhere"
    # Series-count warnings are evidence for the reviewer, not Prometheus warnings that fail the criterion.
    obs.notes.extend(f"cardinality warning: {warning}" for warning in series_warnings)
    return probe.finish(_verdict(obs, failures, "label cardinality within limits"))


def _detailed(ctx: GateContext, family: str) -> bool:
    # prometheus_client exports `x_created` as a gauge family of its own beside counter `x_total` and
    # histogram `x`: it carries the parent's labels, so it is as detailed as its parent.
    base = family.removesuffix("_created")
    return any(ctx.contract.is_detailed(name) for name in (family, base, f"{base}_total"))


def metric_types(criterion: c.MetricTypes, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="")
    failures, observed = [], {}
    for component, name, spec, scrape in _required_in_scrapes(ctx):
        family = scrape.exposition.find(name)
        if family is None:
            failures.append(f"{component} does not export {name} (expected {spec.type})")
            continue
        observed[name] = family.type
        if family.type != spec.type:
            failures.append(f"{scrape.url} line {family.type_line}: {name} has TYPE {family.type}, "
                            f"the contract says {spec.type}")
        if spec.buckets is not None and family.type == "histogram":
            actual = tuple(family.bucket_bounds())
            if [round(b, 9) for b in actual] != [round(b, 9) for b in spec.buckets]:
                failures.append(f"{name} buckets are {', '.join(f'{b:g}' for b in actual)}; the contract says "
                                f"{', '.join(f'{b:g}' for b in spec.buckets)}")
    obs.observed, obs.threshold = observed, "TYPE and buckets as in the contract"
    return _verdict(obs, failures, "every required metric has the contract's type")


def exposition_format(criterion: c.ExpositionFormat, ctx: GateContext) -> Observation:
    obs = Observation(passed=True, summary="")
    failures, observed = [], {}
    for component in ctx.environment.components:
        scrape = ctx.scrape_ok(component)
        problems = list(scrape.exposition.problems) + lint(scrape.exposition)
        observed[component] = f"{len(problems)} problem(s)"
        failures += [f"{scrape.url} {problem}" for problem in problems]
    obs.observed, obs.threshold = observed, "0 parse or lint problems"
    return _verdict(obs, failures, "every exposition is valid and lint-clean")


# -- performance ----------------------------------------------------------------------------------------
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


def latency_increase(criterion: c.LatencyIncrease, ctx: GateContext) -> Observation:
    probe = ctx.probe()
    obs = Observation(passed=True, summary="", unit="seconds", window=ctx.environment.candidate)
    obs.notes.append(f"baseline window: {ctx.environment.baseline.describe()}")
    failures, baseline, candidate, changes = [], {}, {}, {}
    env = ctx.environment
    windows = (env.baseline, env.candidate)
    for histogram in criterion.histograms:
        # histogram_quantile reports the largest finite bound for a quantile in the +Inf bucket: a p99 that
        # went from 4 s to 60 s would read 5 s. The bucket counts tell when that happens.
        counts = {w.name: _bucket_counts(probe, histogram, w) for w in windows}
        for q in criterion.quantiles:
            key = f"{histogram} p{q * 100:g}"
            before, after = _compare_windows(
                probe, ctx, f"histogram_quantile({q}, sum by (le) (increase({histogram}_bucket[$W])))")
            baseline[key], candidate[key] = before, after
            capped = {w: _saturated(counts[w.name], q) for w in windows}
            if capped[env.candidate] is not None:
                failures.append(f"{key}: the candidate quantile lies above the largest finite bucket "
                                f"({capped[env.candidate]:g} s), so its value is unknown and may be far higher")
                continue
            if capped[env.baseline] is not None:
                obs.no_data = True
                failures.append(f"{key}: the baseline quantile lies above the largest finite bucket "
                                f"({capped[env.baseline]:g} s); no increase can be computed")
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
            if changes[key] >= criterion.max_increase:
                failures.append(f"{key}: {before:.6g} s -> {after:.6g} s, +{changes[key] * 100:.2f} % "
                                f"(limit < +{criterion.max_increase * 100:g} %)")
    obs.baseline, obs.candidate = baseline, candidate
    obs.observed = {key: f"{value * 100:+.2f} %" for key, value in changes.items()}
    obs.threshold = f"< +{criterion.max_increase * 100:g} % for every quantile"
    if changes:
        worst = max(changes, key=lambda k: changes[k])
        obs.worst = f"{worst}: {changes[worst] * 100:+.2f} %"
    return probe.finish(_verdict(obs, failures, "no latency quantile grew by the limit"))


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
        if after < floor:
            failures.append(f"{counter}: {after:.4g}/s in the candidate window, below {floor:.4g}/s "
                            f"(baseline {before:.4g}/s - {criterion.tolerance * 100:g} %)")
    obs.baseline, obs.candidate = baseline, candidate
    obs.observed = {}
    for counter, before in baseline.items():
        after = candidate.get(counter)
        obs.observed[counter] = f"{(after / before - 1) * 100:+.2f} %" if before and after is not None else "n/a"
    obs.threshold = f">= baseline - {criterion.tolerance * 100:g} %"
    return probe.finish(_verdict(obs, failures, "throughput neutral or better"))


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
                response = session.get(settings.metrics_url, timeout=settings.timeout)
                _ = response.content
            except requests.RequestException as exc:
                unreachable.append(f"{component} metrics endpoint {shown} did not answer "
                                   f"({type(exc).__name__}); check components.{component}.metrics_url")
                break
            timings.append(time.perf_counter() - started)
            if response.status_code != 200:
                failures.append(f"{shown} answered HTTP {response.status_code}")
                break
        if len(timings) == criterion.requests:
            medians[component] = statistics.median(timings)
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
    return _verdict(obs, failures, "every endpoint answers quickly")


# -- errors ---------------------------------------------------------------------------------------------
def error_ratio(criterion: c.ErrorRatio, ctx: GateContext) -> Observation:
    probe, env = ctx.probe(), ctx.environment
    obs = Observation(passed=True, summary="", unit="ratio", window=env.candidate)
    obs.notes.append(f"baseline window: {env.baseline.describe()}")
    failures: list[str] = []
    ratios: dict[str, dict[str, float]] = {"baseline": {}, "candidate": {}}
    for component, query in criterion.ratios.items():
        for window in (env.baseline, env.candidate):
            numerator = probe.over(query.numerator, window).scalar()
            denominator = probe.over(query.denominator, window).scalar()
            if not _finite(denominator) or not denominator:
                failures.append(f"{component}: no data in the {window.name} window (denominator {denominator})")
                obs.no_data = True
                continue
            if not _finite(numerator):
                failures.append(f"{component}: the error counter has no series in the {window.name} window; "
                                "initialise error counters to 0 so that no errors is not missing data")
                obs.no_data = True
                continue
            ratios[window.name][component] = numerator / denominator
        before, after = ratios["baseline"].get(component), ratios["candidate"].get(component)
        if before is not None and after is not None and after > before * (1 + criterion.tolerance) + EPSILON:
            failures.append(f"{component}: error ratio {render(after, 'ratio')} in the candidate window, above "
                            f"baseline {render(before, 'ratio')} + {criterion.tolerance * 100:g} %")
    obs.baseline, obs.candidate = ratios["baseline"], ratios["candidate"]
    obs.observed = ratios["candidate"]
    obs.threshold = f"<= baseline x {1 + criterion.tolerance:g}"
    return probe.finish(_verdict(obs, failures, "no component's error ratio rose"))


# What each kind reads besides its own judging: `preflight` fetches it during test setup, so an
# unreachable input is an ERROR before the check runs. Kinds that judge reachability itself
# (endpoints_exported, endpoint_latency) read nothing up front.
_READS_PROMETHEUS = {
    "queue_bound", "memory_bound", "histogram_tail", "series_tracked", "retry_success_rate", "ratio_below",
    "backoff_growth", "uptime", "no_restarts", "graceful_degradation", "required_metrics", "targets_up",
    "scrape_success", "label_cardinality", "latency_increase", "throughput", "error_ratio",
}
_READS_SCRAPES = {"required_metrics", "required_labels", "label_cardinality", "metric_types", "exposition_format"}


def preflight(kind: str, ctx: GateContext) -> None:
    """Make sure the inputs of a criterion kind are reachable; raise EvaluationError naming the one that is not."""
    if kind in _READS_PROMETHEUS:
        ctx.ensure_prometheus()
    if kind in _READS_SCRAPES:
        for component in ctx.environment.components:
            ctx.scrape_ok(component)


CHECKS: dict[str, Callable[[Any, GateContext], Observation]] = {
    "queue_bound": queue_bound,
    "memory_bound": memory_bound,
    "histogram_tail": histogram_tail,
    "series_tracked": series_tracked,
    "retry_success_rate": retry_success_rate,
    "ratio_below": ratio_below,
    "backoff_growth": backoff_growth,
    "uptime": uptime,
    "no_restarts": no_restarts,
    "graceful_degradation": graceful_degradation,
    "endpoints_exported": endpoints_exported,
    "required_metrics": required_metrics,
    "required_labels": required_labels,
    "targets_up": targets_up,
    "scrape_success": scrape_success,
    "label_cardinality": label_cardinality,
    "metric_types": metric_types,
    "exposition_format": exposition_format,
    "latency_increase": latency_increase,
    "throughput": throughput,
    "endpoint_latency": endpoint_latency,
    "error_ratio": error_ratio,
}


def evaluate(criterion: Any, ctx: GateContext) -> Observation:
    """Judge one criterion with the check of its kind."""
    return CHECKS[criterion.kind](criterion, ctx)
