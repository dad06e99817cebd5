"""promtool check metrics (Prometheus 2.42) and wavegate read the same text-format bodies and must agree: a
seeded corpus of generated and mutated expositions, edge cases promtool was probed with, and the live /metrics
of a Debian node exporter and of a real Prometheus. promtool is required: without it these tests fail."""

from __future__ import annotations

import math
import os
import random
import re
import shutil
import subprocess
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from harness import LOOPBACK, PrometheusServer, free_port, wait_until
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Summary, generate_latest

from wavegate.exposition import Problem, lint, parse

# --- the one table: promlint's rules, as wavegate names them and as promtool words them ------------------

# (kind, wavegate's rule id, promtool 2.42's message). Kinds are compared, never message texts: wavegate
# words its messages its own way (and names the label or unit), promtool repeats a label finding per sample.
LINT_RULES: tuple[tuple[str, str, str], ...] = (
    ("no help", "help-missing", r"no help text"),
    ("non-base unit", "non-base-unit", r'use base unit ".*" instead of ".*"'),
    ("counter without _total", "counter-suffix", r'counter metrics should have "_total" suffix'),
    ("_total on a non-counter", "non-counter-total", r'non-counter metrics should not have "_total" suffix'),
    ("reserved suffix", "reserved-suffix",
     r'non-histogram (and non-summary )?metrics should not have "_(bucket|count|sum)" suffix'),
    ("reserved label", "reserved-label", r'non-(histogram|summary) metrics should not have "(le|quantile)" label'),
    ("type in name", "type-in-name", r"metric name should not include type '.*'"),
    ("colon in name", "colon-in-name", r"metric names should not contain ':'"),
    ("camelCase", "not-snake-case", r"(metric|label) names should be written in 'snake_case' not 'camelCase'"),
    ("abbreviated unit", "abbreviated-unit", r"metric names should not contain abbreviated units"),
)
KIND_OF_RULE = {rule: kind for kind, rule, _ in LINT_RULES}
KIND_OF_MESSAGE = [(re.compile(pattern), kind) for kind, _, pattern in LINT_RULES]

# promlint's unit words (client_golang 1.14, as in Prometheus 2.42): unit -> base unit, and the prefixes it
# accepts. promlint tries the units in Go's random map order and stops at the first word it finds, so a name
# with a base unit word and a non-base one ("a_seconds_minutes") is reported on some runs only.
PROMLINT_UNITS = {
    "amperes": "amperes", "bytes": "bytes", "celsius": "celsius", "grams": "grams", "joules": "joules",
    "kelvin": "kelvin", "meters": "meters", "metres": "metres", "seconds": "seconds", "volts": "volts",
    "minutes": "seconds", "hours": "seconds", "days": "seconds", "weeks": "seconds", "kelvins": "kelvin",
    "fahrenheit": "celsius", "rankine": "celsius", "inches": "meters", "yards": "meters", "miles": "meters",
    "bits": "bytes", "calories": "joules", "pounds": "grams", "ounces": "grams",
}
PROMLINT_PREFIXES = ("pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega",
                     "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi")

SEED = 20260605
TEXT_FORMAT = "text/plain;version=0.0.4"
SHOWN = 8  # bodies shown in full (the first of each reason); the rest are counted by reason


# --- the two readers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Body:
    """One exposition: its part of the corpus (generated, mutated, edge, live), a name that says how to make it
    again, and its bytes."""

    part: str
    name: str
    data: bytes


@dataclass(frozen=True)
class PromtoolRun:
    """promtool check metrics on one body: exit code, stderr, and its findings as (metric, kind)."""

    exit_code: int
    output: str
    findings: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Disagreement:
    """A body the two readers judge differently: why (short, groupable reasons) and what each said."""

    body: Body
    reasons: tuple[str, ...]
    promtool: PromtoolRun
    problems: tuple[Problem, ...]
    lint: tuple[Problem, ...] = ()
    crash: str | None = None
    only_promtool: frozenset[tuple[str, str]] = frozenset()
    only_wavegate: frozenset[tuple[str, str]] = frozenset()


def _kind_of_message(message: str) -> str:
    for pattern, kind in KIND_OF_MESSAGE:
        if pattern.fullmatch(message):
            return kind
    return f"unknown promtool message {message!r}"


