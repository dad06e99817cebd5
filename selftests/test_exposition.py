# Lint rules were cross-checked against `promtool check metrics` from Prometheus 2.42.0 (promtool 2.42.0+ds,
# client_golang promlint); test_lint_agrees_with_promtool_check_metrics_on_the_shared_rules repeats that
# comparison whenever promtool is on PATH.
from __future__ import annotations

import dataclasses
import math
import random
import re
import shutil
import subprocess

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from wavegate.exposition import Exposition, MetricFamily, Problem, Sample, advice, lint, parse
from wavegate.exposition.text import TextParser


def _client_exposition() -> str:
    registry = CollectorRegistry()
    requests = Counter("wg_requests", "Requests handled.", ["method", "code"], registry=registry)
    requests.labels("get", "200").inc()
    requests.labels("post", "500").inc(3)
    latency = Histogram(
        "wg_request_duration_seconds",
        "Request latency.",
        ["route"],
        buckets=(0.1, 0.5, 2.5),
        registry=registry,
    )
    latency.labels("/a").observe(0.3)
    latency.labels("/b").observe(7)
    depth = Gauge("wg_queue_depth", 'Queue depth, with \\ and "quotes".', registry=registry)
    depth.set(4)
    return generate_latest(registry).decode()


def _metric(name: str, type_: str, *samples: str, help_text: str = "Some help.") -> str:
    """A well-formed family: HELP on line 1, TYPE on line 2, samples from line 3."""
    return f"# HELP {name} {help_text}\n# TYPE {name} {type_}\n" + "".join(s + "\n" for s in samples)


def test_a_prometheus_client_exposition_parses_and_lints_without_problems() -> None:
    exposition = parse(_client_exposition())

    assert exposition.problems == ()
    assert lint(exposition) == []


def test_families_of_a_prometheus_client_exposition_have_types_labels_buckets_and_series() -> None:
    exposition = parse(_client_exposition())

    assert {name: fam.type for name, fam in exposition.families.items()} == {
        "wg_requests_total": "counter",
        "wg_requests_created": "gauge",
        "wg_request_duration_seconds": "histogram",
        "wg_request_duration_seconds_created": "gauge",
        "wg_queue_depth": "gauge",
    }
    requests = exposition.families["wg_requests_total"]
    assert requests.help == "Requests handled."
    assert (requests.help_line, requests.type_line) == (1, 2)
    assert requests.label_names() == frozenset({"method", "code"})
    assert requests.series_count() == 2
    latency = exposition.families["wg_request_duration_seconds"]
    assert latency.label_names() == frozenset({"route"})
    assert latency.bucket_bounds() == (0.1, 0.5, 2.5)
    # Per route: 4 buckets (3 bounds and +Inf), _count and _sum.
    assert latency.series_count() == 2 * 6
    depth = exposition.families["wg_queue_depth"]
    assert depth.help == 'Queue depth, with \\ and "quotes".'
    assert depth.samples[0].value == 4.0
    assert depth.bucket_bounds() == ()


def test_find_maps_a_family_name_or_a_sample_name_to_its_family() -> None:
    exposition = parse(
        _client_exposition() + "# HELP bare Bare counter.\n# TYPE bare counter\nbare_total 1\n"
    )

    histogram = exposition.family("wg_request_duration_seconds")
    assert histogram is not None
    for name in ("wg_request_duration_seconds", "wg_request_duration_seconds_bucket"):
        assert exposition.find(name) is histogram
    assert exposition.find("wg_request_duration_seconds_count") is histogram
    assert exposition.find("wg_requests_total") is exposition.family("wg_requests_total")
    # Text format 0.0.4: "# TYPE bare counter" types only "bare"; "bare_total" is a family of its own.
    assert exposition.find("bare_total") is exposition.family("bare_total")
    assert exposition.find("bare_created") is None
    assert exposition.find("no_such_metric") is None
    assert exposition.family("wg_request_duration_seconds_bucket") is None


