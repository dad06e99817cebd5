"""The staged rollout (scripts/rollout): rollout.json and each stage's gate-results.json read into typed records,
and copied into the report's bundle with a CSV of the stages and one of their intervals.

Nothing here judges: a stage's verdicts are its gate run's, the outcome and the rollback are the rollout's.
Paths inside rollout.json are relative to its folder and never leave it.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from wavegate.report.errors import ReportInputError
from wavegate.report.intervals import measurement_verdict
from wavegate.results import CriterionRecord, criterion_records, load_results, unfinished
from wavegate.settings import format_time, parse_time

DEFAULT_ROLLOUT = Path("reports/cp2-wave1-deployment/rollout/rollout.json")
SCHEMA = 1
OUTCOMES = ("promoted", "stopped", "error")
_TEXT = (".json", ".txt", ".csv", ".log", ".html", ".xml", ".md", ".yaml", ".yml")


def _time(value: Any) -> datetime | None:
    try:
        return parse_time(value) if value else None
    except ValueError:
        return None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def percent_text(percent: float | None) -> str:
    return "?" if percent is None else f"{percent:g} %"


def inside(folder: Path, relative: Any) -> Path | None:
    """`folder / relative` when `relative` is a plain relative path that stays inside `folder`, else None."""
    if not isinstance(relative, str) or not relative.strip():
        return None
    parts = PurePosixPath(relative.strip()).parts
    if not parts or parts[0] == "/" or ".." in parts:
        return None
    return folder.joinpath(*parts)


def relative_criterion(record: CriterionRecord) -> bool:
    """A criterion that compares the candidate with the baseline (a track or a window) rather than a fixed limit."""
    return any(m.interval is not None or (m.baseline is not None and m.candidate is not None)
               for m in record.measurements)


@dataclass(frozen=True)
class StageRecord:
    """One stage as rollout.json records it, with its gate run's results when they can be read."""

    percent: float | None
    start: datetime | None
    end: datetime | None
    seconds: float | None
    comparison: str
    exit_code: int | None
    status: str
    gate_output: str
    requests: dict[str, float] = field(default_factory=dict)
    results: dict[str, Any] | None = None  # the stage's gate-results.json
    results_path: Path | None = None
    problem: str = ""  # why there are no results, or why they are not a finished run

    @property
    def label(self) -> str:
        return percent_text(self.percent)

    @property
    def records(self) -> list[CriterionRecord]:
        return criterion_records(self.results) if self.results is not None else []

    @property
    def blocking(self) -> list[CriterionRecord]:
        """The criteria that stopped this stage: not passed, and able to block."""
        return [r for r in self.records if r.blocks]

    @property
    def passed(self) -> bool:
        return self.status == "passed" and self.exit_code in (0, None)


@dataclass(frozen=True)
class RollbackRecord:
    """What scripts/rollout did when a stage stopped: when and why, the canary's flags after, and where the
    evidence is (a folder next to rollout.json)."""

    at: datetime | None
    reason: str
    stage: float | None
    criteria: tuple[str, ...]
    flags_after: dict[str, dict[str, float]]
    evidence: Path | None
    evidence_name: str = ""
    problem: str = ""  # why the evidence folder cannot be read


@dataclass(frozen=True)
class Rollout:
    path: Path
    started_at: datetime | None
    finished_at: datetime | None
    regression: str | None
    outcome: str
    stopped_at_stage: float | None
    stages: tuple[StageRecord, ...]
    rollback: RollbackRecord | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def stopping_stage(self) -> StageRecord | None:
        """The stage that stopped the rollout (the one rollout.json names, else the last that did not pass)."""
        if self.outcome == "promoted":
            return None
        named = [s for s in self.stages if self.stopped_at_stage is not None and s.percent == self.stopped_at_stage]
        failed = [s for s in self.stages if not s.passed]
        found = named or failed
        return found[-1] if found else None

    @property
    def judged(self) -> list[StageRecord]:
        """The stages whose gate results could be read."""
        return [s for s in self.stages if s.results is not None]

    def tracks(self) -> tuple[str, str] | None:
        """The stable and canary tracks' matchers as the stages' gate runs recorded them (`track="stable"`)."""
        for stage in self.judged:
            comparison = (stage.results or {}).get("comparison") or {}
            baseline, candidate = comparison.get("baseline_track"), comparison.get("candidate_track")
            if isinstance(baseline, str) and baseline and isinstance(candidate, str) and candidate:
                return baseline, candidate
        return None

    def relative_criteria(self) -> list[str]:
        """The criteria that compare canary and stable, in the order the stages list them: those judged by an
        interval in some stage, else (no interval anywhere) those comparing baseline and candidate."""
        records = [r for stage in self.judged for r in stage.records]
        by_interval = [r.id for r in records if any(m.interval is not None for m in r.measurements)]
        found = by_interval or [r.id for r in records if relative_criterion(r)]
        return list(dict.fromkeys(found))

    def sequence(self) -> str:
        return " → ".join(s.label for s in self.stages) or "no stage"


