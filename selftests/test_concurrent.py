"""The concurrent comparison: a canary track judged against the stable track in the same window, by
confidence intervals, against a real Prometheus holding seeded synthetic histories (tracks_world.py).

One Prometheus holds every world, told apart by a `world` label that each environment's selector picks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import REPO, GateRun, History, MetricsEndpoint, PrometheusServer, closed_port, rfc3339, run_gate
from tracks_world import Track, TracksWorld

JUDGED = ("performance.latency_increase", "performance.throughput", "errors.rate_not_higher",
          "integration.rollout_provenance", "retry.success_rate")
NOW = float(int(time.time()) // 60 * 60)
LONG = (NOW - 1800 - 120, NOW - 120)  # 30 minutes
SHORT = (NOW - 600 - 120, NOW - 120)  # 10 minutes

WORLDS = {
    # stage 10: 90 requests/s on stable, 10 on the canary, for 30 minutes
    "healthy": (LONG, {"stable": Track(90), "canary": Track(10, wave1=True, retry_success=0.95)}),
    "regression": (LONG, {"stable": Track(90), "canary": Track(10, latency=1.5, wave1=True, retry_success=0.95)}),
    # +4 % latency, 1 request/s on the canary for 10 minutes: too little to tell; retries 85 % of 60 attempts
    "small": (SHORT, {"stable": Track(9), "canary": Track(1, latency=1.04, wave1=True, retry_success=0.85)}),
    # the canary's flags are off: it is not the Wave 1 build it claims to be
    "unflagged": (LONG, {"stable": Track(90), "canary": Track(10, retry_success=0.95)}),
    # the stable track exports a retry success rate too, and the canary's is clearly worse
    "worse_retries": (LONG, {"stable": Track(90, retry_success=0.95), "canary": Track(10, wave1=True,
                                                                                  retry_success=0.85)}),
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    history = History()
    for seed, (name, ((start, end), tracks)) in enumerate(WORLDS.items(), start=1):
        TracksWorld(start, end, tracks, seed=seed, labels={"world": name}).history(history)
    with PrometheusServer(history=history, workdir=tmp_path_factory.mktemp("prometheus")) as server:
        yield server


@pytest.fixture(scope="module")
def criteria(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped criteria, only those that read the tracks' history."""
    document = yaml.safe_load((REPO / "criteria" / "wave1.yaml").read_text(encoding="utf-8"))
    document["criteria"] = [entry for entry in document["criteria"] if entry["id"] in JUDGED]
    folder = tmp_path_factory.mktemp("criteria")
    (folder / "contract.yaml").write_text((REPO / "criteria" / "contract.yaml").read_text(encoding="utf-8"))
    path = folder / "criteria.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def environment(folder: Path, prometheus: PrometheusServer, world: str, **comparison: Any) -> Path:
    document = {
        "prometheus": {"url": prometheus.url, "scrape_interval": "15s", "selector": {"world": world}},
        "components": {name: {"metrics_url": {"stable": f"http://127.0.0.1:{closed_port()}/metrics",
                                              "canary": f"http://127.0.0.1:{closed_port()}/metrics"}, "job": name}
                       for name in ("router", "gateway", "worker")},
        "comparison": {"mode": "concurrent", "baseline": {"track": "stable"}, "candidate": {"track": "canary"},
                       **comparison},
    }
    path = folder / f"{world}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def judge(folder: Path, prometheus: PrometheusServer, criteria: Path, world: str, *args: str) -> GateRun:
    (start, end), _ = WORLDS[world]
    env = environment(folder, prometheus, world)
    return run_gate(folder, f"--criteria={criteria}", f"--candidate={rfc3339(start)}/{rfc3339(end)}", "--stage=10",
                    *args, env_file=env, outdir=folder / f"out-{world}")


@pytest.fixture(scope="module")
def runs(prometheus: PrometheusServer, criteria: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, GateRun]:
    folder = tmp_path_factory.mktemp("runs")
    return {world: judge(folder, prometheus, criteria, world) for world in WORLDS}


def intervals(run: GateRun, criterion: str) -> dict[str, dict[str, Any]]:
    return {" ".join(m["key"].values()): m for m in run.record(criterion)["measurements"] if m.get("interval")}


