"""QVT and WHO-5 summaries per CAE and for the network: what notebooks call.

Tables are tidy and already respect the publication rules
(``publication.yml``): a mean or share on fewer than the denominator threshold
people is suppressed (values blanked, ``suppressed`` True), a published count
under the count threshold is blanked, and so is a share whose complement is
such a count. Groups and reliability use the QVT minimum n of ``qvt.yml``.
The statistics themselves live in :mod:`analysis.qvt.scores`,
:mod:`analysis.stats.reliability`, :mod:`analysis.stats.group_tests` and
:mod:`analysis.qvt.models`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as _st

from analysis.intake import codebook as _codebook
from analysis.stats import group_tests
from analysis.qvt import models as qvt_models
from analysis.stats import reliability
from analysis.qvt import scores as qs
from analysis.publication import linked as _linked
from analysis.publication import suppression as _gate
from analysis.publication.formatting import fr_interval, fr_number, fr_percent
from analysis.intake.processed import CaeData
from analysis.stats.intervals import mean_t_interval, wilson_interval


DIMENSION_COLUMNS = ["cae", "dimension", "label", "n", "mean", "ci_low", "ci_high", "share_agree", "share_n",
                     "share_ci_low", "share_ci_high", "reference", "reference_source", "suppressed",
                     "share_suppressed"]
RELIABILITY_COLUMNS = ["dimension", "label", "k", "n_complete", "alpha", "alpha_ci_low", "alpha_ci_high", "omega",
                       "reported", "reason"]
ITEM_TOTAL_COLUMNS = ["dimension", "item", "item_label", "n_complete", "r_corrigee", "reported"]
COMPARISON_COLUMNS = ["dimension", "label", "factor", "factor_label", "groups", "dropped", "n", "test", "statistic",
                      "p", "p_adj", "correction", "effect_size", "effect_name", "suppressed"]


@dataclass
class QvtResult:
    """One CAE's QVT results (tidy tables; see the module docstring)."""

    cae: str
    available: bool
    note_fr: str = ""
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    dimensions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DIMENSION_COLUMNS))
    reliability: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RELIABILITY_COLUMNS))
    item_total: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ITEM_TOTAL_COLUMNS))
    who5: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COMPARISON_COLUMNS))
    notes_fr: list[str] = field(default_factory=list)


@dataclass
class QvtNational:
    """Pooled results over the CAEs that have a questionnaire."""

    available: bool
    note_fr: str = ""
    n_cae: int = 0
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    dimensions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DIMENSION_COLUMNS))
    matrix: pd.DataFrame = field(default_factory=pd.DataFrame)
    reliability: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RELIABILITY_COLUMNS))
    who5: pd.DataFrame = field(default_factory=pd.DataFrame)
    comparisons: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=COMPARISON_COLUMNS))
    models_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    models_items: pd.DataFrame = field(default_factory=pd.DataFrame)
    model_notes_fr: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- rules


def _anonymise(pub: dict) -> bool:
    """``publication.yml: anonymiser_structures``."""
    return bool(pub["anonymiser_structures"])


def _prof():
    from analysis.method import profile as profiles

    return profiles.current()


def _rules(spec: dict | None = None) -> dict:
    spec = qs.load_spec(spec)
    pub = qs.publication_rules()
    comp = spec["comparaisons"]
    return {
        "level": float(pub["niveau_confiance"]),
        "anonymiser": _anonymise(pub),
        "n_min_fiabilite": int(spec["fiabilite"]["n_min"]),
        "omega_items_min": int(spec["fiabilite"]["omega_items_min"]),
        "n_min_groupe": int(comp["n_min_groupe"]),
        "correction": str(comp["correction"]),
        "exclus": list(comp["exclus"]),
        "seuil_accord": float(spec["echelle"]["seuil_accord"]),
    }


# The small-cell rule has one home, the publication gate (_gate.small, _gate.mask_count).


def _reference(spec: dict, code: str) -> tuple[float, str]:
    ref = spec["references"].get(code)
    if not ref:
        return (math.nan, "")
    src = str(ref["source"])
    if ref.get("annee"):
        src = f"{src} ({ref['annee']})"
    return (float(ref["valeur"]), src)


def outcomes(spec: dict | None = None) -> dict[str, str]:
    """{score column: French label}: the seven dimensions then WHO-5."""
    spec = qs.load_spec(spec)
    out = {d: v["label"] for d, v in qs.dimensions(spec).items()}
    out["who5"] = spec["who5"]["label"]
    return out


def group_labels(spec: dict | None = None) -> dict[str, dict]:
    """French labels of the groups of each comparison factor."""
    spec = qs.load_spec(spec)
    out = {}
    for f, fs in spec["comparaisons"]["facteurs"].items():
        if f == "anciennete":
            out[f] = qs.seniority_labels(spec)
        elif fs.get("codes"):
            out[f] = {str(k): str(v) for k, v in _codebook.codes(fs["codes"]).items()}
    return out


# --------------------------------------------------------------------------- tables


