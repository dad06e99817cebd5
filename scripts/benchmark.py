"""Measure the gate's speed and memory on a realistic history: the self-tests' healthy CP2 world over a
7-day baseline and a 7-day candidate at a 15 s scrape interval, backfilled into a real Prometheus, judged
by the full gate N times as a subprocess; plus `check-metrics` against `promtool check metrics` on a ~9 MB
exposition, and the gate on a 100 MB / 1 M-series /metrics.

Each gate run lists the requests it sent (WAVEGATE_REQUEST_LOG); against them the benchmark prints two
ratios: the gate's wall time over the floor (a bare script sending the same distinct requests concurrently,
whole process against whole process), and the samples the gate's queries touch (Prometheus' stats=all) over
the minimum (each metric the gate reads, its samples in each window plus one 5m lookback before it).

Reports numbers against stated targets; it asserts nothing. Everything it starts stops before it exits.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "selftests"))  # the crafted worlds and the real-Prometheus harness live there

import promql_parser  # noqa: E402
import requests  # noqa: E402
from harness import History, MetricsEndpoint, closed_port, environment_document, write_environment  # noqa: E402
from worlds import COMPONENTS, HEALTHY, LiveWorld, long_windows, start_world  # noqa: E402

TARGET_SECONDS = 60.0
TARGET_RSS_MIB = 300.0
# A 100 MB / 1 M-series /metrics (issue "Fail closed"): judged, not refused, within these.
TARGET_LARGE_SECONDS = 30.0
TARGET_LARGE_RSS_MIB = 300.0
# The full gate against a bare script sending the gate's own distinct requests concurrently (issue "Beyond one
# Prometheus", light and fast), and the samples its queries touch against the minimum.
TARGET_FLOOR_RATIO = 1.5
TARGET_SAMPLES_RATIO = 2.0
FLOOR_WORKERS = 4  # the gate's default prometheus.max_concurrency
MINIMUM_LOOKBACK = 300.0  # Prometheus' default lookback: what any reading of a window needs before it
# Parse + lint of a ~9 MB exposition, whole process against promtool check metrics (issue "exposition checks").
TARGET_EXPOSITION_RATIO = 1.5


@dataclass
class GateSample:
    """One full gate run: wall time, peak RSS of the gate process, exit code, per-criterion durations."""

    seconds: float
    max_rss_mib: float
    exit_code: int
    summary: str
    durations: dict[str, float]
    cpu_seconds: float = math.nan  # user + system CPU of the gate process (wait4)


class Deadline(Exception):
    """The benchmark ran out of its time budget."""


def _raise_deadline(signum: int, frame: FrameType | None) -> None:
    raise Deadline("the benchmark exceeded --timeout; everything it started is being stopped")


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


# Runs the command given after the report path and writes its exit status and rusage there. The gate is
# started by this small process, not by the benchmark: Linux keeps a process' peak RSS across exec, so a
# gate forked straight from the benchmark (which held the whole crafted week) would inherit its size.
_LAUNCHER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as report:
    json.dump({"exit": os.waitstatus_to_exitcode(status), "max_rss_kib": usage.ru_maxrss,
               "cpu_seconds": usage.ru_utime + usage.ru_stime}, report)
"""


