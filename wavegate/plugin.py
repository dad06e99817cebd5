"""The wavegate pytest plugin: options, environment and criteria loading, parametrisation, verdicts, outputs.

Loaded by the repository's conftest.py and by the `pytest11` entry point. A gate test module
`tests/test_<area>.py` holds one function per criterion kind, marked `@pytest.mark.criterion_kind(kind)`,
which takes the `criterion` argument; each criterion of that area and kind becomes one test, id = criterion id.
"""

from __future__ import annotations

import os
import shlex
import signal
import threading
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import pytest

from wavegate import __version__
from wavegate.checks import preflight
from wavegate.context import GateContext
from wavegate.criteria import AREAS, Criteria, default_criteria_path, load_criteria
from wavegate.errors import ConfigError, GateError
from wavegate.evidence import (
    allure_attach,
    allure_labels,
    base_record,
    html_extras,
    junit_properties,
    observation_fields,
    terminal_text,
)
from wavegate.outputs import OutputFolder, configuration_error_record, unfinished_record
from wavegate.prometheus import PrometheusClient
from wavegate.results import SCHEMA, gate_status
from wavegate.secrets import LogRedaction, secret_values
from wavegate.settings import Environment, format_time, load_environment, parse_window_option
from wavegate.verdicts import CriterionViolated, Observation

DEFAULT_OUTPUT = Path("reports/cp2-wave1-deployment/validation")


@dataclass
class GateState:
    """Everything the plugin keeps for one session (in config.stash, never in module globals)."""

    environment: Environment
    criteria: Criteria
    output: Path
    context: GateContext
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    areas: tuple[str, ...] = ()
    folder: OutputFolder | None = None
    stopped_by: str | None = None  # the signal that interrupted the run
    previous_sigterm: Any = None
    redaction: LogRedaction | None = None

    def __repr__(self) -> str:  # pytest builds reprs for failure reports: keep them short
        return f"GateState(environment={self.environment.name!r}, output={str(self.output)!r})"


STATE = pytest.StashKey[GateState]()


def _not_judged(state: GateState) -> list[str]:
    """Criteria selected by --area (all by default) that this run did not judge (-k, --deselect, a path…)."""
    return [c.id for c in state.criteria if (not state.areas or c.area in state.areas) and c.id not in state.records]
OBSERVATION = pytest.StashKey[Observation]()
CRITERION = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wavegate", "wavegate release gate")
    group.addoption("--env", default="local", metavar="NAME",
                    help="Environment to judge: loads environments/NAME.yaml under the rootdir (default: local).")
    group.addoption("--env-file", default=None, metavar="PATH",
                    help="Environment file to load instead of environments/NAME.yaml.")
    group.addoption("--criteria", default=None, metavar="PATH",
                    help="Criteria file (default: criteria/wave1.yaml).")
    group.addoption("--baseline", default=None, metavar="WINDOW",
                    help="Override the baseline window: START/END in RFC 3339, or last=7d[,offset=7d].")
    group.addoption("--candidate", default=None, metavar="WINDOW",
                    help="Override the candidate window: START/END in RFC 3339, or last=7d[,offset=7d].")
    group.addoption("--gate-output", default=None, metavar="DIR",
                    help=f"Where gate-results.json, gate.html, junit.xml and allure-results/ go "
                         f"(default: {DEFAULT_OUTPUT}).")
    group.addoption("--area", default=None, metavar="AREAS",
                    help=f"Judge only the criteria of these comma-separated areas ({', '.join(AREAS)}).")


def _environment_path(config: pytest.Config) -> tuple[Path, str]:
    explicit = config.getoption("env_file")
    if explicit:
        path = Path(explicit)
        return path, path.stem
    name = config.getoption("env")
    folder = Path(config.rootpath) / "environments"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise ConfigError(
            f"unknown environment --env={name}: {path} does not exist; environments available: "
            f"{', '.join(known) or 'none'} (or pass --env-file PATH)"
        )
    return path, name


_PATH_OPTIONS = ("--env-file", "--criteria", "--gate-output")


def _check_option_spelling(config: pytest.Config) -> None:
    # pytest finds its rootdir and ini file before plugins add their options, so in `--env-file PATH` the
    # PATH is taken for a test path and the wrong rootdir (and test folder) is used. `--env-file=PATH` is safe.
    args = list(config.invocation_params.args)
    if any(a in ("--rootdir", "-c", "--config-file") or a.startswith(("--rootdir=", "-c=", "--config-file="))
           for a in args):
        return
    for index, arg in enumerate(args[:-1]):
        if arg in _PATH_OPTIONS and Path(args[index + 1]).exists():
            raise ConfigError(
                f"write {arg}={args[index + 1]} (with '='): as two words, pytest takes the path for a test "
                "folder before wavegate can read it, and would collect the wrong tests"
            )