def dimension_table(scores: pd.DataFrame, cae: str, spec: dict | None = None) -> pd.DataFrame:
    """Per dimension: mean with Student t interval, share who agree (score ≥
    ``echelle.seuil_accord``) with Wilson interval, reference, suppression.

    Mean: x̄ ± t_{n−1}·s/√n (:func:`analysis.stats.intervals.mean_t_interval`). Share:
    Wilson score interval (:func:`analysis.stats.intervals.wilson_interval`). For a
    two-item score (values 1, 1.5, …, 5), "agree" means a mean of the
    recoded items ≥ 4. ``n`` is the number of respondents with a score,
    ``share_n`` the number who agree. Rows with n < the denominator threshold are
    suppressed (values blanked); a share whose count or complement is under
    the count threshold is blanked (``share_suppressed``).
    """
    spec = qs.load_spec(spec)
    r = _rules(spec)
    rows = []
    for dim, d in qs.dimensions(spec).items():
        v = scores[dim] if dim in scores.columns else pd.Series(dtype="float64")
        mean, lo, hi, n = mean_t_interval(v, r["level"])
        x = int((pd.Series(v, dtype="float64") >= r["seuil_accord"] - 1e-12).sum())
        s_lo, s_hi = wilson_interval(x, n, r["level"]) if n else (math.nan, math.nan)
        ref, src = _reference(spec, dim)
        suppressed = _gate.too_few(n)
        share_supp = suppressed or _gate.small(x) or _gate.small(n - x)
        row = {"cae": cae, "dimension": dim, "label": d["label"], "n": _gate.mask_count(n),
               "mean": mean, "ci_low": lo, "ci_high": hi, "share_agree": x / n if n else math.nan,
               "share_n": x, "share_ci_low": s_lo, "share_ci_high": s_hi, "reference": ref,
               "reference_source": src, "suppressed": suppressed, "share_suppressed": share_supp}
        if suppressed:
            row.update(mean=math.nan, ci_low=math.nan, ci_high=math.nan)
        if share_supp:
            row.update(share_agree=math.nan, share_n=pd.NA, share_ci_low=math.nan, share_ci_high=math.nan)
        rows.append(row)
    out = pd.DataFrame(rows, columns=DIMENSION_COLUMNS)
    out["n"] = out["n"].astype("Int64")
    out["share_n"] = out["share_n"].astype("Int64")
    for c in ("mean", "ci_low", "ci_high", "share_agree", "share_ci_low", "share_ci_high", "reference"):
        out[c] = out[c].astype("float64")
    out["suppressed"] = out["suppressed"].astype(bool)
    out["share_suppressed"] = out["share_suppressed"].astype(bool)
    return out


def _recoded_items(questionnaire: pd.DataFrame, items: list[str], spec: dict, who5: bool = False) -> pd.DataFrame:
    if who5:
        w = spec["who5"]
        return qs.items_frame(questionnaire, items, reverse=[], scale_min=w["min"], scale_max=w["max"])
    return qs.items_frame(questionnaire, items, None, spec["echelle"]["min"], spec["echelle"]["max"])


def reliability_table(questionnaire: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """Cronbach's α with Feldt interval (complete rows; :mod:`analysis.stats.reliability`)
    for each dimension and WHO-5, McDonald's ω where the scale has at least
    ``fiabilite.omega_items_min`` items (WHO-5; with two items a one-factor
    model is not identified). Reported only with ``fiabilite.n_min``
    complete responses; otherwise ``reported`` is False with the reason.
    """
    spec = qs.load_spec(spec)
    r = _rules(spec)
    scales = [(d, v["label"], v["items"], False) for d, v in qs.dimensions(spec).items()]
    scales.append(("who5", spec["who5"]["label"], spec["who5"]["items"], True))
    rows = []
    for code, label, items, is_who5 in scales:
        x = _recoded_items(questionnaire, items, spec, is_who5)
        alpha, n, k = reliability.cronbach_alpha(x)
        lo, hi = reliability.feldt_interval(alpha, n, k, r["level"])
        omega = math.nan
        if k >= r["omega_items_min"] and n >= r["n_min_fiabilite"]:
            omega, _ = reliability.mcdonald_omega(x, r["omega_items_min"])
        reported = n >= r["n_min_fiabilite"] and np.isfinite(alpha)
        reason = ""
        if n < r["n_min_fiabilite"]:
            reason = f"moins de {r['n_min_fiabilite']} réponses complètes"
        elif not np.isfinite(alpha):
            reason = "variance nulle : α non défini"
        elif k < r["omega_items_min"]:
            reason = f"ω non calculé : un modèle à un facteur n'est pas identifié avec {k} items"
        if not reported:
            alpha = lo = hi = omega = math.nan
        rows.append({"dimension": code, "label": label, "k": k, "n_complete": _gate.mask_count(n),
                     "alpha": alpha, "alpha_ci_low": lo, "alpha_ci_high": hi, "omega": omega,
                     "reported": bool(reported), "reason": reason})
    out = pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)
    out["n_complete"] = out["n_complete"].astype("Int64")
    return out


