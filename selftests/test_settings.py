"""Environment files, durations and windows: parsing and the errors a person sees."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wavegate.errors import ConfigError
from wavegate.settings import format_duration, load_environment, parse_duration, parse_window_option, redact_url

ISSUE_SHAPE = """\
prometheus:
  url: http://127.0.0.1:9090
  job: prometheus
  scrape_interval: 15s
  timeout: 30s
  headers: {}
  bearer_token_env: PROM_TOKEN
  basic_auth: {username: gate, password_env: PROM_PASSWORD}
  ca_file: null
components:
  router:  {metrics_url: http://127.0.0.1:9001/metrics, job: router}
  gateway: {metrics_url: http://127.0.0.1:3001/metrics, job: gateway}
  worker:  {metrics_url: http://127.0.0.1:9092/metrics, job: worker}
windows:
  baseline:  {start: 2026-11-10T00:00:00Z, end: 2026-11-17T00:00:00Z}
  candidate: {start: 2026-11-17T00:00:00Z, end: 2026-11-24T00:00:00Z}
"""
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def write(tmp_path: Path, text: str, name: str = "env.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("5m", 300), ("1h30m", 5400), ("7d", 604800), ("500ms", 0.5), ("1w", 604800), (30, 30)],
)
def test_durations_are_read_like_prometheus_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "5 minutes", "1h-30m", "-5s", "s"])
def test_a_malformed_duration_is_rejected_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match="duration|negative"):
        parse_duration(text)


def test_durations_format_back_to_the_shortest_promql_range() -> None:
    assert [format_duration(s) for s in (604800, 5400, 15, 0.25, 90061)] == ["7d", "1h30m", "15s", "250ms", "1d1h1m1s"]


def test_the_issue_s_environment_shape_loads_with_absolute_windows(tmp_path: Path) -> None:
    env = load_environment(write(tmp_path, ISSUE_SHAPE), now=NOW)
    assert env.prometheus.scrape_interval == 15
    assert env.baseline.range == "7d"
    assert env.candidate.describe() == "candidate 2026-11-17T00:00:00Z .. 2026-11-24T00:00:00Z (7d)"
    assert env.components["worker"].job == "worker"


def test_relative_windows_end_offset_before_now(tmp_path: Path) -> None:
    text = ISSUE_SHAPE.split("windows:")[0] + "windows:\n  baseline: {last: 7d, offset: 7d}\n  candidate: {last: 7d}\n"
    env = load_environment(write(tmp_path, text), now=NOW)
    assert env.candidate.end == NOW
    assert (env.candidate.start - env.baseline.end).total_seconds() == 0
    assert env.baseline.seconds == 7 * 86400


def test_command_line_windows_override_the_file(tmp_path: Path) -> None:
    override = parse_window_option("candidate", "2026-11-20T00:00:00Z/2026-11-21T00:00:00Z")
    env = load_environment(write(tmp_path, ISSUE_SHAPE), now=NOW, candidate=override)
    assert env.candidate.range == "1d"
    assert parse_window_option("baseline", "last=1h,offset=2h").resolve("baseline", NOW).end.hour == 10


def test_a_bad_command_line_window_names_the_option_and_the_forms() -> None:
    with pytest.raises(ConfigError, match=r"(?s)--candidate=.*must be after start.*START/END"):
        parse_window_option("candidate", "2026-11-24T00:00:00Z/2026-11-17T00:00:00Z")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("job: router", "jobb: router"), "components.router.jobb: unknown key"),
        (("url: http://127.0.0.1:9090", "url: 127.0.0.1:9090"), "prometheus.url: '127.0.0.1:9090' is not an http"),
        (("end: 2026-11-17T00:00:00Z}", "end: 2026-11-01T00:00:00Z}"), "windows.baseline"),
        (("start: 2026-11-17T00:00:00Z", "start: 2026-11-17T00:00:00"), "has no UTC offset"),
        (("scrape_interval: 15s", "scrape_interval: often"), "prometheus.scrape_interval"),
        (("components:\n  router:  {metrics_url: http://127.0.0.1:9001/metrics, job: router}\n"
          "  gateway: {metrics_url: http://127.0.0.1:3001/metrics, job: gateway}\n"
          "  worker:  {metrics_url: http://127.0.0.1:9092/metrics, job: worker}\n", "components: {}\n"),
         "at least one component"),
        (("scrape_interval: 15s", "scrape_interval: 15s\n  selector: 'env=\"prod\" cluster'"), "prometheus.selector"),
        (("scrape_interval: 15s", "scrape_interval: 15s\n  selector: {job: router}"), "the gate chooses job"),
        (("scrape_interval: 15s", "scrape_interval: 15s\n  selector: {env: [prod]}"), "must be a string"),
        (("scrape_interval: 15s", "scrape_interval: 15s\n  selector: 'env=~\"(\"'"), "illegal regex"),
    ],
)
def test_an_invalid_environment_names_the_file_and_the_field(
    tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    path = write(tmp_path, ISSUE_SHAPE.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_environment(path, now=NOW)
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_yaml_that_does_not_parse_is_a_configuration_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "prometheus: {url: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{path} is not valid YAML"):
        load_environment(path)


def test_windows_can_come_from_the_profile_state_file(tmp_path: Path) -> None:
    state = {
        "windows": {
            "baseline": {"start": "2026-11-27T00:00:00Z", "end": "2026-11-27T00:05:00Z"},
            "candidate": {"start": "2026-11-27T00:06:00Z", "end": "2026-11-27T00:11:00Z"},
        }
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    text = ISSUE_SHAPE.split("windows:")[0] + "windows_file: state.json\n"
    env = load_environment(write(tmp_path, text))
    assert env.candidate.range == "5m"


def test_a_missing_state_file_says_to_run_the_profile_first(tmp_path: Path) -> None:
    text = ISSUE_SHAPE.split("windows:")[0] + "windows_file: nowhere.json\n"
    with pytest.raises(ConfigError, match="run scripts/run_cp1_profile.sh first"):
        load_environment(write(tmp_path, text))


def test_credentials_in_a_url_never_reach_the_report() -> None:
    assert redact_url("https://gate:s3cret@prom.example.com:9090/api") == "https://***@prom.example.com:9090/api"
    assert redact_url("http://127.0.0.1:9090") == "http://127.0.0.1:9090"
    assert redact_url("http://w:9092/metrics?token=abc&x=1") == "http://w:9092/metrics?token=***&x=***"


def test_overlapping_or_swapped_windows_are_refused(tmp_path: Path) -> None:
    # Comparing the candidate with itself would pass every comparison.
    text = ISSUE_SHAPE.split("windows:")[0] + "windows:\n  baseline: {last: 7d}\n  candidate: {last: 7d}\n"
    with pytest.raises(ConfigError, match="must end before the candidate starts"):
        load_environment(write(tmp_path, text), now=NOW)


def test_a_window_that_has_not_ended_is_refused(tmp_path: Path) -> None:
    text = ISSUE_SHAPE.replace("end: 2026-11-24T00:00:00Z", "end: 2026-11-28T00:00:00Z")
    with pytest.raises(ConfigError, match="windows.candidate: .* ends in the future"):
        load_environment(write(tmp_path, text), now=NOW)
