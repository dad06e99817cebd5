"""Build the deployment report: read the gate's results, ask Prometheus, draw, shoot, bundle, write, install.

Everything is written into a staging folder under the output root first; only a complete report is moved
into place (the main Markdown last), so an interrupted or failed build never leaves a report that looks done.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import requests
import yaml

from wavegate.errors import ConfigError, PrometheusUnavailable, QueryFailed
from wavegate.prometheus import PrometheusClient
from wavegate.promql import Scope, scope_for
from wavegate.report import layout
from wavegate.report.bundle import bundle_gate_html, render_allure
from wavegate.report.catalogue import GRAPHS, IMPROVEMENT_GRAPHS, LATENCY_HISTOGRAMS, ROWS, SCREENSHOT_QUERIES
from wavegate.report.checklist import checklist_items
from wavegate.report.collect import collect, graph_step, rate_range, resolve, scoped, write_csvs
from wavegate.report.errors import ArtifactUnavailable, ReportInputError
from wavegate.report.graphs import GateMarks, draw_all, pyplot
from wavegate.report.inputs import DEFAULT_RESULTS, Inputs, load_environment_model, load_inputs
from wavegate.report.intervals import INCONCLUSIVE, deciding, measurement_verdict
from wavegate.report.markdown import write_main, write_supporting
from wavegate.report.model import Built, ReportOptions, ReportOutcome
from wavegate.report.rollout import DEFAULT_ROLLOUT, Rollout, copy_rollout, load_rollout
from wavegate.report.rollout_graphs import KEY as ROLLOUT_GRAPH
from wavegate.report.rollout_graphs import rollout_graph
from wavegate.report.screenshots import take_screenshots
from wavegate.report.status import compute_status, tick
from wavegate.results import MeasurementRecord
from wavegate.settings import PrometheusSettings, redact_url


def _secrets(settings: PrometheusSettings) -> list[str]:
    names = [settings.bearer_token_env, settings.basic_auth.password_env if settings.basic_auth else None]
    values = [os.environ.get(n) for n in names if n]
    values += list(settings.headers.values())
    return [v for v in values if v and len(v) >= 4]


def scrub(text: str, secrets: list[str]) -> str:
    """Replace known secret values (tokens, passwords, header values) before anything is written."""
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _unjudged(inputs: Inputs) -> list[str]:
    """Criteria of the criteria file the gate did not judge (a run with --area or -k).

    Fails closed: when the criteria file cannot be read, that itself is reported as not judged."""
    path = inputs.results.get("criteria_file")
    if not isinstance(path, str) or not Path(path).is_file():
        return [f"(criteria file {path!s} not readable: cannot tell which criteria were not judged)"]
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        declared = [c["id"] for c in raw.get("criteria", []) if isinstance(c, dict) and "id" in c]
    except (OSError, yaml.YAMLError, AttributeError):
        return [f"(criteria file {path} not readable: cannot tell which criteria were not judged)"]
    judged = {r.id for r in inputs.records}
    return [cid for cid in declared if cid not in judged]


def _queue_limits(built: Built) -> dict[str, float]:
    """Each pool's max_queue_size as memory.queue_bounded judged it (its measurements); none when not judged."""
    record = built.record("memory.queue_bounded")
    return {m.key["resource_pool"]: m.threshold for m in (record.measurements if record else ())
            if "resource_pool" in m.key and m.threshold is not None}


def failing_queries(built: Built) -> list[tuple[str, str]]:
    """The query that decided each failed (or inconclusive) criterion, as the gate ran it (scoped and expanded),
    for a screenshot of Prometheus' own graph of the failing metric."""
    found = []
    for record in built.records:
        queries = [str(q.get("query")) for q in record.queries if q.get("query")]
        if record.verdict not in ("failed", INCONCLUSIVE) or not queries:
            continue
        # the query about the culprit (its histogram, job, component ...), else the first the gate ran
        worst = deciding(record)
        culprit = worst.key.values() if worst is not None else ()
        about = [q for q in queries if any(value and value in q for value in culprit)]
        found.append((f"failing_{record.id.replace('.', '_')}", (about or queries)[0]))
    return found


