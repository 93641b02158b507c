"""National pooled models of QVT scores and items.

Design choice (PROTOCOL §3): the CAE enters as a *fixed* effect. With seven
CAEs, a random intercept's variance is estimated from seven values (very
imprecise, often on the boundary at zero), and cluster-robust standard
errors are biased downwards with so few clusters (Cameron & Miller 2015,
J Hum Resour 50:317–372, recommend at least ~30–50 clusters). Fixed effects
absorb every between-CAE difference; the other coefficients compare
respondents *within* a CAE. A random-intercept model (:func:`fit_score_mixedlm`)
is kept for comparison only.

The design matrix is built here (treatment coding with explicit reference
levels from ``qvt.yml``) so that term names are stable: ``factor[level]``.

The ordinal models are fitted by :mod:`analysis.stats.ordinal` (Newton's
method with analytic derivatives; the CAE effects as a sparse block, so the
cost grows linearly with the number of CAEs) unless ``qvt.yml`` asks for
statsmodels' ``OrderedModel`` (``method: bfgs``). OrderedModel pitfalls
handled there (issue 6): ``distr='logit'`` set explicitly (default probit),
``method='bfgs'`` (the default optimiser fails on a seven-group model),
unused category levels and missing outcomes dropped before fitting,
thresholds after the first converted back from log-increments.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as _st
from statsmodels.regression.linear_model import OLS  # not statsmodels.api: it imports all of statsmodels (~0.5 s per kernel)
from statsmodels.regression.mixed_linear_model import MixedLM

FE_FACTOR = "cae"


def prepare(df: pd.DataFrame, outcome: str, factors: dict[str, str | None], fe: str | None = FE_FACTOR,
            min_n: int = 10, exclude=(), names: dict[str, str] | None = None,
            level_names: dict[str, dict] | None = None) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """Rows and factors usable by a model.

    Drops rows with a missing outcome or factor or an excluded value (e.g.
    ``nr``, ``non_relie``), then factor levels with fewer than ``min_n``
    rows (a coefficient on a tiny group would publish a small-cell mean),
    then factors left with a single level. Returns (data, notes_fr,
    references) where references maps each kept factor to its reference
    level (the requested one if present, else the first in sorted order).
    ``names`` and ``level_names`` give French labels for the notes.
    """
    notes: list[str] = []
    names = names or {}
    level_names = level_names or {}
    cols = [outcome] + list(factors) + ([fe] if fe else [])
    missing_cols = [c for c in cols if c not in df.columns]
    if outcome in missing_cols:
        return df.iloc[0:0], [f"Variable « {outcome} » absente."], {}
    factors = {f: r for f, r in factors.items() if f in df.columns}
    if fe and fe not in df.columns:
        fe = None
    cols = [outcome] + list(factors) + ([fe] if fe else [])
    d = df[cols].copy()
    d[outcome] = pd.to_numeric(d[outcome], errors="coerce").astype("float64")
    for f in list(factors) + ([fe] if fe else []):
        d[f] = d[f].astype("string")
    d = d.dropna()
    for f in factors:
        d = d[~d[f].isin(list(exclude))]
    refs: dict[str, str] = {}
    all_f = list(factors) + ([fe] if fe else [])
    for _ in range(3):  # dropping rows of one factor can shrink another's levels
        for f in all_f:
            counts = d[f].value_counts()
            small = sorted(counts[counts < min_n].index)
            if small:
                labs = ", ".join(str(level_names.get(f, {}).get(x, x)) for x in small)
                notes.append(f"{names.get(f, f)} : modalités écartées des modèles (moins de {min_n} "
                             f"répondants) : {labs}.")
                d = d[~d[f].isin(small)]
    for f in all_f:
        levels = d[f].value_counts()
        if len(levels) < 2:
            notes.append(f"{names.get(f, f)} : une seule modalité après filtrage, variable retirée des modèles.")
            continue
        want = factors.get(f) if f in factors else None
        refs[f] = want if want in levels.index else str(sorted(levels.index)[0])
    return d.reset_index(drop=True), notes, refs


def design_terms(d: pd.DataFrame, refs: dict[str, str]) -> list[tuple[str, str, str]]:
    """(term, factor, level) of each treatment-coded dummy, in the design's
    column order: factors in ``refs`` order, levels sorted, reference omitted."""
    return [(f"{f}[{level}]", f, level) for f, ref in refs.items() for level in sorted(d[f].unique()) if level != ref]


def design(d: pd.DataFrame, refs: dict[str, str], constant: bool = True) -> pd.DataFrame:
    """Treatment-coded dummies ``factor[level]`` (reference level omitted)."""
    cols = {term: (d[f] == level).astype("float64") for term, f, level in design_terms(d, refs)}
    X = pd.DataFrame(cols, index=d.index)
    if constant:
        X.insert(0, "const", 1.0)
    return X


def _split_term(term: str) -> tuple[str, str]:
    if "[" in term:
        f, level = term[:-1].split("[", 1)
        return f, level
    return term, ""


def _table(params, low, high, p, model: str, outcome: str, n: int, refs: dict[str, str]) -> pd.DataFrame:
    rows = []
    for term in params.index:
        f, level = _split_term(term)
        rows.append({"model": model, "outcome": outcome, "term": term, "factor": f, "level": level,
                     "reference": refs.get(f, ""), "coef": float(params[term]), "ci_low": float(low[term]),
                     "ci_high": float(high[term]), "p": float(p[term]), "n": n})
    return pd.DataFrame(rows, columns=["model", "outcome", "term", "factor", "level", "reference", "coef",
                                       "ci_low", "ci_high", "p", "n"])


def fit_score_ols(df: pd.DataFrame, outcome: str, factors: dict[str, str | None], fe: str | None = FE_FACTOR,
                  min_n: int = 10, exclude=(), level: float = 0.95, names: dict | None = None,
                  level_names: dict | None = None) -> tuple[pd.DataFrame, list[str]]:
    """OLS of a score on the factors with the CAE as a fixed effect:

        score_i = β₀ + Σ_f β_f·1[factor_f = level] + γ_c(i) + ε_i

    (treatment coding; γ of the reference CAE = 0), classical standard
    errors and t intervals (Wooldridge 2010, *Econometric analysis of cross
    section and panel data*, ch. 4 and 10). Returns (coefficient table,
    notes in French).
    """
    d, notes, refs = prepare(df, outcome, factors, fe, min_n, exclude, names, level_names)
    X = design(d, refs)
    if len(d) <= X.shape[1] + 1:
        return _table(pd.Series(dtype=float), {}, {}, {}, "mco_ef", outcome, len(d), refs), \
            notes + [f"{outcome} : trop peu d'observations ({len(d)}) pour le modèle."]
    res = OLS(d[outcome], X).fit()
    ci = res.conf_int(alpha=1 - level)
    return _table(res.params, ci[0], ci[1], res.pvalues, "mco_ef", outcome, len(d), refs), notes


def threshold_table(result, model, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OrderedModel thresholds on the latent scale with delta-method intervals.

    statsmodels parametrises the K − 1 thresholds as θ₁ and log-increments:
    τ₁ = θ₁, τ_j = θ₁ + Σ_{i=2..j} exp(θ_i). The Jacobian ∂τ_j/∂θ_i is 1 for
    i = 1, exp(θ_i) for 2 ≤ i ≤ j, 0 otherwise; Var(τ) = J V Jᵀ.
    Returns (thresholds, low, high).
    """
    k_exog = model.k_vars
    theta = np.asarray(result.params)[k_exog:]
    cov = np.asarray(result.cov_params())[k_exog:, k_exog:]
    tau = model.transform_threshold_params(np.asarray(result.params))[1:-1]
    m = len(theta)
    jac = np.zeros((m, m))
    for j in range(m):
        jac[j, 0] = 1.0
        for i in range(1, j + 1):
            jac[j, i] = math.exp(theta[i])
    se = np.sqrt(np.clip(np.diag(jac @ cov @ jac.T), 0, None))
    z = _st.norm.ppf(0.5 + level / 2)
    return tau, tau - z * se, tau + z * se