def item_total_table(questionnaire: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """Corrected item–total correlations per scale (two-item scales: the
    inter-item correlation), reported with ``fiabilite.n_min`` complete rows."""
    spec = qs.load_spec(spec)
    r = _rules(spec)
    labels = {c: s.get("label", c) for c, s in _codebook.columns("questionnaire").items()}
    scales = [(d, v["items"], False) for d, v in qs.dimensions(spec).items()]
    scales.append(("who5", spec["who5"]["items"], True))
    parts = []
    for code, items, is_who5 in scales:
        t = reliability.corrected_item_total(_recoded_items(questionnaire, items, spec, is_who5))
        t.insert(0, "dimension", code)
        t["item_label"] = t["item"].map(labels)
        t["reported"] = t["n_complete"] >= r["n_min_fiabilite"]
        t.loc[~t["reported"], "r_corrigee"] = np.nan
        t["n_complete"] = [_gate.mask_count(v) for v in t["n_complete"]]
        parts.append(t)
    out = pd.concat(parts, ignore_index=True)[ITEM_TOTAL_COLUMNS]
    out["n_complete"] = out["n_complete"].astype("Int64")
    return out


def who5_table(scores: pd.DataFrame, spec: dict | None = None, cae: str | None = None) -> pd.DataFrame:
    """WHO-5 summary (one row): n, mean with t interval, for each threshold
    T the share with score ≤ T (``share_le_T``, count ``n_le_T``) with
    Wilson interval (Topp et al. 2015 cut-offs), reference, and Spearman's ρ
    between the score and years of seniority among linked respondents
    (Spearman 1904; scipy ``spearmanr``), reported with at least
    ``comparaisons.n_min_groupe`` linked respondents.
    """
    spec = qs.load_spec(spec)
    r = _rules(spec)
    v = scores["who5"] if "who5" in scores.columns else pd.Series(dtype="float64")
    mean, lo, hi, n = mean_t_interval(v, r["level"])
    suppressed = _gate.too_few(n)
    ref, src = _reference(spec, "who5")
    row = {"cae": cae, "n": _gate.mask_count(n), "mean": mean, "ci_low": lo, "ci_high": hi}
    vv = pd.Series(v, dtype="float64").dropna()
    for t in spec["who5"]["seuils"]:
        T = t["valeur"]
        x = int((vv <= T).sum())
        s_lo, s_hi = wilson_interval(x, n, r["level"]) if n else (math.nan, math.nan)
        hide = suppressed or _gate.small(x) or _gate.small(n - x)
        row[f"share_le_{T}"] = math.nan if hide else (x / n if n else math.nan)
        row[f"n_le_{T}"] = pd.NA if hide else x
        row[f"share_le_{T}_ci_low"] = math.nan if hide else s_lo
        row[f"share_le_{T}_ci_high"] = math.nan if hide else s_hi
    rho = p = math.nan
    n_link = 0
    if {"who5", "anciennete_annees"} <= set(scores.columns):
        d = scores[["who5", "anciennete_annees"]].astype("float64").dropna()
        n_link = len(d)
        if n_link >= r["n_min_groupe"] and d["who5"].nunique() > 1 and d["anciennete_annees"].nunique() > 1:
            res = _st.spearmanr(d["who5"], d["anciennete_annees"])
            rho, p = float(res.statistic), float(res.pvalue)
    row.update(spearman_anciennete=rho, spearman_p=p, n_relies=_gate.mask_count(n_link),
               reference=ref, reference_source=src, suppressed=suppressed)
    if suppressed:
        row.update(mean=math.nan, ci_low=math.nan, ci_high=math.nan)
    out = pd.DataFrame([row])
    for c in out.columns:
        if c == "n" or c.startswith("n_"):
            out[c] = out[c].astype("Int64")
    out["cae"] = out["cae"].astype("string")
    return out


def comparisons_table(scores: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """Kruskal–Wallis / Mann–Whitney of every score (seven dimensions and
    WHO-5) by status, seniority band and gender, with ε² or rank-biserial r,
    groups under ``comparaisons.n_min_groupe`` dropped, p-values corrected
    within each factor across the scores (``comparaisons.correction``);
    see :func:`analysis.stats.group_tests.comparison_table`."""
    spec = qs.load_spec(spec)
    r = _rules(spec)
    t = group_tests.comparison_table(scores, outcomes(spec), spec["comparaisons"]["facteurs"],
                                     min_n=r["n_min_groupe"], method=r["correction"], exclude=r["exclus"],
                                     group_labels=group_labels(spec))
    return t[COMPARISON_COLUMNS]


# --------------------------------------------------------------------------- per CAE


def _period_end(info: dict):
    try:
        return (info.get("periode") or {}).get("fin")
    except AttributeError:
        return None


def no_survey_note(data: CaeData) -> str:
    from analysis.publication.escape import markdown_text

    nom = markdown_text(data.info.get("nom", data.slug) if isinstance(data.info, dict) else data.slug)
    prof = _prof()
    return (f"{prof.phrase('structure_sans_questionnaire', nom=nom)} : la qualité de vie au travail "
            f"et le bien-être (WHO-5) ne sont pas analysés pour {prof.term('structure.pronom')}.")


def score_cae(data: CaeData, spec: dict | None = None) -> pd.DataFrame:
    """Respondent-level scores of one CAE (empty when it has no questionnaire)."""
    if not data.has_survey:
        return pd.DataFrame()
    return qs.score_respondents(data.questionnaire, data.personnes, _period_end(data.info), data.slug, spec)


def summarise_cae(data: CaeData, spec: dict | None = None) -> QvtResult:
    """Every QVT table of one CAE (see :class:`QvtResult`)."""
    spec = qs.load_spec(spec)
    if not data.has_survey:
        empty = qs.score_respondents(pd.DataFrame({"id": pd.array([], dtype="string")}), None, None, data.slug, spec)
        return QvtResult(cae=data.slug, available=False, note_fr=no_survey_note(data), scores=empty,
                         who5=who5_table(empty, spec, data.slug).iloc[0:0])
    scores = score_cae(data, spec)
    q = data.questionnaire.reset_index(drop=True)
    notes = []
    n_linked = int(scores["relie"].sum())
    fichier = _prof().term("personne.fichier")
    notes.append(f"{n_linked} répondant(s) sur {len(scores)} relié(s) à {fichier} par leur identifiant."
                 if not (_gate.small(n_linked) or _gate.small(len(scores) - n_linked))
                 else f"Le nombre de répondants reliés à {fichier} n'est pas publié (effectif trop faible).")
    dims, who5 = dimension_table(scores, data.slug, spec), who5_table(scores, spec, data.slug)
    return QvtResult(
        cae=data.slug, available=True, scores=scores,
        dimensions=dims,
        reliability=reliability_table(q, spec),
        item_total=item_total_table(q, spec),
        who5=who5,
        comparisons=published_comparisons(comparisons_table(scores, spec), dims, who5),
        notes_fr=notes,
    )


def published_comparisons(comparisons: pd.DataFrame, dimensions: pd.DataFrame, who5: pd.DataFrame) -> pd.DataFrame:
    """The comparison tests through the gate: tests of one score run on the
    same respondents, so their sizes and the score's published n form a
    linked set (:func:`analysis.publication.linked.protect_same_respondents`:
    a test whose n differs from another published n by 1 to seuil − 1 is
    hidden whole)."""
    ref = {d: n for d, n in zip(dimensions["dimension"], dimensions["n"]) if not pd.isna(n)}
    if len(who5) and "n" in who5.columns and not pd.isna(who5["n"].iloc[0]):
        ref["who5"] = who5["n"].iloc[0]
    return _linked.protect_same_respondents(comparisons, ref, by="dimension", n_col="n",
                                            value_cols=["statistic", "p", "p_adj", "effect_size"])


# --------------------------------------------------------------------------- national


def cae_labels(datas: list[CaeData], anonymise: bool | None = None) -> dict[str, str]:
    """Display name of each CAE: its ``nom``, or "CAE 1 … CAE N" (sorted by
    slug) when ``publication.anonymiser_structures`` is true."""
    if anonymise is None:
        anonymise = _anonymise(qs.publication_rules())
    slugs = sorted(d.slug for d in datas)
    names = {d.slug: (d.info.get("nom") or d.slug) if isinstance(d.info, dict) else d.slug for d in datas}
    out = {s: (_prof().anonymous_name(i) if anonymise else str(names[s])) for i, s in enumerate(slugs, 1)}
    dup = pd.Series(out).duplicated(keep=False)
    return {s: (f"{v} ({s})" if dup[s] else v) for s, v in out.items()}


def cae_items(data: CaeData, spec: dict | None = None) -> pd.DataFrame:
    """One CAE's respondent-level recoded QVT items (higher = better) with
    its groups and slug: its share of :func:`pooled_items` (empty when it
    has no questionnaire)."""
    if not data.has_survey:
        return pd.DataFrame()
    spec = qs.load_spec(spec)
    q = data.questionnaire.reset_index(drop=True)
    groups = qs.link_groups(q, data.personnes, _period_end(data.info), spec)
    items = _recoded_items(q, qs.all_items(spec), spec)
    part = pd.concat([groups, items], axis=1)
    part.insert(0, "cae", data.slug)
    return part


def pooled_items(datas: list[CaeData], spec: dict | None = None) -> pd.DataFrame:
    """Respondent-level recoded QVT items (higher = better) with groups and CAE, pooled."""
    spec = qs.load_spec(spec)
    parts = [cae_items(d, spec) for d in datas if d.has_survey]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def cae_dimension_table(data: CaeData, spec: dict | None = None) -> pd.DataFrame:
    """One CAE's row block of the national dimension × CAE matrix:
    :func:`dimension_table` of its scores (:func:`score_cae`)."""
    return dimension_table(score_cae(data, spec), data.slug, spec)


def fixed_effect_note(n_cae: int) -> str:
    """Why the CAE is a fixed effect (French, with the number of CAEs)."""
    return _prof().phrase("effet_fixe", n=n_cae)


def summarise_national(datas: list[CaeData], spec: dict | None = None, anonymise: bool | None = None) -> QvtNational:
    """Pooled QVT results: dimension statistics over all respondents, the
    dimension × CAE matrix (suppressed cells flagged), pooled reliability and
    comparisons (descriptive: they ignore the CAE), and the fixed-effect
    models — OLS of each score and ordinal logit of each item on status,
    seniority band and gender with the CAE as a fixed effect
    (:mod:`analysis.qvt.models`). CAEs are shown as "CAE 1 … CAE N" when
    ``anonymise`` is true (default: ``anonymiser_structures`` of publication.yml)."""
    spec = qs.load_spec(spec)
    r = _rules(spec)
    with_survey = [d for d in datas if d.has_survey]
    if not with_survey:
        return QvtNational(available=False, note_fr=f"Aucun questionnaire transmis par {_prof().term('structure.les')} : "
                                                    "la qualité de vie au travail n'est pas analysée.")
    labels = cae_labels(datas, r["anonymiser"] if anonymise is None else anonymise)
    scores = pd.concat([score_cae(d, spec) for d in with_survey], ignore_index=True)
    items = pooled_items(with_survey, spec)
    questionnaires = pd.concat([d.questionnaire.reset_index(drop=True) for d in with_survey], ignore_index=True)
    matrix = pd.concat([cae_dimension_table(d, spec) for d in with_survey], ignore_index=True)
    matrix.insert(1, "cae_label", matrix["cae"].map(labels))
    facteurs = {f: fs.get("reference") for f, fs in spec["comparaisons"]["facteurs"].items()}
    names = {f: fs["label"] for f, fs in spec["comparaisons"]["facteurs"].items()}
    names["cae"] = _prof().term("structure.colonne")
    q_cols = _codebook.columns("questionnaire")
    names.update({it: q_cols.get(it, {}).get("label", it) for it in qs.all_items(spec)})  # notes name items in words
    level_names = {**group_labels(spec), "cae": labels}
    kw = dict(names=names, level_names=level_names)
    coef_scores, coef_items, notes = [], [], [fixed_effect_note(len(with_survey))]
    for outcome in outcomes(spec):
        tab, n = qvt_models.fit_score_ols(scores, outcome, facteurs, "cae", r["n_min_groupe"], r["exclus"], r["level"],
                                          **kw)
        coef_scores.append(tab)
        notes += n
    mo = spec["modeles"]["ordinal"]
    for item in qs.all_items(spec):
        tab, n = qvt_models.fit_item_ordinal(items, item, facteurs, "cae", r["n_min_groupe"], r["exclus"], r["level"],
                                             distr=mo["distr"], method=mo["method"],
                                             maxiter=int(mo["maxiter"]), **kw)
        coef_items.append(tab)
        notes += n
    for tab in coef_scores + coef_items:
        sel = tab["factor"] == "cae"
        tab.loc[sel, "level"] = tab.loc[sel, "level"].map(labels).fillna(tab.loc[sel, "level"])
        tab.loc[sel, "reference"] = tab.loc[sel, "reference"].map(labels).fillna(tab.loc[sel, "reference"])
    dims, who5 = _national_lines(dimension_table(scores, "ensemble", spec), matrix, scores, r), who5_table(scores, spec, "ensemble")
    return QvtNational(
        available=True, n_cae=len(with_survey), scores=scores,
        dimensions=dims,
        matrix=matrix,
        reliability=reliability_table(questionnaires, spec),
        who5=who5,
        comparisons=published_comparisons(comparisons_table(scores, spec), dims, who5),
        models_scores=pd.concat(coef_scores, ignore_index=True),
        models_items=pd.concat(coef_items, ignore_index=True),
        model_notes_fr=list(dict.fromkeys(notes)),
    )


def _national_lines(national: pd.DataFrame, matrix: pd.DataFrame, scores: pd.DataFrame, r: dict) -> pd.DataFrame:
    """The national n and share_n of a dimension are the totals of the
    CAEs' (published in the matrix): where the line of CAE cells and the
    national cell is unsafe (:func:`analysis.publication.suppression.line_needs_more`),
    the national count and the values computed from it are hidden
    (complementary suppression on the marginal, Hundepool et al. 2012 §5.2)."""
    out = national.copy()
    se = _gate.thresholds()[0]
    for i, row in out.iterrows():
        dim = row["dimension"]
        m = matrix[matrix["dimension"] == dim]
        if dim not in scores.columns or m.empty:
            continue
        v = scores.groupby("cae")[dim]
        raw_n = v.count().reindex(m["cae"]).fillna(0).to_numpy(dtype=float)
        raw_x = v.apply(lambda s: int((s.astype("float64") >= r["seuil_accord"] - 1e-12).sum())).reindex(m["cae"]).fillna(0).to_numpy(dtype=float)
        hid_n = m["n"].isna().to_numpy() & (raw_n > 0)
        hid_x = m["share_n"].isna().to_numpy() & (raw_x > 0)
        if _gate.line_needs_more(raw_n, hid_n, False, True, se):
            out.loc[i, ["n", "share_n"]] = pd.NA
            out.loc[i, ["mean", "ci_low", "ci_high", "share_agree", "share_ci_low", "share_ci_high"]] = np.nan
            out.loc[i, ["suppressed", "share_suppressed"]] = True
        elif _gate.line_needs_more(raw_x, hid_x, False, True, se) or _gate.line_needs_more(raw_n - raw_x, hid_x, False, True, se):
            out.loc[i, "share_n"] = pd.NA
            out.loc[i, ["share_agree", "share_ci_low", "share_ci_high"]] = np.nan
            out.loc[i, "share_suppressed"] = True
    return out


def network_median(processed_dir: Path | str | None = None, exclude: str | None = None) -> pd.Series | None:
    """Median over the other CAEs of their published dimension means, read
    from ``<processed_dir>/<cae>/qvt_dimensions.parquet``; None when no
    other CAE has results. Suppressed means are left out. The runner passes
    a snapshot of the current run's CAEs (``network_dir``)."""
    import re

    from analysis import config

    root = Path(processed_dir or config.PROCESSED_DIR)
    parts = []
    for p in sorted(root.glob("*/qvt_dimensions.parquet")):
        if p.parent.name == exclude or not re.match(config.SLUG_PATTERN, p.parent.name):
            continue  # a CAE folder only: never _national or a staging folder
        t = pd.read_parquet(p)
        if len(t):
            parts.append(t[~t["suppressed"].astype(bool)][["dimension", "mean"]])
    if not parts:
        return None
    all_ = pd.concat(parts).dropna()
    if all_.empty:
        return None
    return all_.groupby("dimension")["mean"].median()


def write_results(result: QvtResult, processed_dir: Path | str | None = None) -> list[Path]:
    """Write ``qvt_dimensions``, ``qvt_reliability``, ``qvt_who5``,
    ``qvt_comparisons`` and ``qvt_scores`` (pseudonymous ids only) into
    ``<processed_dir>/<cae>/``; empty tables when the CAE has no survey."""
    from analysis import config
    from analysis.pipeline.results import write_result

    d = Path(processed_dir or config.PROCESSED_DIR) / result.cae
    tables = {"qvt_dimensions": result.dimensions, "qvt_reliability": result.reliability,
              "qvt_who5": result.who5, "qvt_comparisons": result.comparisons, "qvt_scores": result.scores}
    out = []
    for stem, df in tables.items():
        # respondent-level scores stay internal (Parquet only, never a published CSV)
        out += list(write_result(df.reset_index(drop=True), d / stem, published=stem != "qvt_scores"))
    return out


# --------------------------------------------------------------------------- display (French)


def fr_p(p) -> str:
    """A p-value in French: ``< 0,001`` or three decimals."""
    if p is None or pd.isna(p):
        return "–"
    return "< 0,001" if p < 0.001 else fr_number(p, 3)


def format_dimensions(t: pd.DataFrame) -> pd.DataFrame:
    """French display of :func:`dimension_table` (suppressed values shown as « s »)."""
    rows = []
    for _, x in t.iterrows():
        s = "s" if x["suppressed"] else None
        ss = "s" if x["share_suppressed"] else None
        rows.append({
            "Dimension": x["label"],
            "Répondants": fr_number(x["n"]) if not pd.isna(x["n"]) else "s",
            "Score moyen (1 à 5)": s or fr_number(x["mean"], 2),
            "IC 95 %": s or fr_interval(x["ci_low"], x["ci_high"], decimals=2),
            "D'accord (score ≥ 4)": ss or f"{fr_percent(x['share_agree'])} ({fr_number(x['share_n'])})",
            "IC 95 % (part)": ss or fr_interval(x["share_ci_low"], x["share_ci_high"], "percent"),
            "Référence": fr_number(x["reference"], 2) if not pd.isna(x["reference"]) else "–",
        })
    return pd.DataFrame(rows)


def format_reliability(t: pd.DataFrame) -> pd.DataFrame:
    """French display of :func:`reliability_table`."""
    rows = []
    for _, x in t.iterrows():
        rows.append({
            "Échelle": x["label"], "Items": int(x["k"]),
            "Réponses complètes": fr_number(x["n_complete"]) if not pd.isna(x["n_complete"]) else "s",
            "α de Cronbach": fr_number(x["alpha"], 2),
            "IC 95 % (Feldt)": fr_interval(x["alpha_ci_low"], x["alpha_ci_high"], decimals=2),
            "ω de McDonald": fr_number(x["omega"], 2),
            "Remarque": x["reason"] or "",
        })
    return pd.DataFrame(rows)


def format_who5(t: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """French display of :func:`who5_table` (one line per statistic)."""
    spec = qs.load_spec(spec)
    x = t.iloc[0]
    s = bool(x["suppressed"])
    rows = [("Répondants", fr_number(x["n"]) if not pd.isna(x["n"]) else "s"),
            ("Score moyen (0 à 100)", "s" if s else
             f"{fr_number(x['mean'], 1)} {fr_interval(x['ci_low'], x['ci_high'], decimals=1)}")]
    for th in spec["who5"]["seuils"]:
        T = th["valeur"]
        share = x[f"share_le_{T}"]
        rows.append((th["label"], "s" if pd.isna(share) else
                     f"{fr_percent(share)} ({fr_number(x[f'n_le_{T}'])}) "
                     f"{fr_interval(x[f'share_le_{T}_ci_low'], x[f'share_le_{T}_ci_high'], 'percent')}"))
    rows.append(("Corrélation de Spearman avec l'ancienneté",
                 "–" if pd.isna(x["spearman_anciennete"]) else
                 f"ρ = {fr_number(x['spearman_anciennete'], 2)} (p = {fr_p(x['spearman_p'])})"))
    if not pd.isna(x["reference"]):
        rows.append(("Référence", f"{fr_number(x['reference'], 1)} — {x['reference_source']}"))
    return pd.DataFrame(rows, columns=["Indicateur", "Valeur"])


def _text_or(v, default: str) -> str:
    """``v`` when it is a non-empty string, else ``default`` (a missing
    value is NaN, which is truthy and would print as « nan »)."""
    return v if isinstance(v, str) and v else default


def format_comparisons(t: pd.DataFrame) -> pd.DataFrame:
    """French display of :func:`comparisons_table`."""
    rows = []
    for _, x in t.iterrows():
        rows.append({
            "Échelle": x["label"], "Facteur": x["factor_label"],
            "Groupes comparés": _text_or(x["groups"], "–"),
            "Groupes écartés (n < seuil)": _text_or(x["dropped"], "–"),
            "Test": _text_or(x["test"], "non réalisé"),
            "p": fr_p(x["p"]), "p ajusté": fr_p(x["p_adj"]),
            "Taille d'effet": "–" if pd.isna(x["effect_size"]) else f"{x['effect_name']} = {fr_number(x['effect_size'], 2)}",
        })
    return pd.DataFrame(rows)


def format_coefficients(t: pd.DataFrame, spec: dict | None = None, structure_effects: bool = True) -> pd.DataFrame:
    """French display of a model coefficient table (:mod:`analysis.qvt.models`).
    ``structure_effects=False`` leaves out the CAE fixed effects (one row per
    CAE and outcome: past ``structures_max_par_figure`` CAEs, the national
    table would be hundreds of rows of adjustment terms;
    :func:`structure_effects_note_fr` says so under the table)."""
    spec = qs.load_spec(spec)
    if not structure_effects:
        t = t[t["factor"] != "cae"]
    labs = group_labels(spec)
    fl = {f: fs["label"] for f, fs in spec["comparaisons"]["facteurs"].items()}
    fl.update({"cae": _prof().term("structure.colonne"), "const": "Constante", "seuil": "Seuil"})
    out_labels = outcomes(spec)
    item_labels = {c: s.get("label", c) for c, s in _codebook.columns("questionnaire").items()}
    rows = []
    for _, x in t.iterrows():
        f = x["factor"]
        lev = labs.get(f, {}).get(x["level"], x["level"])
        ref = labs.get(f, {}).get(x["reference"], x["reference"])
        term = fl.get(f, f) if not lev else f"{fl.get(f, f)} : {lev}" + (f" (réf. {ref})" if ref else "")
        rows.append({"Variable expliquée": out_labels.get(x["outcome"], item_labels.get(x["outcome"], x["outcome"])),
                     "Terme": term, "Coefficient": fr_number(x["coef"], 2),
                     "IC 95 %": fr_interval(x["ci_low"], x["ci_high"], decimals=2), "p": fr_p(x["p"]),
                     "n": fr_number(x["n"])})
    return pd.DataFrame(rows)


def structure_effects_note_fr(n_structures: int) -> str:
    """Said under the national model table when its CAE fixed effects are
    left out (:func:`format_coefficients`)."""
    t = _prof().term
    return (f"Les effets fixes des {fr_number(n_structures)} {t('structure.pluriel')} (un coefficient par "
            f"{t('structure.singulier')} et par score) ne sont pas détaillés : ils ajustent chaque comparaison sur "
            f"{t('structure.le')} du répondant.")


# --------------------------------------------------------------------------- figures


def _palette():
    import seaborn as sns

    return sns.color_palette("colorblind")


def plot_dimensions(result: QvtResult | pd.DataFrame, network_median: pd.Series | None = None, ax=None):
    """Dot chart of the dimension means with their 95 % intervals, against
    the network median when given; suppressed dimensions are not drawn
    (marked « effectif insuffisant »)."""
    import matplotlib.pyplot as plt

    t = result.dimensions if isinstance(result, QvtResult) else result
    if ax is None:
        _, ax = plt.subplots()
    pal = _palette()
    t = t.reset_index(drop=True)
    y = np.arange(len(t))[::-1]
    for yi, (_, x) in zip(y, t.iterrows()):
        if x["suppressed"] or pd.isna(x["mean"]):
            ax.text(1.05, yi, "effectif insuffisant", va="center", color="0.5", fontsize=8, style="italic")
            continue
        ax.errorbar(x["mean"], yi, xerr=[[x["mean"] - x["ci_low"]], [x["ci_high"] - x["mean"]]], fmt="o",
                    color=pal[0], ecolor=pal[0], capsize=3, label=f"Moyenne {_prof().term('structure.du')} (IC 95 %)"
                    if yi == y[0] or not ax.get_legend_handles_labels()[1] else None)
    if network_median is not None:
        med = t["dimension"].map(network_median)
        ok = med.notna().to_numpy()
        if ok.any():
            ax.scatter(med[ok], y[ok], marker="D", s=30, color=pal[1], zorder=3, label="Médiane du réseau")
    ax.set_yticks(y, t["label"])
    ax.set_xlim(1, 5)
    ax.set_xlabel("Score moyen (1 = très défavorable, 5 = très favorable)")
    from analysis.reporting.plotting import fr_axis

    fr_axis(ax, "x", decimals=1)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2,
                  fontsize=8, frameon=False)
    return ax


def plot_heatmap(national: QvtNational | pd.DataFrame, ax=None):
    """Heatmap of dimension means, one row per CAE and one column per
    dimension (rows leave a CAE's whole name readable: as columns, names
    overlapped from six CAEs on); suppressed cells are left grey and marked
    « s » (secret statistique)."""
    import textwrap

    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import FuncFormatter

    m = national.matrix if isinstance(national, QvtNational) else national
    col = "cae_label" if m is not None and "cae_label" in m.columns else "cae"
    rows = list(dict.fromkeys(m[col])) if m is not None and not m.empty else []
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.42 * max(len(rows), 3) + 1.6))
    if m is None or m.empty:
        ax.text(0.5, 0.5, "Aucune donnée", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    order = list(dict.fromkeys(m["label"]))
    mean = m.pivot(index=col, columns="label", values="mean").reindex(index=rows, columns=order)
    supp = m.pivot(index=col, columns="label", values="suppressed").reindex(index=rows, columns=order).astype(bool)
    annot = mean.map(lambda v: fr_number(v, 1)).where(~supp, "s")
    sns.heatmap(mean, mask=supp | mean.isna(), cmap="cividis", vmin=1, vmax=5, annot=annot, fmt="",
                cbar_kws={"label": "Score moyen (1 à 5)", "format": FuncFormatter(lambda v, _: fr_number(v, 1)),
                          "shrink": 0.8},
                ax=ax, linewidths=0.5, linecolor="white")
    for (i, j), hidden in np.ndenumerate(supp.to_numpy()):
        if hidden:
            ax.text(j + 0.5, i + 0.5, "s", ha="center", va="center", color="0.3", fontsize=9)
    ax.set_facecolor("0.85")
    ax.set_xlabel("")
    ax.set_ylabel("")
    # whole CAE names, wrapped (a cut name could be another CAE's); the caption titles the figure
    ax.set_yticks(np.arange(mean.shape[0]) + 0.5, [textwrap.fill(str(r), 34) for r in mean.index], rotation=0, fontsize=8)
    ax.xaxis.tick_top()  # the dimension names above the columns, read before the values, slanted not to overlap
    ax.set_xticks(np.arange(mean.shape[1]) + 0.5, [str(c) for c in mean.columns],
                  rotation=35, ha="left", rotation_mode="anchor", fontsize=8)
    return ax


def plot_dimension_spread(national: QvtNational, ax=None):
    """How the CAEs' published dimension means are spread, dimension by
    dimension, beside the network's mean: the heatmap of a network too large
    for one column per CAE (:func:`analysis.reporting.plotting.shows_each_structure`).
    Boxes, whiskers and dots as drawn by
    :func:`analysis.reporting.plotting.draw_spread`; suppressed means are
    left out. Returns the axes."""
    import textwrap

    import matplotlib.pyplot as plt

    from analysis.reporting.plotting import draw_spread, spread_legend

    m = national.matrix
    order = list(dict.fromkeys(m["label"])) if m is not None and len(m) else []
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.55 * max(1, len(order)) + 1.6))
    shown = m[~m["suppressed"].astype(bool) & m["mean"].notna()] if order else None
    if shown is None or shown.empty:
        ax.text(0.5, 0.5, "Aucune donnée publiable", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    values = {lab: shown.loc[shown["label"] == lab, "mean"].to_numpy(dtype="float64") for lab in order}
    d = national.dimensions
    d = d[~d["suppressed"].astype(bool)] if d is not None else d
    network = {} if d is None else {lab: (v, lo, hi) for lab, v, lo, hi in zip(d["label"], d["mean"], d["ci_low"], d["ci_high"])}
    handles = draw_spread(ax, order, values, network)
    ax.set_yticks(range(len(order)), [textwrap.fill(str(r), 28) for r in order], fontsize=8)
    ax.set_xlim(1, 5)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fr_number(v, 1)))
    ax.set_xlabel("Score moyen (1 à 5)")
    ax.set_ylabel("")
    spread_legend(ax, handles, len(order))
    return ax


