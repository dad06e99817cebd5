"""The gate itself, as a pytest plugin object: registered by wavegate.plugin only when an environment is named,
unregistered at the end (the way pytest's junitxml plugin does). Parametrisation, verdicts and every output.

A gate test module `tests/test_<area>.py` holds one function per criterion kind, marked
`@pytest.mark.criterion_kind(kind)`, which takes the `criterion` argument; each criterion of that area and kind
becomes one test, id = criterion id.
"""

from __future__ import annotations

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
from wavegate.context import GateContext
from wavegate.criteria import Criteria
from wavegate.errors import GateError
from wavegate.evidence import (
    allure_labels,
    base_record,
    html_extras,
    observation_fields,
    terminal_text,
)
from wavegate.options import OPTIONS, Resolved
from wavegate.outputs import OutputFolder, unfinished_record
from wavegate.results import SCHEMA, gate_status
from wavegate.secrets import LogRedaction
from wavegate.settings import Environment, format_time
from wavegate.verdicts import CriterionViolated, Observation

DEFAULT_OUTPUT = Path("reports/cp2-wave1-deployment/validation")


@dataclass
class GateState:
    """Everything the gate keeps for one session (in config.stash, never in module globals)."""

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
    options: Resolved | None = None

    def __repr__(self) -> str:  # pytest builds reprs for failure reports: keep them short
        return f"GateState(environment={self.environment.name!r}, output={str(self.output)!r})"


STATE = pytest.StashKey[GateState]()
OBSERVATION = pytest.StashKey[Observation]()
CRITERION = pytest.StashKey[Any]()


def _not_judged(state: GateState) -> list[str]:
    """Criteria selected by --area (all by default) that this run did not judge (-k, --deselect, a path…)."""
    return [c.id for c in state.criteria if (not state.areas or c.area in state.areas) and c.id not in state.records]