def _load_state(config: pytest.Config) -> GateState:
    _check_option_spelling(config)
    env_path, env_name = _environment_path(config)
    windows = {name: parse_window_option(name, text) for name in ("baseline", "candidate")
               if (text := config.getoption(name))}
    environment = load_environment(env_path, name=env_name, **windows)  # type: ignore[arg-type]
    criteria_option = config.getoption("criteria")
    criteria_path = Path(criteria_option) if criteria_option else default_criteria_path(Path(config.rootpath))
    criteria = load_criteria(criteria_path)
    areas: tuple[str, ...] = ()
    if config.getoption("area") is not None:
        areas = tuple(a.strip() for a in config.getoption("area").split(",") if a.strip())
        unknown = [a for a in areas if a not in AREAS] or ([] if areas else ["(none given)"])
        if unknown:
            raise ConfigError(f"--area: unknown area(s) {', '.join(unknown)}; areas are {', '.join(AREAS)}")
    client = PrometheusClient(environment.prometheus, source=str(env_path))
    context = GateContext(environment=environment, contract=criteria.contract, prometheus=client)
    output = Path(config.getoption("gate_output") or DEFAULT_OUTPUT)
    return GateState(environment, criteria, output, context, areas=areas)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "criterion_kind(kind): the criterion kind a gate test judges.")
    try:
        state = _load_state(config)
    except GateError as exc:
        _record_configuration_error(config, str(exc))
        raise pytest.UsageError(str(exc)) from None
    folder = OutputFolder(state.output)
    try:
        folder.acquire()
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    folder.clear()
    folder.write(unfinished_record(
        state.started, "the run has not finished: it is still running, or it was killed before its end",
        environment=state.environment.name, pid=os.getpid()))
    state.folder = folder
    config.stash[STATE] = state
    _stop_on_sigterm(state)
    # Debug logs (e.g. urllib3's request lines) are captured into gate.html and Allure: mask secrets first.
    state.redaction = LogRedaction(secret_values(state.environment))
    state.redaction.install()
    # Default outputs, set before pytest-html, allure and junitxml read their options.
    option = config.option
    if hasattr(option, "htmlpath"):
        if option.htmlpath is None:
            option.htmlpath = str(state.output / "gate.html")
        option.self_contained_html = True  # reviewers open one file, wherever it was written
    if hasattr(option, "allure_report_dir") and not option.allure_report_dir:
        option.allure_report_dir = str(state.output / "allure-results")
        option.clean_alluredir = True
    if getattr(option, "xmlpath", None) is None:
        option.xmlpath = str(state.output / "junit.xml")


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    env = state.environment
    return [
        f"wavegate {__version__}: environment {env.name} ({env.path})",
        f"prometheus: {env.redacted_url}",
        f"windows: {env.baseline.describe()}; {env.candidate.describe()}",
        f"criteria: {state.criteria.path} ({len(state.criteria.items)} criteria)",
        "reproduce: pytest " + shlex.join([
            f"--env-file={env.path}", f"--criteria={state.criteria.path}",
            f"--baseline={format_time(env.baseline.start)}/{format_time(env.baseline.end)}",
            f"--candidate={format_time(env.candidate.start)}/{format_time(env.candidate.end)}"]),
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "criterion" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("criterion_kind")
    if marker is None:
        raise pytest.UsageError(f"{metafunc.definition.nodeid} takes `criterion` but has no criterion_kind marker")
    kind = marker.args[0]
    area = metafunc.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    state = metafunc.config.stash[STATE]
    chosen = state.criteria.of(area, kind)
    params = [pytest.param(c, id=c.id) for c in chosen] or [pytest.param(None, id="no-criteria")]
    metafunc.parametrize("criterion", params)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    keep, drop = [], []
    collected: dict[str, pytest.Item] = {}
    areas_seen = set()
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "criterion" not in callspec.params:
            keep.append(item)
            continue
        criterion = callspec.params["criterion"]
        areas_seen.add(item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"))  # type: ignore[attr-defined]
        if criterion is None or (state.areas and criterion.area not in state.areas):
            drop.append(item)
            continue
        item.stash[CRITERION] = criterion
        collected[criterion.id] = item
        keep.append(item)
    # A criterion whose area module was collected but that no test judges would silently vanish.
    orphans = [c for c in state.criteria if c.area in areas_seen and c.id not in collected
               and (not state.areas or c.area in state.areas)]
    if orphans:
        listing = "; ".join(f"{c.id} (kind {c.kind}: tests/test_{c.area}.py needs test_{c.kind})" for c in orphans)
        raise pytest.UsageError(f"{state.criteria.path}: no gate test judges {listing}")
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def gate(request: pytest.FixtureRequest) -> GateContext:
    """The evaluation context (environment, contract, Prometheus client, cached scrapes), inputs checked.

    Setup fetches what the criterion's kind reads — Prometheus answering, the components' /metrics — so an
    unreachable input is a test ERROR naming it; the test body then only judges.
    """
    context = request.config.stash[STATE].context
    criterion = request.node.stash.get(CRITERION, None)
    if criterion is not None:
        preflight(criterion.kind, context)
    return context


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """Records a criterion's observation for the terminal, pytest-html, Allure, JUnit and gate-results.json."""
    return Evidence(request.node)


class Evidence:
    """Bound to one test item; `record` keeps the observation and attaches it everywhere."""

    def __init__(self, item: pytest.Item) -> None:
        self.item = item

    def record(self, criterion: Any, observation: Observation) -> None:
        self.item.stash[OBSERVATION] = observation
        self.item.user_properties.extend(junit_properties(criterion, observation))
        allure_attach(criterion, observation)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    # Allure names its result after the test when setup ends; labelling here, inside its teardown wrapper,
    # gives every gate test (an ERROR at setup included) the criterion's title, epic/feature/story, severity.
    criterion = item.stash.get(CRITERION, None)
    if criterion is not None:
        allure_labels(criterion)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    state = item.config.stash.get(STATE, None)
    criterion = item.stash.get(CRITERION, None)
    if state is None or criterion is None:
        return report
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        record = base_record(criterion, item.nodeid)
        observation = item.stash.get(OBSERVATION, None)
        if observation is not None:
            record.update(observation_fields(observation))
        excinfo = call.excinfo
        if report.passed:
            record["verdict"] = "passed"
            record["message"] = observation.summary if observation else "passed"
        elif excinfo is not None and isinstance(excinfo.value, AssertionError):
            # CriterionViolated, or a plain assertion in a gate test: the criterion does not hold.
            record["verdict"] = "failed"
            record["message"] = str(excinfo.value)
        else:
            record["verdict"] = "error"
            error = excinfo.value if excinfo is not None else None
            record["cause"] = getattr(error, "cause", type(error).__name__ if error else "unknown")
            record["message"] = f"[{criterion.id}] could not be evaluated: {error}"
            # pytest counts an exception in the test body as a failure; the gate calls it an error.
        state.records[criterion.id] = record
        report.wavegate_verdict = record["verdict"]
        if excinfo is not None and isinstance(excinfo.value, GateError | CriterionViolated):
            # The message says everything a reader needs; the gate's own traceback would only hide it.
            report.longrepr = record["message"]
        shown = dict(report.user_properties)
        if "criterion" not in shown:  # an ERROR before the check ran: still say which criterion and why
            report.user_properties = [*report.user_properties, ("criterion", criterion.id),
                                      ("summary", record["message"].splitlines()[0])]
        if observation is not None:
            report.sections.append(("wavegate evidence", terminal_text(criterion, observation)))
        report.extras = [*getattr(report, "extras", []), *html_extras(record)]
    return report


# -- pytest-html: a title, the gate's context, and the criterion and verdict in each row ------------------------
@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover — comes with pytest-html
        return
    if state is None or metadata_key not in session.config.stash:
        return
    env = state.environment
    session.config.stash[metadata_key].update({
        "Gate environment": f"{env.name} ({env.path})",
        "Prometheus": env.redacted_url,
        "Baseline window": env.baseline.describe(),
        "Candidate window": env.candidate.describe(),
        "Criteria": str(state.criteria.path),
    })


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    report.title = "wavegate: CP2 Wave 1 release gate"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None or not state.records:
        return
    status, code = gate_status(list(state.records.values()))
    env = state.environment
    prefix.append(f"<p><strong>Gate: {escape(status.upper())} (exit {code})</strong> — environment "
                  f"{escape(env.name)}, {escape(env.baseline.describe())}, {escape(env.candidate.describe())}</p>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(1, "<th>Criterion</th>")
    cells.insert(2, "<th>Verdict</th>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    info = dict(report.user_properties)
    cells.insert(1, f"<td>{escape(str(info.get('criterion', '')))}</td>")
    cells.insert(2, f"<td>{escape(str(info.get('summary', '')))}</td>")


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    # A check that could not evaluate in the test body is an ERROR, as it is in setup: not a failed criterion.
    if report.when == "call" and getattr(report, "wavegate_verdict", None) == "error":
        return "error", "E", "ERROR"
    return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or not state.records:
        return
    write = terminalreporter.write_line
    terminalreporter.section("wavegate verdicts")
    for record in state.records.values():
        first = record["message"].splitlines()[0] if record["message"] else ""
        text = record.get("summary") or first
        write(f"{record['verdict'].upper():7} {record['id']:38} {text}")
    missing = _not_judged(state)
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        write(f"gate: INCOMPLETE (stopped by {state.stopped_by or 'SIGINT'}; {len(missing)} selected criteria not "
              f"judged); results: {state.output / 'gate-results.json'}")
        return
    status, code = gate_status(list(state.records.values()), missing)
    if missing:
        write(f"NOT JUDGED {len(missing)} selected criteria: {', '.join(missing)}")
    write(f"gate: {status.upper()} (exit {code}); results: {state.output / 'gate-results.json'}")


_GATE_OPTIONS = ("--env", "--env-file", "--criteria", "--gate-output", "--area", "--baseline", "--candidate")


def _record_configuration_error(config: pytest.Config, cause: str) -> None:
    """Replace the previous run's results with an `error` record (exit 4) when the gate was asked for, or
    when that folder holds a previous result that would otherwise read as this run's."""
    output = Path(config.getoption("gate_output", None) or DEFAULT_OUTPUT)
    asked = any(str(a).split("=", 1)[0] in _GATE_OPTIONS for a in config.invocation_params.args)
    if not asked and not (output / "gate-results.json").exists():
        return
    folder = OutputFolder(output)
    try:
        folder.acquire()
    except (ConfigError, OSError):
        return  # another run owns the folder (or it cannot be written): leave it to that run
    try:
        folder.clear()
        folder.write(configuration_error_record(cause))
    finally:
        folder.release()


def _stop_on_sigterm(state: GateState) -> None:
    """SIGTERM (a CI timeout) stops the run like Ctrl-C, so that it still writes an `incomplete` record."""
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, _frame: object) -> None:
        state.stopped_by = signal.Signals(signum).name
        raise KeyboardInterrupt(state.stopped_by)

    state.previous_sigterm = signal.signal(signal.SIGTERM, stop)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    if state.previous_sigterm is not None:
        signal.signal(signal.SIGTERM, state.previous_sigterm)
        state.previous_sigterm = None
    if state.folder is not None:
        state.folder.release()
    if state.redaction is not None:
        state.redaction.uninstall()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(STATE, None)
    if state is None or state.folder is None:
        return
    records = list(state.records.values())
    missing = _not_judged(state)
    env = state.environment
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        stopped_by = state.stopped_by or "SIGINT"
        state.folder.write(unfinished_record(
            state.started, f"stopped by {stopped_by} after judging {len(records)} of "
            f"{len(records) + len(missing)} selected criteria; re-run the gate for a verdict",
            environment=env.name, finished_at=format_time(datetime.now(UTC)),
            windows={"baseline": env.baseline.as_dict(), "candidate": env.candidate.as_dict()},
            summary={v: sum(1 for r in records if r["verdict"] == v) for v in ("passed", "failed", "error")},
            not_judged=missing, criteria=records))
        return
    status, code = gate_status(records, missing)
    payload = {
        "schema": SCHEMA,
        "status": status,
        "exit_code": code,
        "finished": True,
        "environment": env.name,
        "environment_file": str(env.path),
        "criteria_file": str(state.criteria.path),
        "prometheus_url": env.redacted_url,
        "windows": {"baseline": env.baseline.as_dict(), "candidate": env.candidate.as_dict()},
        "phases": env.phases,
        "started_at": format_time(state.started),
        "finished_at": format_time(datetime.now(UTC)),
        "summary": {v: sum(1 for r in records if r["verdict"] == v) for v in ("passed", "failed", "error")},
        "areas": list(state.areas) or None,
        "not_judged": missing,
        "outputs": {"html": "gate.html", "junit": "junit.xml", "allure": "allure-results"},
        "criteria": records,
    }
    state.folder.write(payload)
    if not records:
        return  # nothing judged (e.g. --collect-only, or -k matching nothing): pytest's own exit code stands
    # Only when pytest's failures are all criteria: a broken test module or fixture keeps pytest's exit code.
    others = session.testsfailed - sum(1 for r in records if r["verdict"] != "passed")
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and others <= 0:
        session.exitstatus = code
