"""Claims are judged from the runs: Welch's test by hand and against known quantiles."""

import math

import pytest

from lightcnn.results.claims import Claim, regularized_beta, t_survival, verdict, welch


def test_student_t_tails_match_the_tables():
    assert t_survival(2.776445, 4) == pytest.approx(0.025, abs=1e-6)  # t_{0.975, 4}
    assert t_survival(12.7062, 1) == pytest.approx(0.025, abs=1e-5)
    assert t_survival(1.0, 1) == pytest.approx(0.25)  # Cauchy: 1/2 − arctan(1)/π
    assert t_survival(-1.0, 1) == pytest.approx(0.75) and t_survival(0.0, 3) == pytest.approx(0.5)
    assert t_survival(1.959964, math.inf) == pytest.approx(0.025, abs=1e-6)
    assert regularized_beta(0.3, 2.0, 3.0) == pytest.approx(0.3483, abs=1e-4)  # 1 − Σ_{j<2} C(4,j) .3^j .7^(4−j)


def test_welch_by_hand():
    test = welch([1.0, 2.0, 3.0], [4.0, 6.0])
    # means 2 and 5, variances 1 and 2: standard error √(1/3 + 2/2); df (4/3)² / ((1/3)²/2 + 1²/1)
    assert test.difference == -3.0 and test.standard_error == pytest.approx(math.sqrt(4 / 3))
    assert test.df == pytest.approx((4 / 3) ** 2 / ((1 / 3) ** 2 / 2 + 1.0))
    assert welch([1.0], [2.0, 3.0]) is None


def test_a_claim_holds_does_not_hold_or_is_not_resolved():
    claim = Claim(text="A beats B", row="A", than="B")
    assert verdict(claim, [84.0, 84.2, 84.1], [83.0, 83.1, 82.9]).endswith("**holds**")
    assert verdict(claim, [83.0, 83.1, 82.9], [84.0, 84.2, 84.1]).endswith("**does not hold**")
    assert verdict(claim, [84.0, 83.0, 84.5], [83.9, 84.4, 83.2]).endswith("**not resolved at 3 seeds**")
    one = verdict(claim, [85.0], [80.0])
    assert "A 85.00 (n=1) against B 80.00 (n=1)" in one and "**not resolved at 1 seed**" in one
    paired = verdict(claim, [85.0, 84.0], [80.0], by_seed={1: -0.5, 0: 5.0})
    assert "B 80.00 (n=1), seed by seed +5.00 (seed 0), -0.50 (seed 1): **not resolved at 1 seed**" in paired
    lower = Claim(text="A costs less", row="A", than="B", key="flops", direction="lower")
    assert verdict(lower, [1.0, 1.1], [2.0, 2.1]).endswith("**holds**")


def test_a_claim_at_the_same_cost_is_decided_only_by_dominance_when_the_costs_differ():
    """The RL masks remove 68.9 % of the parameters where HRank removes 63.3 %: "beats HRank at
    the same reduction" then holds only if the RL row is cheaper and better, fails only if it is
    costlier and worse; a trade (cheaper but worse) is not resolved."""
    claim = Claim(text="A beats B at the same size", row="A", than="B", at_same="params")
    better, worse = ([84.0, 84.2, 84.1], [83.0, 83.1, 82.9]), ([83.0, 83.1, 82.9], [84.0, 84.2, 84.1])
    same = verdict(claim, *better, costs=(98_898.0, 98_898.0))
    assert "; at the same params (98,898); difference +1.10" in same and same.endswith("**holds**")
    assert "at the same params (99,000 against 98,100)" in verdict(claim, *better, costs=(99_000.0, 98_100.0))
    cheaper, costlier = (84_153.0, 98_898.0), (98_898.0, 84_153.0)
    assert "at unequal params: 84,153 against 98,898 (-14.9%)" in verdict(claim, *better, costs=cheaper)
    assert verdict(claim, *better, costs=cheaper).endswith("**holds**")  # smaller and better
    assert verdict(claim, *worse, costs=costlier).endswith("**does not hold**")  # larger and worse
    assert verdict(claim, *worse, costs=cheaper).endswith("**not resolved at unequal cost**")  # a trade
    assert verdict(claim, *better, costs=costlier).endswith("**not resolved at unequal cost**")
    assert verdict(claim, [84.0, 83.0, 84.5], [83.9, 84.4, 83.2], costs=cheaper).endswith("**not resolved at 3 seeds**")
    assert verdict(claim, [79.0], [81.0], costs=cheaper).endswith("(a test needs 2 runs a row)")