def _run_promtool(promtool: str, data: bytes) -> PromtoolRun:
    completed = subprocess.run([promtool, "check", "metrics"], input=data, capture_output=True, timeout=30,
                               check=False)
    output = completed.stderr.decode("utf-8", "backslashreplace")
    findings: set[tuple[str, str]] = set()
    for line in output.splitlines():
        if line and not line.startswith("error while linting:"):
            metric, _, message = line.partition(" ")
            findings.add((metric, _kind_of_message(message)))
    return PromtoolRun(completed.returncode, output, frozenset(findings))


def _run_promtool_on_all(promtool: str, bodies: Sequence[Body]) -> list[PromtoolRun]:
    # A run of promtool is mostly its start-up (tens of milliseconds), spent in the child: threads overlap them.
    with ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 1))) as pool:
        return list(pool.map(lambda body: _run_promtool(promtool, body.data), bodies))


def _unit_finding_is_random(metric: str) -> bool:
    """Whether promtool reports a non-base unit for `metric` on some runs only."""
    words, outcomes = set(metric.split("_")), set[bool]()
    for unit, base in PROMLINT_UNITS.items():
        for prefix in (*PROMLINT_PREFIXES, ""):
            if prefix + unit in words:
                outcomes.add(prefix + unit != base)
                break
    return len(outcomes) > 1


def _disagreement(body: Body, run: PromtoolRun) -> Disagreement | None:
    try:
        exposition = parse(body.data)
        linted = lint(exposition)
    except Exception as exc:  # a crash is a finding about this body, not the end of the comparison
        return Disagreement(body, (f"wavegate raises {type(exc).__name__}",), run, (), crash=repr(exc))
    problems = exposition.problems
    reasons: list[str] = []
    if run.exit_code not in (0, 1, 3):
        reasons.append(f"promtool exits {run.exit_code}")
    if run.exit_code == 1:
        if not problems:
            reasons.append(f"promtool rejects, wavegate accepts: {_parse_error_kind(run.output)}")
        return Disagreement(body, tuple(reasons), run, problems) if reasons else None
    reasons.extend(sorted({f"wavegate rejects ({p.rule}), promtool parses" for p in problems if not p.deviation}))
    findings = tuple(p for p in linted if not p.deviation)
    ours = {(p.metric or "", KIND_OF_RULE.get(p.rule, f"unmapped wavegate rule {p.rule!r}")) for p in findings}
    random_units = {(m, "non-base unit") for m, _ in ours | run.findings if _unit_finding_is_random(m)}
    theirs, ours = run.findings - random_units, ours - random_units
    # After a parse disagreement the two readers see different families: say so, to keep such lint
    # differences apart from those of the lint rules themselves.
    after = " (after a parse disagreement)" if reasons else ""
    reasons.extend(sorted({f"lint: only promtool finds {kind!r}{after}" for _, kind in theirs - ours}))
    reasons.extend(sorted({f"lint: only wavegate finds {kind!r}{after}" for _, kind in ours - theirs}))
    if not reasons:
        return None
    return Disagreement(body, tuple(reasons), run, problems, findings, only_promtool=frozenset(theirs - ours),
                        only_wavegate=frozenset(ours - theirs))


def _parse_error_kind(output: str) -> str:
    """promtool's parse error without its line number and quoted input, so alike errors group together."""
    message = re.sub(r"^.*?parsing error in line \d+: ", "", output.strip().splitlines()[-1] if output else "")
    message = re.sub(r'"(?:[^"\\]|\\.)*"', '"…"', message)
    return re.sub(r"'(?:[^'\\]|\\.)*'", "'…'", message)


def _assert_agree(bodies: Sequence[Body], runs: Sequence[PromtoolRun]) -> None:
    """Fail listing the disagreements: counted by reason, the first few in full."""
    __tracebackhide__ = True
    found = [d for body, run in zip(bodies, runs, strict=True) if (d := _disagreement(body, run)) is not None]
    if not found:
        return
    by_reason = Tally(reason for d in found for reason in d.reasons)
    first: dict[str, Disagreement] = {}
    for d in found:
        for reason in d.reasons:
            first.setdefault(reason, d)
    lines = [f"promtool 2.42 and wavegate disagree on {len(found)} of {len(bodies)} bodies (corpus seed {SEED}); "
             "by reason: bodies, first body"]
    lines += [f"  {count:4}  {reason}   [{first[reason].body.name}]" for reason, count in by_reason.most_common()]
    shown = list(dict.fromkeys(first[reason].body.name for reason, _ in by_reason.most_common()))[:SHOWN]
    for d in found:
        if d.body.name in shown:
            lines += ["", *_describe(d)]
    if len(found) > len(shown):
        lines += ["", f"(the first body of each reason is shown, {len(shown)} at most; {len(found) - len(shown)} "
                  "more disagree)"]
    pytest.fail("\n".join(lines), pytrace=False)


