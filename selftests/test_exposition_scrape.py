"""Fetching /metrics as the gate does: asked for as Prometheus asks, read in the format the server answers,
decoded as UTF-8 only, parsed while it streams in."""

from __future__ import annotations

import tracemalloc

import pytest
from harness import MetricsEndpoint
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import generate_latest as text_exposition
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_exposition

from wavegate.endpoints import fetch
from wavegate.exposition import ACCEPT

TEXT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("router_decisions", "Decisions.", ["policy_id", "provider"], registry=registry).labels("p", "a").inc()
    Histogram("gateway_http_request_duration_seconds", "Latency.", ["method"], buckets=(0.1, 1.0),
              registry=registry).labels("GET").observe(0.3)
    Gauge("worker_queue_depth", "Depth.", ["resource_pool"], registry=registry).labels("default").set(2)
    Info("router_build", "Build.", registry=registry).info({"version": "1.2.3"})
    return registry


def test_an_endpoint_is_asked_as_prometheus_asks_and_read_in_the_format_it_answers() -> None:
    with MetricsEndpoint(openmetrics_exposition(_registry()), content_type=OPENMETRICS_TYPE) as endpoint:
        scrape = fetch("router", endpoint.url, timeout=5)

    assert endpoint.accept == ACCEPT
    assert scrape.format == "openmetrics"
    assert scrape.exposition.problems == ()
    assert scrape.exposition.find("router_decisions_total").type == "counter"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("metric", "type_"),
    [("router_decisions_total", "counter"), ("gateway_http_request_duration_seconds", "histogram"),
     ("gateway_http_request_duration_seconds_bucket", "histogram"), ("worker_queue_depth", "gauge")],
)
def test_a_metric_has_the_same_type_in_either_format(metric: str, type_: str) -> None:
    registry = _registry()
    with MetricsEndpoint(openmetrics_exposition(registry), content_type=OPENMETRICS_TYPE) as openmetrics, \
            MetricsEndpoint(text_exposition(registry), content_type=TEXT_TYPE) as text:
        scrapes = [fetch("worker", openmetrics.url, timeout=5), fetch("worker", text.url, timeout=5)]

    assert [s.format for s in scrapes] == ["openmetrics", "text"]
    assert [s.exposition.problems for s in scrapes] == [(), ()]
    found = [s.exposition.find(metric) for s in scrapes]
    assert [f.type if f is not None else None for f in found] == [type_, type_]


def test_the_content_type_alone_chooses_the_parser_as_in_prometheus() -> None:
    # A text body declared as OpenMetrics is read as OpenMetrics (and lacks its # EOF); the reverse is read
    # as the text format, where "# EOF" is an ordinary comment.
    text_body = text_exposition(_registry())
    with MetricsEndpoint(text_body, content_type=OPENMETRICS_TYPE) as mislabelled, \
            MetricsEndpoint(openmetrics_exposition(_registry()), content_type="text/plain") as plain:
        as_openmetrics = fetch("router", mislabelled.url, timeout=5)
        as_text = fetch("router", plain.url, timeout=5)

    assert "missing-eof" in [p.rule for p in as_openmetrics.exposition.problems]
    assert as_text.format == "text"
    # The OpenMetrics counter family "router_decisions" owns router_decisions_total only in OpenMetrics.
    assert as_text.exposition.find("router_decisions_total").name == "router_decisions_total"  # type: ignore[union-attr]


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=iso-8859-1", ""])
def test_bytes_that_are_not_utf8_are_a_problem_on_their_line_whatever_the_charset(content_type: str) -> None:
    body = '# HELP x_total Users.\n# TYPE x_total counter\nx_total{user="Björn"} 1\n'.encode("latin-1")
    with MetricsEndpoint(body, content_type=content_type) as endpoint:
        scrape = fetch("worker", endpoint.url, timeout=5)

    assert [(p.line, p.rule) for p in scrape.exposition.problems] == [(3, "invalid-utf8")]


def test_a_large_body_is_parsed_while_it_streams_in_and_never_held_whole() -> None:
    pad = "p" * 200
    body = ("# HELP worker_big_info Many series.\n# TYPE worker_big_info gauge\n" + "".join(
        f'worker_big_info{{slot="{i}",pad="{pad}"}} 1\n' for i in range(50_000))).encode()
    with MetricsEndpoint(body) as endpoint:
        tracemalloc.start()
        try:
            scrape = fetch("worker", endpoint.url, timeout=60)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert scrape.exposition.problems == ()
    assert scrape.exposition.families["worker_big_info"].series_count() == 50_000
    assert scrape.size == len(body)
    # Per series only a hash is kept: far less than the 11 MB body (a whole copy would exceed it).
    assert peak < len(body) / 2, f"peak {peak / 1e6:.1f} MB for a {len(body) / 1e6:.1f} MB body"


def test_a_scrape_and_its_exposition_have_short_reprs() -> None:
    with MetricsEndpoint(text_exposition(_registry()), content_type=TEXT_TYPE) as endpoint:
        scrape = fetch("worker", endpoint.url, timeout=5)

    assert len(repr(scrape)) < 300
    assert repr(scrape.exposition).startswith("Exposition(text, ")