def run_gate_once(env_file: Path, outdir: Path, workdir: Path, timeout: float, *extra: str,
                  request_log: Path | None = None) -> GateSample:
    """Run the full gate as a grandchild via _LAUNCHER and time it; the launcher reports its peak RSS. With
    `request_log`, the gate appends each request it sends to Prometheus there (one JSON line each)."""
    # hypothesis (a development dependency, for the self-tests) is not installed where pipelines install the
    # gate (`pip install wavegate`); its pytest plugin is left out here for the same reason.
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
            f"--rootdir={REPO}", str(REPO / "tests"),
            f"--env-file={env_file}", f"--gate-output={outdir}", "-q", *extra]
    # Bytecode is written and reused, as wherever the gate is installed (pip compiles it at install time); a
    # PYTHONDONTWRITEBYTECODE left in this shell would make each run compile every module of the gate again.
    environ = {k: v for k, v in os.environ.items()
               if k not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONDONTWRITEBYTECODE")}
    if request_log is not None:
        environ["WAVEGATE_REQUEST_LOG"] = str(request_log)
    log, usage_file = workdir / f"{outdir.name}.log", workdir / f"{outdir.name}.usage.json"
    started = time.monotonic()
    with log.open("wb") as stream:
        # A session of its own, so a hung run is killed with its launcher (by this process group's id).
        process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(usage_file), *argv], cwd=workdir,
                                   env=environ, stdout=stream, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        process.wait(timeout=timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
            raise
    seconds = time.monotonic() - started
    durations: dict[str, float] = {}
    junit = outdir / "junit.xml"
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            criterion = name[name.find("[") + 1 : -1] if name.endswith("]") else name
            durations[criterion] = float(case.get("time", "0"))
    summary = "no gate-results.json"
    results = outdir / "gate-results.json"
    if results.is_file():
        payload = json.loads(results.read_text(encoding="utf-8"))
        counts = payload.get("summary", {})
        summary = f"{payload.get('status')}: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("passed", "failed",
                                                                                               "error"))
        problems = [f"{r['id']} {r['verdict']}" for r in payload.get("criteria", []) if r["verdict"] != "passed"]
        if problems:
            summary += f" ({'; '.join(problems)})"
    usage = json.loads(usage_file.read_text()) if usage_file.is_file() else {"exit": -9, "max_rss_kib": 0}
    if usage["exit"] < 0:
        summary = f"killed after {timeout:.0f} s"
    # ru_maxrss is in KiB on Linux.
    return GateSample(seconds, usage["max_rss_kib"] / 1024, usage["exit"], summary, durations,
                      usage.get("cpu_seconds", math.nan))


# The floor: a bare script (requests and a thread pool, nothing of the gate) that sends the distinct requests
# listed in a request log to Prometheus, FLOOR_WORKERS at a time, and reads every answer.
_FLOOR = """
import json, sys
from concurrent.futures import ThreadPoolExecutor
import requests
base, log, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(log) as lines:
    wanted = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
session = requests.Session()
def send(line):
    request = json.loads(line)
    answer = session.get(base + request["path"], params=request["params"], timeout=300)
    answer.raise_for_status()
    return len(answer.content)
with ThreadPoolExecutor(workers) as pool:
    list(pool.map(send, wanted))
"""


def logged_requests(log: Path) -> list[dict[str, object]]:
    """The distinct requests of a request log, in the order first sent."""
    lines = [line.strip() for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line) for line in dict.fromkeys(lines)]


def floor_seconds(base: str, log: Path) -> tuple[float, float]:
    """Wall time and CPU (user + system) of the floor script (_FLOOR) on the log's distinct requests, whole
    process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", _FLOOR, base, str(log), str(FLOOR_WORKERS)], check=True,
                   stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def process_cpu(pid: int | None) -> float:
    """User + system CPU seconds a live process has used so far (from /proc), NaN where it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def touched_samples(base: str, wanted: list[dict[str, object]]) -> list[tuple[str, int]]:
    """The samples Prometheus reads for each instant query among the requests, by its own count (stats=all:
    data.stats.samples.totalQueryableSamples), each query asked once more."""
    found = []
    with requests.Session() as session:
        for request in wanted:
            if request["path"] != "/api/v1/query":
                continue
            params = {**request["params"], "stats": "all"}  # type: ignore[dict-item]
            body = session.get(f"{base}/api/v1/query", params=params, timeout=300).json()
            found.append((str(params["query"]), int(body["data"]["stats"]["samples"]["totalQueryableSamples"])))
    return found