def test_a_healthy_canary_passes_at_10_percent_with_every_interval_inside_its_limit(runs: dict[str, GateRun]) -> None:
    run = runs["healthy"]
    assert run.ret == 0, run.tail()
    assert {c["id"]: c["verdict"] for c in run.results["criteria"]} == dict.fromkeys(JUDGED, "passed")
    latency = intervals(run, "performance.latency_increase")
    # 3 histograms x (3 quantiles + the mean), each with its interval next to its estimate
    assert len(latency) == 12
    for measurement in latency.values():
        interval = measurement["interval"]
        assert interval["low"] <= interval["estimate"] <= interval["high"] <= interval["limit"]
        assert measurement["verdict"] == "passed"
        assert interval["confidence"] == 0.95
    assert run.results["stage"] == 10
    assert run.results["comparison"]["mode"] == "concurrent"
    assert run.results["comparison"]["candidate_track"] == 'track="canary"'
    assert "stage 10 %" in run.stdout


def test_a_clear_latency_regression_fails_at_10_percent(runs: dict[str, GateRun]) -> None:
    run = runs["regression"]
    assert run.ret == 1, run.tail()
    record = run.record("performance.latency_increase")
    assert record["verdict"] == "failed"
    mean = intervals(run, "performance.latency_increase")["gateway_http_request_duration_seconds mean"]
    assert mean["verdict"] == "failed"
    assert mean["interval"]["low"] > 0.05  # +50 % in truth: the whole interval lies beyond +5 %
    assert mean["interval"]["low"] <= 0.5 <= mean["interval"]["high"] + 0.05
    # error ratio and work per request did not change: the regression is named, nothing else
    assert run.verdict("errors.rate_not_higher") == "passed"
    assert run.verdict("performance.throughput") == "passed"


def test_a_small_regression_with_little_traffic_is_inconclusive_with_how_much_more_would_decide(
        runs: dict[str, GateRun]) -> None:
    run = runs["small"]
    assert run.ret == 7, run.tail()
    assert run.results["status"] == "inconclusive"
    record = run.record("performance.latency_increase")
    assert record["verdict"] == "inconclusive"
    assert "straddles the limit" in record["message"]
    assert "the traffic so far" in record["message"]
    mean = intervals(run, "performance.latency_increase")["gateway_http_request_duration_seconds mean"]
    assert mean["interval"]["low"] < 0.05 < mean["interval"]["high"]
    assert "INCONCLUSIVE" in run.stdout
    assert "gate: INCONCLUSIVE" in run.stdout


def test_retry_success_is_decided_by_intervals_between_tracks(runs: dict[str, GateRun]) -> None:
    assert runs["healthy"].verdict("retry.success_rate") == "passed"
    small = runs["small"].record("retry.success_rate")
    assert small["verdict"] == "inconclusive"
    assert "60 attempts" in small["message"]
    worse = runs["worse_retries"].record("retry.success_rate")
    assert worse["verdict"] == "failed"
    assert "minus the stable track's" in worse["message"]


def test_provenance_is_judged_per_track(runs: dict[str, GateRun]) -> None:
    assert runs["healthy"].verdict("integration.rollout_provenance") == "passed"
    record = runs["unflagged"].record("integration.rollout_provenance")
    assert record["verdict"] == "failed"
    assert "router-canary:8080 (track=canary" in runs["unflagged"].record("integration.rollout_provenance")["message"]


def test_report_only_forgives_inconclusive_but_says_what_would_have_blocked(
        prometheus: PrometheusServer, criteria: Path, tmp_path: Path) -> None:
    run = judge(tmp_path, prometheus, criteria, "small", "--report-only")
    assert run.ret == 0, run.tail()
    assert run.results["would_exit_code"] == 7
    assert "performance.latency_increase" in run.results["blocked_by"]


def test_the_canary_compared_with_itself_is_a_configuration_error(prometheus: PrometheusServer, criteria: Path,
                                                                  tmp_path: Path) -> None:
    env = environment(tmp_path, prometheus, "healthy", baseline={"track": "canary"})
    (start, end), _ = WORLDS["healthy"]
    run = run_gate(tmp_path, f"--criteria={criteria}", f"--candidate={rfc3339(start)}/{rfc3339(end)}",
                   env_file=env, outdir=tmp_path / "out")
    assert run.ret == 4, run.tail()
    assert "compared with itself" in run.output


