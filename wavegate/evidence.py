"""The one place evidence goes out: result records, terminal text, pytest-html extras, Allure, JUnit.

Each integration is used only when its plugin is loaded; the JSON record is always kept and ends up in
gate-results.json, which the deployment report reads.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from wavegate.durations import format_duration
from wavegate.verdicts import Observation, render

ALLURE_SEVERITY = {"blocker": "blocker", "critical": "critical", "major": "normal", "minor": "minor",
                   "trivial": "trivial"}


def jsonable(value: Any) -> Any:
    """Make a value JSON-safe: NaN and infinities become strings, tuples lists, unknowns str()."""
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def base_record(criterion: Any, nodeid: str) -> dict[str, Any]:
    return {
        "id": criterion.id,
        "area": criterion.area,
        "kind": criterion.kind,
        "description": criterion.description,
        "severity": criterion.severity,
        "nodeid": nodeid,
        "verdict": "error",
        "observed": None,
        "threshold": None,
        "unit": "",
        "baseline": None,
        "candidate": None,
        "queries": [],
        "window": None,
        "samples": None,
        "worst": None,
        "message": "",
        "cause": None,
        "no_data": False,
        "vacuous": False,
        "details": [],
        "notes": [],
        "warnings": [],
    }


def observation_fields(observation: Observation) -> dict[str, Any]:
    fields: dict[str, Any] = jsonable({
        "observed": observation.observed,
        "threshold": observation.threshold,
        "unit": observation.unit,
        "baseline": observation.baseline,
        "candidate": observation.candidate,
        "queries": observation.queries,
        "window": observation.window.as_dict() if observation.window else None,
        "samples": observation.samples,
        "worst": observation.worst,
        "no_data": observation.no_data,
        "vacuous": observation.vacuous,
        "details": observation.details,
        "notes": observation.notes,
        "warnings": observation.warnings,
        "summary": observation.summary,
        "measurements": [m.as_dict() for m in observation.measurements],
    })
    return fields


def terminal_text(criterion: Any, observation: Observation) -> str:
    """Every query of a criterion, for `-v`."""
    return "\n".join(f"query @ {q['time']}: {q['query']}" for q in observation.queries)


def junit_properties(criterion: Any, observation: Observation) -> list[tuple[str, str]]:
    return [
        ("criterion", criterion.id),
        ("area", criterion.area),
        ("severity", criterion.severity),
        ("summary", observation.summary),
        ("observed", render(observation.observed, observation.unit)),
        ("threshold", render(observation.threshold, observation.unit)),
        ("window", observation.window.describe() if observation.window else ""),
    ]


def allure_labels(criterion: Any) -> None:
    """Title, epic/feature/story and severity for the running Allure test (no-op without allure)."""
    try:
        import allure
    except ImportError:  # pragma: no cover — allure-pytest is a dependency, but stay usable without it
        return
    allure.dynamic.title(criterion.description)
    allure.dynamic.epic("CP2 Wave 1")
    allure.dynamic.feature(criterion.area)
    allure.dynamic.story(criterion.id)
    allure.dynamic.severity(ALLURE_SEVERITY[criterion.severity])
    allure.dynamic.tag(criterion.kind)


def allure_attach(criterion: Any, observation: Observation) -> None:
    try:
        import allure
    except ImportError:  # pragma: no cover
        return
    allure.attach(terminal_text(criterion, observation), name="verdict",
                  attachment_type=allure.attachment_type.TEXT)
    allure.attach(json.dumps(observation_fields(observation), indent=2), name="evidence.json",
                  attachment_type=allure.attachment_type.JSON)


def graph_link(base: str, promql: str, end: datetime, seconds: float) -> str:
    """Prometheus' graph page for `promql` over the `seconds` before `end` (graph and table at `end`)."""
    at = end.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    params = {"g0.expr": promql, "g0.tab": "0", "g0.stacked": "0", "g0.range_input": format_duration(seconds),
              "g0.end_input": at, "g0.moment_input": at}
    return f"{base.rstrip('/')}/graph?{urlencode(params)}"


def public_base(url: str) -> str:
    """A Prometheus URL fit for a link in a report: scheme, host and path, no credentials, no query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def html_extras(record: dict[str, Any], prometheus_url: str | None = None) -> list[Any]:
    """The evidence as JSON, and each query as a link to Prometheus' graph page at its time over its window."""
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover
        return []
    shown = {k: record[k] for k in ("id", "verdict", "observed", "threshold", "baseline", "candidate", "window",
                                    "samples", "worst", "details", "notes", "warnings", "queries") if k in record}
    found: list[Any] = [extras.json(shown, name=f"evidence {record['id']}")]
    window = record.get("window") if isinstance(record.get("window"), dict) else None
    if prometheus_url is None or window is None:
        return found
    base = public_base(prometheus_url)
    links = []
    for query in record.get("queries") or []:
        try:
            at = datetime.fromisoformat(str(query["time"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            continue
        href = graph_link(base, str(query["query"]), at, float(window["seconds"]))
        links.append(f'<li><a href="{escape(href)}" target="_blank">{escape(str(query["query"]))}</a> '
                     f'@ {escape(str(query["time"]))}</li>')
    if links:
        found.append(extras.html(f"<div><strong>Queries</strong> (each opens Prometheus' graph page at its time, "
                                 f"over the window):<ul>{''.join(links)}</ul></div>"))
    return found
