"""Strict parser and linter for the Prometheus text exposition format 0.0.4 (what /metrics serves).

parse() keeps line numbers and turns every defect into a Problem; lint() applies the rules of
`promtool check metrics`.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import pairwise

_METRIC_TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})

_METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_BLANKS_RE = re.compile(r"[ \t]*")
_TOKEN_RE = re.compile(r"[^ \t]+")
# A label name read up to the next delimiter, so a message can quote the whole bad name ("a.b", not "a").
_LABEL_TOKEN_RE = re.compile(r'[^ \t=",{}]*')
_PLAIN_LABEL_VALUE_RE = re.compile(r'[^"\\]*')
# Go's strconv.ParseFloat as the text parser accepts it: decimal, Inf/Infinity with optional sign, NaN
# without sign. Hex floats and "1_000" are rejected by promtool, so they are rejected here too.
_FLOAT_RE = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN]"
)
_INT_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INF = math.inf

_LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}

# Fast path: one regex for a well-formed sample line (name, optional label set, float value, optional
# timestamp), as the careful parser below reads it. A line it does not match in full, or whose match
# needs a check the regex cannot make (duplicate or "__name__" label, float or timestamp out of range),
# goes to the careful parser, which alone reports problems; so both paths give the same result.
_FAST_LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*+"
_FAST_LABEL_VALUE = r'[^"\\]*+(?:\\[\\"n][^"\\]*+)*+'
_FAST_PAIR = _FAST_LABEL_NAME + r'[ \t]*+=[ \t]*+"' + _FAST_LABEL_VALUE + '"'
_FAST_SAMPLE_RE = re.compile(
    r"[ \t]*+([a-zA-Z_:][a-zA-Z0-9_:]*+)"
    # A label set, blanks allowed around its parts and one trailing comma; else a blank before the value.
    rf"(?:[ \t]*+\{{[ \t]*+((?:{_FAST_PAIR}[ \t]*+(?:,[ \t]*+{_FAST_PAIR}[ \t]*+)*+(?:,[ \t]*+)?)?)\}}[ \t]*+"
    r"|[ \t]++)"
    # The value as _FLOAT_RE reads it; the timestamp as _INT_RE does.
    r"([+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN])"
    r"(?:[ \t]++([+-]?[0-9]++))?[ \t]*+"
)
_FAST_PAIR_RE = re.compile(rf'({_FAST_LABEL_NAME})[ \t]*+=[ \t]*+"({_FAST_LABEL_VALUE})"')
_LABEL_ESCAPE_RE = re.compile(r'\\([\\"n])')
_HELP_ESCAPES = {"\\": "\\", "n": "\n"}


@dataclass(frozen=True)
class Sample:
    """One sample line: full name (e.g. "x_bucket"), labels in written order, value, 1-based line."""

    name: str
    # hash=False: a dict cannot be hashed, and leaving it out keeps hash() usable and consistent with ==.
    labels: Mapping[str, str] = field(hash=False)
    value: float
    timestamp_ms: int | None
    line: int


@dataclass(frozen=True)
class MetricFamily:
    """All samples of one metric, with its declared TYPE and HELP and the lines they were declared on."""

    name: str
    type: str
    help: str | None
    samples: tuple[Sample, ...]
    type_line: int | None
    help_line: int | None

    def series_count(self) -> int:
        """Number of distinct (sample name, label set) pairs."""
        return len({(s.name, _label_key(s.labels)) for s in self.samples})

    def label_names(self) -> frozenset[str]:
        """Union of the samples' label names, without the structural "le" and "quantile"."""
        return frozenset(k for s in self.samples for k in s.labels if k not in ("le", "quantile"))

    def bucket_bounds(self) -> tuple[float, ...]:
        """Sorted distinct finite "le" bounds of a histogram's _bucket samples; +Inf is left out."""
        if self.type != "histogram":
            return ()
        bucket = self.name + "_bucket"
        bounds: set[float] = set()
        for s in self.samples:
            le = _parse_go_float(s.labels.get("le", "")) if s.name == bucket else None
            if le is not None and math.isfinite(le):
                bounds.add(le)
        return tuple(sorted(bounds))


