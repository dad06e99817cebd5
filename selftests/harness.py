"""Real parts the self-tests run the gate against: a Prometheus from the Debian package with
backfilled history, crafted /metrics endpoints on loopback, and a runner for the gate's CLI.

Nothing here imitates Prometheus: histories go through `promtool tsdb create-blocks-from
openmetrics` and every query is answered by a real `prometheus` process.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


class HarnessError(RuntimeError):
    """A part of the self-test harness could not be set up."""


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


_HELD_PORTS: list[socket.socket] = []


def closed_port() -> int:
    """Return a loopback port nobody listens on and nobody can take (for 'unreachable' cases).

    The port stays bound, without listening, until the test process ends: connecting to it is refused, and a
    server started later by another fixture cannot be handed the same port by the kernel (a port that was only
    free a moment ago can be, and an 'unreachable' case then talks to that server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    _HELD_PORTS.append(sock)
    return int(sock.getsockname()[1])


def find_binary(name: str) -> str:
    """Locate a Prometheus tool on PATH (the Debian package puts both in /usr/bin)."""
    path = shutil.which(name)
    if path is None:
        raise HarnessError(f"{name!r} not found on PATH; install the Debian 'prometheus' package")
    return path


def rfc3339(unix_seconds: float) -> str:
    """Format a Unix time as RFC 3339 UTC with second precision ('2026-11-27T00:00:00Z')."""
    return datetime.fromtimestamp(unix_seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str) -> float:
    """Parse a Prometheus duration such as '15s', '1h', '1h30m' into seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, number = 0.0, ""
    i = 0
    while i < len(text):
        char = text[i]
        if char.isdigit() or char == ".":
            number += char
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else char
        if unit not in units or not number:
            raise ValueError(f"not a duration: {text!r}")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise ValueError(f"duration without unit: {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """Format whole seconds as a Prometheus duration ('900s' -> '15m')."""
    whole = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0 and whole >= size:
            return f"{whole // size}{unit}"
    return f"{whole}s"


# --- History: crafted samples rendered as OpenMetrics for promtool --------------------------------


@dataclass
class Series:
    """One time series: metric name, labels and (unix seconds, value) points in time order."""

    name: str
    labels: dict[str, str]
    points: list[tuple[float, float]] = field(default_factory=list)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class History:
    """Crafted history to backfill: series grouped by metric name, rendered as OpenMetrics.

    Families are written without `# TYPE` lines. promtool 2.42 then treats every family as
    `unknown`, which accepts any name (`_total`, `_bucket`, `_count`, `_sum`) and any value
    sequence; PromQL's rate/increase/histogram_quantile do not look at the type.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], Series] = {}

    def add(self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> Series:
        """Add points to the series `name{labels}` (creating it); points must be in time order."""
        key = (name, tuple(sorted(labels.items())))
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series(name, dict(labels))
        series.points.extend(points)
        return series

    def drop(self, name: str, **match: str) -> int:
        """Remove every series of `name` whose labels include `match`; return how many."""
        doomed = [
            key
            for key, series in self._series.items()
            if series.name == name and all(series.labels.get(k) == v for k, v in match.items())
        ]
        for key in doomed:
            del self._series[key]
        return len(doomed)

    def series(self, name: str | None = None) -> list[Series]:
        """All series, or those of one metric name."""
        return [s for s in self._series.values() if name is None or s.name == name]

    def names(self) -> set[str]:
        return {s.name for s in self._series.values()}

    def sample_count(self) -> int:
        return sum(len(s.points) for s in self._series.values())

    def time_range(self) -> tuple[float, float]:
        times = [t for s in self._series.values() for t, _ in s.points]
        return min(times), max(times)

    def render(self) -> str:
        """Render as OpenMetrics text ending in `# EOF` (series of one family kept together)."""
        return "".join(self._blocks())

    def write(self, path: Path) -> Path:
        """Write render()'s text to `path` one series at a time (a week at 15 s is gigabytes of text)."""
        with path.open("w", encoding="utf-8") as stream:
            stream.writelines(self._blocks())
        return path

    def _blocks(self) -> Iterator[str]:
        """The rendered text in pieces: one block of lines per series, then `# EOF`."""
        for series in sorted(self._series.values(), key=lambda s: (s.name, sorted(s.labels.items()))):
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(series.labels.items()))
            head = f"{series.name}{{{label_text}}}" if label_text else series.name
            last = -math.inf
            lines: list[str] = []
            for t, value in series.points:
                if t <= last:
                    raise HarnessError(f"points of {head} are not in strictly increasing time order at {t}")
                last = t
                lines.append(f"{head} {_format_value(value)} {t:.3f}\n")
            yield "".join(lines)
        yield "# EOF\n"


# --- Prometheus -----------------------------------------------------------------------------------


class PrometheusServer:
    """A real `prometheus` on a free loopback port with its own data directory.

    Crafted history is backfilled with promtool into the data directory before the server
    starts. Scrape jobs are static: {job: ["host:port", ...]} plus the `prometheus` self-scrape.
    Use as a context manager or call start()/stop().
    """

    def __init__(
        self,
        jobs: Mapping[str, Sequence[str]] | None = None,
        *,
        history: History | None = None,
        scrape_interval: str = "15s",
        job_options: Mapping[str, Mapping[str, Any]] | None = None,
        retention: str = "90d",
        port: int | None = None,
        workdir: Path | None = None,
        ready_timeout: float = 20.0,
        max_block_duration: str | None = None,
        backfill_timeout: float = 300.0,
    ) -> None:
        self.port = port if port is not None else free_port()
        self.jobs = dict(jobs or {})
        self.history = history
        self.scrape_interval = scrape_interval
        self.job_options = dict(job_options or {})
        self.retention = retention
        self.ready_timeout = ready_timeout
        self.max_block_duration = max_block_duration
        self.backfill_timeout = backfill_timeout
        self._own_workdir = workdir is None
        self.workdir = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="wavegate-prom-"))
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "prometheus.yml"
        self.log_path = self.workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    @property
    def address(self) -> str:
        """host:port, which is also the `instance` label of the self-scrape."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def config(self) -> dict[str, Any]:
        """The generated prometheus.yml as a mapping."""
        interval_seconds = parse_duration(self.scrape_interval)
        # scrape_timeout may not exceed scrape_interval; Prometheus' default (10s) would for 1s.
        timeout = self.scrape_interval if interval_seconds < 10 else "10s"
        scrape_configs: list[dict[str, Any]] = [
            {"job_name": "prometheus", "static_configs": [{"targets": [self.address]}]}
        ]
        for job, targets in self.jobs.items():
            scrape_config: dict[str, Any] = {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            scrape_config.update(self.job_options.get(job, {}))
            scrape_configs.append(scrape_config)
        return {
            "global": {"scrape_interval": self.scrape_interval, "scrape_timeout": timeout},
            "scrape_configs": scrape_configs,
        }

    def backfill(self) -> None:
        """Turn the crafted history into TSDB blocks with promtool (before the server starts)."""
        if self.history is None or not self.history.series():
            return
        started = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        source = self.history.write(self.workdir / "history.om")
        first, last = self.history.time_range()
        # One block per day keeps week-long histories to a handful of blocks (fast startup).
        block = self.max_block_duration or ("24h" if last - first > 6 * 3600 else "2h")
        result = subprocess.run(
            [
                find_binary("promtool"),
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "--quiet",
                f"--max-block-duration={block}",
                str(source),
                str(self.data_dir),
            ],
            capture_output=True,
            text=True,
            timeout=self.backfill_timeout,
            check=False,
        )
        if result.returncode != 0:
            raise HarnessError(f"promtool backfill failed ({result.returncode}):\n{result.stderr[-3000:]}")
        self.timings["backfill"] = time.monotonic() - started

    def start(self) -> PrometheusServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False), encoding="utf-8")
        self.backfill()
        started = time.monotonic()
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                [
                    find_binary("prometheus"),
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={self.data_dir}",
                    f"--storage.tsdb.retention.time={self.retention}",
                    f"--web.listen-address={self.address}",
                    "--log.level=info",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.timings["start"] = time.monotonic() - started
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise HarnessError(f"prometheus exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise HarnessError(f"prometheus not ready after {self.ready_timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Terminate the server by pid (kill if it does not exit) and remove its files."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # Small API helpers, for the harness' own checks (the gate has its own client).

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Run an instant query; return the result vector (raises on an API error)."""
        params: dict[str, str] = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        response = requests.get(f"{self.url}/api/v1/query", params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise HarnessError(f"query {promql!r} failed: {body}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else [{"metric": {}, "value": result}]

    def scalar(self, promql: str, at: float | None = None) -> float:
        """Run an instant query expected to return one value; NaN when it returns nothing."""
        result = self.query(promql, at)
        if not result:
            return math.nan
        if len(result) != 1:
            raise HarnessError(f"query {promql!r} returned {len(result)} series")
        return float(result[0]["value"][1])

    def targets(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=10)
        return list(response.json()["data"]["activeTargets"])

    def wait_for_scrapes(self, jobs: Iterable[str] | None = None, *, timeout: float = 30.0) -> None:
        """Wait until every active target of `jobs` (default: all) has been scraped once."""
        wanted = set(jobs) if jobs is not None else None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            targets = [t for t in self.targets() if wanted is None or t["labels"].get("job") in wanted]
            if targets and all(t["health"] != "unknown" for t in targets):
                return
            time.sleep(0.2)
        raise HarnessError(f"targets not scraped within {timeout:.0f}s: {self.targets()}")


# --- /metrics endpoints ---------------------------------------------------------------------------

EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 that a test starts and that stops with its context."""

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        raise NotImplementedError

    def _serve(self, server: ThreadingHTTPServer, name: str) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class MetricsEndpoint(_LoopbackServer):
    """A threaded HTTP server on a free loopback port serving settable text (or bytes) at /metrics.

    `text`, `status`, `content_type` and `delay` (seconds before answering) may be changed
    while it runs; every request reads the current values.
    """

    def __init__(
        self,
        text: str | bytes = "",
        *,
        status: int = 200,
        content_type: str = EXPOSITION_CONTENT_TYPE,
        delay: float = 0.0,
        mode: str | None = None,
    ) -> None:
        self.text = text
        self.status = status
        self.content_type = content_type
        self.delay = delay
        self.mode = mode  # one of BROKEN_ANSWERS: how the text is (mis)delivered
        self.requests = 0
        self.accept: str | None = None  # the Accept header of the last request

    @property
    def port(self) -> int:
        if self._server is None:
            raise HarnessError("endpoint not started")
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/metrics"

    def start(self) -> MetricsEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
                endpoint.requests += 1
                endpoint.accept = self.headers.get("Accept")
                if endpoint.delay:
                    time.sleep(endpoint.delay)
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                text = endpoint.text
                body = text if isinstance(text, bytes) else text.encode("utf-8")
                if endpoint.mode is not None:
                    deliver_broken(self, endpoint.mode, body)
                    return
                self.send_response(endpoint.status)
                self.send_header("Content-Type", endpoint.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
                pass  # keep the self-test output clean

        server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        server.daemon_threads = True
        self._serve(server, f"metrics-{server.server_address[1]}")
        return self



# --- Running the gate -----------------------------------------------------------------------------


def environment_document(
    prometheus_url: str,
    metrics_urls: Mapping[str, str],
    windows: Mapping[str, tuple[float, float]],
    *,
    scrape_interval: str = "15s",
    timeout: str = "10s",
    jobs: Mapping[str, str] | None = None,
    prometheus_job: str = "prometheus",
) -> dict[str, Any]:
    """An environment file's content in the documented shape (absolute RFC 3339 windows)."""
    jobs = dict(jobs or {})
    return {
        "prometheus": {
            "url": prometheus_url,
            "job": prometheus_job,
            "scrape_interval": scrape_interval,
            "timeout": timeout,
        },
        "components": {
            name: {"metrics_url": url, "job": jobs.get(name, name)} for name, url in metrics_urls.items()
        },
        "windows": {
            name: {"start": rfc3339(start), "end": rfc3339(end)} for name, (start, end) in windows.items()
        },
    }


def criteria_variant(workdir: Path, changes: Mapping[str, Mapping[str, object]]) -> Path:
    """criteria/wave1.yaml with some fields changed, by criterion id (None removes a field), written with
    its contract into `workdir`; returns the criteria file's path."""
    document = yaml.safe_load((REPO / "criteria" / "wave1.yaml").read_text(encoding="utf-8"))
    for entry in document["criteria"]:
        for key, value in dict(changes.get(entry["id"], {})).items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "criteria.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    (workdir / "contract.yaml").write_text((REPO / "criteria" / "contract.yaml").read_text(encoding="utf-8"))
    return path


def write_environment(path: Path, document: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(document), sort_keys=False), encoding="utf-8")
    return path


@dataclass
class GateRun:
    """The outcome of one gate run: exit code, output and the parsed gate-results.json."""

    ret: int
    stdout: str
    stderr: str
    outdir: Path
    results: dict[str, Any] | None
    duration: float

    @property
    def criteria(self) -> dict[str, dict[str, Any]]:
        """Criterion records of gate-results.json by id (empty when the file is missing)."""
        if not self.results:
            return {}
        return {record["id"]: record for record in self.results.get("criteria", [])}

    def verdict(self, criterion_id: str) -> str:
        record = self.criteria.get(criterion_id)
        if record is None:
            raise AssertionError(
                f"{criterion_id} not in gate-results.json (have {sorted(self.criteria)}); exit {self.ret}\n"
                f"{self.tail()}"
            )
        return str(record["verdict"])

    def record(self, criterion_id: str) -> dict[str, Any]:
        self.verdict(criterion_id)
        return self.criteria[criterion_id]

    def text(self, criterion_id: str) -> str:
        """Everything the gate said about one criterion, as one searchable string."""
        return json.dumps(self.record(criterion_id), default=str)

    def tail(self, chars: int = 4000) -> str:
        return f"--- stdout ---\n{self.stdout[-chars:]}\n--- stderr ---\n{self.stderr[-chars:]}"

    @property
    def output(self) -> str:
        """stdout and stderr together (pytest prints usage errors to stderr)."""
        return f"{self.stdout}\n{self.stderr}"


def assert_verdict(run: GateRun, criterion_id: str, verdict: str, *mentions: str) -> dict[str, Any]:
    """Assert the gate judged `criterion_id` as `verdict` and that its record (message, summary, worst,
    details) mentions each of `mentions`; return the record."""
    __tracebackhide__ = True
    record = run.record(criterion_id)
    text = run.text(criterion_id)
    shown = f"{criterion_id}: {record['verdict']}\n{record.get('message')}\nworst: {record.get('worst')}"
    if record["verdict"] != verdict:
        pytest.fail(f"expected {verdict}, the gate said {shown}", pytrace=False)
    missing = [m for m in mentions if m not in text]
    if missing:
        pytest.fail(f"the gate's record does not mention {missing}:\n{shown}", pytrace=False)
    return record


def violations(record: Mapping[str, Any]) -> str:
    """The record's details (the gate's list of violations and findings), as one string."""
    return "\n".join(str(item) for item in record.get("details") or [])


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `predicate` until it holds; raise naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")


def gate_argv(
    *args: str,
    env_file: Path | None = None,
    outdir: Path,
    areas: Sequence[str] = (),
    select: str | None = None,
) -> list[str]:
    """The gate's command line (after `pytest`), options written as --opt=value.

    The '=' form matters: pytest looks for its rootdir before plugins add their options, so a bare
    `--env-file PATH` would be taken for a test path.
    """
    argv = ["-p", "no:cacheprovider", f"--rootdir={REPO}", str(REPO / "tests"), f"--gate-output={outdir}"]
    if env_file is not None:
        argv.append(f"--env-file={env_file}")
    if areas:
        argv.append(f"--area={','.join(areas)}")
    if select:
        argv += ["-k", select]
    return [*argv, *args]


def run_gate(
    runner: pytest.Pytester | Path,
    *args: str,
    env_file: Path | None = None,
    outdir: Path | None = None,
    areas: Sequence[str] = (),
    select: str | None = None,
    timeout: float = 240,
    environ: Mapping[str, str] | None = None,
) -> GateRun:
    """Run the repository's gate as an inner pytest session in its own process; collect what it wrote.

    `runner` is a Pytester (function-scoped tests) or a work directory (session-scoped fixtures,
    which cannot use pytester). `select` becomes `-k`, `areas` becomes `--area`.
    """
    workdir = runner.path if isinstance(runner, pytest.Pytester) else runner
    workdir.mkdir(parents=True, exist_ok=True)
    outdir = outdir if outdir is not None else Path(tempfile.mkdtemp(prefix="gate-out-", dir=workdir))
    argv = gate_argv(*args, env_file=env_file, outdir=outdir, areas=areas, select=select)
    started = time.monotonic()
    extra_environ = dict(environ or {})
    if isinstance(runner, pytest.Pytester):
        if extra_environ:
            raise HarnessError("environ is for work-directory runs; use monkeypatch.setenv with a Pytester")
        result = runner.runpytest_subprocess(*argv, timeout=timeout)
        ret, stdout, stderr = int(result.ret), result.stdout.str(), result.stderr.str()
    else:
        # What runpytest_subprocess does, minus pytester: a clean environment, cwd = workdir.
        environ = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
        environ.update(extra_environ)
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", f"--basetemp={workdir / 'basetemp'}", *argv],
            cwd=workdir,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        ret, stdout, stderr = completed.returncode, completed.stdout, completed.stderr
    duration = time.monotonic() - started
    results_path = outdir / "gate-results.json"
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.is_file() else None
    return GateRun(ret=ret, stdout=stdout, stderr=stderr, outdir=outdir, results=results, duration=duration)


# --- Transport faults in front of a real server ---------------------------------------------------


BROKEN_ANSWERS = ("trickle", "html", "bad_json", "empty_body", "truncated", "chunked_broken", "gzip_broken")


def deliver_broken(handler: BaseHTTPRequestHandler, mode: str, body: bytes) -> None:
    """Answer 200 in one of the broken ways of BROKEN_ANSWERS, around the real `body` where there is one:
    one byte every 0.2 s; an HTML page; JSON cut in half; nothing; fewer bytes than Content-Length says;
    invalid chunked framing; a gzip header over bytes that are not gzip."""
    def head(content_type: str, **extra: str) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        for name, value in extra.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()

    if mode == "trickle":
        head("application/json", Content_Length=str(len(body)))
        for index in range(len(body)):
            try:
                handler.wfile.write(body[index:index + 1])
                handler.wfile.flush()
            except OSError:
                return  # the client gave up: as it should
            time.sleep(0.2)
    elif mode == "html":
        page = b"<html><body><h1>Sign in</h1></body></html>"
        head("text/html; charset=utf-8", Content_Length=str(len(page)))
        handler.wfile.write(page)
    elif mode == "bad_json":
        head("application/json", Content_Length=str(len(body) // 2))
        handler.wfile.write(body[: len(body) // 2])
    elif mode == "empty_body":
        head("application/json", Content_Length="0")
    elif mode == "truncated":
        head("application/json", Content_Length=str(len(body) + 100))
        handler.wfile.write(body)
        handler.close_connection = True
    elif mode == "chunked_broken":
        head("application/json", Transfer_Encoding="chunked")
        handler.wfile.write(b"10\r\n{\"status\":\"succ\r\nzz\r\n")
        handler.close_connection = True
    elif mode == "gzip_broken":
        junk = b"this is not gzip at all" * 10
        head("application/json", Content_Encoding="gzip", Content_Length=str(len(junk)))
        handler.wfile.write(junk)
    else:
        raise HarnessError(f"unknown broken answer {mode!r}")


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and localhost) signed by itself, made with openssl: (cert, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def _rewritten(data: dict[str, Any], how: str) -> dict[str, Any]:
    """A query answer's data emptied ("empty") or with every value NaN ("nan"), timestamps kept."""
    kind, result = data.get("resultType"), data.get("result")
    if how == "empty":
        return {**data, "result": [] if kind in ("vector", "matrix") else result}
    if kind == "vector":
        return {**data, "result": [{**s, "value": [s["value"][0], "NaN"]} for s in result]}
    if kind == "matrix":
        return {**data, "result": [{**s, "values": [[t, "NaN"] for t, _ in s["values"]]} for s in result]}
    if kind == "scalar":
        return {**data, "result": [result[0], "NaN"]}
    return data


PARTIAL_ANSWERS = ("is_partial", "thanos_422", "thanos_503")
THANOS_STORE_ERROR = ("expanding series: proxy Series(): receive series from Addr: 127.0.0.1:10901 "
                      "LabelSets: {replica=\"b\"}: rpc error: code = Unavailable desc = connection refused")


def _thanos_partial_error(how: str) -> tuple[int, str, bytes]:
    """The answer of a Thanos querier asked with partial_response=false when one store did not answer."""
    status = 503 if how == "thanos_503" else 422
    document = {"status": "error", "errorType": "unavailable" if status == 503 else "execution",
                "error": THANOS_STORE_ERROR}
    return status, "application/json", json.dumps(document).encode("utf-8")


class FaultProxy(_LoopbackServer):
    """A loopback HTTP proxy that forwards every GET to a real upstream (a Prometheus) and only adds
    transport-level faults: HTTP 503 for the first `fail_first` requests (or `always_status` for all),
    a TCP reset instead of an answer, an authentication requirement, and `warnings` added to the JSON of
    successful query answers (what a Prometheus-compatible store sends with a partial response).

    It never answers a query itself: the data in every forwarded answer is the upstream's.
    `seen` keeps (path, headers) of each request, for asserting what the client sent.

    For the conventions of clustered backends it can also stand in for their front ends: `prefix` is a path
    the API is served under (stripped before forwarding; any other path answers 404, as Prometheus does),
    `tenant` (header, value) is required as Mimir requires X-Scope-OrgID (401 "no org id" without it), and
    `partial` makes answers partial the ways the backends say so: "is_partial" adds VictoriaMetrics'
    `"isPartial": true`, "thanos_422" / "thanos_503" answer the error a Thanos querier gives with
    partial_response=false when a store did not answer. `touched` names the API paths `warnings`, `rewrite`
    and `partial` apply to.
    """

    def __init__(
        self,
        upstream: str,
        *,
        fail_first: int = 0,
        always_status: int | None = None,
        reset: bool = False,
        warnings: Sequence[str] = (),
        require_headers: Mapping[str, str] | None = None,
        drop_params: Sequence[str] = (),
        delay: float = 0.0,
        rewrite: str | None = None,
        mode: str | None = None,
        tls: tuple[Path, Path] | None = None,
        prefix: str = "",
        tenant: tuple[str, str] | None = None,
        partial: str | None = None,
        touched: Sequence[str] = ("/api/v1/query",),
    ) -> None:
        parts = upstream.removeprefix("http://").split("/", 1)[0]
        self.upstream_host, _, port = parts.partition(":")
        self.upstream_port = int(port or 80)
        self.fail_first = fail_first
        self.always_status = always_status
        self.reset = reset
        self.warnings = list(warnings)
        self.require_headers = dict(require_headers or {})
        self.drop_params = tuple(drop_params)  # query parameters removed before forwarding (e.g. `time`)
        self.delay = delay  # seconds each answer waits before it is forwarded (a slow Prometheus)
        # "empty": every query answers an empty result; "nan": every value of every answer is NaN
        self.rewrite = rewrite
        # How the answer is delivered (see BROKEN_ANSWERS): None forwards it as it came.
        self.mode = mode
        self.tls = tls  # (certificate, key): serve HTTPS
        self.prefix = prefix
        self.tenant = tenant
        if partial not in (None, *PARTIAL_ANSWERS):
            raise HarnessError(f"unknown partial answer {partial!r}; one of {PARTIAL_ANSWERS}")
        self.partial = partial
        self.touched = tuple(touched)
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.faults = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if self._server is None:
            raise HarnessError("proxy not started")
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{LOOPBACK}:{self._server.server_address[1]}"

    def _admit(self, path: str, headers: Mapping[str, str]) -> str | int | None:
        """Record the request; say what to do instead of forwarding: 'reset', an HTTP status, or None."""
        with self._lock:
            number = len(self.seen)
            self.seen.append((path, dict(headers)))
            if self.reset or self.always_status is not None or number < self.fail_first:
                self.faults += 1
                return "reset" if self.reset else self.always_status or 503
        # Header names are case-insensitive on the wire.
        sent = {name.lower(): value for name, value in headers.items()}
        if any(sent.get(name.lower()) != value for name, value in self.require_headers.items()):
            return 401
        if self.tenant is not None and sent.get(self.tenant[0].lower()) != self.tenant[1]:
            return 401
        if not path.startswith(f"{self.prefix}/"):
            return 404
        return None

    def params(self, route: str = "/api/v1/query") -> list[dict[str, str]]:
        """The query parameters of each request for `route` (after the prefix), in order."""
        found = []
        for path, _ in self.seen:
            where, _, query = path.removeprefix(self.prefix).partition("?")
            if where == route:
                found.append(dict(urllib.parse.parse_qsl(query, keep_blank_values=True)))
        return found

    def fault_text(self, status: int, headers: Mapping[str, str]) -> bytes:
        """What the front end says with an injected status: Mimir's words for a missing tenant."""
        if status == 401 and self.tenant is not None:
            sent = {name.lower(): value for name, value in headers.items()}
            return b"no org id\n" if self.tenant[0].lower() not in sent else b"unknown tenant\n"
        if status == 404:
            return b"404 page not found\n"
        return f"fault injected: HTTP {status}\n".encode()

    def _forward(self, path: str, headers: Mapping[str, str]) -> tuple[int, str, bytes]:
        # Identity encoding, so warnings can be added to the JSON without re-compressing it.
        sent = {k: v for k, v in headers.items() if k.lower() not in ("host", "accept-encoding", "connection")}
        path = path.removeprefix(self.prefix)
        touched = path.split("?", 1)[0].startswith(self.touched)
        if touched and self.partial in ("thanos_422", "thanos_503"):
            return _thanos_partial_error(self.partial)
        if self.drop_params and "?" in path:
            route, _, query = path.partition("?")
            kept = [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
                    if k not in self.drop_params]
            path = f"{route}?{urllib.parse.urlencode(kept)}"
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            connection.request("GET", path, headers=sent)
            response = connection.getresponse()
            body = response.read()
            content_type = response.getheader("Content-Type", "application/json")
            status = response.status
        finally:
            connection.close()
        if (self.warnings or self.rewrite or self.partial) and touched and status == 200:
            document = json.loads(body)
            if document.get("status") == "success":
                if self.warnings:
                    document["warnings"] = [*document.get("warnings", []), *self.warnings]
                if self.rewrite:
                    document["data"] = _rewritten(document["data"], self.rewrite)
                if self.partial == "is_partial":
                    document["isPartial"] = True
                body = json.dumps(document).encode("utf-8")
        return status, content_type, body

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
                headers = dict(self.headers.items())
                fault = proxy._admit(self.path, headers)
                if fault == "reset":
                    # SO_LINGER 0 makes close() send RST: the client sees "connection reset by peer".
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if isinstance(fault, int):
                    self._answer(fault, "text/plain; charset=utf-8", proxy.fault_text(fault, headers))
                    return
                time.sleep(proxy.delay)
                if proxy.mode == "redirect":
                    # Another host (localhost is not 127.0.0.1) would answer in the configured one's name.
                    self.send_response(302)
                    self.send_header("Location", f"http://localhost:{proxy.upstream_port}{self.path}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, content_type, body = proxy._forward(self.path, headers)
                if proxy.mode is not None:
                    deliver_broken(self, proxy.mode, body)
                    return
                self._answer(status, content_type, body)

            def _answer(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Bearer realm="prometheus"')
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
                pass

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a reset connection fails the handler's final flush; that is the fault, not a bug

        server = QuietServer((LOOPBACK, 0), Handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._serve(server, "fault-proxy")
        return self



# --- VictoriaMetrics and vmauth (the Debian package victoria-metrics) -----------------------------


class _Daemon:
    """A server process on a free loopback port, logging to its work directory, ready when `ready_path`
    answers 200; stopped by pid (terminate, then kill)."""

    binary = ""
    ready_path = "/health"

    def __init__(self, workdir: Path, *, ready_timeout: float = 20.0) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.ready_timeout = ready_timeout
        self.log_path = workdir / f"{self.binary}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def arguments(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen([find_binary(self.binary), *self.arguments()], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_until(self._ready, f"{self.binary} at {self.url}", timeout=self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise HarnessError(f"{self.binary} exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return requests.get(f"{self.url}{self.ready_path}", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class VictoriaMetricsServer(_Daemon):
    """A real single-node `victoria-metrics` (Debian's package) with its own data directory, the self-tests'
    second backend. History goes in through its import API (`/api/v1/import/prometheus`: exposition lines
    with a millisecond timestamp each, the same samples promtool backfills into Prometheus), given as
    `history` (imported at start) or to `load`; it is searchable at once and no cached answer predates it."""

    binary = "victoria-metrics"
    batch_lines = 200_000  # per import request: quick, and far below the import limits

    def __init__(self, workdir: Path, *, history: History | None = None, flags: Sequence[str] = (),
                 **options: Any) -> None:
        super().__init__(workdir, **options)
        self.history = history
        self.flags = list(flags)  # e.g. -search.latencyOffset=1s where samples written now are queried now

    def arguments(self) -> list[str]:
        return [f"-storageDataPath={self.workdir / 'data'}", f"-httpListenAddr={LOOPBACK}:{self.port}",
                "-retentionPeriod=100y", "-loggerLevel=ERROR", *self.flags]

    def start(self) -> Self:
        super().start()
        if self.history is not None:
            try:
                self.load(self.history)
            except BaseException:
                self.stop()
                raise
        return self

    def load(self, history: History) -> None:
        batch: list[str] = []
        for series in history.series():
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(series.labels.items()))
            batch += [f"{series.name}{{{labels}}} {_format_value(v)} {round(t * 1000)}\n" for t, v in series.points]
            if len(batch) >= self.batch_lines:
                self._import(batch)
                batch = []
        if batch:
            self._import(batch)
        # Imported rows become searchable after a flush; cached rollups from before the import are dropped.
        for path in ("/internal/force_flush", "/internal/resetRollupResultCache"):
            requests.get(f"{self.url}{path}", timeout=60).raise_for_status()

    def _import(self, lines: list[str]) -> None:
        response = requests.post(f"{self.url}/api/v1/import/prometheus", data="".join(lines).encode(), timeout=120)
        if response.status_code not in (200, 204):
            raise HarnessError(f"import into victoria-metrics: HTTP {response.status_code} {response.text[:300]}")

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query (for the harness' own checks); raises on an API error."""
        params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
        body = requests.get(f"{self.url}/api/v1/query", params=params, timeout=30).json()
        if body.get("status") != "success":
            raise HarnessError(f"query {promql!r} failed: {body}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else [{"metric": {}, "value": result}]


class VmAgentServer(_Daemon):
    """A real `vmagent` scraping `jobs` ({job: [host:port, ...]}) and itself (job `vmagent`) every
    `scrape_interval`, remote-writing into a VictoriaMetrics; its /api/v1/targets lists the targets."""

    binary = "vmagent"

    def __init__(self, workdir: Path, jobs: Mapping[str, Sequence[str]], remote: str, *,
                 scrape_interval: str = "1s", **options: Any) -> None:
        super().__init__(workdir, **options)
        self.jobs = {"vmagent": [f"{LOOPBACK}:{self.port}"], **{k: list(v) for k, v in jobs.items()}}
        self.remote = remote
        self.scrape_interval = scrape_interval
        self.config_path = workdir / "scrape.yml"

    def arguments(self) -> list[str]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = {"global": {"scrape_interval": self.scrape_interval, "scrape_timeout": self.scrape_interval},
                  "scrape_configs": [{"job_name": job, "static_configs": [{"targets": targets}]}
                                     for job, targets in self.jobs.items()]}
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return [f"-promscrape.config={self.config_path}", f"-remoteWrite.url={self.remote}/api/v1/write",
                f"-remoteWrite.tmpDataPath={self.workdir / 'queue'}", "-remoteWrite.flushInterval=1s",
                f"-httpListenAddr={LOOPBACK}:{self.port}", "-loggerLevel=ERROR"]


class VmAuthServer(_Daemon):
    """A real `vmauth` routing each user (basic auth) to its own backend URL, as a tenant-routing front end."""

    binary = "vmauth"

    def __init__(self, workdir: Path, users: Mapping[str, tuple[str, str]], **options: Any) -> None:
        super().__init__(workdir, **options)
        self.users = dict(users)  # username: (password, url_prefix)
        self.config_path = workdir / "auth.yml"

    def arguments(self) -> list[str]:
        users = [{"username": name, "password": password, "url_prefix": target}
                 for name, (password, target) in self.users.items()]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump({"users": users}), encoding="utf-8")
        return [f"-auth.config={self.config_path}", f"-httpListenAddr={LOOPBACK}:{self.port}", "-loggerLevel=ERROR"]
