"""The gate at its edges, each judged by a real gate run: Prometheus warnings, transport faults and
authentication (a fault-injecting proxy in front of the healthy world's real Prometheus), relative and
command-line windows, cardinality thresholds from a criteria copy, and the outputs a reviewer reads.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import (
    REPO,
    FaultProxy,
    GateRun,
    MetricsEndpoint,
    assert_verdict,
    closed_port,
    environment_document,
    rfc3339,
    run_gate,
    violations,
    write_environment,
)
from worlds import LiveWorld, exposition_variant

PARTIAL = 5  # a run narrowed with -k judges only some criteria: never exit 0
TOKEN = "wg-selftest-7c1e9a0f-token"  # a value that cannot occur anywhere by chance
PASSWORD = "wg-selftest-b52d-password"
TOKEN_VAR, PASSWORD_VAR = "WAVEGATE_SELFTEST_TOKEN", "WAVEGATE_SELFTEST_PASSWORD"
ORG = "team-a"
WARNING = "partial response: store-eu-2 did not answer in time"

# Criteria that query Prometheus (cheap ones), and one judged from /metrics alone, for the fault runs.
QUERYING = ("memory.queue_bounded", "retry.wasted_below_5pct", "availability.no_crashes")
SCRAPE_ONLY = "quality.exposition_format"


def pick(*criteria: str) -> str:
    return " or ".join(criteria)


def environment(
    live: LiveWorld,
    name: str,
    prometheus_url: str,
    *,
    windows: Mapping[str, Any] | None = None,
    metrics_urls: Mapping[str, str] | None = None,
    **prometheus: Any,
) -> Path:
    """An environment file for the healthy world with extra `prometheus:` settings (and window specs)."""
    document = environment_document(
        prometheus_url, {**live.metrics_urls, **(metrics_urls or {})}, live.world.windows
    )
    document["prometheus"].update(prometheus)
    if windows is not None:
        document["windows"] = dict(windows)
    return write_environment(live.workdir / name, document)


@pytest.fixture(scope="module")
def edges(healthy_world: LiveWorld) -> Path:
    """A work directory for this module's gate runs."""
    folder = healthy_world.workdir / "edges"
    folder.mkdir(exist_ok=True)
    return folder


def gate_in(folder: Path, name: str, *args: str, env_file: Path, select: str | None = None) -> GateRun:
    return run_gate(folder / name, *args, env_file=env_file, select=select, timeout=120)


# --- Prometheus warnings ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def warned_runs(healthy_world: LiveWorld, edges: Path) -> Iterator[dict[bool, GateRun]]:
    """The same criteria judged through a proxy that adds a partial-response warning to every query
    answer: once with the default policy, once with `allow_warnings: true`."""
    with FaultProxy(healthy_world.prometheus.url, warnings=[WARNING]) as proxy:
        runs = {}
        for allowed in (False, True):
            env_file = environment(healthy_world, f"warned-{allowed}.yaml", proxy.url, allow_warnings=allowed)
            runs[allowed] = gate_in(edges, f"warned-{allowed}", env_file=env_file, select=pick(*QUERYING, SCRAPE_ONLY))
        yield runs


def test_a_prometheus_warning_fails_every_criterion_that_queried_and_shows_the_warning(
    warned_runs: dict[bool, GateRun],
) -> None:
    run = warned_runs[False]
    assert run.ret == 1, run.tail()
    for cid in QUERYING:
        record = assert_verdict(run, cid, "failed", WARNING, "allow_warnings")
        assert WARNING in record["message"], record["message"]
        assert WARNING in record["warnings"], record["warnings"]
    assert_verdict(run, SCRAPE_ONLY, "passed")


def test_a_criterion_failed_for_a_warning_does_not_summarise_itself_as_holding(
    warned_runs: dict[bool, GateRun],
) -> None:
    # The summary is the one line the terminal's "wavegate verdicts" section and the report show.
    for cid in QUERYING:
        summary = warned_runs[False].record(cid).get("summary", "")
        assert "warning" in summary.lower(), f"{cid} FAILED, but its summary reads {summary!r}"


