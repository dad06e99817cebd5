"""The rollout's graph: the canary against the stable track over the whole rollout (p99 latency and error ratio
per component, and the canary's share of the gateway's requests), each stage's window shaded with its gate
status and the rollback marked.

It is drawn from the Prometheus the stages' gate runs judged (the environment file they recorded, scoped and
split by track as the gate splits them). That Prometheus may be gone when the report is built: the graph is
then left out with the reason, and the rollout section still renders from the gate's records.
"""

from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wavegate.errors import ConfigError, PrometheusUnavailable, QueryFailed
from wavegate.prometheus import PrometheusClient
from wavegate.promql import PromQLError, Scope, parse_matchers, scope_for
from wavegate.report.catalogue import LATENCY_HISTOGRAMS
from wavegate.report.collect import graph_step, rate_range
from wavegate.report.errors import ArtifactUnavailable, ReportInputError
from wavegate.report.graphs import UNDECIDED, VIOLATED, pyplot, time_axis
from wavegate.report.inputs import load_environment_model
from wavegate.report.rollout import Rollout, StageRecord
from wavegate.settings import PrometheusSettings, Window, format_duration, format_time, redact_url

KEY = "rollout_tracks"
TITLE = "Canary vs stable over the rollout"
PANELS = (("p99", "p99 latency (ms)", 1000.0), ("errors", "error ratio (%)", 100.0),
          ("share", "canary share of\ngateway requests (%)", 100.0))
CURVES = (
    *(("p99", component, f"histogram_quantile(0.99, sum by (le) (rate({histogram}_bucket[$R])))")
      for component, histogram in LATENCY_HISTOGRAMS.items()),
    ("errors", "gateway", 'sum(rate(gateway_http_requests_total{status_code=~"5.."}[$R])) / '
                          "sum(rate(gateway_http_requests_total[$R]))"),
    ("errors", "router", "sum(rate(router_errors_total[$R])) / sum(rate(router_decisions_total[$R]))"),
    ("errors", "worker", "sum(rate(worker_step_errors_total[$R])) / sum(rate(worker_step_executions_total[$R]))"),
)
SHARE = "sum(rate(gateway_http_requests_total[$R]))"
TRACK_STYLE = {"stable": {"linestyle": "--", "alpha": 0.8}, "canary": {"linestyle": "-", "alpha": 1.0}}
STAGE_COLOURS = {"passed": "#2ca02c", "failed": VIOLATED, "inconclusive": UNDECIDED}


@dataclass
class Line:
    panel: str
    name: str  # component, or "canary" for the share
    track: str  # stable / canary / "" (the share: both tracks)
    query: str
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class RolloutData:
    """What Prometheus answered for the rollout's span."""

    start: datetime
    end: datetime
    step: float
    url: str
    lines: list[Line]
    tracks: dict[str, str]  # stable / canary -> matchers as written in PromQL


def span(rollout: Rollout, scrape_interval: float) -> tuple[datetime, datetime] | None:
    """From a little before the first stage to a little after the last moment the rollout recorded."""
    starts = [s.start for s in rollout.stages if s.start] + ([rollout.started_at] if rollout.started_at else [])
    ends = [s.end for s in rollout.stages if s.end] + ([rollout.finished_at] if rollout.finished_at else [])
    if rollout.rollback is not None and rollout.rollback.at is not None:
        ends.append(rollout.rollback.at)
    if not starts or not ends or max(ends) <= min(starts):
        return None
    start, end = min(starts), max(ends)
    pad = timedelta(seconds=max((end - start).total_seconds() * 0.03, 2 * scrape_interval))
    return start - pad, end + pad


def _source(rollout: Rollout) -> tuple[PrometheusSettings, Scope, str]:
    """The Prometheus, scope and its display URL the stages were judged with; ArtifactUnavailable says why not."""
    judged = rollout.judged
    if not judged:
        raise ArtifactUnavailable("no stage's gate results could be read, so the Prometheus they judged is unknown")
    results = judged[0].results or {}
    recorded = results.get("environment_file")
    if not isinstance(recorded, str) or not recorded:
        raise ArtifactUnavailable(f"{judged[0].results_path} records no environment_file")
    try:
        model = load_environment_model(Path(recorded))
    except ReportInputError as exc:
        raise ArtifactUnavailable(f"the stages' environment file cannot be read: {exc}") from None
    url = redact_url(model.prometheus.url)
    if isinstance(results.get("prometheus_url"), str) and results["prometheus_url"] != url:
        raise ArtifactUnavailable(f"{recorded} now names Prometheus {url}, but the stages were judged on "
                                  f"{results['prometheus_url']}")
    scope = scope_for({name: c.job for name, c in model.components.items()}, model.prometheus)
    return model.prometheus, scope, url