def heaviest(per_query: list[tuple[str, int]], count: int = 5) -> list[str]:
    """The queries that read the most samples, with their share of the run's total (the load a backend sees)."""
    total = sum(samples for _, samples in per_query) or 1
    ranked = sorted(per_query, key=lambda item: -item[1])[:count]
    return [f"  {samples:>12,} ({samples / total:5.1%})  {query if len(query) <= 110 else query[:107] + '...'}"
            for query, samples in ranked]


_MATCH_OPS = {"MatchOp.Equal": "=", "MatchOp.NotEqual": "!=", "MatchOp.Re": "=~", "MatchOp.NotRe": "!~"}


def metric_selectors(queries: list[str]) -> dict[str, set[str]]:
    """Per metric name, every selector of it in these queries (their PromQL parsed, not pattern-matched),
    without offsets or ranges: the series the gate reads of each metric."""
    found: dict[str, set[str]] = {}

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.MatrixSelector):
            node = node.vector_selector
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            matchers = ", ".join(f"{m.name}{_MATCH_OPS[str(m.op)]}{json.dumps(m.value)}"
                                 for m in node.matchers.matchers if m.name != "__name__")
            found.setdefault(node.name, set()).add(f"{node.name}{{{matchers}}}")

    for query in queries:
        promql_parser.walk(promql_parser.parse(query), visit)
    return found


def minimum_samples(base: str, selectors: dict[str, set[str]], windows: dict[str, tuple[float, float]]) -> int:
    """What reading each metric once per window needs: the samples, in the window plus one lookback
    (MINIMUM_LOOKBACK) before it, of every series of it that a selector of the gate's selects (each series
    counted once), by count_over_time."""
    total = 0
    with requests.Session() as session:
        for chosen in selectors.values():
            for start, end in windows.values():
                span = f"{round(end - start + MINIMUM_LOOKBACK)}s"
                query = " or ".join(f"count_over_time({selector}[{span}])" for selector in sorted(chosen))
                body = session.get(f"{base}/api/v1/query", params={"query": query, "time": f"{end:.3f}"},
                                   timeout=300).json()
                for item in body["data"]["result"]:
                    total += int(float(item["value"][1]))
    return total


def contract_exposition(samples: int) -> str:
    """A worker /metrics in the contract's style with about `samples` samples (90,000 is about 9 MB): labelled
    step-duration histograms, then step counters, with HELP and TYPE, label names in the client's order."""
    bounds = ("0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60", "+Inf")
    steps, statuses = ("http_call", "llm_call", "tool_call", "transform", "wait"), ("success", "failure", "timeout")
    histogram, counter = "worker_step_execution_duration_seconds", "worker_step_executions_total"
    out = [f"# HELP {histogram} Duration of one step execution.", f"# TYPE {histogram} histogram"]
    group = 0
    while len(out) < samples * 0.8:
        labels = (f'step_type="{steps[group // 3 % 5]}",execution_status="{statuses[group % 3]}",'
                  f'tenant_id="t{group // 15}"')
        out += [f'{histogram}_bucket{{{labels},le="{b}"}} {n * 3 + group % 7}' for n, b in enumerate(bounds)]
        out += [f"{histogram}_sum{{{labels}}} {group * 0.731:.3f}", f"{histogram}_count{{{labels}}} {33 + group % 7}"]
        group += 1
    out += [f"# HELP {counter} Step executions.", f"# TYPE {counter} counter"]
    step = 0
    while len(out) < samples + 4:
        out.append(f'{counter}{{step_type="{steps[step % 5]}",execution_status="{statuses[step % 3]}",'
                   f'tenant_id="t{step}"}} {step * 13}')
        step += 1
    return "\n".join(out) + "\n"


