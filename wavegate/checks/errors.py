"""Error analysis: error ratios no higher than the baseline's."""

from __future__ import annotations

from wavegate import criteria as c
from wavegate.checks.common import (
    EPSILON,
    _counted,
    _finite,
    conclude,
)
from wavegate.context import GateContext
from wavegate.verdicts import Observation, render


def error_ratio(criterion: c.ErrorRatio, ctx: GateContext) -> Observation:
    probe, env = ctx.probe(), ctx.environment
    obs = Observation(passed=True, summary="", unit="ratio", window=env.candidate)
    obs.notes.append(f"baseline window: {env.baseline.describe()}")
    failures: list[str] = []
    ratios: dict[str, dict[str, float]] = {"baseline": {}, "candidate": {}}
    for component, query in criterion.ratios.items():
        for window in (env.baseline, env.candidate):
            numerator = _counted(probe, query.numerator, window, obs)
            denominator = probe.over(query.denominator, window).scalar()
            if not _finite(denominator) or not denominator:
                failures.append(f"{component}: no data in the {window.name} window (denominator {denominator})")
                obs.no_data = True
                continue
            if not _finite(numerator):
                failures.append(f"{component}: the error counter has no series at all in the {window.name} window; "
                                "initialise error counters to 0 so that no errors is not missing data")
                obs.no_data = True
                continue
            ratios[window.name][component] = numerator / denominator
        before, after = ratios["baseline"].get(component), ratios["candidate"].get(component)
        if before is not None and after is not None:
            obs.measure({"component": component}, after, threshold=before * (1 + criterion.tolerance),
                        baseline=before, candidate=after,
                        passed=not after > before * (1 + criterion.tolerance) + EPSILON)
        if before is not None and after is not None and after > before * (1 + criterion.tolerance) + EPSILON:
            failures.append(f"{component}: error ratio {render(after, 'ratio')} in the candidate window, above "
                            f"baseline {render(before, 'ratio')} + {criterion.tolerance * 100:g} %")
    obs.baseline, obs.candidate = ratios["baseline"], ratios["candidate"]
    obs.observed = ratios["candidate"]
    obs.threshold = f"<= baseline x {1 + criterion.tolerance:g}"
    return conclude(obs, failures, "no component's error ratio rose", probe)


# What each kind reads besides its own judging: `preflight` fetches it during test setup, so an
# unreachable input is an ERROR before the check runs. Kinds that judge reachability itself
# (endpoints_exported, endpoint_latency) read nothing up front.
