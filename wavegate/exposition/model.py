"""What a parsed exposition is: its families (kept compact: counts, label names, bucket bounds, first lines,
not every sample) and its problems, each with the line it was found on."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

TEXT = "text"
OPENMETRICS = "openmetrics"

# Sample names a family owns besides its own name, by format and type. In the text format 0.0.4 a TYPE line
# types its name and, for histograms and summaries, the _bucket/_sum/_count lines; `_total` and `_created`
# are OpenMetrics conventions, so a text counter `foo` does not own `foo_total` or `foo_created`.
_TEXT_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
_OPENMETRICS_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
}
# Of those, the types whose family name itself is no sample name.
_OPENMETRICS_NO_BARE_SAMPLE = frozenset({"counter", "histogram", "gaugehistogram", "info"})


def claimed_names(name: str, type_: str, format_: str = TEXT) -> tuple[str, ...]:
    """Sample names other than `name` that a family declared with TYPE owns in the given format."""
    suffixes = (_OPENMETRICS_SUFFIXES if format_ == OPENMETRICS else _TEXT_SUFFIXES).get(type_, ())
    return tuple(name + suffix for suffix in suffixes)


def bare_sample_allowed(type_: str, format_: str) -> bool:
    """Whether a sample may carry the family's own name (a text histogram or an OpenMetrics counter may not)."""
    if format_ == OPENMETRICS:
        return type_ not in _OPENMETRICS_NO_BARE_SAMPLE
    return type_ != "histogram"


@dataclass(frozen=True)
class Sample:
    """One sample line: full name (e.g. "x_bucket"), labels in written order, value, 1-based line. Kept only
    when parse() is asked to keep samples; the gate itself reads the family summaries."""

    name: str
    # hash=False: a dict cannot be hashed, and leaving it out keeps hash() usable and consistent with ==.
    labels: Mapping[str, str] = field(hash=False)
    value: float
    timestamp_ms: int | None
    line: int


@dataclass(frozen=True)
class Problem:
    """A defect found by parsing or linting; `rule` is a short machine id, `message` says what to fix.

    `deviation` is set when promtool check metrics (Prometheus 2.42) does not report this on purpose: it
    says why the gate does (the format's specification, or the current reference parser, demands it)."""

    line: int | None
    metric: str | None
    rule: str
    message: str
    deviation: str | None = None

    def __str__(self) -> str:
        parts = [f"line {self.line}" if self.line is not None else None, self.metric, self.message]
        text = ": ".join(p for p in parts if p)
        return f"{text} [not a promtool finding: {self.deviation}]" if self.deviation else text


@dataclass(frozen=True)
class MetricFamily:
    """One metric family: declared TYPE, HELP (and OpenMetrics UNIT) with their lines, and what its samples
    hold, summarised: how many, their label names with the first line each appears on, the label-name sets,
    the finite bucket bounds of a histogram."""

    name: str
    type: str
    help: str | None
    type_line: int | None
    help_line: int | None
    sample_count: int = 0
    series: int = 0
    first_line: int | None = None
    sample_names: frozenset[str] = frozenset()
    # label name -> first line it appears on (le and quantile included)
    label_lines: Mapping[str, int] = field(default_factory=dict, hash=False)
    # sorted label names of a sample -> the first line with exactly those names
    label_sets: Mapping[tuple[str, ...], int] = field(default_factory=dict, hash=False)
    buckets: tuple[float, ...] = ()
    unit: str | None = None
    samples: tuple[Sample, ...] = ()

    def __repr__(self) -> str:
        return f"MetricFamily({self.name!r}, {self.type}, {self.sample_count} samples)"

    def series_count(self) -> int:
        """Number of distinct (sample name, label set) pairs."""
        return self.series

    def label_names(self) -> frozenset[str]:
        """Union of the samples' label names, without the structural "le" and "quantile"."""
        return frozenset(name for name in self.label_lines if name not in ("le", "quantile"))

    def bucket_bounds(self) -> tuple[float, ...]:
        """Sorted distinct finite "le" bounds of a histogram's bucket samples; +Inf is left out."""
        return self.buckets

    def first_without(self, labels: tuple[str, ...]) -> tuple[int, list[str]] | None:
        """The first line of a sample that lacks one of `labels`, with the missing names; None if none does."""
        lacking = [(line, [name for name in labels if name not in names]) for names, line in self.label_sets.items()]
        lacking = [(line, missing) for line, missing in lacking if missing]
        return min(lacking) if lacking else None


@dataclass(frozen=True)
class Exposition:
    """A parsed body: families by name (in order of first appearance), the parse problems, and which format
    (TEXT or OPENMETRICS) it was read as."""

    families: Mapping[str, MetricFamily] = field(hash=False)
    problems: tuple[Problem, ...]
    format: str = TEXT
    lines: int = 0

    def __repr__(self) -> str:  # it may hold a million families' worth of summaries: keep reprs short
        return f"Exposition({self.format}, {len(self.families)} families, {len(self.problems)} problems)"

    def family(self, name: str) -> MetricFamily | None:
        return self.families.get(name)

    def find(self, metric: str) -> MetricFamily | None:
        """The family called `metric`, or the one owning a sample of that name (x_bucket, x_total ...)."""
        if metric in self.families:
            return self.families[metric]
        for fam in self.families.values():
            if metric in fam.sample_names or metric in claimed_names(fam.name, fam.type, self.format):
                return fam
        return None


# --- small helpers shared by the parsers and the linter ----------------------------------------------------


def show(text: str) -> str:
    """Quote a fragment of input for a message, shortened so garbage cannot flood it."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def format_float(value: float) -> str:
    return "+Inf" if value == math.inf else repr(value)


def same_value(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))