def test_each_tracks_metrics_endpoint_is_checked(tmp_path: Path) -> None:
    good = MetricsEndpoint("# TYPE up gauge\nup 1\n").start()
    broken = MetricsEndpoint("oops", status=500).start()
    try:
        prometheus = f"http://127.0.0.1:{closed_port()}"
        document = {"prometheus": {"url": prometheus},
                    "components": {name: {"metrics_url": {"stable": good.url, "canary": broken.url if
                                                          name == "worker" else good.url}, "job": name}
                                   for name in ("router", "gateway", "worker")},
                    "windows": {"baseline": {"start": rfc3339(NOW - 7200), "end": rfc3339(NOW - 3600)},
                                "candidate": {"start": rfc3339(NOW - 3600), "end": rfc3339(NOW)}}}
        env = tmp_path / "env.yaml"
        env.write_text(yaml.safe_dump(document), encoding="utf-8")
        run = run_gate(tmp_path, env_file=env, outdir=tmp_path / "out", areas=["coverage"],
                       select="endpoints_exported")
        record = run.record("coverage.endpoints_exported")
        assert record["verdict"] == "failed"
        keys = {m["key"]["component"]: m["passed"] for m in record["measurements"]}
        assert keys == {"router[stable]": True, "router[canary]": True, "gateway[stable]": True,
                        "gateway[canary]": True, "worker[stable]": True, "worker[canary]": False}
    finally:
        good.stop()
        broken.stop()


def watch(folder: Path, prometheus: PrometheusServer, criteria: Path, world: str, *options: str) -> tuple[int, Path]:
    (start, _), _ = WORLDS[world]
    env = environment(folder, prometheus, world)
    output = folder / f"watch-{world}"
    gate = ["-p", "no:cacheprovider", f"--rootdir={REPO}", str(REPO / "tests"), f"--env-file={env}",
            f"--criteria={criteria}", "--stage=10"]
    argv = [sys.executable, "-m", "wavegate", "watch", f"--since={rfc3339(start)}", "--lag=1s",
            f"--gate-output={output}", *options, "--", *gate]
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=300, check=False)
    assert (output / "watch.json").is_file(), done.stdout + done.stderr
    return done.returncode, output


def test_repeated_measurement_stops_at_the_first_look_on_a_confident_failure(
        prometheus: PrometheusServer, criteria: Path, tmp_path: Path) -> None:
    code, output = watch(tmp_path, prometheus, criteria, "regression", "--every=20s", "--for=2m")
    assert code == 1
    record = json.loads((output / "watch.json").read_text(encoding="utf-8"))
    assert record["outcome"] == "failed"
    assert record["stopped_early"] is True
    assert [look["exit_code"] for look in record["looks"]] == [1]
    # seven looks planned (the first at once, then every 20 s for 2 m): each at 1 - 0.05 / 7 confidence
    assert record["looks_planned"] == 7
    assert record["confidence_per_look"] == pytest.approx(1 - 0.05 / 7)
    results = json.loads((output / "gate-results.json").read_text(encoding="utf-8"))
    assert results["status"] == "failed"
    assert results["watch"]["decided_by"] == 1
    assert results["comparison"]["confidence"] == pytest.approx(1 - 0.05 / 7, abs=1e-6)
    assert (output / "looks" / "1" / "gate-results.json").is_file()
    assert (output / "gate.html").is_file()


def test_repeated_measurement_stays_inconclusive_and_keeps_every_look(
        prometheus: PrometheusServer, criteria: Path, tmp_path: Path) -> None:
    code, output = watch(tmp_path, prometheus, criteria, "small", "--every=1s", "--for=3s")
    assert code == 7
    record = json.loads((output / "watch.json").read_text(encoding="utf-8"))
    assert record["outcome"] == "inconclusive"
    assert record["stopped_early"] is False
    assert len(record["looks"]) >= 2
    assert all(look["exit_code"] == 7 for look in record["looks"])
    for look in record["looks"]:
        assert (output / look["folder"] / "gate-results.json").is_file()
    assert json.loads((output / "gate-results.json").read_text(encoding="utf-8"))["status"] == "inconclusive"


def test_watch_refuses_the_options_it_sets_itself(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "wavegate", "watch", "--every=1m", "--for=5m", "--",
                           "--env=rollout", "--candidate=last=5m"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 4
    assert "--candidate" in done.stderr