def who5_histogram(result_or_scores, spec: dict | None = None) -> pd.DataFrame:
    """Published distribution of WHO-5 scores by class
    (``who5.classes_histogramme``, [low, high), last class closed): columns
    classe, low, high, n, denominator, share, suppressed.

    Passed through :func:`analysis.publication.suppression.publish` with the classes as
    one partition: classes with 1 to the count threshold − 1 people are hidden,
    and complementary classes too when the total would reveal them; nothing
    is published on fewer than the denominator threshold respondents.
    """
    from analysis.publication.suppression import publish

    spec = qs.load_spec(spec)
    v = _who5_values(result_or_scores)
    edges = np.asarray(spec["who5"]["classes_histogramme"], dtype=float)
    counts, _ = np.histogram(v, bins=edges)
    n = int(len(v))
    t = pd.DataFrame({
        "classe": [f"{fr_number(a)}–{fr_number(b)}" for a, b in zip(edges[:-1], edges[1:])],
        "low": edges[:-1], "high": edges[1:], "n": counts.astype(int), "denominator": n,
        "share": counts / n if n else np.nan, "partition": "who5",
    })
    out = publish(t, count_cols="n", denominator_col="denominator", value_cols=["share"], group_cols="partition",
                  complement=False)
    return out.drop(columns=["partition"])