def test_samples_keep_line_numbers_values_timestamps_and_unescaped_labels() -> None:
    text = (
        "# a comment\n"
        "\n"
        '  x{path="C:\\\\dir",quote="say \\"hi\\"",nl="a\\nb",} NaN\n'
        'x { a = "1" , b="2" } +Inf 1700000000000\n'
        'x{a="2"}\t-Inf\t-5\n'
        "x{} Inf\n"
        "y 1.5e3\n"
        "z .5\n"
    )
    exposition = parse(text)

    assert exposition.problems == ()
    x = exposition.families["x"]
    assert x.type == "untyped"
    assert x.help is None
    first, second, third, fourth = x.samples
    assert first.line == 3
    assert dict(first.labels) == {"path": "C:\\dir", "quote": 'say "hi"', "nl": "a\nb"}
    assert list(first.labels) == ["path", "quote", "nl"]
    assert math.isnan(first.value)
    assert (second.line, dict(second.labels), second.value, second.timestamp_ms) == (
        4,
        {"a": "1", "b": "2"},
        math.inf,
        1700000000000,
    )
    assert (third.value, third.timestamp_ms) == (-math.inf, -5)
    assert (fourth.value, fourth.timestamp_ms, dict(fourth.labels)) == (math.inf, None, {})
    assert exposition.families["y"].samples[0].value == 1500.0
    assert exposition.families["z"].samples[0] == Sample("z", {}, 0.5, None, 8)


def test_help_text_is_unescaped_and_may_be_empty() -> None:
    exposition = parse("# HELP a Line one\\nback\\\\slash\n# HELP b\n#HELP c  indented text\n")

    assert exposition.problems == ()
    assert exposition.families["a"].help == "Line one\nback\\slash"
    assert exposition.families["b"].help == ""
    assert exposition.families["c"].help == "indented text"


def test_in_the_text_format_a_counter_type_line_types_only_its_own_name() -> None:
    exposition = parse(_metric("jobs", "counter", "jobs_total 3", "jobs_created 1.7e9"))

    assert exposition.problems == ()
    assert {name: fam.type for name, fam in exposition.families.items()} == {
        "jobs": "counter", "jobs_total": "untyped", "jobs_created": "untyped"}


def test_a_gauge_named_like_a_counters_created_series_is_no_collision_in_either_order() -> None:
    for text in (_metric("foo", "counter", "foo 1") + _metric("foo_created", "gauge", "foo_created 1"),
                 _metric("foo_created", "gauge", "foo_created 1") + _metric("foo", "counter", "foo 1")):
        exposition = parse(text)
        assert exposition.problems == ()
        assert exposition.families["foo"].type == "counter"
        assert exposition.families["foo_created"].type == "gauge"


def test_in_openmetrics_a_counter_family_owns_its_total_and_created_samples() -> None:
    body = _metric("jobs", "counter", "jobs_total 3", "jobs_created 1.7e9") + "# EOF\n"
    exposition = parse(body, "application/openmetrics-text; version=1.0.0")

    assert exposition.problems == ()
    jobs = exposition.families["jobs"]
    assert [s.name for s in jobs.samples] == ["jobs_total", "jobs_created"]
    assert list(exposition.families) == ["jobs"]
    assert exposition.find("jobs_total") is jobs


