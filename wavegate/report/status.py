"""The spec's report checklist, ticked from files on disk, and the report status computed from it.

An item is ticked only when every artifact it names exists (and, for a CSV, holds at least one value):
the checklist is read back from the staged report folder, never from what the builder meant to write.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wavegate.report.intervals import INCONCLUSIVE as UNDECIDED
from wavegate.report.intervals import deciding
from wavegate.results import CriterionRecord

SUCCESSFUL, PARTIAL, FAILED = "SUCCESSFUL", "PARTIAL", "FAILED"
# Nothing failed, but the gate could not tell yet (too little traffic for a confidence interval): blocks, and is
# neither a success nor a failure of the wave.
INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class Item:
    """One checklist line: the artifacts (paths relative to the output root) that back it."""

    group: str
    text: str
    artifacts: tuple[str, ...]
    minimum: int | None = None  # tick when at least this many artifacts exist (default: all of them)
    groups: tuple[tuple[str, ...], ...] = ()  # and at least one artifact of each group exists
    required: bool = True
    why_missing: str = ""


@dataclass
class Ticked:
    item: Item
    ticked: bool
    present: list[str] = field(default_factory=list)
    reason: str = ""


def has_values(path: Path) -> bool:
    """A CSV written by collect.write_csvs with at least one non-empty value."""
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            return any(row.get("value") for row in csv.DictReader(stream))
    except OSError:
        return False


def artifact_present(root: Path, relative: str) -> bool:
    path = root / relative
    if not path.is_file() or path.stat().st_size == 0:
        return False
    return has_values(path) if path.suffix == ".csv" and "/metrics/" in f"/{relative}" else True


def tick(root: Path, items: Sequence[Item], reasons: Callable[[str], str] | None = None) -> list[Ticked]:
    """Tick each item from the files under `root`; `reasons(artifact)` explains a missing one."""
    out = []
    for item in items:
        present = [a for a in item.artifacts if artifact_present(root, a)]
        needed = item.minimum if item.minimum is not None else len(item.artifacts)
        empty_groups = [g for g in item.groups if not any(a in present for a in g)]
        ticked = bool(item.artifacts) and len(present) >= needed and not empty_groups
        reason = ""
        if not ticked and empty_groups and len(present) >= needed:
            reason = "none of " + ", ".join(Path(a).name for a in empty_groups[0]) + " was produced"
        elif not ticked:
            missing = [a for a in item.artifacts if a not in present]
            explained = [_explain(a, reasons(a) if reasons else "") for a in missing]
            reason = item.why_missing or "; ".join(explained) or "no artifact"
            if item.minimum is not None:
                reason = f"{len(present)} of the required {needed} present — " + reason
        out.append(Ticked(item, ticked, present, reason))
    return out


def _explain(artifact: str, reason: str) -> str:
    if not reason:
        return f"{artifact}: not produced"
    return reason if artifact in reason else f"{artifact}: {reason}"


@dataclass(frozen=True)
class Status:
    value: str
    reasons: tuple[str, ...]
    failing: tuple[str, ...] = ()


def _failing_reason(record: CriterionRecord) -> str:
    """`id verdict`, with the sub-series that decided it when the gate named one (the culprit first)."""
    worst = deciding(record)
    return f"{record.id} {record.verdict}" + (f": {worst.label}" if worst is not None else "")


def compute_status(records: Sequence[CriterionRecord], checklist: Sequence[Ticked],
                   unjudged: Sequence[str] = ()) -> Status:
    """FAILED when a criterion failed or errored (or none was judged); INCONCLUSIVE when none did but one could
    not be decided yet; PARTIAL when all passed but a required artifact is missing or a criterion of the criteria
    file was not judged; SUCCESSFUL otherwise."""
    # Anything but "passed" counts against the wave: an unknown verdict is not a pass.
    failing = tuple(r.id for r in records if r.blocks)
    if not records:
        return Status(FAILED, ("the gate judged no criterion",))
    if failing:
        # Failures first: an undecided criterion never hides one that failed.
        blocking = sorted((r for r in records if r.blocks), key=lambda r: r.verdict == UNDECIDED)
        value = INCONCLUSIVE if all(r.verdict == UNDECIDED for r in blocking) else FAILED
        return Status(value, tuple(_failing_reason(r) for r in blocking), tuple(r.id for r in blocking))
    # Failures that do not block (a waiver, a dry run) do not fail the wave, and are always named.
    accepted = [f"{r.non_blocking or 'not blocking'}: {_failing_reason(r)} ({r.non_blocking_reason})"
                for r in records if r.verdict != "passed"]
    reasons = [f"criterion not judged by this gate run: {cid}" for cid in unjudged]
    reasons += [f"missing: {t.item.text} ({t.reason})" for t in checklist if not t.ticked and t.item.required]
    if reasons:
        return Status(PARTIAL, tuple(reasons + accepted))
    return Status(SUCCESSFUL, tuple(accepted))