def test_allow_warnings_passes_the_criteria_and_keeps_the_warning_in_gate_results(
    warned_runs: dict[bool, GateRun],
) -> None:
    run = warned_runs[True]
    assert run.ret == PARTIAL, run.tail()  # a -k subset: every other criterion is not judged
    for cid in QUERYING:
        record = assert_verdict(run, cid, "passed")
        assert WARNING in record["warnings"], record
        assert any(WARNING in query["warnings"] for query in record["queries"]), record["queries"]


# --- Transport faults ---------------------------------------------------------------------------------


def test_prometheus_answering_503_twice_then_normally_still_passes(healthy_world: LiveWorld, edges: Path) -> None:
    with FaultProxy(healthy_world.prometheus.url, fail_first=2) as proxy:
        env_file = environment(healthy_world, "flaky.yaml", proxy.url)
        run = gate_in(edges, "flaky", env_file=env_file, select=pick(*QUERYING))
    assert proxy.faults == 2
    assert run.ret == PARTIAL, run.tail()  # a -k subset: every other criterion is not judged
    for cid in QUERYING:
        assert_verdict(run, cid, "passed")


@pytest.mark.parametrize(
    ("fault", "cause"),
    [({"reset": True}, "Connection"), ({"always_status": 503}, "HTTP 503")],
    ids=["connection-reset", "always-503"],
)
def test_a_prometheus_that_never_answers_errors_its_criteria_and_exits_6_quickly(
    healthy_world: LiveWorld, edges: Path, fault: dict[str, Any], cause: str
) -> None:
    with FaultProxy(healthy_world.prometheus.url, **fault) as proxy:
        env_file = environment(healthy_world, "dead.yaml", proxy.url)
        run = gate_in(edges, "dead", env_file=env_file, select=pick(*QUERYING, SCRAPE_ONLY))
    assert run.ret == 6, run.tail()
    for cid in QUERYING:
        assert_verdict(run, cid, "error", "unreachable", cause, "4 attempts")
    assert_verdict(run, SCRAPE_ONLY, "passed")
    # Bounded: 1 try + 3 retries (0.5 + 1 + 2 s backoff) for the first query, then no request at all.
    assert len(proxy.seen) == 4, [path for path, _ in proxy.seen]
    assert run.duration < 20, f"the gate took {run.duration:.1f} s"


# --- Authentication -----------------------------------------------------------------------------------


def outputs_text(run: GateRun) -> dict[str, str]:
    """Everything a run wrote or printed, as text: its files, the base64 data: URIs inside gate.html
    (pytest-html embeds extras that way) decoded, stdout and stderr."""
    texts = {"stdout": run.stdout, "stderr": run.stderr}
    for path in sorted(run.outdir.rglob("*")):
        if path.is_file():
            texts[str(path.relative_to(run.outdir))] = path.read_text(encoding="utf-8", errors="replace")
    page = texts.get("gate.html", "")
    for number, blob in enumerate(re.findall(r"base64,([A-Za-z0-9+/=]+)", html.unescape(page))):
        try:
            texts[f"gate.html data URI {number}"] = base64.b64decode(blob).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
    return texts


def assert_not_written(run: GateRun, *secrets: str) -> None:
    __tracebackhide__ = True
    for required in ("gate-results.json", "gate.html", "junit.xml"):
        assert required in outputs_text(run), f"{required} missing: {run.tail()}"
    leaks = [(where, s) for where, text in outputs_text(run).items() for s in secrets if s in text]
    assert not leaks, f"secrets written: {leaks}"


@pytest.fixture(scope="module")
def bearer_proxy(healthy_world: LiveWorld) -> Iterator[FaultProxy]:
    """The real Prometheus behind a proxy that answers 401 without the token and the tenant header."""
    required = {"Authorization": f"Bearer {TOKEN}", "X-Scope-OrgID": ORG}
    with FaultProxy(healthy_world.prometheus.url, require_headers=required) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def bearer_env(healthy_world: LiveWorld, bearer_proxy: FaultProxy) -> Path:
    return environment(
        healthy_world, "bearer.yaml", bearer_proxy.url, bearer_token_env=TOKEN_VAR, headers={"X-Scope-OrgID": ORG}
    )


