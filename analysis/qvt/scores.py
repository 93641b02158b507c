"""QVT scale scores and WHO-5 scores, respondent by respondent.

The scales, their items, the minimum share of items answered and the WHO-5
scoring rules come from ``methodology/qvt.yml``; which items are
reverse-worded comes from the codebook (single source,
:func:`analysis.intake.codebook.reverse_items`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.intake import codebook as _codebook
from analysis.method import loader as _methodology


def load_spec(spec: dict | None = None, methodology_dir=None) -> dict:
    """The QVT methodology (``qvt.yml``) unless one is given."""
    return spec if spec is not None else _methodology.load("qvt", methodology_dir)


def publication_rules(methodology_dir=None) -> dict:
    """Publication thresholds (``publication.yml``)."""
    return _methodology.load("publication", methodology_dir)


def dimensions(spec: dict | None = None) -> dict[str, dict]:
    """{dimension code: {"label", "items"}} in methodology order."""
    return dict(load_spec(spec)["dimensions"])


def all_items(spec: dict | None = None) -> list[str]:
    """Every QVT item, dimension by dimension."""
    return [i for d in dimensions(spec).values() for i in d["items"]]


def reverse_code(values, scale_min: int, scale_max: int) -> pd.Series:
    """Recode a reverse-worded item: x → (min + max) − x (6 − x on a 1–5 scale).

    Missing values stay missing. Values are returned as float64.
    """
    x = pd.to_numeric(pd.Series(values), errors="coerce").astype("float64")
    return (scale_min + scale_max) - x


def items_frame(questionnaire: pd.DataFrame, items: list[str], reverse: list[str] | None = None,
                scale_min: int = 1, scale_max: int = 5) -> pd.DataFrame:
    """The item columns as float64 (NA → NaN), reverse items recoded.

    Items missing from the questionnaire become all-NaN columns (an item the
    CAE did not ask is an item not answered).
    """
    rev = set(reverse if reverse is not None else _codebook.reverse_items())
    out = {}
    for item in items:
        if item in questionnaire.columns:
            col = pd.to_numeric(questionnaire[item], errors="coerce").astype("float64")
        else:
            col = pd.Series(np.nan, index=questionnaire.index, dtype="float64")
        out[item] = reverse_code(col, scale_min, scale_max) if item in rev else col
    return pd.DataFrame(out, index=questionnaire.index)


def prorated_mean(items: pd.DataFrame, min_share: float) -> pd.Series:
    """Prorated scale score: the mean of the answered items when the share of
    items answered is at least ``min_share`` (e.g. 0.5 = half), else NaN.

    score_i = (Σ_j x_ij) / m_i  if m_i / k ≥ min_share, with m_i the number of
    items answered by respondent i among the k items of the scale (person-mean
    imputation of missing items; Schafer & Graham 2002, "Missing data: our
    view of the state of the art", Psychol Methods 7:147–177).
    """
    k = items.shape[1]
    answered = items.notna().sum(axis=1)
    mean = items.mean(axis=1, skipna=True)
    ok = (answered > 0) & (answered / k >= min_share - 1e-12)
    return mean.where(ok).astype("float64")


def dimension_scores(questionnaire: pd.DataFrame, spec: dict | None = None,
                     reverse: list[str] | None = None) -> pd.DataFrame:
    """One column per QVT dimension: the prorated mean of its (recoded) items, 1–5."""
    spec = load_spec(spec)
    lo, hi = spec["echelle"]["min"], spec["echelle"]["max"]
    out = {}
    for dim, d in dimensions(spec).items():
        items = items_frame(questionnaire, d["items"], reverse, lo, hi)
        out[dim] = prorated_mean(items, float(spec["part_min_items"]))
    return pd.DataFrame(out, index=questionnaire.index)


def who5_score(questionnaire: pd.DataFrame, spec: dict | None = None) -> pd.Series:
    """WHO-5 percentage score, 0–100.

    score = (Σ of the five items, each 0–5) × 4 (WHO Regional Office for
    Europe 1998; Topp et al. 2015, Psychother Psychosom 84:167–176). When
    ``who5.part_min_items`` < 1, a respondent with some items missing but at
    least that share answered gets the prorated sum (mean × 5) × 4; by
    default all five items are required.
    """
    w = load_spec(spec)["who5"]
    items = items_frame(questionnaire, w["items"], reverse=[], scale_min=w["min"], scale_max=w["max"])
    mean = prorated_mean(items, float(w["part_min_items"]))
    return (mean * len(w["items"]) * float(w["multiplicateur"])).rename("who5")


def agrees(scores: pd.Series, threshold: float) -> pd.Series:
    """Boolean "agrees" (score ≥ threshold), NA where the score is missing."""
    s = pd.Series(scores, dtype="float64")
    return (s >= threshold - 1e-12).astype("boolean").mask(s.isna())


def seniority_years(entry: pd.Series, period_end) -> pd.Series:
    """Seniority in years from entry to the end of the period, counted in
    calendar years: completed anniversaries plus the elapsed fraction of the
    current year (so that someone who entered exactly two years before the
    period end has 2.0 years). NaN where the entry date is missing.

    years = f + (end − A_f) / (A_{f+1} − A_f), with A_f the f-th anniversary
    of entry and f the number of anniversaries reached by ``period_end``.
    """
    end = pd.Timestamp(period_end)
    dates = pd.to_datetime(pd.Series(entry))
    out = []
    for d in dates:
        if pd.isna(d):
            out.append(np.nan)
            continue
        full = end.year - d.year - ((end.month, end.day) < (d.month, d.day))
        a0 = d + pd.DateOffset(years=full)
        a1 = d + pd.DateOffset(years=full + 1)
        out.append(full + (end - a0).days / (a1 - a0).days)
    return pd.Series(out, index=dates.index, dtype="float64")


def seniority_band(years: pd.Series, spec: dict | None = None) -> pd.Series:
    """Band code of each seniority (``anciennete.bandes``: [min, max) in years);
    missing years give the ``non_relie`` code."""
    a = load_spec(spec)["anciennete"]
    y = pd.Series(years, dtype="float64")
    out = pd.Series(a["non_relie"]["code"], index=y.index, dtype="string")
    for band in a["bandes"]:
        lo = -math.inf if band.get("min") is None else float(band["min"])
        hi = math.inf if band.get("max") is None else float(band["max"])
        out[(y >= lo) & (y < hi)] = str(band["code"])
    # negative seniorities (entry after period end) are not a band
    out[y < 0] = str(a["non_relie"]["code"])
    return out


def seniority_labels(spec: dict | None = None) -> dict[str, str]:
    a = load_spec(spec)["anciennete"]
    labels = {str(b["code"]): b["label"] for b in a["bandes"]}
    labels[a["non_relie"]["code"]] = a["non_relie"]["label"]
    return labels


def link_groups(questionnaire: pd.DataFrame, entrepreneurs: pd.DataFrame, period_end,
                spec: dict | None = None) -> pd.DataFrame:
    """Grouping variables of each respondent, taken from the people table
    (``entrepreneurs`` for the default profile) by id.

    Returns columns id, relie (bool), every factor of ``comparaisons.facteurs``
    but ``anciennete`` (default: statut, genre), anciennete_annees,
    anciennete (band code). Respondents without an id, or whose id is not in
    the people table, are "non relié": factors missing, seniority
    band ``non_relie``.
    """
    spec = load_spec(spec)
    ids = questionnaire["id"] if "id" in questionnaire.columns else pd.Series(pd.NA, index=questionnaire.index)
    ids = ids.astype("string")
    ent = entrepreneurs.copy()
    ent["id"] = ent["id"].astype("string")
    ent = ent.drop_duplicates("id").set_index("id")
    found = ids.isin(ent.index) & ids.notna()
    out = pd.DataFrame({"id": ids, "relie": found.astype(bool)}, index=questionnaire.index)
    key = ids.where(found)
    factors = [f for f in ((spec.get("comparaisons") or {}).get("facteurs") or ["statut", "genre"]) if f != "anciennete"]
    for col in dict.fromkeys(["statut", "genre"] + factors):
        src = ent[col].astype("string") if col in ent.columns else pd.Series(pd.NA, index=ent.index, dtype="string")
        out[col] = key.map(src).astype("string")
    dates = dict(zip(ent.index, pd.to_datetime(ent["date_entree"]))) if "date_entree" in ent.columns else {}
    entry = pd.Series([pd.NaT if pd.isna(k) else dates.get(k, pd.NaT) for k in key], index=out.index,
                      dtype="datetime64[ns]")
    years = seniority_years(entry, period_end) if period_end is not None else \
        pd.Series(np.nan, index=out.index)
    out["anciennete_annees"] = years.astype("float64")
    out["anciennete"] = seniority_band(years, spec)
    return out


def score_respondents(questionnaire: pd.DataFrame, entrepreneurs: pd.DataFrame | None = None,
                     period_end=None, cae: str | None = None, spec: dict | None = None,
                     reverse: list[str] | None = None) -> pd.DataFrame:
    """Respondent-level table: cae, id (pseudonym), groups, the seven
    dimension scores (1–5) and the WHO-5 score (0–100).

    This is the table written as ``qvt_scores`` for national pooling; it
    carries pseudonymous ids only.
    """
    spec = load_spec(spec)
    q = questionnaire.reset_index(drop=True)
    ent = entrepreneurs if entrepreneurs is not None else pd.DataFrame(columns=["id"])
    groups = link_groups(q, ent, period_end, spec)
    out = pd.concat([groups, dimension_scores(q, spec, reverse), who5_score(q, spec)], axis=1)
    out.insert(0, "cae", pd.Series(cae, index=out.index, dtype="string"))
    return out
