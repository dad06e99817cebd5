"""gate-results.json: the gate's machine-readable outcome, one record per criterion.

Written atomically (temp file, then rename) so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

SCHEMA = 1
EXIT_PASSED, EXIT_VIOLATED, EXIT_USAGE, EXIT_NO_TESTS, EXIT_NOT_EVALUATED = 0, 1, 4, 5, 6


def gate_status(records: list[dict[str, Any]], not_judged: list[str] | None = None) -> tuple[str, int]:
    """Overall status and exit code: a violation beats an evaluation error, which beats a partial run;
    nothing judged, or only some of the selected criteria, is not a pass."""
    verdicts = [r["verdict"] for r in records]
    if not verdicts:
        return "error", EXIT_NO_TESTS
    if "failed" in verdicts:
        return "failed", EXIT_VIOLATED
    if "error" in verdicts:
        return "error", EXIT_NOT_EVALUATED
    if not_judged:
        return "incomplete", EXIT_NO_TESTS
    return "passed", EXIT_PASSED


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(payload, stream, indent=2, sort_keys=False)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_results(path: Path) -> dict[str, Any]:
    """Read gate-results.json; raises FileNotFoundError or ValueError with the path named."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); re-run the gate to write it again") from None
    if not isinstance(payload, dict) or payload.get("schema") != SCHEMA or not isinstance(
            payload.get("criteria"), list):
        raise ValueError(f"{path} is not a gate-results.json of schema {SCHEMA}; re-run the gate")
    return payload


def unfinished(payload: dict[str, Any]) -> str | None:
    """Why a gate-results.json does not describe a finished run that judged criteria, or None if it does."""
    status, cause = payload.get("status"), payload.get("cause") or ""
    if payload.get("finished") is not True or status == "incomplete":
        return (f"the gate run did not finish (status {status}{': ' + cause if cause else ''}; started "
                f"{payload.get('started_at', '?')}); re-run the gate")
    if payload.get("exit_code") == EXIT_USAGE:
        return f"the gate run ended with a configuration error (exit 4): {cause}; fix it and re-run the gate"
    if not payload.get("criteria"):
        return "the gate run judged no criterion; re-run the gate with its criteria selected"
    return None
