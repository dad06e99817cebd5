"""The report's inputs: the gate's gate-results.json, the environment it judged, the windows it recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wavegate.errors import ConfigError
from wavegate.promql import PromQLError, parse_matchers
from wavegate.report.errors import ReportInputError
from wavegate.results import CriterionRecord, criterion_records, load_results, unfinished
from wavegate.settings import (
    EnvironmentModel,
    PrometheusSettings,
    Window,
    parse_time,
    read_model,
    redact_url,
)

DEFAULT_RESULTS = Path("reports/cp2-wave1-deployment/validation/gate-results.json")


@dataclass(frozen=True)
class Inputs:
    """Everything read before any query: the gate's results, where Prometheus is, and the two windows."""

    results_path: Path
    results: dict[str, Any]
    environment_path: Path
    prometheus: PrometheusSettings
    components: dict[str, str]
    baseline: Window
    candidate: Window
    jobs: dict[str, str] = field(default_factory=dict)  # component -> its Prometheus job
    logs: dict[str, Path] = field(default_factory=dict)  # log name -> where the environment file says it is

    @property
    def validation_dir(self) -> Path:
        return self.results_path.parent

    @property
    def records(self) -> list[CriterionRecord]:
        return criterion_records(self.results)

    @property
    def prometheus_display_url(self) -> str:
        return redact_url(self.prometheus.api_base)


def load_gate_results(path: Path) -> dict[str, Any]:
    """gate-results.json, or ReportInputError saying how to produce it."""
    if not path.is_file():
        raise ReportInputError(
            f"no gate results at {path}: run the gate first (pytest --env=NAME writes "
            f"{DEFAULT_RESULTS}) or pass --results PATH"
        )
    try:
        results = load_results(path)
    except (ValueError, OSError) as exc:
        raise ReportInputError(str(exc)) from None
    problem = unfinished(results)
    if problem is not None:
        raise ReportInputError(f"{path} is not the result of a finished gate run: {problem}")
    windows = results.get("windows")
    if not isinstance(windows, dict) or not all(isinstance(windows.get(n), dict) for n in ("baseline", "candidate")):
        raise ReportInputError(f"{path} has no windows.baseline / windows.candidate; re-run the gate to write it again")
    return results


def _window(path: Path, name: str, raw: dict[str, Any]) -> Window:
    try:
        start, end = parse_time(raw["start"]), parse_time(raw["end"])
    except (KeyError, ValueError) as exc:
        raise ReportInputError(f"{path}: windows.{name} is not a start/end pair of RFC 3339 times ({exc})") from None
    if end <= start:
        raise ReportInputError(f"{path}: windows.{name} ends before it starts")
    # A concurrent comparison's windows are tracks (`track="canary"`): the report reads each one's series only.
    track = raw.get("track")
    try:
        matchers = parse_matchers(track) if isinstance(track, str) and track.strip() else ()
    except PromQLError as exc:
        raise ReportInputError(f"{path}: windows.{name}.track: {exc}") from None
    return Window(name, start, end, matchers)


def choose_environment(results: dict[str, Any], env_name: str | None, env_file: Path | None) -> Path:
    """--env-file, else environments/NAME.yaml for --env, else the environment file the gate recorded."""
    if env_file is not None:
        return env_file
    if env_name is not None:
        return Path("environments") / f"{env_name}.yaml"
    recorded = results.get("environment_file")
    if isinstance(recorded, str) and recorded:
        return Path(recorded)  # missing: load_environment_model says so; never guess another environment
    raise ReportInputError("gate-results.json records no environment_file; pass --env NAME or --env-file PATH")


def load_environment_model(path: Path) -> EnvironmentModel:
    """The environment file's prometheus and components; its windows are not read (gate-results.json has them)."""
    if not path.is_file():
        raise ReportInputError(
            f"environment file {path} does not exist; pass --env NAME (environments/NAME.yaml) or --env-file PATH"
        )
    try:
        return read_model(path, "environment file", EnvironmentModel, "prometheus, components and windows")
    except ConfigError as exc:
        raise ReportInputError(str(exc)) from None


def load_inputs(results_path: Path, env_name: str | None = None, env_file: Path | None = None) -> Inputs:
    results = load_gate_results(results_path)
    environment_path = choose_environment(results, env_name, env_file)
    model = load_environment_model(environment_path)
    recorded_url = results.get("prometheus_url")
    # An explicit --env-file is the caller's word (e.g. Prometheus moved since the run); otherwise the
    # numbers must come from the Prometheus the gate judged.
    # (Results written before path_prefix existed recorded the url as written, e.g. with a trailing /.)
    named = {redact_url(model.prometheus.api_base), redact_url(model.prometheus.url)}
    if env_file is None and isinstance(recorded_url, str) and recorded_url not in named:
        raise ReportInputError(
            f"{environment_path} names Prometheus {redact_url(model.prometheus.api_base)}, but the gate judged "
            f"{recorded_url} (gate-results.json); pass the environment file the gate ran with"
        )
    windows = results["windows"]
    return Inputs(
        results_path=results_path,
        results=results,
        environment_path=environment_path,
        prometheus=model.prometheus,
        components={f"{name}[{which}]" if which else name: url for name, c in model.components.items()
                    for which, url in c.urls.items()},
        jobs={name: c.job for name, c in model.components.items()},
        baseline=_window(results_path, "baseline", windows["baseline"]),
        candidate=_window(results_path, "candidate", windows["candidate"]),
        logs={name: path if path.is_absolute() else environment_path.parent / path
              for name, path in (("run_cp1_profile", model.report.run_cp1_profile_log),
                                 ("validate_metrics", model.report.validate_metrics_log)) if path is not None},
    )
