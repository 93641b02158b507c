"""Kaplan–Meier: the 6-MP arm of Freireich et al. (1963), the textbook example
of Kaplan–Meier estimation with censoring (Klein & Moeschberger, *Survival
Analysis*, 2nd ed., Table 4.1A), checked against the product-limit estimate
computed by hand here."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import survival

# remission times in weeks; 0 = censored (Klein & Moeschberger, section 1.2)
TIME = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]


def hand_km():
    """Product-limit by hand: (time, n at risk, deaths) at each death time."""
    steps = [(6, 21, 3), (7, 17, 1), (10, 15, 1), (13, 12, 1), (16, 11, 1), (22, 7, 1), (23, 6, 1)]
    s, greenwood, out = 1.0, 0.0, {}
    for t, n, d in steps:
        s *= 1 - d / n
        greenwood += d / (n * (n - d))
        out[t] = (s, s * math.sqrt(greenwood))
    return out


def test_product_limit_matches_hand_computation():
    sf = survival.fit(TIME, EVENT)
    hand = hand_km()
    tab = survival.table(sf)
    assert tab["time"].tolist() == list(hand)
    for t, (s, se) in hand.items():
        row = tab[tab["time"] == t].iloc[0]
        assert row["surv"] == pytest.approx(s) and row["se"] == pytest.approx(se)
    # the textbook's rounded values: S(10) = 0.753 (se 0.096), S(23) = 0.448
    assert hand[10][0] == pytest.approx(0.753, abs=5e-4) and hand[10][1] == pytest.approx(0.096, abs=5e-4)


def test_survival_at_uses_the_step_function_and_log_log_interval():
    sf = survival.fit(TIME, EVENT)
    s, low, high = survival.survival_at(sf, 12)  # between the deaths at 10 and 13 -> S(10)
    s10, se10 = hand_km()[10]
    theta = 1.959964 * se10 / (s10 * math.log(s10))
    assert s == pytest.approx(s10)
    assert (low, high) == pytest.approx(sorted([s10 ** math.exp(theta), s10 ** math.exp(-theta)]), abs=1e-6)
    assert survival.survival_at(sf, 3) == (1.0, pytest.approx(math.nan, nan_ok=True), pytest.approx(math.nan, nan_ok=True))


def test_median_is_first_time_below_one_half():
    # S(22) = 0.538 > 0.5, S(23) = 0.448 < 0.5: median 23 weeks (textbook value)
    med, low, high = survival.median_time(survival.fit(TIME, EVENT))
    assert med == 23 and low <= 23 and math.isnan(high)  # upper limit not reached


def test_delayed_entry_risk_sets_by_hand():
    # subject 2 enters observation at t = 3: not at risk at t = 2.
    # t = 2: at risk {1, 3}, 1 event -> S = 1/2; t = 4: {2, 3} -> 1/4; t = 6: {3} -> 0
    sf = survival.fit([2, 4, 6], [1, 1, 1], entry=[0, 3, 0])
    assert list(sf.surv_prob) == pytest.approx([0.5, 0.25, 0.0])


def test_left_truncated_subject_with_event_before_entry_is_dropped():
    sf = survival.fit([2, 4, 6], [1, 1, 1], entry=[0, 5, 0])
    assert list(sf.n_risk) == [2, 1]


def test_months_between():
    m = survival.months_between(pd.Series(pd.to_datetime(["2019-01-01", "2019-01-01"])),
                                pd.Series(pd.to_datetime(["2020-01-01", None])))
    assert m[0] == pytest.approx(365 / (365.25 / 12)) and np.isnan(m[1])


def test_empty_input_gives_nan():
    assert survival.fit([], []) is None
    assert all(math.isnan(v) for v in survival.median_time(None))
