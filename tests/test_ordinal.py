"""The proportional-odds estimator (analysis.stats.ordinal) against an
independent library (statsmodels OrderedModel, Logit), closed forms and
simulated data with known parameters."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.qvt import models as qm
from analysis.stats import ordinal as so

OrderedModel = pytest.importorskip("statsmodels.miscmodels.ordinal_model").OrderedModel


def _statsmodels(y, X, distr="logit"):
    """OrderedModel fitted tightly by BFGS (gtol 1e-10), standard errors
    from a central-difference Hessian of its own log-likelihood with a fixed
    step (``approx_hess3``, h = 1e-4: truncation and rounding errors both
    ~1e-8 here, where statsmodels' default step gives ~5e-4 relative errors
    on the group effects of a 40-group model)."""
    from statsmodels.tools.numdiff import approx_hess3

    mod = OrderedModel(np.asarray(y), np.asarray(X, float), distr=distr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mod.fit(method="bfgs", disp=False, maxiter=20000, gtol=1e-10)
    params = np.asarray(res.params)
    cov = np.linalg.inv(-approx_hess3(params, mod.loglike, epsilon=1e-4))
    k = X.shape[1]
    theta = params[k:]
    tau = np.concatenate([[theta[0]], theta[0] + np.cumsum(np.exp(theta[1:]))])
    # delta method for τ (τ_j = θ_1 + Σ_{i≤j} exp θ_i), independently of threshold_table
    J = np.tril(np.ones((len(theta), len(theta)))) * np.concatenate([[1.0], np.exp(theta[1:])])
    se_tau = np.sqrt(np.diag(J @ cov[k:, k:] @ J.T))
    return params[:k], np.sqrt(np.diag(cov))[:k], tau, se_tau, float(res.llf)


def _dense(X, groups, n_groups):
    D = np.zeros((len(groups), n_groups))
    rows = np.flatnonzero(groups >= 0)
    D[rows, groups[rows]] = 1.0
    return np.column_stack([X, D])


def _simulate(n, n_groups, beta, cuts, seed, noise="logistic"):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n)]).astype(float)
    g = rng.integers(0, n_groups + 1, n) - 1  # −1 = reference group
    alpha = rng.normal(0, 0.6, n_groups)
    eta = X @ np.asarray(beta) + np.where(g >= 0, alpha[np.clip(g, 0, None)], 0.0)
    eps = rng.logistic(size=n) if noise == "logistic" else rng.normal(size=n)
    y = np.searchsorted(np.asarray(cuts), eta + eps)
    return y, X, g, alpha


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_simulated_fit_equals_statsmodels(link):
    y, X, g, _ = _simulate(2500, 6, [0.7, -0.4], [-1.0, 0.2, 1.0, 2.2], seed=11,
                           noise="logistic" if link == "logit" else "normal")
    fit = so.fit_proportional_odds(y, X, g, 6, link=link)
    assert fit.converged and fit.n_iter < 20
    b, se, tau, se_tau, llf = _statsmodels(y, _dense(X, g, 6), link)
    np.testing.assert_allclose(np.concatenate([fit.beta, fit.alpha]), b, atol=1e-6)
    np.testing.assert_allclose(fit.tau, tau, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([fit.se_beta, fit.se_alpha]), se, rtol=1e-4)
    np.testing.assert_allclose(fit.se_tau, se_tau, rtol=1e-4)
    assert fit.loglik == pytest.approx(llf, abs=1e-7)
    # the stated log-likelihood is that of its parameters, and the maximum
    assert so.loglik(y, X, g, fit.beta, fit.tau, fit.alpha, link) == pytest.approx(fit.loglik, abs=1e-9)
    assert so.loglik(y, X, g, fit.beta + [0.01, 0], fit.tau, fit.alpha, link) < fit.loglik


def test_two_categories_is_logistic_regression():
    """K = 2: P(Y = 1) = 1 − F(τ − xβ − α) = expit(xβ + α − τ), a logit with
    constant −τ (statsmodels Logit, another code path)."""
    from statsmodels.discrete.discrete_model import Logit

    rng = np.random.default_rng(3)
    n = 800
    X = rng.normal(size=(n, 2))
    g = rng.integers(-1, 3, n)
    D = _dense(X, g, 3)
    p = 1 / (1 + np.exp(-(D @ [0.9, -0.3, 0.5, -0.5, 0.2] - 0.4)))
    y = (rng.random(n) < p).astype(int)
    fit = so.fit_proportional_odds(y, X, g, 3)
    ref = Logit(y, np.column_stack([np.ones(n), D])).fit(disp=False, tol=1e-12)
    np.testing.assert_allclose(fit.tau, [-ref.params[0]], atol=1e-7)
    np.testing.assert_allclose(np.concatenate([fit.beta, fit.alpha]), ref.params[1:], atol=1e-7)
    np.testing.assert_allclose(np.concatenate([fit.se_beta, fit.se_alpha]), ref.bse[1:], rtol=1e-6)
    np.testing.assert_allclose(fit.se_tau, [ref.bse[0]], rtol=1e-6)
    assert fit.loglik == pytest.approx(ref.llf, abs=1e-8)


def test_two_by_two_table_by_hand():
    """One binary covariate, two categories: the MLE is the sample log odds
    ratio, β = log(a·d / (b·c)), with se = √(1/a + 1/b + 1/c + 1/d)
    (Agresti 2013, *Categorical data analysis*, §3.1.1), and
    τ = logit P(Y = 0 | x = 0) = log(a / b)."""
    a, b, c, d = 30, 10, 12, 25  # x = 0: (Y = 0, Y = 1) = (a, b); x = 1: (c, d)
    x = np.repeat([0.0, 0.0, 1.0, 1.0], [a, b, c, d])
    y = np.repeat([0, 1, 0, 1], [a, b, c, d])
    fit = so.fit_proportional_odds(y, x[:, None])
    assert fit.converged
    assert fit.beta[0] == pytest.approx(math.log(a * d / (b * c)), abs=1e-10)
    assert fit.tau[0] == pytest.approx(math.log(a / b), abs=1e-10)
    assert fit.se_beta[0] == pytest.approx(math.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-10)
    assert fit.se_tau[0] == pytest.approx(math.sqrt(1 / a + 1 / b), rel=1e-10)
    ll = a * math.log(a / (a + b)) + b * math.log(b / (a + b)) + c * math.log(c / (c + d)) + d * math.log(d / (c + d))
    assert fit.loglik == pytest.approx(ll, abs=1e-10)


def test_thresholds_without_covariates_are_the_cumulative_logits():
    """No covariate: τ_j = logit of the share of answers ≤ j (saturated
    multinomial), checked by hand on counts (5, 15, 20, 10)."""
    counts = np.array([5, 15, 20, 10])
    y = np.repeat(np.arange(4), counts)
    fit = so.fit_proportional_odds(y)
    cum = np.cumsum(counts)[:-1] / counts.sum()
    np.testing.assert_allclose(fit.tau, np.log(cum / (1 - cum)), atol=1e-10)
    assert fit.loglik == pytest.approx(float(counts @ np.log(counts / counts.sum())), abs=1e-10)


def test_many_groups_recover_beta_and_group_variances_are_sparse_inverse():
    """400 groups: β within its 95 % interval, the group effects' errors
    cover their true values about 95 % of the time; and for 40 groups the
    block-inverted variances equal statsmodels' (dense, numerical)."""
    beta = np.array([0.5, -0.8])
    y, X, g, alpha = _simulate(40_000, 400, beta, [-1.5, -0.3, 0.6, 1.8], seed=5)
    fit = so.fit_proportional_odds(y, X, g, 400)
    assert fit.converged
    z = stats.norm.ppf(0.975)
    assert np.all(np.abs(fit.beta - beta) < z * fit.se_beta)
    cover = np.mean(np.abs(fit.alpha - alpha) < z * fit.se_alpha)
    assert 0.9 < cover < 0.99
    assert fit.cov.shape == (6, 6) and fit.cov_alpha.shape == (400,) and fit.cov_cross.shape == (6, 400)

    y, X, g, _ = _simulate(3000, 40, beta, [-1.5, -0.3, 0.6, 1.8], seed=6)
    fit = so.fit_proportional_odds(y, X, g, 40)
    b, se, *_ = _statsmodels(y, _dense(X, g, 40))
    np.testing.assert_allclose(fit.alpha, b[2:], atol=1e-6)
    np.testing.assert_allclose(fit.se_alpha, se[2:], rtol=1e-4)


