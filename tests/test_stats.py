"""Interval estimators: values worked out by hand or from another library."""

import math

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.stats import intervals as stats


def test_wilson_3_of_10_by_hand():
    # p = 0.3, z = 1.95996: centre = (0.3 + 0.19207)/1.38415 = 0.35551,
    # half = 1.95996/1.38415 * sqrt(0.021 + 0.0096037) = 0.24770
    low, high = stats.wilson_interval(3, 10)
    assert low == pytest.approx(0.108, abs=5e-4) and high == pytest.approx(0.603, abs=5e-4)


def test_share_interval_matches_statsmodels_wilson():
    p, low, high = stats.share_interval(24, 38)
    ref = proportion_confint(24, 38, method="wilson")
    assert p == pytest.approx(24 / 38) and (low, high) == pytest.approx(ref)


def test_mean_t_interval_by_hand():
    # x = 2, 4, 6: mean 4, s = 2, t_{0.975, 2} = 4.302653 -> half = 4.302653 * 2 / sqrt(3) = 4.96828
    mean, low, high, n = stats.mean_t_interval([2, 4, 6, np.nan])
    assert (mean, n) == (4, 3)
    assert low == pytest.approx(4 - 4.96828, abs=1e-4) and high == pytest.approx(4 + 4.96828, abs=1e-4)


def test_median_with_ties_order_statistic_interval():
    # sorted: 1 2 2 2 2 2 3 5 7 9 -> median (2 + 2)/2 = 2.
    # Binomial(10, 1/2): P(B <= 1) = 11/1024 = 0.0107 <= 0.025 < P(B <= 2) = 56/1024,
    # so j = 2: interval [x_(2), x_(9)] = [2, 7], coverage 1 - 22/1024 = 97.9 %.
    med, low, high, n = stats.median_order_interval([1, 2, 2, 2, 3, 5, 7, 2, 2, 9])
    assert (med, low, high, n) == (2.0, 2.0, 7.0, 10)


def test_median_even_count_and_too_few_values():
    med, low, high, n = stats.median_order_interval([7, 1, 3, 5])
    assert med == 4 and math.isnan(low) and math.isnan(high)  # n = 4: P(B <= 0) = 1/16 > 0.025


def test_median_bootstrap_is_seeded_and_brackets_the_median():
    x = [1, 2, 2, 2, 3, 5, 7, 2, 2, 9, 4, 4, 6]
    a = stats.median_bootstrap_interval(x, seed=20190401)
    b = stats.median_bootstrap_interval(x, seed=20190401)
    assert a == b
    assert a[1] <= a[0] <= a[2]


def test_paired_mean_difference_by_hand():
    # differences 2, 4, 6 (pair with a NaN dropped)
    mean, low, high, n = stats.paired_mean_diff_interval([10, 10, 10, np.nan], [12, 14, 16, 20])
    assert (mean, n) == (4, 3) and high - mean == pytest.approx(4.96828, abs=1e-4)


def test_standardized_difference_by_hand():
    # (0.5 - 0.3) / sqrt((0.25 + 0.21) / 2) = 0.2 / 0.479583 = 0.417029
    assert stats.standardized_difference(0.5, 0.3) == pytest.approx(0.417029, abs=1e-6)


def _wilson(p, n, z=1.959964):
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_clustered_share_uses_t_on_clusters_minus_one_when_clusters_agree():
    # 7 CAEs of 40 people with 10 successes each: deff = 1, N = 280, p = 0,25;
    # Korn & Graubard: n* = N (z / t_6)² = 280 × (1,959964 / 2,446912)² = 280 × 0,641591
    # = 179,6455: Wilson on 179,6455 instead of 280 (about 25 % wider).
    p, low, high, deff = stats.clustered_share_interval([10] * 7, [40] * 7)
    assert deff == 1.0 and p == 0.25
    assert (low, high) == pytest.approx(_wilson(0.25, 280 * (1.959964 / 2.446912) ** 2), abs=1e-6)
    w_low, w_high = stats.wilson_interval(70, 280)
    assert (high - low) / (w_high - w_low) == pytest.approx(1.24, abs=0.01)


def test_clustered_share_design_effect_by_hand():
    # y = (10, 0), n = (20, 20): p = 0.25; residuals 5, -5 -> V = 2/1 * 50 / 1600 = 0.0625;
    # binomial variance 0.25 * 0.75 / 40 = 0.0046875 -> deff = 13.333, n_eff = 3;
    # two clusters: n* = 3 × (1,959964 / 12,706205)² = 3 × 0,0237938 = 0,0713813.
    p, low, high, deff = stats.clustered_share_interval([10, 0], [20, 20])
    assert p == 0.25 and deff == pytest.approx(13.3333, abs=1e-3)
    assert (low, high) == pytest.approx(_wilson(0.25, 0.0713813), abs=1e-5)


def test_clustered_mean_uses_t_on_clusters_minus_one():
    # one person per CAE, x = 1..7: mean 4, residuals −3..3, Σr² = 28;
    # V = 7/6 × 28 / 49 = 0,666667 = s²/n (s² = 28/6) → deff = 1;
    # half = t_6 × √(4,666667 / 7) = 2,446912 × 0,816497 = 1,997895.
    mean, low, high, n, deff = stats.clustered_mean_interval([1, 2, 3, 4, 5, 6, 7], list("abcdefg"))
    assert (mean, n, deff) == (4.0, 7, 1.0)
    assert (low, high) == pytest.approx((2.002105, 5.997895), abs=1e-5)


def test_clustered_mean_single_cluster_is_the_t_interval():
    x = [2.0, 4.0, 6.0, 9.0]
    mean, low, high, n, deff = stats.clustered_mean_interval(x, ["a"] * 4)
    assert (mean, low, high, n) == pytest.approx(stats.mean_t_interval(x))
    assert deff == 1.0
