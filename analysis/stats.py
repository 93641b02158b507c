"""Interval estimators shared by every stage.

One function per statistic; each returns plain floats so that callers build
tidy tables. Confidence level defaults to 95 %.
"""

from __future__ import annotations

import math

import numpy as np
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
