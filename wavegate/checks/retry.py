"""Retry efficiency: success rate, wasted retries on non-retryable errors, exponential backoff."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from wavegate import criteria as c
from wavegate import samples, stats
from wavegate.checks.common import (
    EPSILON,
    _counted,
    _finite,
    _samples,
    bucket_quantile,
    conclude,
    no_data,
)
from wavegate.checks.tracks import judge_interval
from wavegate.context import GateContext, Probe
from wavegate.settings import Window, format_duration
from wavegate.verdicts import Observation, render

_PAIR = ("job", "instance", "error_code", "step_type")


@dataclass
class _Rate:
    """The attempt-weighted success rate of one window, or the reasons it cannot be computed."""

    value: float | None = None
    attempts: float = 0.0
    problems: list[str] = field(default_factory=list)
    worst: str | None = None
    pairs: int = 0


def _pair_text(key: tuple[str, ...]) -> str:
    return ", ".join(f'{name}="{value}"' for name, value in zip(_PAIR, key, strict=True) if value)


def _weighted_rate(criterion: c.RetrySuccessRate, probe: Probe, window: Window, obs: Observation) -> _Rate:
    """Each (instance, error_code, step_type) pair with attempts in the window weighs its success-rate gauge
    (plain mean of its samples) by those attempts. A pair with attempts but no gauge, NaN gauge samples or a
    gauge outside 0..1 makes the rate uncomputable: no pair is dropped silently."""
    weights = probe.over(f"sum by ({', '.join(_PAIR)}) (increase({criterion.attempts}[$W]))", window)
    gauges: dict[tuple[str, ...], list[float]] = {}
    readable: dict[tuple[str, ...], set[float]] = {}
    for series in probe.samples(criterion.gauge, window):
        key = tuple(series.labels.get(name, "") for name in _PAIR)
        gauges.setdefault(key, []).extend(samples.values_of(series.points))
        readable.setdefault(key, set()).update(samples.finite_times(series.points))
    dropped = _gauge_missing(probe, criterion, window, readable)
    rate = _Rate()
    rows = []
    for row in weights.series:
        key = tuple(row.labels.get(name, "") for name in _PAIR)
        attempts = row.value
        if not _finite(attempts):
            rate.problems.append(f"{criterion.attempts}{{{_pair_text(key)}}} is {attempts} (no data)")
            continue
        if attempts <= 0:
            continue
        values = gauges.get(key)
        where = f"{criterion.gauge}{{{_pair_text(key)}}}"
        if not values:
            rate.problems.append(f"no data for {where}: {attempts:.6g} attempts in the {window.name} window but "
                                 "no success-rate sample")
        elif samples.any_not_finite(values):
            rate.problems.append(f"no data for {where}: {sum(not math.isfinite(v) for v in values)} NaN sample(s) "
                                 f"in the {window.name} window, with {attempts:.6g} attempts")
        elif dropped.get(key):
            rate.problems.append(
                f"no data for {where}: no sample at {dropped[key]} scrape(s) of the pair's attempts in the "
                f"{window.name} window after the gauge was set, with {attempts:.6g} attempts (a NaN, which "
                "VictoriaMetrics drops on ingestion, or a gauge no longer exported)")
        elif min(values) < 0 or max(values) > 1:  # every value finite here
            rate.problems.append(f"data error: {where} is outside 0..1 (max {max(values):g}) in the {window.name} "
                                 "window; a success rate is a ratio, not a percentage")
        else:
            rows.append((key, statistics.fmean(values), attempts))
    rate.pairs = len(rows)
    total = sum(w for _, _, w in rows)
    rate.attempts = total
    if rows and total > 0 and not rate.problems:
        rate.value = sum(r * w for _, r, w in rows) / total
        worst = min(rows, key=lambda row: row[1])
        rate.worst = f"{criterion.gauge}{{{_pair_text(worst[0])}}} = {worst[1]:.4g} over {worst[2]:.6g} attempts"
    if window.name == "candidate":
        # Each pair is shown (attempts in `candidate`), not judged: the criterion judges the weighted mean.
        for key, value, attempts in rows:
            obs.measure(dict(zip(_PAIR, key, strict=True)), value, unit="ratio", candidate=attempts)
    return rate


def _gauge_missing(probe: Probe, criterion: c.RetrySuccessRate, window: Window,
                   readable: dict[tuple[str, ...], set[float]]) -> dict[tuple[str, ...], int]:
    """Per pair: the scrapes in the window where its attempts counter is above 0, its gauge had been set
    before, and the gauge has no finite sample. The gauge is created at a pair's first attempt, so it is
    looked for only once it was seen; a NaN (0/0, or a broken computation) is a missing sample in a backend
    that drops NaN samples on ingestion, and a NaN sample where it keeps them (counted separately)."""
    scraped: dict[tuple[str, ...], set[float]] = {}
    for series in probe.samples(criterion.attempts, window):
        key = tuple(series.labels.get(name, "") for name in _PAIR)
        scraped.setdefault(key, set()).update(samples.positive_times(series.points))
    # Set before the window (a NaN then is invisible in a backend that drops it): looked for over a few scrapes.
    lookback = max(600.0, 10 * probe.context.environment.prometheus.scrape_interval)
    earlier = probe.at(f"last_over_time({criterion.gauge}[{format_duration(lookback)}] offset "
                       f"{format_duration(window.seconds)})", window.end, track=window.matchers)
    set_before = {tuple(s.labels.get(name, "") for name in _PAIR) for s in earlier.series}
    missing = {}
    for key, times in scraped.items():
        seen = readable.get(key, set())
        if key in set_before or seen:
            since = -math.inf if key in set_before else min(seen)
            missing[key] = sum(1 for t in times - seen if t > since)
    return missing


def _baseline_rate(criterion: c.RetrySuccessRate, probe: Probe, window: Window, obs: Observation,
                   failures: list[str], where: str) -> _Rate | None:
    """The rate to beat (set as the observation's baseline), or None: its problems added to `failures`, or a note
    that `where` has no rate (CP1 did not export it) and only the target applies."""
    rate = _weighted_rate(criterion, probe, window, obs)
    if rate.problems:
        obs.no_data = True
        failures += rate.problems
        return None
    if rate.value is None:
        obs.notes.append(f"{where} has no retry success rate (CP1 did not export it): compared with the target only")
        return None
    obs.baseline = rate.value
    return rate


def retry_success_rate(criterion: c.RetrySuccessRate, ctx: GateContext) -> Observation:
    probe, env = ctx.probe(), ctx.environment
    obs = Observation(passed=True, summary="", unit="ratio", window=env.candidate)
    obs.notes.append(
        f"rate = mean of {criterion.gauge} per (instance, error_code, step_type), weighted by that pair's "
        f"{criterion.attempts} increase in the window; a pair with attempts but no or NaN gauge samples fails")
    candidate = _weighted_rate(criterion, probe, env.candidate, obs)
    if candidate.problems:
        obs.no_data = True
        return conclude(obs, candidate.problems, "", probe)
    if candidate.value is None:
        return no_data(obs, f"{criterion.attempts} shows no retry attempts with a {criterion.gauge} in the "
                       "candidate window", probe)
    obs.candidate = obs.observed = candidate.value
    obs.worst = candidate.worst
    obs.samples = _samples(probe, criterion.gauge, env.candidate)
    if env.tracks:
        return _success_between_tracks(criterion, ctx, probe, obs, candidate)
    failures = []
    threshold = f"> {criterion.minimum:g}"
    if not candidate.value > criterion.minimum:
        failures.append(f"retry success rate {render(candidate.value, 'ratio')} over {candidate.attempts:.6g} "
                        f"attempts is not above {render(criterion.minimum, 'ratio')}")
    if criterion.beat_baseline:
        baseline = _baseline_rate(criterion, probe, env.baseline, obs, failures, "the baseline window")
        if baseline is not None and baseline.value is not None:
            threshold += f" and > baseline {baseline.value:.4g}"
            if not candidate.value > baseline.value:
                failures.append(
                    f"retry success rate {render(candidate.value, 'ratio')} did not improve on the baseline's "
                    f"{render(baseline.value, 'ratio')}")
    obs.threshold = threshold
    limit = criterion.minimum if obs.baseline is None else max(criterion.minimum, obs.baseline)
    obs.measure({"pairs": "weighted mean"}, candidate.value, unit="ratio", threshold=limit, baseline=obs.baseline,
                candidate=candidate.value, passed=candidate.value > limit)
    return conclude(obs, failures, f"retry success rate {render(candidate.value, 'ratio')}", probe)


def _success_between_tracks(criterion: c.RetrySuccessRate, ctx: GateContext, probe: Probe, obs: Observation,
                            canary: _Rate) -> Observation:
    """Between tracks the rate is a proportion of attempts (rate x attempts successes): the canary's must be above
    the minimum, and above the stable track's when that has one, each decided by an interval."""
    env = ctx.environment
    z = stats.z_value(env.confidence)
    common = {"confidence": env.confidence, "min_samples": 1, "seconds": env.candidate.seconds, "noun": "attempts"}
    successes = round((canary.value or 0.0) * canary.attempts)
    own = stats.proportion(successes, max(round(canary.attempts), 1), z)
    failures: list[str] = []
    undecided: list[str] = []
    judged = [judge_interval(obs, {"pairs": "weighted mean", "against": "minimum"}, own, criterion.minimum,
                             "at_least", unit="ratio", what=f"canary retry success rate over {canary.attempts:.6g} "
                             "attempts", method="Wilson with continuity correction", samples=(canary.attempts,
                             canary.attempts), candidate=canary.value, **common)]  # type: ignore[arg-type]
    threshold = f"> {criterion.minimum:g}"
    if criterion.beat_baseline:
        stable = _baseline_rate(criterion, probe, env.baseline, obs, failures, "the stable track")
        if stable is not None and stable.value is not None:
            threshold += " and > the stable track's"
            other = stats.proportion(round(stable.value * stable.attempts), max(round(stable.attempts), 1), z)
            judged.append(judge_interval(
                obs, {"pairs": "weighted mean", "against": "stable track"}, stats.combination(own, other), 0.0,
                "at_least", unit="ratio", what=f"canary retry success rate {canary.value:.4g} minus the stable "
                f"track's {stable.value:.4g}", method="Newcombe difference of Wilson intervals with continuity "
                "correction", samples=(stable.attempts, canary.attempts), baseline=stable.value,
                candidate=canary.value, **common))  # type: ignore[arg-type]
    for outcome in judged:
        if outcome.verdict == "failed":
            failures.append(outcome.text)
        elif outcome.verdict == "inconclusive":
            undecided.append(outcome.text)
    obs.threshold = f"{threshold}, by {env.confidence * 100:g} % intervals"
    return conclude(obs, failures, f"retry success rate {render(canary.value, 'ratio')}", probe, undecided)


def ratio_below(criterion: c.RatioBelow, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    obs = Observation(passed=True, summary="", unit=criterion.unit, window=window)
    obs.threshold = f"< {render(criterion.maximum, criterion.unit)}"
    numerator = _counted(probe, criterion.numerator, window, obs)
    denominator = probe.over(criterion.denominator, window).scalar()
    obs.details.append(f"numerator {numerator}, denominator {denominator}")
    if not _finite(denominator) or denominator == 0:
        return no_data(obs, f"the denominator is {denominator} (zero or no series) in the window", probe)
    if not _finite(numerator):
        return no_data(obs, "the numerator's counter has no series at all in the window", probe)
    ratio = numerator / denominator
    obs.observed = ratio
    ok = ratio < criterion.maximum
    obs.measure({}, ratio, threshold=criterion.maximum, passed=ok)
    failures = [] if ok else [
        f"{render(ratio, criterion.unit)} is not below {render(criterion.maximum, criterion.unit)} "
        f"({numerator:.6g} / {denominator:.6g})"]
    return conclude(obs, failures, f"{render(ratio, criterion.unit)}", probe)


def _mixed(histograms: dict[str, dict[float, float]], weights: dict[str, float]) -> dict[float, float]:
    """Each step type's histogram scaled to one observation, mixed with the given step-type weights."""
    mixed: dict[float, float] = {}
    for step_type, weight in weights.items():
        cumulative = histograms[step_type]
        total = cumulative.get(math.inf, 0.0)
        for bound, count in cumulative.items():
            mixed[bound] = mixed.get(bound, 0.0) + weight * count / total
    return mixed


def backoff_growth(criterion: c.BackoffGrowth, ctx: GateContext) -> Observation:
    """Growth from each attempt to the next, compared under the same step-type mix: attempt n+1's backoffs
    are reweighted to attempt n's share of each step type, so a mix that shifts towards slow step types at
    later attempts cannot fake (or hide) exponential growth."""
    probe, window = ctx.probe(), ctx.environment.candidate
    label = criterion.attempt_label
    result = probe.over(f"sum by (le, step_type, {label}) (increase({criterion.histogram}_bucket[$W]))", window)
    obs = Observation(passed=True, summary="", unit="seconds", window=window)
    obs.threshold = f"x{criterion.min_growth:g} per attempt until {criterion.cap_seconds:g} s, same step-type mix"
    failures: list[str] = []
    undecided: list[str] = []
    # attempt -> step type -> bound -> cumulative count
    counts: dict[float, dict[str, dict[float, float]]] = {}
    names: dict[float, str] = {}
    for series in result.series:
        step_type, name = series.labels.get("step_type", ""), series.labels.get(label, "")
        try:
            attempt, bound = float(name), float(series.labels.get("le", "nan"))
        except ValueError:
            failures.append(f"data error: {criterion.histogram} has {label}=\"{name}\" (step_type {step_type or '-'}),"
                            " which is not a number")
            continue
        if not _finite(series.value):
            continue
        names[attempt] = name
        buckets = counts.setdefault(attempt, {}).setdefault(step_type, {})
        buckets[bound] = buckets.get(bound, 0.0) + series.value
    for by_type in counts.values():
        for empty in [s for s, cumulative in by_type.items() if not cumulative.get(math.inf, 0.0) > 0]:
            del by_type[empty]
    attempts = sorted(a for a, by_type in counts.items() if by_type)
    plain = {a: bucket_quantile(criterion.quantile, _mixed(counts[a], {s: counts[a][s].get(math.inf, 0.0)
                                                                        for s in counts[a]})) for a in attempts}
    obs.observed = {f"{label}={names[a]}": plain[a] for a in attempts}
    if len(attempts) < criterion.min_attempts:
        few = (f"{len(attempts)} attempt(s) with backoff data, {criterion.min_attempts} needed to judge growth")
        if ctx.environment.tracks and not failures:
            # a canary at a small share may not have retried enough yet: too little data, not a violation
            return conclude(obs, [], "", probe, [f"{few}; more traffic or time on the canary would decide it"])
        obs.no_data = True
        failures.append(f"no data: {few}")
        return conclude(obs, failures, "", probe)
    gaps = [f"{label}={n:g}" for n in range(int(attempts[0]), int(attempts[-1])) if n not in attempts]
    if gaps:
        # Comparing attempt 3 with attempt 1 would ask x1.5 of two steps: a missing attempt is no data.
        failures.append(f"no backoff data for {', '.join(gaps)} between the attempts that have it")
        obs.no_data = True
    for before, after in zip(attempts, attempts[1:], strict=False):
        shared = [s for s in counts[before] if s in counts[after]]
        if not shared:
            obs.no_data = True
            failures.append(f"{label}={names[before]} and {label}={names[after]} share no step type: growth "
                            "cannot be told from a change of step types")
            continue
        weights = {s: counts[before][s].get(math.inf, 0.0) for s in shared}
        previous = bucket_quantile(criterion.quantile, _mixed(counts[before], weights))
        current = bucket_quantile(criterion.quantile, _mixed(counts[after], weights))
        observations = {s: int(counts[after][s].get(math.inf, 0.0)) for s in shared}
        if previous >= criterion.cap_seconds - EPSILON:
            obs.notes.append(f"growth not required after {label}={names[before]}: backoff reached the cap")
            break
        if current >= criterion.cap_seconds - EPSILON:
            continue
        growth = current / previous if previous > 0 else math.inf
        ok = growth >= criterion.min_growth
        if not ok and ctx.environment.tracks and sum(observations.values()) < criterion.min_samples:
            # a canary at a small share: the median of a handful of backoffs is noise, not a violation
            undecided.append(f"{label}={names[after]}: only {sum(observations.values())} backoffs (min_samples "
                             f"{criterion.min_samples}); median x{growth:.2f} cannot be told yet; more traffic or "
                             "time on the canary would decide it")
            continue
        obs.measure({label: names[after], "step_types": ",".join(sorted(shared))}, growth, unit="x",
                    threshold=criterion.min_growth, baseline=previous, candidate=current, passed=ok)
        if not ok:
            failures.append(
                f"{label}={names[after]}: median backoff {current:.4g} s is only x{growth:.2f} of "
                f"{label}={names[before]}'s {previous:.4g} s (need x{criterion.min_growth:g}; step types "
                f"{', '.join(f'{s or chr(45)}: {n} backoffs' for s, n in sorted(observations.items()))})")
    return conclude(obs, failures, "backoff grows exponentially per attempt", probe, undecided)
