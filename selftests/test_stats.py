"""The intervals a canary verdict will rest on: they cover the truth as often as they claim (seeded synthetic
draws, the issue's bar: 95 % intervals cover in at least 95 % of 1,000 draws less two binomial standard
errors), and a verdict from an interval is pass, fail or "too little data", never a guess."""

from __future__ import annotations

import math
import random

import pytest

from wavegate.checks.performance import _spread
from wavegate.stats import (
    FAILED,
    INCONCLUSIVE,
    PASSED,
    Interval,
    combination,
    difference,
    judge,
    mean_ratio,
    more_data,
    proportion,
    rate_ratio,
)

DRAWS = 1000
BAR = 0.95 - 2 * math.sqrt(0.95 * 0.05 / DRAWS)  # 0.936


def _binomial(rng: random.Random, trials: int, p: float) -> int:
    return sum(1 for _ in range(trials) if rng.random() < p)


@pytest.mark.parametrize(("p", "n"), [(0.05, 200), (0.3, 50), (0.01, 1000), (0.5, 20), (0.9, 100), (0.002, 2000)])
def test_a_proportions_95_percent_interval_covers_the_truth_often_enough(p: float, n: int) -> None:
    rng = random.Random(f"{p}/{n}")
    covered = 0
    for _ in range(DRAWS):
        interval = proportion(_binomial(rng, n, p), n)
        covered += interval.low <= p <= interval.high
    assert covered / DRAWS >= BAR, f"coverage {covered / DRAWS:.3f} for p={p}, n={n}"


@pytest.mark.parametrize(("pa", "na", "pb", "nb"), [(0.05, 500, 0.04, 500), (0.3, 60, 0.3, 80),
                                                    (0.01, 2000, 0.02, 1000), (0.2, 30, 0.05, 400)])
def test_a_differences_95_percent_interval_covers_the_truth_often_enough(pa: float, na: int, pb: float,
                                                                         nb: int) -> None:
    rng = random.Random(f"{pa}/{na}/{pb}/{nb}")
    covered = 0
    for _ in range(DRAWS):
        interval = difference(_binomial(rng, na, pa), na, _binomial(rng, nb, pb), nb)
        covered += interval.low <= pa - pb <= interval.high
    assert covered / DRAWS >= BAR, f"coverage {covered / DRAWS:.3f}"


def test_intervals_narrow_with_more_data_and_stay_inside_zero_and_one() -> None:
    small, large = proportion(5, 100), proportion(500, 10_000)
    assert small.high - small.low > large.high - large.low
    assert proportion(0, 10).low == 0.0
    assert proportion(10, 10).high == 1.0
    with pytest.raises(ValueError, match="trials"):
        proportion(1, 0)


def test_a_verdict_from_an_interval_is_pass_fail_or_too_little_data() -> None:
    assert judge(Interval(0.02, 0.01, 0.04), 0.05, "at_most") == PASSED
    assert judge(Interval(0.08, 0.06, 0.10), 0.05, "at_most") == FAILED
    assert judge(Interval(0.04, 0.02, 0.07), 0.05, "at_most") == INCONCLUSIVE
    assert judge(Interval(0.97, 0.95, 0.99), 0.9, "at_least") == PASSED
    # 4.9 % wasted retries out of 100 attempts cannot tell < 5 % from > 5 %; out of 100,000 it can.
    assert judge(proportion(49, 1000), 0.05, "at_most") == INCONCLUSIVE
    assert judge(proportion(4_000, 100_000), 0.05, "at_most") == PASSED


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw: arrivals of a unit-rate process within `mean` time units."""
    count, elapsed = 0, rng.expovariate(1.0)
    while elapsed <= mean:
        count += 1
        elapsed += rng.expovariate(1.0)
    return count


@pytest.mark.parametrize(("pa", "na", "pb", "nb"), [(0.002, 18_000, 0.002, 162_000), (0.01, 600, 0.005, 5_400),
                                                    (0.05, 300, 0.03, 3_000)])
def test_the_error_ratio_limits_interval_covers_the_truth_often_enough(pa: float, na: int, pb: float,
                                                                       nb: int) -> None:
    # canary - stable x 1.05 - 0.001, as errors.rate_not_higher judges it between tracks (MOVER)
    rng = random.Random(f"mover/{pa}/{na}/{pb}/{nb}")
    truth, covered = pa - 1.05 * pb - 0.001, 0
    for _ in range(DRAWS):
        a, b = proportion(_binomial(rng, na, pa), na), proportion(_binomial(rng, nb, pb), nb)
        interval = combination(a, b, 1.05, 0.001)
        covered += interval.low <= truth <= interval.high
    assert covered / DRAWS >= BAR, f"coverage {covered / DRAWS:.3f}"


@pytest.mark.parametrize(("rate_a", "exposure_a", "rate_b", "exposure_b"),
                         [(2.0, 100, 2.0, 900), (2.0, 600, 1.9, 5_400), (1.0, 30, 1.2, 300)])
def test_a_rate_ratios_interval_covers_the_truth_often_enough(rate_a: float, exposure_a: float, rate_b: float,
                                                              exposure_b: float) -> None:
    # worker steps per gateway request, canary against stable (performance.throughput between tracks)
    rng = random.Random(f"rates/{rate_a}/{exposure_a}/{rate_b}/{exposure_b}")
    covered = 0
    for _ in range(DRAWS):
        interval = rate_ratio(_poisson(rng, rate_a * exposure_a), exposure_a, _poisson(rng, rate_b * exposure_b),
                              exposure_b)
        covered += interval.low <= rate_a / rate_b <= interval.high
    assert covered / DRAWS >= BAR, f"coverage {covered / DRAWS:.3f}"


@pytest.mark.parametrize(("factor", "n_canary", "n_stable"), [(1.0, 300, 2_700), (1.04, 600, 600), (1.5, 100, 900)])
def test_the_mean_latency_ratios_interval_covers_the_truth_often_enough(factor: float, n_canary: int,
                                                                        n_stable: int) -> None:
    # As performance.latency_increase judges the mean between tracks: the mean from _sum / _count (exact), the
    # spread from the contract's gateway buckets (midpoints), lognormal latencies (median 50 ms, sigma 0.6).
    bounds = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
    rng = random.Random(f"means/{factor}/{n_canary}/{n_stable}")

    def sample(n: int, scale: float) -> tuple[float, dict[float, float]]:
        values = [0.05 * scale * math.exp(rng.gauss(0.0, 0.6)) for _ in range(n)]
        counts = {bound: float(sum(v <= bound for v in values)) for bound in bounds}
        counts[math.inf] = float(n)
        return sum(values) / n, counts

    covered = 0
    for _ in range(DRAWS):
        mean_c, buckets_c = sample(n_canary, factor)
        mean_s, buckets_s = sample(n_stable, 1.0)
        interval = mean_ratio(mean_c, _spread(buckets_c), n_canary, mean_s, _spread(buckets_s), n_stable)
        covered += interval.low <= factor <= interval.high
    assert covered / DRAWS >= BAR, f"coverage {covered / DRAWS:.3f}"


def test_how_much_more_data_would_decide_an_interval() -> None:
    # half-width 0.02 around 0.01 against a limit 0.02 away from the estimate... 0.01 away: 4x the data
    assert more_data(Interval(0.04, 0.02, 0.06), 0.05) == pytest.approx(4.0)
    assert more_data(Interval(0.06, 0.04, 0.08), 0.05) == pytest.approx(4.0)
    assert more_data(Interval(0.05, 0.03, 0.07), 0.05) is None  # on the limit: no amount decides it
