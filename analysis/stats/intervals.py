"""Interval estimators shared by every stage.

One function per statistic; each returns plain floats so that callers build
tidy tables. Confidence level defaults to 95 %.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as _st


def _z(level: float) -> float:
    return float(_st.norm.ppf(0.5 + level / 2))


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Formula (Wilson 1927; Brown, Cai & DasGupta 2001, eq. 4), with
    p = x/n and z the normal quantile::

        centre = (p + z²/(2n)) / (1 + z²/n)
        half   = z/(1 + z²/n) * sqrt(p(1-p)/n + z²/(4n²))

    Returns (nan, nan) when n == 0.
    """
    if n <= 0:
        return (math.nan, math.nan)
    if not 0 <= successes <= n:
        raise ValueError(f"successes={successes} outside [0, n={n}]")
    z = _z(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_t_interval(values, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean with Student t interval: x̄ ± t_{n-1} · s/√n.

    Missing values are dropped. Returns (mean, low, high, n); the interval
    is (nan, nan) when n < 2.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return (math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return (mean, math.nan, math.nan, n)
    half = float(_st.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return (mean, mean - half, mean + half, n)


def share_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """Share x/n with its Wilson interval: (share, low, high); nan when n == 0."""
    if n <= 0:
        return (math.nan, math.nan, math.nan)
    low, high = wilson_interval(successes, n, level)
    return (successes / n, low, high)


def median_order_interval(values, level: float = 0.95) -> tuple[float, float, float, int]:
    """Median with the distribution-free order-statistic interval.

    With x_(1) <= ... <= x_(n) the sorted values and B ~ Binomial(n, 1/2),
    take the largest rank j with P(B <= j - 1) <= (1 - level)/2; then
    [x_(j), x_(n-j+1)] covers the population median with probability
    1 - 2 P(B <= j - 1) >= level, whatever the distribution (Conover,
    *Practical Nonparametric Statistics*, 3rd ed. 1999, §3.2; Hahn & Meeker
    1991, §5.2). Ties are harmless (the interval is then conservative). The
    median is the usual one (mean of the two middle values when n is even).

    Missing values are dropped. Returns (median, low, high, n); the
    interval is (nan, nan) when n is too small for the level (n <= 5 at 95 %).
    """
    x = np.sort(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return (math.nan, math.nan, math.nan, 0)
    med = float(np.median(x))
    alpha = 1 - level
    # j such that P(B <= j-1) <= alpha/2, largest such j (1-based rank)
    cdf = _st.binom.cdf(np.arange(n), n, 0.5)  # cdf[k] = P(B <= k)
    ok = np.flatnonzero(cdf <= alpha / 2)
    if ok.size == 0:
        return (med, math.nan, math.nan, n)
    j = int(ok[-1]) + 1  # P(B <= j-1) <= alpha/2
    return (med, float(x[j - 1]), float(x[n - j]), n)


def median_bootstrap_interval(values, level: float = 0.95, seed: int = 0, n_boot: int = 2000) -> tuple[float, float, float, int]:
    """Median with a seeded bootstrap percentile interval (Efron & Tibshirani
    1993, ch. 13): resample n values with replacement ``n_boot`` times, take
    the (1-level)/2 and (1+level)/2 quantiles of the resampled medians.

    Deterministic for a given ``seed`` (use ``publication.yml: graine``).
    Returns (median, low, high, n); interval nan when n < 2.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return (math.nan, math.nan, math.nan, 0)
    med = float(np.median(x))
    if n < 2:
        return (med, math.nan, math.nan, n)
    rng = np.random.default_rng(seed)
    meds = np.median(x[rng.integers(0, n, size=(n_boot, n))], axis=1)
    low, high = np.quantile(meds, [(1 - level) / 2, (1 + level) / 2])
    return (med, float(low), float(high), n)


def paired_mean_diff_interval(before, after, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean within-person change (after - before) with a paired t interval:
    d̄ ± t_{n-1} · s_d/√n (Student 1908; any textbook, e.g. Moore & McCabe).
    Pairs with a missing member are dropped. Returns (mean, low, high, n)."""
    b = np.asarray(before, dtype=float)
    a = np.asarray(after, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    return mean_t_interval(a[keep] - b[keep], level)


def standardized_difference(p1: float, p2: float) -> float:
    """Standardised difference of two proportions (Austin 2009, Stat Med 28:3083, eq. 2):
    d = (p1 - p2) / sqrt((p1(1-p1) + p2(1-p2)) / 2); |d| > 0.1 is the usual
    mark of a meaningful imbalance. nan when both shares are 0 or 1."""
    v = (p1 * (1 - p1) + p2 * (1 - p2)) / 2
    return (p1 - p2) / math.sqrt(v) if v > 0 else math.nan


def _wilson_n(p: float, n: float, level: float) -> tuple[float, float]:
    """Wilson's formula with a possibly fractional n (an effective size)."""
    if n <= 0 or math.isnan(p):
        return (math.nan, math.nan)
    z = _z(level)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def clustered_share_interval(successes_by_cluster, n_by_cluster, level: float = 0.95) -> tuple[float, float, float, float]:
    """Pooled share over clusters (CAEs) with a design-effect–adjusted Wilson interval.

    p = Σ y_g / Σ n_g. Its linearised (ratio-estimator) cluster-robust
    variance with the small-sample factor G/(G-1) (Cochran 1977, §6.4;
    Cameron & Miller 2015, J. Hum. Resour. 50:317, "CR1") is

        V = G/(G-1) · Σ_g (y_g - p·n_g)² / N²

    The design effect deff = V / (p(1-p)/N) is floored at 1 (pooling never
    makes the interval narrower than the binomial one) and Wilson's interval
    is computed on the degrees-of-freedom–adjusted effective size
    (Korn & Graubard 1998, Surv. Methodol. 24:193, eq. 2.2)

        n* = (N / deff) · (z_{1-α/2} / t_{G-1, 1-α/2})²

    since V is estimated from G clusters (G − 1 degrees of freedom): with
    seven CAEs, t_6 = 2,447 against z = 1,960, n* = 0,642 · N/deff. V is
    itself imprecise with so few clusters: the interval is a heuristic
    widening, not an exact one. Returns (p, low, high, deff).
    """
    y = np.asarray(successes_by_cluster, dtype=float)
    m = np.asarray(n_by_cluster, dtype=float)
    N = m.sum()
    if N <= 0:
        return (math.nan, math.nan, math.nan, math.nan)
    p = float(y.sum() / N)
    G = int((m > 0).sum())
    deff = 1.0
    n_star = N
    if G >= 2 and 0 < p < 1:
        V = G / (G - 1) * float(((y - p * m) ** 2).sum()) / N ** 2
        deff = max(1.0, V / (p * (1 - p) / N))
        n_star = N / deff * (_z(level) / float(_st.t.ppf(0.5 + level / 2, G - 1))) ** 2
    low, high = _wilson_n(p, n_star, level)
    return (p, low, high, deff)


def clustered_mean_interval(values, clusters, level: float = 0.95) -> tuple[float, float, float, int, float]:
    """Pooled mean with a cluster-robust (CR1) design effect: deff = V_CR1 /
    (s²/n) floored at 1, with V_CR1 = G/(G-1) Σ_g (Σ_{i∈g} (x_i - x̄))² / n²;
    interval x̄ ± t_{G-1} · s/√(n/deff), Student on G − 1 degrees of freedom
    because the variance rests on G clusters (Cameron & Miller 2015, §VI.D;
    Kish 1965 for the effective size); t_{n-1} with a single cluster.
    Returns (mean, low, high, n, deff)."""
    x = np.asarray(values, dtype=float)
    g = np.asarray(clusters)
    keep = ~np.isnan(x)
    x, g = x[keep], g[keep]
    n = int(x.size)
    if n == 0:
        return (math.nan, math.nan, math.nan, 0, math.nan)
    mean = float(x.mean())
    if n < 2:
        return (mean, math.nan, math.nan, n, math.nan)
    s2 = float(x.var(ddof=1))
    labels = pd.unique(g)
    G = len(labels)
    deff = 1.0
    if G >= 2 and s2 > 0:
        sums = np.array([(x[g == lab] - mean).sum() for lab in labels])
        V = G / (G - 1) * float((sums ** 2).sum()) / n ** 2
        deff = max(1.0, V / (s2 / n))
    df = G - 1 if G >= 2 else n - 1
    half = float(_st.t.ppf(0.5 + level / 2, df) * math.sqrt(s2 * deff / n))
    return (mean, mean - half, mean + half, n, deff)