def collect_rollout(rollout: Rollout) -> RolloutData:
    """Ask the stages' Prometheus for each track's curves over the rollout; ArtifactUnavailable says why not."""
    tracks = rollout.tracks()
    if tracks is None:
        raise ArtifactUnavailable("no stage's gate run recorded the stable and canary tracks (a concurrent "
                                  "comparison records them), so the tracks cannot be told apart")
    settings, scope, url = _source(rollout)
    found = span(rollout, settings.scrape_interval)
    if found is None:
        raise ArtifactUnavailable("rollout.json records no stage start and end")
    start, end = found
    step = graph_step(Window("rollout", start, end), settings.scrape_interval)
    window = format_duration(rate_range(step, settings.scrape_interval))
    try:
        by_track = {name: replace(scope, selector=(*scope.selector, *parse_matchers(matchers)))
                    for name, matchers in zip(("stable", "canary"), tracks, strict=True)}
        lines = [Line(panel, name, track, by_track[track].apply(promql.replace("$R", window)))
                 for panel, name, promql in CURVES for track in ("stable", "canary")]
        share = SHARE.replace("$R", window)
        lines.append(Line("share", "canary", "", f"({by_track['canary'].apply(share)}) / ({scope.apply(share)})"))
    except PromQLError as exc:
        raise ArtifactUnavailable(f"the tracks' matchers {tracks} cannot scope a query: {exc}") from None
    try:
        client = PrometheusClient(settings, source="the rollout stages' environment file")
        client.check_ready()
        for line in lines:
            answer = client.query_range(line.query, start, end, step)
            line.points = [point for series in answer[:1] for point in series.points]
    except ConfigError as exc:
        raise ArtifactUnavailable(f"cannot query the stages' Prometheus: {exc}") from None
    except (PrometheusUnavailable, QueryFailed) as exc:
        raise ArtifactUnavailable(f"the stages' Prometheus did not answer when the report was built: {exc}") from None
    if not any(line.points for line in lines):
        raise ArtifactUnavailable(f"Prometheus at {url} holds no series of either track between "
                                  f"{format_time(start)} and {format_time(end)}")
    return RolloutData(start, end, step, url, lines, dict(zip(("stable", "canary"), tracks, strict=True)))


def write_rollout_csv(data: RolloutData, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["panel", "series", "track", "timestamp", "time", "value", "query"])
        for line in data.lines:
            for t, v in line.points:
                writer.writerow([line.panel, line.name, line.track or "canary/all", f"{t:.3f}",
                                 format_time(datetime.fromtimestamp(t, UTC)), repr(v), line.query])
    return path


def _stage_colour(stage: StageRecord) -> str:
    return STAGE_COLOURS.get(stage.status, "#7f7f7f")


def draw_rollout(rollout: Rollout, data: RolloutData, folder: Path) -> Path:
    """Draw the graph into folder/rollout_tracks.png."""
    plt = pyplot()
    folder.mkdir(parents=True, exist_ok=True)
    starts = [s.start for s in rollout.stages if s.start is not None]
    origin = (min(starts) if starts else data.start).timestamp()  # 0 = the first stage's start
    divisor, xlabel = time_axis((data.end - data.start).total_seconds())
    xlabel = xlabel.replace("window start", "the first stage")
    palette = plt.get_cmap("tab10").colors
    colours = {name: palette[i % len(palette)] for i, name in enumerate(LATENCY_HISTOGRAMS)}
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(12, 10), sharex=True)
    for ax, (panel, ylabel, scale) in zip(axes, PANELS, strict=True):
        for stage in rollout.stages:
            if stage.start is None or stage.end is None:
                continue
            left, right = ((stage.start.timestamp() - origin) / divisor, (stage.end.timestamp() - origin) / divisor)
            ax.axvspan(left, right, color=_stage_colour(stage), alpha=0.08, linewidth=0)
            if panel == PANELS[0][0]:
                ax.text((left + right) / 2, 1.01, f"{stage.label}: {stage.status}", transform=ax.get_xaxis_transform(),
                        ha="center", va="bottom", fontsize=9, color=_stage_colour(stage))
        rollback = rollout.rollback
        if rollback is not None and rollback.at is not None:
            ax.axvline((rollback.at.timestamp() - origin) / divisor, color=VIOLATED, linestyle="-.", linewidth=1.4,
                       label="rollback" if panel == "share" else None)
        for line in (line for line in data.lines if line.panel == panel):
            xs = [(t - origin) / divisor for t, _ in line.points]
            ys = [v * scale if math.isfinite(v) else math.nan for _, v in line.points]
            label = f"{line.name} ({line.track})" if line.track else "canary share"
            ax.plot(xs, ys, color=colours.get(line.name, "#444444"), label=label, linewidth=1.6,
                    **TRACK_STYLE.get(line.track or "canary", {}))
        if not any(line.points for line in data.lines if line.panel == panel):
            ax.text(0.01, 0.95, "no data", transform=ax.transAxes, va="top", fontsize=9, color="#666666")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    axes[-1].set_xlabel(xlabel)
    fig.suptitle(f"{TITLE}: {rollout.sequence()} ({rollout.outcome})\n{format_time(data.start)} .. "
                 f"{format_time(data.end)}, step {data.step:g} s; dashed: stable {{{data.tracks['stable']}}}, solid: "
                 f"canary {{{data.tracks['canary']}}}; shaded: each stage's window", fontsize=11)
    path = folder / f"{KEY}.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # legends beside the plots; bbox_inches="tight" keeps them
        fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def rollout_graph(rollout: Rollout, graphs: Path, metrics: Path) -> tuple[Path | str, Path | None]:
    """The graph's PNG (or why it is not drawn) and the CSV of what it shows."""
    try:
        data = collect_rollout(rollout)
    except ArtifactUnavailable as exc:
        return str(exc), None
    csv_path = write_rollout_csv(data, metrics / f"graph_{KEY}.csv")
    return draw_rollout(rollout, data, graphs), csv_path
