"""Verdicts of the benchmarks' claims: paired comparisons over seeds with 95% intervals.

A claim such as "STES's IoU is above the baseline's" is decided on the
per-seed differences ``d_s = a_s - b_s`` of two methods trained on the same
data with the same seed. The effect is their mean, the interval Student's
t interval of that mean (the confidence interval of a paired t-test), and
the verdict is

- ``"holds"`` when the whole interval lies above 0,
- ``"reversed"`` when it lies below 0,
- ``"not significant"`` otherwise (also with fewer than two seeds).

With five seeds a percentile bootstrap interval is too narrow (it can never
be wider than the range of the five differences), so the t interval is the
honest choice; it assumes roughly normal differences. No correction for the
number of claims is made: read a table of many verdicts knowing that about
one in twenty true "no difference" claims comes out significant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

__all__ = ["VERDICT_RULE", "Claim", "PairedComparison", "format_claim_grid", "format_claims",
           "paired_comparison"]

HOLDS, NOT_SIGNIFICANT, REVERSED = "holds", "not significant", "reversed"

#: How the benchmarks' results.md explain their verdicts.
VERDICT_RULE = """\
Each claim compares two methods seed by seed (same data, same initialisation): the effect is
the mean of the per-seed differences (the favoured method minus the other), the interval the
95% t interval of that mean (a paired t-test's), and the verdict "holds" when the interval
lies above 0, "reversed" when it lies below 0, "not significant" otherwise. No correction for
the number of claims is made: among many claims of no real difference, about one in twenty
comes out significant."""


@dataclass(frozen=True)
class PairedComparison:
    """The paired difference of two methods over seeds.

    Attributes
    ----------
    effect : float
        Mean over seeds of ``a - b`` (of ``b - a`` for a lower-is-better score).
    low, high : float
        The confidence interval of the effect (NaN with fewer than two seeds).
    p_value : float
        Two-sided p-value of the paired t-test of "no difference".
    n : int
        Seeds compared (pairs where either value is NaN are dropped).
    verdict : {"holds", "not significant", "reversed"}
        Whether the interval lies above 0, straddles it, or lies below it.
    differences : tuple of float
        The per-seed differences the comparison rests on.
    """

    effect: float
    low: float
    high: float
    p_value: float
    n: int
    verdict: str
    differences: tuple[float, ...]

    def interval(self, digits: int = 3, scale: float = 1.0) -> str:
        """``"[low, high]"`` with signs, as the tables print it.

        Examples
        --------
        >>> paired_comparison([3.0, 4.0, 5.0], [1.0, 1.0, 1.0]).interval(2)
        '[+0.52, +5.48]'
        """
        if not math.isfinite(self.low):
            return "n/a"
        return f"[{self.low * scale:+.{digits}f}, {self.high * scale:+.{digits}f}]"


def paired_comparison(
    a: Sequence[float],
    b: Sequence[float],
    *,
    lower_is_better: bool = False,
    confidence: float = 0.95,
) -> PairedComparison:
    """Compare two methods seed by seed: mean difference, t interval, verdict.

    Parameters
    ----------
    a, b : sequence of float
        One score per seed, in the same seed order; ``a`` is the method the
        claim favours.
    lower_is_better : bool, default=False
        The score is an error (lower is better): the differences are ``b - a``,
        so that a positive effect still means ``a`` is better.
    confidence : float, default=0.95
        Level of the interval, in (0, 1).

    Returns
    -------
    PairedComparison

    Raises
    ------
    ValueError
        ``a`` and ``b`` differ in length, or ``confidence`` is outside (0, 1).

    Examples
    --------
    Differences 2, 3, 4: mean 3, standard error 1 / sqrt(3), t(0.975, 2) = 4.303.

    >>> result = paired_comparison([3.0, 4.0, 5.0], [1.0, 1.0, 1.0])
    >>> result.effect, round(result.low, 3), round(result.high, 3), result.verdict
    (3.0, 0.516, 5.484, 'holds')
    >>> paired_comparison([0.1, 0.3], [0.2, 0.1]).verdict
    'not significant'
    >>> paired_comparison([0.5, 0.4, 0.6], [0.1, 0.1, 0.2], lower_is_better=True).verdict
    'reversed'
    """
    a_values = np.asarray(a, dtype=np.float64)
    b_values = np.asarray(b, dtype=np.float64)
    if a_values.shape != b_values.shape or a_values.ndim != 1:
        raise ValueError(
            f"a and b must hold one score per seed each, as many of both; got {a_values.size} "
            f"and {b_values.size}."
        )
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
    differences = b_values - a_values if lower_is_better else a_values - b_values
    differences = differences[np.isfinite(differences)]
    n = int(differences.size)
    if n == 0:
        return PairedComparison(math.nan, math.nan, math.nan, math.nan, 0, NOT_SIGNIFICANT, ())
    effect = float(differences.mean())
    spread = float(differences.std(ddof=1)) if n > 1 else math.nan
    if n < 2:
        low = high = p_value = math.nan
    elif spread <= 1e-9 * max(1.0, abs(effect)):  # identical differences (up to rounding)
        low = high = effect
        p_value = 1.0 if effect == 0.0 else 0.0
    else:
        test = stats.ttest_1samp(differences, 0.0)
        interval = test.confidence_interval(confidence)
        low, high, p_value = float(interval.low), float(interval.high), float(test.pvalue)
    if n >= 2 and low > 0.0:
        verdict = HOLDS
    elif n >= 2 and high < 0.0:
        verdict = REVERSED
    else:
        verdict = NOT_SIGNIFICANT
    return PairedComparison(effect, low, high, p_value, n, verdict,
                            tuple(float(d) for d in differences))


@dataclass(frozen=True)
class Claim:
    """A claim of a paper, checked on a benchmark's scores.

    Attributes
    ----------
    text : str
        What is claimed, e.g. ``"STES IoU above the baseline's"``.
    comparison : PairedComparison
        The paired comparison that decides it.
    means : tuple of float
        Mean over seeds of the favoured method and of the other one (for the
        reader; the verdict does not use them).
    """

    text: str
    comparison: PairedComparison
    means: tuple[float, float]

    @classmethod
    def check(cls, text: str, a: Sequence[float], b: Sequence[float], *,
              lower_is_better: bool = False) -> Claim:
        """Compare ``a`` with ``b`` (see :func:`paired_comparison`) and keep both means.

        Examples
        --------
        >>> Claim.check("a above b", [0.5, 0.6, 0.7], [0.1, 0.2, 0.2]).comparison.verdict
        'holds'
        """
        comparison = paired_comparison(a, b, lower_is_better=lower_is_better)
        means = (float(np.nanmean(a)) if len(a) else math.nan,
                 float(np.nanmean(b)) if len(b) else math.nan)
        return cls(text, comparison, means)

    def to_dict(self) -> dict[str, Any]:
        """Everything about the claim, for ``results.json``."""
        return {"claim": self.text, "means": list(self.means), **asdict(self.comparison)}


def format_claims(claims: Iterable[Claim], *, digits: int = 3, scale: float = 1.0) -> str:
    """A markdown table: claim, the two means, effect, 95% interval, seeds, verdict.

    Parameters
    ----------
    claims : iterable of Claim
        The rows.
    digits : int, default=3
        Decimals shown.
    scale : float, default=1.0
        Factor applied to means, effects and intervals (100 for points).

    Examples
    --------
    >>> print(format_claims([Claim.check("a above b", [3.0, 4.0, 5.0], [1.0, 1.0, 1.0])], digits=2))
    | claim | means (a / b) | effect | 95% interval | seeds | verdict |
    |---|---|---|---|---|---|
    | a above b | 4.00 / 1.00 | +3.00 | [+0.52, +5.48] | 3 | **holds** |
    """
    lines = ["| claim | means (a / b) | effect | 95% interval | seeds | verdict |",
             "|---|---|---|---|---|---|"]
    for claim in claims:
        result = claim.comparison
        verdict = f"**{result.verdict}**" if result.verdict == HOLDS else result.verdict
        first, second = (value * scale for value in claim.means)
        effect = "n/a" if not math.isfinite(result.effect) else f"{result.effect * scale:+.{digits}f}"
        lines.append(f"| {claim.text} | {first:.{digits}f} / {second:.{digits}f} | {effect} | "
                     f"{result.interval(digits, scale)} | {result.n} | {verdict} |")
    return "\n".join(lines)


def _cell(claim: Claim, digits: int, scale: float) -> str:
    result = claim.comparison
    if not math.isfinite(result.effect):
        return "n/a"
    verdict = f"**{result.verdict}**" if result.verdict == HOLDS else result.verdict
    return f"{result.effect * scale:+.{digits}f} {result.interval(digits, scale)} {verdict}"


def format_claim_grid(grid: Mapping[str, Mapping[str, Claim]], *, first_column: str = "",
                      digits: int = 3, scale: float = 1.0) -> str:
    """A markdown table of claims by row and column: ``effect [interval] verdict`` per cell.

    Parameters
    ----------
    grid : mapping
        Row label -> column label -> Claim (every row with the same columns).
    first_column : str, default=""
        Header of the row labels.
    digits : int, default=3
        Decimals shown.
    scale : float, default=1.0
        Factor applied to effects and intervals (100 for points).

    Examples
    --------
    >>> claim = Claim.check("", [3.0, 4.0, 5.0], [1.0, 1.0, 1.0])
    >>> print(format_claim_grid({"a - b": {"level 1": claim}}, digits=1))
    |  | level 1 |
    |---|---|
    | a - b | +3.0 [+0.5, +5.5] **holds** |
    """
    columns = list(next(iter(grid.values()), {}))
    lines = ["| " + " | ".join([first_column, *columns]) + " |",
             "|" + "---|" * (len(columns) + 1)]
    for label, row in grid.items():
        cells = [_cell(row[column], digits, scale) for column in columns]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    return "\n".join(lines)
