"""The gate itself, as a pytest plugin object: registered by wavegate.plugin only when an environment is named,
unregistered at the end (the way pytest's junitxml plugin does). Parametrisation, verdicts and every output.

A gate test module `tests/test_<area>.py` holds one function per criterion kind, marked
`@pytest.mark.criterion_kind(kind)`, which takes the `criterion` argument; each criterion of that area and kind
becomes one test, id = criterion id.
"""

from __future__ import annotations

import json
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
from wavegate.checks import evaluate, reads_only_prometheus
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
from wavegate.margins import most_used, used
from wavegate.options import OPTIONS, Resolved
from wavegate.outputs import OutputFolder, unfinished_record
from wavegate.prefetch import prefetch
from wavegate.results import SCHEMA, VERDICTS, gate_outcome
from wavegate.secrets import LogRedaction
from wavegate.settings import Environment, format_time
from wavegate.verdicts import CriterionInconclusive, CriterionViolated, Observation
from wavegate.waivers import NO_WAIVERS, Waivers

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
    waivers: Waivers = NO_WAIVERS
    report_only: bool = False

    def __repr__(self) -> str:  # pytest builds reprs for failure reports: keep them short
        return f"GateState(environment={self.environment.name!r}, output={str(self.output)!r})"


STATE = pytest.StashKey[GateState]()
OBSERVATION = pytest.StashKey[Observation]()
CRITERION = pytest.StashKey[Any]()


def _not_judged(state: GateState) -> list[str]:
    """Criteria selected by --area (all by default) that this run did not judge (-k, --deselect, a path…)."""
    return [c.id for c in state.criteria if (not state.areas or c.area in state.areas) and c.id not in state.records]


BANNER_COLOURS = {"PASSED": "#1e7e34", "FAILED": "#b02a37", "ERROR": "#c05600", "INCOMPLETE": "#6c757d",
                  "INCONCLUSIVE": "#8a6d00",
                  "REPORT-ONLY": "#5a3e9b"}


@dataclass(frozen=True)
class Outcome:
    status: str
    exit_code: int
    would_exit: int
    banner: str  # PASSED / FAILED / ERROR / INCOMPLETE / REPORT-ONLY
    report_only: bool
    blocked_by: list[str]
    non_blocking: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    missing: list[str]


def describe_comparison(env: Environment) -> str:
    """The comparison for people: two windows, or the baseline track against the candidate track (and the stage)."""
    if env.concurrent:
        text = (f"concurrent: {{{env.candidate.track}}} against {{{env.baseline.track}}} in the same window, "
                f"{env.confidence * 100:g} % intervals")
    elif env.tracks:
        text = f"windows: {{{env.candidate.track}}} in the candidate window against {{{env.baseline.track}}} in the " \
               f"baseline window, {env.confidence * 100:g} % intervals"
    else:
        text = "windows: the baseline window against the candidate window"
    return f"{text}; {env.describe_stage()}" if env.stage is not None else text


def comparison_record(env: Environment) -> dict[str, Any]:
    return {"mode": env.mode, "baseline_track": env.baseline.track or None,
            "candidate_track": env.candidate.track or None,
            "confidence": env.confidence if env.tracks else None, "stage": env.stage}