def timed(command: list[str], stdin: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) and exit code of one whole process reading `stdin`."""
    with stdin.open("rb") as body:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=body, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def exposition_versus_promtool(samples: int, runs: int) -> list[str]:
    """check-metrics against promtool check metrics on the same file, whole process against whole process,
    alternating, median of `runs` each."""
    with tempfile.TemporaryDirectory(prefix="wavegate-bench-expo-") as folder:
        path = Path(folder) / "worker.prom"
        text = contract_exposition(samples)
        path.write_text(text, encoding="utf-8")
        ours_command = [sys.executable, "-m", "wavegate", "check-metrics", "--format=text", "-"]
        theirs_command = ["promtool", "check", "metrics"]
        ours, theirs = [], []
        for _ in range(runs):
            theirs.append(timed(theirs_command, path))
            ours.append(timed(ours_command, path))
    exits = {run[2] for run in ours} | {run[2] for run in theirs}
    ours_median, theirs_median = statistics.median(r[0] for r in ours), statistics.median(r[0] for r in theirs)
    ratio = ours_median / theirs_median
    return [
        f"exposition check: {text.count(chr(10)):,} lines ({samples:,} samples), {len(text) / 1e6:.1f} MB, "
        f"median of {runs} whole-process runs each, alternating (exit codes {sorted(exits)})",
        f"  promtool check metrics:        {theirs_median:.3f} s, peak RSS {max(r[1] for r in theirs):.0f} MiB",
        f"  python -m wavegate check-metrics: {ours_median:.3f} s, peak RSS {max(r[1] for r in ours):.0f} MiB",
        f"  ratio {ratio:.2f}x (target <= {TARGET_EXPOSITION_RATIO:g}x promtool: "
        f"{'met' if ratio <= TARGET_EXPOSITION_RATIO else 'MISSED'})",
    ]


def vm_hwm_mib(pid: int) -> float | None:
    """A live process' peak RSS (VmHWM) from /proc, or None where /proc is not there."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def benchmark(args: argparse.Namespace, emit: Callable[[str], None]) -> None:
    if args.part in ("all", "gate"):
        gate_benchmark(args, emit)
    if args.part in ("all", "exposition"):
        emit("")
        for line in exposition_versus_promtool(args.samples, 5):
            emit(line)
    if args.part in ("all", "large") and args.large_series:
        emit("")
        for line in large_exposition(args.large_series, args.gate_timeout):
            emit(line)


