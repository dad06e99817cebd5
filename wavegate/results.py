"""gate-results.json: the gate's machine-readable outcome, one record per criterion.

Written atomically (temp file, then rename) so a reader never sees half a file. CriterionRecord is the one
definition of a criterion's record that the gate writes and the deployment report reads.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = 1
EXIT_PASSED, EXIT_VIOLATED, EXIT_USAGE, EXIT_NO_TESTS, EXIT_NOT_EVALUATED = 0, 1, 4, 5, 6
EXIT_INCONCLUSIVE = 7
VERDICTS = ("passed", "failed", "error", "inconclusive")


def gate_status(records: list[dict[str, Any]], not_judged: list[str] | None = None) -> tuple[str, int]:
    """Overall status and exit code: a violation (1) beats an evaluation error (6), which beats too little data
    to tell (inconclusive, 7), which beats a partial run (5); nothing judged, or only some of the selected
    criteria, is not a pass."""
    verdicts = [r["verdict"] for r in records]
    if not verdicts:
        return "error", EXIT_NO_TESTS
    if "failed" in verdicts:
        return "failed", EXIT_VIOLATED
    if "error" in verdicts:
        return "error", EXIT_NOT_EVALUATED
    if "inconclusive" in verdicts:
        return "inconclusive", EXIT_INCONCLUSIVE
    if not_judged:
        return "incomplete", EXIT_NO_TESTS
    return "passed", EXIT_PASSED


def gate_outcome(records: list[dict[str, Any]], not_judged: list[str] | None = None) -> tuple[str, int]:
    """Status and exit code from the criteria that can block: a dry-run or waived criterion (`blocking: false`)
    is judged and reported but never decides them."""
    if not records:
        return gate_status(records, not_judged)
    blocking = [r for r in records if r.get("blocking", True) is not False]
    return gate_status(blocking or [{"verdict": "passed"}], not_judged)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=2, sort_keys=False)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_results(path: Path) -> dict[str, Any]:
    """Read gate-results.json; raises FileNotFoundError or ValueError with the path named."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); re-run the gate to write it again") from None
    if not isinstance(payload, dict) or payload.get("schema") != SCHEMA or not isinstance(
            payload.get("criteria"), list):
        raise ValueError(f"{path} is not a gate-results.json of schema {SCHEMA}; re-run the gate")
    return payload


def unfinished(payload: dict[str, Any]) -> str | None:
    """Why a gate-results.json does not describe a finished run that judged criteria, or None if it does."""
    status, cause = payload.get("status"), payload.get("cause") or ""
    if payload.get("finished") is not True or status == "incomplete":
        return (f"the gate run did not finish (status {status}{': ' + cause if cause else ''}; started "
                f"{payload.get('started_at', '?')}); re-run the gate")
    if payload.get("exit_code") == EXIT_USAGE:
        return f"the gate run ended with a configuration error (exit 4): {cause}; fix it and re-run the gate"
    if not payload.get("criteria"):
        return "the gate run judged no criterion; re-run the gate with its criteria selected"
    return None


# --- the record of one criterion: written by the gate, read by the report -----------------------------------


