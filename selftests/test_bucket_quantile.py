"""The gate's quantile from bucket counts already in hand (wavegate.checks.common.bucket_quantile) against a
real Prometheus 2.42's histogram_quantile over the same counts, sent as vector literals with `le` labels."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import PrometheusServer

from wavegate.checks.common import bucket_quantile

INF = math.inf
BUCKET_SETS: dict[str, dict[float, float]] = {
    "typical": {0.1: 5, 0.5: 20, 1: 30, INF: 32},
    "mostly_in_inf": {0.1: 1, 1: 2, INF: 100},
    "not_monotonic": {0.1: 10, 0.5: 7, 1: 12, 2: 11, INF: 12},
    "negative_lowest_bound": {-1: 3, 0: 5, 1: 10, INF: 10},
    "zero_lowest_bound": {0: 4, 0.5: 6, INF: 8},
    "no_observations": {1: 0, INF: 0},
    "only_inf": {INF: 5},
    "no_inf_bucket": {1: 5, 2: 9},
    "empty_buckets_inside": {0.25: 0, 0.5: 0, 1: 4, 2.5: 4, INF: 4},
    "fractional_increases": {0.005: 0.3, 0.01: 1.7, 0.025: 2.9999, 0.05: 3.1, INF: 3.5},
    "inf_below_finite": {0.1: 3, 1: 9, INF: 6},
}
QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0, -0.5, 1.5)


def _literal(counts: dict[float, float]) -> str:
    """The bucket counts as an instant vector of PromQL literals, one series per `le`."""
    def le(bound: float) -> str:
        return "+Inf" if bound == INF else repr(float(bound))

    return " or ".join(f'label_replace(vector({float(v)!r}), "le", "{le(b)}", "", "")' for b, v in counts.items())


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    workdir: Path = tmp_path_factory.mktemp("quantile-prometheus")
    with PrometheusServer(workdir=workdir) as server:
        yield server


def _same(ours: float, theirs: float) -> bool:
    return (math.isnan(ours) and math.isnan(theirs)) or ours == theirs


@pytest.mark.parametrize("name", list(BUCKET_SETS))
def test_the_quantile_from_bucket_counts_is_the_one_histogram_quantile_answers(
        prometheus: PrometheusServer, name: str) -> None:
    counts = BUCKET_SETS[name]
    for q in QUANTILES:
        answer = prometheus.query(f"histogram_quantile({q!r}, {_literal(counts)})")
        assert len(answer) == 1, (name, q, answer)
        theirs = float(answer[0]["value"][1])
        ours = bucket_quantile(q, counts)
        assert _same(ours, theirs), (name, q, ours, theirs)


def test_a_quantile_in_the_inf_bucket_is_the_largest_finite_bound() -> None:
    assert bucket_quantile(0.99, BUCKET_SETS["mostly_in_inf"]) == 1.0


def test_no_observations_fewer_than_two_buckets_or_no_inf_bucket_give_nan() -> None:
    for name in ("no_observations", "only_inf", "no_inf_bucket"):
        assert math.isnan(bucket_quantile(0.5, BUCKET_SETS[name])), name


def test_the_lowest_bucket_starts_at_zero_only_above_zero() -> None:
    assert bucket_quantile(0.1, {1.0: 10, INF: 10}) == pytest.approx(0.1)
    assert bucket_quantile(0.1, BUCKET_SETS["negative_lowest_bound"]) == -1.0


def test_a_count_below_a_lower_bucket_is_raised_to_it() -> None:
    # 0.5 counts 7 < 10 below it: taken as 10, so the median lies in the first bucket, as in Prometheus.
    assert bucket_quantile(0.5, BUCKET_SETS["not_monotonic"]) == pytest.approx(0.06)