def gate_marks(built: Built) -> dict[str, GateMarks]:
    """The gate's thresholds and violated sub-series for the graphs of the criteria it judged, by graph key,
    in each graph's own units: queue depth per pool, uptime per job (%), latency quantiles per component
    (ms: the baseline quantile times 1 + the allowed increase)."""
    marks: dict[str, GateMarks] = {}
    queue = built.record("memory.queue_bounded")
    if queue is not None:
        marks["queue_depth"] = _marks(queue.id, [(m.key.get("resource_pool", ""), m.threshold, m)
                                                 for m in queue.measurements])
    uptime = built.record("availability.uptime")
    if uptime is not None:
        marks["uptime"] = _marks(uptime.id, [(m.key.get("job", ""), None if m.threshold is None else m.threshold * 100,
                                             m) for m in uptime.measurements])
    latency = built.record("performance.latency_increase")
    if latency is not None:
        component = {histogram: name for name, histogram in LATENCY_HISTOGRAMS.items()}
        found = []
        for m in latency.measurements:
            name, quantile = component.get(m.key.get("histogram", "")), m.key.get("quantile", "")
            if name is None or quantile not in ("0.5", "0.95", "0.99"):
                continue
            # Judged by an interval, baseline / candidate are shares of observations, not seconds: no line to draw.
            limit = None if m.baseline is None or m.threshold is None or m.interval is not None \
                else m.baseline * (1 + m.threshold) * 1000
            found.append((f"{name} p{round(float(quantile) * 100)}", limit, m))
        marks["latency_percentiles"] = _marks(latency.id, found)
    return marks


def _marks(criterion: str, found: list[tuple[str, float | None, MeasurementRecord]]) -> GateMarks:
    return GateMarks(criterion, {legend: limit for legend, limit, _ in found if legend and limit is not None},
                     frozenset(legend for legend, _, m in found if measurement_verdict(m) == "failed"),
                     frozenset(legend for legend, _, m in found if measurement_verdict(m) == INCONCLUSIVE))


def _load_rollout(options: ReportOptions, root: Path, results: dict[str, Any]) -> tuple[Rollout | None, str]:
    """--rollout PATH (which must exist), else the rollout scripts/rollout left under the output root when the
    judged results are one of its stages' runs (written while it ran): a rollout left over from another run
    (a demo after it) is not this report's, and the second value says why it was left out."""
    if options.rollout is not None:
        return load_rollout(options.rollout), ""
    default = root / DEFAULT_ROLLOUT
    if not default.is_file():
        return None, ""
    rollout = load_rollout(default)
    judged = _moment(results.get("started_at"))
    if rollout.started_at is None or rollout.finished_at is None or judged is None \
            or not rollout.started_at <= judged <= rollout.finished_at:
        started = results.get("started_at") or "an unrecorded time"
        return None, (f"the staged rollout under the output root (`{DEFAULT_ROLLOUT}`, {results_span(rollout)}) is "
                      f"another run's: the gate run judged here started at {started}; pass --rollout PATH to "
                      "include it")
    return rollout, ""


def results_span(rollout: Rollout) -> str:
    if rollout.started_at is None or rollout.finished_at is None:
        return "its times not recorded"
    return f"{rollout.started_at:%Y-%m-%dT%H:%M:%SZ} to {rollout.finished_at:%Y-%m-%dT%H:%M:%SZ}"