def _describe(d: Disagreement) -> list[str]:
    rows = d.body.data.split(b"\n")
    if len(rows) <= 30:
        wanted = list(range(1, len(rows) + 1))
    else:  # a live body: the lines the readers point at, and the first line of each metric they differ on
        wanted = sorted({p.line for p in d.problems if p.line} | {int(n) for n in re.findall(r"in line (\d+)",
                         d.promtool.output)} | {_first_line(rows, m) for m, _ in d.only_promtool | d.only_wavegate})
    output = sorted(d.promtool.output.splitlines())
    return [
        f"--- {d.body.name}: {'; '.join(d.reasons)}",
        f"body ({len(rows)} lines, each a bytes literal):", *[f"  {n:5} {rows[n - 1]!r}" for n in wanted if n],
        f"promtool (exit {d.promtool.exit_code}):", *_capped(output),
        *([f"wavegate raised {d.crash}"] if d.crash else []),
        "wavegate parse problems:", *_capped([str(p) for p in d.problems]),
        "wavegate lint:", *_capped([str(p) for p in d.lint]),
        *([f"only promtool: {sorted(d.only_promtool)}"] if d.only_promtool else []),
        *([f"only wavegate: {sorted(d.only_wavegate)}"] if d.only_wavegate else []),
    ]


def _first_line(rows: list[bytes], metric: str) -> int:
    pattern = re.compile(rb"^\s*" + re.escape(metric.encode()) + rb"[\s{]")
    return next((n for n, row in enumerate(rows, 1) if pattern.match(row)), 0)


def _capped(lines: list[str], limit: int = 12) -> list[str]:
    if not lines:
        return ["  (none)"]
    more = [f"  ... {len(lines) - limit} more"] if len(lines) > limit else []
    return [f"  {line}" for line in lines[:limit]] + more


# --- the corpus -----------------------------------------------------------------------------------------------

# Name words chosen to trip each promlint rule: unit words (base, non-base, prefixed, abbreviated, one that only
# looks like a unit), type words, the suffixes histograms, summaries and counters own, camelCase, capitals.
PLAIN_WORDS = ("http", "requests", "queue", "depth", "jobs", "cpu", "memory", "worker", "errors", "retries", "s3",
               "thermometers", "node")
BASE_UNITS = ("seconds", "bytes", "meters", "volts", "celsius", "joules", "grams", "kelvin", "metres")
OTHER_UNITS = ("milliseconds", "minutes", "hours", "kilobytes", "bits", "megabits", "inches", "pounds", "fahrenheit",
               "kelvins", "millikelvin", "microseconds", "days", "Milliseconds")
ABBREVIATIONS = ("ms", "s", "sec", "kb", "mb", "b", "h", "d", "m", "us", "ns", "MS")
TYPE_WORDS = ("counter", "gauge", "histogram", "summary", "untyped", "gauge_histogram", "GAUGE")
SUFFIX_WORDS = ("total", "count", "sum", "bucket", "created", "info")
CAMEL_WORDS = ("httpRequests", "queueDepth", "Active", "MemFree", "ABC", "bytesTotal", "HugePages")
LABEL_NAMES = ("code", "method", "le", "quantile", "statusCode", "Method", "path_X", "_hidden", "a1", "job")
VALUE_CHARS = ("a", "Z", "0", " ", ",", "=", "{", "}", "#", '"', "\\", "\n", "\t", "é", "\u2028", "_")
VALUES = ("0", "1", "2.5", "-3", "1e-9", "7e22", "NaN", "+Inf", "-Inf", ".5", "1E3", "+1", "-0", "123456789")
HELPS = ("Requests handled.", "With a \\\\ backslash.", "Two\\nlines.", "Ünïcödé ✓.", 'Say "hi".', "x")


def _metric_name(rng: random.Random) -> str:
    words = [rng.choice(PLAIN_WORDS + CAMEL_WORDS if rng.random() < 0.3 else PLAIN_WORDS)]
    unit_added = False  # one unit word at most: with two, promtool's answer is random
    for _ in range(rng.randint(0, 3)):
        group = rng.choice((PLAIN_WORDS, BASE_UNITS, OTHER_UNITS, ABBREVIATIONS, TYPE_WORDS, SUFFIX_WORDS,
                            CAMEL_WORDS))
        if group in (BASE_UNITS, OTHER_UNITS):
            if unit_added:
                continue
            unit_added = True
        words.append(rng.choice(group))
    separators = [":" if rng.random() < 0.08 else "_" for _ in words[1:]]
    return words[0] + "".join(sep + word for sep, word in zip(separators, words[1:], strict=True))


