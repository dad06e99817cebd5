"""Observations (what a check saw) and the assertion that turns one into a verdict.

A check never decides pass/fail by raising: it returns an Observation with `passed`, the observed value and
the threshold, and `assert_criterion_met` raises CriterionViolated — an AssertionError carrying the whole
observation — so pytest reports FAILED with a message a release engineer can act on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from wavegate.settings import Window


class HasIdentity(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def description(self) -> str: ...


@dataclass
class Measurement:
    """One sub-series' number (a component, quantile, pool, job or instance) with its unit and own verdict."""

    key: dict[str, str]
    value: float | None
    unit: str = ""
    threshold: float | None = None
    passed: bool | None = None
    baseline: float | None = None
    candidate: float | None = None
    cause: str | None = None
    # A judgement by a confidence interval (wavegate.stats): its bounds, confidence, method and limit, and the
    # verdict it gave (passed / failed / inconclusive); `passed` is then True only for passed.
    interval: dict[str, Any] | None = None
    verdict: str | None = None

    def as_dict(self) -> dict[str, Any]:
        def number(value: float | None) -> float | str | None:
            return value if value is None or math.isfinite(value) else str(value)

        found: dict[str, Any] = {"key": self.key, "value": number(self.value), "unit": self.unit,
                                 "threshold": number(self.threshold),
                                 "passed": self.passed, "baseline": number(self.baseline),
                                 "candidate": number(self.candidate), "cause": self.cause}
        if self.interval is not None:
            found["interval"] = {k: number(v) if isinstance(v, float) else v for k, v in self.interval.items()}
            found["verdict"] = self.verdict
        return found


@dataclass
class Observation:
    """Everything a check found out about one criterion, ready to be judged and shown as evidence."""

    passed: bool
    summary: str
    observed: Any = None
    threshold: Any = None
    unit: str = ""
    baseline: Any = None
    candidate: Any = None
    window: Window | None = None
    samples: int | None = None
    worst: str | None = None
    details: list[str] = field(default_factory=list)
    queries: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    no_data: bool = False
    vacuous: bool = False
    measurements: list[Measurement] = field(default_factory=list)
    # Too little data to tell yet: no violation is certain, but neither is the pass (an interval straddles the
    # limit, or fewer samples than the criterion's minimum). Never a pass: verdict inconclusive, exit 7.
    inconclusive: bool = False

    def measure(self, key: dict[str, str], value: float | None, **fields: Any) -> Measurement:
        """Record one sub-series' value (with unit, threshold, baseline / candidate and its own verdict)."""
        fields.setdefault("unit", self.unit)
        measurement = Measurement(key=key, value=value, **fields)
        self.measurements.append(measurement)
        return measurement

    def fail(self, reason: str) -> None:
        """Mark the observation failed for `reason` (kept first in the details, and the summary if it passed)."""
        if self.passed or self.inconclusive:
            self.summary = reason
        self.passed, self.inconclusive = False, False
        self.details.insert(0, reason)

    def message(self, criterion: HasIdentity, *, queries: bool = False) -> str:
        """The evidence for people: the verdict first (a JUnit failure message starts with the violation, not
        with the requirement, which reads like a pass), then the requirement, the numbers, the details; the
        queries only when asked for (`-v`; they are always in gate-results.json and the HTML)."""
        lines = [f"[{criterion.id}] {self.summary}", f"  requirement: {criterion.description}"]
        if self.observed is not None:
            lines.append(f"  observed:  {render(self.observed, self.unit)}")
        if self.threshold is not None:
            lines.append(f"  threshold: {render(self.threshold, self.unit)}")
        if self.baseline is not None:
            lines.append(f"  baseline:  {render(self.baseline, self.unit)}")
        if self.candidate is not None:
            lines.append(f"  candidate: {render(self.candidate, self.unit)}")
        if self.window is not None:
            lines.append(f"  window:    {self.window.describe()}")
        if self.samples is not None:
            lines.append(f"  samples:   {self.samples}")
        if self.worst:
            lines.append(f"  worst:     {self.worst}")
        lines.extend(f"  - {detail}" for detail in self.details)
        lines.extend(f"  note: {note}" for note in self.notes)
        lines.extend(f"  Prometheus warning: {warning}" for warning in self.warnings)
        if queries:
            lines.extend(f"  query @ {query['time']}: {query['query']}" for query in self.queries)
        elif self.queries:
            lines.append(f"  ({len(self.queries)} queries: -v shows them; gate-results.json and gate.html hold them)")
        return "\n".join(lines)


def render(value: Any, unit: str = "") -> str:
    """A value with its unit for people: ratios as percentages, seconds with s, bytes in MiB."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {render(item, unit)}" for key, item in value.items())
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if unit == "ratio":
            return f"{number:.4g} ({number * 100:.3f} %)"
        if unit == "bytes":
            return f"{number:.0f} bytes ({number / 2**20:.1f} MiB)"
        if unit == "seconds":
            return f"{number:.6g} s"
        if number.is_integer() and 1e6 <= abs(number) < 1e15:  # counts: 1000000, not 1e+06
            return f"{number:.0f} {unit}".rstrip()
        if unit:
            return f"{number:.6g} {unit}"
        return f"{number:.6g}"
    return str(value)


class CriterionViolated(AssertionError):
    """A success criterion does not hold; carries the criterion id and the observation behind the verdict."""

    def __init__(self, criterion: HasIdentity, observation: Observation) -> None:
        super().__init__(observation.message(criterion))
        self.criterion_id = criterion.id
        self.observation = observation


def assert_criterion_met(criterion: HasIdentity, observation: Observation) -> None:
    """Raise CriterionViolated unless the observation shows the criterion holding."""
    __tracebackhide__ = True
    if observation.inconclusive and not observation.passed:
        raise CriterionInconclusive(criterion, observation)
    if not observation.passed:
        raise CriterionViolated(criterion, observation)


class CriterionInconclusive(AssertionError):
    """Too little data to tell whether a criterion holds: not a pass (an AssertionError, so that any pytest run
    counts it as a failure), reported by the gate as INCONCLUSIVE with exit code 7."""

    def __init__(self, criterion: HasIdentity, observation: Observation) -> None:
        super().__init__(observation.message(criterion))
        self.criterion_id = criterion.id
        self.observation = observation