def _moment(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _rollout_evidence(built: Built, rollout: Rollout, staging: Path, secrets: list[str]) -> None:
    """Copy the rollout's records and rollback evidence into the bundle, and draw its tracks from Prometheus."""
    judged = rollout.judged
    recorded = (judged[0].results or {}).get("environment_file") if judged else None
    if isinstance(recorded, str) and Path(recorded).is_file():
        with suppress(ReportInputError):  # the stages' Prometheus may have credentials of its own: never write them
            secrets = [*secrets, *_secrets(load_environment_model(Path(recorded)).prometheus)]

    def clean(text: str) -> str:
        return scrub(text, secrets)

    for name, result in copy_rollout(rollout, staging / layout.ROLLOUT, clean).items():
        built.put(name, result, staging)
    built.rollout_files = sorted(PurePosixPath(p.relative_to(staging).as_posix())
                                 for p in (staging / layout.ROLLOUT).rglob("*") if p.is_file())
    drawn, data = rollout_graph(rollout, staging / layout.GRAPHS, staging / layout.METRICS)
    built.put(f"graph:{ROLLOUT_GRAPH}", drawn, staging)
    if data is not None:
        built.put(f"graph-data:{ROLLOUT_GRAPH}", data, staging)


def _copy_logs(built: Built, options: ReportOptions, root: Path, staging: Path, secrets: list[str]) -> None:
    for name in layout.LOG_NAMES:
        # The command line's word first, then the environment file's (report.<name>_log), then the local stack's.
        source = options.logs.get(name) or built.inputs.logs.get(name) or root / layout.LOGS / f"{name}.log"
        target = staging / layout.LOGS / f"{name}.log"
        if not source.is_file():
            script = "scripts/run_cp1_profile.sh" if name == "run_cp1_profile" else "scripts/validate_metrics.sh"
            built.put(f"log:{name}", f"no log at {source}: run {script} where this environment runs (it writes its "
                                     f"log), then pass --{name.replace('_', '-')}-log PATH or set report.{name}_log "
                                     f"in {built.inputs.environment_path.name}", staging)
            continue
        script = "scripts/run_cp1_profile.sh" if name == "run_cp1_profile" else "scripts/validate_metrics.sh"
        written = datetime.fromtimestamp(source.stat().st_mtime, UTC)
        if written < built.inputs.candidate.end:
            # A log from an earlier run says nothing about these windows: not this report's evidence.
            built.put(f"log:{name}", f"{source} was written {written:%Y-%m-%dT%H:%M:%SZ}, before the candidate "
                                     f"window ended: it belongs to an earlier run; re-run {script}", staging)
            continue
        text = scrub(source.read_text(encoding="utf-8", errors="replace"), secrets)
        target.write_text(text, encoding="utf-8")
        lines = text.splitlines()
        verdicts = [line for line in lines if line.startswith(f"{name}: ")]
        built.log_info[name] = {"source": str(source), "lines": len(lines), "bytes": len(text.encode()),
                                "last": lines[-8:], "outcome": verdicts[-1] if verdicts else "no outcome line"}
        built.put(f"log:{name}", target, staging)


def _endpoint_evidence(built: Built, staging: Path, secrets: list[str]) -> None:
    """Fetch each component's /metrics once, like the spec's `curl` evidence, and keep the answer's head."""
    for component in list(built.inputs.components) or ["router", "gateway", "worker"]:
        url = built.inputs.components.get(component)
        info: dict[str, Any] = {"url": redact_url(url) if url else "not configured"}
        built.endpoints[component] = info
        if not url:
            built.put(f"endpoint:{component}", "no metrics_url in the environment file", staging)
            continue
        try:
            response = requests.get(url, timeout=10)
        except requests.RequestException as exc:
            info["result"] = f"unreachable ({type(exc).__name__})"
            built.put(f"endpoint:{component}", f"GET {info['url']} failed: {type(exc).__name__}", staging)
            continue
        info["result"] = f"HTTP {response.status_code}, {len(response.content)} bytes"
        lines = response.text.splitlines()
        info["families"] = sum(1 for line in lines if line.startswith("# TYPE "))
        if response.status_code != 200:
            built.put(f"endpoint:{component}", f"GET {info['url']} answered HTTP {response.status_code}", staging)
            continue
        target = staging / layout.LOGS / f"metrics_endpoint_{component}.txt"
        head = "\n".join(lines[:60])
        target.write_text(scrub(f"$ curl -s {info['url']}   # first 60 of {len(lines)} lines, "
                                f"{built.generated_at:%Y-%m-%dT%H:%M:%SZ}\n{head}\n", secrets), encoding="utf-8")
        built.put(f"endpoint:{component}", target, staging)


def _targets(built: Built, client: PrometheusClient, staging: Path, scope: Scope) -> None:
    try:
        # in a shared Prometheus, only this environment's targets (as the gate's integration.targets_up)
        targets = [t for t in client.targets() if scope.admits_target(t.get("labels") or {})]
    except (PrometheusUnavailable, QueryFailed) as exc:
        built.targets_error = str(exc)
        return
    built.targets = [{
        "job": str(t.get("labels", {}).get("job", "")),
        "instance": str(t.get("labels", {}).get("instance", "")),
        "health": str(t.get("health", "")),
        "last_scrape": str(t.get("lastScrape", "")),
        "scrape_duration": t.get("lastScrapeDuration"),
        "last_error": str(t.get("lastError", "")),
        "scrape_url": redact_url(str(t.get("scrapeUrl", ""))),
    } for t in targets]
    path = staging / layout.METRICS / "prometheus_targets.csv"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, ["job", "instance", "health", "last_scrape", "scrape_duration", "last_error",
                                         "scrape_url"])
        writer.writeheader()
        writer.writerows(built.targets)


