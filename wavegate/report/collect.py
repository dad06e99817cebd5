"""Run the catalogue against Prometheus for both windows; keep every answer and export it as CSV."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from wavegate.context import expand
from wavegate.errors import PrometheusUnavailable, QueryFailed
from wavegate.prometheus import PrometheusClient, RangeSeries
from wavegate.promql import Scope
from wavegate.report.catalogue import GRAPHS, ROWS, Graph, Row
from wavegate.report.errors import ReportPrometheusError
from wavegate.settings import Window, format_duration, format_time

WINDOW_NAMES = ("baseline", "candidate")
POINTS_PER_WINDOW = 240  # enough for a smooth line, few enough for one fast range query per window


def resolve(promql: str, window: Window, rate_range: float, scrape_interval: float) -> str:
    """A graph's query: $W, $R and $S set (a graph plots rates, not the window's increase)."""
    return (promql.replace("$W", window.range).replace("$R", format_duration(rate_range))
            .replace("$S", format_duration(scrape_interval)))


def row_query(promql: str, window: Window, rate_range: float, scrape_interval: float) -> str:
    """A table row's query, expanded by the gate's own code: every increase(sel[$W]) is the same window
    increase the gate computes (series born or reset inside the window counted as the gate counts them)."""
    text = promql.replace("$R", format_duration(rate_range)).replace("$S", format_duration(scrape_interval))
    return expand(text, window.seconds)


def graph_step(window: Window, scrape_interval: float) -> float:
    """Seconds between graph points: ~POINTS_PER_WINDOW per window, never finer than the scrape interval."""
    return float(max(math.ceil(scrape_interval), math.ceil(window.seconds / POINTS_PER_WINDOW)))


def rate_range(step: float, scrape_interval: float) -> float:
    # At least four scrapes so rate() always has two samples, and at least one step so no sample is skipped.
    return max(4 * scrape_interval, step)


@dataclass
class RowResult:
    """The values of one catalogue row in each window: {window: {by-label value or "": value}}."""

    row: Row
    values: dict[str, dict[str, float]] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    def value(self, window: str, key: str = "") -> float | None:
        found = self.values.get(window, {}).get(key)
        return found if found is not None and math.isfinite(found) else None

    def keys(self) -> list[str]:
        return sorted({k for per in self.values.values() for k in per})


@dataclass
class GraphData:
    """The series of one graph per window (range data, or bucket counts for distributions)."""

    graph: Graph
    series: dict[str, list[tuple[str, RangeSeries]]] = field(default_factory=dict)
    queries: dict[str, list[str]] = field(default_factory=dict)
    step: float = 0.0
    error: str | None = None

    def empty(self) -> bool:
        return not any(s.points for per in self.series.values() for _, s in per)


@dataclass
class Collected:
    rows: dict[str, RowResult]
    graphs: dict[str, GraphData]
    windows: dict[str, Window]
    scrape_interval: float

    def row(self, key: str) -> RowResult:
        return self.rows[key]


def _unavailable(exc: PrometheusUnavailable) -> ReportPrometheusError:
    return ReportPrometheusError(f"{exc}; nothing was written (start Prometheus, or pass --env/--env-file for "
                                 "the environment whose Prometheus holds the windows)")


def collect(client: PrometheusClient, windows: dict[str, Window], scrape_interval: float,
            rows: Iterable[Row] = ROWS, graphs: Iterable[Graph] = GRAPHS, scope: Scope | None = None) -> Collected:
    """Ask every row and graph of the catalogue, each query scoped to the environment as the gate scopes its
    own (see promql.Scope); Prometheus down → ReportPrometheusError, a bad query → recorded."""
    try:
        client.check_ready()
    except PrometheusUnavailable as exc:
        raise _unavailable(exc) from None
    except QueryFailed as exc:
        raise ReportPrometheusError(f"{exc}; is the environment's prometheus.url a Prometheus API?") from None
    out = Collected({}, {}, windows, scrape_interval)
    for row in rows:
        result = RowResult(row)
        for name, window in windows.items():
            step = graph_step(window, scrape_interval)
            promql = scoped(scope, row_query(row.promql, window, rate_range(step, scrape_interval), scrape_interval),
                             window)
            result.queries[name] = promql
            try:
                answer = client.query(promql, window.end)
            except PrometheusUnavailable as exc:
                raise _unavailable(exc) from None
            except QueryFailed as exc:
                result.error = str(exc)
                continue
            result.values[name] = {(s.labels.get(row.by, "") if row.by else ""): s.value for s in answer.series}
        out.rows[row.key] = result
    for graph in graphs:
        data = GraphData(graph)
        for name, window in windows.items():
            step = graph_step(window, scrape_interval)
            data.step = step
            per: list[tuple[str, RangeSeries]] = []
            for curve in graph.curves:
                promql = scoped(scope, resolve(curve.promql, window, rate_range(step, scrape_interval),
                                                scrape_interval), window)
                data.queries.setdefault(name, []).append(promql)
                try:
                    if graph.kind == "distribution":
                        answer = client.query(promql, window.end)
                        found = [RangeSeries(s.labels, ((window.end.timestamp(), s.value),)) for s in answer.series]
                    else:
                        found = client.query_range(promql, window.start, window.end, step)
                except PrometheusUnavailable as exc:
                    raise _unavailable(exc) from None
                except QueryFailed as exc:
                    data.error = str(exc)
                    continue
                for series in found:
                    legend = curve.prefix + ", ".join(series.labels.get(k, "") for k in curve.by)
                    per.append((legend.strip() or "all", series))
            data.series[name] = per
        out.graphs[graph.key] = data
    return out


def scoped(scope: Scope | None, query: str, window: Window | None = None) -> str:
    if scope is None:
        return query
    if window is not None and window.matchers:
        # A track's window (a concurrent comparison): its matchers select that track's series, as the gate's do.
        scope = replace(scope, selector=(*scope.selector, *window.matchers))
    return scope.apply(query)


def _number(value: float) -> str:
    return repr(value) if math.isfinite(value) else str(value)


def write_csvs(collected: Collected, folder: Path) -> list[Path]:
    """One CSV per table row and per graph: every value Prometheus returned, with the query and its time."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for result in collected.rows.values():
        path = folder / f"{result.row.key}.csv"
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["window", "evaluated_at", "label", result.row.by or "", "value", "unit", "query"])
            for name, window in collected.windows.items():
                values = result.values.get(name, {})
                if not values:
                    writer.writerow([name, format_time(window.end), "", "", "", result.row.unit,
                                     result.queries.get(name, "")])
                for key, value in sorted(values.items()):
                    writer.writerow([name, format_time(window.end), result.row.by or "", key, _number(value),
                                     result.row.unit, result.queries.get(name, "")])
        written.append(path)
    for data in collected.graphs.values():
        path = folder / f"graph_{data.graph.key}.csv"
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["window", "series", "labels", "timestamp", "time", "seconds_since_window_start",
                             "value", "le"])
            for name, per in data.series.items():
                start = collected.windows[name].start.timestamp()
                for legend, series in per:
                    labels = ";".join(f"{k}={v}" for k, v in sorted(series.labels.items()))
                    for t, value in series.points:
                        moment = collected.windows[name].start + timedelta(seconds=t - start)
                        writer.writerow([name, legend, labels, f"{t:.3f}", format_time(moment), f"{t - start:.0f}",
                                         _number(value), series.labels.get("le", "")])
        written.append(path)
    return written