def load_rollout(path: Path) -> Rollout:
    """rollout.json and each stage's gate results; ReportInputError when rollout.json itself is unusable. A stage
    whose results are missing or unreadable is kept, with the reason."""
    if not path.is_file():
        raise ReportInputError(f"no rollout record at {path}: run scripts/rollout (it writes {DEFAULT_ROLLOUT}) or "
                               "leave --rollout out")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportInputError(f"{path} is not readable JSON ({exc}); re-run scripts/rollout or leave --rollout "
                               "out") from None
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA or not isinstance(raw.get("stages"), list):
        raise ReportInputError(f"{path} is not a rollout record of schema {SCHEMA} (schema, stages); re-run "
                               "scripts/rollout")
    stages = tuple(_stage(path.parent, s) for s in raw["stages"] if isinstance(s, dict))
    outcome = str(raw.get("outcome") or "error")
    return Rollout(path=path, started_at=_time(raw.get("started_at")), finished_at=_time(raw.get("finished_at")),
                   regression=str(raw["regression"]) if raw.get("regression") else None,
                   outcome=outcome if outcome in OUTCOMES else "error",
                   stopped_at_stage=_float(raw.get("stopped_at_stage")), stages=stages,
                   rollback=_rollback(path.parent, raw.get("rollback")), raw=raw)


def _stage(folder: Path, raw: dict[str, Any]) -> StageRecord:
    output = str(raw.get("gate_output") or "")
    requests = raw.get("requests") if isinstance(raw.get("requests"), dict) else {}
    exit_code = raw.get("exit_code")
    stage = StageRecord(
        percent=_float(raw.get("percent")), start=_time(raw.get("start")), end=_time(raw.get("end")),
        seconds=_float(raw.get("seconds")), comparison=str(raw.get("comparison") or ""),
        exit_code=exit_code if isinstance(exit_code, int) and not isinstance(exit_code, bool) else None,
        status=str(raw.get("status") or "not judged"), gate_output=output,
        requests={str(k): float(v) for k, v in (requests or {}).items() if _float(v) is not None})
    where = inside(folder, output)
    if where is None:
        return _with(stage, problem=f"gate_output {output!r} is not a folder inside {folder}")
    results_path = where / "gate-results.json"
    if not results_path.is_file():
        return _with(stage, results_path=results_path, problem=f"no gate results at {results_path}")
    try:
        results = load_results(results_path)
    except (ValueError, OSError) as exc:
        return _with(stage, results_path=results_path, problem=str(exc))
    return _with(stage, results=results, results_path=results_path, problem=unfinished(results) or "")


def _with(stage: StageRecord, **changes: Any) -> StageRecord:
    return replace(stage, **changes)


def _rollback(folder: Path, raw: Any) -> RollbackRecord | None:
    if not isinstance(raw, dict):
        return None
    flags = raw.get("flags_after") if isinstance(raw.get("flags_after"), dict) else {}
    flags_after = {str(c): {str(f): float(v) for f, v in per.items() if _float(v) is not None}
                   for c, per in (flags or {}).items() if isinstance(per, dict)}
    name = str(raw.get("evidence") or "")
    evidence = inside(folder, name)
    problem = "" if evidence is not None and evidence.is_dir() else (
        f"no evidence folder {name!r} next to rollout.json" if name else "rollout.json names no evidence folder")
    criteria = raw.get("criteria") if isinstance(raw.get("criteria"), list) else []
    return RollbackRecord(at=_time(raw.get("at")), reason=str(raw.get("reason") or ""), stage=_float(raw.get("stage")),
                          criteria=tuple(str(c) for c in criteria or []), flags_after=flags_after,
                          evidence=evidence if not problem else None, evidence_name=name, problem=problem)


# --- the copy in the report's bundle -------------------------------------------------------------------------