@dataclass(frozen=True)
class Problem:
    """A defect found by parse() or lint(); `rule` is a short machine id, `message` says what to fix."""

    line: int | None
    metric: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        parts = [f"line {self.line}" if self.line is not None else None, self.metric, self.message]
        return ": ".join(p for p in parts if p)


@dataclass(frozen=True)
class Exposition:
    """The parsed text: families by name (in order of first appearance) and the parse problems."""

    families: Mapping[str, MetricFamily] = field(hash=False)
    problems: tuple[Problem, ...]

    def family(self, name: str) -> MetricFamily | None:
        return self.families.get(name)

    def find(self, metric: str) -> MetricFamily | None:
        """The family called `metric`, or the one owning a sample of that name (x_bucket, x_total ...)."""
        if metric in self.families:
            return self.families[metric]
        for suffix in ("_bucket", "_sum", "_count", "_total", "_created"):
            base = self.families.get(metric.removesuffix(suffix)) if metric.endswith(suffix) else None
            if base is not None and metric in _claimed_names(base.name, base.type):
                return base
        for fam in self.families.values():
            if any(s.name == metric for s in fam.samples):
                return fam
        return None


def parse(text: str) -> Exposition:
    """Parse exposition text. Never raises on bad content: each defect becomes a Problem with its line.

    Lines that cannot be parsed are skipped. Empty text (or only comments) gives zero families and no
    problem: whether an empty /metrics is acceptable is the caller's decision.
    """
    parser = _Parser()
    # Each sample is a long-lived object, so the cyclic GC would rescan the growing heap again and again
    # (a third of the parse time); parsing creates no reference cycles, so pause it meanwhile.
    pause_gc = gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        parser.feed(text)
        return parser.result()
    finally:
        if pause_gc:
            gc.enable()


def lint(exposition: Exposition) -> list[Problem]:
    """promtool `check metrics` (client_golang promlint) rules, one Problem per finding; parse problems
    are not repeated. Unlike promtool, families declared without samples are linted too, and a label
    problem is reported once per label name rather than once per sample."""
    problems: list[Problem] = []
    for fam in exposition.families.values():
        problems.extend(_lint_family(fam))
    return problems


# --- parsing -----------------------------------------------------------------------------------------


class _LineError(Exception):
    """Aborts parsing of one line; the parser records it as a Problem and skips the line."""

    def __init__(self, rule: str, message: str, metric: str | None = None) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.metric = metric


@dataclass
class _Builder:
    name: str
    type: str = "untyped"
    help: str | None = None
    type_line: int | None = None
    help_line: int | None = None
    samples: list[Sample] = field(default_factory=list)


@dataclass
class _HistogramGroup:
    first_line: int
    buckets: list[tuple[float, float, int]] = field(default_factory=list)  # (le, value, line)
    counts: list[tuple[float, int]] = field(default_factory=list)  # (value, line)


