"""The evaluation context shared by all checks of one gate run: environment, contract, Prometheus, scrapes.

Each check asks for a Probe, which runs queries for one criterion and remembers them (and any Prometheus
warnings) as evidence.
"""

from __future__ import annotations

import copy
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from wavegate import promql, samples, transport
from wavegate.criteria import Contract
from wavegate.endpoints import Scrape, fetch
from wavegate.errors import EvaluationError, ScrapeFailed
from wavegate.prometheus import PrometheusClient, QueryResult, RangeSeries, Series
from wavegate.settings import Environment, Window, format_duration
from wavegate.verdicts import Observation


@dataclass
class Ahead:
    """One criterion's evaluation ahead of its test: the run's stop signal, and whether this evaluation was cut
    short (then its result is not kept: the test evaluates the criterion itself)."""

    stop: threading.Event
    cut_short: bool = False

    def halt(self, why: str) -> Prefetching:
        self.cut_short = True
        return Prefetching(why)


class Prefetching(Exception):
    """Raised when a criterion evaluated ahead for its queries reaches a /metrics scrape: that one waits for
    the criterion's own test, so scrapes keep their order and timing."""


@dataclass
class GateContext:
    """What every check needs; created once per session by the plugin."""

    environment: Environment
    contract: Contract
    prometheus: PrometheusClient
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    _scrapes: dict[str, Scrape | ScrapeFailed] = field(default_factory=dict)
    _ready: EvaluationError | bool | None = None
    budget: transport.Budget = field(default_factory=transport.Budget)
    # Set on the copies that evaluate criteria ahead (wavegate.prefetch): they never scrape, and ask nothing
    # more once the run is interrupted.
    prefetching: Ahead | None = None
    # What the criteria evaluated ahead found, by criterion id, until their test takes it (shared by copies).
    judged_ahead: dict[str, Observation | EvaluationError] = field(default_factory=dict)

    def __repr__(self) -> str:  # it holds whole expositions: pytest's failure reports must not print them
        return f"GateContext(environment={self.environment.name!r}, scrapes={sorted(self._scrapes)})"

    def __post_init__(self) -> None:
        # The run's time budget starts now and bounds every request of the run.
        self.budget = transport.Budget(self.environment.model.run_budget)
        self.prometheus.budget = self.budget

    @property
    def component_jobs(self) -> dict[str, str]:
        return {name: c.job for name, c in self.environment.components.items()}

    @property
    def scope(self) -> promql.Scope:
        """The environment's series in a (possibly shared) Prometheus; every query goes through it."""
        owners = {metric: component for component, metrics in self.contract.components.items()
                  for metric in metrics if component in self.component_jobs}
        return promql.scope_for(self.component_jobs, self.environment.prometheus, owners)

    def jobs_matcher(self, jobs: list[str] | None = None) -> str:
        """`job=~"router|gateway|worker"` for the environment's component jobs (or `jobs`), quoted for PromQL
        whatever the job names hold."""
        chosen = jobs if jobs is not None else list(self.component_jobs.values())
        return f"job=~{promql.quote(promql.alternatives(chosen))}"

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

    def endpoints(self, component: str | None = None) -> list[str]:
        """Every /metrics endpoint (of one component): the component's name, or `component[name]` for each of
        the URLs of a component that lists several (one per track or instance)."""
        return [f"{name}[{which}]" if which else name for name, settings in self.environment.components.items()
                if component in (None, name) for which in settings.urls]

    def candidate_endpoints(self, component: str) -> list[str]:
        """The component's endpoints of the candidate (canary) track: those named after a value of the candidate
        track's matchers (`canary` for `track="canary"`), or every endpoint when none is."""
        every = self.endpoints(component)
        values = {m.value for m in self.environment.candidate.matchers if m.op == "="}
        chosen = [e for e in every if e.partition("[")[2].rstrip("]") in values]
        return chosen or every

    def scrape(self, endpoint: str) -> Scrape:
        """An endpoint's /metrics (see endpoints()), fetched once per run and shared by the checks."""
        if self.prefetching is not None:
            raise self.prefetching.halt(f"{endpoint} is scraped by its own test")
        if endpoint not in self._scrapes:
            component, _, which = endpoint.partition("[")
            settings = self.environment.components[component]
            try:
                self._scrapes[endpoint] = fetch(endpoint, settings.urls[which.rstrip("]")], settings.timeout,
                                                limit=settings.max_bytes, budget=self.budget)
            except ScrapeFailed as exc:
                self._scrapes[endpoint] = exc
        cached = self._scrapes[endpoint]
        if isinstance(cached, ScrapeFailed):
            raise cached
        return cached

    def scrape_ok(self, component: str) -> Scrape:
        """Like scrape(), but an HTTP error status is a reason the check cannot be evaluated."""
        result = self.scrape(component)
        if not result.ok:
            raise ScrapeFailed(f"{component} metrics endpoint {result.url} answered HTTP {result.status}")
        return result

    def judging(self, environment: Environment) -> GateContext:
        """The same run (budget, scrapes, Prometheus) judging another view of the environment, e.g. the whole
        fleet instead of the canary track."""
        other = copy.copy(self)
        other.environment = environment
        return other

    def probe(self) -> Probe:
        self.ensure_prometheus()
        return Probe(self)

    def proceed(self) -> None:
        """Before each query: an evaluation ahead of its test stops here once the run is interrupted."""
        if self.prefetching is not None and self.prefetching.stop.is_set():
            raise self.prefetching.halt("the run was interrupted")