@pytest.mark.parametrize(
    ("text", "rule", "line"),
    [
        pytest.param("<html>\n", "syntax", 1, id="not-a-metric-name"),
        pytest.param("x 1", "syntax", 1, id="no-final-newline"),
        pytest.param("x 1\r\n", "syntax", 1, id="crlf"),
        pytest.param("x\n", "syntax", 1, id="no-value"),
        pytest.param("x 1 2 3\n", "syntax", 1, id="text-after-timestamp"),
        pytest.param('x{a="1} 1\n', "syntax", 1, id="unterminated-label-value"),
        pytest.param('x{a="1" 1\n', "syntax", 1, id="unclosed-label-set"),
        pytest.param("x{a=1} 1\n", "syntax", 1, id="unquoted-label-value"),
        pytest.param('x{a="1" b="2"} 1\n', "syntax", 1, id="missing-comma"),
        pytest.param("x{,} 1\n", "syntax", 1, id="lone-comma"),
        pytest.param("# TYPE x\n", "syntax", 1, id="type-without-type"),
        pytest.param("# HELP\n", "syntax", 1, id="help-without-name"),
        pytest.param("x-y 1\n", "invalid-metric-name", 1, id="dash-in-sample-name"),
        pytest.param("# TYPE 1x gauge\n", "invalid-metric-name", 1, id="digit-first-in-type"),
        pytest.param('x{0a="1"} 1\n', "invalid-label-name", 1, id="digit-first-label"),
        pytest.param('x{a.b="1"} 1\n', "invalid-label-name", 1, id="dot-in-label"),
        pytest.param('x{__name__="y"} 1\n', "invalid-label-name", 1, id="reserved-name-label"),
        pytest.param('x{a="1",a="2"} 1\n', "duplicate-label", 1, id="duplicate-label"),
        pytest.param('x{a="\\q"} 1\n', "label-value-escape", 1, id="bad-label-escape"),
        pytest.param("# HELP x tab\\there\n", "help-escape", 1, id="bad-help-escape"),
        pytest.param("x 1_000\n", "invalid-value", 1, id="underscore-value"),
        pytest.param("x 0x1p-2\n", "invalid-value", 1, id="hex-value"),
        pytest.param("x 1e400\n", "invalid-value", 1, id="overflowing-value"),
        pytest.param("x +NaN\n", "invalid-value", 1, id="signed-nan"),
        pytest.param("x one\n", "invalid-value", 1, id="word-value"),
        pytest.param("x 1 1.5\n", "invalid-timestamp", 1, id="float-timestamp"),
        pytest.param("x 1 99999999999999999999\n", "invalid-timestamp", 1, id="int64-overflow-timestamp"),
        pytest.param("# TYPE x info\n", "invalid-type", 1, id="unknown-type"),
        pytest.param("# TYPE x Gauge\nx 1\n", "invalid-type", 1, id="capitalised-type"),
        pytest.param("# TYPE x gauge\n# TYPE x counter\n", "duplicate-type", 2, id="second-type"),
        pytest.param("# HELP x a\n# HELP x b\n", "duplicate-help", 2, id="second-help"),
        pytest.param("x 1\n# TYPE x gauge\n", "type-after-samples", 2, id="type-after-sample"),
        pytest.param(
            'x_bucket{le="+Inf"} 1\n# TYPE x histogram\n', "type-after-samples", 2, id="type-after-bucket"
        ),
        pytest.param(
            "# TYPE x histogram\n# TYPE x_count gauge\n", "name-collision", 2, id="sample-name-declared"
        ),
        pytest.param("# HELP x_sum s\n# TYPE x summary\n", "name-collision", 2, id="declared-name-claimed"),
        pytest.param('x{a="1"} 1\ny 1\nx{a="2"} 1\n', "family-split", 3, id="family-split"),
        pytest.param("x 1\nx 2\n", "duplicate-series", 2, id="duplicate-series"),
        pytest.param(
            'x{a="1",b="2"} 1\nx{b="2",a="1"} 2\n', "duplicate-series", 2, id="duplicate-label-order"
        ),
        pytest.param("# TYPE x histogram\nx 1\n", "unexpected-sample", 2, id="histogram-bare-sample"),
        pytest.param("# TYPE x histogram\nx_bucket 1\n", "invalid-le", 2, id="bucket-without-le"),
        pytest.param('# TYPE x histogram\nx_bucket{le="abc"} 1\n', "invalid-le", 2, id="bucket-bad-le"),
        pytest.param("# TYPE x summary\nx 1\n", "invalid-quantile", 2, id="summary-without-quantile"),
        pytest.param(
            '# TYPE x histogram\nx_bucket{le="1"} 1\nx_count 1\n',
            "histogram-no-inf",
            2,
            id="histogram-no-inf",
        ),
        pytest.param(
            '# TYPE x histogram\nx_bucket{le="+Inf"} 1\nx_count 2\n',
            "histogram-count-mismatch",
            3,
            id="count-differs-from-inf-bucket",
        ),
        pytest.param(
            '# TYPE x histogram\nx_bucket{le="1"} 2\nx_bucket{le="+Inf"} 1\nx_count 1\n',
            "inconsistent-bucket",
            3,
            id="decreasing-buckets",
        ),
    ],
)
def test_each_parse_problem_is_reported_with_its_rule_and_line(text: str, rule: str, line: int) -> None:
    problems = parse(text).problems

    assert (rule, line) in [(p.rule, p.line) for p in problems], [str(p) for p in problems]


def test_a_malformed_line_is_skipped_and_the_rest_still_parses() -> None:
    exposition = parse(_metric("ok", "gauge", "ok 1", "ok{ 2", 'ok{a="b"} 3'))

    assert [p.line for p in exposition.problems] == [4]
    assert [s.line for s in exposition.families["ok"].samples] == [3, 5]