def gate_with_variable(folder: Path, name: str, variable: str, value: str | None, env_file: Path, **kw: Any) -> GateRun:
    with pytest.MonkeyPatch.context() as patch:
        if value is None:
            patch.delenv(variable, raising=False)
        else:
            patch.setenv(variable, value)
        return gate_in(folder, name, env_file=env_file, **kw)


@pytest.fixture(scope="module")
def bearer_run(edges: Path, bearer_env: Path) -> GateRun:
    """Every criterion, with the token exported (every output is searched for it afterwards)."""
    return gate_with_variable(edges, "bearer", TOKEN_VAR, TOKEN, bearer_env)


def test_a_bearer_token_from_the_named_variable_and_a_tenant_header_pass(
    bearer_run: GateRun, bearer_proxy: FaultProxy
) -> None:
    failing = {cid: r["message"] for cid, r in bearer_run.criteria.items() if r["verdict"] != "passed"}
    assert not failing, failing
    assert bearer_run.ret == 0, bearer_run.tail()
    assert bearer_proxy.seen, "the gate did not go through the proxy"


def test_the_bearer_token_is_written_to_no_output(bearer_run: GateRun) -> None:
    assert_not_written(bearer_run, TOKEN)


def test_an_unset_bearer_token_variable_exits_4_naming_the_variable_and_the_file(
    edges: Path, bearer_env: Path
) -> None:
    run = gate_with_variable(edges, "bearer-unset", TOKEN_VAR, None, bearer_env)
    assert run.ret == 4, run.tail()
    assert TOKEN_VAR in run.output, run.tail()
    assert str(bearer_env) in run.output, run.tail()


def test_a_wrong_bearer_token_errors_with_401_and_points_at_bearer_token_env(edges: Path, bearer_env: Path) -> None:
    run = gate_with_variable(edges, "bearer-wrong", TOKEN_VAR, "not-the-token", bearer_env, select=pick(*QUERYING))
    assert run.ret == 6, run.tail()
    for cid in QUERYING:
        assert_verdict(run, cid, "error", "401", "bearer_token_env")


def test_basic_auth_with_the_password_from_the_named_variable_passes_and_is_not_written(
    healthy_world: LiveWorld, edges: Path
) -> None:
    credentials = base64.b64encode(f"gate:{PASSWORD}".encode()).decode()
    with FaultProxy(healthy_world.prometheus.url, require_headers={"Authorization": f"Basic {credentials}"}) as proxy:
        env_file = environment(
            healthy_world, "basic.yaml", proxy.url, basic_auth={"username": "gate", "password_env": PASSWORD_VAR}
        )
        run = gate_with_variable(edges, "basic", PASSWORD_VAR, PASSWORD, env_file, select=pick(*QUERYING))
    assert run.ret == PARTIAL, run.tail()  # a -k subset: every other criterion is not judged
    for cid in QUERYING:
        assert_verdict(run, cid, "passed")
    assert_not_written(run, PASSWORD, credentials)


# --- Windows ------------------------------------------------------------------------------------------


def resolved(run: GateRun, name: str) -> tuple[float, float]:
    assert run.results is not None, run.tail()
    window = run.results["windows"][name]
    start, end = (datetime.fromisoformat(window[k]).timestamp() for k in ("start", "end"))
    assert window["seconds"] == end - start, window
    return start, end


def test_relative_windows_in_the_environment_file_resolve_against_the_time_of_the_run(
    healthy_world: LiveWorld, edges: Path
) -> None:
    windows = {"candidate": {"last": "1h", "offset": "5m"}, "baseline": {"last": "1h", "offset": "70m"}}
    env_file = environment(healthy_world, "relative.yaml", healthy_world.prometheus.url, windows=windows)
    before = int(time.time())
    run = gate_in(edges, "relative", env_file=env_file, select="availability.no_crashes")
    after = time.time()
    assert run.ret == PARTIAL, run.tail()  # a -k subset: every other criterion is not judged
    candidate, baseline = resolved(run, "candidate"), resolved(run, "baseline")
    assert candidate[1] - candidate[0] == 3600
    assert baseline[1] - baseline[0] == 3600
    assert before - 300 <= candidate[1] <= after - 300
    assert candidate[1] - baseline[1] == 65 * 60  # both resolved from the same "now"
    record = run.record("availability.no_crashes")
    assert record["window"]["start"] == rfc3339(candidate[0])
    assert record["window"]["end"] == rfc3339(candidate[1])


