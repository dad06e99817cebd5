"""The rules of `promtool check metrics` (client_golang promlint, Prometheus 2.42), and apart from them the
gate's own advice, which is shown but decides no verdict."""

from __future__ import annotations

import re
from collections.abc import Iterator

from wavegate.exposition.model import OPENMETRICS, Exposition, MetricFamily, Problem


def lint(exposition: Exposition) -> list[Problem]:
    """promtool's rules, one Problem per finding; parse problems are not repeated. Like promtool, only families
    with samples are linted, and (unlike it) a label problem is reported once per label name, not per sample."""
    problems: list[Problem] = []
    for fam in exposition.families.values():
        if fam.first_line is not None:  # it has sample lines, even ones the parser then rejected
            problems.extend(_lint_family(fam, _exposed_name(fam, exposition.format)))
    return problems


def advice(exposition: Exposition) -> list[Problem]:
    """What the gate advises beyond promtool's rules: upper-case letters in names that are not camelCase
    (node_memory_Active_bytes), histogram or summary names ending in a suffix their samples add, and
    promtool's rules applied to families declared without samples. Never part of a verdict."""
    problems: list[Problem] = []
    for fam in exposition.families.values():
        name = _exposed_name(fam, exposition.format)
        if fam.first_line is None:
            problems.extend(Problem(p.line, p.metric, p.rule, f"{p.message} (declared without samples)")
                            for p in _lint_family(fam, name))
        problems.extend(_advise_family(fam, name))
    return problems


def _exposed_name(fam: MetricFamily, format_: str) -> str:
    """The name promtool would see: an OpenMetrics counter family `foo` is exposed as `foo_total`, an info
    family `foo` as `foo_info`."""
    if format_ == OPENMETRICS and fam.type in _EXPOSED_SUFFIX and not fam.name.endswith(_EXPOSED_SUFFIX[fam.type]):
        return fam.name + _EXPOSED_SUFFIX[fam.type]
    return fam.name


_EXPOSED_SUFFIX = {"counter": "_total", "info": "_info"}


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


# OpenMetrics types read as the promlint type they are ingested as.
_LINT_TYPES = {"unknown": "untyped", "info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram"}


def _lint_family(fam: MetricFamily, name: str) -> Iterator[Problem]:
    type_, line = _LINT_TYPES.get(fam.type, fam.type), _family_line(fam)

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
                yield problem("reserved-suffix",
                              f'non-histogram and non-summary metrics should not have "{suffix}" suffix')
        first_use = fam.label_lines
        if type_ != "histogram" and "le" in first_use:
            yield problem("reserved-label", 'non-histogram metrics should not have "le" label', first_use["le"])
        if type_ != "summary" and "quantile" in first_use:
            yield problem("reserved-label", 'non-summary metrics should not have "quantile" label',
                          first_use["quantile"])

    lowered = name.lower()
    for word in _TYPE_WORDS:
        if f"_{word}_" in lowered or lowered.endswith(f"_{word}"):
            yield problem("type-in-name", f"metric name should not include type '{word}'")

    if ":" in name:
        yield problem("colon-in-name", "metric names should not contain ':'")

    if _CAMEL_CASE_RE.search(name):
        yield problem("not-snake-case", "metric names should be written in 'snake_case' not 'camelCase'")
    for label, label_line in fam.label_lines.items():
        if _CAMEL_CASE_RE.search(label):
            yield problem("not-snake-case", f"label names should be written in 'snake_case' not 'camelCase' "
                          f'(label "{label}")', label_line)

    for abbreviation in _UNIT_ABBREVIATIONS:
        if f"_{abbreviation}_" in lowered or lowered.endswith(f"_{abbreviation}"):
            yield problem("abbreviated-unit", f'metric names should not contain abbreviated units ("_{abbreviation}")')


def _advise_family(fam: MetricFamily, name: str) -> Iterator[Problem]:
    line = _family_line(fam)
    if fam.type in ("histogram", "summary"):
        # A histogram "x_count" would expose "x_count_count", which reads as a bug.
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix):
                yield Problem(line, name, "reserved-suffix", f'{fam.type} metric names should not have "{suffix}" '
                              "suffix (advice)")
    # promlint only catches a lower-to-upper change ("camelCase"); any capital still breaks snake_case.
    if not _CAMEL_CASE_RE.search(name) and any(c.isupper() for c in name):
        yield Problem(line, name, "upper-case-name", "metric names should be written in lower-case 'snake_case' "
                      "(advice)")
    for label, label_line in fam.label_lines.items():
        if not _CAMEL_CASE_RE.search(label) and any(c.isupper() for c in label):
            yield Problem(label_line, name, "upper-case-name", "label names should be written in lower-case "
                          f"'snake_case' (label \"{label}\", advice)")


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


def _family_line(fam: MetricFamily) -> int | None:
    """The line a problem with the whole family points at: TYPE, else HELP, else its first sample."""
    if fam.type_line is not None:
        return fam.type_line
    if fam.help_line is not None:
        return fam.help_line
    return fam.first_line
