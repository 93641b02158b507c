"""National models recover known coefficients on simulated data."""

import numpy as np
import pandas as pd
import pytest

from analysis.qvt import models as qm

FACTORS = {"statut": "cape", "genre": "F"}


def _simulate(n=3000, seed=1, n_cae=5):
    rng = np.random.default_rng(seed)
    statut = rng.choice(["cape", "cesa", "associe"], size=n, p=[0.4, 0.35, 0.25])
    genre = rng.choice(["F", "H"], size=n)
    cae = rng.choice([f"c{i}" for i in range(n_cae)], size=n)
    beta_statut = {"cape": 0.0, "cesa": 0.5, "associe": -0.7}
    beta_genre = {"F": 0.0, "H": 0.3}
    gamma = {f"c{i}": 0.4 * i for i in range(n_cae)}
    eta = (np.vectorize(beta_statut.get)(statut) + np.vectorize(beta_genre.get)(genre)
           + np.vectorize(gamma.get)(cae))
    return pd.DataFrame({"statut": statut, "genre": genre, "cae": cae}), eta, rng


def test_ols_fixed_effect_recovers_coefficients():
    df, eta, rng = _simulate()
    df["score"] = 3 + eta + rng.normal(0, 0.8, len(df))
    tab, notes = qm.fit_score_ols(df, "score", FACTORS)
    coef = tab.set_index("term")["coef"]
    assert coef["statut[cesa]"] == pytest.approx(0.5, abs=0.1)
    assert coef["statut[associe]"] == pytest.approx(-0.7, abs=0.1)
    assert coef["genre[H]"] == pytest.approx(0.3, abs=0.1)
    assert coef["cae[c3]"] == pytest.approx(1.2, abs=0.12)
    assert coef["const"] == pytest.approx(3.0, abs=0.1)
    row = tab.set_index("term").loc["statut[cesa]"]
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert row["reference"] == "cape"


def test_ordered_logit_recovers_coefficients_and_thresholds():
    df, eta, rng = _simulate(n=6000, seed=2)
    # latent variable with *logistic* noise; cut-points on the latent scale
    cuts = np.array([-1.0, 0.5, 1.5, 3.0])
    latent = eta + rng.logistic(size=len(df))
    df["item"] = 1 + np.searchsorted(cuts, latent)  # 1..5
    df.loc[:50, "item"] = np.nan  # missing outcomes must be dropped, not crash
    tab, notes = qm.fit_item_ordinal(df, "item", FACTORS)
    coef = tab.set_index("term")["coef"]
    # a probit fit would give coefficients ~1/1.7 as large: these tolerances reject it
    assert coef["statut[cesa]"] == pytest.approx(0.5, abs=0.12)
    assert coef["statut[associe]"] == pytest.approx(-0.7, abs=0.12)
    assert coef["genre[H]"] == pytest.approx(0.3, abs=0.12)
    assert coef["cae[c2]"] == pytest.approx(0.8, abs=0.15)
    # thresholds back on the latent scale (not log-increments)
    thr = tab[tab["factor"] == "seuil"]["coef"].to_numpy()
    np.testing.assert_allclose(thr, cuts, atol=0.15)
    assert (tab[tab["factor"] == "seuil"]["ci_low"] < thr).all()


def test_ordered_model_unused_category_dropped():
    df, eta, rng = _simulate(n=1500, seed=3)
    latent = eta + rng.logistic(size=len(df))
    # only categories 2, 3, 5 observed (1 and 4 unused)
    df["item"] = np.where(latent < 0, 2, np.where(latent < 1.5, 3, 5))
    tab, _ = qm.fit_item_ordinal(df, "item", FACTORS)
    assert list(tab[tab["factor"] == "seuil"]["level"]) == ["2|3", "3|5"]
    assert tab.set_index("term").loc["statut[cesa]", "coef"] == pytest.approx(0.5, abs=0.2)


def test_threshold_conversion_matches_hand_formula():
    """τ1 = θ1, τ_j = θ1 + Σ exp(θ_i): checked against statsmodels' own params."""
    df, eta, rng = _simulate(n=800, seed=4, n_cae=2)
    df["item"] = 1 + np.searchsorted([-0.5, 0.5, 1.5], eta + rng.logistic(size=len(df)))
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    d, _, refs = qm.prepare(df, "item", FACTORS)
    X = qm.design(d, refs, constant=False)
    mod = OrderedModel(d["item"].astype(int), X, distr="logit")
    res = mod.fit(method="bfgs", disp=False, maxiter=2000)
    th = res.params.to_numpy()[X.shape[1]:]
    hand = np.concatenate([[th[0]], th[0] + np.cumsum(np.exp(th[1:]))])
    tau, lo, hi = qm.threshold_table(res, mod)
    np.testing.assert_allclose(tau, hand, rtol=1e-10)


def test_small_levels_dropped_and_noted():
    df, eta, rng = _simulate(n=400, seed=5, n_cae=2)
    df.loc[:4, "genre"] = "autre"  # 5 people: under min n
    df.loc[5:9, "genre"] = "nr"
    df["score"] = 3 + eta + rng.normal(0, 1, len(df))
    tab, notes = qm.fit_score_ols(df, "score", FACTORS, min_n=10, exclude=("nr",))
    assert "genre[autre]" not in set(tab["term"])
    assert tab["n"].iloc[0] == 390
    assert any("autre" in n for n in notes)


def test_mixedlm_recovers_fixed_effects_with_many_clusters():
    df, eta, rng = _simulate(n=3000, seed=6, n_cae=1)
    groups = rng.integers(0, 40, len(df))
    u = rng.normal(0, 0.5, 40)
    df["cae"] = [f"g{g}" for g in groups]
    df["score"] = 3 + eta + u[groups] + rng.normal(0, 0.8, len(df))
    tab, var_u, _ = qm.fit_score_mixedlm(df, "score", FACTORS)
    coef = tab.set_index("term")["coef"]
    assert coef["statut[cesa]"] == pytest.approx(0.5, abs=0.1)
    assert coef["genre[H]"] == pytest.approx(0.3, abs=0.1)
    assert var_u == pytest.approx(0.25, abs=0.15)


def test_fast_logistic_gives_statsmodels_logit_fit():
    """The expit-based logistic used for speed must reproduce OrderedModel's
    own distr='logit' fit (same likelihood, same optimum)."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    from analysis.qvt.models import _fast_logistic

    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 2))
    latent = x @ np.array([0.8, -0.5]) + rng.logistic(size=300)
    y = pd.Series(pd.Categorical(np.digitize(latent, [-1.0, 0.0, 1.2]), ordered=True))
    X = pd.DataFrame(x, columns=["a", "b"])
    ref = OrderedModel(y, X, distr="logit").fit(method="bfgs", disp=False)
    fast = OrderedModel(y, X, distr=_fast_logistic()).fit(method="bfgs", disp=False)
    np.testing.assert_allclose(fast.params.to_numpy(), ref.params.to_numpy(), atol=1e-5)
    np.testing.assert_allclose(fast.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-3)
