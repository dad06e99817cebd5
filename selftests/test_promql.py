"""wavegate.promql: every query the gate sends is parsed, scoped and written back as PromQL. The written
query must mean exactly what the original meant, which a real Prometheus decides: each expression of the
corpus below (every node type of the grammar, escapes in label values, offsets, @, subqueries, vector
matching) is evaluated as written and as rendered, and the answers must be equal. Scoping is checked on
its rules: the environment's matchers on every component selector, the owner's job, Prometheus' own series.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from harness import History, PrometheusServer

from wavegate import promql
from wavegate.context import window_increase

NOW = float(int(time.time()) // 60 * 60)
START = NOW - 2 * 3600
TRICKY = ['a"b', "a\\b", "line\nbreak", "björn", "a.b", "tab\there", "{x=\"1\"}"]

CORPUS = [
    'tricky{value="a\\"b"}',
    'tricky{value="a\\\\b"}',
    'tricky{value="line\\nbreak"}',
    'tricky{value="björn"}',
    'tricky{value=~"a\\\\.b|tab\\there"}',
    'tricky{value!~"a.*", value!="björn"}',
    'tricky{value="{x=\\"1\\"}"}',
    '{__name__=~"tri.*", value="a.b"}',
    'sum by (kind) (rate(events_total[10m]))',
    'sum without (instance) (events_total)',
    'sum(events_total) by (kind)',
    'increase(events_total[30m] offset 10m)',
    f'events_total @ {NOW - 1800:.0f}',
    'max_over_time(events_total[5m] @ end())',
    f'events_total @ {NOW - 1800:.0f} offset 5m',
    'max_over_time(events_total[30m:1m])',
    'max_over_time(rate(events_total[5m])[30m:])',
    'min_over_time((events_total > 100)[20m:2m] offset 5m)',
    'events_total > bool 100',
    'events_total / on (kind) group_left () sum by (kind) (events_total)',
    'sum by (kind) (events_total) / on (kind) group_right events_total',
    'events_total unless on (kind) tricky',
    'events_total and events_total > 200 or tricky',
    '-events_total',
    '- -events_total',
    'topk(1, events_total)',
    'bottomk by (kind) (1, events_total)',
    'quantile(0.5, events_total)',
    'count_values("v", tricky)',
    'label_replace(events_total, "copy", "$1", "kind", "(.*)\\"?")',
    'histogram_quantile(0.9, sum by (le) (rate(lat_bucket[30m])))',
    'events_total - (events_total - 1)',
    'events_total - events_total - 1',
    '2 ^ 3 ^ 2',
    '-2 ^ 2',
    '1e3 * events_total + 0.1',
    '1e-7 + events_total',
    'NaN',
    '-Inf',
    'absent(nothing_here)',
    'resets(events_total[2h])',
    'time() - timestamp(events_total)',
    '(events_total)',
    'events_total + on (instance, kind) group_left () sum by (instance, kind) (tricky)',
    'scalar(sum(events_total)) * 2',
    'sort_desc(events_total % 7)',
    'events_total atan2 events_total',
    # found by review: the sign of zero, and `$W` inside a string is text, not a window
    '1 / -0',
    'events_total / -0',
    'label_replace(events_total, "tag", "$W", "kind", ".*")',
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    history = History()
    times = [START + 15 * i for i in range(int((NOW - START) // 15) + 1)]
    for instance in ("a:1", "b:1"):
        for kind in ("x", "y"):
            history.add("events_total", {"job": "app", "instance": instance, "kind": kind},
                        [(t, (t - START) / 15 * (3 if kind == "x" else 1) % 900) for t in times])
        for bound in ("0.1", "1", "+Inf"):
            history.add("lat_bucket", {"job": "app", "instance": instance, "le": bound},
                        [(t, (t - START) * (0.5 if bound == "0.1" else 0.9 if bound == "1" else 1)) for t in times])
    for value in TRICKY:
        history.add("tricky", {"job": "app", "instance": "a:1", "value": value, "kind": "x"}, [(t, 1) for t in times])
    workdir: Path = tmp_path_factory.mktemp("promql")
    with PrometheusServer({}, history=history, workdir=workdir / "prometheus") as server:
        yield server


@pytest.mark.parametrize("query", CORPUS)
def test_a_rendered_query_means_what_the_original_meant(prometheus: PrometheusServer, query: str) -> None:
    rendered = promql.render(promql.parse(query))
    assert promql.render(promql.parse(rendered)) == rendered  # a fixed point: nothing drifts on re-rendering
    original = _answer(prometheus, query)
    assert original, f"{query} answers nothing here: the comparison would prove nothing"
    assert _answer(prometheus, rendered) == original, rendered


def test_a_windowed_increase_with_offset_or_at_keeps_its_modifier(prometheus: PrometheusServer) -> None:
    at = f"{NOW - 1800:.0f}"
    for template in ("sum(increase(events_total[$W] offset 30m))", f"sum(increase(events_total[$W] @ {at}))"):
        expanded = promql.expand(template, "30m", window_increase)
        written = template.replace("$W", "30m")
        assert _answer(prometheus, expanded) == _answer(prometheus, written), expanded


def test_an_at_time_before_1970_is_a_named_error_not_a_crash() -> None:
    with pytest.raises(promql.PromQLError, match="before 1970"):
        promql.check("sum(increase(events_total[$W] @ -100))")


def test_every_tricky_label_value_is_selected_by_its_rendered_matcher(prometheus: PrometheusServer) -> None:
    for value in TRICKY:
        query = promql.add_matchers("tricky", {"value": value})
        answer = prometheus.query(query, NOW)
        assert [s["metric"]["value"] for s in answer] == [value], query


def test_the_window_expansion_renders_and_evaluates(prometheus: PrometheusServer) -> None:
    template = 'sum by (kind) (increase(events_total{kind=~"x|y"}[$W])) / on () group_left sum(rate(events_total[$W]))'
    expanded = promql.expand(template, "1h", window_increase)
    assert "$W" not in expanded
    assert expanded.count("last_over_time(events_total{kind=~\"x|y\"}[1h] offset 1h)") == 2
    assert {s["metric"]["kind"] for s in prometheus.query(expanded, NOW)} == {"x", "y"}


SCOPE = promql.Scope(
    {"router": "router", "gateway": "gw", "worker": "worker"},
    selector=promql.parse_matchers('env="prod", cluster=~"eu-.*"'),
    owners={"idempotency_total": "gateway"},
    self_job="prom",
    self_selector=promql.equality_matchers({"replica": "a"}),
)


@pytest.mark.parametrize(("query", "expected"), [
    # a component metric: its owner's job and the environment's matchers
    ("worker_queue_depth", 'worker_queue_depth{job="worker", env="prod", cluster=~"eu-.*"}'),
    ("gateway_http_requests_total", 'gateway_http_requests_total{job="gw", env="prod", cluster=~"eu-.*"}'),
    # owned by the contract's list rather than by its name
    ("idempotency_total", 'idempotency_total{job="gw", env="prod", cluster=~"eu-.*"}'),
    # a job named in the query is kept; the environment's matchers are still added
    ('up{job=~"router|gw"}', 'up{job=~"router|gw", env="prod", cluster=~"eu-.*"}'),
    # owned by no component: read from the component jobs
    ("process_start_time_seconds",
     'process_start_time_seconds{job=~"router|gw|worker", env="prod", cluster=~"eu-.*"}'),
    ('{__name__=~"a|b"}', '{__name__=~"a|b", job=~"router|gw|worker", env="prod", cluster=~"eu-.*"}'),
    # Prometheus' own series: its job and its own selector only
    ("prometheus_target_scrapes_exceeded_sample_limit_total",
     'prometheus_target_scrapes_exceeded_sample_limit_total{job="prom", replica="a"}'),
    ('up{job="prom"}', 'up{job="prom", replica="a"}'),
    # every selector of an expression, inside functions, aggregations and both sides of an operator
    ("sum(rate(worker_step_errors_total[5m])) / sum(rate(worker_step_executions_total[5m] offset 1h))",
     'sum(rate(worker_step_errors_total{job="worker", env="prod", cluster=~"eu-.*"}[5m])) / '
     'sum(rate(worker_step_executions_total{job="worker", env="prod", cluster=~"eu-.*"}[5m] offset 1h))'),
])
def test_scope_adds_the_environment_and_the_owner_s_job(query: str, expected: str) -> None:
    assert SCOPE.apply(query) == expected


def test_targets_are_admitted_by_the_same_matchers() -> None:
    assert SCOPE.admits_target({"job": "worker", "env": "prod", "cluster": "eu-1"})
    assert not SCOPE.admits_target({"job": "worker", "env": "staging", "cluster": "eu-1"})
    assert not SCOPE.admits_target({"job": "worker", "env": "prod", "cluster": "us-1"})
    assert SCOPE.admits_target({"job": "prom", "replica": "a"})
    assert not SCOPE.admits_target({"job": "prom", "replica": "b"})


@pytest.mark.parametrize("text", ["sum(", "foo{", 'foo{a="b" or c="d"}', "rate(foo[5m]", "foo[5m] + "])
def test_text_that_is_not_promql_is_an_error_naming_it(text: str) -> None:
    with pytest.raises(promql.PromQLError) as caught:
        promql.check(text)
    assert repr(text) in str(caught.value) or "Prometheus 2.x" in str(caught.value)


def _answer(prometheus: PrometheusServer, query: str) -> list[tuple[tuple[tuple[str, str], ...], float]]:
    """An instant query's answer at NOW, comparable: sorted (labels, value) rows, a scalar as one row without
    labels, NaN made comparable."""
    body = requests.get(f"{prometheus.url}/api/v1/query", params={"query": query, "time": f"{NOW:.3f}"},
                        timeout=10).json()
    assert body["status"] == "success", body
    data = body["data"]
    result = data["result"] if data["resultType"] == "vector" else [{"metric": {}, "value": data["result"]}]
    rows = []
    for series in result:
        value = float(series["value"][1])
        rows.append((tuple(sorted(series["metric"].items())), -1.5e308 if math.isnan(value) else value))
    return sorted(rows)
