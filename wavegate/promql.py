"""PromQL through a real parser: every query the gate sends is parsed, scoped and rendered back here.

`promql_parser` (PyPI `promql-parser`) builds the syntax tree; `render` writes a tree back as PromQL with
strings escaped the way Prometheus reads them (the parser's own printer does not escape quotes or
backslashes). On the tree the gate
- scopes every selector to one environment of a shared Prometheus (`Scope`): the environment's label
  matchers, and the job of the component that owns the metric;
- expands window templates: `$W` is a window's range, and `increase(sel[$W])` becomes the window
  increase of `context.window_increase`;
- recognises `sum [by|without (...)] (increase(sel[$W]))`, which the gate computes exactly.
No regular expression reads or rewrites PromQL.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import promql_parser as pp

from wavegate.durations import format_duration

WINDOW = "$W"
# `$W` is not PromQL; templates are parsed with this duration in its place (about 363 days and an odd
# number of milliseconds: no criterion writes it by hand) and rendered with the real window.
_WINDOW_STAND_IN = timedelta(milliseconds=31_415_926_535)
_STAND_IN_TEXT = format_duration(_WINDOW_STAND_IN.total_seconds())
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = {"=": pp.MatchOp.Equal, "!=": pp.MatchOp.NotEqual, "=~": pp.MatchOp.Re, "!~": pp.MatchOp.NotRe}


class PromQLError(ValueError):
    """Text that is not PromQL the gate can send; the message says where and why."""


# -- label matchers ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelMatcher:
    """One label matcher, e.g. env="prod" or cluster=~"eu-.*"."""

    name: str
    op: str
    value: str

    def render(self) -> str:
        return f"{self.name}{self.op}{quote(self.value)}"

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set (a target's labels) satisfies the matcher; regexes are anchored as in PromQL."""
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        found = re.fullmatch(self.value, value) is not None
        return found if self.op == "=~" else not found


def parse_matchers(text: str) -> tuple[LabelMatcher, ...]:
    """Label matchers written as in a selector, e.g. `env="prod", cluster=~"eu-.*"` (braces optional)."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        body = "{" + body + "}"
    try:
        tree = pp.parse(body)
    except ValueError as exc:
        raise PromQLError(f"{text!r} is not a list of label matchers such as env=\"prod\", "
                          f"cluster=~\"eu-.*\": {exc}") from None
    if not isinstance(tree, pp.VectorSelector) or tree.name is not None:
        raise PromQLError(f"{text!r} is not a list of label matchers such as env=\"prod\"")
    if tree.matchers.or_matchers:
        raise PromQLError(f"{text!r}: `or` between matchers is not supported by Prometheus 2.x")
    return tuple(_matcher(m) for m in tree.matchers.matchers)


def equality_matchers(labels: Mapping[str, object]) -> tuple[LabelMatcher, ...]:
    """`{env: prod}` as matchers env="prod"; label names are checked, values must be strings."""
    found = []
    for name, value in labels.items():
        if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
            raise PromQLError(f"{name!r} is not a label name (letters, digits and _, not starting with a digit)")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise PromQLError(f"the value of {name} must be a string, not {type(value).__name__}")
        found.append(LabelMatcher(name, "=", str(value)))
    return tuple(found)


def _matcher(node: Any) -> LabelMatcher:
    op = next(text for text, kind in _OPS.items() if kind == node.op)
    return LabelMatcher(node.name, op, node.value)


def quote(value: str) -> str:
    """A PromQL double-quoted string (Go's escaping: JSON's escapes are a subset Prometheus reads)."""
    return json.dumps(value, ensure_ascii=False)


# -- parsing and rendering --------------------------------------------------------------------------------
def parse(text: str) -> Any:
    """The syntax tree of a PromQL expression; `$W` may stand for a window's range."""
    try:
        return pp.parse(_window_outside_strings(text))
    except ValueError as exc:
        raise PromQLError(f"{text!r} is not valid PromQL: {exc}") from None