def _label_value(rng: random.Random) -> str:
    return "".join(rng.choices(VALUE_CHARS, k=rng.randint(0, 5)))


def _client_body(rng: random.Random) -> bytes:
    """The text exposition of a prometheus_client registry of random metrics."""
    registry = CollectorRegistry()
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(("counter", "gauge", "histogram", "summary", "info", "enum"))
        labels = rng.sample([n for n in LABEL_NAMES if n not in ("le", "quantile")
                             or kind not in ("histogram", "summary")], rng.randint(0, 3))
        name, documentation = _metric_name(rng), rng.choice(HELPS).replace("\\\\", "\\").replace("\\n", "\n")
        try:
            if kind == "counter":
                metric: Counter | Gauge | Histogram | Summary | Info | Enum = Counter(
                    name, documentation, labels, registry=registry)
            elif kind == "gauge":
                metric = Gauge(name, documentation, labels, registry=registry)
            elif kind == "histogram":
                metric = Histogram(name, documentation, labels, buckets=(0.1, 2.5, 1e3), registry=registry)
            elif kind == "summary":
                metric = Summary(name, documentation, labels, registry=registry)
            elif kind == "info":
                metric = Info(name, documentation, labels, registry=registry)
            else:
                metric = Enum(name.replace(":", "_"), documentation, labels, states=["up", "down"], registry=registry)
        except ValueError:
            continue  # a name the client refuses or one that collides with an earlier metric's series
        for _ in range(rng.randint(1, 3)):
            child = metric.labels(*[_label_value(rng) for _ in labels]) if labels else metric
            amount = rng.choice((0.0, 1.0, 2.5, 1e-9, 7e22))
            if isinstance(child, Counter):
                child.inc(amount)
            elif isinstance(child, Gauge):
                child.set(rng.choice((amount, -amount, math.inf, -math.inf, math.nan)))
            elif isinstance(child, Histogram | Summary):
                child.observe(amount)
            elif isinstance(child, Info):
                child.info({"version": _label_value(rng)})
            elif isinstance(child, Enum):
                child.state(rng.choice(("up", "down")))
    text = generate_latest(registry).decode()
    # _created holds the wall clock: pin it, so the corpus (and where mutations land) is the same every run.
    return re.sub(r"^(\S+_created(?:\{.*\})?) \S+$", r"\1 1.7e+09", text, flags=re.MULTILINE).encode()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample(rng: random.Random, name: str, labels: dict[str, str], value: str) -> str:
    blank = rng.choice((" ", " ", " ", " ", "\t", "  "))
    pairs = [f'{k}="{_escape(v)}"' for k, v in labels.items()]
    if not pairs:
        label_text = "{}" if rng.random() < 0.05 else ""
    elif rng.random() < 0.1:
        label_text = "{ " + " , ".join(p.replace("=", " = ", 1) for p in pairs) + " }"
    else:
        label_text = "{" + ",".join(pairs) + ("," if rng.random() < 0.1 else "") + "}"
    timestamp = f"{blank}{rng.choice(('1700000000000', '-5', '0'))}" if rng.random() < 0.15 else ""
    return f"{name}{label_text}{blank}{value}{timestamp}"


