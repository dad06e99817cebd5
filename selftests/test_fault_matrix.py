"""The fault matrix: the healthy world's real Prometheus behind a fault-injecting loopback proxy, and /metrics
servers that misbehave, each case judged by a real gate run. Every case asserts the exit code, that no
criterion the fault touches passed, that the cause is named, and an upper bound on the run's time. (NaN,
empty answers and a dropped `time` are in test_fault_answers.py; signals, SIGKILL and two runs at once in
test_outputs.py; warnings, auth and resets in test_gate_edges.py.) Slow cases run concurrently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness import (
    FaultProxy,
    GateRun,
    MetricsEndpoint,
    closed_port,
    environment_document,
    run_gate,
    self_signed_certificate,
    write_environment,
)
from worlds import LiveWorld

from wavegate.checks import _READS_PROMETHEUS, _READS_SCRAPES

SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"
PROMETHEUS_KINDS = _READS_PROMETHEUS
WORKER_SCRAPE_KINDS = _READS_SCRAPES | {"endpoints_exported", "endpoint_latency", "series_tracked"}


@dataclass
class Case:
    proxy: dict[str, Any] | None = None  # FaultProxy options; None: Prometheus directly
    prometheus: dict[str, Any] = field(default_factory=dict)  # environment file `prometheus:` changes
    worker: dict[str, Any] | None = None  # a misbehaving worker /metrics (MetricsEndpoint options)
    worker_settings: dict[str, Any] = field(default_factory=dict)  # components.worker changes
    environ: dict[str, str] = field(default_factory=dict)
    raw: str | None = None  # the environment file's text, as given (configuration cases)
    exit: int = 6
    mentions: str = ""
    touched: frozenset[str] = frozenset()  # criterion kinds that must not pass
    seconds: float = 60.0  # upper bound on the run


FAST = {"timeout": "2s", "retries": 1}
CASES: dict[str, Case] = {
    "refused": Case(prometheus={"url": f"http://127.0.0.1:{closed_port()}", **FAST}, mentions="unreachable",
                    touched=PROMETHEUS_KINDS),
    "http_503_always": Case(proxy={"always_status": 503}, prometheus=FAST, mentions="HTTP 503",
                            touched=PROMETHEUS_KINDS),
    "http_503_sometimes": Case(proxy={"fail_first": 1}, prometheus=FAST, exit=0),  # retried, then judged
    "reset": Case(proxy={"reset": True}, prometheus=FAST, mentions="unreachable", touched=PROMETHEUS_KINDS),
    "slow": Case(proxy={"delay": 3.0}, prometheus=FAST, mentions="no answer within 2 s",
                 touched=PROMETHEUS_KINDS),
    "trickle": Case(proxy={"mode": "trickle"}, prometheus=FAST, mentions="too slow or trickling",
                    touched=PROMETHEUS_KINDS),
    "html": Case(proxy={"mode": "html"}, prometheus=FAST, mentions="not JSON", touched=PROMETHEUS_KINDS),
    "bad_json": Case(proxy={"mode": "bad_json"}, prometheus=FAST, mentions="not JSON", touched=PROMETHEUS_KINDS),
    "empty_body": Case(proxy={"mode": "empty_body"}, prometheus=FAST, mentions="not JSON",
                       touched=PROMETHEUS_KINDS),
    "truncated": Case(proxy={"mode": "truncated"}, prometheus=FAST, mentions="broken response",
                      touched=PROMETHEUS_KINDS),
    "chunked_broken": Case(proxy={"mode": "chunked_broken"}, prometheus=FAST, mentions="broken response",
                           touched=PROMETHEUS_KINDS),
    "gzip_broken": Case(proxy={"mode": "gzip_broken"}, prometheus=FAST, mentions="broken response",
                        touched=PROMETHEUS_KINDS),
    "redirect_to_another_host": Case(proxy={"mode": "redirect"}, prometheus=FAST, mentions="redirected to",
                                     touched=PROMETHEUS_KINDS),
    "budget_spent": Case(proxy={"delay": 0.3}, prometheus=FAST, mentions="time budget",
                         touched=frozenset(), seconds=45),
    "tls_without_ca": Case(proxy={"tls": True}, prometheus=FAST, mentions="set prometheus.ca_file",
                           touched=PROMETHEUS_KINDS),
    "tls_ca_file_with_ca_variables_set": Case(
        proxy={"tls": True}, prometheus={**FAST, "ca_file": "CERT"},
        environ={"REQUESTS_CA_BUNDLE": SYSTEM_CA, "CURL_CA_BUNDLE": SYSTEM_CA}, exit=0),
    "metrics_trickle": Case(worker={"mode": "trickle"}, worker_settings={"timeout": "2s"},
                            mentions="too slow or trickling", touched=WORKER_SCRAPE_KINDS),
    "metrics_oversized": Case(worker={}, worker_settings={"max_bytes": 200_000},
                              mentions="sent more than", touched=WORKER_SCRAPE_KINDS),
    "metrics_truncated": Case(worker={"mode": "truncated"}, mentions="broken response",
                              touched=WORKER_SCRAPE_KINDS),
    "metrics_html": Case(worker={"mode": "html"}, exit=1, mentions="answered an HTML page",
                         touched=WORKER_SCRAPE_KINDS - {"endpoint_latency"}),
    "empty_password_variable": Case(prometheus={"basic_auth": {"username": "gate", "password_env": "WG_EMPTY"}},
                                    environ={"WG_EMPTY": ""}, exit=4, mentions="not set or empty"),
    "duplicate_yaml_key": Case(raw="prometheus:\n  url: http://127.0.0.1:9\n  url: http://127.0.0.1:10\n",
                               exit=4, mentions="written twice (lines 2 and 3)"),
}


@pytest.fixture(scope="module")
def matrix(healthy_world: LiveWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, GateRun]]:
    workdir: Path = tmp_path_factory.mktemp("fault-matrix")
    cert, key = self_signed_certificate(workdir / "tls")
    with ExitStack() as stack:
        jobs = {}
        for name, case in CASES.items():
            url = healthy_world.prometheus.url
            if case.proxy is not None:
                options = {k: v for k, v in case.proxy.items() if k != "tls"}
                if case.proxy.get("tls"):
                    options["tls"] = (cert, key)
                url = stack.enter_context(FaultProxy(url, **options)).url
            urls = dict(healthy_world.metrics_urls)
            if case.worker is not None:
                text = healthy_world.world.expositions["worker"]
                if "max_bytes" in case.worker_settings:
                    text += _padding(300_000)
                urls["worker"] = stack.enter_context(MetricsEndpoint(text, **case.worker)).url
            document = environment_document(url, urls, healthy_world.world.windows)
            document["prometheus"].update({k: str(cert) if v == "CERT" else v for k, v in case.prometheus.items()})
            document["components"]["worker"].update(case.worker_settings)
            if name == "budget_spent":
                document["run_budget"] = "3s"
            env = workdir / f"{name}.yaml"
            if case.raw is not None:
                env.write_text(case.raw, encoding="utf-8")
            else:
                write_environment(env, document)
            jobs[name] = (env, case)
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {name: pool.submit(run_gate, workdir / name, env_file=env, environ=case.environ,
                                         timeout=case.seconds + 60)
                       for name, (env, case) in jobs.items()}
            runs = {name: future.result() for name, future in futures.items()}
        (workdir / "matrix.json").write_text(json.dumps(
            {name: {"exit": run.ret, "seconds": round(run.duration, 1)} for name, run in runs.items()}, indent=1))
        yield runs


@pytest.mark.parametrize("name", list(CASES))
def test_fault(matrix: dict[str, GateRun], name: str) -> None:
    case, run = CASES[name], matrix[name]
    assert run.ret == case.exit, f"{name}: exit {run.ret}, expected {case.exit}\n{run.tail()}"
    assert run.duration < case.seconds, f"{name}: {run.duration:.1f} s"
    if case.mentions:
        assert case.mentions in run.output + json.dumps(run.results or {}), f"{name}: cause not named\n{run.tail()}"
    if case.exit == 4:
        assert run.results is None or run.results["status"] == "error"
        return
    assert run.results is not None, run.tail()
    records = run.results["criteria"]
    passed = [r["id"] for r in records if r["kind"] in case.touched and r["verdict"] == "passed"]
    assert not passed, f"{name}: {passed} passed under the fault"
    if case.exit:
        assert run.results["status"] != "passed"


def _padding(size: int) -> str:
    """A valid gauge family of about `size` bytes (to make a /metrics body larger than its ceiling)."""
    lines = ["# HELP worker_padding_info Padding.", "# TYPE worker_padding_info gauge"]
    lines += [f'worker_padding_info{{slot="{i}"}} 1' for i in range(size // 32)]
    return "\n".join(lines) + "\n"