def _window_outside_strings(text: str) -> str:
    """`text` with `$W` replaced by the stand-in duration, except inside string literals ("…", '…', `…`)."""
    out, quote_char, index = [], "", 0
    while index < len(text):
        char = text[index]
        if quote_char:
            out.append(char)
            if char == "\\" and quote_char != "`" and index + 1 < len(text):
                out.append(text[index + 1])
                index += 1
            elif char == quote_char:
                quote_char = ""
        elif char in "\"'`":
            quote_char = char
            out.append(char)
        elif text.startswith(WINDOW, index):
            out.append(_STAND_IN_TEXT)
            index += len(WINDOW)
            continue
        else:
            out.append(char)
        index += 1
    return "".join(out)


def check(text: str) -> str:
    """`text` unchanged when it parses and renders (the gate can scope it); a PromQLError otherwise."""
    render(parse(text))
    return text


@dataclass
class _Renderer:
    window: str
    selector: Callable[[str | None, list[LabelMatcher]], list[LabelMatcher]] | None = None
    increase: Callable[[str], str] | None = None
    seen: list[Any] = field(default_factory=list)

    def expr(self, node: Any) -> str:  # noqa: C901 - one branch per node type of the grammar
        if isinstance(node, pp.VectorSelector):
            return self.vector(node) + self.modifiers(node.at, node.offset)
        if isinstance(node, pp.MatrixSelector):
            vs = node.vector_selector
            return f"{self.vector(vs)}[{self.duration(node.range)}]" + self.modifiers(vs.at, vs.offset)
        if isinstance(node, pp.Call):
            if self.increase is not None and node.func.name == "increase" and _windowed(node.args[0]):
                vs = node.args[0].vector_selector
                if not vs.offset and vs.at is None:  # with `offset` or `@`, Prometheus' increase() as written
                    return self.increase(self.vector(vs))
            return f"{node.func.name}({', '.join(self.expr(a) for a in node.args)})"
        if isinstance(node, pp.AggregateExpr):
            head = str(node.op)
            if node.modifier is not None:
                kind = "by" if node.modifier.type == pp.AggModifierType.By else "without"
                head += f" {kind} ({', '.join(node.modifier.labels)})"
            args = ([self.expr(node.param)] if node.param is not None else []) + [self.expr(node.expr)]
            return f"{head}{' ' if node.modifier is not None else ''}({', '.join(args)})"
        if isinstance(node, pp.BinaryExpr):
            return f"{self.expr(node.lhs)} {str(node.op)}{self.bin_modifier(node.modifier)} {self.expr(node.rhs)}"
        if isinstance(node, pp.ParenExpr):
            return f"({self.expr(node.expr)})"
        if isinstance(node, pp.UnaryExpr):
            return f"-{self.expr(node.expr)}"
        if isinstance(node, pp.SubqueryExpr):
            step = f":{self.duration(node.step)}" if node.step is not None else ":"
            span = self.duration(node.range) if node.range is not None else ""
            return f"{self.expr(node.expr)}[{span}{step}]" + self.modifiers(node.at, node.offset)
        if isinstance(node, pp.NumberLiteral):
            return number(node.val)
        if isinstance(node, pp.StringLiteral):
            return quote(node.val)
        raise PromQLError(f"unsupported PromQL node {type(node).__name__}")

    def vector(self, node: Any) -> str:
        if node.matchers.or_matchers:
            raise PromQLError("`or` between label matchers is not supported by Prometheus 2.x")
        matchers = [_matcher(m) for m in node.matchers.matchers]
        if self.selector is not None:
            matchers = matchers + self.selector(node.name, matchers)
            self.seen.append((node.name, matchers))
        inner = ", ".join(m.render() for m in matchers)
        return f"{node.name or ''}{{{inner}}}" if inner or not node.name else node.name

    def bin_modifier(self, modifier: Any) -> str:
        if modifier is None:
            return ""
        fill = getattr(modifier, "fill_values", None)
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            raise PromQLError("fill values in vector matching are not supported by Prometheus 2.x")
        text = " bool" if modifier.return_bool else ""
        if modifier.matching is not None:
            kind = "on" if modifier.matching.type == pp.LabelModifierType.Include else "ignoring"
            text += f" {kind} ({', '.join(modifier.matching.labels)})"
        if modifier.card == pp.VectorMatchCardinality.ManyToOne:
            text += f" group_left ({', '.join(modifier.group_labels or [])})"
        elif modifier.card == pp.VectorMatchCardinality.OneToMany:
            text += f" group_right ({', '.join(modifier.group_labels or [])})"
        return text

    def modifiers(self, at: Any, offset: timedelta | None) -> str:
        text = ""
        if at is not None:
            if at.type == pp.AtModifierType.Start:
                text += " @ start()"
            elif at.type == pp.AtModifierType.End:
                text += " @ end()"
            else:
                text += f" @ {_at_seconds(at):.3f}"
        if offset is not None and offset:
            sign = "-" if offset < timedelta(0) else ""
            text += f" offset {sign}{format_duration(abs(offset).total_seconds())}"
        return text

    def duration(self, value: timedelta) -> str:
        return self.window if value == _WINDOW_STAND_IN else format_duration(value.total_seconds())