class Probe:
    """Runs the queries of one criterion and keeps them, with their results, as evidence."""

    def __init__(self, context: GateContext) -> None:
        self.context = context
        self.results: list[QueryResult] = []
        self.raw_samples = 0

    def at(self, query: str, moment: datetime, *, track: Sequence[promql.LabelMatcher] = ()) -> QueryResult:
        """The query, scoped to the environment (see promql.Scope) and to a track's matchers, evaluated at
        `moment`."""
        self.context.proceed()
        result = self.context.prometheus.query(self.scope(query, track=track), moment)
        self.results.append(result)
        return result

    def scope(self, query: str, *, window: str = promql.WINDOW, track: Sequence[promql.LabelMatcher] = ()) -> str:
        scope = self.context.scope
        if track:
            # A track's matchers select the components' series of that track (Prometheus' own series keep theirs).
            scope = replace(scope, selector=(*scope.selector, *track))
        try:
            return scope.apply(query, window=window)
        except promql.PromQLError as exc:
            raise EvaluationError(f"cannot scope the query to the environment: {exc}") from None

    def over(self, template: str, window: Window, *, until: datetime | None = None) -> QueryResult:
        """Run `template` with $W replaced by the window's range, at the window's end (or `until`).

        A template that sums one counter's increase (`sum [by|without (...)] (increase(sel[$W]))`) is computed
        exactly (see `increases`); any other template runs as PromQL with window_increase (Prometheus'
        increase() for series that reset inside the window)."""
        aggregate = promql.sum_of_increase(template)
        if aggregate is None or until is not None:
            return self.at(expand(template, window.seconds), until or window.end, track=window.matchers)
        mode, keys = aggregate.mode, aggregate.labels
        groups: dict[tuple[tuple[str, str], ...], float] = {}
        for series_labels, value in self.increases(aggregate.selector, window):
            if mode == "by":
                key = tuple((k, series_labels.get(k, "")) for k in keys if series_labels.get(k, ""))
            elif mode == "without":
                key = tuple(sorted((k, v) for k, v in series_labels.items() if k not in keys and k != "__name__"))
            else:
                key = ()
            groups[key] = groups.get(key, 0.0) + value
        series = tuple(Series(dict(key), value) for key, value in groups.items())
        shown = self.scope(template, window=format_duration(window.seconds), track=window.matchers)
        return QueryResult(f"{shown} (exact window increase)", window.end, series, ())

    def increases(self, selector: str, window: Window) -> list[tuple[dict[str, str], float]]:
        """Each series' increase over the window by the documented rule (see window_increase), exactly, reading
        each sample of the window about once.

        One query (window_parts) answers, per series, its last value near the window's end, its last value in
        the short lookback before the start, and its drops over both: a series with both values and no drop
        increased by their difference. The rest are rare and get more reading: a series without a value before
        the start is looked for over one whole window length before it (none: born in the window, it counts
        from 0); the raw samples of a series that dropped (a restart, a re-created child), ended early, or was
        unscraped just before the start are walked here, from its last sample before the window (looked for
        over one window length), a drop counting as a restart from 0."""
        query = window_parts(selector, window.seconds, self.lookback(window))
        parts: dict[str, dict[tuple[tuple[str, str], ...], float]] = {"end": {}, "start": {}, "resets": {}}
        every: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        for s in self.at(query, window.end, track=window.matchers).series:
            labels = {k: v for k, v in s.labels.items() if k not in (PART, "__name__")}
            parts.setdefault(s.labels.get(PART, ""), {})[_identity(labels)] = s.value
            every.setdefault(_identity(labels), labels)
        found: list[tuple[dict[str, str], float]] = []
        walked: list[dict[str, str]] = []
        born: list[dict[str, str]] = []
        for key, labels in every.items():
            last, before = parts["end"].get(key), parts["start"].get(key)
            if parts["resets"].get(key) != 0 or last is None:
                walked.append(labels)
            elif before is None:
                born.append(labels)
            else:
                found.append((labels, last - before))
        earlier = self._seen_before(selector, born, window)
        for labels in born:
            if _identity(labels) in earlier:
                walked.append(labels)  # unscraped just before the start, but not new: its start value is older
            else:
                found.append((labels, parts["end"][_identity(labels)]))
        return found + self._walk(selector, walked, window)

    def lookback(self, window: Window) -> float:
        """How far before the window's start its start value is looked for first: a few scrape intervals (at
        least Prometheus' 5m lookback), never more than the window."""
        interval = self.context.prometheus.settings.scrape_interval
        return min(window.seconds, max(300.0, 4 * interval))

    def _seen_before(self, selector: str, series: list[dict[str, str]], window: Window) -> set[tuple[tuple[str, str],
                                                                                                    ...]]:
        """Which of these series have a sample within one window length before the window's start (their
        start value, which the short lookback missed)."""
        w = format_duration(window.seconds)
        seen: set[tuple[tuple[str, str], ...]] = set()
        for chunk in range(0, len(series), _CHUNK):
            query = " or ".join(f"last_over_time({promql.add_matchers(selector, labels)}[{w}] offset {w})"
                                for labels in series[chunk:chunk + _CHUNK])
            seen.update(_identity(s.labels) for s in self.at(query, window.end, track=window.matchers).series)
        return seen

    def _walk(self, selector: str, series: list[dict[str, str]], window: Window) -> list[tuple[dict[str, str],
                                                                                              float]]:
        """The increases of these series from their raw samples (walk_increase), fetched one instance at a
        time; a series without a sample in the window has none (as last_over_time over the window)."""
        if not series:
            return []
        start, end = window.start.timestamp(), window.end.timestamp()
        wanted = {_identity(labels) for labels in series}
        batches = dict.fromkeys(_batch(labels) for labels in series)
        found: list[tuple[dict[str, str], float]] = []
        for batch in batches:
            for raw in self.samples(promql.add_matchers(selector, dict(batch)), window, before=window.seconds):
                labels = {k: v for k, v in raw.labels.items() if k != "__name__"}
                if _identity(labels) in wanted and any(start <= t <= end for t, _ in raw.points):
                    found.append((labels, walk_increase(raw.points, start, end, window.seconds)))
        return found

    def samples(self, selector: str, window: Window, *, before: float = 0.0) -> list[RangeSeries]:
        """The raw samples of `selector` in the window, plus `before` seconds ahead of its start; kept as
        evidence by their query and counts (not every sample)."""
        seconds = window.seconds + before
        selector = self.scope(selector, track=window.matchers)
        self.context.proceed()
        series, warnings = self.context.prometheus.samples(selector, seconds, window.end)
        count = sum(len(s.points) for s in series)
        # Evidence: one row per series with its number of samples (a week of raw samples is too much to keep).
        self.results.append(QueryResult(
            f"{selector}[{format_duration(seconds)}]", window.end,
            tuple(Series(dict(s.labels), float(len(s.points))) for s in series), warnings, raw=None))
        self.raw_samples += count
        return series

    def unreadable_scrapes(self, series: Sequence[RangeSeries], window: Window) -> list[int]:
        """For each of `series`, the successful scrapes (`up` = 1) of its target inside the window at which it
        has no finite sample. A NaN sample counts; so does a missing one, which is how a NaN looks in a
        backend that drops NaN samples on ingestion (VictoriaMetrics does): the same gauge then gets the same
        verdict on either backend. Every sample of one scrape carries the scrape's timestamp (Prometheus and
        vmagent alike), so the times are compared exactly. Only for series the target always exports
        (process metrics, gauges set at start): a lazily created one is missing before its first use."""
        jobs = sorted({s.labels.get("job", "") for s in series} - {""})
        if not jobs:
            return [0] * len(series)
        up = self.samples(f"up{{{self.context.jobs_matcher(jobs)}}}", window)
        first = window.start.timestamp()
        scrapes: dict[tuple[str, str], set[float]] = {}
        for s in up:
            key = (s.labels.get("job", ""), s.labels.get("instance", ""))
            scrapes.setdefault(key, set()).update(samples.times_where_equal(s.points, 1.0, since=first))
        counts = []
        for s in series:
            readable = samples.finite_times(s.points)
            nan = {t for t, v in s.points if t >= first and not math.isfinite(v)} \
                if len(readable) < len(s.points) else set()
            scraped = scrapes.get((s.labels.get("job", ""), s.labels.get("instance", "")), set())
            counts.append(len(nan | (scraped - readable)))
        return counts

    def finish(self, observation: Observation) -> Observation:
        """Attach the queries and apply the warnings policy: a warning fails unless the environment allows it."""
        observation.queries = [r.evidence() for r in self.results]
        warnings = list(dict.fromkeys(w for r in self.results for w in r.warnings))
        return apply_warnings_policy(observation, warnings, self.context.environment.prometheus.allow_warnings)

    def evidence(self) -> list[dict[str, Any]]:
        return [r.evidence() for r in self.results]