class _Parser:
    def __init__(self) -> None:
        self.families: dict[str, _Builder] = {}
        # Sample names a typed family owns besides its own name (x_bucket -> x), filled in by TYPE lines.
        self.owner: dict[str, str] = {}
        self.problems: list[Problem] = []
        self.seen_sample_names: set[str] = set()
        self.series: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self.current: str | None = None
        self.started: set[str] = set()

    def feed(self, text: str) -> None:
        # split("\n") rather than splitlines(): the format separates lines by \n only, and splitlines()
        # would also split on \r, \x0b, \x1c, \u2028 ... and so hide garbage.
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        elif text:
            self._problem(
                len(lines), None, "syntax", "the last line does not end with a newline; the text is truncated"
            )
        crlf_reported = False
        fast_match = _FAST_SAMPLE_RE.fullmatch
        for lineno, raw in enumerate(lines, start=1):
            line = raw
            if line.endswith("\r"):
                line = line[:-1]
                if not crlf_reported:
                    crlf_reported = True
                    self._problem(
                        lineno, None, "syntax", 'lines end with "\\r\\n"; the text format allows "\\n" only'
                    )
            try:
                fast = fast_match(line)
                if fast is None or not self._fast_sample(fast, lineno):
                    self._line(line, lineno)
            except _LineError as err:
                self._problem(lineno, err.metric, err.rule, err.message)

    def result(self) -> Exposition:
        for builder in self.families.values():
            if builder.type == "histogram":
                self._check_histogram(builder)
        families = {
            name: MetricFamily(b.name, b.type, b.help, tuple(b.samples), b.type_line, b.help_line)
            for name, b in self.families.items()
        }
        # Histogram checks run last, so order by line to read like the text; sorted() is stable.
        problems = sorted(self.problems, key=lambda p: p.line if p.line is not None else 0)
        return Exposition(families=families, problems=tuple(problems))

    def _problem(self, line: int | None, metric: str | None, rule: str, message: str) -> None:
        self.problems.append(Problem(line, metric, rule, message))

    def _line(self, line: str, lineno: int) -> None:
        start = _skip_blanks(line, 0)
        if start == len(line):
            return
        if line[start] == "#":
            self._comment(line, start + 1, lineno)
        else:
            self._sample(line, start, lineno)

    # - HELP / TYPE ------------------------------------------------------------------------------------

    def _comment(self, line: str, pos: int, lineno: int) -> None:
        pos = _skip_blanks(line, pos)
        keyword = _TOKEN_RE.match(line, pos)
        if keyword is None or keyword.group() not in ("HELP", "TYPE"):
            return  # an ordinary comment
        pos = _skip_blanks(line, keyword.end())
        name_match = _TOKEN_RE.match(line, pos)
        if name_match is None:
            raise _LineError("syntax", f"{keyword.group()} line without a metric name")
        name = name_match.group()
        if _METRIC_NAME_RE.fullmatch(name) is None:
            raise _LineError(
                "invalid-metric-name",
                f"{keyword.group()} line names {_show(name)}, which is not a valid metric name "
                "([a-zA-Z_:][a-zA-Z0-9_:]*)",
            )
        rest = line[_skip_blanks(line, name_match.end()) :]
        if keyword.group() == "HELP":
            self._help(name, rest, lineno)
        else:
            self._type(name, rest.rstrip(" \t"), lineno)

    def _help(self, name: str, raw: str, lineno: int) -> None:
        text = _unescape_help(raw, name)
        builder = self._declare(name, lineno)
        if builder.help_line is not None:
            raise _LineError(
                "duplicate-help", f'second HELP line for "{name}" (first on line {builder.help_line})', name
            )
        builder.help, builder.help_line = text, lineno

    def _type(self, name: str, raw: str, lineno: int) -> None:
        if not raw:
            raise _LineError("syntax", f'TYPE line for "{name}" has no type', name)
        type_ = raw.lower()
        if type_ not in _METRIC_TYPES:
            raise _LineError(
                "invalid-type",
                f'unknown metric type {_show(raw)} for "{name}"; use one of '
                + ", ".join(sorted(_METRIC_TYPES)),
                name,
            )
        if raw != type_:
            # promtool accepts any case, but Prometheus's scraper does not, so report it and go on.
            self._problem(
                lineno, name, "invalid-type", f'metric type {_show(raw)} must be lower case "{type_}"'
            )
        builder = self._declare(name, lineno)
        if builder.type_line is not None:
            raise _LineError(
                "duplicate-type", f'second TYPE line for "{name}" (first on line {builder.type_line})', name
            )
        claimed = _claimed_names(name, type_)
        early = [n for n in (name, *claimed) if n in self.seen_sample_names]
        if early:
            # The earlier samples were already filed as untyped; a late TYPE cannot re-file them.
            raise _LineError(
                "type-after-samples",
                f'TYPE line for "{name}" comes after its sample "{early[0]}"; move it before the samples',
                name,
            )
        clash = [n for n in claimed if n in self.families]
        if clash:
            raise _LineError(
                "name-collision",
                f'{type_} "{name}" would own samples named "{clash[0]}", but that is a metric of its own',
                name,
            )
        builder.type, builder.type_line = type_, lineno
        for sample_name in claimed:
            self.owner[sample_name] = name

    def _declare(self, name: str, lineno: int) -> _Builder:
        if name in self.owner:
            owner = self.families[self.owner[name]]
            raise _LineError(
                "name-collision",
                f'"{name}" is already a sample name of {owner.type} "{owner.name}"; rename one of them',
                name,
            )
        builder = self.families.get(name)
        if builder is None:
            builder = self.families[name] = _Builder(name)
        return builder

    # - samples ----------------------------------------------------------------------------------------

    def _fast_sample(self, match: re.Match[str], lineno: int) -> bool:
        """Add the sample of a line _FAST_SAMPLE_RE matched in full; False (having changed nothing) if
        the line needs the careful parser after all."""
        name, label_text, value_text, timestamp_text = match.groups()
        if label_text:
            pairs: list[tuple[str, str]] = _FAST_PAIR_RE.findall(label_text)
            if "\\" in label_text:
                pairs = [(k, _LABEL_ESCAPE_RE.sub(_unescape_label_match, v)) for k, v in pairs]
            labels = dict(pairs)
            if len(labels) != len(pairs) or "__name__" in labels:
                return False
            key = tuple(sorted(pairs))  # names are distinct, so this is _label_key(labels)
        else:
            labels, key = {}, ()
        value = float(value_text)
        if (value == _INF or value == -_INF) and "n" not in value_text.lower():
            return False  # out of float64 range: the careful parser reports it
        timestamp: int | None = None
        if timestamp_text is not None:
            if len(timestamp_text) > 20:
                return False  # certainly out of int64 range; also keeps int() off huge strings
            timestamp = int(timestamp_text)
            if not _INT64_MIN <= timestamp <= _INT64_MAX:
                return False
        self._add_sample(name, labels, key, value, timestamp, lineno)
        return True

    def _sample(self, line: str, pos: int, lineno: int) -> None:
        name, labels, value, timestamp = _parse_sample_line(line, pos)
        self._add_sample(name, labels, _label_key(labels), value, timestamp, lineno)

    def _add_sample(
        self,
        name: str,
        labels: dict[str, str],
        key: tuple[tuple[str, str], ...],
        value: float,
        timestamp: int | None,
        lineno: int,
    ) -> None:
        builder = self.families.get(name)
        if builder is None:
            builder = self._resolve(name)
        family = builder.name
        if family != self.current:
            if family in self.started:
                self._problem(
                    lineno,
                    family,
                    "family-split",
                    f'sample "{name}" continues metric "{family}" after other metrics began; '
                    "keep all samples of a metric together",
                )
            self.current = family
            self.started.add(family)
        if builder.type == "histogram" or builder.type == "summary":
            self._check_structure(builder, name, labels)
        series = self.series
        size = len(series)
        series.add((name, key))
        if len(series) == size:
            raise _LineError("duplicate-series", f"duplicate series {name}{_format_labels(key)}", family)
        self.seen_sample_names.add(name)
        builder.samples.append(_new_sample(name, labels, value, timestamp, lineno))

    def _resolve(self, name: str) -> _Builder:
        builder = self.families.get(name)
        if builder is None and name in self.owner:
            builder = self.families[self.owner[name]]
        if builder is None:
            builder = self.families[name] = _Builder(name)
        return builder

    @staticmethod
    def _check_structure(builder: _Builder, name: str, labels: Mapping[str, str]) -> None:
        family = builder.name
        if builder.type == "histogram":
            if name == family:
                raise _LineError(
                    "unexpected-sample",
                    f'histogram "{family}" has a sample without a _bucket, _sum or _count suffix',
                    family,
                )
            if name == family + "_bucket":
                le = _parse_go_float(labels["le"]) if "le" in labels else None
                if le is None or math.isnan(le):
                    raise _LineError(
                        "invalid-le",
                        f'bucket of histogram "{family}" needs an "le" label holding a number or "+Inf", '
                        f"got {_show(labels.get('le', '(none)'))}",
                        family,
                    )
        elif (
            builder.type == "summary"
            and name == family
            and ("quantile" not in labels or _parse_go_float(labels["quantile"]) is None)
        ):
            raise _LineError(
                "invalid-quantile",
                f'sample of summary "{family}" needs a numeric "quantile" label, '
                f"got {_show(labels.get('quantile', '(none)'))}",
                family,
            )

    def _check_histogram(self, builder: _Builder) -> None:
        name = builder.name
        groups: dict[tuple[tuple[str, str], ...], _HistogramGroup] = {}
        for s in builder.samples:
            key = _label_key({k: v for k, v in s.labels.items() if k != "le"})
            group = groups.setdefault(key, _HistogramGroup(s.line))
            if s.name == name + "_bucket":
                le = _parse_go_float(s.labels["le"])
                if le is not None:  # always true: _check_structure dropped other buckets
                    group.buckets.append((le, s.value, s.line))
            elif s.name == name + "_count":
                group.counts.append((s.value, s.line))
        for key, group in groups.items():
            where = f'histogram "{name}"' + (f" with labels {_format_labels(key)}" if key else "")
            inf = [b for b in group.buckets if b[0] == math.inf]
            if not inf:
                self._problem(group.first_line, name, "histogram-no-inf", f'{where} has no le="+Inf" bucket')
            else:
                for count, line in group.counts:
                    if not _same_value(count, inf[0][1]):
                        self._problem(
                            line,
                            name,
                            "histogram-count-mismatch",
                            f'{where}: _count is {count!r} but the le="+Inf" bucket is {inf[0][1]!r}; '
                            "they must be equal",
                        )
            ordered = sorted(group.buckets, key=lambda b: b[0])
            for (lo_le, lo_value, _), (hi_le, hi_value, hi_line) in pairwise(ordered):
                if hi_value < lo_value:
                    self._problem(
                        hi_line,
                        name,
                        "inconsistent-bucket",
                        f"{where}: bucket le={_fmt_float(hi_le)} counts {hi_value!r}, fewer than "
                        f"{lo_value!r} in bucket le={_fmt_float(lo_le)}; bucket counts must not decrease",
                    )
                    break


