"""The gate's output folder describes exactly one run: locked while a run writes it, emptied of the previous
run's files when a run starts, and holding a gate-results.json that says how far the run got.

- At the start a run takes an exclusive lock on `<folder>/.wavegate.lock` (a second run in the same folder
  is refused, naming the first), removes the previous run's files and writes a gate-results.json with
  status `incomplete` and `finished: false`: if the run is killed (SIGKILL, power), that is what stays.
- A configuration error writes status `error`, exit code 4 and the cause.
- SIGINT and SIGTERM stop the run as an interruption; it then writes status `incomplete` with the signal.
- Only a run that got to its end writes `finished: true`; the report builder refuses anything else.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from wavegate.errors import ConfigError
from wavegate.results import SCHEMA, write_json_atomic

RESULTS = "gate-results.json"
# Everything a run writes into its folder (pytest-html, JUnit, Allure and our own record).
OWNED_FILES = (RESULTS, "gate.html", "junit.xml")
OWNED_DIRS = ("allure-results",)
LOCK = ".wavegate.lock"


class OutputFolder:
    """One run's hold on its output folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[str] | None = None

    def acquire(self) -> None:
        """Lock the folder for this run, or refuse naming the run that holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        stream = (self.path / LOCK).open("a+", encoding="utf-8")
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "another process"
            stream.close()
            raise ConfigError(
                f"{self.path} is being written by another gate run ({holder}); two runs in one folder would "
                "mix their results: wait for it to finish, or pass --gate-output=ANOTHER_FOLDER") from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"pid {os.getpid()}, started {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        stream.flush()
        self._lock = stream

    def clear(self) -> None:
        """Remove the previous run's outputs (so no stale result survives even a killed run)."""
        for name in OWNED_FILES:
            (self.path / name).unlink(missing_ok=True)
        for name in OWNED_DIRS:
            shutil.rmtree(self.path / name, ignore_errors=True)

    def release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def write(self, payload: dict[str, Any]) -> None:
        write_json_atomic(self.path / RESULTS, payload)


def unfinished_record(started: datetime, cause: str, **fields: Any) -> dict[str, Any]:
    """gate-results.json for a run that has not reached its end (running, interrupted or killed)."""
    return {"schema": SCHEMA, "status": "incomplete", "exit_code": 2, "finished": False, "cause": cause,
            "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "criteria": [], **fields}


def configuration_error_record(cause: str) -> dict[str, Any]:
    """gate-results.json for a run stopped by a configuration error before judging anything."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"schema": SCHEMA, "status": "error", "exit_code": 4, "finished": True, "cause": cause,
            "started_at": now, "finished_at": now, "criteria": []}
