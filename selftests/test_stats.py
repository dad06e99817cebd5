"""The intervals a canary verdict will rest on: they cover the truth as often as they claim (seeded synthetic
draws, the issue's bar: 95 % intervals cover in at least 95 % of 1,000 draws less two binomial standard
errors), and a verdict from an interval is pass, fail or "too little data", never a guess."""

from __future__ import annotations

import math
import random

import pytest

from wavegate.stats import FAILED, INCONCLUSIVE, PASSED, Interval, difference, judge, proportion

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