def _parse_sample_line(line: str, pos: int) -> tuple[str, dict[str, str], float, int | None]:
    name_match = _METRIC_NAME_RE.match(line, pos)
    if name_match is None:
        raise _LineError("syntax", f"expected a metric name or a # comment, found {_show(line[pos:])}")
    name = name_match.group()
    pos = name_match.end()
    if pos < len(line) and line[pos] not in " \t{":
        token = _TOKEN_RE.match(line, name_match.start())
        bad = token.group() if token is not None else name
        raise _LineError(
            "invalid-metric-name",
            f"metric name {_show(bad.split('{')[0])} has characters outside [a-zA-Z0-9_:]",
            name,
        )
    pos = _skip_blanks(line, pos)
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        pos = _parse_labels(line, pos + 1, name, labels)
        pos = _skip_blanks(line, pos)
    value_match = _TOKEN_RE.match(line, pos)
    if value_match is None:
        raise _LineError("syntax", f'sample "{name}" has no value', name)
    value = _parse_go_float(value_match.group())
    if value is None:
        raise _LineError(
            "invalid-value",
            f'sample "{name}" has value {_show(value_match.group())}, which is not a float '
            "(like 1, -2.5e3, NaN, +Inf, -Inf)",
            name,
        )
    pos = _skip_blanks(line, value_match.end())
    timestamp: int | None = None
    ts_match = _TOKEN_RE.match(line, pos)
    if ts_match is not None:
        timestamp = _parse_timestamp(ts_match.group())
        if timestamp is None:
            raise _LineError(
                "invalid-timestamp",
                f'sample "{name}" has timestamp {_show(ts_match.group())}, not an int64 of milliseconds',
                name,
            )
        pos = _skip_blanks(line, ts_match.end())
        if pos < len(line):
            raise _LineError(
                "syntax", f'unexpected {_show(line[pos:])} after the timestamp of "{name}"', name
            )
    return name, labels, value, timestamp