def apply_warnings_policy(observation: Observation, warnings: Sequence[str], allowed: bool) -> Observation:
    """Keep the answers' warnings with the observation; unless allowed, they fail it, a partial answer by name."""
    observation.warnings.extend(w for w in warnings if w not in observation.warnings)
    if not warnings or allowed:
        return observation
    if any("partial" in w.lower() for w in warnings):
        observation.fail(
            "Prometheus answered partially (a store or storage node did not answer), so the result is incomplete "
            "and cannot pass; bring the missing part back, or set prometheus.allow_warnings: true in the "
            "environment file only if judging incomplete data is acceptable"
        )
    else:
        observation.fail(
            "Prometheus answered with warnings (e.g. a partial response), so the result may be incomplete; "
            "set prometheus.allow_warnings: true in the environment file only if that is acceptable"
        )
    return observation


def promql_alternatives(values: list[str]) -> str:
    """`a|b|c` matching exactly these values, escaped for a regex inside a PromQL double-quoted string."""
    # re.escape writes `\-` for `-`, which PromQL's string parser rejects: double every backslash.
    return "|".join(re.escape(value) for value in values).replace("\\", "\\\\")


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


PART = "__wavegate_part__"  # tells the three answers of window_parts apart
_CHUNK = 20  # series per query when a few are looked up one by one


