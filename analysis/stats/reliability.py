"""Reliability of multi-item scales: Cronbach's α with Feldt interval,
McDonald's ω from a one-factor model, corrected item–total correlations.

Everything is computed on *complete* rows (listwise deletion), and the n
used by every interval is the number of complete rows (pingouin's
``cronbach_alpha`` takes n before dropping incomplete rows, so its Feldt
interval is too narrow with missing data: we do not use it).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as _st


def complete_rows(items: pd.DataFrame) -> np.ndarray:
    """The rows with every item answered, as a float array (n_complete × k)."""
    x = items.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()
    return x[~np.isnan(x).any(axis=1)]


def cronbach_alpha(items: pd.DataFrame) -> tuple[float, int, int]:
    """Cronbach's α on complete rows: returns (alpha, n_complete, k).

    α = k/(k−1) · (1 − Σ_j s²_j / s²_X), with s²_j the variance of item j,
    s²_X the variance of the sum score, both with ddof = 1 (Cronbach 1951,
    Psychometrika 16:297–334). NaN when k < 2, n_complete < 2 or s²_X = 0.
    """
    x = complete_rows(items)
    n, k = x.shape
    if k < 2 or n < 2:
        return (math.nan, n, k)
    total_var = x.sum(axis=1).var(ddof=1)
    if total_var <= 0:
        return (math.nan, n, k)
    alpha = k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / total_var)
    return (float(alpha), n, k)


def feldt_interval(alpha: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Feldt confidence interval for Cronbach's α.

    Under the ANOVA model, (1 − α)/(1 − α̂) ~ F(n − 1, (n − 1)(k − 1))
    (Feldt 1965, Psychometrika 30:357–370; Feldt, Woodruff & Salih 1987,
    Appl Psychol Meas 11:93–103). With γ = 1 − level and F_q the q-quantile:

        lower = 1 − (1 − α̂) · F_{1−γ/2}(n − 1, (n − 1)(k − 1))
        upper = 1 − (1 − α̂) · F_{γ/2}(n − 1, (n − 1)(k − 1))

    ``n`` must be the number of complete rows used for α̂.
    """
    if not np.isfinite(alpha) or n < 2 or k < 2:
        return (math.nan, math.nan)
    gamma = 1 - level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    lower = 1 - (1 - alpha) * _st.f.ppf(1 - gamma / 2, df1, df2)
    upper = 1 - (1 - alpha) * _st.f.ppf(gamma / 2, df1, df2)
    return (float(lower), float(upper))


def one_factor_ml(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Maximum-likelihood one-factor model Σ = λλᵀ + Ψ fitted to a covariance matrix.

    Minimises the ML discrepancy F = log|Σ| + tr(S Σ⁻¹) − log|S| − p
    (Jöreskog 1967, Psychometrika 32:443–482) over λ and log ψ with L-BFGS,
    starting from principal-axis loadings. Returns (loadings, uniquenesses,
    converged). Loadings are signed so that their sum is positive.
    Identified for p ≥ 3 items only.
    """
    s = np.asarray(cov, dtype=float)
    p = s.shape[0]
    if p < 3:
        raise ValueError("un modèle à un facteur n'est pas identifié avec moins de 3 items")
    sign, logdet_s = np.linalg.slogdet(s)
    # start: first principal axis of the covariance with communalities = 1 − 1/diag(S⁻¹)/diag(S)
    try:
        smc = 1 - 1 / (np.diag(np.linalg.inv(s)) * np.diag(s))
    except np.linalg.LinAlgError:
        smc = np.full(p, 0.5)
    smc = np.clip(smc, 0.05, 0.95)
    reduced = s.copy()
    np.fill_diagonal(reduced, smc * np.diag(s))
    w, v = np.linalg.eigh(reduced)
    lam0 = v[:, -1] * math.sqrt(max(w[-1], 1e-6))
    psi0 = np.clip(np.diag(s) - lam0**2, 1e-3 * np.diag(s), None)

    def f(theta):
        lam, psi = theta[:p], np.exp(theta[p:])
        sigma = np.outer(lam, lam) + np.diag(psi)
        sgn, logdet = np.linalg.slogdet(sigma)
        if sgn <= 0:
            return 1e10
        return logdet + np.trace(s @ np.linalg.inv(sigma)) - logdet_s - p

    res = optimize.minimize(f, np.concatenate([lam0, np.log(psi0)]), method="L-BFGS-B")
    lam, psi = res.x[:p], np.exp(res.x[p:])
    if lam.sum() < 0:
        lam = -lam
    return lam, psi, bool(res.success)


def mcdonald_omega(items: pd.DataFrame, min_items: int = 3) -> tuple[float, int]:
    """McDonald's ω (omega total) of the unweighted sum score, from a one-factor
    ML model on the covariance matrix of complete rows: returns (omega, n_complete).

    ω = (Σ λ_j)² / ((Σ λ_j)² + Σ ψ_j)  (McDonald 1999, *Test theory: a unified
    treatment*, ch. 6). NaN with fewer than ``min_items`` items (a one-factor
    model on two items is not identified) or fewer than k + 1 complete rows.
    """
    x = complete_rows(items)
    n, k = x.shape
    if k < max(3, min_items) or n <= k:
        return (math.nan, n)
    lam, psi, _ = one_factor_ml(np.cov(x, rowvar=False, ddof=1))
    num = lam.sum() ** 2
    return (float(num / (num + psi.sum())), n)


def corrected_item_total(items: pd.DataFrame) -> pd.DataFrame:
    """Corrected item–total correlation of each item: Pearson r between the
    item and the sum of the *other* items, on complete rows (Nunnally &
    Bernstein 1994, *Psychometric theory*, 3rd ed., ch. 8).

    With two items it equals the inter-item correlation. Returns columns
    item, r_corrigee, n_complete.
    """
    x = complete_rows(items)
    n, k = x.shape
    rows = []
    for j, name in enumerate(items.columns):
        r = math.nan
        if n >= 3 and k >= 2:
            rest = np.delete(x, j, axis=1).sum(axis=1)
            if x[:, j].std() > 0 and rest.std() > 0:
                r = float(np.corrcoef(x[:, j], rest)[0, 1])
        rows.append({"item": name, "r_corrigee": r, "n_complete": n})
    return pd.DataFrame(rows)