def _who5_values(result_or_scores) -> pd.Series:
    if isinstance(result_or_scores, QvtResult | QvtNational):
        sc = result_or_scores.scores
        v = sc["who5"] if "who5" in sc.columns else pd.Series(dtype="float64")
    elif isinstance(result_or_scores, pd.DataFrame):
        v = result_or_scores["who5"]
    else:
        v = pd.Series(result_or_scores)
    return pd.Series(v, dtype="float64").dropna()


def plot_who5(result_or_scores, ax=None, spec: dict | None = None):
    """Distribution of WHO-5 scores (share of respondents per class, from
    :func:`who5_histogram`) with the thresholds marked; suppressed classes
    are not drawn (marked « s »), and nothing is drawn on fewer than
    the denominator threshold respondents."""
    import matplotlib.pyplot as plt

    spec = qs.load_spec(spec)
    n = len(_who5_values(result_or_scores))
    if ax is None:
        _, ax = plt.subplots()
    pal = _palette()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Score WHO-5 (0 à 100)")
    ax.set_ylabel("Part des répondants")
    if _gate.too_few(n):
        ax.text(0.5, 0.5, "Effectif insuffisant pour publier la distribution", ha="center", va="center",
                transform=ax.transAxes, color="0.4")
        return ax
    h = who5_histogram(result_or_scores, spec)
    shown = ~h["suppressed"].to_numpy(dtype=bool)
    ax.bar(h["low"][shown], h["share"][shown], width=(h["high"] - h["low"])[shown], align="edge", color=pal[0],
           edgecolor="white", label="Répondants")
    for _, x in h[~shown].iterrows():
        ax.text((x["low"] + x["high"]) / 2, 0.005, "s", ha="center", va="bottom", color="0.4", fontsize=9)
    for k, th in enumerate(spec["who5"]["seuils"]):
        ax.axvline(th["valeur"], color=pal[3 + k], linestyle="--", linewidth=1.5, label=th["label"])
    from analysis.reporting.plotting import fr_axis

    fr_axis(ax, "y", kind="percent", decimals=0)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def design_caveats_fr(result: QvtResult | QvtNational, spec: dict | None = None) -> str:
    """The French paragraph on what the design can and cannot say, with the
    number of respondents computed from the data and the reference sentence
    following ``qvt.yml`` (``references``)."""
    spec = qs.load_spec(spec)
    refs = set(spec["references"])
    no_ref = not (refs & set(qs.dimensions(spec)))
    n = len(result.scores)
    n_txt = f"{fr_number(n)} répondants" if not _gate.too_few(n) else "peu de répondants"
    return (f"Ces résultats reposent sur un questionnaire transversal ({n_txt}) rempli par {_prof().term('personne.les')} qui "
            "ont choisi d'y répondre : ils décrivent la situation déclarée à un moment donné, pas une évolution, "
            "et les répondants peuvent différer des non-répondants (auto-sélection). Les différences entre groupes "
            "sont des associations : elles ne permettent pas de conclure que le statut, l'ancienneté ou le genre "
            "en sont la cause."
            + (" Aucune référence publiée n'existe pour les dimensions de QVT de ce questionnaire, conçu pour "
               f"l'étude : les scores se lisent entre {_prof().term('structure.pluriel')} du réseau, pas par rapport à une norme."
               if no_ref else ""))


