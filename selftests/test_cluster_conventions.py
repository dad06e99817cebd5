"""The conventions of clustered Prometheus-compatible backends: an API under a path prefix (vmselect, Mimir),
a tenant header (Mimir, Cortex), Thanos' partial_response and dedup parameters, and partial answers in each
backend's words. Thanos and Mimir are not installed here: a loopback proxy in front of a real Prometheus
plays their front end (it strips the prefix, requires the tenant, records the parameters, and makes answers
partial); a real vmauth in front of a real VictoriaMetrics plays the tenant-routing front end.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import (
    REPO,
    THANOS_STORE_ERROR,
    FaultProxy,
    GateRun,
    History,
    PrometheusServer,
    VictoriaMetricsServer,
    VmAuthServer,
    assert_verdict,
    closed_port,
    rfc3339,
    run_gate,
)

from wavegate.report.inputs import load_inputs
from wavegate.settings import PrometheusSettings

NOW = float(int(time.time()) // 60 * 60)
WINDOWS = {"baseline": (NOW - 5400, NOW - 3600), "candidate": (NOW - 2400, NOW - 600)}
PREFIX, TENANT = "/prometheus", ("X-Scope-OrgID", "team-a")
QUEUE, TARGETS = "memory.queue_bounded", "integration.targets_up"
USER, PASSWORD, PASSWORD_VAR = "team-a", "wg-selftest-vmauth-3f9c", "WAVEGATE_SELFTEST_VMAUTH_PASSWORD"


def history() -> History:
    """Two pools of the worker's queue, well within their bounds, every 15 s over both windows."""
    found = History()
    start, end = WINDOWS["baseline"][0] - 600, WINDOWS["candidate"][1]
    for pool, depth in (("cpu", 40.0), ("io", 12.0)):
        labels = {"job": "worker", "instance": "worker:9092", "resource_pool": pool}
        found.add("worker_queue_depth", labels, [(float(t), depth + t % 7) for t in range(int(start), int(end), 15)])
    return found


def criteria_file(folder: Path, *ids: str) -> Path:
    """The shipped criteria narrowed to `ids`; targets_up expects only Prometheus' own job (it scrapes itself)."""
    document = yaml.safe_load((REPO / "criteria" / "wave1.yaml").read_text(encoding="utf-8"))
    document["criteria"] = [entry for entry in document["criteria"] if entry["id"] in ids]
    for entry in document["criteria"]:
        if entry["id"] == TARGETS:
            entry["jobs"] = ["prometheus"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "contract.yaml").write_text((REPO / "criteria" / "contract.yaml").read_text(encoding="utf-8"))
    path = folder / "criteria.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def environment(folder: Path, name: str, url: str, **prometheus: Any) -> Path:
    document = {
        "prometheus": {"url": url, "scrape_interval": "15s", "timeout": "10s", "retries": 1, **prometheus},
        "components": {component: {"metrics_url": f"http://127.0.0.1:{closed_port()}/metrics", "job": component}
                       for component in ("router", "gateway", "worker")},
        "windows": {window: {"start": rfc3339(start), "end": rfc3339(end)} for window, (start, end) in WINDOWS.items()},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with PrometheusServer(history=history(), scrape_interval="1s",
                          workdir=tmp_path_factory.mktemp("prometheus")) as server:
        server.wait_for_scrapes(timeout=20)
        yield server


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="module")
def criteria(folder: Path) -> Path:
    return criteria_file(folder / "criteria", QUEUE, TARGETS)