def test_a_late_type_line_is_ignored_so_the_earlier_samples_stay_untyped() -> None:
    exposition = parse("x 1\n# TYPE x gauge\n")

    assert exposition.families["x"].type == "untyped"
    assert exposition.families["x"].type_line is None


def test_a_capitalised_type_is_reported_but_still_applied() -> None:
    exposition = parse("# TYPE x Gauge\nx 1\n")

    assert exposition.families["x"].type == "gauge"


def test_a_counter_without_total_suffix_is_reported_with_its_line() -> None:
    problems = lint(parse(_metric("jobs_done", "counter", "jobs_done 1")))

    assert [(p.line, p.metric, p.rule) for p in problems] == [(2, "jobs_done", "counter-suffix")]
    assert str(problems[0]) == 'line 2: jobs_done: counter metrics should have "_total" suffix'


@pytest.mark.parametrize(
    ("text", "rule", "line", "metric"),
    [
        pytest.param("# TYPE x_total counter\nx_total 1\n", "help-missing", 1, "x_total", id="no-help"),
        pytest.param("x 1\n", "help-missing", 1, "x", id="untyped-without-help"),
        pytest.param("# HELP x\n# TYPE x gauge\nx 1\n", "help-missing", 2, "x", id="empty-help"),
        pytest.param(_metric("x", "counter", "x 1"), "counter-suffix", 2, "x", id="counter-suffix"),
        pytest.param(
            _metric("x_total", "gauge", "x_total 1"), "non-counter-total", 2, "x_total", id="gauge-total"
        ),
        pytest.param(
            _metric("x_duration_milliseconds", "gauge", "x_duration_milliseconds 1"),
            "non-base-unit",
            2,
            "x_duration_milliseconds",
            id="milliseconds",
        ),
        pytest.param(
            _metric("x_kilobytes", "gauge", "x_kilobytes 1"), "non-base-unit", 2, "x_kilobytes", id="kb"
        ),
        pytest.param(
            _metric("x_bits_total", "counter", "x_bits_total 1"), "non-base-unit", 2, "x_bits_total"
        ),
        pytest.param(
            _metric("x_age_days", "gauge", "x_age_days 1"), "non-base-unit", 2, "x_age_days", id="days"
        ),
        pytest.param(_metric("httpRequests", "gauge", "httpRequests 1"), "not-snake-case", 2, "httpRequests"),
        pytest.param(_metric("x", "gauge", 'x{podName="a"} 1'), "not-snake-case", 3, "x", id="camel-label"),
        pytest.param(_metric("job:x:rate5m", "gauge", "job:x:rate5m 1"), "colon-in-name", 2, "job:x:rate5m"),
        pytest.param(_metric("x", "gauge", 'x{le="1"} 1'), "reserved-label", 3, "x", id="le-on-gauge"),
        pytest.param(
            _metric("x", "counter", 'x{quantile="1"} 1'), "reserved-label", 3, "x", id="quantile-on-counter"
        ),
        pytest.param(
            _metric("x_bucket", "gauge", "x_bucket 1"), "reserved-suffix", 2, "x_bucket", id="gauge-bucket"
        ),
        pytest.param(
            _metric("x_count", "gauge", "x_count 1"), "reserved-suffix", 2, "x_count", id="gauge-count"
        ),
        pytest.param(_metric("x_sum", "counter", "x_sum 1"), "reserved-suffix", 2, "x_sum", id="counter-sum"),
        pytest.param(
            _metric("x_gauge", "gauge", "x_gauge 1"), "type-in-name", 2, "x_gauge", id="type-in-name"
        ),
        pytest.param(_metric("x_ms", "gauge", "x_ms 1"), "abbreviated-unit", 2, "x_ms", id="ms"),
        pytest.param(
            _metric("x_sec_total", "counter", "x_sec_total 1"), "abbreviated-unit", 2, "x_sec_total"
        ),
        pytest.param(_metric("x_kb", "gauge", "x_kb 1"), "abbreviated-unit", 2, "x_kb", id="kb-abbreviation"),
    ],
)
def test_each_lint_rule_flags_its_example_with_line_and_metric(
    text: str, rule: str, line: int, metric: str
) -> None:
    exposition = parse(text)
    problems = lint(exposition)

    assert exposition.problems == ()
    assert (rule, line, metric) in [(p.rule, p.line, p.metric) for p in problems], [str(p) for p in problems]


