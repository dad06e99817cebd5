"""A short Markdown verdict from gate-results.json, for a CI job summary ($GITHUB_STEP_SUMMARY), a merge-request
comment or a chat message: the status first, what blocks (with its culprit), what does not block and why, the
warnings, then one row per criterion.

    python -m wavegate summary [RESULTS] [--output FILE] [--append]

RESULTS defaults to reports/cp2-wave1-deployment/validation/gate-results.json. Exit 0 when the summary was
written (whatever the verdict), 2 when RESULTS is missing or not a gate-results.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from wavegate.results import CriterionRecord, criterion_records, load_results, unfinished

DEFAULT = Path("reports/cp2-wave1-deployment/validation/gate-results.json")
ICON = {"passed": "✅", "failed": "❌", "error": "⛔", "incomplete": "⏸️", "inconclusive": "❓"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _culprit(record: CriterionRecord) -> str:
    worst = record.worst_measurement()
    first = record.summary or (record.message.splitlines()[0] if record.message else record.verdict)
    return f"{worst.label}: {first}" if worst is not None and worst.label not in first else first


def _margin(record: CriterionRecord) -> str:
    if record.margin_used is None:
        return ""
    return f"{record.margin_used * 100:.0f} %" + (" ⚠️" if record.warning else "")


def render(payload: dict[str, Any]) -> str:
    records = criterion_records(payload)
    status = str(payload.get("status", "?"))
    banner = "REPORT-ONLY" if payload.get("report_only") and payload.get("would_exit_code") in (1, 6, 7) \
        else status.upper()
    why_not = unfinished(payload)
    lines = [f"## {ICON.get(status, '❔')} wavegate: {banner} (exit {payload.get('exit_code', '?')})", ""]
    if why_not:
        lines += [f"**Not a finished run:** {why_not}", ""]
    windows = payload.get("windows") or {}
    lines += [f"Environment `{payload.get('environment', '?')}`, Prometheus {payload.get('prometheus_url', '?')}; "
              f"baseline {(windows.get('baseline') or {}).get('start', '?')} .. "
              f"{(windows.get('baseline') or {}).get('end', '?')}, candidate "
              f"{(windows.get('candidate') or {}).get('start', '?')} .. "
              f"{(windows.get('candidate') or {}).get('end', '?')}.", ""]
    comparison = payload.get("comparison") or {}
    if comparison.get("candidate_track"):
        stage = f" at stage {payload['stage']:g} %" if isinstance(payload.get("stage"), int | float) else ""
        lines += [f"Canary `{{{comparison['candidate_track']}}}` against stable `{{{comparison['baseline_track']}}}` "
                  f"({comparison.get('mode')}){stage}, {float(comparison.get('confidence') or 0.95) * 100:g} % "
                  "intervals. INCONCLUSIVE: too little data to tell yet (exit 7), never a pass.", ""]
    blocking = [r for r in records if r.blocks]
    if blocking:
        verb = "Would have blocked (report-only)" if payload.get("report_only") else "Blocks the rollout"
        lines += [f"**{verb}:**", *(f"- {ICON.get(r.verdict, '❌')} `{r.id}` — {_culprit(r)}" for r in blocking), ""]
    accepted = [r for r in records if r.verdict != "passed" and not r.blocking]
    if accepted:
        lines += ["**Does not block:**",
                  *(f"- 🟡 `{r.id}` {r.non_blocking} ({r.verdict}): {r.non_blocking_reason}" for r in accepted), ""]
    warned = [r for r in records if r.warning]
    if warned:
        lines += ["**Warnings** (passed, but close to the limit):",
                  *(f"- ⚠️ `{r.id}` used {_margin(r)} of its margin — {_culprit(r)}" for r in warned), ""]
    expired = (payload.get("waivers") or {}).get("expired") or []
    if expired:
        lines += ["**Expired waivers** (no longer applied):",
                  *(f"- `{w.get('criterion')}` expired {w.get('expires')} ({w.get('approver')})" for w in expired), ""]
    summary = payload.get("summary") or {}
    lines += [f"{summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, {summary.get('error', 0)} error"
              f"{', ' + str(summary['inconclusive']) + ' inconclusive' if summary.get('inconclusive') else ''}"
              f"{', not judged: ' + ', '.join(payload.get('not_judged') or []) if payload.get('not_judged') else ''}",
              "", "| Criterion | Verdict | Margin used | What the gate saw |", "|---|---|---|---|"]
    for record in sorted(records, key=lambda r: (not r.blocks, r.verdict == "passed", r.id)):
        verdict = f"{ICON.get(record.verdict, '')} {record.verdict}"
        if record.verdict != "passed" and not record.blocking:
            verdict = f"🟡 {record.non_blocking} ({record.verdict})"
        lines.append(f"| `{record.id}` | {verdict} | {_margin(record)} | {_cell(_culprit(record))[:200]} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m wavegate summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT,
                        help="gate-results.json (default: %(default)s)")
    parser.add_argument("--output", type=Path, help="write there instead of standard output")
    parser.add_argument("--append", action="store_true", help="append to --output (e.g. $GITHUB_STEP_SUMMARY)")
    args = parser.parse_args(argv)
    try:
        payload = load_results(args.results)
    except FileNotFoundError:
        print(f"summary: {args.results} does not exist; run the gate first (pytest --env=…)", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"summary: {exc}", file=sys.stderr)
        return 2
    text = render(payload)
    if args.output is None:
        sys.stdout.write(text)
    else:
        with args.output.open("a" if args.append else "w", encoding="utf-8") as stream:
            stream.write(text)
    return 0