def _at_seconds(at: Any) -> float:
    try:
        return float(at.at.timestamp())
    except BaseException as exc:  # the binding panics (a BaseException) on a time before 1970
        if type(exc).__name__ != "PanicException":
            raise
        raise PromQLError("an `@` time before 1970 cannot be read by the PromQL parser; write a later time") from None


def _windowed(node: Any) -> bool:
    return isinstance(node, pp.MatrixSelector) and node.range == _WINDOW_STAND_IN


def number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0 and math.copysign(1.0, value) < 0:
        return "-0"  # 1 / -0 is -Inf: the sign matters
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render(tree: Any, *, window: str = WINDOW) -> str:
    """PromQL for a syntax tree; a `$W` range is written as `window`."""
    return _Renderer(window).expr(tree)


def expand(template: str, window: str, increase: Callable[[str, str], str]) -> str:
    """The template with $W set to `window` and every `increase(sel[$W])` replaced by increase(sel, window)."""
    return _Renderer(window, increase=lambda selector: increase(selector, window)).expr(parse(template))


@dataclass(frozen=True)
class SumOfIncrease:
    """`sum [by|without (labels)] (increase(selector[$W]))`."""

    mode: str  # "", "by" or "without"
    labels: tuple[str, ...]
    selector: str


def sum_of_increase(template: str) -> SumOfIncrease | None:
    """The parts of a template that sums one counter's increase over the window, else None."""
    tree = parse(template)
    while isinstance(tree, pp.ParenExpr):
        tree = tree.expr
    if not isinstance(tree, pp.AggregateExpr) or str(tree.op) != "sum" or tree.param is not None:
        return None
    inner = tree.expr
    while isinstance(inner, pp.ParenExpr):
        inner = inner.expr
    if not (isinstance(inner, pp.Call) and inner.func.name == "increase" and _windowed(inner.args[0])):
        return None
    vs = inner.args[0].vector_selector
    if vs.offset or vs.at is not None:
        return None
    mode, labels = "", tuple[str, ...]()
    if tree.modifier is not None:
        mode = "by" if tree.modifier.type == pp.AggModifierType.By else "without"
        labels = tuple(tree.modifier.labels)
    return SumOfIncrease(mode, labels, _Renderer(WINDOW).vector(vs))


def increase_families(template: str) -> list[str]:
    """The metric names whose increase the template takes, in order of appearance."""
    names: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, pp.Call) and node.func.name == "increase":
            arg = node.args[0]
            if isinstance(arg, pp.MatrixSelector) and arg.vector_selector.name:
                names.append(arg.vector_selector.name)
        return None

    pp.walk(parse(template), visit)
    return list(dict.fromkeys(names))


def add_matchers(selector: str, labels: Mapping[str, str]) -> str:
    """A vector selector with equality matchers for `labels` added."""
    tree = parse(selector)
    if not isinstance(tree, pp.VectorSelector):
        raise PromQLError(f"{selector!r} is not a vector selector")
    extra = [LabelMatcher(k, "=", v) for k, v in labels.items()]
    return _Renderer(WINDOW, selector=lambda name, matchers: extra).expr(tree)


