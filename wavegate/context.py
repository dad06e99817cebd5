"""The evaluation context shared by all checks of one gate run: environment, contract, Prometheus, scrapes.

Each check asks for a Probe, which runs queries for one criterion and remembers them (and any Prometheus
warnings) as evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from wavegate.criteria import Contract
from wavegate.endpoints import Scrape, fetch
from wavegate.errors import EvaluationError, ScrapeFailed
from wavegate.prometheus import PrometheusClient, QueryResult, RangeSeries, Series
from wavegate.settings import Environment, Window, format_duration
from wavegate.verdicts import Observation


@dataclass
class GateContext:
    """What every check needs; created once per session by the plugin."""

    environment: Environment
    contract: Contract
    prometheus: PrometheusClient
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _scrapes: dict[str, Scrape | ScrapeFailed] = field(default_factory=dict)
    _ready: EvaluationError | bool | None = None

    @property
    def component_jobs(self) -> dict[str, str]:
        return {name: c.job for name, c in self.environment.components.items()}

    def jobs_matcher(self, jobs: list[str] | None = None) -> str:
        """`job=~"router|gateway|worker"` for the environment's component jobs (or `jobs`)."""
        return f'job=~"{promql_alternatives(jobs if jobs is not None else list(self.component_jobs.values()))}"'

    def ensure_prometheus(self) -> None:
        """Check once that Prometheus answers; afterwards re-raise the same failure at once."""
        if self._ready is None:
            try:
                self.prometheus.check_ready()
                self._ready = True
            except EvaluationError as exc:
                self._ready = exc
        if isinstance(self._ready, EvaluationError):
            raise self._ready

    def scrape(self, component: str) -> Scrape:
        """The component's /metrics, fetched once per run and shared by the checks."""
        if component not in self._scrapes:
            settings = self.environment.components[component]
            try:
                self._scrapes[component] = fetch(component, settings.metrics_url, settings.timeout)
            except ScrapeFailed as exc:
                self._scrapes[component] = exc
        cached = self._scrapes[component]
        if isinstance(cached, ScrapeFailed):
            raise cached
        return cached

    def scrape_ok(self, component: str) -> Scrape:
        """Like scrape(), but an HTTP error status is a reason the check cannot be evaluated."""
        result = self.scrape(component)
        if not result.ok:
            raise ScrapeFailed(f"{component} metrics endpoint {result.url} answered HTTP {result.status}")
        return result

    def probe(self) -> Probe:
        self.ensure_prometheus()
        return Probe(self)


class Probe:
    """Runs the queries of one criterion and keeps them, with their results, as evidence."""

    def __init__(self, context: GateContext) -> None:
        self.context = context
        self.results: list[QueryResult] = []
        self.raw_samples = 0

    def at(self, promql: str, moment: datetime) -> QueryResult:
        result = self.context.prometheus.query(promql, moment)
        self.results.append(result)
        return result

    def over(self, template: str, window: Window, *, until: datetime | None = None) -> QueryResult:
        """Run `template` with $W replaced by the window's range, at the window's end (or `until`)."""
        return self.at(expand(template, window.seconds), until or window.end)

    def samples(self, selector: str, window: Window, *, before: float = 0.0) -> list[RangeSeries]:
        """The raw samples of `selector` in the window, plus `before` seconds ahead of its start; kept as
        evidence by their query and counts (not every sample)."""
        seconds = window.seconds + before
        series, warnings = self.context.prometheus.samples(selector, seconds, window.end)
        count = sum(len(s.points) for s in series)
        # Evidence: one row per series with its number of samples (a week of raw samples is too much to keep).
        self.results.append(QueryResult(
            f"{selector}[{format_duration(seconds)}]", window.end,
            tuple(Series(dict(s.labels), float(len(s.points))) for s in series), warnings, raw=None))
        self.raw_samples += count
        return series

    def finish(self, observation: Observation) -> Observation:
        """Attach the queries and apply the warnings policy: a warning fails unless the environment allows it."""
        observation.queries = [r.evidence() for r in self.results]
        warnings = list(dict.fromkeys(w for r in self.results for w in r.warnings))
        observation.warnings.extend(warnings)
        if warnings and not self.context.environment.prometheus.allow_warnings:
            observation.fail(
                "Prometheus answered with warnings (e.g. a partial response), so the result may be incomplete; "
                "set prometheus.allow_warnings: true in the environment file only if that is acceptable"
            )
        return observation

    def evidence(self) -> list[dict[str, Any]]:
        return [r.evidence() for r in self.results]


def promql_alternatives(values: list[str]) -> str:
    """`a|b|c` matching exactly these values, escaped for a regex inside a PromQL double-quoted string."""
    # re.escape writes `\-` for `-`, which PromQL's string parser rejects: double every backslash.
    return "|".join(re.escape(value) for value in values).replace("\\", "\\\\")


_INCREASE = re.compile(r"increase\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^{}]*\})?)\s*\[\$W\]\s*\)")


def window_increase(selector: str, window: str) -> str:
    """PromQL for each series' increase over the window that ends at the evaluation time.

    The value a counter had at the window's start is its last sample at or before the start, looked for
    over one whole window length with a range selector: it ignores staleness markers, so a failed scrape
    or a gap just before the window does not make a series look new. Then, per series:
    - no reset in the window (and none between that last sample and the first inside): last - start
      value, exact;
    - born inside the window (no sample in the window before it), or reset only across the window's
      start: its last value, exact, because a counter starts at 0;
    - a reset inside the window: Prometheus' increase(), which adds the value before each reset and
      extrapolates to the window's edges (an estimate within about one scrape interval's increase).
    Staleness markers never count as samples; gaps inside the window are spanned.
    """
    last = f"last_over_time({selector}[{window}])"
    before = f"last_over_time({selector}[{window}] offset {window})"
    steady = f"resets({selector}[{window}]) == 0"
    return (f"((({last} - {before}) and ({steady}) and (min_over_time({selector}[{window}]) >= {before}))"
            f" or ({last} and ({steady})) or increase({selector}[{window}]))")


def expand(template: str, seconds: float) -> str:
    """The template with every `increase(sel[$W])` made a window increase (see window_increase) and $W set
    to the window's range."""
    window = format_duration(seconds)
    expanded = _INCREASE.sub(lambda match: window_increase(match.group(1), window), template)
    return expanded.replace("$W", window)
