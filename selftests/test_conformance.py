"""Conformance of parse() to the two exposition formats, rule by rule: one body that keeps the rule (no problems)
and one that breaks it (a problem on the offending line).

Text format 0.0.4: Prometheus "Exposition formats", "Text format details" (Line format; Comments, help text, and
type information; Grouping and sorting; Histograms and summaries), with prometheus/common's expfmt text parser
deciding what is a parse error. OpenMetrics 1.0: the specification's "Data Model" (Values, Timestamps, Strings,
Label, LabelSet, Exemplars, MetricFamily, Metric Types) and "Text format" (ABNF, Overall Structure, Escaping,
Numbers, MetricFamily, Metric types, Exemplars), with prometheus_client's OpenMetrics parser as the reference
reading. Where the prose and the ABNF disagree the specification lets the ABNF win, and so does this suite.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from wavegate.exposition import parse

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True)
class Rule:
    """One rule of a format: a body that keeps it, a body that breaks it, and the 1-based line of the break."""

    id: str
    valid: bytes
    invalid: bytes
    line: int


# --- Prometheus text format 0.0.4 ---------------------------------------------------------------------------

_TEXT_RULES = [
    # Details: "The last line must end with a line feed character."
    Rule("text-last-line-newline", b"a 1\nb 2\n", b"a 1\nb 2", 2),
    # Details: "Lines are separated by a line feed character (\n)." A carriage return is no separator.
    Rule("text-line-feed-only", b"a 1\nb 2\n", b"a 1\nb 2\r\n", 2),
    # Details: "Empty lines are ignored." Blanks are spaces and tabs only: a no-break space is not one.
    Rule("text-empty-lines", b"\na 1\n\n \t\nb 2\n\n", b"a 1\n\xc2\xa0\nb 2\n", 2),
    # Line format: any number of blanks or tabs between tokens, leading and trailing ones ignored; tokens that
    # would merge must be separated ("b1" is a name without a value).
    Rule("text-blanks-around-tokens", b'  a { x = "1" , y="2" }\t1 \t1700000000000\n', b"a 1\nb1\n", 2),
    # The format's text calls trailing blanks ignorable, but Prometheus' text parser (promtool) rejects a blank
    # after the value ("expected integer as timestamp") or after the timestamp; the gate agrees with the parser.
    Rule("text-no-blank-after-the-last-token", b"a 1\nb 1 2\n", b"a 1\nb 1 2 \n", 2),
    # Comments: ignored unless the first token after "#" is HELP or TYPE, however the "#" is indented.
    Rule(
        "text-comments-ignored",
        b'# any words, even {"\\q\n#\n  # HELPER is no HELP keyword\na 1\n',
        b"a 1\n  #\tTYPE b sometimes\n",
        2,
    ),
    # Comments: in HELP "the backslash and the line feed characters have to be escaped as \\ and \n"; a double
    # quote needs no escape. No other escape exists.
    Rule(
        "text-help-escapes",
        b'# HELP a C:\\\\dir says "hi" on two\\nlines\na 1\n',
        b"# HELP a tab\\there\na 1\n",
        1,
    ),
    # Comments: "Only one HELP line may exist for any given metric name."
    Rule("text-help-once", b"# HELP a one\na 1\n# HELP b two\nb 1\n", b"# HELP a one\n# HELP a two\na 1\n", 2),
    # Grouping and sorting: all lines of a metric are one group "with the optional HELP and TYPE lines first".
    Rule("text-help-before-samples", b"# TYPE a gauge\n# HELP a h\na 1\n", b"a 1\n# HELP a late\n", 2),
    # Comments: the type is "either counter, gauge, histogram, summary, or untyped" (histogram and summary are
    # kept by their own rules below).
    Rule(
        "text-type-values",
        b"# TYPE a counter\na 1\n# TYPE b gauge\nb -1\n# TYPE c untyped\nc 1\n",
        b"# TYPE a stateset\na 1\n",
        1,
    ),
    # Comments: "Only one TYPE line may exist for a given metric name."
    Rule("text-type-once", b"# TYPE a gauge\n# HELP a h\na 1\n", b"# TYPE a gauge\n# TYPE a gauge\na 1\n", 2),
    # Comments: "The TYPE line for a metric name must appear before the first sample is reported for that
    # metric name."
    Rule("text-type-before-samples", b"# HELP a h\n# TYPE a gauge\na 1\n", b"a 1\n# TYPE a gauge\n", 2),
    # Sample syntax: metric_name is an identifier of the expression language, [a-zA-Z_:][a-zA-Z0-9_:]*.
    Rule("text-metric-name-charset", b"job:a_b:rate5m 1\n_A9 2\n", b"a 1\nhttp-requests 2\n", 2),
    # Sample syntax: label_name is [a-zA-Z_][a-zA-Z0-9_]*: no colon, unlike a metric name.
    Rule("text-label-name-charset", b'a{_x="1",B9="2"} 1\n', b'a{x:y="1"} 1\n', 1),
    # expfmt: 'label name "__name__" is reserved'.
    Rule("text-label-name-reserved", b'a{name="b"} 1\n', b'a{__name__="b"} 1\n', 1),
    # expfmt: "duplicate label names for metric". A trailing comma is allowed (label_pairs [","]).
    Rule("text-label-duplicate", b'a{x="1",y="1",} 1\n', b'a{x="1",x="2"} 1\n', 1),
    # Sample syntax: in a label value backslash, double quote and line feed are escaped as \\, \" and \n;
    # expfmt rejects any other escape.
    Rule(
        "text-label-value-escapes",
        b'a{x="C:\\\\dir \\"q\\" two\\nlines"} 1\n',
        b'a{x="1"} 1\na{x="\\d"} 1\n',
        2,
    ),
    # Basic info: "Encoding: UTF-8"; a label value "can be any sequence of UTF-8 characters".
    Rule(
        "text-label-value-utf8",
        'a{x="café ✓ 日本"} 1\n'.encode(),
        b'a 1\nb{x="\xff"} 1\n',
        2,
    ),
    # Sample syntax: value is a float as Go's ParseFloat() reads it, NaN, +Inf and -Inf included.
    Rule("text-value-float", b"a NaN\nb +Inf\nc -Inf\nd -2.5e-3\ne .5\n", b"a 1\nb 1,5\n", 2),
    # Sample syntax: the timestamp is an int64 of milliseconds, as Go's ParseInt() reads it (negative is fine).
    Rule("text-timestamp-int64", b"a 1 1700000000000\nb 1 -3982045\n", b"a 1 1700000000.5\n", 1),
    # Histograms and summaries: each bucket is "x_bucket" with a label {le="y"}, y the bucket's upper bound.
    Rule(
        "text-histogram-le",
        b'# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1.5\nh_count 2\n',
        b'# TYPE h histogram\nh_bucket{le="fast"} 1\nh_bucket{le="+Inf"} 1\nh_count 1\n',
        2,
    ),
    # Histograms and summaries: "A histogram must have a bucket with {le="+Inf"}." Reported on the first bucket
    # of the series that lacks it.
    Rule(
        "text-histogram-inf-bucket",
        b'# TYPE h histogram\nh_bucket{le="1"} 0\nh_bucket{le="+Inf"} 0\nh_count 0\n',
        b'# TYPE h histogram\nh_bucket{le="1"} 0\nh_count 0\n',
        2,
    ),
    # Histograms and summaries: the +Inf bucket's value "must be identical to the value of x_count".
    Rule(
        "text-histogram-count-equals-inf",
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_count 3\n',
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_count 2\n',
        3,
    ),
    # Buckets are cumulative: a bucket never counts fewer than a lower one.
    Rule(
        "text-histogram-cumulative",
        b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\n',
        b'# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n',
        3,
    ),
    # Histograms and summaries: "The buckets of a histogram ... must appear in increasing numerical order".
    Rule(
        "text-histogram-bucket-order",
        b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 1\n',
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_bucket{le="1"} 1\n',
        3,
    ),
    # expfmt: "negative bucket population for histogram".
    Rule(
        "text-histogram-no-negative-bucket",
        b'# TYPE h histogram\nh_bucket{le="1"} 0\nh_bucket{le="+Inf"} 0\n',
        b'# TYPE h histogram\nh_bucket{le="1"} -1\nh_bucket{le="+Inf"} 0\n',
        2,
    ),
    # Histograms and summaries: each quantile is a sample "x" with a label {quantile="y"}; expfmt: "expected
    # float as value for 'quantile' label".
    Rule(
        "text-summary-quantile",
        b'# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 3\ns_count 2\n',
        b'# TYPE s summary\ns{quantile="median"} 1\n',
        2,
    ),
    # Histograms and summaries: "... and the quantiles of a summary must appear in increasing numerical order".
    Rule(
        "text-summary-quantile-order",
        b'# TYPE s summary\ns{quantile="0.5"} 1\ns{quantile="0.9"} 2\n',
        b'# TYPE s summary\ns{quantile="0.9"} 2\ns{quantile="0.5"} 1\n',
        3,
    ),
    # Grouping and sorting: "Each line must have a unique combination of a metric name and labels."
    Rule("text-duplicate-series", b'a{x="1"} 1\na{x="2"} 1\n', b'a{x="1"} 1\na{x="1"} 2\n', 2),
    # Grouping and sorting: "All lines for a given metric must be provided as one single group".
    Rule(
        "text-one-group-per-metric",
        b'a{x="1"} 1\na{x="2"} 1\nb 1\n',
        b'a{x="1"} 1\nb 1\na{x="2"} 1\n',
        3,
    ),
]

# --- OpenMetrics 1.0 ----------------------------------------------------------------------------------------

_OPENMETRICS_RULES = [
    # ABNF: exposition = metricset HASH SP eof [ LF ]. A missing "# EOF" is reported on the last line, where it
    # should have followed.
    Rule("om-eof-missing", b"# TYPE a gauge\na 1\n# EOF\n", b"# TYPE a gauge\na 1\n", 2),
    # ABNF: nothing follows "# EOF" ...
    Rule("om-eof-not-last", b"a 1\n# EOF\n", b"a 1\n# EOF\nb 1\n", 3),
    # ... but one optional line feed: "Expositions MUST end with EOF and SHOULD end with EOF\n".
    Rule("om-eof-final-newline", b"a 1\n# EOF", b"a 1\n# EOF\n\n", 3),
    # ABNF: every line is a descriptor, a sample or "# EOF"; there is no empty line.
    Rule("om-blank-line", b"a 1\nb 1\n# EOF\n", b"a 1\n\nb 1\n# EOF\n", 2),
    # ABNF: sample = metricname [labels] SP number [SP timestamp] [exemplar] LF: exactly one space ...
    Rule("om-double-space", b'a{x="1"} 1 1520879607.789\n# EOF\n', b"a 1\nb  1\n# EOF\n", 2),
    # ... and none at the end of a line.
    Rule("om-trailing-space", b"a 1\nb 1\n# EOF\n", b"a 1\nb 1 \n# EOF\n", 2),
    # ABNF: labels = "{" [label *(COMMA label)] "}": no trailing comma (the text format allows one).
    Rule("om-label-trailing-comma", b'a{x="1",y="2"} 1\n# EOF\n', b'a{x="1",} 1\n# EOF\n', 1),
    # MetricFamily metadata: "Aside from this metadata and the EOF line ... you MUST NOT expose lines beginning
    # with a #."
    Rule(
        "om-comment",
        b"# TYPE a gauge\n# HELP a h\na 1\n# EOF\n",
        b"# TYPE a gauge\n# a plain comment\na 1\n# EOF\n",
        2,
    ),
    # Escaping: line feed, double quote and backslash are escaped as \n, \" and \\; the ABNF's normal-char
    # excludes a raw double quote, in HELP as in label values.
    Rule(
        "om-help-escapes",
        b'# HELP a say \\"hi\\" from C:\\\\ on two\\nlines\na 1\n# EOF\n',
        b'# HELP a say "hi"\na 1\n# EOF\n',
        1,
    ),
    # ABNF: escaped-char =/ BS normal-char: an undefined escape such as \t or \q is allowed ("SHOULD NOT be
    # used"), unlike the text format. A backslash with nothing after it is not.
    Rule(
        "om-undefined-escape",
        b'# HELP a tab \\t kept\na{x="\\q"} 1\n# EOF\n',
        b"# HELP a ends in \\\na 1\n# EOF\n",
        1,
    ),
    # MetricFamily metadata: "There MUST NOT be more than one of each type of metadata line for a MetricFamily."
    Rule(
        "om-type-twice",
        b"# TYPE a gauge\n# HELP a h\na 1\n# EOF\n",
        b"# TYPE a gauge\n# TYPE a gauge\na 1\n# EOF\n",
        2,
    ),
    # ABNF: metricfamily = *metric-descriptor *metric: metadata comes before the family's samples.
    Rule(
        "om-metadata-after-samples",
        b"# HELP a h\n# TYPE a gauge\na 1\n# EOF\n",
        b"# TYPE a gauge\na 1\n# HELP a late\n# EOF\n",
        3,
    ),
    # MetricFamily: "MetricFamilies MUST NOT be interleaved."
    Rule(
        "om-families-interleaved",
        b'# TYPE a gauge\na{x="1"} 1\na{x="2"} 1\n# TYPE b gauge\nb 1\n# EOF\n',
        b'# TYPE a gauge\na{x="1"} 1\n# TYPE b gauge\nb 1\na{x="2"} 1\n# EOF\n',
        5,
    ),
    # Metric: "Metrics MUST NOT be interleaved": the samples of one label set stay together.
    Rule(
        "om-metrics-interleaved",
        b'# TYPE a summary\na_count{x="1"} 1\na_sum{x="1"} 1\na_count{x="2"} 1\na_sum{x="2"} 1\n# EOF\n',
        b'# TYPE a summary\na_count{x="1"} 1\na_count{x="2"} 1\na_sum{x="1"} 1\na_sum{x="2"} 1\n# EOF\n',
        4,
    ),
    # Type: counter, gauge, histogram, gaugehistogram, summary, info, stateset, unknown. "untyped" is the text
    # format's word, not OpenMetrics'.
    Rule(
        "om-type-untyped",
        b"# TYPE a unknown\na 1\n# TYPE b gauge\nb 1\n# EOF\n",
        b"# TYPE a untyped\na 1\n# EOF\n",
        1,
    ),
    # Label: "Label names beginning with underscores are RESERVED and MUST NOT be used".
    Rule("om-label-name-reserved", b'a{x_="1"} 1\n# EOF\n', b'a{__x="1"} 1\n# EOF\n', 1),
    # MetricFamily: "Every Metric within a MetricFamily MUST have a unique LabelSet."
    Rule(
        "om-duplicate-labelset",
        b'a{x="1"} 1\na{x="2"} 1\n# EOF\n',
        b'a{x="1"} 1\na{x="1"} 2\n# EOF\n',
        2,
    ),
    # Metric: several MetricPoints of one Metric "MUST have monotonically increasing timestamps".
    Rule(
        "om-timestamps-decrease",
        b"# TYPE a gauge\na 1 1\na 2 2\n# EOF\n",
        b"# TYPE a gauge\na 1 2\na 2 1\n# EOF\n",
        3,
    ),
    # Timestamps "MUST be Unix Epoch in seconds"; ABNF: timestamp = realnumber (a float, never NaN or Inf).
    Rule(
        "om-timestamp-seconds",
        b"a 1 1520879607.789\nb 1 -1.5e3\n# EOF\n",
        b"a 1 +Inf\n# EOF\n",
        1,
    ),
    # ABNF: number = realnumber / [SIGN] ("inf" / "infinity") / "nan", case-insensitive; leading zeros are fine.
    # No hexadecimal.
    Rule(
        "om-value-number",
        b"a 00042\nb -1.5e-3\nc .5\nd NaN\ne -Infinity\n# EOF\n",
        b"a 0x1A\n# EOF\n",
        1,
    ),
    # Counter: "The MetricPoint's Total Value Sample MetricName MUST have the suffix _total"; _created optional.
    Rule(
        "om-counter-without-total",
        b"# TYPE a counter\na_total 1\na_created 1.6e9\n# EOF\n",
        b"# TYPE a counter\na 1\n# EOF\n",
        2,
    ),
    # Counter: "A Total is a non-NaN and MUST be monotonically non-decreasing over time, starting from 0."
    Rule("om-counter-negative", b"# TYPE a counter\na_total 0\n# EOF\n", b"# TYPE a counter\na_total -1\n# EOF\n", 2),
    # Histogram: every bucket has a threshold; "Bucket thresholds MUST NOT equal NaN". A non-canonical number
    # is fine: "Parsers MUST NOT reject inputs ... merely because they are not consistent with the canonical values".
    Rule(
        "om-histogram-le-nan",
        b'# TYPE h histogram\nh_bucket{le="0.10"} 0\nh_bucket{le="+Inf"} 0\n# EOF\n',
        b'# TYPE h histogram\nh_bucket{le="NaN"} 0\nh_bucket{le="+Inf"} 0\n# EOF\n',
        2,
    ),
    # Histogram: "Histogram MetricPoints MUST have one bucket with an +Inf threshold."
    Rule(
        "om-histogram-inf-bucket",
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 0\n# EOF\n',
        b'# TYPE h histogram\nh_bucket{le="1"} 0\n# EOF\n',
        2,
    ),
    # Histogram: "Buckets MUST be cumulative."
    Rule(
        "om-histogram-cumulative",
        b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\n# EOF\n',
        b'# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n# EOF\n',
        3,
    ),
    # Text format, Histogram: "Buckets MUST be sorted in number increasing order of le".
    Rule(
        "om-histogram-bucket-order",
        b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 1\n# EOF\n',
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_bucket{le="1"} 1\n# EOF\n',
        3,
    ),
    # Histogram: the +Inf bucket "MUST also appear in a Sample with a MetricName with the suffix _count"; the
    # family owns _bucket, _count, _sum and _created.
    Rule(
        "om-histogram-count-differs",
        b'# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_count 2\nh_sum 1.5\nh_created 1.6e9\n'
        b"# EOF\n",
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 1\nh_sum 1.5\n# EOF\n',
        3,
    ),
    # Histogram: "If and only if a Sum Value is present in a MetricPoint, then ... _count".
    Rule(
        "om-histogram-sum-without-count",
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n# EOF\n',
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\n# EOF\n',
        3,
    ),
    # GaugeHistogram: buckets are _bucket (like a histogram's), the sum _gsum and the count _gcount; integral
    # values may be written as floats ("20.0" in the specification's example); an +Inf bucket is required.
    Rule(
        "om-gaugehistogram-inf-bucket",
        b'# TYPE g gaugehistogram\ng_bucket{le="1"} 1.0\ng_bucket{le="+Inf"} 2.0\ng_gcount 2.0\ng_gsum 3.5\n'
        b"# EOF\n",
        b'# TYPE g gaugehistogram\ng_bucket{le="1"} 1\ng_gcount 1\ng_gsum 1\n# EOF\n',
        2,
    ),
    # Summary: quantiles are samples of the family's own name with a "quantile" label; _sum, _count, _created.
    Rule(
        "om-summary-without-quantile",
        b'# TYPE s summary\ns{quantile="0.5"} 1.5\ns_sum 3\ns_count 2\ns_created 1.6e9\n# EOF\n',
        b"# TYPE s summary\ns 1\n# EOF\n",
        2,
    ),
    # Summary: "Quantiles MUST be between 0 and 1 inclusive."
    Rule(
        "om-summary-quantile-range",
        b'# TYPE s summary\ns{quantile="0"} 0\ns{quantile="1"} 2\n# EOF\n',
        b'# TYPE s summary\ns{quantile="1.5"} 2\n# EOF\n',
        2,
    ),
    # Info: "The Sample MetricName ... MUST have the suffix _info."
    Rule(
        "om-info-without-suffix",
        b'# TYPE i info\ni_info{version="1.2"} 1\n# EOF\n',
        b'# TYPE i info\ni{version="1.2"} 1\n# EOF\n',
        2,
    ),
    # Info: "The Sample value MUST always be 1."
    Rule(
        "om-info-value",
        b'# TYPE i info\ni_info{version="1.2"} 1\n# EOF\n',
        b'# TYPE i info\ni_info{version="1.2"} 2\n# EOF\n',
        2,
    ),
    # StateSet: "The State sample's value MUST be 1 if the State is true and MUST be 0 if the State is false."
    Rule(
        "om-stateset-value",
        b'# TYPE s stateset\ns{s="a"} 1\ns{s="b"} 0\n# EOF\n',
        b'# TYPE s stateset\ns{s="a"} 1\ns{s="b"} 2\n# EOF\n',
        3,
    ),
    # StateSet: "Each State's sample MUST have a label with the MetricFamily name as the label name".
    Rule(
        "om-stateset-label",
        b'# TYPE s stateset\ns{s="a"} 1\n# EOF\n',
        b'# TYPE s stateset\ns{state="a"} 1\n# EOF\n',
        2,
    ),
    # MetricFamily metadata: "an underscore and the unit MUST be the suffix of the MetricFamily name" (of the
    # family, not of its samples: a counter's samples end in _total after the unit).
    Rule(
        "om-unit-not-suffix",
        b"# TYPE a_seconds counter\n# UNIT a_seconds seconds\na_seconds_total 1\n# EOF\n",
        b"# TYPE a counter\n# UNIT a seconds\na_total 1\n# EOF\n",
        2,
    ),
    # Counter: "Exemplars MAY be attached to the MetricPoint's Total sample"; a gauge has none.
    Rule(
        "om-exemplar-on-gauge",
        b'# TYPE a counter\na_total 1 # {trace_id="abc"} 1 1520879607.789\n# EOF\n',
        b'# TYPE a gauge\na 1 # {trace_id="abc"} 1\n# EOF\n',
        2,
    ),
    # Histogram: "Bucket values MAY have exemplars"; _sum may not. An empty exemplar label set is written {}.
    Rule(
        "om-exemplar-on-sum",
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 1 # {} 0.5\n# EOF\n',
        b'# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0.5 # {} 0.5\n# EOF\n',
        4,
    ),
    # GaugeHistogram: "Bucket values can have exemplars"; _gsum may not.
    Rule(
        "om-exemplar-on-gsum",
        b'# TYPE g gaugehistogram\ng_bucket{le="+Inf"} 1 # {} 0.5\n# EOF\n',
        b'# TYPE g gaugehistogram\ng_bucket{le="+Inf"} 1\ng_gcount 1\ng_gsum 0.5 # {} 0.5\n# EOF\n',
        4,
    ),
    # Exemplars: label names and values together "MUST NOT exceed 128 UTF-8 character code points" (code points,
    # not bytes: 8 + 120 two-byte characters is exactly the limit).
    Rule(
        "om-exemplar-too-long",
        f'# TYPE a counter\na_total 1 # {{trace_id="{"é" * 120}"}} 1\n# EOF\n'.encode(),
        f'# TYPE a counter\na_total 1 # {{trace_id="{"x" * 121}"}} 1\n# EOF\n'.encode(),
        2,
    ),
    # Overall Structure: "UTF-8 MUST be used."
    Rule(
        "om-utf8",
        '# HELP a café ✓\na{x="日本"} 1\n# EOF\n'.encode(),
        b'a 1\nb{x="\xff"} 1\n# EOF\n',
        2,
    ),
    # Overall Structure: line endings "MUST NOT contain carriage returns (\r)".
    Rule("om-carriage-return", b"a 1\nb 1\n# EOF\n", b"a 1\r\nb 1\n# EOF\n", 1),
    # Suffixes: a family name "MUST NOT result in a potential clash for sample metric names", like a gauge
    # "foo_created" beside a counter "foo".
    Rule(
        "om-name-clash",
        b"# TYPE a counter\na_total 1\n# TYPE b_created gauge\nb_created 1\n# EOF\n",
        b"# TYPE a counter\na_total 1\n# TYPE a_created gauge\na_created 1\n# EOF\n",
        3,
    ),
]

_CASES = [pytest.param(TEXT, rule, id=rule.id) for rule in _TEXT_RULES] + [
    pytest.param(OPENMETRICS, rule, id=rule.id) for rule in _OPENMETRICS_RULES
]


def _shown(problems: tuple[object, ...]) -> list[str]:
    return [str(problem) for problem in problems]


def test_every_rule_has_its_own_id() -> None:
    ids = [rule.id for rule in _TEXT_RULES + _OPENMETRICS_RULES]

    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("content_type", "rule"), _CASES)
def test_a_body_that_keeps_the_rule_parses_without_problems(content_type: str, rule: Rule) -> None:
    exposition = parse(rule.valid, content_type)

    assert exposition.format == ("openmetrics" if content_type == OPENMETRICS else "text")
    assert exposition.problems == (), _shown(exposition.problems)


@pytest.mark.parametrize(("content_type", "rule"), _CASES)
def test_a_body_that_breaks_the_rule_is_reported_on_the_offending_line(content_type: str, rule: Rule) -> None:
    problems = parse(rule.invalid, content_type).problems

    assert problems, "no problem reported"
    assert problems[0].line == rule.line, _shown(problems)
    assert problems[0].message


@pytest.mark.parametrize(
    ("content_type", "format_"),
    [
        pytest.param(None, "text", id="none"),
        pytest.param("application/json", "text", id="other-media-type"),
        pytest.param("application/openmetrics-text", "openmetrics", id="openmetrics-bare"),
        pytest.param("Application/OpenMetrics-Text; version=1.0.0", "openmetrics", id="openmetrics-any-case"),
    ],
)
def test_the_media_type_chooses_the_format(content_type: str | None, format_: str) -> None:
    assert parse(b"a 1\n# EOF\n", content_type).format == format_


@pytest.mark.parametrize(
    ("content_type", "body", "sample", "family", "type_"),
    [
        # Text format: a TYPE line types the samples of its own name, and a histogram's or summary's _sum/_count
        # (and a histogram's _bucket) lines.
        pytest.param(TEXT, b"# TYPE c counter\nc_total 1\nc_created 1\n", "c_total", "c_total", "untyped",
                     id="text-counter-types-only-its-name"),
        pytest.param(TEXT, b'# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', "h_bucket", "h",
                     "histogram", id="text-histogram-bucket"),
        pytest.param(TEXT, b'# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 1\ns_count 1\n', "s_count", "s",
                     "summary", id="text-summary-count"),
        # OpenMetrics: a family owns the suffixes of its type.
        pytest.param(OPENMETRICS, b"# TYPE c counter\nc_total 1\nc_created 1\n# EOF\n", "c_created", "c",
                     "counter", id="om-counter-created"),
        pytest.param(OPENMETRICS, b'# TYPE g gaugehistogram\ng_bucket{le="+Inf"} 1\ng_gcount 1\ng_gsum 1\n# EOF\n',
                     "g_bucket", "g", "gaugehistogram", id="om-gaugehistogram-bucket"),
        pytest.param(OPENMETRICS, b"# TYPE i info\ni_info 1\n# EOF\n", "i_info", "i", "info", id="om-info"),
    ],
)
def test_find_answers_the_family_that_owns_a_sample(
    content_type: str, body: bytes, sample: str, family: str, type_: str
) -> None:
    exposition = parse(body, content_type)
    found = exposition.find(sample)

    assert exposition.problems == (), _shown(exposition.problems)
    assert found is not None
    assert (found.name, found.type) == (family, type_)


def test_the_same_counter_sample_answers_counter_in_both_formats() -> None:
    text = parse(b"# TYPE jobs_total counter\njobs_total 3\n", TEXT)
    openmetrics = parse(b"# TYPE jobs counter\njobs_total 3\n# EOF\n", OPENMETRICS)

    assert (text.problems, openmetrics.problems) == ((), ())
    for exposition in (text, openmetrics):
        found = exposition.find("jobs_total")
        assert found is not None
        assert found.type == "counter"