def _parse_labels(line: str, pos: int, metric: str, labels: dict[str, str]) -> int:
    """Fill `labels` from the text after "{"; return the position after "}". A trailing comma is allowed."""
    while True:
        pos = _skip_blanks(line, pos)
        if pos >= len(line):
            raise _LineError("syntax", f'label set of "{metric}" is not closed with "}}"', metric)
        if line[pos] == "}":
            return pos + 1
        token = _LABEL_TOKEN_RE.match(line, pos)
        label = token.group() if token is not None else ""
        if not label:
            raise _LineError(
                "syntax", f'expected a label name in "{metric}", found {_show(line[pos:])}', metric
            )
        if _LABEL_NAME_RE.fullmatch(label) is None:
            raise _LineError(
                "invalid-label-name",
                f'label name {_show(label)} of "{metric}" is not valid ([a-zA-Z_][a-zA-Z0-9_]*)',
                metric,
            )
        pos = _skip_blanks(line, pos + len(label))
        if pos >= len(line) or line[pos] != "=":
            raise _LineError("syntax", f'expected "=" after label "{label}" of "{metric}"', metric)
        pos = _skip_blanks(line, pos + 1)
        if pos >= len(line) or line[pos] != '"':
            raise _LineError(
                "syntax", f'value of label "{label}" of "{metric}" must be in double quotes', metric
            )
        value, pos = _parse_label_value(line, pos + 1, metric, label)
        if label == "__name__":
            raise _LineError("invalid-label-name", f'label name "__name__" of "{metric}" is reserved', metric)
        if label in labels:
            raise _LineError(
                "duplicate-label", f'label "{label}" appears twice in one sample of "{metric}"', metric
            )
        labels[label] = value
        pos = _skip_blanks(line, pos)
        if pos < len(line) and line[pos] == ",":
            pos += 1
        elif pos >= len(line) or line[pos] != "}":
            raise _LineError("syntax", f'expected "," or "}}" after label "{label}" of "{metric}"', metric)