# Each case: the proxy's behaviour, and the environment's prometheus settings against it.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "direct": ({}, {}),
    "mimir": ({"prefix": PREFIX, "tenant": TENANT}, {"path_prefix": f"{PREFIX}/", "tenant": TENANT[1]}),
    "thanos": ({"prefix": PREFIX}, {"path_prefix": PREFIX, "thanos": {"dedup": True}}),
    "no_tenant": ({"prefix": PREFIX, "tenant": TENANT}, {"path_prefix": PREFIX}),
    "wrong_prefix": ({"prefix": PREFIX, "tenant": TENANT}, {"path_prefix": "/select/0/prometheus",
                                                            "tenant": TENANT[1]}),
    "warnings": ({"warnings": ["partial response: store 127.0.0.1:10901 did not answer"]}, {}),
    "is_partial": ({"partial": "is_partial", "touched": ("/api/v1/query", "/api/v1/targets")}, {}),
    "is_partial_allowed": ({"partial": "is_partial"}, {"allow_warnings": True}),
    "thanos_422": ({"partial": "thanos_422"}, {"thanos": {}}),
    "thanos_503": ({"partial": "thanos_503"}, {"thanos": {}}),
}


@pytest.fixture(scope="module")
def runs(prometheus: PrometheusServer, folder: Path, criteria: Path) -> Iterator[dict[str, tuple[GateRun, FaultProxy]]]:
    """One gate run per case, each through its own proxy in front of the one real Prometheus (two at a time)."""
    proxies = {name: FaultProxy(prometheus.url, **proxy).start() for name, (proxy, _) in CASES.items()}
    try:
        def judge(name: str) -> GateRun:
            url = prometheus.url if name == "direct" else proxies[name].url
            env = environment(folder, name, url, **CASES[name][1])
            return run_gate(folder / name, f"--criteria={criteria}", env_file=env, outdir=folder / name / "out",
                            timeout=120)

        with ThreadPoolExecutor(max_workers=2) as pool:
            done = dict(zip(CASES, pool.map(judge, CASES), strict=True))
        yield {name: (run, proxies[name]) for name, run in done.items()}
    finally:
        for proxy in proxies.values():
            proxy.stop()


def verdicts(run: GateRun) -> dict[str, str]:
    return {cid: record["verdict"] for cid, record in run.criteria.items()}


# --- Settings -------------------------------------------------------------------------------------------


def test_a_path_prefix_is_added_to_the_url_once_and_its_trailing_slash_dropped() -> None:
    settings = PrometheusSettings(url="http://127.0.0.1:8481/", path_prefix="/select/0/prometheus/")
    assert settings.path_prefix == "/select/0/prometheus"
    assert settings.api_base == "http://127.0.0.1:8481/select/0/prometheus"
    # A url that already holds the path, as before the setting existed, keeps working.
    already = PrometheusSettings(url="http://127.0.0.1:8481/select/0/prometheus", path_prefix="/select/0/prometheus")
    assert already.api_base == "http://127.0.0.1:8481/select/0/prometheus"


@pytest.mark.parametrize(("prefix", "says"), [("select/0", "must start with /"), ("/p?x=1", "no query string"),
                                              ("/prometheus/api/v1", "leave /api/v1 out")])