def _bundle(built: Built, options: ReportOptions, staging: Path) -> None:
    validation = built.inputs.validation_dir
    outputs = built.inputs.results.get("outputs") or {}
    try:
        built.put("html:gate", bundle_gate_html(validation, str(outputs.get("html", "gate.html")),
                                                staging / layout.GATE_HTML), staging)
    except (ArtifactUnavailable, OSError) as exc:
        built.put("html:gate", str(exc), staging)
    try:
        results = built.inputs.results
        status = "REPORT-ONLY" if results.get("report_only") and results.get("would_exit_code") in (1, 6) \
            else str(results.get("status", "?")).upper()
        allure = render_allure(validation / str(outputs.get("allure", "allure-results")), staging / layout.ALLURE_HTML,
                               title=f"CP2 Wave 1 release gate: {status} ({results.get('environment', '?')})")
        built.put("html:allure", allure, staging)
    except (ArtifactUnavailable, OSError) as exc:
        built.put("html:allure", str(exc), staging)


def _install(staging: Path, root: Path) -> None:
    """Move the staged report into place: the old main report goes first, the new one comes last."""
    (root / layout.REPORT).unlink(missing_ok=True)
    trash = staging / ".replaced"
    trash.mkdir()
    for folder in layout.OWNED_DIRS:
        target = root / folder
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.replace(target, trash / folder.name)
        if (staging / folder).exists():
            os.replace(staging / folder, target)
    for folder in layout.SHARED_DIRS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for item in sorted((staging / folder).iterdir()):
            os.replace(item, root / folder / item.name)
    (root / layout.DOCS).mkdir(parents=True, exist_ok=True)
    for document in layout.DOCUMENTS:
        if (staging / document).exists():
            os.replace(staging / document, root / document)
        else:
            (root / document).unlink(missing_ok=True)  # an older bundle must not pass for this run's
    os.replace(staging / layout.REPORT, root / layout.REPORT)


