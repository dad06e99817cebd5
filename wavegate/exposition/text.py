"""Parser for the Prometheus text exposition format 0.0.4, fed in chunks of bytes as they arrive.

Each chunk's complete lines go through one regular expression (the fast path, in C) that takes well-formed
sample lines; anything else is read by the careful line parser, which alone reports problems. Families keep
summaries, not samples, so a body of a million series is judged in bounded memory: per series only a 64-bit
hash of its name and labels is held, to find duplicates.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Callable
from itertools import pairwise

from wavegate.exposition.model import (
    TEXT,
    Exposition,
    MetricFamily,
    Problem,
    Sample,
    bare_sample_allowed,
    claimed_names,
    format_float,
    same_value,
    show,
)

TYPES = frozenset({"counter", "gauge", "histogram", "summary", "untyped"})

METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_BLANKS_RE = re.compile(r"[ \t]*")
TOKEN_RE = re.compile(r"[^ \t]+")
# A label name read up to the next delimiter, so a message can quote the whole bad name ("a.b", not "a").
_LABEL_TOKEN_RE = re.compile(r'[^ \t=",{}]*')
_PLAIN_LABEL_VALUE_RE = re.compile(r'[^"\\]*')
# Go's strconv.ParseFloat as the text parser accepts it: decimal, Inf/Infinity with optional sign, NaN
# without sign. Hex floats and "1_000" are rejected by promtool, so they are rejected here too.
FLOAT = r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN]"
_FLOAT_RE = re.compile(FLOAT)
_INT_RE = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
INF = math.inf

LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}

# The fast path: one expression over a block of whole lines. A well-formed sample line (name, optional label
# set, one space, value, optional one space and timestamp) fills the first four groups; every other line
# (comments, blank lines, blanks around tokens, anything broken) lands whole in the fifth, for the careful
# parser. Label values are kept escaped; a line matched here may still go to the careful parser (a value out
# of float64 range, a duplicate label name), which then reports it.
LABEL_VALUE = r'[^"\\\n]*+(?:\\[\\"n][^"\\\n]*+)*+'
LABEL_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*+="' + LABEL_VALUE + '"'
_ROW_RE = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*+)"
    rf"(?:\{{((?:{LABEL_PAIR}(?:,{LABEL_PAIR})*+,?)?)\}})?"
    rf" ({FLOAT})(?: ([+-]?[0-9]++))?\n"
    r"|([^\n]*+)\n"
)
# Removes the values from a label set's text, leaving its shape: 'a="1",b="x"' -> 'a,b'.
VALUES_RE = re.compile(r'="' + LABEL_VALUE + '"')
PAIR_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*+)="(' + LABEL_VALUE + ')"')
_LABEL_ESCAPE_RE = re.compile(r'\\([\\"n])')
_HELP_ESCAPES = {"\\": "\\", "n": "\n"}

_IGNORED = "promtool ignores a HELP or TYPE line without a name or type"
SPLIT_DEVIATION = ("the format requires all lines of a metric in one group; promtool's parser (Prometheus 2.42) "
                   "merges a split group")
HISTOGRAM_DEVIATION = ("the format's histogram rules (an le on each bucket, a +Inf bucket equal to _count, cumulative "
                       "counts, none negative), as the current reference parser checks; promtool 2.42 does not")
DUPLICATE_DEVIATION = "Prometheus rejects the second sample of a series at ingestion; promtool does not check"


class LineError(Exception):
    """Aborts parsing of one line; the parser records it as a Problem and skips the line."""

    def __init__(self, rule: str, message: str, metric: str | None = None, deviation: str | None = None) -> None:
        super().__init__(message)
        self.rule, self.message, self.metric, self.deviation = rule, message, metric, deviation


class Group:
    """The samples of one histogram series group (its labels without "le")."""

    __slots__ = ("first_line", "les", "values", "lines", "count", "count_line", "sum_line")

    def __init__(self, line: int) -> None:
        self.first_line = line
        self.les = array("d")
        self.values = array("d")
        self.lines = array("q")
        self.count: float | None = None
        self.count_line = 0
        self.sum_line = 0


class _ShapeUse:
    """How a family's samples with one label shape are read: whether the label text as written is the
    family's canonical spelling of that label set (so it can key duplicates and histogram groups as is)."""

    __slots__ = ("first_line", "names", "canonical", "bucket_ready", "order", "base_order")

    def __init__(self, first_line: int, names: tuple[str, ...], canonical: bool, bucket_ready: bool,
                 order: tuple[str, ...], base_order: tuple[str, ...]) -> None:
        self.first_line, self.names, self.canonical = first_line, names, canonical
        self.bucket_ready, self.order, self.base_order = bucket_ready, order, base_order