def _parse_label_value(line: str, pos: int, metric: str, label: str) -> tuple[str, int]:
    """Read an escaped label value after its opening quote; return it and the position after the close."""
    parts: list[str] = []
    while True:
        plain = _PLAIN_LABEL_VALUE_RE.match(line, pos)
        if plain is not None:
            parts.append(plain.group())
            pos = plain.end()
        if pos >= len(line) or (line[pos] == "\\" and pos + 1 >= len(line)):
            raise _LineError(
                "syntax", f'value of label "{label}" of "{metric}" has no closing double quote', metric
            )
        if line[pos] == '"':
            return "".join(parts), pos + 1
        escaped = line[pos + 1]
        if escaped not in _LABEL_ESCAPES:
            raise _LineError(
                "label-value-escape",
                f'value of label "{label}" of "{metric}" has escape {_show(line[pos : pos + 2])}; '
                'only \\\\, \\" and \\n are allowed',
                metric,
            )
        parts.append(_LABEL_ESCAPES[escaped])
        pos += 2


def _new_sample(name: str, labels: dict[str, str], value: float, timestamp: int | None, line: int) -> Sample:
    """Sample(name, labels, value, timestamp, line), built without the frozen dataclass __init__ and its
    five object.__setattr__ calls, which cost more than parsing the line; the result is equal (a selftest
    checks it against Sample's fields)."""
    sample: Sample = _object_new(Sample)
    attributes = sample.__dict__
    attributes["name"] = name
    attributes["labels"] = labels
    attributes["value"] = value
    attributes["timestamp_ms"] = timestamp
    attributes["line"] = line
    return sample


_object_new = object.__new__


def _unescape_label_match(match: re.Match[str]) -> str:
    return _LABEL_ESCAPES[match.group(1)]