def test_cross_covariance_equals_the_dense_inverse():
    """Every block of the covariance from the Schur complement (Var(β, τ),
    Cov((β, τ), α), Var(α)) equals the dense inverse of statsmodels'
    numerical Hessian at our optimum, its thresholds mapped to τ by the
    delta method (τ_j = θ_1 + Σ_{i≤j} exp θ_i)."""
    y, X, g, _ = _simulate(1500, 5, [0.4, 0.3], [-0.5, 0.5, 1.5], seed=9)
    fit = so.fit_proportional_odds(y, X, g, 5)
    D = _dense(X, g, 5)
    mod = OrderedModel(y, D, distr="logit")
    k = D.shape[1]
    theta = np.concatenate([fit.beta, fit.alpha, [fit.tau[0]], np.log(np.diff(fit.tau))])
    V = np.linalg.inv(-mod.hessian(theta))  # statsmodels' numerical Hessian, dense
    J = np.tril(np.ones((3, 3))) * np.concatenate([[1.0], np.exp(theta[k + 1:])])
    # reorder statsmodels (β, α, θ) to ours: (β, τ) and α
    V_bb, V_ba, V_aa = V[:2, :2], V[:2, 2:k], V[2:k, 2:k]
    V_tt = J @ V[k:, k:] @ J.T
    V_ta = J @ V[k:, 2:k]
    np.testing.assert_allclose(fit.cov[:2, :2], V_bb, rtol=1e-4)
    np.testing.assert_allclose(fit.cov[2:, 2:], V_tt, rtol=1e-4)
    np.testing.assert_allclose(fit.cov_cross[:2], V_ba, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(fit.cov_cross[2:], V_ta, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(fit.cov_alpha, np.diag(V_aa), rtol=1e-4)


@pytest.mark.parametrize("category", [0, 3])
def test_separated_group_stops_not_converged_and_finite(category):
    """A group whose answers all sit in one extreme category: α has no
    finite maximum. The fit stops early, says so, and returns finite values
    (the other estimates as statsmodels gives them)."""
    y, X, g, _ = _simulate(900, 3, [0.8, 0.0], [-1.0, 0.0, 1.2], seed=2)
    y[g == 1] = category
    fit = so.fit_proportional_odds(y, X, g, 3, maxiter=2000)
    assert not fit.converged and fit.n_iter < 100
    for v in (fit.beta, fit.tau, fit.alpha, fit.se_beta, fit.se_tau, fit.se_alpha):
        assert np.all(np.isfinite(v))
    assert abs(fit.alpha[1]) > 15 and fit.se_alpha[1] > 1e3
    assert np.sign(fit.alpha[1]) == (1 if category == 3 else -1)
    keep = g != 1  # without the separated group the rest of the model is the same fit
    other = so.fit_proportional_odds(y[keep], X[keep], np.where(g[keep] == 2, 1, g[keep]), 2)
    np.testing.assert_allclose(fit.beta, other.beta, atol=1e-5)
    np.testing.assert_allclose(fit.tau, other.tau, atol=1e-5)


def test_separation_through_the_item_model_gives_the_french_note():
    rng = np.random.default_rng(4)
    n = 600
    df = pd.DataFrame({"statut": rng.choice(["cape", "cesa"], n), "cae": rng.choice(["a", "b", "c"], n)})
    df["item"] = 1 + np.searchsorted([-1.0, 0.0, 1.0, 2.0], rng.logistic(size=n))
    df.loc[df["cae"] == "c", "item"] = 5
    tab, notes = qm.fit_item_ordinal(df, "item", {"statut": "cape"}, names={"item": "Mon item"})
    assert "« Mon item » : l'optimisation n'a pas convergé ; coefficients à lire avec prudence." in notes
    assert np.isfinite(tab[["coef", "ci_low", "ci_high"]].to_numpy(float)).all()
    assert tab.set_index("term").loc["cae[c]", "coef"] > 15


def test_invalid_inputs_are_refused():
    with pytest.raises(ValueError):
        so.fit_proportional_odds(np.array([0, 0, 2, 2]))  # category 1 unused
    with pytest.raises(ValueError):
        so.fit_proportional_odds(np.array([1, 1, 1]))  # one category
    with pytest.raises(ValueError):
        so.fit_proportional_odds(np.array([0, 1, 0, 1]), link="cauchit")
    with pytest.raises(ValueError):
        qm.fit_item_ordinal(pd.DataFrame({"item": [1, 2] * 20, "cae": ["a", "b"] * 20}), "item", {}, method="lbfgs")


# --- the demo's pooled items: newton (default) and statsmodels agree ------------------

@pytest.fixture(scope="module")
def demo_items(tmp_path_factory, pseudonym_key):
    from analysis.intake import demo, processed
    from analysis.intake import process as intake
    from analysis.qvt import compute as qvt
    from analysis.qvt import scores as qs

    root = tmp_path_factory.mktemp("ordinal")
    slugs = demo.generate(root / "raw", n_cae=7, seed=2019)
    for s in slugs:
        assert intake.process_cae(s, root / "raw", root / "processed", root / "out").ok
    datas = [processed.load_cae(s, root / "processed") for s in slugs]
    spec = qs.load_spec()
    return qvt.pooled_items([d for d in datas if d.has_survey], spec), spec


def test_demo_items_equal_statsmodels(demo_items):
    items, spec = demo_items
    from analysis.qvt import scores as qs

    factors = {f: fs.get("reference") for f, fs in spec["comparaisons"]["facteurs"].items()}
    excl = spec["comparaisons"]["exclus"]
    n_min = spec["comparaisons"]["n_min_groupe"]
    assert spec["modeles"]["ordinal"]["method"] == "newton"
    fitted = 0
    for item in qs.all_items(spec):
        tab, notes = qm.fit_item_ordinal(items, item, factors, "cae", n_min, excl)
        d, _, refs = qm.prepare(items, item, factors, "cae", n_min, excl)
        X = qm.design(d, refs, constant=False)
        observed = sorted(d[item].astype(int).unique())
        b, se, tau, se_tau, llf = _statsmodels(np.searchsorted(observed, d[item].astype(int)), X)
        t = tab.set_index("term")
        assert list(t.index) == list(X.columns) + [f"seuil[{a}|{c}]" for a, c in zip(observed[:-1], observed[1:])]
        np.testing.assert_allclose(t.loc[X.columns, "coef"], b, atol=1e-6, err_msg=item)
        np.testing.assert_allclose(t.loc[X.columns, "ci_high"] - t.loc[X.columns, "coef"],
                                   stats.norm.ppf(0.975) * se, rtol=1e-4, err_msg=item)
        thr = t[t["factor"] == "seuil"]
        np.testing.assert_allclose(thr["coef"], tau, atol=1e-6, err_msg=item)
        np.testing.assert_allclose(thr["coef"] - thr["ci_low"], stats.norm.ppf(0.975) * se_tau, rtol=1e-4)
        p = 2 * stats.norm.sf(np.abs(b / se))
        np.testing.assert_allclose(t.loc[X.columns, "p"], p, rtol=1e-3, atol=1e-8)
        assert not any("convergé" in n for n in notes)
        fitted += 1
    assert fitted == len(qs.all_items(spec)) >= 14


def test_demo_bfgs_path_still_gives_the_same_table(demo_items):
    """``method: bfgs`` (statsmodels, the former default) stays available and
    gives the same table schema, terms and (to its tolerance) values."""
    items, spec = demo_items
    factors = {f: fs.get("reference") for f, fs in spec["comparaisons"]["facteurs"].items()}
    args = (items, "qvt_sante_1", factors, "cae", spec["comparaisons"]["n_min_groupe"], spec["comparaisons"]["exclus"])
    new, _ = qm.fit_item_ordinal(*args, method="newton")
    old, _ = qm.fit_item_ordinal(*args, method="bfgs")
    assert list(new.columns) == list(old.columns)
    assert list(new["term"]) == list(old["term"]) and list(new["level"]) == list(old["level"])
    assert (new[["model", "factor", "reference", "n"]] == old[["model", "factor", "reference", "n"]]).all().all()
    np.testing.assert_allclose(new["coef"], old["coef"], atol=1e-3)
    np.testing.assert_allclose(new["ci_low"], old["ci_low"], atol=1e-3)


def test_method_file_accepts_newton_and_bfgs_only(tmp_path):
    import shutil

    import yaml

    from analysis.method import loader
    from analysis.method.loader import MethodError

    folder = tmp_path / "methode"
    shutil.copytree(Path(__file__).resolve().parents[1] / "methodology", folder)
    path = folder / "qvt.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["modeles"]["ordinal"]["method"] == "newton"  # the shipped default
    for value, ok in (("bfgs", True), ("newton", True), ("lbfgs", False)):
        data["modeles"]["ordinal"]["method"] = value
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        if ok:
            assert loader.load("qvt", folder)["modeles"]["ordinal"]["method"] == value
        else:
            msg = str(pytest.raises(MethodError, loader.load, "qvt", folder).value)
            assert "modeles.ordinal.method" in msg and "lbfgs" in msg
