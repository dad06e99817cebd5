"""How a judgement by a confidence interval reads in the report ("+1.96 % [−2.33 %, +6.20 %] 95 %", its limit
and samples), and which sub-series decided a criterion, an INCONCLUSIVE one included. Read from the gate's
records only: nothing here judges."""

from __future__ import annotations

import math

from wavegate.report.fmt import NO_DATA
from wavegate.results import CriterionRecord, IntervalRecord, MeasurementRecord
from wavegate.verdicts import render

INCONCLUSIVE = "inconclusive"
MINUS = "\u2212"  # a typographic minus: "−0.80 %" lines up with "+3.10 %"


def _digits(numbers: list[float], unit: str) -> int:
    """Decimals for a row of numbers: the largest with two significant digits ("+3.1 %", "+0.96 %"), at most 4."""
    scale = 100.0 if unit == "ratio" else 1.0
    largest = max((abs(n) * scale for n in numbers if math.isfinite(n)), default=0.0)
    return 1 if largest >= 1 else 2 if largest >= 0.1 else 3 if largest >= 0.01 else 4


def signed(number: float | None, unit: str, digits: int = 2) -> str:
    """A difference with its sign: ratios as percentage points ("+1.96 %"), anything else with its unit."""
    if number is None or not math.isfinite(number):
        return NO_DATA
    if unit == "ratio":
        text = f"{number * 100:+.{digits}f} %"
    else:
        text = f"{number:+.{max(digits, 3)}g}" + (f" {unit}" if unit else "")
    if float(text.split()[0]) == 0:
        text = text.lstrip("+-")
    return text.replace("-", MINUS)


def interval_text(measurement: MeasurementRecord) -> str:
    """The estimate with its interval and confidence, e.g. "+1.96 % [−2.33 %, +6.20 %] 95 %"; "" without one."""
    interval = measurement.interval
    if interval is None:
        return ""
    estimate = interval.estimate if interval.estimate is not None else measurement.value
    shown = [n for n in (estimate, interval.low, interval.high) if n is not None]
    digits = _digits(shown, measurement.unit)
    text = signed(estimate, measurement.unit, digits)
    if interval.low is not None and interval.high is not None:
        low, high = signed(interval.low, measurement.unit, digits), signed(interval.high, measurement.unit, digits)
        text += f" [{low}, {high}]"
    if interval.confidence is not None:
        text += f" {interval.confidence * 100:g} %"
    return text


def limit_text(measurement: MeasurementRecord) -> str:
    """The limit an interval was judged against, with its side: "≤ 0.00 %", "≥ −2.00 %"."""
    interval = measurement.interval
    limit = interval.limit if interval is not None and interval.limit is not None else measurement.threshold
    if limit is None:
        return ""
    side = "≥" if interval is not None and interval.rule == "at_least" else "≤"
    row = [limit, *(n for n in (interval.estimate, interval.low, interval.high) if n is not None)] \
        if interval is not None else [limit]
    return f"{side} {signed(limit, measurement.unit, _digits(row, measurement.unit))}"


def samples_text(interval: IntervalRecord | None) -> str:
    """The samples behind an interval: "600 candidate, 5,400 baseline (minimum 200)"."""
    if interval is None or not interval.samples:
        return ""
    parts = [f"{interval.samples[k]:,.0f} {k}" for k in ("candidate", "baseline") if k in interval.samples]
    parts += [f"{n:,.0f} {k}" for k, n in interval.samples.items() if k not in ("candidate", "baseline")]
    minimum = f" (minimum {interval.min_samples:,.0f})" if interval.min_samples is not None else ""
    return ", ".join(parts) + minimum


def value_text(measurement: MeasurementRecord) -> str:
    """What the gate compared with its limit: the interval when it judged by one, else the value with its unit."""
    if measurement.interval is not None:
        return interval_text(measurement)
    return render(measurement.value, measurement.unit) if measurement.value is not None else NO_DATA


def threshold_text(measurement: MeasurementRecord) -> str:
    if measurement.interval is not None:
        return limit_text(measurement)
    return render(measurement.threshold, measurement.unit) if measurement.threshold is not None else ""


def measurement_verdict(measurement: MeasurementRecord) -> str | None:
    """A sub-series' own verdict: as the gate wrote it, else from `passed`; None when the gate gave it none."""
    if measurement.verdict is not None:
        return measurement.verdict
    return None if measurement.passed is None else "passed" if measurement.passed else "failed"


def undecided(record: CriterionRecord) -> list[MeasurementRecord]:
    """The sub-series the gate left inconclusive, the one farthest from a pass first."""
    found = [m for m in record.measurements if measurement_verdict(m) == INCONCLUSIVE]
    return sorted(found, key=lambda m: -_excess(m))


def _excess(measurement: MeasurementRecord) -> float:
    """How far an interval's unfavourable bound reaches past its limit (negative: short of it)."""
    interval = measurement.interval
    if interval is None or interval.limit is None:
        return -math.inf
    bound = interval.low if interval.rule == "at_least" else interval.high
    if bound is None:
        return -math.inf
    return interval.limit - bound if interval.rule == "at_least" else bound - interval.limit


def deciding(record: CriterionRecord) -> MeasurementRecord | None:
    """The sub-series that decided the criterion: the culprit when it failed, the most undecided one when it is
    inconclusive, else the one nearest its limit (for intervals, the bound nearest it). None when no sub-series
    explains the verdict."""
    if record.culprits:
        return record.culprits[0]
    if record.verdict == INCONCLUSIVE:
        found = undecided(record)
        return found[0] if found else None
    if record.verdict == "passed":
        judged = [m for m in record.measurements if m.interval is not None]
        if judged:
            return max(judged, key=_excess)
    return record.worst_measurement()


def others_text(record: CriterionRecord) -> str:
    """" (+2 more failing)" / " (+3 more inconclusive)" after the deciding sub-series, or ""."""
    failing = len(record.culprits)
    if failing:
        return f" (+{failing - 1} more failing)" if failing > 1 else ""
    if record.verdict == INCONCLUSIVE:
        more = len(undecided(record)) - 1
        return f" (+{more} more inconclusive)" if more > 0 else ""
    return ""