def gate_benchmark(args: argparse.Namespace, emit: Callable[[str], None]) -> None:
    emit(f"wavegate benchmark: healthy CP2 world, {args.days:g}-day baseline + {args.days:g}-day candidate at 15 s, "
         f"{args.runs} full gate run(s)")
    emit(f"targets (stated, not asserted): a {args.days:g}-day gate run under {TARGET_SECONDS:.0f} s and under "
         f"{TARGET_RSS_MIB:.0f} MiB peak RSS")
    emit(f"python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); peak RSS = ru_maxrss of each gate process (wait4)")
    emit("")
    with tempfile.TemporaryDirectory(prefix="wavegate-bench-") as temporary:
        workdir = Path(temporary)
        started = time.monotonic()
        live: LiveWorld = start_world(
            HEALTHY,
            workdir / "world",
            scraped=COMPONENTS,
            windows=lambda now: long_windows(now, args.days),
            # promtool 2.42 re-reads the whole input once per block, so few blocks keep the backfill linear;
            # 162h is the largest block Prometheus itself compacts to under a 90-day retention.
            prometheus_options={"max_block_duration": "162h", "backfill_timeout": args.backfill_timeout},
        )
        try:
            setup = time.monotonic() - started
            history = live.world.history
            series, samples = len(history.series()), history.sample_count()
            backfill, boot = live.prometheus.timings.get("backfill", 0.0), live.prometheus.timings.get("start", 0.0)
            history_bytes = (live.prometheus.workdir / "history.om").stat().st_size
            # The gate runs in its own processes; free the crafted points so this process stays small.
            live.world.history = History()
            del history
            gc.collect()
            emit(f"history: {series:,} series, {samples:,} samples ({history_bytes / 2**30:.2f} GiB OpenMetrics)")
            emit(f"  build {setup - backfill - boot:.1f} s, backfill (write + promtool) {backfill:.1f} s, "
                 f"Prometheus start {boot:.1f} s")
            live.prometheus.wait_for_scrapes(timeout=60)
            env_file = live.env_file("bench.yaml")
            emit("")
            runs: list[GateSample] = []
            floors: list[tuple[float, float]] = []
            base = live.prometheus.url.rstrip("/")
            prometheus_pid = live.prometheus.process.pid if live.prometheus.process else None
            cpu: list[CpuShare] = []
            first = run_gate_once(env_file, workdir / "gate-0", workdir, args.gate_timeout)
            emit(f"gate run 0 (not counted: it compiles the gate's bytecode, as an installation does once): "
                 f"{first.seconds:.2f} s, exit {first.exit_code}")
            for number in range(1, args.runs + 1):
                log = workdir / f"gate-{number}.requests.jsonl"
                server_before = process_cpu(prometheus_pid)
                sample = run_gate_once(env_file, workdir / f"gate-{number}", workdir, args.gate_timeout,
                                       request_log=log)
                server_gate = process_cpu(prometheus_pid) - server_before
                runs.append(sample)
                emit(f"gate run {number}: {sample.seconds:.2f} s, peak RSS {sample.max_rss_mib:.0f} MiB, "
                     f"exit {sample.exit_code}, {sample.summary}")
                if log.is_file():
                    server_before = process_cpu(prometheus_pid)
                    floor, floor_cpu = floor_seconds(base, log)
                    share = CpuShare(sample.cpu_seconds, server_gate, floor, floor_cpu,
                                     process_cpu(prometheus_pid) - server_before)
                    floors.append((sample.seconds, floor))
                    cpu.append(share)
                    emit(f"  floor (a bare script sending the gate's distinct requests, {FLOOR_WORKERS} at a time): "
                         f"{floor:.2f} s; gate / floor {sample.seconds / floor:.2f}x")
                    emit(f"  CPU: gate {share.gate:.2f} s + Prometheus {share.server_gate:.2f} s; floor script "
                         f"{share.floor_script:.2f} s + Prometheus {share.server_floor:.2f} s")
            lines = light_and_fast(base, workdir / "gate-1.requests.jsonl", live.world.windows, floors)
            lines += cpu_bound(cpu)
            prometheus_peak = vm_hwm_mib(prometheus_pid) if prometheus_pid else None
        finally:
            live.stop()
    walls = [r.seconds for r in runs]
    rss = max(r.max_rss_mib for r in runs)
    median = statistics.median(walls)
    emit("")
    for line in lines:
        emit(line)
    emit(f"gate wall time: min {min(walls):.2f} s, median {median:.2f} s, max {max(walls):.2f} s "
         f"(target < {TARGET_SECONDS:.0f} s: {'met' if max(walls) < TARGET_SECONDS else 'MISSED'})")
    emit(f"gate peak RSS: {rss:.0f} MiB (target < {TARGET_RSS_MIB:.0f} MiB: "
         f"{'met' if rss < TARGET_RSS_MIB else 'MISSED'})")
    if prometheus_peak is not None:
        emit(f"prometheus peak RSS (VmHWM, for context): {prometheus_peak:.0f} MiB")
    per_criterion: dict[str, list[float]] = {}
    for sample in runs:
        for criterion, seconds in sample.durations.items():
            per_criterion.setdefault(criterion, []).append(seconds)
    slowest = sorted(per_criterion.items(), key=lambda item: -statistics.median(item[1]))[: args.slowest]
    emit(f"slowest criteria (median junit.xml time over {len(runs)} run(s); a criterion that reads only Prometheus "
         "is evaluated before the first test, concurrently, so its test time is only recording it):")
    for criterion, seconds in slowest:
        emit(f"  {statistics.median(seconds):7.3f} s  {criterion}")