def _number(value: Any) -> float | None:
    """A JSON number back to a float; NaN and infinities were written as strings."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class IntervalRecord:
    """A sub-series judged by a confidence interval (wavegate.stats): the estimate, its bounds at `confidence`,
    the limit and which side of it passes (`at_most` / `at_least`), the method, and the samples behind it."""

    estimate: float | None
    low: float | None
    high: float | None
    limit: float | None = None
    rule: str = "at_most"
    confidence: float | None = None
    method: str = ""
    samples: dict[str, float] = field(default_factory=dict)  # baseline / candidate -> observations or requests
    min_samples: float | None = None

    @classmethod
    def from_json(cls, raw: Any) -> IntervalRecord | None:
        if not isinstance(raw, dict):
            return None
        samples = raw.get("samples") if isinstance(raw.get("samples"), dict) else {}
        counted = {str(k): n for k, n in ((k, _number(v)) for k, v in (samples or {}).items()) if n is not None}
        return cls(estimate=_number(raw.get("estimate")), low=_number(raw.get("low")), high=_number(raw.get("high")),
                   limit=_number(raw.get("limit")), rule=str(raw.get("rule") or "at_most"),
                   confidence=_number(raw.get("confidence")), method=str(raw.get("method") or ""),
                   samples=counted, min_samples=_number(raw.get("min_samples")))


@dataclass(frozen=True)
class MeasurementRecord:
    """One sub-series' number as the gate judged it: its key (component, quantile, pool, job …), value,
    unit, threshold, baseline / candidate and its own verdict (`passed`)."""

    key: dict[str, str]
    value: float | None
    unit: str = ""
    threshold: float | None = None
    passed: bool | None = None
    baseline: float | None = None
    candidate: float | None = None
    cause: str | None = None
    margin_used: float | None = None  # share of the allowed margin used (wavegate.margins); None: no margin
    # Judged by a confidence interval: the interval, and its own verdict (passed / failed / inconclusive; `passed`
    # is then None when inconclusive). Both None for a sub-series judged by its value alone.
    interval: IntervalRecord | None = None
    verdict: str | None = None

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> MeasurementRecord:
        key = raw.get("key") if isinstance(raw.get("key"), dict) else {}
        passed = raw.get("passed")
        verdict = raw.get("verdict")
        return cls(key={str(k): str(v) for k, v in (key or {}).items()}, value=_number(raw.get("value")),
                   unit=str(raw.get("unit") or ""), threshold=_number(raw.get("threshold")),
                   passed=passed if isinstance(passed, bool) else None, baseline=_number(raw.get("baseline")),
                   candidate=_number(raw.get("candidate")), cause=raw.get("cause") or None,
                   margin_used=_number(raw.get("margin_used")), interval=IntervalRecord.from_json(raw.get("interval")),
                   verdict=verdict if verdict in VERDICTS else None)

    @property
    def label(self) -> str:
        """The sub-series for people: "job=router, quantile=0.99" (or "all" when it has no key)."""
        return ", ".join(f"{k}={v}" for k, v in self.key.items()) or "all"

    @property
    def margin(self) -> float:
        """How far the value is from its threshold, relative to the threshold (0 = on the line; larger = farther).
        Unknown (no value or no threshold) sorts as nearest, so an unexplained number is never hidden."""
        if self.value is None or self.threshold is None or self.value != self.value:
            return 0.0
        return abs(self.value - self.threshold) / max(abs(self.threshold), 1e-12)


@dataclass(frozen=True)
class CriterionRecord:
    """A criterion's entry in gate-results.json: what the gate decided and why. The gate writes it, the
    report reads it; the report never recomputes a verdict or parses a rendered value back."""

    id: str
    verdict: str  # passed / failed / error
    area: str = ""
    kind: str = ""
    description: str = ""
    severity: str = ""
    summary: str = ""
    message: str = ""
    cause: str | None = None
    observed: Any = None
    threshold: Any = None
    unit: str = ""
    worst: str | None = None
    no_data: bool = False
    blocking: bool = True  # false: a dry run (enforce: false) or a waived failure — reported, never blocks
    non_blocking: str | None = None  # DRY-RUN or WAIVED
    non_blocking_reason: str | None = None
    margin_used: float | None = None
    warn_at: float | None = None
    warning: bool = False
    measurements: tuple[MeasurementRecord, ...] = ()
    queries: tuple[dict[str, Any], ...] = ()
    details: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # every field as written

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CriterionRecord:
        measurements = raw.get("measurements") if isinstance(raw.get("measurements"), list) else []
        return cls(
            id=str(raw.get("id", "")), verdict=str(raw.get("verdict", "error")), area=str(raw.get("area") or ""),
            kind=str(raw.get("kind") or ""), description=str(raw.get("description") or ""),
            severity=str(raw.get("severity") or ""), summary=str(raw.get("summary") or ""),
            message=str(raw.get("message") or ""), cause=raw.get("cause") or None, observed=raw.get("observed"),
            threshold=raw.get("threshold"), unit=str(raw.get("unit") or ""), worst=raw.get("worst") or None,
            no_data=bool(raw.get("no_data")), blocking=raw.get("blocking") is not False,
            non_blocking=raw.get("non_blocking") or None, non_blocking_reason=raw.get("non_blocking_reason") or None,
            margin_used=_number(raw.get("margin_used")), warn_at=_number(raw.get("warn_at")),
            warning=bool(raw.get("warning")),
            measurements=tuple(MeasurementRecord.from_json(m) for m in measurements or [] if isinstance(m, dict)),
            queries=tuple(q for q in raw.get("queries") or [] if isinstance(q, dict)),
            details=tuple(str(d) for d in raw.get("details") or []),
            notes=tuple(str(n) for n in raw.get("notes") or []),
            raw=raw,
        )

    @property
    def blocks(self) -> bool:
        """Whether this record stops the rollout: a verdict other than passed, on a criterion that can block."""
        return self.verdict != "passed" and self.blocking

    def get(self, name: str, default: Any = None) -> Any:
        """Any field as written in gate-results.json (for the few the record does not type)."""
        return self.raw.get(name, default)

    @property
    def culprits(self) -> list[MeasurementRecord]:
        """The sub-series the gate judged violated, farthest over the line first."""
        return sorted((m for m in self.measurements if m.passed is False), key=lambda m: -m.margin)

    def worst_measurement(self) -> MeasurementRecord | None:
        """The culprit when the criterion failed; else the passing sub-series nearest its threshold. None when
        none of its sub-series explains the verdict (a failure or error the gate did not measure per sub-series):
        a passing sub-series must never stand for a criterion that did not pass."""
        if self.culprits:
            return self.culprits[0]
        if self.verdict != "passed":
            return None
        judged = [m for m in self.measurements if m.threshold is not None]
        return min(judged, key=lambda m: m.margin) if judged else None


def criterion_records(payload: dict[str, Any]) -> list[CriterionRecord]:
    return [CriterionRecord.from_json(r) for r in payload.get("criteria") or [] if isinstance(r, dict)]
