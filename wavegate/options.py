"""The gate's options, and where each one's value comes from: the command line, an environment variable or an
ini key (pytest's conventions; that precedence). The gate is active only when one of them names an environment.

| option          | environment variable   | ini key                |
|-----------------|------------------------|------------------------|
| --env           | WAVEGATE_ENV           | wavegate_env           |
| --env-file      | WAVEGATE_ENV_FILE      | wavegate_env_file      |
| --criteria      | WAVEGATE_CRITERIA      | wavegate_criteria      |
| --baseline      | WAVEGATE_BASELINE      | wavegate_baseline      |
| --candidate     | WAVEGATE_CANDIDATE     | wavegate_candidate     |
| --gate-output   | WAVEGATE_GATE_OUTPUT   | wavegate_gate_output   |
| --area          | WAVEGATE_AREA          | wavegate_area          |
| --waivers       | WAVEGATE_WAIVERS       | wavegate_waivers       |
| --report-only   | WAVEGATE_REPORT_ONLY   | wavegate_report_only   |
| --comparison    | WAVEGATE_COMPARISON    | wavegate_comparison    |
| --stage         | WAVEGATE_STAGE         | wavegate_stage         |
| --confidence    | WAVEGATE_CONFIDENCE    | wavegate_confidence    |

A relative path is relative to where it was written: the current folder for the command line and a variable,
the ini file's folder for an ini key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wavegate.criteria import AREAS
from wavegate.errors import ConfigError


@dataclass(frozen=True)
class GateOption:
    dest: str
    metavar: str
    help: str
    path: bool = False
    switch: bool = False  # a flag without a value (true / false from a variable or an ini key)

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")

    @property
    def variable(self) -> str:
        return "WAVEGATE_" + self.dest.upper()

    @property
    def ini(self) -> str:
        return "wavegate_" + self.dest


OPTIONS = (
    GateOption("env", "NAME", "Environment to judge: loads environments/NAME.yaml under the rootdir. Naming an "
               "environment (this, --env-file, their variables or ini keys) is what turns the gate on."),
    GateOption("env_file", "PATH", "Environment file to load instead of environments/NAME.yaml.", path=True),
    GateOption("criteria", "PATH", "Criteria file (default: the CP2 Wave 1 criteria shipped with wavegate).",
               path=True),
    GateOption("baseline", "WINDOW", "Override the baseline window: START/END in RFC 3339, or last=7d[,offset=7d]."),
    GateOption("candidate", "WINDOW", "Override the candidate window: START/END in RFC 3339, or last=7d[,offset=7d]."),
    GateOption("gate_output", "DIR", "Where gate-results.json, gate.html, junit.xml and allure-results/ go "
               "(default: reports/cp2-wave1-deployment/validation).", path=True),
    GateOption("area", "AREAS", f"Judge only the criteria of these comma-separated areas ({', '.join(AREAS)})."),
    GateOption("waivers", "PATH", "Waivers file: accepted failures with a reason, an approver and an expiry "
               "(a waived failure does not block; an error is never waived).", path=True),
    GateOption("report_only", "", "Judge and report everything but never block: exit 0 instead of 1 or 6 "
               "(a configuration error is still 4); every output lists what would have blocked.", switch=True),
    GateOption("comparison", "MODE", "windows (the baseline window against the candidate window) or concurrent (the "
               "baseline track against the candidate track, both in the candidate window; the tracks' label "
               "matchers are the environment file's comparison.baseline / comparison.candidate)."),
    GateOption("stage", "PERCENT", "The rollout stage being judged (the canary's share of traffic, e.g. 10, 50, "
               "100); named in every output."),
    GateOption("confidence", "LEVEL", "Confidence of the intervals between tracks (default: the environment "
               "file's comparison.confidence, 0.95); `python -m wavegate watch` raises it for repeated looks."),
)
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")
BY_DEST = {option.dest: option for option in OPTIONS}

HOW_TO_ACTIVATE = ("name an environment: --env=NAME or --env-file=PATH, the variable WAVEGATE_ENV or "
                   "WAVEGATE_ENV_FILE, or the ini key wavegate_env or wavegate_env_file")


@dataclass(frozen=True)
class Resolved:
    """Every gate option's value (None when unset) and where it came from."""

    values: Mapping[str, str | None]
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, dest: str) -> str | None:
        return self.values.get(dest)

    @property
    def active(self) -> bool:
        return bool(self["env"] or self["env_file"])

    def switch(self, dest: str) -> bool:
        """A switch's value: true or false, from 1/true/yes/on or 0/false/no/off (anything else is an error)."""
        text = (self[dest] or "").strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise ConfigError(f"{self.source(dest)}={self[dest]!r}: write true or false")

    def source(self, dest: str) -> str:
        return self.sources.get(dest, "default")


def resolve(command_line: Callable[[str], object], environ: Mapping[str, str], ini: Callable[[str], object],
            ini_folder: Path) -> Resolved:
    """Each option from the command line, else its environment variable, else its ini key, else unset."""
    values: dict[str, str | None] = {}
    sources: dict[str, str] = {}
    rank: dict[str, int] = {}
    for option in OPTIONS:
        given = command_line(option.dest)
        variable = environ.get(option.variable, "").strip()
        from_ini = str(ini(option.ini) or "").strip()
        if from_ini and option.path and not Path(from_ini).is_absolute():
            from_ini = str(ini_folder / from_ini)
        found = [(text, where, level) for level, (text, where) in enumerate((
            (None if given is None else str(given), option.flag), (variable, option.variable),
            (from_ini, f"ini {option.ini}"))) if text]
        values[option.dest] = found[0][0] if found else None
        if found:
            sources[option.dest], rank[option.dest] = found[0][1], found[0][2]
    # An environment named in a stronger place wins; in the same place --env-file wins over --env.
    if values["env"] and values["env_file"]:
        if rank["env"] < rank["env_file"]:
            values["env_file"] = None
        else:
            values["env"] = None
    return Resolved(values, sources)