# -- scope: one environment of a shared Prometheus --------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """Which series of a shared Prometheus are the environment's.

    Every selector of a component metric gets the environment's matchers, and the job of the component
    that owns the metric unless it names a job itself: a metric is owned by the component the contract
    lists it under, or whose name it starts with (`worker_…` is the worker's). A metric owned by none
    (`up`, `process_*`, the flag gauge) is read from the component jobs. Prometheus' own series
    (`prometheus_*`, or a selector naming Prometheus' job) get that job and `self_selector` only."""

    component_jobs: Mapping[str, str]
    selector: tuple[LabelMatcher, ...] = ()
    owners: Mapping[str, str] = field(default_factory=dict)
    self_job: str = "prometheus"
    self_selector: tuple[LabelMatcher, ...] = ()

    def owner(self, name: str | None) -> str | None:
        if name is None:
            return None
        if name in self.owners:
            return self.owners[name]
        prefixes = [c for c in self.component_jobs if name.startswith(f"{c}_")]
        return max(prefixes, key=len) if prefixes else None

    def is_own(self, name: str | None, matchers: Sequence[LabelMatcher]) -> bool:
        """Whether a selector reads Prometheus' own series."""
        if name is None:
            name = next((m.value for m in matchers if m.name == "__name__" and m.op == "="), None)
        named_job = [m for m in matchers if m.name == "job"]
        if named_job:
            return all(m.op == "=" and m.value == self.self_job for m in named_job)
        return name is not None and name.startswith("prometheus_")

    def added(self, name: str | None, matchers: list[LabelMatcher]) -> list[LabelMatcher]:
        """The matchers this scope adds to a selector with `name` and `matchers`."""
        has_job = any(m.name == "job" for m in matchers)
        if name is None:
            name = next((m.value for m in matchers if m.name == "__name__" and m.op == "="), None)
        if self.is_own(name, matchers):
            return ([] if has_job else [LabelMatcher("job", "=", self.self_job)]) + list(self.self_selector)
        extra = list(self.selector)
        if not has_job:
            owner = self.owner(name)
            if owner is not None:
                extra.insert(0, LabelMatcher("job", "=", self.component_jobs[owner]))
            elif self.component_jobs:
                extra.insert(0, LabelMatcher("job", "=~", alternatives(self.component_jobs.values())))
        return extra

    def apply(self, query: str, *, window: str = WINDOW) -> str:
        """The query with every selector scoped (and a `$W` range written as `window`)."""
        return _Renderer(window, selector=self.added).expr(parse(query))

    def admits_target(self, labels: Mapping[str, str]) -> bool:
        """Whether an /api/v1/targets entry (by its labels) belongs to the environment."""
        if labels.get("job") == self.self_job:
            return all(m.matches(labels) for m in self.self_selector)
        return all(m.matches(labels) for m in self.selector)

    def describe(self) -> str:
        shown = ", ".join(m.render() for m in self.selector) or "none"
        own = ", ".join(m.render() for m in self.self_selector) or "none"
        jobs = ", ".join(f"{c}: job={j}" for c, j in self.component_jobs.items())
        return f"selector {{{shown}}}; {jobs}; Prometheus' own series: job={self.self_job}, selector {{{own}}}"


class _ScopeSettings(Protocol):
    job: str
    selector: tuple[LabelMatcher, ...]
    self_selector: tuple[LabelMatcher, ...]


def scope_for(component_jobs: Mapping[str, str], settings: _ScopeSettings,
              owners: Mapping[str, str] | None = None) -> Scope:
    """The scope an environment's `prometheus:` settings and component jobs describe."""
    return Scope(dict(component_jobs), settings.selector, dict(owners or {}), settings.job, settings.self_selector)


def alternatives(values: Iterable[str]) -> str:
    """A regex matching exactly these values (for a `=~` matcher; quoting is done when rendered)."""
    return "|".join(re.escape(value) for value in values)
