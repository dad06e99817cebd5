"""`python -m wavegate watch`: judge a rollout stage repeatedly until the intervals decide.

    python -m wavegate watch --every=2m --for=20m [--since=START] [--lag=15s] [--confidence=0.95]
                             [--gate-output=DIR] -- PYTEST-ARGS (e.g. --env=rollout --stage=10)

Every `--every` (the first look at once when `--since` names the stage's start, else after one interval) the gate
runs as `pytest PYTEST-ARGS --candidate=SINCE/NOW-LAG`, so each look judges all the stage's data so far. A
confident failure (exit 1) stops at once, a confident pass (exit 0) too; INCONCLUSIVE (exit 7) looks again
until `--for` is over, then stays inconclusive. Any other outcome (an error, 6; a configuration error, 4) stops
and is the result: never a pass. Looking K times at 95 % would let a false verdict through more often than
5 %, so each look uses confidence 1 - (1 - confidence) / K (Bonferroni), K being the looks `--for` allows.

Looks start within `--for`; each one is bounded by the gate's own run budget. Every look keeps its outputs
in DIR/looks/N/; DIR holds the deciding look's outputs with a `watch` record added to its gate-results.json,
and watch.json. While watching, DIR/gate-results.json says `incomplete`, so an aborted watch leaves no pass.
Exit code: the deciding look's (0, 1, 7, or what stopped it); 4 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wavegate.durations import parse_duration
from wavegate.errors import ConfigError
from wavegate.outputs import OWNED_DIRS, OWNED_FILES, RESULTS, OutputFolder, unfinished_record
from wavegate.results import write_json_atomic
from wavegate.settings import format_time, parse_time

EXIT_USAGE = 4
DECIDED = {0: "passed", 1: "failed"}
KEEP_LOOKING = 7
OWN = ("--candidate", "--gate-output", "--confidence")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m wavegate watch", description="Judge a rollout stage repeatedly until the intervals decide: "
        "stop on a confident failure (exit 1) or pass (exit 0), else stay inconclusive (exit 7) when --for is over.")
    parser.add_argument("--every", required=True, help="time between looks, e.g. 2m")
    parser.add_argument("--for", dest="span", required=True, help="how long to keep looking, e.g. 20m")
    parser.add_argument("--since", help="the stage's start (RFC 3339); default: now. Given: the first look is at once")
    parser.add_argument("--lag", default="15s", help="how far behind now each look's window ends (data still "
                        "arriving), default 15s")
    parser.add_argument("--confidence", type=float, default=0.95, help="overall confidence, default 0.95")
    parser.add_argument("--gate-output", default="reports/cp2-wave1-deployment/validation",
                        help="where the deciding look's outputs, watch.json and looks/N/ go")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then the gate's pytest arguments")
    return parser


def main(argv: list[str]) -> int:
    try:
        return _watch(_parser().parse_args(argv))
    except ConfigError as exc:
        print(f"wavegate watch: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _settings(args: argparse.Namespace) -> tuple[float, float, float, datetime | None, list[str]]:
    try:
        every, span, lag = (parse_duration(getattr(args, name)) for name in ("every", "span", "lag"))
    except ValueError as exc:
        raise ConfigError(f"--every / --for / --lag: {exc}") from None
    if every <= 0 or span < every:
        raise ConfigError(f"--every={args.every} --for={args.span}: look at least once (--for >= --every > 0)")
    if not 0.5 <= args.confidence < 1:
        raise ConfigError(f"--confidence={args.confidence}: write a level from 0.5 to below 1, e.g. 0.95")
    try:
        since = parse_time(args.since) if args.since else None
    except ValueError as exc:
        raise ConfigError(f"--since={args.since}: {exc}") from None
    pytest_args = [a for a in args.pytest_args if a != "--"]
    taken = [a for a in pytest_args if a.split("=", 1)[0] in OWN]
    if taken:
        raise ConfigError(f"{', '.join(taken)}: watch sets {', '.join(OWN)} itself for each look; leave them out")
    if not pytest_args:
        raise ConfigError("name the gate's arguments after --, e.g. -- --env=rollout --stage=10")
    return every, span, lag, since, pytest_args


def _watch(args: argparse.Namespace) -> int:
    every, span, lag, since, pytest_args = _settings(args)
    output = Path(args.gate_output)
    folder = OutputFolder(output)
    folder.acquire()
    launched = time.time()
    start = since or datetime.fromtimestamp(launched, UTC)
    looks_planned = max(1, int(span // every) + (1 if since else 0))
    confidence = 1 - (1 - args.confidence) / looks_planned
    folder.clear()
    shutil.rmtree(output / "looks", ignore_errors=True)
    (output / "watch.json").unlink(missing_ok=True)
    started = datetime.now(UTC)
    folder.write(unfinished_record(started, "watching: the looks have not decided yet"))
    record: dict[str, Any] = {"every": args.every, "for": args.span, "since": format_time(start), "lag": args.lag,
                              "confidence": args.confidence, "confidence_per_look": confidence,
                              "looks_planned": looks_planned, "looks": []}
    previous = signal.signal(signal.SIGTERM, _interrupt)
    code, child = EXIT_USAGE, None
    try:
        deadline = launched + span
        due = launched if since else launched + every
        while True:
            time.sleep(max(0.0, due - time.time()))
            number = len(record["looks"]) + 1
            end = datetime.fromtimestamp(time.time() - lag, UTC)
            if end <= start:
                raise ConfigError(f"--since={format_time(start)} is not before now - --lag; nothing to judge yet")
            look = output / "looks" / str(number)
            window = f"{format_time(start)}/{format_time(end)}"
            argv = [sys.executable, "-m", "pytest", *pytest_args, f"--candidate={window}", f"--gate-output={look}",
                    f"--confidence={confidence:.6g}"]
            begun = datetime.now(UTC)
            child = subprocess.Popen(argv)
            code = child.wait()
            child = None
            record["looks"].append(_look(number, begun, start, end, code, look))
            print(f"wavegate watch: look {number}/{looks_planned} ({format_time(start)} .. {format_time(end)}): "
                  f"{_status(look)} (exit {code})", flush=True)
            due += every
            if code != KEEP_LOOKING or due > deadline:
                break
        record["decided_by"] = len(record["looks"])
        record["outcome"] = DECIDED.get(code, "inconclusive" if code == KEEP_LOOKING else "stopped")
        record["stopped_early"] = code in DECIDED and len(record["looks"]) < looks_planned
        _publish(output, record, code)
        return code
    except KeyboardInterrupt as exc:
        if child is not None:
            child.terminate()
            child.wait()
        folder.write(unfinished_record(started, f"watch stopped by {exc or 'SIGINT'} after "
                                                f"{len(record['looks'])} look(s); re-run it for a verdict",
                                       watch=record))
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
        folder.release()


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _results(look: Path) -> dict[str, Any] | None:
    try:
        found = json.loads((look / RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _status(look: Path) -> str:
    results = _results(look)
    return str(results.get("status", "?")).upper() if results else "no gate-results.json"


def _look(number: int, begun: datetime, start: datetime, end: datetime, code: int, look: Path) -> dict[str, Any]:
    results = _results(look) or {}
    return {"look": number, "started_at": format_time(begun), "finished_at": format_time(datetime.now(UTC)),
            "window": {"start": format_time(start), "end": format_time(end),
                       "seconds": (end - start).total_seconds()},
            "exit_code": code, "status": results.get("status"), "folder": f"looks/{number}",
            "verdicts": {c.get("id"): c.get("verdict") for c in results.get("criteria", []) if isinstance(c, dict)}}


def _publish(output: Path, record: dict[str, Any], code: int) -> None:
    """The deciding look's outputs at the top of DIR, its gate-results.json with the watch record added."""
    deciding = output / "looks" / str(record["decided_by"])
    for name in OWNED_FILES:
        if name != RESULTS and (deciding / name).is_file():
            shutil.copy2(deciding / name, output / name)
    for name in OWNED_DIRS:
        if (deciding / name).is_dir():
            shutil.copytree(deciding / name, output / name, dirs_exist_ok=True)
    write_json_atomic(output / "watch.json", record)
    results = _results(deciding)
    if results is None:
        results = unfinished_record(datetime.now(UTC), f"look {record['decided_by']} wrote no gate-results.json "
                                    f"(exit {code})")
        results.update(finished=True, status="error", exit_code=code if code else 6)
    results["watch"] = record
    write_json_atomic(output / RESULTS, results)
