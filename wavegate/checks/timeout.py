"""Timeout compliance: no step outlasts its timeout, timeout events are tracked."""

from __future__ import annotations

import math

from wavegate import criteria as c
from wavegate.checks.common import (
    EPSILON,
    _bucket_counts,
    _finite,
    _le_regex,
    _samples,
    conclude,
    no_data,
)
from wavegate.context import GateContext
from wavegate.prometheus import Series
from wavegate.verdicts import Observation

# Observations "above a bound" per child are +Inf minus that bucket: both come from the same scrapes, so
# on sound data the difference is a whole, non-negative number. A difference below -DATA_ERROR_TOLERANCE
# (relative to the child's count) is a data error, never read as zero; a smaller one is float noise.
DATA_ERROR_TOLERANCE = 1e-6


def histogram_tail(criterion: c.HistogramTail, ctx: GateContext) -> Observation:
    probe, window = ctx.probe(), ctx.environment.candidate
    by_le = _bucket_counts(probe, criterion.histogram, window)
    obs = Observation(passed=True, summary="", unit="observations", window=window)
    obs.samples = _samples(probe, f"{criterion.histogram}_count", window)
    total = by_le.get(math.inf)
    if total is None:
        return no_data(obs, f"{criterion.histogram}_bucket has no series in the candidate window", probe)
    if criterion.le not in by_le:
        return no_data(
            obs, f"{criterion.histogram} has no le=\"{criterion.le:g}\" bucket; its buckets are "
            f"{', '.join(f'{b:g}' for b in sorted(by_le))}", probe)
    if not _finite(total):
        return no_data(obs, f"{criterion.histogram} bucket counts are not finite ({total})", probe)
    inf = f"sum without (le) (increase({criterion.histogram}_bucket{{le=~\"\\\\+?Inf\"}}[$W]))"
    bound = f"sum without (le) (increase({criterion.histogram}_bucket{{le=~\"{_le_regex(criterion.le)}\"}}[$W]))"
    counts = {tuple(sorted(s.labels.items())): s.value for s in probe.over(inf, window).series}
    below = {tuple(sorted(s.labels.items())): s.value for s in probe.over(bound, window).series}
    # A child whose `le` bucket has no series at all cannot be judged: its observations are not known.
    children = [Series(dict(key), count - below.get(key, math.nan)) for key, count in counts.items()]
    obs.threshold = f"<= {criterion.max_above:g} above {criterion.le:g} s"
    failures: list[str] = []
    above = 0.0
    worst: tuple[float, str] | None = None
    for child in children:
        value = child.value
        count = counts.get(tuple(sorted(child.labels.items())), 0.0)
        if not _finite(value):
            obs.no_data = True
            failures.append(f"{child.describe()}: observations above {criterion.le:g} s are {value} (no data)")
            continue
        if value < 0:
            if value < -DATA_ERROR_TOLERANCE * max(count, 1.0):
                failures.append(f"data error: {child.describe()} counts {-value:.6g} more observations at or below "
                                f"{criterion.le:g} s than in +Inf in the window; the histogram's buckets are broken")
                continue
            obs.notes.append(f"{child.describe()}: {value:.3g} above {criterion.le:g} s clamped to 0 (float noise)")
            value = 0.0
        above += value
        if value > 0 and (worst is None or value > worst[0]):
            worst = (value, f"{child.describe()}: {value:.6g} above {criterion.le:g} s")
    obs.observed = above
    obs.details.append(f"{total:.6g} observations in the window, {above:.6g} above {criterion.le:g} s")
    ok = not above > criterion.max_above + EPSILON
    obs.measure({"le": f"{criterion.le:g}"}, above, threshold=criterion.max_above, passed=ok)
    if not ok:
        failures.append(f"{above:.6g} of {total:.6g} observations took longer than {criterion.le:g} s")
        obs.worst = worst[1] if worst else None
    if not failures and not total > 0:
        return no_data(obs, f"{criterion.histogram} recorded no observations in the window", probe)
    return conclude(obs, failures, f"no observation above {criterion.le:g} s", probe)


def series_tracked(criterion: c.SeriesTracked, ctx: GateContext) -> Observation:
    scrapes = [ctx.scrape_ok(endpoint) for endpoint in ctx.candidate_endpoints(criterion.component)]
    probe, window = ctx.probe(), ctx.environment.candidate
    obs = Observation(passed=True, summary="", window=window)
    failures = []
    for scrape in scrapes:
        family = scrape.exposition.find(criterion.metric)
        if family is None:
            failures.append(f"{scrape.url} does not export {criterion.metric}")
            continue
        missing = [label for label in criterion.labels if label not in family.label_names()]
        if not family.sample_count:
            failures.append(f"{scrape.url} declares {criterion.metric} but exports no series of it")
        elif missing:
            failures.append(f"{scrape.url}: {criterion.metric} lacks label(s) {', '.join(missing)}")
    grouped = probe.over(f"count by ({', '.join(criterion.labels)}) (last_over_time({criterion.metric}[$W]))", window)
    obs.samples = _samples(probe, criterion.metric, window)
    # A count answering NaN (or nothing) is no series at all.
    counted = [series for series in grouped.series if _finite(series.value) and series.value > 0]
    obs.observed = f"{len(counted)} label combinations in Prometheus"
    obs.threshold = f"exported with labels {', '.join(criterion.labels)} and present in Prometheus"
    if not counted:
        obs.no_data = True
        failures.append(f"Prometheus has no {criterion.metric} series in the candidate window (no data)")
    for series in counted:
        empty = [label for label in criterion.labels if not series.labels.get(label)]
        if empty:
            failures.append(f"Prometheus series of {criterion.metric} without {', '.join(empty)}: {series.describe()}")
            break
    obs.measure({"component": criterion.component, "metric": criterion.metric}, float(len(counted)),
                unit="label combinations in Prometheus", threshold=1.0, passed=not failures,
                cause="; ".join(failures) or None)
    return conclude(obs, failures, f"{criterion.metric} is exported and tracked", probe)