def _unescape_help(raw: str, metric: str) -> str:
    parts: list[str] = []
    pos = 0
    while (backslash := raw.find("\\", pos)) != -1:
        parts.append(raw[pos:backslash])
        escaped = raw[backslash + 1 : backslash + 2]
        if escaped not in _HELP_ESCAPES:
            raise _LineError(
                "help-escape",
                f'HELP text of "{metric}" has escape {_show(raw[backslash : backslash + 2])}; '
                "only \\\\ and \\n are allowed",
                metric,
            )
        parts.append(_HELP_ESCAPES[escaped])
        pos = backslash + 2
    parts.append(raw[pos:])
    return "".join(parts)


def _parse_go_float(text: str) -> float | None:
    if _FLOAT_RE.fullmatch(text) is None:
        return None
    value = float(text)
    if math.isinf(value) and "n" not in text.lower():
        return None  # out of float64 range, e.g. 1e400: Go's ParseFloat rejects it
    return value


def _parse_timestamp(text: str) -> int | None:
    if _INT_RE.fullmatch(text) is None or len(text.lstrip("+-").lstrip("0")) > 19:
        return None  # longer than any int64; also keeps int() off strings too long for it to convert
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _claimed_names(name: str, type_: str) -> tuple[str, ...]:
    """Sample names other than `name` that a family declared with TYPE owns."""
    if type_ == "histogram":
        return (name + "_bucket", name + "_sum", name + "_count")
    if type_ == "summary":
        return (name + "_sum", name + "_count")
    if type_ == "counter" and not name.endswith("_total"):
        return (name + "_total", name + "_created")
    return ()


def _skip_blanks(line: str, pos: int) -> int:
    match = _BLANKS_RE.match(line, pos)
    return match.end() if match is not None else pos


def _label_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _format_labels(key: tuple[tuple[str, str], ...]) -> str:
    if not key:
        return ""
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") for _, v in key)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(key, escaped, strict=True)) + "}"