def test_a_malformed_path_prefix_is_refused_saying_how_to_write_it(prefix: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        PrometheusSettings(url="http://127.0.0.1:9090", path_prefix=prefix)


def test_nothing_is_sent_for_thanos_unless_its_section_is_present() -> None:
    assert PrometheusSettings(url="http://127.0.0.1:9090").describe_backend() == ""
    thanos = PrometheusSettings(url="http://127.0.0.1:9090", tenant="team-a", thanos={"dedup": False})
    assert thanos.describe_backend() == "tenant team-a (X-Scope-OrgID); thanos partial_response=false, dedup=false"


def test_a_tenant_that_headers_contradicts_exits_4_naming_both_fields(folder: Path, criteria: Path) -> None:
    env = environment(folder, "conflict", "http://127.0.0.1:9", tenant="team-a", headers={"x-scope-orgid": "team-b"})
    run = run_gate(folder / "conflict", f"--criteria={criteria}", env_file=env, outdir=folder / "conflict" / "out")
    assert run.ret == 4, run.tail()
    assert "prometheus.tenant ('team-a')" in run.output
    assert "prometheus.headers.x-scope-orgid ('team-b')" in run.output
    # The same tenant written twice is no conflict.
    PrometheusSettings(url="http://127.0.0.1:9", tenant="team-a", headers={"X-Scope-OrgID": "team-a"})


# --- Through the front end of a clustered backend ---------------------------------------------------------


def test_the_direct_run_passes(runs: dict[str, tuple[GateRun, FaultProxy]]) -> None:
    run, _ = runs["direct"]
    assert run.ret == 0, run.tail()
    assert verdicts(run) == {QUEUE: "passed", TARGETS: "passed"}


@pytest.mark.parametrize("case", ["mimir", "thanos"])
def test_a_prefix_and_tenant_configured_as_the_front_end_wants_give_the_verdicts_of_the_direct_run(
    runs: dict[str, tuple[GateRun, FaultProxy]], case: str
) -> None:
    run, proxy = runs[case]
    assert run.ret == 0, run.tail()
    assert verdicts(run) == verdicts(runs["direct"][0])
    assert all(path.startswith(f"{PREFIX}/api/v1/") for path, _ in proxy.seen), proxy.seen
    assert any(path.startswith(f"{PREFIX}/api/v1/targets") for path, _ in proxy.seen)


def test_the_tenant_is_sent_on_every_request_and_shown_in_the_report_header(
    runs: dict[str, tuple[GateRun, FaultProxy]],
) -> None:
    run, proxy = runs["mimir"]
    assert proxy.seen
    assert all(headers.get(TENANT[0]) == TENANT[1] for _, headers in proxy.seen)
    assert f"tenant {TENANT[1]} ({TENANT[0]})" in run.stdout


def test_thanos_parameters_are_sent_with_queries_only_when_thanos_is_configured(
    runs: dict[str, tuple[GateRun, FaultProxy]],
) -> None:
    thanos = runs["thanos"][1].params()
    assert thanos
    assert all(p.get("partial_response") == "false" and p.get("dedup") == "true" for p in thanos), thanos
    for case in ("mimir", "warnings"):
        plain = runs[case][1].params()
        assert plain
        assert not any("partial_response" in p or "dedup" in p for p in plain), plain
    # Without dedup in the section, only partial_response is sent.
    assert all(p.get("partial_response") == "false" and "dedup" not in p for p in runs["thanos_422"][1].params())


def test_the_report_reads_the_results_of_a_run_under_a_path_prefix(
    runs: dict[str, tuple[GateRun, FaultProxy]],
) -> None:
    run, proxy = runs["mimir"]
    assert run.results is not None
    assert run.results["prometheus_url"] == f"{proxy.url}{PREFIX}"
    inputs = load_inputs(run.outdir / "gate-results.json")  # the environment file the gate recorded
    assert inputs.prometheus_display_url == f"{proxy.url}{PREFIX}"


def test_a_missing_tenant_errors_every_criterion_naming_prometheus_tenant(
    runs: dict[str, tuple[GateRun, FaultProxy]],
) -> None:
    run, _ = runs["no_tenant"]
    assert run.ret == 6, run.tail()
    for cid in (QUEUE, TARGETS):
        assert_verdict(run, cid, "error", "HTTP 401", "no org id", "prometheus.tenant")


def test_a_wrong_path_prefix_errors_naming_path_prefix_and_url(runs: dict[str, tuple[GateRun, FaultProxy]]) -> None:
    run, proxy = runs["wrong_prefix"]
    assert run.ret == 6, run.tail()
    for cid in (QUEUE, TARGETS):
        assert_verdict(run, cid, "error", "HTTP 404", "/select/0/prometheus/api/v1/query", "prometheus.path_prefix",
                       "prometheus.url")
    assert len(proxy.seen) == 1  # one failed readiness query; the other criteria are told at once


# --- Partial answers ------------------------------------------------------------------------------------


def test_a_partial_response_warning_fails_the_criterion_naming_the_partial_answer(
    runs: dict[str, tuple[GateRun, FaultProxy]],
) -> None:
    run, _ = runs["warnings"]
    assert run.ret == 1, run.tail()
    assert_verdict(run, QUEUE, "failed", "answered partially", "store 127.0.0.1:10901", "allow_warnings")


def test_victoriametrics_is_partial_fails_the_queries_and_the_targets_naming_it(
    runs: dict[str, tuple[GateRun, FaultProxy]],
) -> None:
    run, _ = runs["is_partial"]
    assert run.ret == 1, run.tail()
    for cid in (QUEUE, TARGETS):
        record = assert_verdict(run, cid, "failed", "isPartial: true", "answered partially", "allow_warnings")
        assert any("isPartial" in warning for warning in record["warnings"]), record["warnings"]


def test_allow_warnings_accepts_a_partial_answer_and_keeps_it_in_the_evidence(
    runs: dict[str, tuple[GateRun, FaultProxy]],
) -> None:
    run, _ = runs["is_partial_allowed"]
    assert run.ret == 0, run.tail()
    record = assert_verdict(run, QUEUE, "passed")
    assert any("isPartial" in warning for warning in record["warnings"]), record


@pytest.mark.parametrize(("case", "status"), [("thanos_422", "HTTP 422"), ("thanos_503", "HTTP 503")])
def test_a_thanos_refusal_to_answer_partially_errors_naming_the_partial_answer_and_what_to_do(
    runs: dict[str, tuple[GateRun, FaultProxy]], case: str, status: str
) -> None:
    run, proxy = runs[case]
    assert run.ret == 6, run.tail()
    record = assert_verdict(run, QUEUE, "error", "refused a partial answer", status, THANOS_STORE_ERROR[:60],
                            "/api/v1/query", "prometheus.thanos.partial_response")
    assert record["cause"] == "partial_answer", record
    assert "unreachable" not in record["message"]  # a store that did not answer is no outage of the querier
    assert sum(path.split("?")[0] == "/api/v1/query" for path, _ in proxy.seen) == 1  # not retried


# --- vmauth in front of VictoriaMetrics -----------------------------------------------------------------


@pytest.fixture(scope="module")
def vmauth(folder: Path) -> Iterator[VmAuthServer]:
    """A real VictoriaMetrics holding the history, behind a real vmauth that routes user team-a to it and
    user team-b to a backend that is not there."""
    with VictoriaMetricsServer(folder / "victoria-metrics") as victoria:
        victoria.load(history())
        users = {USER: (PASSWORD, victoria.url), "team-b": ("other", f"http://127.0.0.1:{closed_port()}")}
        with VmAuthServer(folder / "vmauth", users) as front:
            yield front


@pytest.mark.parametrize(("password", "verdict"), [(PASSWORD, "passed"), ("wg-wrong-password", "error")],
                         ids=["right-password", "wrong-password"])
def test_the_gate_reaches_victoriametrics_through_vmauth_with_basic_auth_and_fails_clearly_without_it(
    vmauth: VmAuthServer, folder: Path, password: str, verdict: str
) -> None:
    name = f"vmauth-{verdict}"
    env = environment(folder, name, vmauth.url, basic_auth={"username": USER, "password_env": PASSWORD_VAR})
    run = run_gate(folder / name, f"--criteria={criteria_file(folder / name, QUEUE)}", env_file=env,
                   outdir=folder / name / "out", environ={PASSWORD_VAR: password}, timeout=120)
    if verdict == "passed":
        assert run.ret == 0, run.tail()
        assert_verdict(run, QUEUE, "passed")
        return
    assert run.ret == 6, run.tail()
    assert_verdict(run, QUEUE, "error", "HTTP 400", "auth token", "basic_auth")
    written = "\n".join(p.read_text(errors="replace") for p in run.outdir.rglob("*") if p.is_file()) + run.output
    encoded = base64.b64encode(f"{USER}:{password}".encode()).decode()
    assert password not in written
    assert encoded not in written  # vmauth quotes the Authorization header it refused
