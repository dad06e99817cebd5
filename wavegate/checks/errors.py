"""Error analysis: error ratios no higher than the baseline's."""

from __future__ import annotations

from wavegate import criteria as c
from wavegate import stats
from wavegate.checks.common import (
    EPSILON,
    _counted,
    _finite,
    conclude,
)
from wavegate.checks.tracks import Judged, judge_interval
from wavegate.context import GateContext
from wavegate.settings import Environment
from wavegate.verdicts import Observation, render


def error_ratio(criterion: c.ErrorRatio, ctx: GateContext) -> Observation:
    probe, env = ctx.probe(), ctx.environment
    obs = Observation(passed=True, summary="", unit="ratio", window=env.candidate)
    obs.notes.append(f"baseline window: {env.baseline.describe()}")
    failures: list[str] = []
    undecided: list[str] = []
    counts: dict[str, dict[str, tuple[float, float]]] = {"baseline": {}, "candidate": {}}
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
            counts[window.name][component] = (min(numerator, denominator), denominator)
        before, after = ratios["baseline"].get(component), ratios["candidate"].get(component)
        if env.tracks:
            if before is not None and after is not None:
                verdict = _between_tracks(criterion, obs, env, component, counts["baseline"][component],
                                          counts["candidate"][component])
                (failures if verdict.verdict == "failed" else undecided).extend([verdict.text] if verdict.text else [])
            continue
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
    if env.tracks:
        obs.threshold = (f"canary - stable x {1 + criterion.tolerance:g} - {criterion.absolute_tolerance:g} <= 0, "
                         f"decided by a {env.confidence * 100:g} % interval")
    return conclude(obs, failures, "no component's error ratio rose", probe, undecided)


def _between_tracks(criterion: c.ErrorRatio, obs: Observation, env: Environment, component: str,
                    stable: tuple[float, float], canary: tuple[float, float]) -> Judged:
    """canary ratio - stable ratio x (1 + tolerance) - absolute_tolerance, with a MOVER interval built from
    each track's continuity-corrected Wilson interval (Newcombe's method, scaled)."""
    z = stats.z_value(env.confidence)
    a = stats.proportion(round(canary[0]), max(round(canary[1]), 1), z)
    b = stats.proportion(round(stable[0]), max(round(stable[1]), 1), z)
    interval = stats.combination(a, b, 1 + criterion.tolerance, criterion.absolute_tolerance)
    return judge_interval(
        obs, {"component": component}, interval, 0.0, "at_most", unit="ratio", confidence=env.confidence,
        what=f"{component}: error ratio canary {render(a.estimate, 'ratio')} against stable "
             f"{render(b.estimate, 'ratio')}; canary - stable x {1 + criterion.tolerance:g} - "
             f"{criterion.absolute_tolerance:g}",
        method="Newcombe/MOVER on Wilson intervals with continuity correction",
        samples=(stable[1], canary[1]), min_samples=criterion.min_samples, seconds=env.candidate.seconds,
        noun="requests", baseline=b.estimate, candidate=a.estimate)


# What each kind reads besides its own judging: `preflight` fetches it during test setup, so an
# unreachable input is an ERROR before the check runs. Kinds that judge reachability itself
# (endpoints_exported, endpoint_latency) read nothing up front.