def method_text_fr(spec: dict | None = None) -> str:
    """French description of the scoring and testing rules, built from ``qvt.yml``."""
    spec = qs.load_spec(spec)
    r = _rules(spec)
    e = spec["echelle"]
    rev = [c for c in qs.all_items(spec) if c in set(_codebook.reverse_items())]
    part = fr_percent(float(spec["part_min_items"]), 0)
    seuils = " et ".join(f"{th['valeur']}" for th in spec["who5"]["seuils"])
    corr = {"holm": "de Holm", "fdr_bh": "de Benjamini-Hochberg"}.get(r["correction"], r["correction"])
    return (
        f"Chaque dimension réunit {len(qs.dimensions(spec)[next(iter(qs.dimensions(spec)))]['items'])} affirmations "
        f"notées de {e['min']} à {e['max']} ; les {len(rev)} affirmations formulées négativement sont inversées "
        f"({e['min'] + e['max']} − réponse) avant le calcul. Le score d'une personne est la moyenne des affirmations "
        f"auxquelles elle a répondu, s'il y en a au moins {part} ; une personne est « d'accord » quand son score "
        f"atteint {fr_number(e['seuil_accord'])}. Le score WHO-5 est la somme des {len(spec['who5']['items'])} "
        f"réponses ({spec['who5']['min']} à {spec['who5']['max']}) multipliée par {spec['who5']['multiplicateur']}, de 0 à 100 ; les seuils {seuils} signalent un bien-être faible et "
        "une dépression probable (Topp et al., 2015). La fiabilité (α de Cronbach et son intervalle de Feldt) n'est "
        f"publiée qu'à partir de {r['n_min_fiabilite']} réponses complètes. Les comparaisons de groupes "
        f"(tests de Kruskal-Wallis ou de Mann-Whitney) écartent les groupes de moins de {r['n_min_groupe']} "
        f"personnes et corrigent les p-valeurs par la méthode {corr} sur l'ensemble des échelles comparées "
        "pour un même facteur. Le r rang-bisériel est positif quand le premier groupe cité a tendance à avoir "
        "des scores plus élevés que le second."
    )


