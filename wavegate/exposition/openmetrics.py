"""Parser for OpenMetrics 1.0 text (`application/openmetrics-text`): the text parser's machinery with the
OpenMetrics rules — `# EOF`, no blank lines or stray comments, exactly one space between tokens, UNIT, the
suffixes each type owns (`_total`, `_created`, `_info`, `_gcount` ...), exemplars, timestamps in seconds,
metadata before samples and families never interleaved."""

from __future__ import annotations

import math
import re

from wavegate.exposition.model import OPENMETRICS, show
from wavegate.exposition.text import (
    FLOAT,
    LABEL_PAIR,
    METRIC_NAME_RE,
    VALUES_RE,
    Family,
    LineError,
    TextParser,
    parse_go_float,
    parse_sample_line,
)

TYPES = frozenset({"counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset", "unknown"})

_REAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
# ABNF: escaped-char = normal-char / BS ("\\" / "n" / DQUOTE) / BS normal-char: an escape OpenMetrics does not
# define ("\q") is allowed (it SHOULD NOT be used) and kept as written.
_OM_VALUE = r'[^"\\\n]*+(?:\\[^\n][^"\\\n]*+)*+'
_OM_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*+="' + _OM_VALUE + '"'
_OM_PAIR_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*+)="(' + _OM_VALUE + ')"')
# Label names starting with "__" are reserved in OpenMetrics: such a line goes to the careful parser.
_OM_PAIR = "(?!__)" + LABEL_PAIR
_LABELS = rf"\{{((?:{_OM_PAIR}(?:,{_OM_PAIR})*+)?)\}}"
_ROW_RE = re.compile(
    rf"([a-zA-Z_:][a-zA-Z0-9_:]*+)(?:{_LABELS})? ({FLOAT})(?: ({_REAL}))?\n"
    r"|([^\n]*+)\n"
)
_SAMPLE_RE = re.compile(
    rf"([a-zA-Z_:][a-zA-Z0-9_:]*+)(?:\{{((?:{_OM_LABEL}(?:,{_OM_LABEL})*+)?)\}})? (\S+)(?: ([^ #]\S*))?"
    r"(?: # (.*))?"
)
_EXEMPLAR_RE = re.compile(rf"\{{((?:{_OM_LABEL}(?:,{_OM_LABEL})*+)?)\}} ({FLOAT})(?: ({_REAL}))?")
_META_RE = re.compile(r"# (HELP|TYPE|UNIT) ([^ ]*)(?: (.*))?")
_HELP_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
_EXEMPLAR_SAMPLES = {"counter": ("_total",), "histogram": ("_bucket",), "gaugehistogram": ("_bucket",)}
_NO_UNIT = ("info", "stateset")
SPEC = "OpenMetrics 1.0"