def window_parts(selector: str, seconds: float, lookback_seconds: float) -> str:
    """One query for Probe.increases: per series (tagged in PART) its last value in the lookback before the
    window's end ("end"), its last value in the lookback before the window's start ("start"), and its drops
    from the lookback before the start to the end ("resets"), so a drop across the start counts too. It reads
    the window's samples about once plus three lookbacks, where last_over_time over the window and over the
    window before it would read them three times and the previous window's once more."""
    window, lookback = format_duration(seconds), format_duration(lookback_seconds)
    span = format_duration(seconds + lookback_seconds)
    tagged = [(f"last_over_time({selector}[{lookback}])", "end"),
              (f"last_over_time({selector}[{lookback}] offset {window})", "start"),
              (f"resets({selector}[{span}])", "resets")]
    return " or ".join(f'label_replace({expression}, "{PART}", "{part}", "", "")' for expression, part in tagged)


def walk_increase(points: Sequence[tuple[float, float]], start: float, end: float, lookback: float) -> float:
    """A counter's increase over (start, end] from its raw samples: from its last sample at or before the
    start (within `lookback`; none: it was born inside and starts from 0), each step adding the growth, or
    the new value after a drop (a restart from 0). NaN samples are skipped."""
    value: float | None = None
    total = 0.0
    for t, v in points:
        if not math.isfinite(v) or t > end or t < start - lookback:
            continue
        if t <= start:
            value = v
            continue
        if value is None:
            value = 0.0
        if v < value and value - v <= NOISE * value:
            continue  # the same value read back one float step lower (VictoriaMetrics' decimals): no reset
        total += v - value if v >= value else v
        value = v
    return total


# Relative difference below which two readings of a counter are the same value: VictoriaMetrics stores
# floats as decimals and can return a value one float64 step (~1e-16 relative) off from one read to the next.
NOISE = 1e-12


def _identity(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "__name__"))


def _batch(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Series fetched together: a restart resets every series of an instance, so one query per instance."""
    if labels.get("job") and labels.get("instance"):
        return (("job", labels["job"]), ("instance", labels["instance"]))
    return _identity(labels)


def expand(template: str, seconds: float) -> str:
    """The template with every `increase(sel[$W])` made a window increase (see window_increase) and $W set
    to the window's range."""
    return promql.expand(template, format_duration(seconds), window_increase)