def test_command_line_windows_override_the_environment_file(healthy_world: LiveWorld, edges: Path) -> None:
    start, end = healthy_world.world.windows["candidate"]
    # The file's own windows are a day earlier: the run must not use them.
    day_earlier = {name: (a - 86400, b - 86400) for name, (a, b) in healthy_world.world.windows.items()}
    env_file = write_environment(
        edges / "overridden.yaml",
        environment_document(healthy_world.prometheus.url, healthy_world.metrics_urls, day_earlier),
    )
    before = int(time.time())
    run = gate_in(
        edges,
        "overridden",
        f"--candidate={rfc3339(start)}/{rfc3339(end)}",
        "--baseline=last=1h,offset=2h",  # ends before the candidate starts (overlap is refused)
        env_file=env_file,
        select="availability.no_crashes",
    )
    after = time.time()
    assert run.ret == PARTIAL, run.tail()  # a -k subset: every other criterion is not judged
    assert resolved(run, "candidate") == (start, end)
    baseline = resolved(run, "baseline")
    assert baseline[1] - baseline[0] == 3600
    assert before - 7200 <= baseline[1] <= after - 7200


# --- Label cardinality thresholds (criteria are data) -------------------------------------------------


def criteria_with_limits(folder: Path, warn: int, maximum: int) -> Path:
    """A copy of criteria/ whose quality.label_cardinality warns above `warn` and fails above `maximum`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "contract.yaml").write_text((REPO / "criteria" / "contract.yaml").read_text(encoding="utf-8"))
    text = (REPO / "criteria" / "wave1.yaml").read_text(encoding="utf-8")
    for limit in ("warn_series: 100000", "max_series: 1000000"):
        assert limit in text, f"wave1.yaml no longer says {limit}"
    changed = text.replace("warn_series: 100000", f"warn_series: {warn}")
    changed = changed.replace("max_series: 1000000", f"max_series: {maximum}")
    path = folder / "wave1.yaml"
    path.write_text(changed, encoding="utf-8")
    return path


def with_wide_gauge(text: str, series: int) -> str:
    """An exposition plus one gauge family with `series` label sets."""
    lines = ["# HELP gateway_upstream_connections Open connections per upstream.",
             "# TYPE gateway_upstream_connections gauge"]
    lines += [f'gateway_upstream_connections{{upstream="upstream-{i:03d}"}} {i}.0' for i in range(series)]
    return text + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def cardinality_runs(healthy_world: LiveWorld, edges: Path) -> dict[str, GateRun]:
    """quality.label_cardinality with warn 20 / max 50: the gateway exposes 30 series of one gauge
    ("warn"); then 60, plus run_id on an aggregate gateway metric and trace_id on a router metric ("fail")."""
    criteria = criteria_with_limits(edges / "criteria", 20, 50)
    world = healthy_world.world
    variants = {
        "warn": {"gateway": with_wide_gauge(world.expositions["gateway"], 30)},
        "fail": {
            "gateway": with_wide_gauge(
                exposition_variant(world, "gateway", add_labels={"gateway_rate_limit_hits_total": {"run_id": "r-1"}}),
                60,
            ),
            "router": exposition_variant(world, "router", add_labels={"router_errors_total": {"trace_id": "4bf9"}}),
        },
    }
    runs = {}
    for name, texts in variants.items():
        endpoints = {component: MetricsEndpoint(text).start() for component, text in texts.items()}
        try:
            env_file = environment(
                healthy_world,
                f"cardinality-{name}.yaml",
                healthy_world.prometheus.url,
                metrics_urls={component: e.url for component, e in endpoints.items()},
            )
            runs[name] = gate_in(
                edges, f"cardinality-{name}", f"--criteria={criteria}", env_file=env_file, select="label_cardinality"
            )
        finally:
            for served in endpoints.values():
                served.stop()
    return runs


def test_a_metric_above_warn_series_passes_with_a_warning_naming_it(cardinality_runs: dict[str, GateRun]) -> None:
    run = cardinality_runs["warn"]
    record = assert_verdict(run, "quality.label_cardinality", "passed")
    notes = "\n".join(record["notes"])
    assert "gateway_upstream_connections: 30 series" in notes, notes
    assert run.ret == PARTIAL, run.tail()  # a -k subset: every other criterion is not judged


def test_a_metric_above_max_series_and_misplaced_labels_fail_naming_each_metric(
    cardinality_runs: dict[str, GateRun],
) -> None:
    run = cardinality_runs["fail"]
    record = assert_verdict(run, "quality.label_cardinality", "failed")
    found = violations(record)
    for mention in ("gateway_upstream_connections: 60 series, above 50", "gateway_rate_limit_hits_total", "run_id",
                    "router_errors_total", "trace_id"):
        assert mention in found, f"{mention!r} not in:\n{found}"
    assert run.ret == 1, run.tail()


# --- The outputs a reviewer reads --------------------------------------------------------------------


def wave1() -> list[dict[str, Any]]:
    return list(yaml.safe_load((REPO / "criteria" / "wave1.yaml").read_text(encoding="utf-8"))["criteria"])


def test_gate_html_is_self_contained_and_shows_each_criterion_with_its_evidence(healthy_run: GateRun) -> None:
    page = (healthy_run.outdir / "gate.html").read_text(encoding="utf-8")
    unescaped = html.unescape(html.unescape(page))  # pytest-html nests escaped HTML inside a JSON attribute
    # Nothing is loaded from elsewhere: every src and every stylesheet/script href is inline or data:.
    loaded = re.findall(r"""\bsrc\s*=\s*\\?["']([^"'\\]+)""", unescaped)
    loaded += re.findall(r"""<link\b[^>]*\bhref\s*=\s*\\?["']([^"'\\]+)""", unescaped)
    loaded += re.findall(r"""url\(\s*["']?((?:https?:)?//[^)"']+)""", unescaped)
    external = [url for url in loaded if not url.startswith("data:")]
    assert not external, external
    assert not list(healthy_run.outdir.glob("assets/*")), "pytest-html wrote separate asset files"
    evidence = {}
    for blob in re.findall(r"data:application/json;charset=utf-8;base64,([A-Za-z0-9+/=]+)", unescaped):
        shown = json.loads(base64.b64decode(blob))
        evidence[shown["id"]] = shown
    for criterion in wave1():
        cid = criterion["id"]
        assert f"[{cid}]" in unescaped, f"{cid} not in gate.html"
        assert cid in evidence, f"no evidence for {cid} in gate.html"
        record = healthy_run.record(cid)
        assert evidence[cid]["verdict"] == "passed"
        assert evidence[cid]["observed"] == record["observed"]
        assert evidence[cid]["queries"] == record["queries"]


def test_junit_xml_carries_criterion_observed_and_threshold_for_each_criterion(healthy_run: GateRun) -> None:
    tree = ET.parse(healthy_run.outdir / "junit.xml")
    cases = tree.getroot().findall(".//testcase")
    assert len(cases) == len(wave1())
    for case in cases:
        properties = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
        assert {"criterion", "observed", "threshold", "window"} <= set(properties), (case.get("name"), properties)
        assert case.get("name", "").endswith(f"[{properties['criterion']}]")
        assert properties["observed"], properties
        assert properties["threshold"], properties


def test_allure_results_hold_one_result_per_criterion_titled_with_its_description(healthy_run: GateRun) -> None:
    folder = healthy_run.outdir / "allure-results"
    results = [json.loads(path.read_text(encoding="utf-8")) for path in folder.glob("*-result.json")]
    assert len(results) == len(wave1())
    by_story = {}
    for result in results:
        labels = {label["name"]: label["value"] for label in result["labels"]}
        assert {"epic", "feature", "story", "severity"} <= set(labels), labels
        by_story[labels["story"]] = (result, labels)
    titles = {}
    for criterion in wave1():
        result, labels = by_story[criterion["id"]]
        assert labels["epic"] == "CP2 Wave 1"
        assert labels["feature"] == criterion["id"].split(".")[0]
        assert labels["severity"] in ("blocker", "critical", "normal", "minor", "trivial")
        names = {attachment["name"] for attachment in result["attachments"]}
        assert {"verdict", "evidence.json"} <= names, names
        for attachment in result["attachments"]:
            assert (folder / attachment["source"]).is_file(), attachment
        titles[criterion["id"]] = (result["name"], criterion["description"])
    wrong = {cid: f"title {name!r}" for cid, (name, description) in titles.items() if name != description}
    assert not wrong, f"Allure titles are not the criterion descriptions: {wrong}"


def test_the_reproduce_command_in_the_report_header_is_accepted_by_the_gate(
    healthy_run: GateRun, tmp_path: Path
) -> None:
    line = next((ln for ln in healthy_run.stdout.splitlines() if ln.startswith("reproduce: ")), None)
    assert line is not None, healthy_run.tail()
    argv = shlex.split(line.removeprefix("reproduce: "))
    assert argv[0] == "pytest", line
    # Run as a person would, from the repository root (the rootdir is found, not given).
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *argv[1:], "-p", "no:cacheprovider", f"--gate-output={tmp_path}",
         "-k", "availability.no_crashes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == PARTIAL, f"{line}\nexit {completed.returncode}: {completed.stderr[-800:]}"



# --- Partial runs, job names, component credentials ------------------------------------------------


def test_a_run_narrowed_with_k_is_incomplete_not_passed(healthy_world: LiveWorld, edges: Path) -> None:
    run = gate_in(edges, "narrowed", env_file=healthy_world.env_file(), select="availability.no_crashes")
    assert_verdict(run, "availability.no_crashes", "passed")
    assert run.ret == PARTIAL
    assert run.results is not None
    assert run.results["status"] == "incomplete"
    assert len(run.results["not_judged"]) == 23
    assert "memory.queue_bounded" in run.results["not_judged"]
    assert "NOT JUDGED 23 selected criteria" in run.stdout


def test_an_area_selection_judges_its_criteria_completely(healthy_world: LiveWorld, edges: Path) -> None:
    run = gate_in(edges, "area", "--area=availability", env_file=healthy_world.env_file())
    assert run.ret == 0, run.tail()
    assert run.results is not None
    assert run.results["not_judged"] == []


def test_job_names_with_dashes_and_dots_make_valid_promql(healthy_world: LiveWorld) -> None:
    from wavegate.context import promql_alternatives

    matcher = promql_alternatives(["api-gateway", "worker.prod", "router"])
    # The real parser decides: a badly escaped `\-` is rejected with HTTP 400.
    answer = healthy_world.prometheus.query(f'count by (job) (up{{job=~"{matcher}"}})')
    assert [series["metric"]["job"] for series in answer] == ["router"]


def test_credentials_in_a_metrics_url_are_not_written_anywhere(healthy_world: LiveWorld, edges: Path) -> None:
    url = f"http://gate:{PASSWORD}@127.0.0.1:{closed_port()}/metrics?token={TOKEN}"
    env_file = healthy_world.env_file("credentials.yaml", metrics_urls={"worker": url})
    run = gate_in(edges, "credentials", env_file=env_file, select="endpoints_exported or required_labels")
    assert_verdict(run, "coverage.endpoints_exported", "error", "***@127.0.0.1")
    written = [run.stdout, run.stderr, *(p.read_text(errors="replace") for p in run.outdir.rglob("*") if p.is_file())]
    assert not [text for text in written if PASSWORD in text or TOKEN in text]


def test_a_proxy_that_drops_the_evaluation_time_is_an_error_not_a_comparison_of_now_with_now(
    healthy_world: LiveWorld, edges: Path
) -> None:
    # Without `time`, Prometheus evaluates both windows at "now": the candidate would be compared with itself.
    with FaultProxy(healthy_world.prometheus.url, drop_params=("time",)) as proxy:
        env_file = environment(healthy_world, "timeless.yaml", proxy.url)
        run = gate_in(edges, "timeless", env_file=env_file,
                      select=pick("performance.throughput", "errors.rate_not_higher", "performance.latency_increase"))
    assert run.ret == 6, run.tail()
    for cid in ("performance.throughput", "errors.rate_not_higher", "performance.latency_increase"):
        assert_verdict(run, cid, "error", "not for the requested", "time")