class Family:
    """A family while it is being read."""

    __slots__ = ("name", "type", "help", "type_line", "help_line", "unit", "unit_line", "count", "seen", "shapes",
                 "orders", "groups", "sample_names", "first_line", "samples", "started", "bucket_name",
                 "count_name", "sum_name", "bare_allowed", "value_rule", "quantiles", "last_group", "done_groups",
                 "stamps")

    def __init__(self, name: str, default_type: str) -> None:
        self.name = name
        self.type = default_type
        self.help: str | None = None
        self.type_line: int | None = None
        self.help_line: int | None = None
        self.unit: str | None = None
        self.unit_line: int | None = None
        self.count = 0
        self.seen: set[int] = set()
        self.shapes: dict[str, _ShapeUse] = {}
        self.orders: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.groups: dict[str, Group] | None = None
        self.sample_names: set[str] = set()
        self.first_line: int | None = None
        self.samples: list[Sample] = []
        self.started = False
        self.bucket_name = self.count_name = self.sum_name = ""
        self.quantiles: dict[str, float] = {}  # summary: the last quantile of each label set
        # OpenMetrics: the label set being read and those finished (a metric's samples are contiguous), and
        # the last timestamp of each timestamped series
        self.last_group: str | None = None
        self.done_groups: set[int] = set()
        self.stamps: dict[int, float] = {}
        self.bare_allowed = True
        # an extra check of each sample (OpenMetrics: counter totals not negative, info values 1, ...)
        self.value_rule: Callable[[Family, str, float, tuple[str, ...], int], None] | None = None