@pytest.mark.parametrize(
    ("text", "rule", "line", "metric"),
    [
        pytest.param(_metric("HTTP_REQUESTS", "gauge", "HTTP_REQUESTS 1"), "upper-case-name", 2, "HTTP_REQUESTS"),
        pytest.param(_metric("node_memory_Active_bytes", "gauge", "node_memory_Active_bytes 1"), "upper-case-name",
                     2, "node_memory_Active_bytes", id="upper-case-after-underscore"),
        pytest.param(_metric("x_count", "histogram", 'x_count_bucket{le="+Inf"} 1', "x_count_count 1"),
                     "reserved-suffix", 2, "x_count", id="histogram-named-count"),
        pytest.param("# HELP declared_only x\n# TYPE declared_only counter\n", "counter-suffix", 2, "declared_only",
                     id="declared-without-samples"),
    ],
)
def test_advice_beyond_promtools_rules_is_kept_apart_from_the_lint_findings(
    text: str, rule: str, line: int, metric: str
) -> None:
    exposition = parse(text)

    assert exposition.problems == ()
    assert lint(exposition) == []
    assert (rule, line, metric) in [(p.rule, p.line, p.metric) for p in advice(exposition)]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_metric("room_thermometers", "gauge", "room_thermometers 3"), id="unit-inside-a-word"),
        pytest.param(_metric("metric_thing", "gauge", "metric_thing 1"), id="word-metric"),
        pytest.param(_metric("x_bytes_total", "counter", "x_bytes_total 1"), id="base-unit-counter"),
        pytest.param(
            _metric("x_seconds", "summary", 'x_seconds{quantile="0.5"} 1', "x_seconds_count 1"), id="sum"
        ),
        pytest.param(_metric("x_total", "untyped", 'x_total{le="1",quantile="2"} 1'), id="untyped-exempt"),
        pytest.param(_metric("x_sessions", "gauge", 'x_sessions{user_id="a"} 1'), id="snake-case-label"),
    ],
)
def test_names_that_follow_the_conventions_get_no_lint_problems(text: str) -> None:
    assert lint(parse(text)) == []


def test_lint_does_not_repeat_parse_problems() -> None:
    exposition = parse("x 1\nx 1\n")

    assert [p.rule for p in exposition.problems] == ["duplicate-series"]
    assert [p.rule for p in lint(exposition)] == ["help-missing"]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "<!DOCTYPE html>\n<html><head><title>404</title></head>\n<body>Not Found</body></html>\n",
            id="html",
        ),
        pytest.param('{"status": "ok", "metrics": [1, 2, 3]}', id="json"),
        pytest.param(random.Random(7).randbytes(4096).decode("utf-8", errors="replace"), id="random-bytes"),
        pytest.param("\x00\x01\x02\n\x7f\x1c\u2028x 1\n", id="control-characters"),
        pytest.param("{\n}\n", id="braces"),
    ],
)
def test_text_that_is_not_an_exposition_yields_syntax_problems_not_exceptions(text: str) -> None:
    exposition = parse(text)

    assert any(p.rule == "syntax" for p in exposition.problems)
    lint(exposition)


def test_empty_text_has_no_families_and_no_problems_so_the_caller_decides() -> None:
    for text in ("", "\n\n", "# only a comment\n"):
        exposition = parse(text)
        assert (dict(exposition.families), exposition.problems) == ({}, ())
        assert lint(exposition) == []


def test_randomly_mutated_expositions_never_raise() -> None:
    rng = random.Random(20240601)
    valid = _client_exposition()
    alphabet = '{}",=\\ \t\n#+-.eE0123456789abcxyz_:\r'
    for _ in range(400):
        chars = list(valid)
        for _ in range(rng.randint(1, 12)):
            at = rng.randrange(len(chars))
            action = rng.randrange(3)
            if action == 0:
                del chars[at]
            elif action == 1:
                chars.insert(at, rng.choice(alphabet))
            else:
                chars[at] = rng.choice(alphabet)
        exposition = parse("".join(chars))
        lint(exposition)
        for problem in exposition.problems:
            assert problem.line is None or problem.line >= 1
            assert problem.message


