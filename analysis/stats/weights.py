"""Survey weights: raking (iterative proportional fitting) to population
margins, Kish's effective sample size and weighted shares with an interval.

Survey respondents who give their id can be compared with the whole CAE
population; raking reweights them so that their distribution on a few
variables (gender, status, seniority...) matches the population's.
Unweighted figures are always shown beside the weighted ones.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats.intervals import _wilson_n


class RakingError(RuntimeError):
    """Iterative proportional fitting did not converge (incompatible or very
    sparse margins)."""


def rake(sample: pd.DataFrame, targets: dict[str, dict], base_weights=None, max_iter: int = 1000,
         tol: float = 1e-6) -> pd.Series:
    """Raking weights by iterative proportional fitting (Deming & Stephan
    1940, Ann. Math. Stat. 11:427; Kalton & Flores-Cervantes 2003, J. Off.
    Stat. 19:81, §2.3).

    ``targets``: {column: {category: population total or share}}. Starting
    from ``base_weights`` (default 1), each pass multiplies the weights of
    the respondents in category k of column c by T_ck / Σ_{i in k} w_i,
    column after column, until every weighted margin is within ``tol``
    (relative) of its target. Targets of one column are rescaled to the
    same total (the population size if they are counts; shares are
    multiplied by the first column's total). Respondents whose category has
    no target, or targets with no respondent, cannot be raked: a
    ``ValueError`` names them (collapse categories first).

    Returns the weights (Series aligned on ``sample.index``), which sum to
    the target total. Raises :class:`RakingError` when the margins are not
    met within ``tol`` after ``max_iter`` passes (sparse cells can make
    IPF converge very slowly or not at all).
    """
    cols = list(targets)
    w = pd.Series(1.0 if base_weights is None else np.asarray(base_weights, dtype=float), index=sample.index)
    tgt = {}
    total = None
    for c in cols:
        t = pd.Series(targets[c], dtype=float)
        total = t.sum() if total is None else total
        tgt[c] = t / t.sum() * total
        levels = set(sample[c].astype("string").dropna())
        missing_t = levels - set(map(str, t.index))
        missing_s = {str(k) for k, v in t.items() if v > 0} - levels
        if missing_t or sample[c].isna().any():
            raise ValueError(f"rake : catégories de « {c} » sans cible : {sorted(missing_t) or ['<NA>']}")
        if missing_s:
            raise ValueError(f"rake : catégories de « {c} » sans répondant : {sorted(missing_s)}")
        tgt[c].index = tgt[c].index.map(str)
    # integer codes once (same groups, same row order as grouping on the labels, so the
    # compensated group sums and every product are bit-identical to a label-based loop)
    codes, tg = {}, {}
    for c in cols:
        codes[c] = tgt[c].index.get_indexer(sample[c].astype("string"))
        tg[c] = tgt[c].to_numpy()
    w = w.to_numpy(dtype=float, copy=True)

    def sums(c):
        s = pd.Series(w).groupby(codes[c], sort=True).sum()
        return s.index.to_numpy(), s.to_numpy()

    for _ in range(max_iter):
        for c in cols:
            present, s = sums(c)
            factor = np.full(len(tg[c]), np.nan)
            factor[present] = tg[c][present] / s
            w = w * factor[codes[c]]
        worst = max(float(pd.Series(s / tg[c][present] - 1).abs().max()) for c in cols for present, s in [sums(c)])
        if worst < tol:
            break
    else:
        raise RakingError(f"rake : pas de convergence en {max_iter} itérations (écart {worst:.2g})")
    w = pd.Series(w, index=sample.index)
    return w


def kish_effective_n(weights) -> float:
    """Kish's effective sample size n_eff = (Σw)² / Σw² (Kish 1965, *Survey
    Sampling*, §11.7): the size of a simple random sample with the same
    precision; n_eff = n for equal weights."""
    w = np.asarray(weights, dtype=float)
    w = w[~np.isnan(w)]
    return float(w.sum() ** 2 / (w ** 2).sum()) if w.size and (w ** 2).sum() > 0 else 0.0


def weighted_share(flags, weights, level: float = 0.95) -> tuple[float, float, float, float]:
    """Weighted share p_w = Σ w·y / Σ w with a Wilson interval computed on
    Kish's effective sample size (Korn & Graubard 1998, Surv. Methodol.
    24:193: the binomial interval with n replaced by n_eff; here Wilson's
    rather than Clopper–Pearson's). Unlike frequency-weight intervals, the
    width grows with the spread of the weights.

    ``flags``: 1/0 (NA = not in the denominator). Returns (p_w, low, high, n_eff).
    """
    y = pd.to_numeric(pd.Series(flags), errors="coerce").to_numpy(dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = ~np.isnan(y) & ~np.isnan(w)
    y, w = y[keep], w[keep]
    if w.sum() <= 0:
        return (math.nan, math.nan, math.nan, 0.0)
    p = float((w * y).sum() / w.sum())
    n_eff = kish_effective_n(w)
    low, high = _wilson_n(p, n_eff, level)
    return (p, low, high, n_eff)
