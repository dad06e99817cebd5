"""The wavegate pytest plugin's entry point (`pytest11` and this repository's conftest.py): it adds the gate's
options, ini keys and marker, and does nothing else unless an environment is named — by --env / --env-file,
WAVEGATE_ENV / WAVEGATE_ENV_FILE or the ini keys wavegate_env / wavegate_env_file (command line > variable >
ini key). Then it loads the environment and criteria, takes the output folder and registers the gate
(`wavegate.gate_plugin.GatePlugin`) for the session, unregistering it at the end. A suite that did not ask for
the gate runs as if wavegate were not installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from wavegate.checks import preflight
from wavegate.context import GateContext
from wavegate.criteria import AREAS, default_criteria_path, load_criteria
from wavegate.errors import ConfigError, GateError
from wavegate.evidence import allure_attach, junit_properties
from wavegate.gate_plugin import CRITERION, DEFAULT_OUTPUT, OBSERVATION, STATE, GatePlugin, GateState
from wavegate.options import HOW_TO_ACTIVATE, OPTIONS, Resolved, resolve
from wavegate.outputs import OutputFolder, configuration_error_record, unfinished_record
from wavegate.prometheus import PrometheusClient
from wavegate.secrets import LogRedaction, secret_values
from wavegate.settings import load_environment, parse_window_option
from wavegate.verdicts import Observation
from wavegate.waivers import NO_WAIVERS, load_waivers

MARKER = "criterion_kind(kind): the criterion kind a wavegate gate test judges; its criteria parametrise it."
GATE = pytest.StashKey[GatePlugin]()
INACTIVE = "wavegate-not-active"
# Commands that only show something (pytest --help, --markers, --fixtures): the gate stays off, the output
# folder untouched.
_INFORMATIONAL = ("help", "markers", "showfixtures", "show_fixtures_per_test")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wavegate", "wavegate release gate (active only when an environment is named)")
    for option in OPTIONS:
        where = f"[variable {option.variable}, ini key {option.ini}]"
        if option.switch:
            group.addoption(option.flag, dest=option.dest, default=None, action="store_const", const="true",
                            help=f"{option.help} {where}")
        else:
            group.addoption(option.flag, dest=option.dest, default=None, metavar=option.metavar,
                            help=f"{option.help} {where}")
        parser.addini(option.ini, f"wavegate: default for {option.flag} ({option.help})", default=None)


def resolved_options(config: pytest.Config) -> Resolved:
    ini_folder = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
    return resolve(lambda dest: config.getoption(dest, None), os.environ, config.getini, ini_folder)


def _environment_path(config: pytest.Config, options: Resolved) -> tuple[Path, str]:
    explicit = options["env_file"]
    if explicit:
        path = Path(explicit)
        return path, path.stem
    name = str(options["env"])
    folder = Path(config.rootpath) / "environments"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise ConfigError(
            f"unknown environment {options.source('env')}={name}: {path} does not exist; environments "
            f"available: {', '.join(known) or 'none'} (or name a file: --env-file=PATH, WAVEGATE_ENV_FILE or "
            "ini wavegate_env_file)"
        )
    return path, name


_PATH_OPTIONS = tuple(option.flag for option in OPTIONS if option.path)


def _check_option_spelling(config: pytest.Config) -> None:
    # pytest finds its rootdir and ini file before plugins add their options, so in `--env-file PATH` the
    # PATH is taken for a test path and the wrong rootdir (and test folder) is used. `--env-file=PATH` is safe.
    args = list(config.invocation_params.args)
    if any(a in ("--rootdir", "-c", "--config-file") or a.startswith(("--rootdir=", "-c=", "--config-file="))
           for a in args):
        return
    for index, arg in enumerate(args[:-1]):
        if arg in _PATH_OPTIONS and Path(args[index + 1]).exists():
            option = next(o for o in OPTIONS if o.flag == arg)
            raise ConfigError(
                f"write {arg}={args[index + 1]} (with '='): as two words, pytest takes the path for a test "
                f"folder before wavegate can read it, and would collect the wrong tests (or set the variable "
                f"{option.variable}, or the ini key {option.ini})"
            )


def _load_state(config: pytest.Config, options: Resolved) -> GateState:
    _check_option_spelling(config)
    env_path, env_name = _environment_path(config, options)
    windows = {name: parse_window_option(name, text) for name in ("baseline", "candidate")
               if (text := options[name])}
    mode = options["comparison"]
    if mode is not None and mode not in ("windows", "concurrent"):
        raise ConfigError(f"{options.source('comparison')}={mode}: write windows or concurrent")
    stage = None
    if options["stage"] is not None:
        try:
            stage = float(str(options["stage"]).strip().rstrip("%"))
        except ValueError:
            raise ConfigError(f"{options.source('stage')}={options['stage']}: write the canary's share of the "
                              "traffic in percent, e.g. 10") from None
    confidence = None
    if options["confidence"] is not None:
        try:
            confidence = float(str(options["confidence"]))
        except ValueError:
            confidence = -1.0
        if not 0.5 <= confidence < 1:
            raise ConfigError(f"{options.source('confidence')}={options['confidence']}: write a confidence level "
                              "from 0.5 to below 1, e.g. 0.95")
    environment = load_environment(env_path, name=env_name, mode=mode, stage=stage, confidence=confidence,
                                   **windows)  # type: ignore[arg-type]
    criteria_option = options["criteria"]
    criteria_path = Path(criteria_option) if criteria_option else default_criteria_path(Path(config.rootpath))
    criteria = load_criteria(criteria_path)
    missing = [name for name in criteria.contract.components if name not in environment.components]
    if missing:
        raise ConfigError(f"{env_path} is invalid:\n  components: missing {', '.join(missing)}, which the metrics "
                          f"contract {criteria.contract_path} requires")
    areas: tuple[str, ...] = ()
    if options["area"] is not None:
        areas = tuple(a.strip() for a in str(options["area"]).split(",") if a.strip())
        unknown = [a for a in areas if a not in AREAS] or ([] if areas else ["(none given)"])
        if unknown:
            raise ConfigError(f"{options.source('area')}: unknown area(s) {', '.join(unknown)}; areas are "
                              f"{', '.join(AREAS)}")
    client = PrometheusClient(environment.prometheus, source=str(env_path))
    context = GateContext(environment=environment, contract=criteria.contract, prometheus=client)
    output = Path(options["gate_output"] or DEFAULT_OUTPUT)
    waivers = load_waivers(Path(str(options["waivers"])), (c.id for c in criteria)) if options["waivers"] \
        else NO_WAIVERS
    return GateState(environment, criteria, output, context, areas=areas, options=options, waivers=waivers,
                     report_only=options.switch("report_only"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    if any(getattr(config.option, name, False) for name in _INFORMATIONAL):
        return
    options = resolved_options(config)
    if not options.active:
        given = [option.flag for option in OPTIONS if config.getoption(option.dest, None) is not None]
        if given:
            raise pytest.UsageError(f"wavegate: {', '.join(given)} given, but the gate is off until you "
                                    f"{HOW_TO_ACTIVATE}")
        return
    try:
        state = _load_state(config, options)
    except GateError as exc:
        _record_configuration_error(options, str(exc))
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
    plugin = GatePlugin(config, state)
    config.stash[GATE] = plugin
    config.pluginmanager.register(plugin, "wavegate-gate")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(GATE, None)
    if plugin is None:
        return
    del config.stash[GATE]
    plugin.close()
    config.pluginmanager.unregister(plugin)


# -- When the gate is off: its tests (if collected) say how to turn it on -------------------------------------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "criterion" in metafunc.fixturenames and STATE not in metafunc.config.stash:
        metafunc.parametrize("criterion", [pytest.param(None, id=INACTIVE)])


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if STATE in config.stash or any(getattr(config.option, name, False) for name in _INFORMATIONAL):
        return
    inactive = [item.nodeid for item in items if INACTIVE in item.nodeid]
    if inactive:
        raise pytest.UsageError(f"{len(inactive)} wavegate gate test(s) collected ({inactive[0]} …), but the gate "
                                f"is off: {HOW_TO_ACTIVATE}")


@pytest.fixture
def gate(request: pytest.FixtureRequest) -> GateContext:
    """The evaluation context (environment, contract, Prometheus client, cached scrapes), inputs checked.

    Setup fetches what the criterion's kind reads — Prometheus answering, the components' /metrics — so an
    unreachable input is a test ERROR naming it; the test body then only judges.
    """
    state = request.config.stash.get(STATE, None)
    if state is None:
        pytest.fail(f"the wavegate gate is off: {HOW_TO_ACTIVATE}", pytrace=False)
    context = state.context
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


def _record_configuration_error(options: Resolved, cause: str) -> None:
    """Replace the previous run's results with an `error` record (exit 4): the gate was asked for, and a
    previous result in its folder would otherwise read as this run's."""
    output = Path(options["gate_output"] or DEFAULT_OUTPUT)
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