def test_a_problem_reads_as_line_metric_and_message() -> None:
    assert str(Problem(12, "foo", "help-missing", "no help text")) == "line 12: foo: no help text"
    assert str(Problem(None, None, "syntax", "bad")) == "bad"
    assert str(Problem(3, None, "syntax", "bad")) == "line 3: bad"


def test_parsed_objects_are_frozen_and_hashable() -> None:
    exposition = parse(_client_exposition())
    family = exposition.families["wg_queue_depth"]

    with pytest.raises(AttributeError):
        family.name = "other"  # type: ignore[misc]
    assert isinstance(family, MetricFamily)
    assert len({family, family, *family.samples}) == 1 + len(family.samples)
    hash(exposition)


# Texts on which promtool 2.42 and lint() must report the same (metric, message) pairs. Left out on purpose:
# our additions (any capital letter, histogram named x_count), label problems (promtool repeats them per
# sample), empty families (promtool drops them) and names with two unit words (promtool picks one at random).
_PROMTOOL_CASES = [
    _client_exposition(),
    "x_total 1\n",
    _metric("jobs_done", "counter", 'jobs_done{code="200"} 1'),
    _metric("queue_total", "gauge", "queue_total 1"),
    _metric("latency_milliseconds", "gauge", "latency_milliseconds 1"),
    _metric("size_kilobytes", "histogram", 'size_kilobytes_bucket{le="+Inf"} 1', "size_kilobytes_count 1"),
    _metric("httpRequestsTotal", "counter", "httpRequestsTotal 1"),
    _metric("job:http:rate5m", "gauge", "job:http:rate5m 1"),
    _metric("a_gauge_histogram", "gauge", "a_gauge_histogram 1"),
    _metric("b_count", "gauge", "b_count 1"),
    _metric("c_ms", "summary", "c_ms_count 1", "c_ms_sum 1"),
    _metric("d", "gauge", 'd{le="1"} 1'),
    _metric("e_s_ms", "gauge", "e_s_ms 1"),
    "# HELP f\n# TYPE f gauge\nf 1\n",
]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
@pytest.mark.parametrize("text", _PROMTOOL_CASES)
def test_lint_agrees_with_promtool_check_metrics_on_the_shared_rules(text: str) -> None:
    run = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60, check=False
    )
    theirs = sorted(line for line in run.stderr.splitlines() if line.strip())
    # Our messages are promtool's text plus an optional parenthesised detail, like ' ("_ms")'.
    ours = sorted(f"{p.metric} {re.sub(r' [(].*[)]$', '', p.message)}" for p in lint(parse(text)))

    assert not any(line.startswith("error") for line in theirs), theirs
    assert ours == theirs


# --- fast path: parse() reads well-formed sample lines with one regex and hands every other line to the
# careful character-level parser. Both must give the same Exposition (families, samples, label order,
# values, lines, problems and messages) on any input; the careful parser alone is the reference.


def _careful_parse(text: str, monkeypatch: pytest.MonkeyPatch) -> Exposition:
    with monkeypatch.context() as patch:
        # Every line to the careful parser: the expression's sample groups never match.
        patch.setattr(TextParser, "_row_re", re.compile(r"()()()()([^\n]*+)\n"))
        return parse(text)


def _everything(exposition: Exposition) -> str:
    """Every field of every family and problem; repr() tells -0.0 from 0.0 and shows NaN, which == would not."""
    return repr((exposition.problems, [dataclasses.astuple(f) for f in exposition.families.values()]))


def _generated_exposition(rng: random.Random) -> str:
    """A prometheus_client exposition with random names, label sets, label values (with escapes) and values."""
    registry = CollectorRegistry()
    value_chars = ["a", "Z", "0", " ", ",", "=", "{", "}", "#", '"', "\\", "\n", "\t", "é", "\u2028", "\r"]
    for index in range(rng.randint(1, 4)):
        label_names = rng.sample(["a", "b", "code", "le_x", "_u", "method", "z9"], rng.randint(0, 4))
        name = f"m{index}_{rng.choice(['x', 'seconds', 'bytes'])}"
        kind = rng.choice(["counter", "gauge", "histogram"])
        if kind == "counter":
            metric: Counter | Gauge | Histogram = Counter(name, "Help \\ text\n.", label_names, registry=registry)
        elif kind == "gauge":
            metric = Gauge(name, "Help.", label_names, registry=registry)
        else:
            metric = Histogram(name, "Help.", label_names, buckets=(0.5, 1e3), registry=registry)
        for _ in range(rng.randint(1, 3)):
            values = ["".join(rng.choices(value_chars, k=rng.randint(0, 4))) for _ in label_names]
            child = metric.labels(*values) if label_names else metric
            amount = rng.choice([0.0, 1.0, 2.5, 1e-9, 7e22, 123456789.0])
            if isinstance(child, Histogram):
                child.observe(amount)
            elif isinstance(child, Counter):
                child.inc(amount)
            else:
                child.set(rng.choice([amount, -amount, math.inf, -math.inf, math.nan]))
    return generate_latest(registry).decode()


