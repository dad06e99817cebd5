"""PNG graphs with matplotlib (Agg): both windows on one 'time since window start' axis, or side by side.

matplotlib is optional at import time; `draw_all` fails with ReportToolMissing saying how to install it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wavegate.prometheus import RangeSeries
from wavegate.report.catalogue import Graph
from wavegate.report.collect import Collected, GraphData
from wavegate.report.errors import ArtifactUnavailable, ReportToolMissing

WINDOW_STYLE = {"baseline": {"linestyle": "--", "alpha": 0.75}, "candidate": {"linestyle": "-", "alpha": 1.0}}
VIOLATED = "#d62728"
UNDECIDED = "#8250df"  # the gate could not tell (INCONCLUSIVE): neither a pass's colour nor a failure's


@dataclass(frozen=True)
class GateMarks:
    """What the gate judged on a graph's series (by legend): each one's threshold, in the graph's units, the
    series it found violated (drawn thick and red, named so in the legend) and those it could not decide
    (thick and purple, "inconclusive")."""

    criterion: str
    thresholds: dict[str, float] = field(default_factory=dict)
    violated: frozenset[str] = frozenset()
    undecided: frozenset[str] = frozenset()
STATUS = (("healthy", "#2ca02c"), ("degraded", "#e6c229"), ("overloaded", "#ff7f0e"), ("critical", "#d62728"))
DPI = 110


def pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportToolMissing(
            "matplotlib is not installed, so the report's graphs cannot be drawn; install it with "
            "`pip install 'wavegate[report]'` (or `pip install matplotlib`) and run scripts/build_report again"
        ) from None
    matplotlib.use("Agg")  # no display on a build machine
    import matplotlib.pyplot as plt

    return plt


def time_axis(seconds: float) -> tuple[float, str]:
    """Divisor and label of the shared x axis for windows of `seconds` length."""
    if seconds <= 3 * 3600:
        return 60.0, "minutes since window start"
    if seconds <= 3 * 86400:
        return 3600.0, "hours since window start"
    return 86400.0, "days since window start"


def _colors(names: list[str]) -> dict[str, Any]:
    plt = pyplot()
    palette = plt.get_cmap("tab10").colors
    return {name: palette[i % len(palette)] for i, name in enumerate(sorted(set(names)))}


def _subtitle(collected: Collected) -> str:
    return "   ".join(f"{w.name}: {w.describe().split(' ', 1)[1]}" for w in collected.windows.values())


def _finish(fig: Any, path: Path) -> Path:
    with warnings.catch_warnings():
        # Legends below the plots may not fit tight_layout; bbox_inches="tight" then keeps them in the image.
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    pyplot().close(fig)
    return path


def _timeseries(ax: Any, data: GraphData, collected: Collected, graph: Graph,
                legends: list[str] | None = None, marks: GateMarks | None = None) -> None:
    divisor, xlabel = time_axis(max(w.seconds for w in collected.windows.values()))
    names = [legend for per in data.series.values() for legend, _ in per if legends is None or legend in legends]
    colors = _colors(names)
    missing = []
    for window, per in data.series.items():
        start = collected.windows[window].start.timestamp()
        drawn = 0
        for legend, series in per:
            if legends is not None and legend not in legends:
                continue
            xs = [(t - start) / divisor for t, _ in series.points]
            ys = [v * graph.scale if math.isfinite(v) else math.nan for _, v in series.points]
            bad = marks is not None and legend in marks.violated and window == "candidate"
            open_ = not bad and marks is not None and legend in marks.undecided and window == "candidate"
            label = f"{legend} ({window})" + (" — violated" if bad else " — inconclusive" if open_ else "")
            color = VIOLATED if bad else UNDECIDED if open_ else colors[legend]
            ax.plot(xs, ys, color=color, label=label, linewidth=3.0 if bad or open_ else 1.6, **WINDOW_STYLE[window])
            drawn += 1
        if not drawn:
            missing.append(window)
    for legend, limit in (marks.thresholds.items() if marks is not None else ()):
        if legend in colors:
            ax.axhline(limit, color=VIOLATED if marks and legend in marks.violated else colors[legend], linestyle=":",
                       linewidth=1.4, label=f"{legend} limit ({limit:.4g})")
    if missing:
        ax.text(0.01, 0.97, f"no data in the {' and '.join(missing)} window", transform=ax.transAxes,
                va="top", fontsize=9, color="#666666")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(graph.ylabel)
    if graph.percent_axis:
        top = max((float(v) for line in ax.get_lines() for v in line.get_ydata() if math.isfinite(float(v))),
                  default=100)
        ax.set_ylim(bottom=min(0, ax.get_ylim()[0]), top=max(100, top) * 1.05)
    else:
        ax.set_ylim(bottom=min(0, ax.get_ylim()[0]))
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        # Below the plot: a legend inside would hide the lines it names.
        ax.legend(fontsize=8, ncol=1 if legends is not None else min(3, max(1, len(handles) // 3)),
                  loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)


def _bucket_label(le: float) -> str:
    if math.isinf(le):
        return "+Inf"
    return f"≤{le * 1000:g} ms" if le < 1 else f"≤{le:g} s"


def _per_bucket(series: list[RangeSeries]) -> list[tuple[float, float]]:
    """(upper bound, observations in that bucket) from cumulative `_bucket` counts."""
    cumulative = sorted((float(s.labels.get("le", "nan")), s.points[0][1]) for s in series if s.points)
    out, below = [], 0.0
    for le, count in cumulative:
        out.append((le, max(count - below, 0.0)))
        below = max(below, count)
    return out


def used_buckets(data: GraphData) -> list[float]:
    """Bucket bounds up to the first one above every observation of both windows (empty tails dropped)."""
    bounds = sorted({float(s.labels.get("le", "nan")) for per in data.series.values() for _, s in per})
    last = 0
    for per in data.series.values():
        for legend in {name for name, _ in per}:
            counts = _per_bucket([s for name, s in per if name == legend])
            filled = [i for i, (_, count) in enumerate(counts) if count > 0]
            if filled:
                last = max(last, bounds.index(counts[filled[-1]][0]))
    return bounds[: last + 2]


def _distribution(fig: Any, data: GraphData, graph: Graph) -> None:
    windows = list(data.series)
    axes = fig.subplots(1, len(windows), sharey=True, squeeze=False)[0]
    groups = sorted({legend for per in data.series.values() for legend, _ in per})
    colors = _colors(groups)
    for ax, window in zip(axes, windows, strict=True):
        per = data.series[window]
        bounds = used_buckets(data)
        width = 0.8 / max(len(groups), 1)
        for index, group in enumerate(groups):
            counts = dict(_per_bucket([s for legend, s in per if legend == group]))
            xs = [i + (index - (len(groups) - 1) / 2) * width for i in range(len(bounds))]
            ax.bar(xs, [counts.get(b, 0.0) for b in bounds], width=width, color=colors[group], label=group)
        ax.set_xticks(range(len(bounds)), [_bucket_label(b) for b in bounds], rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{window} window", fontsize=10)
        ax.set_xlabel("bucket (upper bound)")
        ax.grid(True, axis="y", alpha=0.3)
        if not per:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="#666666")
        elif len(groups) > 1 or groups[0] != "all":
            ax.legend(fontsize=8)
    axes[0].set_ylabel(graph.ylabel)


def status_shares(series: RangeSeries) -> list[float]:
    """Share of the samples at each overload status 0..3 (values rounded to the nearest status)."""
    values = [min(max(round(v), 0), 3) for _, v in series.points if math.isfinite(v)]
    return [values.count(level) / len(values) if values else 0.0 for level in range(4)]


def _status(ax: Any, data: GraphData, graph: Graph) -> None:
    rows: list[tuple[str, list[float]]] = []
    for window, per in data.series.items():
        for legend, series in sorted(per, key=lambda item: item[0]):
            rows.append((f"{legend} ({window})", [share * 100 for share in status_shares(series)]))
    if not rows:
        raise ArtifactUnavailable("no worker_overload_status series in either window")
    labels = [label for label, _ in rows]
    left = [0.0] * len(rows)
    for level, (name, color) in enumerate(STATUS):
        widths = [shares[level] for _, shares in rows]
        ax.barh(labels, widths, left=left, color=color, label=f"{level} {name}")
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlim(0, 100)
    ax.set_xlabel(graph.ylabel)
    ax.set_ylabel("resource pool (window)")
    ax.invert_yaxis()
    ax.legend(fontsize=8, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    ax.grid(True, axis="x", alpha=0.3)


def draw(graph: Graph, data: GraphData, collected: Collected, folder: Path, marks: GateMarks | None = None) -> Path:
    """Draw one graph into folder/<key>.png; ArtifactUnavailable when there is nothing to draw."""
    if data.error:
        raise ArtifactUnavailable(f"its query failed: {data.error}")
    if data.empty():
        queries = "; ".join(sorted({q for qs in data.queries.values() for q in qs}))
        raise ArtifactUnavailable(f"Prometheus has no series for it in either window (`{queries}`)")
    plt = pyplot()
    path = folder / f"{graph.key}.png"
    if graph.kind == "latency":
        components = ("gateway", "router", "worker")
        fig, axes = plt.subplots(1, 3, figsize=(15, 6.5))
        for ax, component in zip(axes, components, strict=True):
            legends = [f"{component} p{q}" for q in (50, 95, 99)]
            _timeseries(ax, data, collected, graph, legends, marks)
            ax.set_title(component, fontsize=10)
    elif graph.kind == "distribution":
        fig = plt.figure(figsize=(12, 5))
        _distribution(fig, data, graph)
    elif graph.kind == "status":
        fig, ax = plt.subplots(figsize=(11, 5))
        _status(ax, data, graph)
    else:
        fig, ax = plt.subplots(figsize=(11, 6.5))
        _timeseries(ax, data, collected, graph, marks=marks)
    judged = ""
    if marks is not None and (marks.thresholds or marks.violated or marks.undecided):
        said = ([f"dotted: the limit {marks.criterion} judged against"] if marks.thresholds else [])
        said += ["thick red: violated"] if marks.violated else []
        said += [f"thick purple: {marks.criterion} inconclusive"] if marks.undecided else []
        judged = "\n" + "; ".join(said)
    fig.suptitle(f"{graph.title}\n{_subtitle(collected)}{judged}", fontsize=11)
    return _finish(fig, path)


def draw_all(collected: Collected, folder: Path, marks: dict[str, GateMarks] | None = None) -> dict[str, Path | str]:
    """Every graph of the catalogue: its PNG path, or the reason it could not be drawn. `marks` (by graph
    key) are the gate's thresholds and violated series, drawn on the graphs of the criteria it judged."""
    pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path | str] = {}
    for key, data in collected.graphs.items():
        try:
            out[key] = draw(data.graph, data, collected, folder, (marks or {}).get(key))
        except ArtifactUnavailable as exc:
            out[key] = str(exc)
    return out
