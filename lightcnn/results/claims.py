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

A claim about a change (``key: rl_rounds, change_of: mean_return``: "the RL search's mean return
rises more than a random search's") compares, run by run, a list field's last entry minus its
first (:func:`lightcnn.results.aggregate.last_entry`), then one value per seed as above;
``final_of: mean_return`` compares the last entry's value itself ("the RL search ends with a
higher mean return than a random search", whatever either started from).

A claim made at a cost (``at_same: params``: "the RL masks beat HRank's at the same
reduction") also compares the rows' means of that field, lower being cheaper. Within
:data:`SAME_COST` of each other the verdict stands as above; otherwise the accuracy difference
mixes the methods with their costs, and only a dominance decides: the claimed row cheaper and
significantly better **holds**, costlier and significantly worse **does not hold**, anything else
(better but costlier, or cheaper but worse) is **not resolved at unequal cost**.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

ALPHA = 0.05
DIRECTIONS = ("higher", "lower")
SAME_COST = 0.01  # relative difference of the ``at_same`` field under which two rows cost the same


@dataclass(frozen=True)
class Claim:
    text: str  # the claim in words, as the paper (or we) state it
    row: str  # the row claimed to be higher (or lower)
    than: str  # the row it is compared with
    key: str = "test_acc"  # the record field compared
    direction: str = "higher"
    at_same: str | None = None  # a cost field (lower is cheaper) the comparison is claimed at, e.g. params
    change_of: str | None = None  # ``key`` is a list of mappings (a search's ``rl_rounds``): compare, run by run,
    # its last entry's ``change_of`` minus its first's (the mean return's rise from the first round to the last)
    final_of: str | None = None  # the same list: compare its last entry's ``final_of`` (the last round's mean return)

    @property
    def list_item(self) -> tuple[str, bool] | None:
        """The entry field compared and whether as a change since the first entry, for a list ``key``."""
        if self.change_of:
            return self.change_of, True
        return (self.final_of, False) if self.final_of else None


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


def cost_comparison(field: str, cost: float, other: float) -> tuple[str, int]:
    """Words for two rows' mean cost (``field``), and -1 when the claimed row is cheaper beyond
    :data:`SAME_COST`, +1 when costlier, 0 when they cost the same."""
    relative = (cost - other) / abs(other) if other else (0.0 if cost == other else math.inf)
    if abs(relative) <= SAME_COST:
        both = f"{cost:,.0f}" if round(cost) == round(other) else f"{cost:,.0f} against {other:,.0f}"
        return f"at the same {field} ({both})", 0
    return f"at unequal {field}: {cost:,.0f} against {other:,.0f} ({relative:+.1%})", 1 if relative > 0 else -1


def verdict(
    claim: Claim,
    values: list[float],
    others: list[float],
    by_seed: dict[int, float] | None = None,
    costs: tuple[float, float] | None = None,
) -> str:
    """One line: the claim, both rows' means, the difference seed by seed where both rows ran a
    seed (``by_seed``: seed → row − other; shown, not tested: the rule is Welch's over the means),
    the rows' mean costs (``costs``, of the claim's ``at_same`` field), the test and its verdict."""
    n = min(len(values), len(others))
    test = welch(values, others)
    sign = 1.0 if claim.direction == "higher" else -1.0

    def summary(label: str, xs: list[float]) -> str:
        spread = f" ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else ""
        return f"{label} {statistics.fmean(xs):.2f}{spread} (n={len(xs)})" if xs else f"{label}: no run with a value"

    shown = f"{summary(claim.row, values)} against {summary(claim.than, others)}"
    if by_seed:
        shown += ", seed by seed " + ", ".join(f"{d:+.2f} (seed {seed})" for seed, d in sorted(by_seed.items()))
    costlier = 0
    if claim.at_same and costs is not None:
        words, costlier = cost_comparison(claim.at_same, *costs)
        shown += f"; {words}"
    if test is None:
        seeds = f"{n} seed{'s' if n != 1 else ''}"
        return f"- {claim.text}: {shown}: **not resolved at {seeds}** (a test needs 2 runs a row)"
    p_claimed, p_opposite = t_survival(sign * test.t, test.df), t_survival(-sign * test.t, test.df)
    if p_claimed < ALPHA and costlier <= 0:
        word = "holds"
    elif p_opposite < ALPHA and costlier >= 0:
        word = "does not hold"
    elif p_claimed < ALPHA or p_opposite < ALPHA:  # better but costlier, or cheaper but worse
        word = "not resolved at unequal cost"
    else:
        word = f"not resolved at {n} seeds"
    df = "∞" if math.isinf(test.df) else f"{test.df:.1f}"
    return (f"- {claim.text}: {shown}; difference {test.difference:+.2f}, Welch t = {test.t:.2f} (df {df}), "
            f"one-sided p = {min(p_claimed, 1.0):.3f}: **{word}**")  # fmt: skip


RULE = (
    f"Claims, judged from the runs (one-sided Welch t-test, α = {ALPHA}: **holds** when the claimed direction is "
    "significant, **does not hold** when the opposite is, otherwise **not resolved** at the seeds run):"
)
