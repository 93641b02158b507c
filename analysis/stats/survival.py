"""Kaplan–Meier estimates for censored durations (time to first turnover, to
CESA, staying in the cooperative).

People still present at the end of the period have not (yet) reached the
event: their duration is *censored*, so a naive share or mean would be
biased. We use the product-limit estimator (Kaplan & Meier 1958, JASA 53:457)

    S(t) = Π_{t_i <= t} (1 - d_i / n_i)

(d_i events at time t_i, n_i people at risk just before t_i), with
Greenwood's variance Var S(t) = S(t)² Σ d_i / (n_i (n_i - d_i)), as
computed by statsmodels' ``SurvfuncRight``. Left truncation (people who
entered the cooperative before the observation period: they are observed
only because they were still there) is handled by delayed entry
(``entry``), also supported by ``SurvfuncRight``.

Durations are in months: days / (365.25 / 12).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as _st
from statsmodels.duration.survfunc import SurvfuncRight

DAYS_PER_MONTH = 365.25 / 12


def months_between(start, end) -> np.ndarray:
    """(end - start) in months of 365.25/12 days; NaN where either is missing."""
    s = pd.to_datetime(pd.Series(start)).reset_index(drop=True)
    e = pd.to_datetime(pd.Series(end)).reset_index(drop=True)
    return ((e - s).dt.total_seconds() / 86400 / DAYS_PER_MONTH).to_numpy(dtype=float)


def fit(time, event, entry=None) -> SurvfuncRight | None:
    """Fit the product-limit estimator; None when there is nobody.

    ``time``: duration (event or censoring time), ``event``: 1 if the event
    was observed, 0 if censored, ``entry``: delayed-entry time (0 for people
    observed from the origin). Rows with a missing time are dropped;
    negative times are set to 0 (event on the origin day).
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    keep = ~np.isnan(t) & ~np.isnan(e)
    if entry is not None:
        en = np.nan_to_num(np.asarray(entry, dtype=float))[keep]
    t, e = np.clip(t[keep], 0, None), e[keep].astype(int)
    if t.size == 0:
        return None
    if entry is not None:
        en = np.minimum(np.clip(en, 0, None), t)
        if (en > 0).any():
            # people whose event or censoring came before the observation
            # window opened were never at risk in it: drop them
            ok = (en < t) | (en == 0)
            t, e, en = t[ok], e[ok], en[ok]
            if t.size == 0:
                return None
            # statsmodels wants entry < time strictly: an event on the origin
            # day (t = entry = 0) is moved by a negligible 1e-6 month
            t = np.where(t <= en, en + 1e-6, t)
            return SurvfuncRight(t, e, entry=en)
    return SurvfuncRight(t, e)


def survival_at(sf: SurvfuncRight | None, t: float, level: float = 0.95) -> tuple[float, float, float]:
    """S(t) with a pointwise log-log ("cloglog") interval (Kalbfleisch &
    Prentice 2002, §1.3; the default of SAS LIFETEST and R survival's
    ``conf.type="log-log"``):

        S(t)^exp(± z · se / (S(t) · log S(t)))

    with se the Greenwood standard error. Returns (S, low, high); the
    interval is nan when S is 0 or 1 (no variance on that scale), except
    that S = 1 gives (1, nan, nan).
    """
    if sf is None:
        return (math.nan, math.nan, math.nan)
    times = np.asarray(sf.surv_times)
    idx = np.flatnonzero(times <= t)
    if idx.size == 0:
        return (1.0, math.nan, math.nan)
    s = float(sf.surv_prob[idx[-1]])
    se = float(sf.surv_prob_se[idx[-1]])
    if not 0 < s < 1 or se == 0 or math.isnan(se):
        return (s, math.nan, math.nan)
    z = float(_st.norm.ppf(0.5 + level / 2))
    theta = z * se / (s * math.log(s))
    a, b = s ** math.exp(theta), s ** math.exp(-theta)
    return (s, min(a, b), max(a, b))


def median_time(sf: SurvfuncRight | None, level: float = 0.95) -> tuple[float, float, float]:
    """Median duration: the first event time at which S(t) < 0.5 (the SAS /
    statsmodels convention), with the Brookmeyer–Crowley interval (1982,
    Biometrics 38:29) obtained by inverting cloglog-transformed tests at
    each event time (``SurvfuncRight.quantile_ci``). The median is nan when
    the curve never falls below 0.5 (fewer than half reached the event);
    an upper bound of +inf means "not reached" and is returned as nan.
    """
    if sf is None:
        return (math.nan, math.nan, math.nan)
    med = float(sf.quantile(0.5))
    with np.errstate(divide="ignore", invalid="ignore"):  # S = 1 or 0 at some times: log(0)
        low, high = sf.quantile_ci(0.5, alpha=1 - level, method="cloglog")
    low = float(low) if low is not None else math.nan
    high = float(high) if high is not None and np.isfinite(high) else math.nan
    return (med, low, high)


def table(sf: SurvfuncRight | None) -> pd.DataFrame:
    """The curve as a tidy table: time, n_risk, n_events, surv, se."""
    if sf is None:
        return pd.DataFrame(columns=["time", "n_risk", "n_events", "surv", "se"])
    return pd.DataFrame({"time": sf.surv_times, "n_risk": sf.n_risk, "n_events": sf.n_events,
                         "surv": sf.surv_prob, "se": sf.surv_prob_se})