def _fast_logistic():
    """The standard logistic distribution with ``cdf``/``pdf`` computed by
    ``scipy.special.expit`` (F(x) = 1/(1+e^{-x}), f = F(1−F)), bypassing
    scipy.stats' generic argument checking, which dominated OrderedModel's
    likelihood evaluations (about 60 % of the national QVT run). Same model
    as ``distr='logit'``; an rv_continuous instance, as OrderedModel expects."""
    from scipy import special
    from scipy.stats._continuous_distns import logistic_gen

    class _Logistic(logistic_gen):
        def cdf(self, x, *args, **kwds):
            return special.expit(np.asarray(x, dtype=float))

        def pdf(self, x, *args, **kwds):
            f = special.expit(np.asarray(x, dtype=float))
            return f * (1.0 - f)

    return _Logistic(name="logistic")


#: Estimators of the ordinal model (``qvt.yml`` ``modeles.ordinal.method``):
#: ``newton`` = :func:`analysis.stats.ordinal.fit_proportional_odds` (analytic
#: score and information, sparse CAE block); ``bfgs`` = statsmodels
#: ``OrderedModel`` (numerical gradient), kept for comparison.
ORDINAL_METHODS = ("newton", "bfgs")


def _not_converged_note(item: str, names: dict | None) -> str:
    return f"« {names.get(item, item) if names else item} » : l'optimisation n'a pas convergé ; coefficients à lire avec prudence."


