"""The generic `promql` kind: your own instant query over the window, judged per series.

Same rules as the built-in kinds: the query is scoped to the environment's selector; an empty answer, fewer
series than `min_series`, a NaN or infinite value, or (with `compare`) a series missing from the baseline
is "no data" — a failure, never a pass; every series is judged and the worst is reported first.
"""

from __future__ import annotations

import math

from wavegate import criteria as c
from wavegate.checks.common import _finite, conclude, no_data
from wavegate.context import GateContext
from wavegate.prometheus import Series
from wavegate.verdicts import Observation, render


def _key(series: Series) -> dict[str, str]:
    """The series' labels (its name included when the query kept it), or a placeholder for a bare number."""
    return dict(sorted(series.labels.items())) or {"series": "value"}


def promql_rule(criterion: c.PromQLRule, ctx: GateContext) -> Observation:
    probe, env = ctx.probe(), ctx.environment
    obs = Observation(passed=True, summary="", unit=criterion.unit, window=env.candidate)
    bounds = [f"<= {render(criterion.max, criterion.unit)}" if criterion.max is not None else "",
              f">= {render(criterion.min, criterion.unit)}" if criterion.min is not None else "",
              {"not_higher": f"<= baseline + {criterion.tolerance * 100:g} % of its size",
               "not_lower": f">= baseline − {criterion.tolerance * 100:g} % of its size"
               }.get(criterion.compare or "", "")]
    obs.threshold = " and ".join(b for b in bounds if b) + " for every series"
    candidate = probe.over(criterion.query, env.candidate).series
    if len(candidate) < criterion.min_series:
        return no_data(obs, f"the query answered {len(candidate)} series in the candidate window, fewer than "
                       f"min_series {criterion.min_series}", probe)
    failures: list[str] = []
    keys = [tuple(_key(s).items()) for s in candidate]
    if len(set(keys)) != len(keys):
        failures.append("the query answered several series with the same labels; aggregate it (e.g. sum by (...)) "
                        "so each series can be told apart and compared")
    baseline: dict[tuple[tuple[str, str], ...], float] = {}
    if criterion.compare is not None:
        baseline = {tuple(_key(s).items()): s.value for s in probe.over(criterion.query, env.baseline).series}
    for series in candidate:
        key = _key(series)
        shown = ", ".join(f"{k}={v}" for k, v in key.items())
        lacking = [label for label in criterion.expect_labels if not series.labels.get(label)]
        if lacking:
            failures.append(f"{shown}: lacks the expected label(s) {', '.join(lacking)}")
        value = series.value
        if not _finite(value):
            obs.no_data = True
            obs.measure(key, None, passed=False, cause=f"no data: {value}")
            failures.append(f"no data: {shown} is {value}")
            continue
        checks = []
        if criterion.max is not None:
            checks.append((value <= criterion.max, criterion.max, f"above {render(criterion.max, criterion.unit)}"))
        if criterion.min is not None:
            checks.append((value >= criterion.min, criterion.min, f"below {render(criterion.min, criterion.unit)}"))
        before = baseline.get(tuple(key.items())) if criterion.compare is not None else None
        if criterion.compare is not None:
            if before is None or not math.isfinite(before):
                obs.no_data = True
                obs.measure(key, value, passed=False, candidate=value, cause="no data in the baseline window")
                failures.append(f"no data: {shown} has no finite value in the baseline window to compare with")
                continue
            # The tolerance is a share of the baseline's size, so a negative baseline moves the right way too.
            allowed = abs(before) * criterion.tolerance
            limit = before + allowed if criterion.compare == "not_higher" else before - allowed
            ok = value <= limit if criterion.compare == "not_higher" else value >= limit
            side, sign = ("above", "+") if criterion.compare == "not_higher" else ("below", "−")
            checks.append((ok, limit, f"{side} the baseline {render(before, criterion.unit)} {sign} "
                                      f"{criterion.tolerance * 100:g} %"))
        broken = [(threshold, why) for ok, threshold, why in checks if not ok]
        threshold = broken[0][0] if broken else checks[-1][1]  # the compare limit, when there is one
        obs.measure(key, value, threshold=threshold, passed=not broken, baseline=before,
                    candidate=value if before is not None else None, cause="; ".join(w for _, w in broken) or None)
        failures += [f"{shown}: {render(value, criterion.unit)}, {why}" for _, why in broken]
    obs.observed = {", ".join(f"{k}={v}" for k, v in m.key.items()): m.value for m in obs.measurements}
    worst = [m for m in obs.measurements if m.passed is False]
    if worst:
        obs.worst = ", ".join(f"{k}={v}" for k, v in worst[0].key.items())
    return conclude(obs, failures, f"{len(candidate)} series within the rule", probe)
