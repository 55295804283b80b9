"""Whether a table's stated comparisons hold, computed from its runs (never typed in).

A spec's ``claims`` list states comparisons between two rows on a record field, e.g. "method 1
loses less accuracy than HRank": ``{text: ..., row: "method 1", than: "HRank", key: test_acc,
direction: higher}``. Each is judged from the runs behind the two rows by a one-sided Welch
t-test at level :data:`ALPHA` over one value per seed (runs of the same seed, e.g. on two
machines, are averaged first: they are not independent samples):

* **holds**: the row's mean is beyond the other's in the claimed direction, p < α;
* **does not hold**: it is beyond in the opposite direction, p < α;
* **not resolved at n seeds**: neither (too few runs, or a difference the runs' spread hides).

With a single run in either row nothing is resolved: one seed decides nothing when seeds differ.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

ALPHA = 0.05
DIRECTIONS = ("higher", "lower")


@dataclass(frozen=True)
class Claim:
    text: str  # the claim in words, as the paper (or we) state it
    row: str  # the row claimed to be higher (or lower)
    than: str  # the row it is compared with
    key: str = "test_acc"  # the record field compared
    direction: str = "higher"


@dataclass(frozen=True)
class Welch:
    difference: float  # mean(a) − mean(b)
    standard_error: float
    t: float
    df: float


def welch(a: list[float], b: list[float]) -> Welch | None:
    """Welch's t statistic of mean(a) − mean(b) with the Welch–Satterthwaite degrees of freedom;
    None with fewer than two values on either side."""
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    difference = statistics.fmean(a) - statistics.fmean(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Welch(difference, 0.0, math.copysign(math.inf, difference) if difference else 0.0, math.inf)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if va + vb > 0 else math.inf
    return Welch(difference, se, difference / se, df)


def t_survival(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (``df`` may be infinite: normal)."""
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    if math.isinf(df):
        return 0.5 * math.erfc(t / math.sqrt(2))
    tail = 0.5 * regularized_beta(df / (df + t * t), df / 2, 0.5)
    return tail if t > 0 else 1.0 - tail


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b) by its continued fraction (modified Lentz), with the symmetry for x > (a+1)/(a+b+2)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - regularized_beta(1 - x, b, a)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    value = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):  # fmt: skip
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            value *= c * d
        if abs(c * d - 1.0) < 1e-14:
            break
    return front * value


def verdict(claim: Claim, values: list[float], others: list[float], by_seed: dict[int, float] | None = None) -> str:
    """One line: the claim, both rows' means, the difference seed by seed where both rows ran a
    seed (``by_seed``: seed → row − other; shown, not tested: the rule is Welch's over the means),
    the test and its verdict."""
    n = min(len(values), len(others))
    test = welch(values, others)
    sign = 1.0 if claim.direction == "higher" else -1.0

    def summary(label: str, xs: list[float]) -> str:
        spread = f" ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else ""
        return f"{label} {statistics.fmean(xs):.2f}{spread} (n={len(xs)})" if xs else f"{label}: no run"

    shown = f"{summary(claim.row, values)} against {summary(claim.than, others)}"
    if by_seed:
        shown += ", seed by seed " + ", ".join(f"{d:+.2f} (seed {seed})" for seed, d in sorted(by_seed.items()))
    if test is None:
        seeds = f"{n} seed{'s' if n != 1 else ''}"
        return f"- {claim.text}: {shown}: **not resolved at {seeds}** (a test needs 2 runs a row)"
    p_claimed, p_opposite = t_survival(sign * test.t, test.df), t_survival(-sign * test.t, test.df)
    if p_claimed < ALPHA:
        word = "holds"
    elif p_opposite < ALPHA:
        word = "does not hold"
    else:
        word = f"not resolved at {n} seeds"
    df = "∞" if math.isinf(test.df) else f"{test.df:.1f}"
    return (f"- {claim.text}: {shown}; difference {test.difference:+.2f}, Welch t = {test.t:.2f} (df {df}), "
            f"one-sided p = {min(p_claimed, 1.0):.3f}: **{word}**")  # fmt: skip


RULE = (
    f"Claims, judged from the runs (one-sided Welch t-test, α = {ALPHA}: **holds** when the claimed direction is "
    "significant, **does not hold** when the opposite is, otherwise **not resolved** at the seeds run):"
)