def build_report(options: ReportOptions) -> ReportOutcome:
    """Build and install the report under options.output_root; raises ReportError (with its exit code)."""

    root = options.output_root
    results = options.results or root / DEFAULT_RESULTS
    say = options.progress or (lambda step: None)
    say(f"reading {results}")
    inputs = load_inputs(results, options.env_name, options.env_file)
    rollout, left_out = _load_rollout(options, root, inputs.results)
    try:
        client = PrometheusClient(inputs.prometheus, source=str(inputs.environment_path))
    except ConfigError as exc:
        raise ReportInputError(str(exc)) from None
    pyplot()  # fail before any query when matplotlib is missing
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wavegate-report-", dir=root))
    try:
        for folder in (*layout.OWNED_DIRS, *layout.SHARED_DIRS, layout.DOCS):
            if folder not in layout.ON_DEMAND_DIRS:
                (staging / folder).mkdir(parents=True, exist_ok=True)
        scrape = inputs.prometheus.scrape_interval
        windows = {"baseline": inputs.baseline, "candidate": inputs.candidate}
        scope = scope_for(inputs.jobs, inputs.prometheus)  # the environment's series, as the gate reads them
        say(f"asking Prometheus at {inputs.prometheus_display_url} for {len(ROWS)} table rows and {len(GRAPHS)} "
            "graphs over both windows")
        collected = collect(client, windows, scope=scope, scrape_interval=scrape)
        built = Built(inputs, collected, datetime.now(UTC), rollout=rollout, rollout_left_out=left_out)
        built.unjudged = _unjudged(inputs)
        built.queue_limits = _queue_limits(built)
        secrets = _secrets(inputs.prometheus)
        write_csvs(collected, staging / layout.METRICS)
        gate_copy = staging / layout.METRICS / "gate-results.json"
        gate_copy.write_text(scrub(inputs.results_path.read_text(encoding="utf-8"), secrets), encoding="utf-8")
        built.put("gate-results", gate_copy, staging)
        _targets(built, client, staging, scope)
        say(f"drawing {len(collected.graphs)} graphs")
        for key, result in draw_all(collected, staging / layout.GRAPHS, gate_marks(built)).items():
            built.put(f"graph:{key}", result, staging)
        if options.screenshots:
            say(f"taking {len(SCREENSHOT_QUERIES) + 1} Prometheus screenshots with headless Chromium")
            step = graph_step(inputs.candidate, scrape)
            queries = [(name, scoped(scope, resolve(q, inputs.candidate, rate_range(step, scrape), scrape),
                                     inputs.candidate)) for name, q in SCREENSHOT_QUERIES]
            queries += failing_queries(built)
            for name, result in take_screenshots(client, inputs.candidate, queries,
                                                 staging / layout.SCREENSHOTS).items():
                built.put(f"screenshot:{name}", result, staging)
        else:
            for name in ["prometheus_targets", *(f"query_{n}" for n, _ in SCREENSHOT_QUERIES)]:
                built.put(f"screenshot:{name}", "not taken: scripts/build_report ran with --skip-screenshots", staging)
        if rollout is not None:
            say(f"copying the staged rollout ({rollout.sequence()}) and drawing canary vs stable")
            _rollout_evidence(built, rollout, staging, secrets)
        say("copying the logs and fetching each /metrics endpoint")
        _copy_logs(built, options, root, staging, secrets)
        _endpoint_evidence(built, staging, secrets)
        say("bundling the gate's HTML report and rendering the Allure report")
        _bundle(built, options, staging)
        say("writing the report, its appendices and the single-file HTML")
        write_supporting(built, staging)
        _tick(built, staging)
        write_main(built, staging)
        _install(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ReportOutcome(built.status, root / layout.REPORT, built.checklist, built.missing)


def _tick(built: Built, staging: Path) -> None:
    """Tick the checklist from the staged files, then compute the status from it and the gate's verdicts."""
    reasons = {str(path): built.missing.get(name, "") for name, path in _intended(built).items()}
    built.checklist = tick(staging, checklist_items(built), lambda artifact: reasons.get(artifact, ""))
    built.status = compute_status(built.records, built.checklist, built.unjudged)


def _intended(built: Built) -> dict[str, PurePosixPath]:
    """Where each named artifact would be, so a missing one can be explained in the checklist."""
    names: dict[str, PurePosixPath] = {}
    for key in {g for graphs in IMPROVEMENT_GRAPHS.values() for g in graphs} | set(built.collected.graphs):
        names[f"graph:{key}"] = layout.GRAPHS / f"{key}.png"
    for name in ["prometheus_targets", *(f"query_{n}" for n, _ in SCREENSHOT_QUERIES)]:
        names[f"screenshot:{name}"] = layout.SCREENSHOTS / f"{name}.png"
    for name in layout.LOG_NAMES:
        names[f"log:{name}"] = layout.LOGS / f"{name}.log"
    for component in ("router", "gateway", "worker"):
        names[f"endpoint:{component}"] = layout.LOGS / f"metrics_endpoint_{component}.txt"
    names["html:gate"] = layout.GATE_HTML
    names["html:allure"] = layout.ALLURE_HTML
    return names