def _same_value(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _fmt_float(value: float) -> str:
    return "+Inf" if value == math.inf else repr(value)


def _show(text: str) -> str:
    """Quote a fragment of input for a message, shortened so garbage cannot flood it."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


# --- linting (mirrors client_golang prometheus/testutil/promlint as used by promtool 2.42) ---------------

# promlint's unit table: unit word -> the base unit to use instead (base units map to themselves).
_UNITS = {
    "amperes": "amperes",
    "bytes": "bytes",
    "celsius": "celsius",
    "grams": "grams",
    "joules": "joules",
    "kelvin": "kelvin",
    "meters": "meters",
    "metres": "metres",
    "seconds": "seconds",
    "volts": "volts",
    "minutes": "seconds",
    "hours": "seconds",
    "days": "seconds",
    "weeks": "seconds",
    "kelvins": "kelvin",
    "fahrenheit": "celsius",
    "rankine": "celsius",
    "inches": "meters",
    "yards": "meters",
    "miles": "meters",
    "bits": "bytes",
    "calories": "joules",
    "pounds": "grams",
    "ounces": "grams",
}
_UNIT_PREFIXES = (
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo",
    "kibi", "mega", "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
)  # fmt: skip
_UNIT_ABBREVIATIONS = ("s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d")
# promlint iterates client_model's MetricType names except UNTYPED; 2.42 includes GAUGE_HISTOGRAM.
_TYPE_WORDS = ("counter", "gauge", "histogram", "summary", "gauge_histogram")
_CAMEL_CASE_RE = re.compile(r"[a-z][A-Z]")


def _lint_family(fam: MetricFamily) -> Iterator[Problem]:
    name, type_, line = fam.name, fam.type, _family_line(fam)

    def problem(rule: str, message: str, at: int | None = line) -> Problem:
        return Problem(at, name, rule, message)

    if not fam.help:
        # promtool treats "# HELP x" with empty text like no HELP line at all.
        yield problem("help-missing", "no help text")

    unit = _non_base_unit(name)
    if unit is not None:
        yield problem("non-base-unit", f'use base unit "{unit[1]}" instead of "{unit[0]}"')

    has_total = name.endswith("_total")
    if type_ == "counter" and not has_total:
        yield problem("counter-suffix", 'counter metrics should have "_total" suffix')
    elif type_ not in ("counter", "untyped") and has_total:
        yield problem("non-counter-total", 'non-counter metrics should not have "_total" suffix')

    if type_ != "untyped":  # promlint exempts untyped metrics from the histogram/summary reservations
        if type_ != "histogram" and name.endswith("_bucket"):
            yield problem("reserved-suffix", 'non-histogram metrics should not have "_bucket" suffix')
        for suffix in ("_count", "_sum"):
            if type_ not in ("histogram", "summary") and name.endswith(suffix):
                yield problem(
                    "reserved-suffix",
                    f'non-histogram and non-summary metrics should not have "{suffix}" suffix',
                )
        if type_ in ("histogram", "summary"):
            # Not in promlint: a histogram "x_count" would expose "x_count_count", which reads as a bug.
            for suffix in ("_bucket", "_count", "_sum"):
                if name.endswith(suffix):
                    yield problem(
                        "reserved-suffix", f'{type_} metric names should not have "{suffix}" suffix'
                    )
        first_use = _first_label_lines(fam)
        if type_ != "histogram" and "le" in first_use:
            yield problem(
                "reserved-label", 'non-histogram metrics should not have "le" label', first_use["le"]
            )
        if type_ != "summary" and "quantile" in first_use:
            yield problem(
                "reserved-label",
                'non-summary metrics should not have "quantile" label',
                first_use["quantile"],
            )

    lowered = name.lower()
    for word in _TYPE_WORDS:
        if f"_{word}_" in lowered or lowered.endswith(f"_{word}"):
            yield problem("type-in-name", f"metric name should not include type '{word}'")

    if ":" in name:
        yield problem("colon-in-name", "metric names should not contain ':'")

    snake = _snake_case_message("metric", name)
    if snake is not None:
        yield problem("not-snake-case", snake)
    for label, label_line in _first_label_lines(fam).items():
        snake = _snake_case_message("label", label)
        if snake is not None:
            yield problem("not-snake-case", f'{snake} (label "{label}")', label_line)

    for abbreviation in _UNIT_ABBREVIATIONS:
        if f"_{abbreviation}_" in lowered or lowered.endswith(f"_{abbreviation}"):
            yield problem(
                "abbreviated-unit", f'metric names should not contain abbreviated units ("_{abbreviation}")'
            )


def _non_base_unit(name: str) -> tuple[str, str] | None:
    """The first word of `name` that is a known unit but not a base unit, with the base unit to use.

    promlint (2.42) stops at an arbitrary unit word because it ranges over a Go map; reporting any non-base
    unit word is the deterministic reading of that rule.
    """
    for word in name.split("_"):
        for prefix in ("", *_UNIT_PREFIXES):
            if word.startswith(prefix) and word[len(prefix) :] in _UNITS:
                base = _UNITS[word[len(prefix) :]]
                if word != base:
                    return word, base
    return None


def _snake_case_message(kind: str, name: str) -> str | None:
    if _CAMEL_CASE_RE.search(name):
        return f"{kind} names should be written in 'snake_case' not 'camelCase'"
    if any(c.isupper() for c in name):
        # promlint only catches a lower-to-upper change; any capital still breaks snake_case.
        return f"{kind} names should be written in lower-case 'snake_case'"
    return None


def _family_line(fam: MetricFamily) -> int | None:
    """The line a problem with the whole family points at: TYPE, else HELP, else its first sample."""
    if fam.type_line is not None:
        return fam.type_line
    if fam.help_line is not None:
        return fam.help_line
    return fam.samples[0].line if fam.samples else None


def _first_label_lines(fam: MetricFamily) -> dict[str, int]:
    first: dict[str, int] = {}
    for s in fam.samples:
        for label in s.labels:
            first.setdefault(label, s.line)
    return first