_SAMPLE_LINES = [
    'x{a="1",b="2"} 1',
    'x{ a = "1" , b = "2" , } 1 123',
    'x {a="1",} -Inf',
    'x{a="1",a="2"} 1',
    'x{__name__="y"} 1',
    'x{a="\\\\n\\"\\n"} NaN',
    'x{a="\\t"} 1',
    'x{a="1"}2',
    "x{} 1",
    "x{,} 1",
    'x{a="1"b="2"} 1',
    "x 1e400",
    "x 1e-400",
    "x -0.0 -9223372036854775808",
    "x 1 9223372036854775808",
    "x 1 +07",
    "x .5e+3 -1",
    "x 1.",
    "x Infinity",
    "x +nan",
    "x 0x1p3",
    "x 1_000",
    "x1",
    "x+1",
    "  \tx\t1\t2\t ",
    "x 1 2 3",
    'x{a="1"} 1\r',
    'x{a.b="1"} 1',
    "x{a=1} 1",
    'x{0a="1"} 1',
    "x 1 1.5",
    'x_bucket{le="+Inf"} 3',
    'x_bucket{le="0.5"} 1',
    'x_bucket{le="NaN"} 1',
    "x_bucket 1",
    "x_count 3",
    "x_sum 2",
    'x{quantile="0.5"} 1',
    "# TYPE x histogram",
    "# TYPE x summary",
    "# HELP x a \\n help",
    "# comment",
    "",
]


def _mutated(text: str, rng: random.Random) -> str:
    alphabet = ['"', "\\", "{", "}", ",", "=", " ", "\t", "\n", "\r", "#", "a", "_", ":", "1", "e", "+", "-", ".", "é"]
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(chars) + 1)
        edit = rng.random()
        if edit < 0.4:
            chars.insert(at, rng.choice(alphabet))
        elif edit < 0.7 and at < len(chars):
            del chars[at]
        elif at < len(chars):
            chars[at] = rng.choice(alphabet)
    mutated = "".join(chars)
    return mutated[: rng.randrange(len(mutated) + 1)] if rng.random() < 0.1 else mutated


def _differential_cases() -> list[str]:
    rng = random.Random(5150)
    cases = [line + "\n" for line in _SAMPLE_LINES]
    for _ in range(150):
        generated = _generated_exposition(rng)
        cases.append(generated)
        cases.append(_mutated(generated, rng))
        lines = rng.choices(_SAMPLE_LINES, k=rng.randint(1, 12))
        cases.append("".join(line + "\n" for line in lines))
        cases.append(_mutated("".join(line + "\n" for line in lines), rng))
    return cases


def test_the_fast_path_and_the_careful_parser_give_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    for text in _differential_cases():
        assert _everything(parse(text)) == _everything(_careful_parse(text, monkeypatch)), text


def test_the_fast_path_takes_well_formed_sample_lines_and_leaves_the_rest_to_the_careful_parser() -> None:
    rows = TextParser._row_re.findall('x{a="1",b="\\"\\\\\\n"} 1 2\n x { a = "1" , } -Inf \nx{a="1"} 1e400\n'
                                      'x{a="\\t"} 1\nx+1\n')
    fast = [row[0] for row in rows]
    # matched (1e400 too: the careful parser is then asked about its range), blanks, bad escape, bad name
    assert fast == ["x", "", "x", "", ""]


def test_a_timestamp_too_long_for_any_integer_is_a_problem_not_an_exception() -> None:
    exposition = parse("# HELP x x\n# TYPE x gauge\nx 1 " + "9" * 5000 + "\n")
    assert [p.rule for p in exposition.problems] == ["invalid-timestamp"]
