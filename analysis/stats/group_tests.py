"""Group comparisons of scale scores: Kruskal–Wallis or Mann–Whitney with
effect sizes, and multiple-testing correction that is safe with NaN p-values.

Pitfalls handled (issue 6): scipy ``kruskal`` returns NaN on any missing
value unless ``nan_policy='omit'`` (we drop missing values first *and* pass
it); statsmodels ``multipletests`` defaults to Holm–Šidák and a NaN p-value
silently corrupts ``holm`` and ``fdr_bh`` (we name the method and correct
only the finite p-values).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as _st
from statsmodels.stats.multitest import multipletests

KRUSKAL = "Kruskal–Wallis"
MANN_WHITNEY = "Mann–Whitney"
EPSILON2 = "ε²"
RANK_BISERIAL = "r rang-bisériel"


def epsilon_squared(h: float, n: int) -> float:
    """Effect size of Kruskal–Wallis: ε² = H / ((n² − 1)/(n + 1)) = H/(n − 1)
    (Tomczak & Tomczak 2014, Trends Sport Sci 21:19–25), n = total
    observations in the groups tested."""
    if n < 2 or not np.isfinite(h):
        return math.nan
    return float(h / ((n * n - 1) / (n + 1)))


def rank_biserial(u1: float, n1: int, n2: int) -> float:
    """Rank-biserial correlation from scipy's U of the first group.

    r = 1 − 2·U₂/(n₁n₂) = 2·U₁/(n₁n₂) − 1 (Wendt 1972, Eur J Soc Psychol
    2:463–465; U₁ + U₂ = n₁n₂). Sign convention: r > 0 when values of the
    *first* group tend to be higher than those of the second; r ∈ [−1, 1].
    """
    if n1 == 0 or n2 == 0:
        return math.nan
    u2 = n1 * n2 - u1
    return float(1 - 2 * u2 / (n1 * n2))


def compare_groups(values, groups, min_n: int = 10, exclude=(), order=None) -> dict:
    """Compare ``values`` across ``groups``.

    Missing values and missing/excluded groups are dropped; groups with fewer
    than ``min_n`` values are dropped too (suppressed). With two groups left:
    two-sided Mann–Whitney U (scipy's default method: exact without ties
    for small samples, else asymptotic) and rank-biserial r (first group =
    first in ``order``, e.g. the codebook order; groups not in ``order``
    follow in sorted order); with
    three or more: Kruskal–Wallis H (``nan_policy='omit'``) and ε². With
    fewer than two groups nothing is tested.

    Returns a dict: test, statistic, p, effect_size, effect_name, n,
    groups (list of (group, n) kept), dropped (list of groups dropped for
    small n), suppressed (True when no test could be run).
    """
    df = pd.DataFrame({"v": pd.to_numeric(pd.Series(values).reset_index(drop=True), errors="coerce"),
                       "g": pd.Series(groups).reset_index(drop=True).astype("string")})
    df = df[df["v"].notna() & df["g"].notna() & ~df["g"].isin(list(exclude))]
    counts = df["g"].value_counts()
    rank = {g: i for i, g in enumerate(order or [])}
    kept = sorted((g for g, c in counts.items() if c >= min_n), key=lambda g: (rank.get(g, len(rank)), g))
    dropped = sorted(g for g, c in counts.items() if c < min_n)
    samples = [df.loc[df["g"] == g, "v"].to_numpy(dtype=float) for g in kept]
    out = {"test": None, "statistic": math.nan, "p": math.nan, "effect_size": math.nan,
           "effect_name": None, "n": int(sum(len(s) for s in samples)),
           "groups": [(g, len(s)) for g, s in zip(kept, samples)], "dropped": dropped, "suppressed": True}
    if len(samples) < 2:
        return out
    pooled = np.concatenate(samples)
    if np.all(pooled == pooled[0]):  # all values equal: rank tests undefined
        return out
    if len(samples) == 2:
        res = _st.mannwhitneyu(samples[0], samples[1], alternative="two-sided", nan_policy="omit")
        out.update(test=MANN_WHITNEY, statistic=float(res.statistic), p=float(res.pvalue),
                   effect_size=rank_biserial(float(res.statistic), len(samples[0]), len(samples[1])),
                   effect_name=RANK_BISERIAL, suppressed=False)
    else:
        res = _st.kruskal(*samples, nan_policy="omit")
        out.update(test=KRUSKAL, statistic=float(res.statistic), p=float(res.pvalue),
                   effect_size=epsilon_squared(float(res.statistic), len(pooled)),
                   effect_name=EPSILON2, suppressed=False)
    return out


def adjust_pvalues(pvalues, method: str = "holm") -> np.ndarray:
    """Adjusted p-values over one family, ignoring NaN.

    Only the finite p-values are passed to ``multipletests`` with the
    method named explicitly (``holm``: Holm 1979, Scand J Stat 6:65–70;
    ``fdr_bh``: Benjamini & Hochberg 1995, JRSS B 57:289–300); NaN stay NaN
    and do not count in the family size.
    """
    if method not in ("holm", "fdr_bh"):
        raise ValueError(f"méthode de correction inconnue : {method!r} (holm ou fdr_bh)")
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    mask = np.isfinite(p)
    if mask.any():
        out[mask] = multipletests(p[mask], method=method)[1]
    return out


def comparison_table(scores: pd.DataFrame, outcomes: dict[str, str], factors: dict[str, dict],
                     min_n: int = 10, method: str = "holm", exclude=(),
                     group_labels: dict[str, dict] | None = None) -> pd.DataFrame:
    """Every (outcome × factor) comparison, corrected within each factor
    across outcomes (the family is one factor's tests over the scales).

    ``outcomes``: {column: label}; ``factors``: {column: {"label": ...}};
    ``group_labels``: {factor: {group code: label}}, whose key order is the
    order of the groups (and fixes the sign of the rank-biserial r).
    Returns dimension, label, factor, factor_label, groups (text with each
    group's n), dropped (groups under min_n), n, test, statistic, p, p_adj,
    correction, effect_size, effect_name, suppressed.
    """
    rows = []
    group_labels = group_labels or {}
    for factor, fspec in factors.items():
        for dim, label in outcomes.items():
            if factor not in scores.columns or dim not in scores.columns:
                res = compare_groups([], [], min_n, exclude)
            else:
                res = compare_groups(scores[dim], scores[factor], min_n, exclude,
                                     order=list(group_labels.get(factor, {})))
            labs = group_labels.get(factor, {})
            rows.append({
                "dimension": dim, "label": label, "factor": factor,
                "factor_label": fspec.get("label", factor),
                "groups": " ; ".join(f"{labs.get(g, g)} (n = {n})" for g, n in res["groups"]),
                "dropped": " ; ".join(str(labs.get(g, g)) for g in res["dropped"]),
                "n": res["n"], "test": res["test"], "statistic": res["statistic"], "p": res["p"],
                "effect_size": res["effect_size"], "effect_name": res["effect_name"],
                "suppressed": res["suppressed"],
            })
    out = pd.DataFrame(rows, columns=["dimension", "label", "factor", "factor_label", "groups", "dropped", "n",
                                      "test", "statistic", "p", "effect_size", "effect_name", "suppressed"])
    out["p_adj"] = np.nan
    for factor in out["factor"].unique():
        sel = out["factor"] == factor
        out.loc[sel, "p_adj"] = adjust_pvalues(out.loc[sel, "p"].to_numpy(dtype=float), method)
    out["correction"] = method
    return out
