"""Group comparisons: effect sizes, NaN-safe tests and corrections, small groups."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import group_tests as gt


def test_epsilon_squared_formula():
    # H / ((n^2 - 1)/(n + 1)) with H = 10, n = 31: 10 / (960/32) = 1/3
    assert gt.epsilon_squared(10, 31) == pytest.approx(1 / 3)


def test_rank_biserial_sign_convention():
    # U1 = number of pairs where the first group is higher
    assert gt.rank_biserial(0, 3, 3) == -1.0  # first group always lower
    assert gt.rank_biserial(9, 3, 3) == 1.0
    x, y = [1, 4], [2, 3]  # pairs x > y: (4,2), (4,3) -> U1 = 2 of 4 -> r = 0
    u1 = stats.mannwhitneyu(x, y).statistic
    assert u1 == 2 and gt.rank_biserial(u1, 2, 2) == 0.0


def test_kruskal_by_hand_and_nan_does_not_give_nan():
    values = [1, 2, 3, np.nan, 4, 5, 6, 7, 8, 9, np.nan]
    groups = ["a", "a", "a", "a", "b", "b", "b", "c", "c", "c", None]
    res = gt.compare_groups(values, groups, min_n=3)
    # rank sums 6, 15, 24 on N = 9: H = 12/(9*10) * (36 + 225 + 576)/3 - 3*10 = 7.2
    assert res["test"] == gt.KRUSKAL
    assert res["statistic"] == pytest.approx(7.2)
    assert res["p"] == pytest.approx(math.exp(-3.6))  # chi2(2) survival = exp(-H/2)
    assert res["effect_size"] == pytest.approx(7.2 / 8)
    assert res["n"] == 9 and not res["suppressed"]


def test_small_groups_are_dropped_and_two_groups_use_mann_whitney():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(3, 1, 12), rng.normal(4, 1, 15), rng.normal(3, 1, 4)])
    groups = ["F"] * 12 + ["H"] * 15 + ["autre"] * 4
    res = gt.compare_groups(values, groups, min_n=10, order=["F", "H", "autre"])
    assert res["dropped"] == ["autre"]
    assert [g for g, _ in res["groups"]] == ["F", "H"]
    assert res["test"] == gt.MANN_WHITNEY
    u = stats.mannwhitneyu(values[:12], values[12:27]).statistic
    assert res["effect_size"] == pytest.approx(2 * u / (12 * 15) - 1)


def test_one_group_left_is_suppressed_not_tested():
    res = gt.compare_groups([1, 2, 3, 4] * 3 + [5, 5], ["a"] * 12 + ["b"] * 2, min_n=10)
    assert res["suppressed"] and math.isnan(res["p"]) and res["test"] is None


def test_holm_is_holm_and_ignores_nan():
    # by hand on the 3 finite p-values 0.01, 0.03, 0.04 (m = 3):
    # 3*0.01 = 0.03; max(0.03, 2*0.03) = 0.06; max(0.06, 1*0.04) = 0.06
    got = gt.adjust_pvalues([0.01, np.nan, 0.04, 0.03], "holm")
    assert np.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2, 3]], [0.03, 0.06, 0.06])
    # Holm–Šidák would give 1 - 0.99**3 = 0.029701 for the smallest
    assert gt.adjust_pvalues([0.01, 0.02, 0.03])[0] == pytest.approx(0.03)


def test_benjamini_hochberg_ignores_nan():
    # sorted 0.01, 0.03, 0.04: 0.03, 0.045, 0.04 -> step-up minimum: 0.03, 0.04, 0.04
    got = gt.adjust_pvalues([0.01, np.nan, 0.04, 0.03], "fdr_bh")
    np.testing.assert_allclose(got[[0, 2, 3]], [0.03, 0.04, 0.04])
    with pytest.raises(ValueError):
        gt.adjust_pvalues([0.1], "bonferroni-ish")


def test_comparison_table_corrects_within_each_factor():
    rng = np.random.default_rng(3)
    n = 60
    df = pd.DataFrame({"s1": rng.normal(size=n), "s2": rng.normal(size=n),
                       "statut": rng.choice(["cape", "cesa"], n), "genre": ["F"] * 55 + ["H"] * 5})
    t = gt.comparison_table(df, {"s1": "Un", "s2": "Deux"}, {"statut": {"label": "Statut"}, "genre": {"label": "Genre"}},
                            min_n=10)
    st = t[t["factor"] == "statut"]
    hand = np.minimum(1, np.maximum.accumulate(np.sort(st["p"].to_numpy()) * np.array([2, 1])))
    np.testing.assert_allclose(np.sort(st["p_adj"].to_numpy()), hand)
    ge = t[t["factor"] == "genre"]  # only 5 men: no test, p NaN, nothing corrupted
    assert ge["suppressed"].all() and ge["p_adj"].isna().all()
    assert (ge["dropped"] == "H").all()