def verdict_line(record: dict[str, Any]) -> str:
    """One terminal line per criterion: its verdict (WAIVED / DRY-RUN when it does not block), the share of its
    margin used, and what the gate saw."""
    word = record["verdict"].upper()
    if record.get("non_blocking") and record["verdict"] != "passed":
        word = f"{record['non_blocking']}"
    share = record.get("margin_used")
    margin = f"{share * 100:3.0f} % of margin" if isinstance(share, float) else " " * 15
    if record.get("warning"):
        margin += " WARNING"
    first = record["message"].splitlines()[0] if record["message"] else ""
    text = record.get("summary") or first
    return f"{word:8} {record['id']:38} {margin:23} {text}".rstrip()


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
        gate_flags = {option.flag: option for option in OPTIONS}
        kept, args = [], list(self.config.invocation_params.args)
        skip = False
        for arg in args:
            if skip:
                skip = False
                continue
            option = gate_flags.get(arg.split("=", 1)[0])
            if option is not None:
                skip = "=" not in arg and not option.switch  # a switch takes no value: the next word is kept
                continue
            kept.append(arg)
        pinned = [f"--env-file={Path(env.path).resolve()}", f"--criteria={Path(state.criteria.path).resolve()}",
                  f"--baseline={format_time(env.baseline.start)}/{format_time(env.baseline.end)}",
                  f"--candidate={format_time(env.candidate.start)}/{format_time(env.candidate.end)}",
                  f"--comparison={env.mode}"]
        if env.concurrent:
            pinned.pop(2)  # both tracks are judged in the candidate window
        if env.stage is not None:
            pinned.append(f"--stage={env.stage:g}")
        if env.tracks:
            pinned.append(f"--confidence={env.confidence:g}")
        if state.areas:
            pinned.append(f"--area={','.join(state.areas)}")
        if state.options is not None and state.options["gate_output"]:
            pinned.append(f"--gate-output={state.output}")
        if state.waivers.path is not None:
            pinned.append(f"--waivers={Path(state.waivers.path).resolve()}")
        if state.report_only:
            pinned.append("--report-only")
        return "pytest " + shlex.join([*kept, *pinned])

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        state = self.state
        env = state.environment
        conventions = env.prometheus.describe_backend()  # tenant, Thanos parameters: not secrets
        backend = f" ({conventions})" if conventions else ""
        return [
            f"wavegate {__version__}: environment {env.name} ({env.path})",
            f"prometheus: {env.redacted_url}{backend}",
            f"windows: {env.baseline.describe()}; {env.candidate.describe()}",
            f"comparison: {describe_comparison(env)}",
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
            elif excinfo is not None and isinstance(excinfo.value, CriterionInconclusive):
                # Too little data to tell yet: never a pass, and not a proven violation either.
                record["verdict"] = "inconclusive"
                record["message"] = str(excinfo.value)
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
            self._decide_blocking(criterion, record, observation)
            state.records[criterion.id] = record
            report.wavegate_verdict = record["verdict"]
            if record["verdict"] != "passed" and not record["blocking"]:
                # Judged and reported, but it does not block: pytest's "expected failure", shown as WAIVED or
                # DRY-RUN (JUnit writes it as skipped with the reason); its real verdict stays in the record.
                report.outcome = "skipped"
                report.wasxfail = f"{record['non_blocking']}: {record['non_blocking_reason']}"
                report.wavegate_non_blocking = record["non_blocking"]
            if excinfo is not None and isinstance(excinfo.value, GateError | CriterionViolated | CriterionInconclusive):
                # The message says everything a reader needs; the gate's own traceback would only hide it.
                report.longrepr = record["message"]
            shown = dict(report.user_properties)
            if "criterion" not in shown:  # an ERROR before the check ran: still say which criterion and why
                report.user_properties = [*report.user_properties, ("criterion", criterion.id),
                                          ("summary", record["message"].splitlines()[0])]
            if observation is not None and observation.queries and item.config.get_verbosity() > 0:
                report.sections.append(("wavegate queries", terminal_text(criterion, observation)))
            report.extras = [*getattr(report, "extras", []),
                             *html_extras(record, state.environment.model.prometheus.url)]
        return report

    def _decide_blocking(self, criterion: Any, record: dict[str, Any], observation: Observation | None) -> None:
        """Margin used (and the warning band), and whether the verdict blocks: a dry run (enforce: false) never
        does; a failure covered by an active waiver does not; an error always does unless in a dry run."""
        measurements = observation.measurements if observation is not None else []
        for measurement, written in zip(measurements, record.get("measurements") or [], strict=False):
            written["margin_used"] = used(criterion, measurement)
        share = most_used(criterion, measurements, record["verdict"])
        record["margin_used"] = share
        record["warn_at"] = criterion.warn_at
        record["warning"] = bool(record["verdict"] == "passed" and share is not None
                                 and criterion.warn_at is not None and share >= criterion.warn_at)
        record["blocking"], record["non_blocking"], record["non_blocking_reason"] = True, None, None
        if not criterion.enforce:
            record["blocking"], record["non_blocking"] = False, "DRY-RUN"
            record["non_blocking_reason"] = "dry run (enforce: false): judged and reported, never blocks"
            return
        waivers = self.state.waivers
        failing = [m.key for m in measurements if m.passed is False]
        waiver = waivers.covering(criterion.id, record["verdict"], failing,
                                  violations=observation.details if observation is not None else ["(not observed)"],
                                  no_data=observation is None or observation.no_data or bool(observation.warnings))
        if waiver is not None:
            record["blocking"], record["non_blocking"] = False, "WAIVED"
            record["non_blocking_reason"] = waiver.describe()
            record["waiver"] = waiver.as_dict()
        elif record["verdict"] != "passed" and (expired := waivers.expired_for(criterion.id)):
            record["expired_waivers"] = [w.as_dict() for w in expired]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Before the first criterion is judged, send the Prometheus queries of all of them concurrently (see
        wavegate.prefetch); returns nothing, so pytest's own loop then runs the tests."""
        config = session.config
        if config.option.collectonly or getattr(config.option, "setupplan", False) or session.testsfailed:
            return
        chosen = [item.stash[CRITERION] for item in session.items if CRITERION in item.stash]
        prefetch([c for c in chosen if reads_only_prometheus(c.kind)], self.state.context, evaluate)

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
            "Comparison": describe_comparison(env),
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
        outcome = self.outcome()
        env = state.environment
        colour = BANNER_COLOURS.get(outcome.banner, "#b02a37")
        records = state.records
        lines = [f"{'would have blocked (report-only)' if outcome.report_only else 'BLOCKS'}: {cid} — "
                 f"{records[cid].get('summary') or records[cid]['message'].splitlines()[0]}"
                 for cid in outcome.blocked_by] or ["nothing blocks the rollout"]
        lines += [f"{r['non_blocking']}: {r['id']} ({r['verdict']}) — {r['non_blocking_reason']}"
                  for r in outcome.non_blocking if r["verdict"] != "passed"]
        lines += [f"WARNING: {r['id']} used {r['margin_used'] * 100:.0f} % of its margin (warning at "
                  f"{r['warn_at'] * 100:.0f} %)" for r in outcome.warnings]
        items = "".join(f"<li>{escape(line)}</li>" for line in lines)
        prefix.append(
            f'<div id="wavegate-status" style="background:{colour};color:#fff;padding:14px 20px;border-radius:6px;'
            f'margin:8px 0 16px 0"><div style="font-size:26px;font-weight:bold">Gate: {escape(outcome.banner)} '
            f'(exit {outcome.exit_code})</div><ul style="margin:6px 0 0 0">{items}</ul>'
            f'<div style="margin-top:6px">environment {escape(env.name)}, {escape(env.baseline.describe())}, '
            f"{escape(env.candidate.describe())}; {escape(describe_comparison(env))}</div></div>"
            # pytest-html puts the summary below its environment table: the status goes above everything.
            '<script>document.body.prepend(document.getElementById("wavegate-status"))</script>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[1:1] = ["<th>Criterion</th>", "<th>Severity</th>", "<th>Verdict</th>", "<th>Margin used</th>",
                      "<th>Description</th>"]

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        info = dict(report.user_properties)
        record = self.state.records.get(str(info.get("criterion", "")), {})
        verdict = str(info.get("summary", ""))
        if record.get("non_blocking") and record.get("verdict") != "passed":
            verdict = f"{record['non_blocking']} ({record['verdict']}, does not block: " \
                      f"{record['non_blocking_reason']}) — {verdict}"
        share = record.get("margin_used")
        margin = f"{share * 100:.0f} %" if isinstance(share, float) else ""
        if record.get("warning"):
            margin += " ⚠ warning"
        cells[1:1] = [f"<td>{escape(str(info.get('criterion', '')))}</td>",
                      f"<td>{escape(str(record.get('severity', '')))}</td>", f"<td>{escape(verdict)}</td>",
                      f"<td>{escape(margin)}</td>", f"<td>{escape(str(record.get('description', '')))}</td>"]

    def pytest_report_teststatus(self, report: pytest.TestReport,
                                 config: pytest.Config) -> tuple[str, str, str] | None:
        non_blocking = getattr(report, "wavegate_non_blocking", None)
        if non_blocking is not None and report.skipped:
            return non_blocking.lower(), non_blocking[0].lower(), non_blocking
        # A check that could not evaluate in the test body is an ERROR, as it is in setup: not a failed criterion.
        if report.when == "call" and getattr(report, "wavegate_verdict", None) == "error":
            return "error", "E", "ERROR"
        if report.when == "call" and getattr(report, "wavegate_verdict", None) == "inconclusive":
            return "inconclusive", "I", "INCONCLUSIVE"
        return None

    def outcome(self) -> Outcome:
        """The run's status and exit code from its blocking criteria, and what did not block and why."""
        state = self.state
        records = list(state.records.values())
        missing = _not_judged(state)
        status, would = gate_outcome(records, missing)
        code, banner = would, status.upper()
        if state.report_only and would in (1, 6, 7):
            # Report-only forgives what was judged, not what was left out: an incomplete selection stays 5.
            code, banner = (5, "INCOMPLETE") if missing else (0, "REPORT-ONLY")
        return Outcome(
            status=status, exit_code=code, would_exit=would, banner=banner, report_only=state.report_only,
            blocked_by=[r["id"] for r in records if r["verdict"] != "passed" and r.get("blocking", True)],
            non_blocking=[r for r in records if r.get("blocking") is False],
            warnings=[r for r in records if r.get("warning")], missing=missing)

    def _allure_metadata(self, outcome: Outcome) -> None:
        """Allure's Environment panel, categories and report name for this run (when allure-pytest writes)."""
        folder = getattr(self.config.option, "allure_report_dir", None)
        if not folder or not Path(folder).is_dir():
            return
        env, state = self.state.environment, self.state
        properties = {"Gate status": f"{outcome.banner} (exit {outcome.exit_code})", "Environment": env.name,
                      "Prometheus": env.redacted_url, "Baseline window": env.baseline.describe(),
                      "Candidate window": env.candidate.describe(), "Criteria file": str(state.criteria.path)}
        (Path(folder) / "environment.properties").write_text(
            "".join(f"{key.replace(' ', '.')}={value}\n" for key, value in properties.items()), encoding="utf-8")
        categories = [
            {"name": "violated (a criterion does not hold)", "matchedStatuses": ["failed"]},
            {"name": "could not evaluate (Prometheus or an endpoint)", "matchedStatuses": ["broken"]},
            {"name": "does not block (waived or dry run)", "matchedStatuses": ["skipped"]},
        ]
        (Path(folder) / "categories.json").write_text(json.dumps(categories, indent=2), encoding="utf-8")
        name = f"wavegate {outcome.banner}: {env.name}"
        (Path(folder) / "executor.json").write_text(json.dumps({"name": "wavegate", "type": "pytest",
                                                                "reportName": name, "buildName": name}),
                                                    encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        state = self.state
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        if not state.records and not interrupted:
            return
        write = terminalreporter.write_line
        terminalreporter.section("wavegate verdicts")
        # An interrupt may come before any verdict (while the criteria's queries are sent ahead): still said.
        for record in state.records.values():
            write(verdict_line(record))
        outcome = self.outcome()
        env = state.environment
        if interrupted:
            write(f"gate: INCOMPLETE (stopped by {state.stopped_by or 'SIGINT'}; {len(outcome.missing)} selected "
                  f"criteria not judged); results: {state.output / 'gate-results.json'}")
            return
        if outcome.missing:
            write(f"NOT JUDGED {len(outcome.missing)} selected criteria: {', '.join(outcome.missing)}")
        for waiver in state.waivers.expired():
            write(f"EXPIRED waiver for {waiver.criterion} ({format_time(waiver.expires)}, {waiver.approver}): no "
                  "longer applies")
        if outcome.report_only and outcome.blocked_by:
            write(f"REPORT-ONLY: would have blocked (exit {outcome.would_exit}): {', '.join(outcome.blocked_by)}")
        stage = f" at {env.describe_stage()}" if env.stage is not None else ""
        results = state.output / "gate-results.json"
        write(f"gate: {outcome.banner}{stage} (exit {outcome.exit_code}); results: {results}")

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
                summary={v: sum(1 for r in records if r["verdict"] == v) for v in VERDICTS},
                not_judged=missing, criteria=records))
            return
        outcome = self.outcome()
        code = outcome.exit_code
        waivers = state.waivers
        payload = {
            "schema": SCHEMA,
            "status": outcome.status,
            "exit_code": code,
            "finished": True,
            "report_only": outcome.report_only,
            "would_exit_code": outcome.would_exit,
            "blocked_by": outcome.blocked_by,
            "non_blocking": [{"id": r["id"], "verdict": r["verdict"], "kind": r["non_blocking"],
                              "reason": r["non_blocking_reason"]} for r in outcome.non_blocking],
            "warnings": [r["id"] for r in outcome.warnings],
            "waivers": {"file": str(waivers.path) if waivers.path else None,
                        "applied": [r["waiver"] for r in records if r.get("waiver")],
                        "expired": [w.as_dict() for w in waivers.expired()]},
            "environment": env.name,
            "environment_file": str(env.path),
            "criteria_file": str(state.criteria.path),
            "prometheus_url": env.redacted_url,
            "windows": {"baseline": env.baseline.as_dict(), "candidate": env.candidate.as_dict()},
            "comparison": comparison_record(env),
            "stage": env.stage,
            "phases": env.phases,
            "started_at": format_time(state.started),
            "finished_at": format_time(datetime.now(UTC)),
            "summary": {v: sum(1 for r in records if r["verdict"] == v) for v in VERDICTS},
            "areas": list(state.areas) or None,
            "not_judged": missing,
            "outputs": {"html": "gate.html", "junit": "junit.xml", "allure": "allure-results"},
            "criteria": records,
        }
        state.folder.write(payload)
        self._allure_metadata(outcome)
        if not records:
            return  # nothing judged (e.g. --collect-only, or -k matching nothing): pytest's own exit code stands
        # Only when pytest's failures are all criteria: a broken test module or fixture keeps pytest's exit code.
        others = session.testsfailed - sum(1 for r in records if r["verdict"] != "passed" and r["blocking"])
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and others <= 0:
            session.exitstatus = code