class GatePlugin:
    """The active gate's hooks for one session."""

    def __init__(self, config: pytest.Config, state: GateState) -> None:
        self.config, self.state = config, state
        config.stash[STATE] = state
        self._stop_on_sigterm()

    def close(self) -> None:
        """Undo what the session set up: the SIGTERM handler, the folder's lock, the log redaction."""
        state = self.state
        if state.previous_sigterm is not None:
            signal.signal(signal.SIGTERM, state.previous_sigterm)
            state.previous_sigterm = None
        if state.folder is not None:
            state.folder.release()
        if state.redaction is not None:
            state.redaction.uninstall()
        del self.config.stash[STATE]

    def _stop_on_sigterm(self) -> None:
        """SIGTERM (a CI timeout) stops the run like Ctrl-C, so that it still writes an `incomplete` record."""
        if threading.current_thread() is not threading.main_thread():
            return
        state = self.state

        def stop(signum: int, _frame: object) -> None:
            state.stopped_by = signal.Signals(signum).name
            raise KeyboardInterrupt(state.stopped_by)

        state.previous_sigterm = signal.signal(signal.SIGTERM, stop)

    def reproduce(self) -> str:
        """This run's command line with everything the gate read pinned: the environment file, the criteria
        file, both windows as absolute times, the areas and the output folder, whichever place they came from
        (option, variable or ini key); the other arguments (test paths, --pyargs, -k, -p …) as given."""
        state, env = self.state, self.state.environment
        gate_flags = {option.flag for option in OPTIONS}
        kept, args = [], list(self.config.invocation_params.args)
        skip = False
        for arg in args:
            if skip:
                skip = False
                continue
            if arg.split("=", 1)[0] in gate_flags:
                skip = "=" not in arg
                continue
            kept.append(arg)
        pinned = [f"--env-file={Path(env.path).resolve()}", f"--criteria={Path(state.criteria.path).resolve()}",
                  f"--baseline={format_time(env.baseline.start)}/{format_time(env.baseline.end)}",
                  f"--candidate={format_time(env.candidate.start)}/{format_time(env.candidate.end)}"]
        if state.areas:
            pinned.append(f"--area={','.join(state.areas)}")
        if state.options is not None and state.options["gate_output"]:
            pinned.append(f"--gate-output={state.output}")
        return "pytest " + shlex.join([*kept, *pinned])

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        state = self.state
        env = state.environment
        return [
            f"wavegate {__version__}: environment {env.name} ({env.path})",
            f"prometheus: {env.redacted_url}",
            f"windows: {env.baseline.describe()}; {env.candidate.describe()}",
            f"criteria: {state.criteria.path} ({len(state.criteria.items)} criteria)",
            "reproduce: " + self.reproduce(),
        ]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "criterion" not in metafunc.fixturenames:
            return
        marker = metafunc.definition.get_closest_marker("criterion_kind")
        if marker is None:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid} takes `criterion` but has no criterion_kind marker")
        kind = marker.args[0]
        area = metafunc.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
        state = self.state
        chosen = state.criteria.of(area, kind)
        params = [pytest.param(c, id=c.id) for c in chosen] or [pytest.param(None, id="no-criteria")]
        metafunc.parametrize("criterion", params)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        state = self.state
        keep, drop = [], []
        collected: dict[str, pytest.Item] = {}
        areas_seen = set()
        for item in items:
            callspec = getattr(item, "callspec", None)
            if callspec is None or "criterion" not in callspec.params:
                keep.append(item)
                continue
            criterion = callspec.params["criterion"]
            module = item.module.__name__  # type: ignore[attr-defined]
            areas_seen.add(module.rsplit(".", 1)[-1].removeprefix("test_"))
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
            listing = "; ".join(f"{c.id} (kind {c.kind}: tests/test_{c.area}.py needs test_{c.kind})"
                                for c in orphans)
            raise pytest.UsageError(f"{state.criteria.path}: no gate test judges {listing}")
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        # Allure names its result after the test when setup ends; labelling here, inside its teardown wrapper,
        # gives every gate test (an ERROR at setup included) the criterion's title, epic/feature/story, severity.
        criterion = item.stash.get(CRITERION, None)
        if criterion is not None:
            allure_labels(criterion)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item,
                                  call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        report = yield
        state = self.state
        criterion = item.stash.get(CRITERION, None)
        if criterion is None:
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

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        state = self.state
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pragma: no cover — comes with pytest-html
            return
        if metadata_key not in session.config.stash:
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
    def pytest_html_report_title(self, report: Any) -> None:
        report.title = "wavegate: CP2 Wave 1 release gate"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: pytest.Session) -> None:
        state = self.state
        if not state.records:
            return
        status, code = gate_status(list(state.records.values()))
        env = state.environment
        prefix.append(f"<p><strong>Gate: {escape(status.upper())} (exit {code})</strong> — environment "
                      f"{escape(env.name)}, {escape(env.baseline.describe())}, "
                      f"{escape(env.candidate.describe())}</p>")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, "<th>Criterion</th>")
        cells.insert(2, "<th>Verdict</th>")

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        info = dict(report.user_properties)
        cells.insert(1, f"<td>{escape(str(info.get('criterion', '')))}</td>")
        cells.insert(2, f"<td>{escape(str(info.get('summary', '')))}</td>")

    def pytest_report_teststatus(self, report: pytest.TestReport,
                                 config: pytest.Config) -> tuple[str, str, str] | None:
        # A check that could not evaluate in the test body is an ERROR, as it is in setup: not a failed criterion.
        if report.when == "call" and getattr(report, "wavegate_verdict", None) == "error":
            return "error", "E", "ERROR"
        return None

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        state = self.state
        if not state.records:
            return
        write = terminalreporter.write_line
        terminalreporter.section("wavegate verdicts")
        for record in state.records.values():
            first = record["message"].splitlines()[0] if record["message"] else ""
            text = record.get("summary") or first
            write(f"{record['verdict'].upper():7} {record['id']:38} {text}")
        missing = _not_judged(state)
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            write(f"gate: INCOMPLETE (stopped by {state.stopped_by or 'SIGINT'}; {len(missing)} selected criteria "
                  f"not judged); results: {state.output / 'gate-results.json'}")
            return
        status, code = gate_status(list(state.records.values()), missing)
        if missing:
            write(f"NOT JUDGED {len(missing)} selected criteria: {', '.join(missing)}")
        write(f"gate: {status.upper()} (exit {code}); results: {state.output / 'gate-results.json'}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        if state.folder is None:
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
