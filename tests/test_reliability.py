"""Cronbach's α, Feldt interval, McDonald's ω, corrected item–total r."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import reliability as rel

X = [[1, 2, 3], [2, 3, 3], [3, 3, 4], [4, 5, 5], [2, 2, 2]]


def _hand_alpha(rows):
    k = len(rows[0])
    item_vars = [statistics.variance([r[j] for r in rows]) for j in range(k)]
    total_var = statistics.variance([sum(r) for r in rows])
    return k / (k - 1) * (1 - sum(item_vars) / total_var)


def test_alpha_matches_the_variance_formula_by_hand():
    # item variances: 1.3, 1.5, 1.3 (sum 4.1); totals 6, 8, 10, 14, 6 -> variance 11.2
    assert _hand_alpha(X) == pytest.approx(1.5 * (1 - 4.1 / 11.2))
    alpha, n, k = rel.cronbach_alpha(pd.DataFrame(X))
    assert (n, k) == (5, 3)
    assert alpha == pytest.approx(1.5 * (1 - 4.1 / 11.2), abs=1e-12)


def test_alpha_uses_complete_rows_only():
    df = pd.DataFrame(X + [[5, None, 1], [None, None, None]], dtype="float64")
    alpha, n, k = rel.cronbach_alpha(df)
    assert n == 5
    assert alpha == pytest.approx(_hand_alpha(X))


def test_feldt_interval_against_its_formula():
    a, n, k = 0.78, 40, 6
    df1, df2 = n - 1, (n - 1) * (k - 1)
    lo = 1 - (1 - a) * stats.f.isf(0.025, df1, df2)  # upper 2.5 % point -> lower bound
    hi = 1 - (1 - a) * stats.f.isf(0.975, df1, df2)
    got = rel.feldt_interval(a, n, k, 0.95)
    assert got == pytest.approx((lo, hi), abs=1e-12)
    assert got[0] < a < got[1]


def test_feldt_interval_covers_the_true_alpha():
    """Coverage on simulated parallel items (true α known): orientation check."""
    rng = np.random.default_rng(7)
    k, n, reps = 4, 40, 400
    # parallel items: x = t + e, var(t) = 1, var(e) = 1 -> rho = k/(k+1)... alpha = k*1/(k*1+1)
    true_alpha = k / (k + 1)
    hits = 0
    for _ in range(reps):
        t = rng.normal(size=(n, 1))
        x = t + rng.normal(size=(n, k))
        a, m, kk = rel.cronbach_alpha(pd.DataFrame(x))
        lo, hi = rel.feldt_interval(a, m, kk)
        hits += lo <= true_alpha <= hi
    assert 0.91 <= hits / reps <= 0.98


def test_omega_recovers_population_value_of_a_one_factor_model():
    rng = np.random.default_rng(11)
    lam = np.array([0.8, 0.7, 0.6, 0.5, 0.9])
    psi = 1 - lam**2
    n = 6000
    x = rng.normal(size=(n, 1)) * lam + rng.normal(size=(n, 5)) * np.sqrt(psi)
    omega, m = rel.mcdonald_omega(pd.DataFrame(x))
    pop = lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum())  # 12.25 / 14.70
    assert pop == pytest.approx(12.25 / 14.70)
    assert m == n
    assert omega == pytest.approx(pop, abs=0.01)
    # congeneric (unequal loadings): α underestimates ω (Raykov 1997)
    alpha, _, _ = rel.cronbach_alpha(pd.DataFrame(x))
    assert alpha < omega


def test_omega_not_identified_with_two_items():
    omega, n = rel.mcdonald_omega(pd.DataFrame({"a": [1, 2, 3, 4.0], "b": [2, 2, 3, 5.0]}))
    assert math.isnan(omega)
    with pytest.raises(ValueError):
        rel.one_factor_ml(np.eye(2))


def test_corrected_item_total_correlation_by_hand():
    t = rel.corrected_item_total(pd.DataFrame(X, columns=["a", "b", "c"]))
    rest_a = [r[1] + r[2] for r in X]
    assert t.loc[0, "r_corrigee"] == pytest.approx(statistics.correlation([r[0] for r in X], rest_a))
    # two items: equals the inter-item correlation
    two = rel.corrected_item_total(pd.DataFrame([r[:2] for r in X], columns=["a", "b"]))
    r_ab = statistics.correlation([r[0] for r in X], [r[1] for r in X])
    assert two["r_corrigee"].tolist() == pytest.approx([r_ab, r_ab])
