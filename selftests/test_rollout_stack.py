"""The rollout's world, quickly: a stable and a canary track of the reference stack behind a traffic split
(real processes, real requests, free ports, no Prometheus), and the pieces of scripts/rollout that need
no services — the share switch, the stages, the gate's command line, Prometheus' scrape configuration."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # fixtures/ is the repository's, not an installed package

from fixtures.stack.common import LATENCY_FACTOR, Settings  # noqa: E402
from fixtures.stack.gateway import DEFAULT_RATE_LIMIT, RATE_LIMITS  # noqa: E402
from fixtures.stack.load import build_schedule  # noqa: E402
from fixtures.stack.rollout import Stage, gate_command, parse_stages, read_verdicts, stable_baseline  # noqa: E402
from fixtures.stack.run import StackPorts  # noqa: E402
from fixtures.stack.scrape import Exposition  # noqa: E402
from fixtures.stack.split import (  # noqa: E402
    CANARY,
    CHUNK_SECONDS,
    SPLIT_TENANT_WEIGHTS,
    STABLE,
    ShareSwitch,
    SplitLoad,
)
from fixtures.stack.tracks import TrackedPrometheus, Tracks  # noqa: E402

WAVE1 = ("CP2_ADVANCED_RETRY_ENABLED", "CP2_COMPLETE_TIMEOUT_ENABLED", "CP2_QUEUE_MANAGEMENT_ENABLED")


def two_tracks_of_ports() -> dict[str, StackPorts]:
    ports = {STABLE: StackPorts.free(), CANARY: StackPorts.free()}
    while set(ports[STABLE].all()) & set(ports[CANARY].all()):  # two draws of free ports may meet
        ports[CANARY] = StackPorts.free()
    return ports


def test_both_gateways_serve_their_share_and_each_track_exports_its_own_flags(tmp_path: Path) -> None:
    tracks = Tracks.create(two_tracks_of_ports(), tmp_path / "logs", regression="latency", time_scale=0.1,
                           lifetime=90)
    load = SplitLoad(tracks.gateways(), ShareSwitch(50.0, seed=7), rps=40.0, seed=7, max_seconds=30)
    started = time.monotonic()
    try:
        tracks.start(timeout=30)
        load.start()
        time.sleep(6.0)
        load.stop()
        sent = load.sent()
        served = {track.name: Exposition.fetch(track.ports.metrics_url("gateway")).total("gateway_http_requests_total")
                  for track in tracks}
        flags = {track.name: track.flags() for track in tracks}
    finally:
        load.stop()
        tracks.stop()

    assert sent[STABLE] + sent[CANARY] >= 200
    assert 0.35 < sent[CANARY] / (sent[STABLE] + sent[CANARY]) < 0.65, sent
    for track in (STABLE, CANARY):
        # every request sent to a track was answered by that track's gateway (and by no other)
        assert served[track] == pytest.approx(sent[track], abs=3), (sent, served)
    for component in ("router", "gateway", "worker"):
        assert all(flags[CANARY][component][flag] == 1 for flag in WAVE1), flags[CANARY]
        assert all(flags[STABLE][component][flag] == 0 for flag in WAVE1), flags[STABLE]
        assert flags[STABLE][component]["CP2_OBSERVABILITY_METRICS_ENABLED"] == 1
    assert time.monotonic() - started < 45


def test_the_regression_knob_goes_into_the_canary_only(tmp_path: Path) -> None:
    tracks = Tracks.create(two_tracks_of_ports(), tmp_path, regression="latency")

    assert tracks.canary.environment()["WAVEGATE_REGRESSION"] == "latency"
    assert tracks.stable.environment()["WAVEGATE_REGRESSION"] == ""
    assert tracks.canary.environment()["CP2_ADVANCED_RETRY_ENABLED"] == "true"
    assert tracks.stable.environment()["CP2_ADVANCED_RETRY_ENABLED"] == "false"
    assert Settings.from_env(tracks.canary.environment()).latency_factor == LATENCY_FACTOR


def test_a_smaller_knob_is_the_canary_s_alone() -> None:
    tracks = Tracks.create(two_tracks_of_ports(), Path("logs"), regression="latency", knob_factor=1.1)
    canary, stable = (Settings.from_env(track.environment()) for track in (tracks.canary, tracks.stable))

    assert (canary.latency_factor, canary.error_factor) == (1.1, 1.1)
    assert canary.knob("latency", "router")
    assert not stable.knob("latency", "router")


def test_at_200_requests_per_second_one_gateway_alone_rate_limits_no_tenant() -> None:
    """At 100 % the canary's gateway takes the whole split load: no tenant may reach its token bucket's
    limit in half an hour of it, or the canary would answer quick 429s the stable track (at 50 %) never did."""
    buckets: dict[str, tuple[float, float]] = {}  # tenant -> (tokens, when last taken)
    for chunk in range(30):
        for request in build_schedule(CHUNK_SECONDS, 200.0, ("normal",), 1729 + chunk,
                                      tenants=SPLIT_TENANT_WEIGHTS):
            at = chunk * CHUNK_SECONDS + request.at
            rate, burst = RATE_LIMITS.get(request.tenant, DEFAULT_RATE_LIMIT)
            tokens, last = buckets.get(request.tenant, (burst, 0.0))
            tokens = min(burst, tokens + (at - last) * rate) - 1  # every request takes one, replays too
            assert tokens >= 0, (chunk, request)
            buckets[request.tenant] = (tokens, at)
    assert set(buckets) == set(SPLIT_TENANT_WEIGHTS)


def test_the_share_switch_sends_the_canary_its_share_and_can_be_changed_while_it_runs() -> None:
    switch = ShareSwitch(10.0, seed=3)
    shares = {}
    for percent in (10.0, 50.0, 0.0, 100.0):
        switch.set(percent)
        routed = [switch.route(f"{percent}-{n}") for n in range(10_000)]
        shares[percent] = routed.count(CANARY) / len(routed)

    assert shares[10.0] == pytest.approx(0.10, abs=0.015)
    assert shares[50.0] == pytest.approx(0.50, abs=0.02)
    assert shares[0.0] == 0.0
    assert shares[100.0] == 1.0
    with pytest.raises(ValueError, match="0 to 100"):
        switch.set(101)


def test_a_replay_goes_to_the_track_of_its_original_unless_that_track_gets_nothing_now() -> None:
    switch = ShareSwitch(50.0, seed=5)
    first = {key: switch.route(key) for key in (f"task-{n}" for n in range(200))}
    switch.set(10.0)
    again = {key: switch.route(key) for key in first}
    switch.set(0.0)
    rolled_back = {switch.route(key) for key in first}
    switch.set(100.0)
    promoted = {switch.route(key) for key in first}

    assert again == first
    assert set(first.values()) == {STABLE, CANARY}
    assert rolled_back == {STABLE}
    assert promoted == {CANARY}


def test_stages_rise_from_a_share_below_100() -> None:
    assert parse_stages("10,50,100") == [10, 50, 100]
    assert parse_stages("5%, 25") == [5, 25]
    for bad in ("50,10", "10,10", "0,50", "100", "10,abc", "10,150"):
        with pytest.raises(ValueError, match="--stages"):
            parse_stages(bad)


def test_the_gate_judges_a_stage_side_by_side_and_the_last_against_every_stage_before() -> None:
    ten = Stage(10, 1_799_999_800.0, 1_799_999_920.0, "concurrent", {STABLE: 4320, CANARY: 480})
    fifty = Stage(50, 1_800_000_000.0, 1_800_000_120.0, "concurrent", {STABLE: 2400, CANARY: 2400})
    full = Stage(100, 1_800_000_200.0, 1_800_000_320.0, "windows", {STABLE: 0, CANARY: 4800})
    output = Path("reports/rollout/stage-50")

    assert gate_command("py", "environments/rollout.yaml", fifty, None, output) == [
        "py", "-m", "pytest", "-p", "no:cacheprovider", "--env-file=environments/rollout.yaml",
        "--comparison=concurrent", "--stage=50", "--candidate=2027-01-15T08:00:00Z/2027-01-15T08:02:00Z",
        f"--gate-output={output}"]
    baseline = stable_baseline([ten, fifty])
    assert baseline == (ten.start, fifty.end)  # all the stable track's traffic, gaps between stages included
    assert gate_command("py", "environments/rollout.yaml", full, baseline, output)[6:10] == [
        "--comparison=windows", "--stage=100", "--baseline=2027-01-15T07:56:40Z/2027-01-15T08:02:00Z",
        "--candidate=2027-01-15T08:03:20Z/2027-01-15T08:05:20Z"]
    full.baseline = baseline
    assert full.as_json()["baseline"] == {"start": "2027-01-15T07:56:40Z", "end": "2027-01-15T08:02:00Z"}
    assert "baseline" not in fifty.as_json()


def test_the_reasons_of_a_stop_are_the_blocking_criteria_that_did_not_pass(tmp_path: Path) -> None:
    results = tmp_path / "gate-results.json"
    results.write_text(json.dumps({"status": "failed", "criteria": [
        {"id": "performance.latency_increase", "verdict": "failed"},
        {"id": "errors.rate_not_higher", "verdict": "inconclusive"},
        {"id": "retry.success_rate", "verdict": "failed", "blocking": False},
        {"id": "availability.uptime", "verdict": "passed"}]}))

    assert read_verdicts(results) == ("failed", ["performance.latency_increase", "errors.rate_not_higher"], "")
    assert read_verdicts(tmp_path / "missing.json")[:2] == (None, [])


def test_prometheus_scrapes_each_component_of_both_tracks_under_one_job_with_a_track_label(tmp_path: Path) -> None:
    ports = two_tracks_of_ports()
    prometheus = TrackedPrometheus(9, "2s", tmp_path, ports[STABLE], tmp_path / "log", tracks=ports)
    prometheus.write_config(components=True)
    config = json.loads(prometheus.config_path.read_text())

    jobs = {job["job_name"]: job["static_configs"] for job in config["scrape_configs"]}
    assert sorted(jobs) == ["gateway", "prometheus", "router", "worker"]
    assert jobs["gateway"] == [
        {"targets": [f"127.0.0.1:{ports[STABLE].gateway_metrics}"], "labels": {"track": "stable"}},
        {"targets": [f"127.0.0.1:{ports[CANARY].gateway_metrics}"], "labels": {"track": "canary"}}]
    assert "labels" not in jobs["prometheus"][0]