def _family_lines(rng: random.Random, name: str, type_: str | None) -> list[str]:
    lines: list[str] = []
    if rng.random() < 0.85:
        lines.append(f"# HELP {name} {rng.choice(HELPS)}" if rng.random() < 0.9 else f"# HELP {name}")
    if type_ is not None:
        lines.append(f"# TYPE {name} {type_}")
    reserved = {"histogram": "le", "summary": "quantile"}.get(type_ or "")
    names = rng.sample([n for n in LABEL_NAMES if n != reserved], rng.randint(0, 2))
    for _ in range(rng.choice((0, 1, 1, 2, 3)) if rng.random() < 0.05 else rng.randint(1, 3)):
        labels = {label: _label_value(rng) for label in names}
        if type_ == "histogram":
            count = 0
            for bound in sorted(rng.sample(("0.005", "0.1", "1", "2.5", "10", "1e3"), rng.randint(0, 3)), key=float):
                count += rng.randint(0, 3)
                lines.append(_sample(rng, f"{name}_bucket", {**labels, "le": bound}, str(count)))
            count += rng.randint(0, 3)
            lines.append(_sample(rng, f"{name}_bucket", {**labels, "le": rng.choice(("+Inf", "+Inf", "Inf"))},
                                 str(count)))
            lines.append(_sample(rng, f"{name}_sum", labels, rng.choice(("0", "1.5", "1e3"))))
            lines.append(_sample(rng, f"{name}_count", labels, str(count)))
        elif type_ == "summary":
            for quantile in rng.sample(("0.5", "0.9", "0.99"), rng.randint(0, 3)):
                lines.append(_sample(rng, name, {**labels, "quantile": quantile}, rng.choice(VALUES)))
            lines.append(_sample(rng, f"{name}_sum", labels, rng.choice(("0", "1.5"))))
            lines.append(_sample(rng, f"{name}_count", labels, str(rng.randint(0, 9))))
        else:
            lines.append(_sample(rng, name, labels, rng.choice(VALUES)))
    return lines


def _family_body(rng: random.Random) -> bytes:
    """A hand-built body of 1-5 families with lint-tripping names, random labels, escapes, spacing and values."""
    lines: list[str] = []
    taken: set[str] = set()
    for _ in range(rng.randint(1, 5)):
        name = _metric_name(rng)
        type_ = rng.choice(("counter", "gauge", "histogram", "summary", "untyped", None, None))
        owned = {name, *(name + s for s in ("_bucket", "_sum", "_count"))}
        if owned & taken:
            continue  # would merge into, or take samples of, an earlier family
        taken |= owned
        if rng.random() < 0.1:
            lines.append(rng.choice(("", "# a comment", "#", "# EOF", "  ", "# HELP_ not a keyword")))
        lines += _family_lines(rng, name, type_)
    return "".join(line + "\n" for line in lines).encode()


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


# Each mutation takes the body and the generator and returns the mutated body and what it did.
GARBAGE = (b"{", b"}", b'"', b"\\", b",", b"=", b" ", b"\t", b"#", b"\n", b"\r", b"x", b"-", b".", b"\xff",
           "é".encode(), b'__name__="x",', b"# TYPE", b"0x1p3", b"1e400")


