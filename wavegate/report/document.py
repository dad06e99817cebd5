"""Writing the report's Markdown: the document builder, links and anchors, and the pieces every section
uses (a comparison table, a figure, a screenshot, an artifact link)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from wavegate.report import layout
from wavegate.report.catalogue import GRAPHS, ROWS
from wavegate.report.fmt import NO_DATA, cell
from wavegate.report.model import Built
from wavegate.report.status import FAILED, INCONCLUSIVE, PARTIAL, SUCCESSFUL

STATUS_BADGE = {SUCCESSFUL: "✅ **SUCCESSFUL**", PARTIAL: "⚠ **PARTIAL**", FAILED: "❌ **FAILED**",
                INCONCLUSIVE: "❔ **INCONCLUSIVE**"}
VERDICT_BADGE = {"passed": "✅ passed", "failed": "❌ failed", "error": "⛔ error", "inconclusive": "❔ INCONCLUSIVE"}
GRAPH_TITLES = {g.key: g.title for g in GRAPHS}
ROW_BY_KEY = {r.key: r for r in ROWS}
MAX_LOG_LINES = 400


def anchor(criterion_id: str) -> str:
    return "criterion-" + criterion_id.replace(".", "-")

def link(target: PurePosixPath, source: PurePosixPath = layout.REPORT) -> str:
    return layout.link(target, source)

class Doc:
    """A Markdown document being written, line by line."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        self.add("| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|")
        body = [("| " + " | ".join(cell(c) for c in row) + " |") for row in rows]
        self.add(*(body or ["| " + " | ".join([NO_DATA] + [""] * (len(header) - 1)) + " |"]))
        self.add("")

    def text(self) -> str:
        return "\n".join(self.lines).rstrip() + "\n"

def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)

def figure(doc: Doc, built: Built, key: str) -> None:
    title = GRAPH_TITLES.get(key, key)
    path = built.artifacts.get(f"graph:{key}")
    if path is not None:
        data_csv = link(layout.METRICS / f"graph_{key}.csv")
        doc.add(f"![{title}]({link(path)})", f"*{title} — data: [{key} CSV]({data_csv})*",
                "")
    else:
        doc.add(f"*Graph “{title}” not drawn: {built.missing.get(f'graph:{key}', 'no data')}.*", "")

def notes(doc: Doc, keys: Iterable[str]) -> None:
    notes = sorted({ROW_BY_KEY[k].note for k in keys if ROW_BY_KEY[k].note})
    for note in notes:
        doc.add(f"> Note: {note}")
    if notes:
        doc.add("")