@dataclass(frozen=True)
class CpuShare:
    """CPU seconds (user + system) of one gate run and of its floor, each with Prometheus' CPU meanwhile."""

    gate: float
    server_gate: float
    floor: float  # the floor's wall time
    floor_script: float
    server_floor: float


def cpu_bound(shares: list[CpuShare]) -> list[str]:
    """What the CPU of a run implies for the gate / floor ratio: on this machine's cores, the gate's own CPU
    and Prometheus' for its queries cannot take less wall time than their sum over the cores; and the gate's
    own CPU the target leaves once Prometheus has had its share."""
    usable = [s for s in shares if all(math.isfinite(v) for v in (s.gate, s.server_gate, s.floor_script,
                                                                   s.server_floor))]
    if not usable:
        return ["CPU bound: not measured (the gate's or Prometheus' CPU could not be read)"]
    cores = os.cpu_count() or 1
    gate = statistics.median(s.gate for s in usable)
    server = statistics.median(s.server_gate for s in usable)
    floor = statistics.median(s.floor for s in usable)
    bound = (gate + server) / cores
    allowed = TARGET_FLOOR_RATIO * floor * cores - server
    floor_script = statistics.median(s.floor_script for s in usable)
    server_floor = statistics.median(s.server_floor for s in usable)
    return [
        f"CPU (median of {len(usable)} run(s)): the gate process {gate:.2f} s, Prometheus during the gate "
        f"{server:.2f} s; the floor script {floor_script:.2f} s, Prometheus during the floor {server_floor:.2f} s",
        f"  on {cores} CPU(s) the gate cannot finish in less than ({gate:.2f} + {server:.2f}) / {cores} = "
        f"{bound:.2f} s = {bound / floor:.2f}x the floor; within {TARGET_FLOOR_RATIO:g}x "
        f"({TARGET_FLOOR_RATIO * floor:.2f} s) its own CPU would have to stay under {allowed:.2f} s, with perfect "
        "overlap",
    ]


def light_and_fast(base: str, log: Path, windows: dict[str, tuple[float, float]],
                   floors: list[tuple[float, float]]) -> list[str]:
    """The two ratios of "light and fast": gate wall time / floor (per run and their median), samples the gate's
    queries touch / the minimum; with the counts behind them."""
    if not log.is_file():
        return ["light and fast: the gate logged no request (did it reach Prometheus?)"]
    sent = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    wanted = logged_requests(log)
    queries = [str(r["params"]["query"]) for r in wanted if r["path"] == "/api/v1/query"]  # type: ignore[index]
    per_query = touched_samples(base, wanted)
    touched = sum(samples for _, samples in per_query)
    selectors = metric_selectors(queries)
    minimum = minimum_samples(base, selectors, windows)
    ratios = [gate / floor for gate, floor in floors]
    ratio = statistics.median(ratios) if ratios else math.nan
    samples_ratio = touched / minimum if minimum else math.nan
    return [
        f"requests to Prometheus (run 1): {len(sent)} sent, {len(wanted)} distinct, {len(queries)} distinct "
        f"queries over {len(selectors)} metrics",
        f"gate / floor: {', '.join(f'{r:.2f}x' for r in ratios)} (median {ratio:.2f}x; target <= "
        f"{TARGET_FLOOR_RATIO:g}x: {'met' if ratio <= TARGET_FLOOR_RATIO else 'MISSED'})",
        f"samples touched: {touched:,} (stats=all) against a minimum of {minimum:,} (the samples of each series the "
        f"gate's selectors select, in each window plus a {MINIMUM_LOOKBACK:.0f} s lookback): {samples_ratio:.2f}x "
        f"(target <= {TARGET_SAMPLES_RATIO:g}x: {'met' if samples_ratio <= TARGET_SAMPLES_RATIO else 'MISSED'})",
        "the queries that read the most samples:", *heaviest(per_query),
    ]