def _drop_char(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = rng.randrange(len(data))
    return data[:at] + data[at + 1:], f"dropped byte {at}"


def _duplicate_line(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    rows = _lines(data)
    at = rng.randrange(len(rows))
    return b"\n".join(rows[:at + 1] + rows[at:]), f"line {at + 1} twice"


def _swap_lines(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    rows = _lines(data)
    a, b = rng.randrange(len(rows)), rng.randrange(len(rows))
    rows[a], rows[b] = rows[b], rows[a]
    return b"\n".join(rows), f"lines {a + 1} and {b + 1} swapped"


def _insert_garbage(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at, junk = rng.randrange(len(data) + 1), rng.choice(GARBAGE)
    return data[:at] + junk + data[at:], f"{junk!r} inserted at byte {at}"


def _break_escape(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    escapes = [m.start() for m in re.finditer(rb'\\[\\"n]', data)]
    if escapes and rng.random() < 0.7:
        at = rng.choice(escapes)
        bad = rng.choice((b"t", b"x", b"'", b"\\\\\\"))
        return data[:at + 1] + bad + data[at + 2:], f"escape at byte {at} made \\{bad.decode()}"
    quotes = [m.start() for m in re.finditer(rb'="', data)] or [0]
    at = rng.choice(quotes) + 2
    return data[:at] + b"\\q" + data[at:], f"\\q inserted at byte {at}"


def _truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = rng.randrange(1, len(data))
    return data[:at], f"cut after byte {at}"


def _crlf(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    rows = _lines(data)
    at = rng.randrange(max(1, len(rows) - 1))
    rows[at] += b"\r"
    return b"\n".join(rows), f"line {at + 1} ends in \\r\\n"


def _trailing_blank(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    rows = _lines(data)
    at = rng.randrange(max(1, len(rows) - 1))
    rows[at] += rng.choice((b" ", b"\t"))
    return b"\n".join(rows), f"a blank after line {at + 1}"


def _retype(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    rows = _lines(data)
    types = [n for n, row in enumerate(rows) if row.startswith(b"# TYPE ") and len(row.split()) == 4]
    if not types:
        return _insert_garbage(rng, data)
    at = rng.choice(types)
    if rng.random() < 0.5:
        _, _, name, type_ = rows[at].split()
        rows[at] = b"# TYPE " + name + b" " + type_.upper()
        return b"\n".join(rows), f"type on line {at + 1} in capitals"
    row = rows.pop(at)
    rows.insert(rng.randrange(at, len(rows)), row)
    return b"\n".join(rows), f"TYPE line {at + 1} moved down"


MUTATIONS: tuple[Callable[[random.Random, bytes], tuple[bytes, str]], ...] = (
    _drop_char, _duplicate_line, _swap_lines, _insert_garbage, _break_escape, _truncate, _crlf, _trailing_blank,
    _retype,
)


def _corpus() -> list[Body]:
    """The seeded corpus: well-formed bodies, mutated ones and the probe's edge cases. Each part has its own
    generator, so growing one part leaves the others as they were."""
    client, family, mutate = (random.Random(f"{SEED}-{part}") for part in ("client", "family", "mutate"))
    valid = [Body("generated", f"client#{n}", _client_body(client)) for n in range(60)]
    valid += [Body("generated", f"family#{n}", _family_body(family)) for n in range(140)]
    valid = [body for body in valid if body.data]
    mutated: list[Body] = []
    for n in range(260):
        source = mutate.choice(valid)
        data, steps = source.data, []
        for _ in range(mutate.choice((1, 1, 1, 2))):
            data, step = mutate.choice(MUTATIONS)(mutate, data) if data else (data, "nothing left")
            steps.append(step)
        mutated.append(Body("mutated", f"mutated#{n} ({source.name}: {', '.join(steps)})", data))
    return valid + mutated + [Body("edge", f"edge: {name}", data) for name, data in EDGE_CASES.items()]


# Bodies from the probe of promtool 2.42: where the format is subtle or the two parsers could part.
EDGE_CASES: dict[str, bytes] = {
    "family split": b"a 1\nb 1\na 2\n",
    "duplicate series": b'a{x="1"} 1\na{x="1"} 2\n',
    "TYPE after samples": b"foo 1\n# TYPE foo counter\n",
    "HELP after samples": b"foo 1\n# HELP foo h.\n",
    "counter foo, samples foo_total and foo_created": b"# HELP foo h.\n# TYPE foo counter\nfoo_total 1\n"
                                                      b"foo_created 1\n",
    "TYPE x_count after histogram x": b"# TYPE x histogram\n# TYPE x_count gauge\nx_count 1\n",
    "HELP x_count after histogram x": b'# TYPE x histogram\n# HELP x_count h.\nx_bucket{le="+Inf"} 1\nx_count 1\n',
    "gauge x_count before histogram x": b'# TYPE x_count gauge\nx_count 1\n# TYPE x histogram\nx_bucket{le="+Inf"} 1\n',
    "CRLF everywhere": b"# HELP a_total h.\r\n# TYPE a_total counter\r\na_total 1\r\n",
    "CRLF on a comment only": b"# hi\r\na 1\n",
    "CRLF on HELP only": b"# HELP a h.\r\n# TYPE a gauge\na 1\n",
    "no final newline": b"# HELP a h.\n# TYPE a gauge\na 1",
    "blanks after the final newline": b"a 1\n  ",
    "invalid UTF-8 in a label value": b'a{x="\xff"} 1\n',
    "invalid UTF-8 in HELP": b"# HELP a h\xff.\na 1\n",
    "invalid UTF-8 in a comment": b"# hello \xff\na 1\n",
    "empty HELP": b"# HELP a\n# TYPE a gauge\na 1\n",
    "HELP twice": b"# HELP a h.\n# HELP a h2.\na 1\n",
    "TYPE twice": b"# TYPE a gauge\n# TYPE a gauge\na 1\n",
    "TYPE in capitals": b"# HELP a h.\n# TYPE a GAUGE\na 1\n",
    "TYPE with a trailing blank": b"# HELP a h.\n# TYPE a gauge \na 1\n",
    "TYPE without a type": b"# TYPE a\na 1\n",
    "TYPE name and a blank": b"# TYPE a \na 1\n",
    "TYPE without a name": b"# TYPE\na 1\n",
    "HELP without a name": b"# HELP\na 1\n",
    "hex float value": b"a 0x1p3\n",
    "value 1e400": b"a 1e400\n",
    "value 1e-400": b"a 1e-400\n",
    "values Inf, -inf, nan, +Infinity, .5, 5.": b"a Inf\nb -inf\nc nan\nd +Infinity\ne .5\nf 5.\n",
    "value -NaN": b"a -NaN\n",
    "timestamp beyond int64": b"a 1 9223372036854775808\n",
    "float timestamp": b"a 1 1.5\n",
    "timestamp with 23 digits": b"a 1 00000000000000000000001\n",
    "a blank after the value": b"a 1 \n",
    "a blank after the timestamp": b"a 1 5 \n",
    "blank lines and leading blanks": b"\n  \t \n  a 1\n  # HELP a h.\n",
    "tabs between tokens": b'a{\tx\t=\t"1"\t}\t1\t5\n',
    "no blank before the value": b'a{x="1"}1\n',
    "trailing comma in a label set": b'a{x="1",} 1\n',
    "two trailing commas": b'a{x="1",,} 1\n',
    "__name__ label": b'a{__name__="b"} 1\n',
    "duplicate label name": b'a{x="1",x="2"} 1\n',
    "duplicate le in a histogram": b'# HELP x h.\n# TYPE x histogram\nx_bucket{le="1",le="+Inf"} 1\nx_count 1\n',
    "duplicate quantile in a summary": b'# HELP s h.\n# TYPE s summary\ns{quantile="0.5",quantile="0.9"} 1\n',
    "bad escape in a label value": b'a{x="\\t"} 1\n',
    "bad escape in HELP": b"# HELP a bad \\t escape\na 1\n",
    "escaped quote in HELP": b'# HELP a say \\"hi\\"\na 1\n',
    "name, dash, number": b"a-1 1\n",
    "name, dot, number": b"a.5 1\n",
    "NUL in a label value": b'a{x="\x00"} 1\n',
    "histogram: negative bucket": b'# HELP x h.\n# TYPE x histogram\nx_bucket{le="1"} -1\nx_bucket{le="+Inf"} 1\n'
                                  b"x_count 1\nx_sum 1\n",
    "histogram: no +Inf bucket": b'# HELP x h.\n# TYPE x histogram\nx_bucket{le="1"} 1\nx_count 1\nx_sum 1\n',
    "histogram: _count unequal to +Inf": b'# HELP x h.\n# TYPE x histogram\nx_bucket{le="+Inf"} 2\nx_count 1\n',
    "histogram: decreasing buckets": b'# HELP x h.\n# TYPE x histogram\nx_bucket{le="1"} 5\nx_bucket{le="2"} 3\n'
                                     b'x_bucket{le="+Inf"} 5\nx_count 5\n',
    "histogram: bare sample": b"# HELP x h.\n# TYPE x histogram\nx 1\n",
    "histogram: bucket without le": b"# HELP x h.\n# TYPE x histogram\nx_bucket 1\n",
    'histogram: le="abc"': b'# HELP x h.\n# TYPE x histogram\nx_bucket{le="abc"} 1\n',
    'histogram: le="NaN"': b'# HELP x h.\n# TYPE x histogram\nx_bucket{le="NaN"} 1\n',
    "summary without quantiles": b"# HELP s h.\n# TYPE s summary\ns_sum 1\ns_count 1\n",
    "summary: bare sample without quantile": b"# HELP s h.\n# TYPE s summary\ns 1\n",
    "summary with an le label": b'# HELP s h.\n# TYPE s summary\ns{le="1"} 1\ns_count 1\n',
    "declared without samples": b"# HELP fooTotal_ms h.\n# TYPE fooTotal_ms counter\n",
    "upper case after an underscore": b"# HELP node_memory_Active_bytes h.\n# TYPE node_memory_Active_bytes gauge\n"
                                      b"node_memory_Active_bytes 1\n",
    "every rule at once": b"# HELP fooBar:x_gauge_ms_total h.\n# TYPE fooBar:x_gauge_ms_total gauge\n"
                          b'fooBar:x_gauge_ms_total{le="1",quantile="2",myLabel="3"} 1\n',
    "gauge_histogram in a name": b"# HELP a_gauge_histogram h.\n# TYPE a_gauge_histogram gauge\na_gauge_histogram 1\n",
    "prefixed base unit": b"# HELP a_millikelvin h.\n# TYPE a_millikelvin gauge\na_millikelvin 1\n",
}


# --- fixtures -----------------------------------------------------------------------------------------------


def _required(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary!r} is not on PATH: install the Debian package {package!r} (scripts/test installs "
                    "Prometheus for CI); this comparison never skips", pytrace=False)
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    """The path of promtool (Debian's Prometheus 2.42); fails the test when it is not installed."""
    return _required("promtool", "prometheus")


@dataclass(frozen=True)
class CorpusRun:
    """The whole corpus once through promtool, with how long that took."""

    bodies: list[Body]
    runs: list[PromtoolRun]
    seconds: float

    def part(self, part: str) -> tuple[list[Body], list[PromtoolRun]]:
        pairs = [(body, run) for body, run in zip(self.bodies, self.runs, strict=True) if body.part == part]
        return [body for body, _ in pairs], [run for _, run in pairs]


@pytest.fixture(scope="module")
def corpus(promtool: str) -> CorpusRun:
    """The seeded corpus (see _corpus) and promtool's verdict on each body, computed once for the module."""
    bodies = _corpus()
    started = time.monotonic()
    runs = _run_promtool_on_all(promtool, bodies)
    return CorpusRun(bodies, runs, time.monotonic() - started)


def _text_exposition(url: str) -> bytes:
    response = requests.get(url, headers={"Accept": TEXT_FORMAT}, timeout=10)
    response.raise_for_status()
    media = response.headers.get("Content-Type", "")
    assert media.replace(" ", "").startswith("text/plain;version=0.0.4"), f"{url} answered {media!r}"
    return response.content


@pytest.fixture(scope="module")
def node_exporter_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The /metrics URL of a Debian prometheus-node-exporter with its default collectors, started on a free
    loopback port and stopped (by its pid) when the module's tests are done."""
    binary = _required("prometheus-node-exporter", "prometheus-node-exporter")
    address = f"{LOOPBACK}:{free_port()}"
    log = tmp_path_factory.mktemp("node-exporter") / "node-exporter.log"
    with log.open("wb") as out:
        process = subprocess.Popen([binary, f"--web.listen-address={address}"], stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://{address}/metrics"

    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"prometheus-node-exporter exited with {process.returncode}:\n{_tail(log)}", pytrace=False)
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(answers, f"prometheus-node-exporter on {address}", timeout=20)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-20:])


@pytest.fixture(scope="module")
def prometheus_metrics() -> Iterator[str]:
    """The /metrics URL of a real Prometheus (harness.PrometheusServer: free loopback port, own data directory)
    once it has scraped itself, so its scrape metrics are there too."""
    with PrometheusServer(scrape_interval="1s", ready_timeout=30) as server:
        server.wait_for_scrapes(timeout=30)
        yield f"{server.url}/metrics"


# --- the tests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["generated", "mutated", "edge"])
def test_promtool_and_wavegate_agree_on_each_body_of_the_corpus(corpus: CorpusRun, part: str) -> None:
    _assert_agree(*corpus.part(part))


def test_the_corpus_trips_every_lint_rule_and_both_parse_verdicts(corpus: CorpusRun) -> None:
    kinds = {kind for run in corpus.runs for _, kind in run.findings}
    exits = Tally((body.part, run.exit_code) for body, run in zip(corpus.bodies, corpus.runs, strict=True))

    assert kinds >= {kind for kind, _, _ in LINT_RULES}, f"no body trips {set(KIND_OF_RULE.values()) - kinds}"
    assert exits["generated", 1] == 0, f"promtool rejects generated bodies: {dict(exits)}"
    assert exits["mutated", 1] >= 60, f"promtool rejects too few mutated bodies: {dict(exits)}"
    assert exits["mutated", 0] + exits["mutated", 3] >= 30, f"promtool parses too few mutated bodies: {dict(exits)}"


def test_the_corpus_goes_through_both_readers_in_under_a_minute(corpus: CorpusRun) -> None:
    started = time.monotonic()
    for body in corpus.bodies:
        lint(parse(body.data))
    seconds = corpus.seconds + time.monotonic() - started

    assert seconds < 60, f"{len(corpus.bodies)} bodies took {seconds:.1f}s (promtool {corpus.seconds:.1f}s)"


def test_promtool_and_wavegate_agree_on_a_live_node_exporter(promtool: str, node_exporter_metrics: str) -> None:
    body = Body("live", "prometheus-node-exporter /metrics", _text_exposition(node_exporter_metrics))
    _assert_agree([body], [_run_promtool(promtool, body.data)])


def test_promtool_and_wavegate_agree_on_a_live_prometheus(promtool: str, prometheus_metrics: str) -> None:
    body = Body("live", "prometheus /metrics", _text_exposition(prometheus_metrics))
    _assert_agree([body], [_run_promtool(promtool, body.data)])
