"""A real single-node VictoriaMetrics (Debian `victoria-metrics`) for the self-tests: the second backend.

History goes in through its import API (`/api/v1/import/prometheus`: the exposition text with a
millisecond timestamp on each line, the same samples promtool backfills into Prometheus), and the
response cache is dropped afterwards so no query answer predates the import. The server listens on a free
loopback port with its own data directory and stops by its process id.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
from harness import LOOPBACK, HarnessError, History, find_binary, free_port

# Lines per import request: big enough to be quick, small enough to stay far below the import limits.
_BATCH_LINES = 200_000


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def exposition_lines(history: History) -> Iterator[str]:
    """Every sample of `history` as one exposition line with its timestamp in milliseconds."""
    for series in history.series():
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(series.labels.items()))
        head = f"{series.name}{{{inner}}}" if inner else series.name
        for t, value in series.points:
            yield f"{head} {_value(value)} {round(t * 1000)}\n"


class VictoriaMetricsServer:
    """`victoria-metrics` on a free loopback port; `history` is imported once it is up."""

    def __init__(self, *, history: History | None = None, workdir: Path | None = None,
                 ready_timeout: float = 30.0, extra_flags: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.history = history
        self.ready_timeout = ready_timeout
        self.extra_flags = extra_flags
        self._own_workdir = workdir is None
        self.workdir = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="wavegate-vm-"))
        self.log_path = self.workdir / "victoria-metrics.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.timings: dict[str, float] = {}

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> VictoriaMetricsServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(
                [find_binary("victoria-metrics"), f"-storageDataPath={self.workdir / 'data'}",
                 f"-httpListenAddr={self.address}", "-retentionPeriod=100y", "-loggerLevel=WARN",
                 *self.extra_flags],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()
        try:
            self._wait_ready()
            if self.history is not None:
                self.load(self.history)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise HarnessError(f"victoria-metrics exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise HarnessError(f"victoria-metrics not ready after {self.ready_timeout:.0f}s:\n{self.log_tail()}")

    def load(self, history: History) -> None:
        """Import every sample, make it searchable, and drop cached answers."""
        started = time.monotonic()
        batch: list[str] = []
        for line in exposition_lines(history):
            batch.append(line)
            if len(batch) >= _BATCH_LINES:
                self._import(batch)
                batch = []
        if batch:
            self._import(batch)
        self._get("/internal/force_flush")
        self._get("/internal/resetRollupResultCache")
        self.timings["import"] = time.monotonic() - started

    def _import(self, lines: list[str]) -> None:
        response = requests.post(f"{self.url}/api/v1/import/prometheus", data="".join(lines).encode(), timeout=120)
        if response.status_code not in (200, 204):
            raise HarnessError(f"import into victoria-metrics failed: HTTP {response.status_code} "
                               f"{response.text[:500]}")

    def _get(self, path: str) -> None:
        response = requests.get(f"{self.url}{path}", timeout=60)
        if response.status_code != 200:
            raise HarnessError(f"victoria-metrics {path}: HTTP {response.status_code} {response.text[:300]}")

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
        body = requests.get(f"{self.url}/api/v1/query", params=params, timeout=30).json()
        if body.get("status") != "success":
            raise HarnessError(f"query {promql!r} failed: {body}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else [{"metric": {}, "value": result}]

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
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> VictoriaMetricsServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