def large_exposition(series: int, timeout: float) -> list[str]:
    """A worker /metrics of `series` series (1 M is about 100 MB) judged by the areas that read expositions
    (quality, coverage); Prometheus is absent, so its criteria are ERROR and only the scrapes are measured."""
    pad = "x" * 40
    body = "# HELP worker_big_info Many series.\n# TYPE worker_big_info gauge\n" + "".join(
        f'worker_big_info{{slot="{i}",tenant_id="tenant-{i % 1000}",pad="{pad}"}} 1\n' for i in range(series))
    size = len(body)
    small = "# HELP x_info x.\n# TYPE x_info gauge\nx_info 1\n"
    with tempfile.TemporaryDirectory(prefix="wavegate-bench-large-") as folder, \
            MetricsEndpoint(body) as worker, MetricsEndpoint(small) as router, MetricsEndpoint(small) as gateway:
        del body
        gc.collect()
        workdir, now = Path(folder), time.time()
        document = environment_document(f"http://127.0.0.1:{closed_port()}",
                                        {"router": router.url, "gateway": gateway.url, "worker": worker.url},
                                        {"baseline": (now - 7200, now - 3700), "candidate": (now - 3600, now - 60)})
        document["components"]["worker"]["timeout"] = "60s"
        sample = run_gate_once(write_environment(workdir / "large.yaml", document), workdir / "gate-large",
                               workdir, timeout, "--area=quality,coverage")
    fast = "met" if sample.seconds <= TARGET_LARGE_SECONDS else "MISSED"
    small_enough = "met" if sample.max_rss_mib <= TARGET_LARGE_RSS_MIB else "MISSED"
    return [
        f"large exposition: {series:,} series, {size / 1e6:.1f} MB on the worker's /metrics (--area=quality,coverage)",
        f"  gate {sample.seconds:.1f} s (target <= {TARGET_LARGE_SECONDS:.0f} s: {fast}), "
        f"peak RSS {sample.max_rss_mib:.0f} MiB (target <= {TARGET_LARGE_RSS_MIB:.0f} MiB: {small_enough})",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="Full gate runs to time (default: 3).")
    parser.add_argument("--days", type=float, default=7, help="Length of each window in days (default: 7).")
    parser.add_argument("--part", choices=("all", "gate", "exposition", "large"), default="all",
                        help="Measure only one part: the 7-day gate runs, check-metrics against promtool, or the "
                             "100 MB /metrics (default: all).")
    parser.add_argument("--samples", type=int, default=90_000,
                        help="Samples of the exposition checked against promtool (about 100 bytes each).")
    parser.add_argument("--large-series", type=int, default=1_000_000,
                        help="Series of the large-exposition run (about 100 bytes each; 0 skips it).")
    parser.add_argument("--slowest", type=int, default=5, help="How many of the slowest criteria to list.")
    parser.add_argument("--backfill-timeout", type=float, default=900, help="Seconds promtool may take.")
    parser.add_argument("--gate-timeout", type=float, default=300, help="Seconds before a gate run is killed.")
    parser.add_argument("--timeout", type=int, default=1200, help="Seconds before the whole benchmark gives up.")
    parser.add_argument("--output", default=str(REPO / "reports" / "benchmark.txt"),
                        help="Also write the report here ('' for stdout only).")
    args = parser.parse_args(argv)
    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    # Bounded: SIGALRM ends the run, SIGTERM/SIGINT too; `finally` blocks stop Prometheus and the endpoints.
    signal.signal(signal.SIGALRM, _raise_deadline)
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.alarm(args.timeout)
    try:
        benchmark(args, emit)
    except Deadline as exc:
        emit(f"error: {exc}")
        return 1
    finally:
        signal.alarm(0)
    if args.output:
        output = Path(args.output)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"(written to {output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
