"""The report's data model: what scripts/build_report was asked for, what a build gathered (the gate's
records, the answers to the report's queries, the artifacts and why any is missing), and its outcome.
Every module of the report reads these types from here, never from the builder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from wavegate.report.collect import Collected
from wavegate.report.inputs import Inputs
from wavegate.report.rollout import Rollout
from wavegate.report.status import Status, Ticked
from wavegate.results import CriterionRecord


@dataclass(frozen=True)
class ReportOptions:
    """What scripts/build_report was asked for; relative paths are taken from the current directory."""

    output_root: Path = Path(".")
    results: Path | None = None  # default: <output root>/reports/cp2-wave1-deployment/validation/gate-results.json
    env_name: str | None = None
    env_file: Path | None = None
    screenshots: bool = True
    install_tools: bool = True  # kept for callers; a build never installs (see `--install-tools`)
    logs: dict[str, Path] = field(default_factory=dict)  # run_cp1_profile / validate_metrics → log file
    rollout: Path | None = None  # rollout.json; default: <output root>/reports/cp2-wave1-deployment/rollout/ if there
    progress: Callable[[str], None] | None = None  # told each step as it starts (the command prints it)


@dataclass
class Built:
    """Everything the Markdown is written from; artifact paths are relative to the output root."""

    inputs: Inputs
    collected: Collected
    generated_at: datetime
    artifacts: dict[str, PurePosixPath] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    targets_error: str = ""
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    log_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    unjudged: list[str] = field(default_factory=list)
    checklist: list[Ticked] = field(default_factory=list)
    status: Status = field(default_factory=lambda: Status("FAILED", ("not computed",)))
    queue_limits: dict[str, float] = field(default_factory=dict)
    rollout: Rollout | None = None  # the staged rollout, when one was recorded
    rollout_left_out: str = ""  # why a rollout found under the output root is not this report's
    rollout_files: list[PurePosixPath] = field(default_factory=list)  # its copy in the bundle, file by file

    @property
    def records(self) -> list[CriterionRecord]:
        return self.inputs.records

    def record(self, criterion_id: str) -> CriterionRecord | None:
        return next((r for r in self.records if r.id == criterion_id), None)

    def put(self, name: str, result: Path | str, root: Path) -> None:
        """Keep an artifact (a file under `root`) or the reason it is missing."""
        if isinstance(result, Path):
            self.artifacts[name] = PurePosixPath(result.relative_to(root).as_posix())
        else:
            self.missing[name] = result


@dataclass(frozen=True)
class ReportOutcome:
    status: Status
    report: Path
    checklist: list[Ticked]
    missing: dict[str, str]