def _copy(source: Path, target: Path, scrub: Callable[[str], str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix.lower() in _TEXT:
        target.write_text(scrub(source.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
    else:
        shutil.copyfile(source, target)


def copy_rollout(rollout: Rollout, target: Path, scrub: Callable[[str], str]) -> dict[str, Path | str]:
    """Copy rollout.json, each stage's gate-results.json and gate.html and the rollback evidence folder under
    `target` (same relative paths), and write rollout_stages.csv and rollout_intervals.csv. Returns each
    artifact's path, or why it is missing, by name (rollout:record, rollout:stage-<P>, rollout:rollback …)."""
    out: dict[str, Path | str] = {}
    target.mkdir(parents=True, exist_ok=True)
    _copy(rollout.path, target / "rollout.json", scrub)
    out["rollout:record"] = target / "rollout.json"
    for stage in rollout.stages:
        name = f"rollout:stage-{stage.percent:g}"
        if stage.results_path is None or stage.results is None:
            out[name] = stage.problem or "no gate results"
            continue
        folder = target.joinpath(*PurePosixPath(stage.gate_output).parts)
        _copy(stage.results_path, folder / "gate-results.json", scrub)
        html = stage.results_path.parent / str((stage.results.get("outputs") or {}).get("html") or "gate.html")
        if html.is_file() and html.parent == stage.results_path.parent:
            _copy(html, folder / html.name, scrub)
            out[f"{name}:html"] = folder / html.name
        out[name] = folder / "gate-results.json"
    rollback = rollout.rollback
    if rollback is not None:
        if rollback.evidence is None:
            out["rollout:rollback"] = rollback.problem
        else:
            folder = target.joinpath(*PurePosixPath(rollback.evidence_name).parts)
            for source in sorted(rollback.evidence.rglob("*")):
                if source.is_file() and not source.is_symlink():
                    _copy(source, folder / source.relative_to(rollback.evidence), scrub)
            folder.mkdir(parents=True, exist_ok=True)
            out["rollout:rollback"] = folder
    out["rollout:stages"] = _stages_csv(rollout, target / "rollout_stages.csv")
    out["rollout:intervals"] = _intervals_csv(rollout, target / "rollout_intervals.csv")
    return out


def _stages_csv(rollout: Rollout, path: Path) -> Path:
    tracks = sorted({track for stage in rollout.stages for track in stage.requests})
    criteria = rollout.relative_criteria()
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["percent", "start", "end", "seconds", "comparison", *(f"requests_{t}" for t in tracks),
                         "exit_code", "status", *criteria, "gate_results", "problem"])
        for stage in rollout.stages:
            verdicts = {r.id: r.verdict for r in stage.records}
            writer.writerow([
                f"{stage.percent:g}" if stage.percent is not None else "",
                format_time(stage.start) if stage.start else "", format_time(stage.end) if stage.end else "",
                f"{stage.seconds:g}" if stage.seconds is not None else "", stage.comparison,
                *(f"{stage.requests[t]:.0f}" if t in stage.requests else "" for t in tracks),
                "" if stage.exit_code is None else stage.exit_code, stage.status,
                *(verdicts.get(c, "") for c in criteria),
                f"{stage.gate_output}/gate-results.json" if stage.results is not None else "", stage.problem])
    return path


def _intervals_csv(rollout: Rollout, path: Path) -> Path:
    """Every sub-series of the relative criteria per stage: value, interval, limit, samples, verdicts."""
    criteria = set(rollout.relative_criteria())
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["percent", "criterion", "criterion_verdict", "sub_series", "verdict", "value", "unit",
                         "estimate", "low", "high", "limit", "rule", "confidence", "samples_candidate",
                         "samples_baseline", "min_samples", "method", "baseline", "candidate"])
        for stage in rollout.judged:
            for record in stage.records:
                if record.id not in criteria:
                    continue
                for m in record.measurements:
                    i = m.interval
                    writer.writerow([
                        f"{stage.percent:g}" if stage.percent is not None else "", record.id, record.verdict,
                        m.label, measurement_verdict(m) or "", _cell(m.value), m.unit,
                        *((_cell(i.estimate), _cell(i.low), _cell(i.high), _cell(i.limit), i.rule,
                           _cell(i.confidence), _cell(i.samples.get("candidate")), _cell(i.samples.get("baseline")),
                           _cell(i.min_samples), i.method) if i is not None else ("",) * 10),
                        _cell(m.baseline), _cell(m.candidate)])
    return path


def _cell(number: float | None) -> str:
    return "" if number is None else repr(number)
