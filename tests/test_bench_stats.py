"""Paired verdicts over seeds, checked against values computed by hand."""

from __future__ import annotations

import math

import pytest

from xsup.bench._stats import Claim, format_claims, paired_comparison


def test_the_interval_is_the_paired_t_interval_computed_by_hand():
    # Differences 0.1, 0.3, 0.2, 0.4, 0.0: mean 0.2, sd sqrt(0.025) = 0.158114,
    # standard error 0.0707107, t(0.975, 4) = 2.776445: half-width 0.196324.
    a = [0.6, 0.8, 0.7, 0.9, 0.5]
    b = [0.5, 0.5, 0.5, 0.5, 0.5]
    result = paired_comparison(a, b)
    assert result.effect == pytest.approx(0.2)
    assert result.low == pytest.approx(0.2 - 0.196324, abs=1e-6)
    assert result.high == pytest.approx(0.2 + 0.196324, abs=1e-6)
    assert result.n == 5 and result.verdict == "holds"
    # t = 0.2 / 0.0707107 = 2.828427 on 4 degrees of freedom: two-sided p = 0.047421.
    assert result.p_value == pytest.approx(0.047421, abs=1e-5)
    assert result.differences == pytest.approx((0.1, 0.3, 0.2, 0.4, 0.0))


def test_an_interval_across_zero_is_not_significant_and_below_zero_is_reversed():
    assert paired_comparison([0.5, 0.7, 0.4], [0.6, 0.5, 0.5]).verdict == "not significant"
    reversed_ = paired_comparison([0.1, 0.2, 0.15], [0.5, 0.6, 0.55])
    assert reversed_.verdict == "reversed" and reversed_.high < 0


def test_lower_is_better_flips_the_sign_so_that_positive_favours_a():
    result = paired_comparison([0.1, 0.2, 0.1], [0.4, 0.5, 0.6], lower_is_better=True)
    assert result.effect == pytest.approx(0.3667, abs=1e-4) and result.verdict == "holds"


def test_identical_differences_give_a_point_interval():
    result = paired_comparison([1.0, 2.0, 3.0], [0.5, 1.5, 2.5])
    assert (result.low, result.high, result.verdict) == (0.5, 0.5, "holds")
    tie = paired_comparison([1.0, 2.0], [1.0, 2.0])
    assert tie.verdict == "not significant" and tie.p_value == 1.0


def test_one_seed_or_nan_pairs_leave_no_verdict():
    single = paired_comparison([0.9], [0.1])
    assert single.verdict == "not significant" and math.isnan(single.low)
    assert single.interval() == "n/a"
    dropped = paired_comparison([0.9, float("nan"), 0.8, 0.85], [0.1, 0.2, float("nan"), 0.15])
    assert dropped.n == 2


def test_bad_inputs_are_value_errors():
    with pytest.raises(ValueError, match="a and b must hold one score per seed"):
        paired_comparison([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        paired_comparison([1.0, 2.0], [1.0, 1.0], confidence=95)


def test_claims_table_prints_means_effect_interval_and_verdict():
    claim = Claim.check("a above b", [0.6, 0.8, 0.7, 0.9, 0.5], [0.5] * 5)
    table = format_claims([claim], digits=1, scale=100)
    assert table.splitlines()[-1] == "| a above b | 70.0 / 50.0 | +20.0 | [+0.4, +39.6] | 5 | **holds** |"
    record = claim.to_dict()
    assert record["verdict"] == "holds" and record["means"] == pytest.approx([0.7, 0.5])