def summary_fr(result: QvtResult) -> str:
    """A French paragraph of the main results, built from the published tables."""
    if not result.available:
        return result.note_fr
    d = result.dimensions[~result.dimensions["suppressed"] & result.dimensions["mean"].notna()]
    parts = []
    if len(d) >= 2:
        hi = d.loc[d["mean"].idxmax()]
        lo = d.loc[d["mean"].idxmin()]
        parts.append(f"La dimension la mieux notée est « {hi['label']} » (score moyen {fr_number(hi['mean'], 2)} sur 5), "
                     f"la moins bien notée « {lo['label']} » ({fr_number(lo['mean'], 2)}).")
    elif d.empty:
        parts.append("Aucune dimension ne réunit assez de répondants pour être publiée.")
    w = result.who5.iloc[0] if len(result.who5) else None
    if w is not None and not w["suppressed"]:
        parts.append(f"Le score moyen de bien-être WHO-5 est de {fr_number(w['mean'], 1)} sur 100.")
        spec = qs.load_spec()
        for th in spec["who5"]["seuils"]:
            share = w.get(f"share_le_{th['valeur']}")
            if share is not None and not pd.isna(share):
                parts.append(f"{fr_percent(share)} des répondants ont un score inférieur ou égal à {th['valeur']} "
                             f"({th['label'].split(' (')[0].lower()}).")
    c = result.comparisons
    alpha = 1 - _rules()["level"]
    seuil = fr_percent(alpha, 0)
    sig = c[(~c["suppressed"]) & (c["p_adj"] < alpha)]
    if len(c) and (~c["suppressed"]).any():
        if sig.empty:
            parts.append("Après correction pour comparaisons multiples, aucune différence entre groupes n'est "
                         f"statistiquement significative au seuil de {seuil}.")
        else:
            lst = " ; ".join(f"{x['label']} selon {x['factor_label'].lower()}" for _, x in sig.iterrows())
            parts.append(f"Après correction pour comparaisons multiples, des différences significatives au seuil de "
                         f"{seuil} apparaissent pour : {lst}.")
    return " ".join(parts)


def format_item_total(t: pd.DataFrame, spec: dict | None = None) -> pd.DataFrame:
    """French display of :func:`item_total_table`."""
    labels = outcomes(spec)
    return pd.DataFrame({
        "Échelle": t["dimension"].map(labels).fillna(t["dimension"]).to_numpy(),
        "Affirmation": t["item_label"].fillna(t["item"]).to_numpy(),
        "Réponses complètes": [fr_number(v) if not pd.isna(v) else "s" for v in t["n_complete"]],
        "r corrigé": [fr_number(v, 2) for v in t["r_corrigee"]],
    })
