"""Reading /metrics: the text format 0.0.4 and OpenMetrics 1.0, chosen by Content-Type as Prometheus does,
checked against the formats and linted with promtool's rules.

model        Exposition, MetricFamily, Problem (what a parse gives)
text         the text-format parser, fed bytes as they arrive
openmetrics  the OpenMetrics parser (the text parser with OpenMetrics' rules)
lint         promtool check metrics' rules, and the gate's advice apart from them
"""

from __future__ import annotations

from wavegate.exposition.lint import advice, lint
from wavegate.exposition.model import OPENMETRICS, TEXT, Exposition, MetricFamily, Problem, Sample
from wavegate.exposition.openmetrics import OpenMetricsParser
from wavegate.exposition.text import TextParser

__all__ = [
    "ACCEPT", "OPENMETRICS", "TEXT", "Exposition", "MetricFamily", "Problem", "Sample", "advice", "format_of",
    "lint", "parse", "parser_for",
]

# What Prometheus 2.42 asks a target for: OpenMetrics first, the text format next, anything last.
ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
          "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def format_of(content_type: str | None) -> str:
    """OPENMETRICS when the media type is application/openmetrics-text, else TEXT — Prometheus' own rule
    (anything else, no Content-Type or one that does not parse, goes to the text parser)."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return OPENMETRICS if media == "application/openmetrics-text" else TEXT


def parser_for(content_type: str | None, *, keep_samples: bool = False) -> TextParser:
    """A parser to feed a body of that Content-Type chunk by chunk."""
    if format_of(content_type) == OPENMETRICS:
        return OpenMetricsParser(keep_samples=keep_samples)
    return TextParser(keep_samples=keep_samples)


def parse(body: bytes | str, content_type: str | None = None, *, keep_samples: bool = True) -> Exposition:
    """Parse a whole body. Never raises on bad content: each defect becomes a Problem with its line. Empty
    text (or only comments) gives zero families and no problem: whether that is acceptable is the caller's
    decision."""
    parser = parser_for(content_type, keep_samples=keep_samples)
    parser.feed(body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body)
    return parser.close()