class OpenMetricsParser(TextParser):
    format = OPENMETRICS
    default_type = "unknown"
    types = TYPES
    _row_re = _ROW_RE
    contiguous_metrics = True

    def __init__(self, *, keep_samples: bool = False) -> None:
        super().__init__(keep_samples=keep_samples)
        self._eof_line: int | None = None
        self._after_eof_reported = False

    def _unterminated(self, rest: bytes) -> None:
        if rest == b"# EOF":  # the newline after # EOF is optional
            self._read(self._decode(rest + b"\n"))
        else:
            super()._unterminated(rest)

    def _finish(self) -> None:
        if self._eof_line is None:
            self.problem(self.lines or None, None, "missing-eof", 'the body does not end with "# EOF"; an '
                         "OpenMetrics body must (was it cut short?)")

    def _read(self, text: str) -> None:
        if self._eof_line is not None:
            # Nothing may follow # EOF: each line after it is counted, the first reported, none filed.
            for _ in range(text.count("\n")):
                self.lines += 1
                self._after_eof(self.lines)
            return
        # Lines after "# EOF" must not reach the fast path: read up to it, then the rest as trailing text.
        end = 6 if text.startswith("# EOF\n") else text.find("\n# EOF\n") + 7
        if end > 6 or text.startswith("# EOF\n"):
            super()._read(text[:end])
            self._read(text[end:])
        else:
            super()._read(text)

    def _after_eof(self, lineno: int) -> None:
        if not self._after_eof_reported:
            self._after_eof_reported = True
            self.problem(lineno, None, "after-eof", f'text after "# EOF" (line {self._eof_line}); "# EOF" must be '
                         "the last line")

    def timestamp(self, text: str) -> int | None:
        return round(float(text) * 1000) if text else None

    def _careful(self, line: str, lineno: int) -> None:
        if self._eof_line is not None:
            self._after_eof(lineno)
            return
        if line == "":
            raise LineError("syntax", "blank line; OpenMetrics allows none")
        if line.startswith("#"):
            self._meta(line, lineno)
            return
        match = _SAMPLE_RE.fullmatch(line)
        if match is None:
            parse_sample_line(line, 0)  # raises with the precise cause when the line is broken in any format
            raise LineError("syntax", "not OpenMetrics syntax: tokens are separated by exactly one space, with no "
                            "blank at the start or end of the line and no trailing comma in a label set")
        name, labels_text, value_text, timestamp, exemplar = match.groups()
        labels: dict[str, str] = {}
        for label, label_value in _OM_PAIR_RE.findall(labels_text or ""):
            if label in labels:
                raise LineError("duplicate-label", f'label "{label}" appears twice in one sample of "{name}"', name)
            labels[label] = label_value
        if labels:
            reserved = [label for label in labels if label.startswith("__")]
            if reserved:
                raise LineError("invalid-label-name", f'label name "{reserved[0]}" of "{name}" is reserved (names '
                                'starting with "__")', name)
        value = parse_go_float(value_text)
        if value is None:
            raise LineError("invalid-value", f'sample "{name}" has value {show(value_text)}, which is not a number '
                            "(like 1, -2.5e3, NaN, +Inf, -Inf)", name)
        if timestamp is not None:
            stamp = parse_go_float(timestamp)
            if stamp is None or not math.isfinite(stamp):
                raise LineError("invalid-timestamp", f'sample "{name}" has timestamp {show(timestamp)}, not a number '
                                "of seconds", name)
        if exemplar is not None:
            self._exemplar(name, exemplar)
        self._record(name, labels_text or "", VALUES_RE.sub("", labels_text or ""), value, timestamp or "", lineno)

    def _exemplar(self, name: str, text: str) -> None:
        match = _EXEMPLAR_RE.fullmatch(text)
        if match is None:
            raise LineError("invalid-exemplar", f'exemplar of "{name}" is not "{{labels}} value [timestamp]": '
                            f"{show(text)}", name)
        family = self.families.get(name) or self.owner.get(name)
        allowed = _EXEMPLAR_SAMPLES.get(family.type, ()) if family is not None else ()
        if family is None or not any(name == family.name + suffix for suffix in allowed):
            raise LineError("invalid-exemplar", f'"{name}" carries an exemplar; only counter _total and histogram '
                            "and histogram (or gaugehistogram) _bucket samples may", name)
        pairs = _OM_PAIR_RE.findall(match.group(1))
        size = sum(len(k) + len(v) for k, v in pairs)
        if size > 128:
            raise LineError("invalid-exemplar", f'exemplar of "{name}" has {size} characters of label names and '
                            "values; at most 128 are allowed", name)

    def _meta(self, line: str, lineno: int) -> None:
        if line == "# EOF":
            self._eof_line = lineno
            return
        match = _META_RE.fullmatch(line)
        if match is None:
            raise LineError("syntax", f"{show(line)} is not a HELP, TYPE or UNIT line or # EOF; OpenMetrics allows "
                            "no other comments")
        keyword, name, rest = match.groups()
        if METRIC_NAME_RE.fullmatch(name) is None:
            raise LineError("invalid-metric-name", f"{keyword} line names {show(name)}, which is not a valid metric "
                            "name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
        if rest is None:
            raise LineError("syntax", f'{keyword} line for "{name}" has nothing after the name', name)
        family = self.families.get(name)
        if family is not None and family is not self._current and family.started:
            raise LineError("family-split", f'{keyword} line for "{name}" comes after other metrics began; a '
                            "family's metadata and samples are one block", name)
        if family is not None and family.count:
            raise LineError("type-after-samples", f'{keyword} line for "{name}" comes after its samples; metadata '
                            "goes first", name)
        if keyword == "HELP":
            self.help(name, _unescape_help(rest, name), lineno)
        elif keyword == "TYPE":
            self.type(name, rest, lineno)
        else:
            self._unit(name, rest, lineno)
        family = self.families[name]
        if family is not self._current:
            family.started = True
            self._current = family

    def _unit(self, name: str, unit: str, lineno: int) -> None:
        family = self._declare(name, lineno)
        if family.unit_line is not None:
            raise LineError("duplicate-unit", f'second UNIT line for "{name}" (first on line {family.unit_line})', name)
        if unit and not name.endswith("_" + unit):
            raise LineError("unit-suffix", f'"{name}" has UNIT {show(unit)}, so its name must end in "_{unit}"', name)
        if unit and family.type in _NO_UNIT:
            raise LineError("unit-suffix", f'{family.type} "{name}" must have no unit', name)
        family.unit, family.unit_line = unit, lineno

    def _stamped(self, family: Family, name: str, key: str, timestamp: str) -> int:
        digest = hash((name, key))
        stamp = float(timestamp)
        last = family.stamps.get(digest)
        if last is not None and stamp <= last:
            raise LineError("timestamp-order", f"{name}{{{key}}} has timestamp {timestamp} after one of {last!r}; the "
                            "points of a series are written in increasing order of time", family.name)
        family.stamps[digest] = stamp
        return hash((name, key, stamp))

    def _next_group(self, family: Family, group: str, lineno: int) -> None:
        if family.last_group is not None:
            family.done_groups.add(hash(family.last_group))
        digest = hash(group)
        if digest in family.done_groups:
            where = f" with labels {{{group}}}" if group else ""
            raise LineError("interleaved", f'a sample of "{family.name}"{where} comes after other label sets began; '
                            "a metric's samples are written together", family.name)
        family.last_group = group

    def _check_quantile(self, family: Family, quantile: float, lineno: int) -> None:
        if not 0 <= quantile <= 1:
            raise LineError("invalid-quantile", f'summary "{family.name}" has quantile {quantile!r}; quantiles are '
                            "between 0 and 1", family.name)

    def _check_histogram(self, family: Family, bounds: set[float]) -> None:
        super()._check_histogram(family, bounds)
        assert family.groups is not None
        for key, group in family.groups.items():
            if group.sum_line and group.count is None:
                self.problem(group.sum_line, family.name, "sum-without-count",
                             f'{family.type} "{family.name}"' + (f" with labels {{{key}}}" if key else "")
                             + f" has {family.sum_name.removeprefix(family.name)} but no "
                             f"{family.count_name.removeprefix(family.name)}; a sum needs its count")

    def _typed(self, family: Family) -> None:
        super()._typed(family)
        family.value_rule = _VALUE_RULES.get(family.type)


def _counter_rule(family: Family, name: str, value: float, names: tuple[str, ...], lineno: int) -> None:
    if name == family.name + "_total" and (value < 0 or math.isnan(value)):
        raise LineError("invalid-value", f'counter "{family.name}" has total {value!r}; a counter total must not be '
                        "negative or NaN", family.name)


def _info_rule(family: Family, name: str, value: float, names: tuple[str, ...], lineno: int) -> None:
    if value != 1:
        raise LineError("invalid-value", f'info "{family.name}" has value {value!r}; an info sample is always 1',
                        family.name)


def _stateset_rule(family: Family, name: str, value: float, names: tuple[str, ...], lineno: int) -> None:
    if value not in (0, 1):
        raise LineError("invalid-value", f'stateset "{family.name}" has value {value!r}; a state is 0 or 1',
                        family.name)
    if family.name not in names:
        raise LineError("missing-label", f'stateset "{family.name}" needs a label named "{family.name}" holding the '
                        "state", family.name)


def _summary_rule(family: Family, name: str, value: float, names: tuple[str, ...], lineno: int) -> None:
    if name == family.name + "_count" and value < 0:
        raise LineError("invalid-value", f'summary "{family.name}" has _count {value!r}; a count must not be negative',
                        family.name)


_VALUE_RULES = {"counter": _counter_rule, "info": _info_rule, "stateset": _stateset_rule, "summary": _summary_rule}


def _unescape_help(raw: str, metric: str) -> str:
    r"""HELP text: \\, \" and \n are unescaped, another escape is kept as written; a double quote that is not
    escaped, or a lone backslash at the end, is not OpenMetrics."""
    if '"' in raw.replace("\\\\", "").replace('\\"', ""):
        raise LineError("help-escape", f'HELP text of "{metric}" has a double quote that is not escaped (write \\")',
                        metric)
    if (len(raw) - len(raw.rstrip("\\"))) % 2 == 1:
        raise LineError("help-escape", f'HELP text of "{metric}" ends in a lone backslash', metric)
    return _ESCAPE_RE.sub(lambda m: _HELP_ESCAPES.get(m.group(1), m.group(0)), raw)


_ESCAPE_RE = re.compile(r"\\(.)")