def fit_item_ordinal(df: pd.DataFrame, item: str, factors: dict[str, str | None], fe: str | None = FE_FACTOR,
                     min_n: int = 10, exclude=(), level: float = 0.95, distr: str = "logit",
                     method: str = "newton", maxiter: int = 2000, names: dict | None = None,
                     level_names: dict | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Proportional-odds (ordinal logistic) model of one Likert item:

        logit P(Y_i ≤ j) = τ_j − x_iᵀβ − α_c(i)

    (McCullagh 1980, JRSS B 42:109–142), with the same treatment-coded
    factors and CAE fixed effect α as :func:`fit_score_ols`, no constant
    (the thresholds play its role). β > 0 shifts answers towards higher
    categories; exp(β) is a cumulative odds ratio. Outcome categories not
    observed are dropped (OrderedModel crashes on unused levels); thresholds
    are reported as terms ``seuil[j|j+1]`` on the latent scale, CAE effects
    as ``cae[level]``, with Wald intervals and p-values (normal quantiles).

    ``method`` (:data:`ORDINAL_METHODS`): ``newton`` fits by Newton's method
    with the analytic score and observed information, the CAE effects as a
    sparse diagonal block (:mod:`analysis.stats.ordinal`, cost linear in the
    number of CAEs); ``bfgs`` by statsmodels ``OrderedModel`` (the CAE as
    dense dummies, numerical derivatives). Both maximise the same
    likelihood; a fit that does not converge (for instance a CAE whose
    answers all sit in one extreme category) gets the same French note.
    """
    if method not in ORDINAL_METHODS:
        raise ValueError(f"modeles.ordinal.method must be one of {ORDINAL_METHODS}, not {method!r}")
    d, notes, refs = prepare(df, item, factors, fe, min_n, exclude, names, level_names)
    observed = sorted(int(v) for v in d[item].unique()) if len(d) else []
    fe_ref = refs.get(fe) if fe else None
    refs_x = {f: r for f, r in refs.items() if f != fe}
    X = design(d, refs_x, constant=False)
    fe_levels = [lv for lv in sorted(d[fe].unique()) if lv != fe_ref] if fe_ref is not None else []
    k = X.shape[1] + len(fe_levels)
    if len(observed) < 2 or len(d) <= k + len(observed):
        return _table(pd.Series(dtype=float), {}, {}, {}, "logit_ordinal", item, len(d), refs), \
            notes + [f"« {names.get(item, item) if names else item} » : pas assez de réponses ou de modalités pour le modèle ordinal."]
    if method == "bfgs":
        params, low, high, p, tau, lo, hi, converged = _ordinal_statsmodels(d, item, observed, refs, distr, maxiter, level)
    else:
        params, low, high, p, tau, lo, hi, converged = _ordinal_newton(d, item, observed, X, fe, fe_levels, distr,
                                                                       maxiter, level)
        order = [t for t, _, _ in design_terms(d, refs)]  # the term order of the dense design
        params, low, high, p = (s.reindex(order) for s in (params, low, high, p))
    if not converged:
        notes.append(_not_converged_note(item, names))
    tab = _table(params, low, high, p, "logit_ordinal", item, len(d), refs)
    thr = pd.DataFrame({"model": "logit_ordinal", "outcome": item,
                        "term": [f"seuil[{a}|{b}]" for a, b in zip(observed[:-1], observed[1:])],
                        "factor": "seuil", "level": [f"{a}|{b}" for a, b in zip(observed[:-1], observed[1:])],
                        "reference": "", "coef": tau, "ci_low": lo, "ci_high": hi, "p": np.nan, "n": len(d)})
    return pd.concat([tab, thr], ignore_index=True), notes


def _ordinal_newton(d, item, observed, X, fe, fe_levels, distr, maxiter, level):
    """The ``newton`` estimator: :func:`analysis.stats.ordinal.fit_proportional_odds`
    with the CAE as a group index (reference CAE = −1), Wald intervals
    coef ± z·se and two-sided normal p-values."""
    from analysis.stats.ordinal import fit_proportional_odds

    y = np.searchsorted(np.asarray(observed), d[item].astype(int).to_numpy())
    if fe_levels:
        codes = {lv: i for i, lv in enumerate(fe_levels)}
        groups = d[fe].map(codes).fillna(-1).astype(int).to_numpy()
    else:
        groups = None
    fit = fit_proportional_odds(y, X.to_numpy(dtype=float), groups, len(fe_levels), link=distr, maxiter=maxiter)
    terms = list(X.columns) + [f"{fe}[{lv}]" for lv in fe_levels]
    coef = pd.Series(np.concatenate([fit.beta, fit.alpha]), index=terms)
    se = pd.Series(np.concatenate([fit.se_beta, fit.se_alpha]), index=terms)
    z = _st.norm.ppf(0.5 + level / 2)
    p = pd.Series(2 * _st.norm.sf(np.abs(coef / se)), index=terms)
    tau, se_tau = fit.tau, fit.se_tau
    return coef, coef - z * se, coef + z * se, p, tau, tau - z * se_tau, tau + z * se_tau, fit.converged


def _ordinal_statsmodels(d, item, observed, refs, distr, maxiter, level):
    """The ``bfgs`` estimator: statsmodels ``OrderedModel`` on the dense
    design (CAE dummies included), thresholds by :func:`threshold_table`."""
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    X = design(d, refs, constant=False)
    y = pd.Series(pd.Categorical(d[item].astype(int), categories=observed, ordered=True), index=d.index)
    mod = OrderedModel(y, X, distr=_fast_logistic() if distr == "logit" else distr)
    res = mod.fit(method="bfgs", maxiter=maxiter, disp=False)
    converged = bool(res.mle_retvals.get("converged", True))
    k = X.shape[1]
    ci = res.conf_int(alpha=1 - level).iloc[:k]
    tau, lo, hi = threshold_table(res, mod, level)
    return res.params.iloc[:k], ci[0], ci[1], res.pvalues.iloc[:k], tau, lo, hi, converged


def fit_score_mixedlm(df: pd.DataFrame, outcome: str, factors: dict[str, str | None], group: str = FE_FACTOR,
                      min_n: int = 10, exclude=(), level: float = 0.95) -> tuple[pd.DataFrame, float, list[str]]:
    """Random-intercept linear model (for comparison only):

        score_i = β₀ + xᵢᵀβ + u_c(i) + ε_i,  u_c ~ N(0, σ²_u)

    fitted by REML (statsmodels MixedLM; Laird & Ware 1982, Biometrics
    38:963–974). Returns (fixed-effect table, σ²_u, notes). With seven CAEs
    σ²_u is poorly estimated: this is why the reported models use fixed
    effects.
    """
    d, notes, refs = prepare(df, outcome, factors, group, min_n, exclude)
    g = d[group]
    refs_x = {f: r for f, r in refs.items() if f != group}
    X = design(d, refs_x)
    res = MixedLM(d[outcome], X, groups=g).fit(reml=True)
    k = X.shape[1]
    ci = res.conf_int(alpha=1 - level).iloc[:k]
    tab = _table(res.fe_params, ci[0], ci[1], res.pvalues.iloc[:k], "mixte", outcome, len(d), refs_x)
    return tab, float(res.cov_re.iloc[0, 0]), notes
