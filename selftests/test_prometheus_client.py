"""The Prometheus client under transport faults, injected by a small loopback HTTP server.

The server only injects faults (503s, garbage, warnings, errors); PromQL semantics are tested against a real
Prometheus elsewhere.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from wavegate.errors import ConfigError, PrometheusUnavailable, QueryFailed
from wavegate.prometheus import PrometheusClient
from wavegate.settings import PrometheusSettings

NOW = datetime(2026, 11, 27, tzinfo=UTC)
OK = {"status": "success",
      "data": {"resultType": "vector", "result": [{"metric": {"job": "w"}, "value": [NOW.timestamp(), "0.5"]}]}}


class FaultServer:
    """Answers each request with the next scripted (status, body) and records the request paths."""

    def __init__(self, script: list[tuple[int, object]]) -> None:
        self.script, self.requests = list(script), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — the http.server API
                outer.requests.append(self.path)
                status, body = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[object]:
    servers: list[FaultServer] = []

    def start(*script: tuple[int, object]) -> FaultServer:
        server = FaultServer(list(script)).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


def client(url: str, **settings: object) -> PrometheusClient:
    return PrometheusClient(PrometheusSettings(url=url, timeout="5s", **settings), backoff=0.01)  # type: ignore[arg-type]


def test_a_503_is_retried_and_the_answer_after_it_is_used(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve((503, "busy"), (502, "bad gateway"), (200, OK))
    result = client(server.url).query("up", NOW)
    assert result.scalar() == 0.5
    assert len(server.requests) == 3


def test_retries_are_bounded_and_then_prometheus_counts_as_unreachable(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve((503, "busy"))
    gate = client(server.url, retries=2)
    with pytest.raises(PrometheusUnavailable, match=r"HTTP 503 after 3 attempts"):
        gate.query("up", NOW)
    with pytest.raises(PrometheusUnavailable, match="already unreachable"):
        gate.query("up", NOW)
    assert len(server.requests) == 3


def test_a_query_error_is_not_retried_and_its_text_is_kept(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve((400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}))
    with pytest.raises(QueryFailed, match="bad_data: parse error at char 4"):
        client(server.url).query("up{", NOW)
    assert len(server.requests) == 1


def test_an_answer_that_is_not_json_names_the_url_and_suggests_the_fix(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve((200, "<html>login</html>"))
    with pytest.raises(QueryFailed, match=r"not JSON.*prometheus.url"):
        client(server.url).query("up", NOW)


def test_warnings_are_kept_with_the_result(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve((200, {**OK, "warnings": ["partial response: store-2 down"]}))
    result = client(server.url).query("up", NOW)
    assert result.warnings == ("partial response: store-2 down",)
    assert result.evidence()["warnings"] == ["partial response: store-2 down"]


def test_a_refused_connection_is_unreachable_with_the_reason() -> None:
    with FaultServer([(200, OK)]) as server:
        url = server.url
    with pytest.raises(PrometheusUnavailable, match=r"Connection refused after 2 attempts"):
        client(url, retries=1).query("up", NOW)


def test_a_missing_token_variable_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAVEGATE_TEST_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="WAVEGATE_TEST_TOKEN, which is not set"):
        client("http://127.0.0.1:9", bearer_token_env="WAVEGATE_TEST_TOKEN")


def test_the_token_is_sent_as_a_bearer_header(serve, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WAVEGATE_TEST_TOKEN", "t0ken")
    server = serve((200, OK))
    gate = client(server.url, bearer_token_env="WAVEGATE_TEST_TOKEN")
    assert gate.session.headers["Authorization"] == "Bearer t0ken"
    gate.query("up", NOW)


def test_an_answer_for_another_time_than_asked_is_an_evaluation_error(serve) -> None:  # type: ignore[no-untyped-def]
    # A proxy that drops `time` makes Prometheus evaluate at "now": both windows would read the same data.
    later = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"job": "w"}, "value": [NOW.timestamp() + 3600, "0.5"]}]}}
    server = serve((200, later))
    with pytest.raises(QueryFailed, match="time"):
        client(server.url).query("up", NOW)


def _matrix_answer(*values: list[object]) -> dict[str, object]:
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"job": "w", "instance": f"i{n}"}, "values": list(pairs)} for n, pairs in enumerate(values)]}}


def test_raw_samples_keep_every_value_nan_and_infinities_included(serve) -> None:  # type: ignore[no-untyped-def]
    t = NOW.timestamp()
    server = serve((200, _matrix_answer([[t - 30, "1"], [t - 15, "NaN"], [t, "+Inf"]], [[t - 15, "-Inf"]])))
    series, warnings = client(server.url).samples('up{job="w"}', 60, NOW)
    assert warnings == ()
    assert [s.labels["instance"] for s in series] == ["i0", "i1"]
    (t0, one), (t1, nan), (t2, inf) = series[0].points
    assert (t0, t1, t2) == (t - 30, t - 15, t)
    assert one == 1.0
    assert math.isnan(nan)
    assert inf == math.inf
    assert series[1].points == ((t - 15, -math.inf),)


def test_a_raw_sample_with_a_string_time_is_read_as_a_number(serve) -> None:  # type: ignore[no-untyped-def]
    t = NOW.timestamp()
    server = serve((200, _matrix_answer([[f"{t - 15:.3f}", "2"], [t, "3"]])))
    series, _ = client(server.url).samples('up{job="w"}', 60, NOW)
    assert series[0].points == ((t - 15, 2.0), (t, 3.0))


@pytest.mark.parametrize("pair", [[0, None], [0, "up"], [0], "0 1", {"t": 0}, [0, 10**400]],
                         ids=["null", "word", "short", "string", "object", "beyond-float64"])
def test_a_malformed_raw_sample_is_named(serve, pair: object) -> None:  # type: ignore[no-untyped-def]
    t = NOW.timestamp()
    bad = [t, *pair[1:]] if isinstance(pair, list) else pair
    server = serve((200, _matrix_answer([[t - 15, "1"], bad])))
    with pytest.raises(QueryFailed, match=r"malformed sample .* for `up\{job=\"w\"\}\[1m\]`"):
        client(server.url).samples('up{job="w"}', 60, NOW)