class TextParser:
    """Feed bytes with feed(), then close() for the Exposition. Never raises on bad content."""

    format = TEXT
    default_type = "untyped"
    types = TYPES
    _row_re = _ROW_RE
    contiguous_metrics = False  # OpenMetrics: the samples of one label set are never interleaved with others

    def __init__(self, *, keep_samples: bool = False) -> None:
        self.keep_samples = keep_samples
        self.families: dict[str, Family] = {}
        self.owner: dict[str, Family] = {}  # sample names a TYPE line gave to a family (x_bucket -> x)
        self.problems: list[Problem] = []
        self.lines = 0
        self._pending: list[bytes] = []
        self._current: Family | None = None
        self._last_name = ""
        self._last_family: Family | None = None
        self._sampled: set[str] = set()  # sample names seen so far
        self._shape_names: dict[str, tuple[str, ...] | None] = {}
        self._le_values: dict[str, float | None] = {}
        self._crlf_reported: set[bool] = set()  # CRLF reported on a comment line (True), on a sample (False)

    # - input --------------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Read the complete lines of `data` (with what earlier chunks left over); keep the rest."""
        cut = data.rfind(b"\n") + 1
        if not cut:
            self._pending.append(data)
            return
        block = b"".join((*self._pending, data[:cut])) if self._pending else data[:cut]
        self._pending = [data[cut:]] if cut < len(data) else []
        self._read(self._decode(block))

    def close(self) -> Exposition:
        rest = b"".join(self._pending)
        self._pending = []
        if rest:
            self._unterminated(rest)
        self._finish()
        return self._result()

    def _finish(self) -> None:
        """Checks of the whole body, once it is read (OpenMetrics: it ended with # EOF)."""

    def _unterminated(self, rest: bytes) -> None:
        self.problem(self.lines + 1, None, "syntax", "the last line does not end with a newline; the text is truncated",
                     "promtool ignores blanks after the last newline" if not rest.strip(b" \t") else None)
        self._read(self._decode(rest + b"\n"))

    def _decode(self, block: bytes) -> str:
        """UTF-8, strictly: the format is UTF-8 by definition, whatever a Content-Type says. Each line with
        bytes that are not UTF-8 is a problem; it is read with those bytes replaced."""
        try:
            return block.decode("utf-8")
        except UnicodeDecodeError:
            pass
        parts, pos = [], 0
        while True:
            try:
                parts.append(block[pos:].decode("utf-8"))
                return "".join(parts)
            except UnicodeDecodeError as exc:
                bad = pos + exc.start
                start = block.rfind(b"\n", 0, bad) + 1
                end = block.index(b"\n", bad) + 1
                parts.append(block[pos:start].decode("utf-8"))
                parts.append(block[start:end].decode("utf-8", "replace"))
                line = self.lines + block.count(b"\n", 0, start) + 1
                comment = block[start:end].lstrip(b" \t").startswith(b"#")
                self.problem(line, None, "invalid-utf8",
                             f"bytes that are not UTF-8 at column {bad - start + 1} ({block[bad:bad + 4]!r}); "
                             "the format is UTF-8", "promtool checks UTF-8 in label values only" if comment else None)
                pos = end

    def _read(self, text: str) -> None:
        lineno = self.lines
        record, careful = self._record, self._careful
        shape_of = VALUES_RE.sub
        for name, labels, value, timestamp, other in self._row_re.findall(text):
            lineno += 1
            if name:
                number = float(value)
                if not ((number == INF or number == -INF) and "n" not in value and "N" not in value) and \
                        len(timestamp) < 19:
                    try:
                        if record(name, labels, shape_of("", labels) if labels else "", number, timestamp, lineno):
                            continue
                    except LineError as err:
                        self.problem(lineno, err.metric, err.rule, err.message, err.deviation)
                        continue
                other = f"{name}{{{labels}}} {value} {timestamp}".rstrip()
            try:
                careful(other, lineno)
            except LineError as err:
                self.problem(lineno, err.metric, err.rule, err.message, err.deviation)
        self.lines = lineno

    def problem(self, line: int | None, metric: str | None, rule: str, message: str,
                deviation: str | None = None) -> None:
        # A deviation is from promtool, which reads the text format only.
        self.problems.append(Problem(line, metric, rule, message, deviation if self.format == TEXT else None))

    # - the careful line parser --------------------------------------------------------------------------

    def _careful(self, line: str, lineno: int) -> None:
        if line.endswith("\r"):
            line = line[:-1]
            # promtool rejects a "\r" after a sample, but keeps one at the end of a comment or HELP text.
            comment = line.lstrip(" \t").startswith("#")
            if comment not in self._crlf_reported:
                self._crlf_reported.add(comment)
                self.problem(lineno, None, "syntax", 'lines end with "\\r\\n"; the text format allows "\\n" only',
                             "promtool keeps the \\r as text at the end of a comment" if comment else None)
        start = skip_blanks(line, 0)
        if start == len(line):
            return
        if line[start] == "#":
            self._comment(line, start + 1, lineno)
            return
        try:
            name, labels, value, timestamp = parse_sample_line(line, start)
        except LineError as err:
            if err.rule != "invalid-metric-name" or err.deviation is None or err.metric is None:
                raise
            # "a-1 1": reported, and read as promtool reads it (metric a, value -1, timestamp 1).
            self.problem(lineno, err.metric, err.rule, err.message, err.deviation)
            end = METRIC_NAME_RE.match(line, start).end()  # type: ignore[union-attr]  # it matched before
            name, labels, value, timestamp = parse_sample_line(f"{err.metric} {line[end:]}", 0)
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
        self._record(name, text, ",".join(labels), value, "" if timestamp is None else str(timestamp), lineno)

    def _comment(self, line: str, pos: int, lineno: int) -> None:
        pos = skip_blanks(line, pos)
        keyword = TOKEN_RE.match(line, pos)
        if keyword is None or keyword.group() not in ("HELP", "TYPE"):
            return  # an ordinary comment
        pos = skip_blanks(line, keyword.end())
        name_match = TOKEN_RE.match(line, pos)
        if name_match is None:
            raise LineError("syntax", f"{keyword.group()} line without a metric name", None, _IGNORED)
        name = name_match.group()
        if METRIC_NAME_RE.fullmatch(name) is None:
            raise LineError("invalid-metric-name", f"{keyword.group()} line names {show(name)}, which is not a "
                            "valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
        rest = line[skip_blanks(line, name_match.end()):]
        if keyword.group() == "HELP":
            self.help(name, unescape_help(rest, name, _HELP_ESCAPES), lineno)
        elif rest != rest.rstrip(" \t") and rest.strip(" \t"):
            raise LineError("invalid-type", f'TYPE line for "{name}" has a blank after the type; Prometheus\' text '
                            f"parser (promtool) reads it as part of the type {show(rest)}", name)
        else:
            self.type(name, rest, lineno)

    def help(self, name: str, text: str, lineno: int) -> None:
        owner = self.owner.get(name)
        if owner is not None:
            # "# HELP x_count" beside histogram x: reported, and applied to x as promtool applies it.
            self.problem(lineno, name, "name-collision", f'"{name}" is already a sample name of {owner.type} '
                         f'"{owner.name}"; rename one of them', "promtool takes it as the HELP of the metric that "
                         "owns the name")
            name = owner.name
        family = self._declare(name, lineno)
        sampled = [n for n in (name, *claimed_names(name, family.type, self.format)) if n in self._sampled]
        if sampled:
            self.problem(lineno, name, "help-after-samples", f'HELP line for "{name}" comes after its sample '
                         f'"{sampled[0]}"; a metric\'s HELP and TYPE lines come first in its group',
                         "the format's grouping rule; promtool accepts a late HELP")
        if family.help_line is not None:
            raise LineError("duplicate-help", f'second HELP line for "{name}" (first on line {family.help_line})',
                            name, "promtool ignores an empty HELP line" if not family.help else None)
        family.help, family.help_line = text, lineno

    def type(self, name: str, raw: str, lineno: int) -> None:
        if not raw.strip(" \t"):
            raise LineError("syntax", f'TYPE line for "{name}" has no type', name, _IGNORED)
        type_ = raw.lower()
        if type_ not in self.types:
            raise LineError("invalid-type", f"unknown metric type {show(raw)} for \"{name}\"; use one of "
                            + ", ".join(sorted(self.types)), name)
        if raw != type_:
            # promtool accepts any case, but Prometheus's scraper does not, so report it and go on.
            self.problem(lineno, name, "invalid-type", f'metric type {show(raw)} must be lower case "{type_}"',
                         "Prometheus' scraper reads only lower-case types; promtool accepts any case")
        family = self._declare(name, lineno)
        if family.type_line is not None:
            raise LineError("duplicate-type", f'second TYPE line for "{name}" (first on line {family.type_line})',
                            name)
        claimed = claimed_names(name, type_, self.format)
        early = [n for n in (name, *claimed) if n in self._sampled]
        if name in early:
            # Its earlier samples were already filed as untyped; a late TYPE cannot re-file them.
            raise LineError("type-after-samples",
                            f'TYPE line for "{name}" comes after its sample "{name}"; move it before the samples', name)
        if early:
            # Samples such as x_bucket came before "# TYPE x histogram": they stay a metric of their own, and the
            # type applies from here on (as promtool reads it).
            self.problem(lineno, name, "type-after-samples", f'TYPE line for "{name}" comes after its sample '
                         f'"{early[0]}"; move it before the samples', "the format: a TYPE line comes before the "
                         "metric's first sample; promtool files the earlier samples as a metric of their own")
        clash = [n for n in claimed if n in self.families and n not in early]
        if clash:
            raise LineError("name-collision",
                            f'{type_} "{name}" would own samples named "{clash[0]}", but that is a metric of its own',
                            name)
        family.type, family.type_line = type_, lineno
        self._typed(family)
        self._last_name = ""  # a sample name cached for a family may belong to this one from now on
        for sample_name in claimed:
            self.owner[sample_name] = family

    def _typed(self, family: Family) -> None:
        """Set what a family's type implies for reading its samples."""
        family.bare_allowed = bare_sample_allowed(family.type, self.format)
        if family.type in ("histogram", "gaugehistogram"):
            prefix = "_g" if family.type == "gaugehistogram" else "_"
            family.bucket_name = family.name + "_bucket"
            family.count_name, family.sum_name = family.name + prefix + "count", family.name + prefix + "sum"
            family.groups = {}

    def _declare(self, name: str, lineno: int, deviation: str | None = None) -> Family:
        if name in self.owner:
            owner = self.owner[name]
            raise LineError("name-collision",
                            f'"{name}" is already a sample name of {owner.type} "{owner.name}"; rename one of them',
                            name, deviation)
        family = self.families.get(name)
        if family is None:
            family = self.families[name] = Family(name, self.default_type)
        return family

    # - samples ------------------------------------------------------------------------------------------

    def _record(self, name: str, labels: str, shape: str, value: float, timestamp: str, lineno: int) -> bool:
        """File one sample whose syntax is valid. `labels` is its label text, values escaped; `shape` the
        names in written order. False (having changed nothing) when the careful parser must read the line."""
        if shape:
            names = self._shape_names.get(shape, ())
            if names == ():
                names = self._shape_names[shape] = _shape_names(shape)
            if names is None:
                return False  # a duplicate or reserved label name: the careful parser says which
        family = self._last_family if name == self._last_name else self._enter(name, lineno)
        assert family is not None
        use = None
        if shape:
            use = family.shapes.get(shape)
            if use is None:
                use = self._new_shape(family, shape, lineno)
            key = labels if use.canonical else _reorder(labels, use.order)
        else:
            key = ""
            if "" not in family.shapes:
                family.shapes[""] = _ShapeUse(lineno, (), True, False, (), ())
        seen = family.seen
        digest = hash((name, key)) if not timestamp or self.format == TEXT else self._stamped(family, name, key,
                                                                                             timestamp)
        if digest in seen:
            raise LineError("duplicate-series", f"duplicate series {name}{{{key}}}" if key else
                            f"duplicate series {name}", family.name, DUPLICATE_DEVIATION)
        group = key
        if family.groups is not None:
            group = self._histogram_sample(family, name, labels, key, use, value, lineno)
        elif not family.bare_allowed and name == family.name:
            raise LineError("unexpected-sample", f'{family.type} "{family.name}" has a sample without the suffix '
                            f"its type requires ({', '.join(claimed_names(family.name, family.type, self.format))})",
                            family.name)
        elif family.type == "summary":
            if name == family.name or "quantile" in (use.names if use is not None else ()):
                group = self._quantile(family, name, labels, lineno)
            elif self.contiguous_metrics:
                group = _render(dict(PAIR_RE.findall(labels)), ())  # as _quantile keys its label set
        if self.contiguous_metrics and group != family.last_group:
            self._next_group(family, group, lineno)
        if family.value_rule is not None:
            family.value_rule(family, name, value, use.names if use is not None else (), lineno)
        seen.add(digest)
        family.count += 1
        if self.keep_samples:
            pairs = {k: _unescape_labels(v) for k, v in PAIR_RE.findall(labels)}
            family.samples.append(Sample(name, pairs, value, self.timestamp(timestamp), lineno))
        return True

    def timestamp(self, text: str) -> int | None:
        return int(text) if text else None

    def _stamped(self, family: Family, name: str, key: str, timestamp: str) -> int:
        """OpenMetrics: a series may have several points, each with its own timestamp (never decreasing)."""
        raise NotImplementedError

    def _next_group(self, family: Family, group: str, lineno: int) -> None:
        """OpenMetrics: a label set's samples are one block; `group` starts here."""
        raise NotImplementedError

    def _quantile(self, family: Family, name: str, labels: str, lineno: int) -> str:
        """Check a summary's quantile sample (numeric, in increasing order per label set); its group key."""
        pairs = dict(PAIR_RE.findall(labels))
        text = pairs.pop("quantile", None)
        quantile = parse_go_float(_unescape_labels(text)) if text is not None else None
        if name != family.name:
            raise LineError("reserved-label", f'"{name}" of summary "{family.name}" carries a quantile label; only '
                            "its quantile samples may", family.name)
        if quantile is None or quantile != quantile:
            raise LineError("invalid-quantile", f'sample of summary "{family.name}" needs a numeric "quantile" '
                            f"label, got {show(text if text is not None else '(none)')}", family.name,
                            "promtool drops such a sample without a word")
        self._check_quantile(family, quantile, lineno)
        group = _render(pairs, ())
        last = family.quantiles.get(group)
        if last is not None and quantile <= last:
            self.problem(lineno, family.name, "quantile-order", f'summary "{family.name}": quantile {quantile!r} '
                         f"comes after {last!r}; quantiles are written in increasing order",
                         "the format's sorting rule; promtool does not check the order")
        family.quantiles[group] = quantile
        return group

    def _check_quantile(self, family: Family, quantile: float, lineno: int) -> None:
        """Checks of a quantile's value beyond being a number (OpenMetrics: between 0 and 1)."""

    def _enter(self, name: str, lineno: int) -> Family:
        """The family a sample name belongs to; notes a family that continues after others began."""
        family = self.families.get(name) or self.owner.get(name)
        if family is None:
            family = self.families[name] = Family(name, self.default_type)
            self._typed(family)
        if family is not self._current:
            if family.started:
                self.problem(lineno, family.name, "family-split",
                             f'sample "{name}" continues metric "{family.name}" after other metrics began; keep all '
                             "samples of a metric together", SPLIT_DEVIATION)
            family.started = True
            self._current = family
            if family.first_line is None:
                family.first_line = lineno
        family.sample_names.add(name)
        self._sampled.add(name)
        self._last_name, self._last_family = name, family
        return family

    @staticmethod
    def _new_shape(family: Family, shape: str, lineno: int) -> _ShapeUse:
        names = tuple(n for n in shape.split(",") if n)
        order = family.orders.setdefault(tuple(sorted(names)), names)
        le_last = bool(names) and names[-1] == "le"
        base = names[:-1] if le_last else tuple(n for n in names if n != "le")
        base_order = family.orders.setdefault(tuple(sorted(base)), base)
        canonical = not shape.endswith(",") and order == names
        use = family.shapes[shape] = _ShapeUse(lineno, names, canonical, canonical and le_last and base_order == base,
                                               order, base_order)
        return use

    def _histogram_sample(self, family: Family, name: str, labels: str, key: str, use: _ShapeUse | None,
                          value: float, lineno: int) -> str:
        """File a histogram's sample in its label set's group; that group's key."""
        groups = family.groups
        assert groups is not None
        if name == family.bucket_name:
            if use is not None and use.bucket_ready:
                cut = labels.rfind(',le="')
                group, le_text = (labels[:cut], labels[cut + 5:-1]) if cut >= 0 else ("", labels[4:-1])
            else:
                pairs = dict(PAIR_RE.findall(labels))
                le_text = pairs.pop("le", None)
                group = _render(pairs, use.base_order if use is not None else ())
            le = self._le_values.get(le_text) if le_text is not None else None
            if le is None and le_text is not None and le_text not in self._le_values:
                le = self._le_values[le_text] = parse_go_float(_unescape_labels(le_text))
            if le is None or le != le:
                raise LineError("invalid-le", f'bucket of {family.type} "{family.name}" needs an "le" label holding '
                                f"a number or \"+Inf\", got {show(le_text if le_text is not None else '(none)')}",
                                family.name, "promtool drops such a bucket without a word")
            entry = groups.get(group)
            if entry is None:
                entry = groups[group] = Group(lineno)
            entry.les.append(le)
            entry.values.append(value)
            entry.lines.append(lineno)
            return group
        if name == family.count_name or name == family.sum_name:
            entry = groups.get(key)
            if entry is None:
                entry = groups[key] = Group(lineno)
            if name == family.count_name:
                entry.count, entry.count_line = value, lineno
            else:
                entry.sum_line = lineno
        elif name == family.name and not family.bare_allowed:
            raise LineError("unexpected-sample", f'{family.type} "{family.name}" has a sample without a _bucket, '
                            "_sum or _count suffix", family.name, HISTOGRAM_DEVIATION)
        return key

    # - the result ---------------------------------------------------------------------------------------

    def _result(self) -> Exposition:
        families = {}
        for family in self.families.values():
            bounds: set[float] = set()
            if family.groups is not None:
                self._check_histogram(family, bounds)
            families[family.name] = self._summary(family, bounds)
        # Histogram checks run last, so order by line to read like the text; sorted() is stable.
        problems = sorted(self.problems, key=lambda p: p.line if p.line is not None else 0)
        return Exposition(families=families, problems=tuple(problems), format=self.format, lines=self.lines)

    @staticmethod
    def _summary(family: Family, bounds: set[float]) -> MetricFamily:
        label_lines: dict[str, int] = {}
        label_sets: dict[tuple[str, ...], int] = {}
        for use in family.shapes.values():
            for name in use.names:
                if label_lines.get(name, use.first_line + 1) > use.first_line:
                    label_lines[name] = use.first_line
            names = tuple(sorted(use.names))
            if label_sets.get(names, use.first_line + 1) > use.first_line:
                label_sets[names] = use.first_line
        return MetricFamily(
            name=family.name, type=family.type, help=family.help, type_line=family.type_line,
            help_line=family.help_line, sample_count=family.count, series=len(family.seen),
            first_line=family.first_line, sample_names=frozenset(family.sample_names),
            label_lines=dict(sorted(label_lines.items(), key=lambda item: item[1])), label_sets=label_sets,
            buckets=tuple(sorted(b for b in bounds if math.isfinite(b))), unit=family.unit,
            samples=tuple(family.samples),
        )

    def _check_histogram(self, family: Family, bounds: set[float]) -> None:
        name = family.name
        assert family.groups is not None
        for key, group in family.groups.items():
            bounds.update(group.les)
            where = f'{family.type} "{name}"' + (f" with labels {{{key}}}" if key else "")
            for value, line in zip(group.values, group.lines, strict=True):
                if value < 0:
                    self.problem(line, name, "negative-bucket", f"{where} has a bucket counting {value!r}; "
                                 "bucket counts cannot be negative", HISTOGRAM_DEVIATION)
                    break
            if group.count is not None and group.count < 0:
                self.problem(group.count_line, name, "negative-bucket",
                             f"{where} has _count {group.count!r}; counts cannot be negative", HISTOGRAM_DEVIATION)
            inf = [value for le, value in zip(group.les, group.values, strict=True) if le == INF]
            if not inf:
                self.problem(group.first_line, name, "histogram-no-inf", f'{where} has no le="+Inf" bucket',
                             HISTOGRAM_DEVIATION)
            elif group.count is not None and not same_value(group.count, inf[0]):
                self.problem(group.count_line, name, "histogram-count-mismatch",
                             f'{where}: _count is {group.count!r} but the le="+Inf" bucket is {inf[0]!r}; they must '
                             "be equal", HISTOGRAM_DEVIATION)
            self._check_order(family, where, group)

    def _check_order(self, family: Family, where: str, group: Group) -> None:
        for (lo_le, _), (hi_le, hi_line) in pairwise(zip(group.les, group.lines, strict=True)):
            if hi_le <= lo_le:
                self.problem(hi_line, family.name, "bucket-order", f"{where}: bucket le={format_float(hi_le)} comes "
                             f"after le={format_float(lo_le)}; buckets are written in increasing order of le",
                             "the format's sorting rule; promtool does not check the order")
                break
        ordered = sorted(zip(group.les, group.values, group.lines, strict=True))
        for (lo_le, lo_value, _), (hi_le, hi_value, hi_line) in pairwise(ordered):
            if hi_value < lo_value:
                self.problem(hi_line, family.name, "inconsistent-bucket",
                             f"{where}: bucket le={format_float(hi_le)} counts {hi_value!r}, fewer than {lo_value!r} "
                             f"in bucket le={format_float(lo_le)}; bucket counts must not decrease",
                             HISTOGRAM_DEVIATION)
                return


# --- line syntax, shared with the OpenMetrics parser --------------------------------------------------------


def parse_sample_line(line: str, pos: int) -> tuple[str, dict[str, str], float, int | None]:
    name_match = METRIC_NAME_RE.match(line, pos)
    if name_match is None:
        raise LineError("syntax", f"expected a metric name or a # comment, found {show(line[pos:])}")
    name = name_match.group()
    pos = name_match.end()
    if pos < len(line) and line[pos] not in " \t{":
        token = TOKEN_RE.match(line, name_match.start())
        bad = token.group() if token is not None else name
        raise LineError("invalid-metric-name",
                        f"metric name {show(bad.split('{')[0])} has characters outside [a-zA-Z0-9_:]", name,
                        _read_as_value(line, name, pos))
    pos = skip_blanks(line, pos)
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        pos = parse_labels(line, pos + 1, name, labels)
        pos = skip_blanks(line, pos)
    value_match = TOKEN_RE.match(line, pos)
    if value_match is None:
        raise LineError("syntax", f'sample "{name}" has no value', name)
    value = parse_go_float(value_match.group())
    if value is None:
        raise LineError("invalid-value", f'sample "{name}" has value {show(value_match.group())}, which is not a '
                        "float (like 1, -2.5e3, NaN, +Inf, -Inf)", name)
    pos = skip_blanks(line, value_match.end())
    if value_match.end() < pos == len(line):
        raise LineError("syntax", f'blank after the value of "{name}": Prometheus\' text parser (promtool) then '
                        "expects a timestamp", name)
    timestamp: int | None = None
    ts_match = TOKEN_RE.match(line, pos)
    if ts_match is not None:
        timestamp = _parse_timestamp(ts_match.group())
        if timestamp is None:
            raise LineError("invalid-timestamp", f'sample "{name}" has timestamp {show(ts_match.group())}, not an '
                            "int64 of milliseconds", name)
        if ts_match.end() < len(line):
            raise LineError("syntax", f'unexpected {show(line[ts_match.end():])} after the timestamp of "{name}"',
                            name)
    return name, labels, value, timestamp


def _read_as_value(line: str, name: str, pos: int) -> str | None:
    """promtool ends a metric name at the first character outside the name's set, so "a-1 1" is metric "a"
    with value -1 and timestamp 1: say so when the line reads that way."""
    try:
        parse_sample_line(f"{name} {line[pos:]}", 0)
    except LineError:
        return None
    return f"promtool reads it as metric {show(name)} followed by a value"


def parse_labels(line: str, pos: int, metric: str, labels: dict[str, str]) -> int:
    """Fill `labels` from the text after "{"; return the position after "}". A trailing comma is allowed."""
    while True:
        pos = skip_blanks(line, pos)
        if pos >= len(line):
            raise LineError("syntax", f'label set of "{metric}" is not closed with "}}"', metric)
        if line[pos] == "}":
            return pos + 1
        token = _LABEL_TOKEN_RE.match(line, pos)
        label = token.group() if token is not None else ""
        if not label:
            raise LineError("syntax", f'expected a label name in "{metric}", found {show(line[pos:])}', metric)
        if LABEL_NAME_RE.fullmatch(label) is None:
            raise LineError("invalid-label-name",
                            f'label name {show(label)} of "{metric}" is not valid ([a-zA-Z_][a-zA-Z0-9_]*)', metric)
        pos = skip_blanks(line, pos + len(label))
        if pos >= len(line) or line[pos] != "=":
            raise LineError("syntax", f'expected "=" after label "{label}" of "{metric}"', metric)
        pos = skip_blanks(line, pos + 1)
        if pos >= len(line) or line[pos] != '"':
            raise LineError("syntax", f'value of label "{label}" of "{metric}" must be in double quotes', metric)
        value, pos = _parse_label_value(line, pos + 1, metric, label)
        if label == "__name__":
            raise LineError("invalid-label-name", f'label name "__name__" of "{metric}" is reserved', metric)
        if label in labels:
            raise LineError("duplicate-label", f'label "{label}" appears twice in one sample of "{metric}"', metric,
                            "promtool keeps the last le or quantile of a bucket or quantile sample"
                            if label in ("le", "quantile") else None)
        labels[label] = value
        pos = skip_blanks(line, pos)
        if pos < len(line) and line[pos] == ",":
            pos += 1
        elif pos >= len(line) or line[pos] != "}":
            raise LineError("syntax", f'expected "," or "}}" after label "{label}" of "{metric}"', metric)


def _parse_label_value(line: str, pos: int, metric: str, label: str) -> tuple[str, int]:
    """Read an escaped label value after its opening quote; return it and the position after the close."""
    parts: list[str] = []
    while True:
        plain = _PLAIN_LABEL_VALUE_RE.match(line, pos)
        if plain is not None:
            parts.append(plain.group())
            pos = plain.end()
        if pos >= len(line) or (line[pos] == "\\" and pos + 1 >= len(line)):
            raise LineError("syntax", f'value of label "{label}" of "{metric}" has no closing double quote', metric)
        if line[pos] == '"':
            return "".join(parts), pos + 1
        escaped = line[pos + 1]
        if escaped not in LABEL_ESCAPES:
            raise LineError("label-value-escape",
                            f'value of label "{label}" of "{metric}" has escape {show(line[pos:pos + 2])}; only \\\\, '
                            '\\" and \\n are allowed', metric)
        parts.append(LABEL_ESCAPES[escaped])
        pos += 2


def unescape_help(raw: str, metric: str, escapes: dict[str, str]) -> str:
    parts: list[str] = []
    pos = 0
    while (backslash := raw.find("\\", pos)) != -1:
        parts.append(raw[pos:backslash])
        escaped = raw[backslash + 1:backslash + 2]
        if escaped not in escapes:
            allowed = " and ".join("\\" + e for e in escapes).replace("\\\n", "\\n")
            raise LineError("help-escape", f'HELP text of "{metric}" has escape {show(raw[backslash:backslash + 2])}; '
                            f"only {allowed} are allowed", metric)
        parts.append(escapes[escaped])
        pos = backslash + 2
    parts.append(raw[pos:])
    return "".join(parts)


def parse_go_float(text: str) -> float | None:
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


def skip_blanks(line: str, pos: int) -> int:
    match = _BLANKS_RE.match(line, pos)
    return match.end() if match is not None else pos


def _shape_names(shape: str) -> tuple[str, ...] | None:
    """The label names of a shape, or None when one repeats or is reserved (the careful parser reports it)."""
    names = tuple(n for n in shape.split(",") if n)
    return None if len(set(names)) != len(names) or "__name__" in names else names


def _reorder(labels: str, order: tuple[str, ...]) -> str:
    """A label text rewritten in the family's first-seen order of the same names (values stay escaped)."""
    return _render(dict(PAIR_RE.findall(labels)), order)


def _render(pairs: dict[str, str], order: tuple[str, ...]) -> str:
    names = order if set(order) == set(pairs) else tuple(sorted(pairs))
    return ",".join(f'{name}="{pairs[name]}"' for name in names)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unescape_labels(text: str) -> str:
    return _LABEL_ESCAPE_RE.sub(lambda m: LABEL_ESCAPES[m.group(1)], text) if "\\" in text else text
