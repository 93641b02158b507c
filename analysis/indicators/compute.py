"""The effects referential (``methodology/indicators.yml``) computed per CAE and nationally.

Each indicator of the YAML file is a declarative definition (a kind, a
source table, filters); this module turns it into one or more rows of a
tidy table with columns::

    cae, family, indicator, label, breakdown, value, n, denominator,
    ci_low, ci_high, unit, reference, reference_source, reference_year,
    reference_url, kind, source_table, partition, detail,
    value_weighted, ci_low_weighted, ci_high_weighted, n_eff, weighted_coverage,
    version, note, suppressed, suppression

``n`` is the number of people behind the value (the numerator of a share,
the number of values of a mean, the people in a Kaplan–Meier analysis);
``denominator`` is the base of a share (NA otherwise). Every table leaves
through :func:`analysis.publication.suppression.publish` (PROTOCOL §4).

Adding an indicator of an existing kind = a YAML entry; a new kind = one
function registered in :data:`KINDS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from analysis.method import loader as methodology
from analysis.method import profile as profiles
from analysis.stats import intervals as stats
from analysis.stats import survival
from analysis.intake.codebook import label_of, load_codebook
from analysis.publication.formatting import fr_euro, fr_interval, fr_number, fr_percent
from analysis.intake.processed import CaeData
from analysis.publication import linked
from analysis.publication.suppression import count_fr, for_figure, hidden_fr, mark_fr, publish, small, suppressed_note, too_few
from analysis.stats.weights import RakingError, rake, weighted_share

COLUMNS = ["cae", "family", "indicator", "label", "breakdown", "value", "n", "denominator", "ci_low", "ci_high",
           "unit", "reference", "reference_source", "reference_year", "reference_url", "kind", "source_table",
           "partition", "detail", "value_weighted", "ci_low_weighted", "ci_high_weighted", "n_eff", "weighted_coverage",
           "version", "note"]
SURVEY_TABLE = "questionnaire"


# ----------------------------------------------------------------- spec

def load_spec(methodology_dir=None) -> dict:
    """Parse ``indicators.yml``; adds ``_version`` and ``_sha256`` (recorded in outputs)."""
    spec = methodology.load("indicateurs", methodology_dir)
    spec["_version"] = str(spec["version"])
    spec["_sha256"] = methodology.sha256_file(methodology.path_of("indicateurs", methodology_dir))
    ids = [i["id"] for i in spec["indicators"]]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"indicators.yml : identifiants en double : {dup}")
    unknown = sorted({i["kind"] for i in spec["indicators"]} - set(KINDS))
    if unknown:
        raise ValueError(f"indicators.yml : type(s) d'indicateur inconnu(s) : {unknown} (connus : {sorted(KINDS)})")
    return spec


def _uses_survey(ind: dict) -> bool:
    return ind.get("table") == SURVEY_TABLE or SURVEY_TABLE in (ind.get("join") or [])


def survey_indicators(spec: dict | None = None) -> list[dict]:
    """The indicators that read the questionnaire."""
    spec = spec or load_spec()
    return [i for i in spec["indicators"] if _uses_survey(i)]


def absent_note(data: CaeData | list[CaeData], spec: dict | None = None) -> str:
    """French sentence explaining the survey indicators left out ('' when none).

    >>> # absent_note(data) -> profile phrases.structure_sans_questionnaire + " : …"
    """
    spec = spec or load_spec()
    datas = data if isinstance(data, list) else [data]
    missing = [d for d in datas if not d.has_survey]
    if not missing:
        return ""
    inds = survey_indicators(spec)
    fams = sorted({i["family"] for i in inds})
    fam_txt = ", ".join(f"{f} ({spec['families'][f]['label'].lower()})" for f in fams)
    prof = profiles.current()
    if isinstance(data, list):
        from analysis.publication.escape import markdown_text

        names = ", ".join(markdown_text(d.info.get("nom", d.slug)) for d in missing)
        return (f"Sans questionnaire pour {names}, les {len(inds)} indicateurs issus de l'enquête ({fam_txt}) "
                f"{prof.phrase('national_sans_questionnaire', noms=names)}.")
    from analysis.publication.escape import markdown_text

    nom = markdown_text(data.info.get("nom", data.slug))
    return (f"{prof.phrase('structure_sans_questionnaire', nom=nom)} : les {len(inds)} indicateurs issus de "
            f"l'enquête ne sont pas calculés (familles {fam_txt}).")


# ----------------------------------------------------------------- data preparation

def _period(info: dict) -> tuple[pd.Timestamp, pd.Timestamp]:
    p = info.get("periode", {}) or {}
    return pd.Timestamp(p["debut"]), pd.Timestamp(p["fin"])


def _seniority(ent: pd.DataFrame, spec: dict) -> pd.Series:
    cfg = spec["representativeness"]["anciennete"]
    end = ent["date_sortie"].where(ent["date_sortie"].notna() & (ent["date_sortie"] < ent["_fin"]), ent["_fin"])
    months = pd.Series(survival.months_between(ent["date_entree"], end), index=ent.index)
    bounds = list(cfg["bounds_months"]) + [np.inf]
    cut = pd.cut(months, bins=bounds, right=False, labels=cfg["labels"])
    return cut.astype("string")


def _derive_dates(ent: pd.DataFrame, act: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Add the derived event dates of ``spec['derived_dates']`` to ``ent``."""
    for name, d in spec["derived_dates"].items():
        src = act if d["from"] == "activite" else None
        if src is None:
            raise ValueError(f"derived_dates.{name} : table source inconnue {d.get('from')}")
        ycol = d["year_column"]
        m = src[["id", ycol]].copy()
        m["_ok"] = _mask(src, d["where"]) if d.get("where") else True
        m = m.merge(ent[["id", "date_entree"]], on="id", how="inner")
        m = m[m["_ok"] & (m[ycol].astype("float") >= m["date_entree"].dt.year)]
        first = m.groupby("id")[ycol].min()
        out = ent["id"].map(first)
        year = pd.to_numeric(out, errors="coerce")
        jan1 = pd.to_datetime(year.astype("Int64").astype("string") + "-01-01", errors="coerce")
        start = jan1.where(jan1 > ent["date_entree"], ent["date_entree"])
        if d["anchor"] == "debut":
            date = start
        else:
            next_jan1 = jan1 + pd.DateOffset(years=1)
            stop = next_jan1.where(next_jan1 < ent["_fin"] + pd.Timedelta(days=1), ent["_fin"] + pd.Timedelta(days=1))
            sortie = ent["date_sortie"] + pd.Timedelta(days=1)
            stop = stop.where(~(sortie < stop), sortie)
            stop = stop.where(stop > start, start)
            date = start + (stop - start) / 2
        ent[name] = date.where(year.notna())
        if d.get("years_after_entry_column"):
            # what annual data date exactly: the calendar year of the event, counted from the entry year (0 = same year)
            ent[d["years_after_entry_column"]] = (year - ent["date_entree"].dt.year).astype("Float64")
    return ent


def contract_months(act: pd.DataFrame, ent: pd.DataFrame, cfg: dict) -> pd.Series:
    """Months of each ``activite`` year (row) spent under the structure's
    employment contract, the months for which its pay exists.

    The contract starts at ``cfg['start_column']`` (default profile: the
    CESA date), or at ``date_entree`` for people whose ``statut`` is in
    ``cfg['paid_statuses']`` without that date (others have none: 0 months). It ends
    the day after ``date_sortie`` or at the end of the period. Months of year
    y = (min(1 Jan y+1, end) − max(1 Jan y, start)) in days / (365,25/12),
    clipped to [0, 12]; aligned on ``act.index``."""
    e = ent[["id", "date_entree", "date_sortie", "statut", "_fin"]].copy()
    col = cfg["start_column"]
    e["_contract"] = ent[col] if col in ent else pd.NaT
    paid = e["statut"].astype("string").isin([str(x) for x in cfg["paid_statuses"]]).fillna(False).to_numpy(dtype=bool)
    e["_start"] = e["_contract"].where(e["_contract"].notna(), e["date_entree"].where(paid))
    stop = e["_fin"] + pd.Timedelta(days=1)
    out = e["date_sortie"] + pd.Timedelta(days=1)
    e["_stop"] = stop.where(~(out < stop), out)
    m = act[["id", "annee"]].merge(e[["id", "_start", "_stop"]], on="id", how="left")
    y = pd.to_numeric(m["annee"], errors="coerce").astype("Int64").astype("string")
    jan1 = pd.to_datetime(y + "-01-01", errors="coerce")
    lo = jan1.where(~(m["_start"] > jan1), m["_start"])
    nxt = jan1 + pd.DateOffset(years=1)
    hi = nxt.where(~(m["_stop"] < nxt), m["_stop"])
    months = ((hi - lo).dt.total_seconds() / 86400 / survival.DAYS_PER_MONTH).clip(lower=0, upper=12)
    months = months.where(m["_start"].notna(), 0.0)  # no contract: no CAE pay
    return pd.Series(months.fillna(0.0).to_numpy(dtype=float), index=act.index)


def _prepare(data: CaeData, spec: dict, prefix_ids: bool = False) -> dict[str, pd.DataFrame]:
    """The tables of one structure with its period on every row (``_cae``, ``_debut``, ``_fin``),
    derived dates and seniority band; survey weights as ``_w`` when computable.
    Table names come from the study profile; ``activite_derniere`` (last year
    of each person) exists only for a per-person activity table
    (``tables.grain_activite: personne_annee``)."""
    prof = profiles.current()
    people = prof.people_table
    debut, fin = _period(data.info)
    tabs = {}
    for name in prof.table_order:
        df = data.table(name)
        if df is None:
            continue
        df = df.copy()
        if prefix_ids and "id" in df:
            df["id"] = (data.slug + ":" + df["id"].astype("string")).astype("string")
        df["_cae"] = data.slug
        df["_debut"], df["_fin"] = debut, fin
        tabs[name] = df
    ent = tabs[people]
    for c in prof.get("regles.dates_personnes") or []:
        if c in ent:
            ent[c] = pd.to_datetime(ent[c])
    ent = _derive_dates(ent, tabs["activite"], spec)
    if spec.get("representativeness"):
        ent["anciennete"] = _seniority(ent, spec)
    tabs[people] = ent
    act = tabs["activite"]
    if spec.get("contract_months"):
        act[spec["contract_months"]["column"]] = contract_months(act, ent, spec["contract_months"])
    if prof.activity_grain == "personne_annee":
        last = act.sort_values("annee").groupby("id", as_index=False).tail(1)
        tabs["activite_derniere"] = last
    if "questionnaire" in tabs and len(tabs["questionnaire"]):
        w, _ = survey_weights(data, spec)
        if w is not None:
            tabs["questionnaire"]["_w"] = w.to_numpy()
    return tabs


def _source(tabs: dict, ind: dict) -> pd.DataFrame:
    df = tabs[ind["table"]]
    for j in ind.get("join") or []:
        right = tabs[j].drop(columns=[c for c in ("_cae", "_debut", "_fin") if c in tabs[j]])
        right = right[[c for c in right.columns if c == "id" or c not in df.columns]]
        df = df.merge(right, on="id", how="left")
    return df.reset_index(drop=True)


def _resolve_value(v, df: pd.DataFrame):
    """Special values: ``$debut``/``$fin`` the period's dates, ``$annee_debut``/
    ``$annee_fin`` their calendar years (for the integer column ``annee``)."""
    if isinstance(v, str) and v.startswith("$"):
        if v in ("$annee_debut", "$annee_fin"):
            return pd.to_datetime(df["_debut" if v == "$annee_debut" else "_fin"]).dt.year.astype("Int64")
        col = {"$debut": "_debut", "$fin": "_fin"}.get(v)
        if col is None:
            raise ValueError(f"valeur spéciale inconnue : {v}")
        return df[col]
    return v


def _mask(df: pd.DataFrame, cond: dict | None) -> np.ndarray:
    """Evaluate a declarative condition (see the header of indicators.yml).
    Missing values satisfy no condition except ``isna``."""
    if cond is None:
        return np.ones(len(df), bool)
    if "all" in cond:
        return np.logical_and.reduce([_mask(df, c) for c in cond["all"]] + [np.ones(len(df), bool)])
    if "any" in cond:
        return np.logical_or.reduce([_mask(df, c) for c in cond["any"]] + [np.zeros(len(df), bool)])
    if "not" in cond:
        return ~_mask(df, cond["not"])
    col = cond["column"]
    if col not in df.columns:
        raise KeyError(f"colonne « {col} » absente de la table")
    s = df[col]
    present = s.notna().to_numpy()
    ops = [k for k in cond if k != "column"]
    if len(ops) != 1:
        raise ValueError(f"condition sur « {col} » : un seul opérateur attendu, reçu {ops}")
    op, v = ops[0], cond[ops[0]]
    if op == "notna":
        return present if v else ~present
    if op == "isna":
        return ~present if v else present
    if op in ("in", "not_in"):
        vals = list(v)
        if pd.api.types.is_numeric_dtype(s.dtype):
            hit = s.isin(vals)
        else:
            hit = s.astype("string").isin([str(x) for x in vals])
        hit = hit.fillna(False).to_numpy(dtype=bool)
        return (hit if op == "in" else ~hit) & present
    v = _resolve_value(v, df)
    cmp = {"eq": s.__eq__, "ne": s.__ne__, "gt": s.__gt__, "ge": s.__ge__, "lt": s.__lt__, "le": s.__le__}
    if op not in cmp:
        raise ValueError(f"opérateur inconnu « {op} »")
    res = cmp[op](v)
    return res.fillna(False).to_numpy(dtype=bool) & present


# ----------------------------------------------------------------- kinds

@dataclass
class Ctx:
    level: float
    seed: int
    pooled: bool  # national: cluster-adjusted intervals
    spec: dict


def _row(value=math.nan, n=0, denominator=math.nan, ci=(math.nan, math.nan), detail=None, **extra) -> dict:
    r = {"value": value, "n": n, "denominator": denominator, "ci_low": ci[0], "ci_high": ci[1], "detail": detail}
    r.update(extra)
    return r


def _share(df, ind, ctx) -> dict:
    den = _mask(df, ind.get("denominator"))
    num = den & _mask(df, ind["numerator"])
    n, d = int(num.sum()), int(den.sum())
    if ctx.pooled:
        g = df["_cae"].to_numpy()
        labs = pd.unique(g[den])
        p, lo, hi, deff = stats.clustered_share_interval([num[g == c].sum() for c in labs], [den[g == c].sum() for c in labs], ctx.level)
        row = _row(p, n, d, (lo, hi), deff=deff)
    else:
        p, lo, hi = stats.share_interval(n, d, ctx.level)
        row = _row(p, n, d, (lo, hi))
    if "_w" in df.columns:
        w = df["_w"].to_numpy(dtype=float)
        ok = den & ~np.isnan(w)
        if ok.sum() > 0:
            pw, lw, hw, neff = weighted_share(num[ok].astype(float), w[ok], ctx.level)
            # who the weighted share covers: respondents with a linked id (weights exist only for them)
            row.update(value_weighted=pw, ci_low_weighted=lw, ci_high_weighted=hw, n_eff=neff,
                       weighted_coverage=float(ok.sum()) / d if d else math.nan)
    return row


def _values(df, ind) -> tuple[np.ndarray, np.ndarray]:
    m = _mask(df, ind.get("filter"))
    x = pd.to_numeric(df[ind["column"]], errors="coerce").to_numpy(dtype=float)
    x = x * float(ind["scale"])
    return x[m], df["_cae"].to_numpy()[m]


def _mean(df, ind, ctx) -> dict:
    x, g = _values(df, ind)
    if ctx.pooled:
        mean, lo, hi, n, deff = stats.clustered_mean_interval(x, g, ctx.level)
        return _row(mean, n, ci=(lo, hi), deff=deff)
    mean, lo, hi, n = stats.mean_t_interval(x, ctx.level)
    return _row(mean, n, ci=(lo, hi))


def _median(df, ind, ctx) -> dict:
    x, _ = _values(df, ind)
    med, lo, hi, n = stats.median_order_interval(x, ctx.level)
    return _row(med, n, ci=(lo, hi))


def _km_data(df, ind) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    df = df[_mask(df, ind.get("filter"))]
    start = df[ind["start"]]
    ev = df[ind["event"]]
    censor = None
    for c in ind["censor"]:
        # "$fin" is the last day of the period, observed in full: censor at its end
        s = _resolve_value(c, df) + pd.Timedelta(days=1) if c == "$fin" else _resolve_value(c, df) if c.startswith("$") else df[c]
        censor = s if censor is None else censor.where(censor.notna() & (censor <= s.fillna(censor)), s)
    observed = ev.notna() & (ev <= censor)
    end = ev.where(observed, censor)
    t = survival.months_between(start, end)
    entry = survival.months_between(start, df["_debut"]) if ind.get("delayed_entry") else None
    return t, observed.to_numpy(dtype=float), entry


def _events_fr(sf) -> str:
    """Events among the people the estimator keeps (after left-truncated
    people are dropped, :func:`analysis.stats.survival.fit`), through the
    gate: neither the events nor the censored people may be a small count."""
    if sf is None:
        return "0 événement"
    e = int(np.asarray(sf.status).sum())
    n = int(len(sf.time))
    if small(e) or small(n - e):
        return hidden_fr("événements ou personnes censurées")
    return f"{count_fr(e)} événements"


def _km_median(df, ind, ctx) -> dict:
    t, e, entry = _km_data(df, ind)
    sf = survival.fit(t, e, entry)
    n = 0 if sf is None else int(len(sf.time))
    med, lo, hi = survival.median_time(sf, ctx.level)
    return _row(med, n, ci=(lo, hi), detail=_events_fr(sf))


def _km_survival(df, ind, ctx) -> dict:
    t, e, entry = _km_data(df, ind)
    sf = survival.fit(t, e, entry)
    n = 0 if sf is None else int(len(sf.time))
    s, lo, hi = survival.survival_at(sf, float(ind["at"]), ctx.level)
    if sf is not None and float(np.max(sf.time)) < float(ind["at"]):
        s, lo, hi = math.nan, math.nan, math.nan  # not observed that long
    return _row(s, n, ci=(lo, hi), detail=_events_fr(sf))


def _distinct(df, ind, ctx) -> dict:
    s = df.loc[_mask(df, ind.get("filter")), ind["column"]].dropna()
    s = s[s.astype("string").str.strip() != ""]
    return _row(float(s.nunique()), int(len(s)))


def _top_share(df, ind, ctx) -> dict:
    s = df.loc[_mask(df, ind.get("filter")), ind["column"]].dropna().astype("string").str.strip()
    s = s[s != ""]
    if s.empty:
        return _row(n=0, denominator=0)
    counts = s.value_counts()
    top, k = str(counts.index[0]), int(counts.iloc[0])
    p, lo, hi = stats.share_interval(k, len(s), ctx.level)
    return _row(p, k, len(s), (lo, hi), detail=top)


def _growth(df, ind, ctx) -> dict:
    tcol, col = ind["time_column"], ind["column"]
    df = df[_mask(df, ind.get("filter"))]
    first, last = [], []
    # the first and last years of each CAE's data (pooled: per CAE)
    for _, g in df.groupby("_cae"):
        y0, y1 = g[tcol].min(), g[tcol].max()
        if y0 == y1:
            continue
        a = g[g[tcol] == y0].set_index("id")[col]
        b = g[g[tcol] == y1].set_index("id")[col]
        both = a.index.intersection(b.index)
        first.append(a.loc[both])
        last.append(b.loc[both])
    if not first:
        return _row(detail="une seule année de données")
    a, b = pd.concat(first), pd.concat(last)
    mean, lo, hi, n = stats.paired_mean_diff_interval(a.to_numpy(float), b.to_numpy(float), ctx.level)
    rel = float(b.sum() / a.sum() - 1) if a.sum() > 0 else math.nan
    return _row(mean, n, ci=(lo, hi), detail=f"évolution relative {fr_percent(rel)}")


def _side(df, side: dict, spec: dict) -> np.ndarray:
    """column × parameter × scale / divide (/ divide_column: a per-row
    divisor such as the months under contract; NaN where it is not > 0)."""
    x = pd.to_numeric(df[side["column"]], errors="coerce").to_numpy(dtype=float)
    if "scale_parameter" in side:
        x = x * float(spec["parameters"][side["scale_parameter"]]["value"])
    x = x * float(side.get("scale", 1)) / float(side.get("divide", 1))
    if "divide_column" in side:
        dv = pd.to_numeric(df[side["divide_column"]], errors="coerce").to_numpy(dtype=float)
        x = np.where(dv > 0, x / np.where(dv > 0, dv, 1.0), np.nan)
    return x


def _paired(df, ind, ctx) -> dict:
    df = df[_mask(df, ind.get("filter"))]
    mean, lo, hi, n = stats.paired_mean_diff_interval(_side(df, ind["before"], ctx.spec), _side(df, ind["after"], ctx.spec), ctx.level)
    return _row(mean, n, ci=(lo, hi))


#: kind -> function(table, indicator spec, context) -> row dict
def _total(df, ind, ctx) -> dict:
    """Σ ``column`` over the rows kept by ``filter`` (missing counted as 0
    when at least one kept row has a value; all missing, or the column
    absent from the files, gives NaN). No interval, no denominator. With
    ``personnes: true`` the value is a count of people: ``n`` is the value
    itself, so that the publication rules treat it as a count (shown only if
    0 or at least the smallest publishable count, part of complementary suppression). Otherwise the
    value describes the place (hours, events, turnover): ``n`` is NA (no
    people behind it, no small-cell rule) and ``detail`` gives the rows summed."""
    col = ind["column"]
    keep = _mask(df, ind.get("filter"))
    if col not in df.columns:
        return _row(n=pd.NA, detail="colonne absente des fichiers")
    x = pd.to_numeric(df.loc[keep, col], errors="coerce")
    rows = int(keep.sum())
    value = float(x.fillna(0).sum()) if x.notna().any() else math.nan
    if ind.get("personnes"):
        return _row(value=value, n=pd.NA if math.isnan(value) else int(round(value)))
    return _row(value=value, n=pd.NA, detail=f"somme sur {rows} ligne{'s' if rows > 1 else ''}")


KINDS = {"share": _share, "mean": _mean, "median": _median, "km_median": _km_median,
         "km_survival": _km_survival, "distinct_count": _distinct, "top_share": _top_share,
         "growth": _growth, "paired_diff": _paired, "total": _total}


# ----------------------------------------------------------------- compute

def _by_levels(df: pd.DataFrame, by: dict) -> list:
    if by.get("levels") is not None:
        return list(by["levels"])
    return sorted(df[by["column"]].dropna().unique().tolist())


def _level_label(column: str, level) -> str:
    cb = load_codebook()
    for t in cb["tables"].values():
        spec = t["columns"].get(column)
        if spec and spec.get("codes"):
            return label_of(spec["codes"], level)
    return str(level)


def _compute_tables(tabs: dict, spec: dict, cae: str, pooled: bool, has_survey: bool) -> pd.DataFrame:
    pub = methodology.load("publication")
    ctx = Ctx(level=float(pub["niveau_confiance"]), seed=int(pub["graine"]), pooled=pooled, spec=spec)
    rows = []
    for ind in spec["indicators"]:
        if _uses_survey(ind) and not has_survey:
            continue
        df = _source(tabs, ind)
        fn = KINDS[ind["kind"]]
        ref = ind.get("reference") or {}
        base = {"cae": cae, "family": ind["family"], "indicator": ind["id"], "label": ind["label"],
                "unit": ind["unit"], "reference": ref.get("value", math.nan),
                "reference_source": ref.get("source"), "reference_year": ref.get("year"), "reference_url": ref.get("url"),
                "kind": ind["kind"], "source_table": "+".join([ind["table"]] + list(ind.get("join") or [])),
                "partition": ind.get("partition"), "version": spec["_version"], "note": ind.get("note")}
        if ind.get("by"):
            col = ind["by"]["column"]
            for lev in _by_levels(df, ind["by"]):
                sub = df[(df[col].astype("string") == str(lev)).fillna(False).to_numpy(dtype=bool)]
                rows.append({**base, "breakdown": _level_label(col, lev), **fn(sub, ind, ctx)})
        else:
            rows.append({**base, "breakdown": None, **fn(df, ind, ctx)})
    out = pd.DataFrame(rows)
    for c in COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    extra = [c for c in out.columns if c not in COLUMNS]
    out = out[COLUMNS + extra]
    for c in ("value", "ci_low", "ci_high", "reference", "value_weighted", "ci_low_weighted", "ci_high_weighted", "n_eff",
              "weighted_coverage", "denominator"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    for c in ("cae", "family", "indicator", "label", "breakdown", "unit", "reference_source", "reference_url", "kind",
              "source_table", "partition", "detail", "version", "note"):
        out[c] = out[c].astype("string")
    out["reference_year"] = pd.to_numeric(out["reference_year"], errors="coerce").astype("Int64")
    out["n"] = pd.to_numeric(out["n"], errors="coerce").astype("Int64")
    return out


VALUE_COLS = ["value", "ci_low", "ci_high", "value_weighted", "ci_low_weighted", "ci_high_weighted", "n_eff",
              "weighted_coverage", "detail", "deff"]


def _publish(table: pd.DataFrame) -> pd.DataFrame:
    return publish(table, count_cols="n", denominator_col="denominator",
                   value_cols=[c for c in VALUE_COLS if c in table.columns],
                   group_cols=["cae", "partition"], keep_cols=("reference",))


def compute(data: CaeData, spec: dict | None = None, suppress: bool = True) -> pd.DataFrame:
    """Every indicator of ``spec`` for one CAE, published (small cells hidden).

    Survey indicators are absent (no row) when the CAE has no questionnaire;
    :func:`absent_note` gives the French sentence saying so. ``suppress=False``
    returns the raw table (never publish it).
    """
    spec = spec or load_spec()
    tabs = _prepare(data, spec)
    out = _compute_tables(tabs, spec, data.slug, pooled=False, has_survey=data.has_survey)
    return _publish(out) if suppress else out


def compute_national(datas: list[CaeData], spec: dict | None = None, suppress: bool = True) -> pd.DataFrame:
    """Indicators pooled over the CAEs (cae = "national"), same columns.

    Every person counts once (ids prefixed by the CAE). Durations use each
    CAE's own period. Shares and means get a cluster-adjusted interval
    (:func:`analysis.stats.intervals.clustered_share_interval`,
    :func:`~analysis.stats.intervals.clustered_mean_interval`: design effect from the
    between-CAE variation, floored at 1, column ``deff``) and a Student
    quantile on G − 1 degrees of freedom (G = CAEs contributing); with seven
    CAEs this is still a heuristic widening. The population they describe is
    that of CAEs like the participating ones (``indicators.yml: national``). Kaplan–Meier, medians and weighted shares
    are pooled without a cluster adjustment. Survey indicators pool the CAEs
    that have a questionnaire. Use :func:`by_cae` to put each CAE's value
    beside the pooled one.
    """
    spec = spec or load_spec()
    if not datas:
        raise ValueError("compute_national : aucune structure")
    per = [_prepare(d, spec, prefix_ids=True) for d in datas]
    tabs = {}
    for name in list(dict.fromkeys(profiles.current().table_order + ["activite_derniere"])):
        parts = [t[name] for t in per if name in t and t[name] is not None and len(t[name])]
        if parts:
            tabs[name] = pd.concat(parts, ignore_index=True)
    has_survey = "questionnaire" in tabs
    out = _compute_tables(tabs, spec, "national", pooled=True, has_survey=has_survey)
    if not suppress:
        return out
    # the national row is the total of the CAEs' rows: secondary suppression
    # over the linked set (each CAE's published table and the national one)
    raws = [compute(d, spec, suppress=False) for d in datas]
    return linked.protect_national_lines(raws, [_publish(r) for r in raws], out, _publish(out),
                                         keys=["family", "indicator", "breakdown"], count_cols=["n", "denominator"],
                                         value_cols=[c for c in VALUE_COLS if c in out.columns])


def by_cae(per_cae: list[pd.DataFrame], national: pd.DataFrame | None = None, column: str = "value") -> pd.DataFrame:
    """Wide table: one row per (family, indicator, breakdown), one column per
    CAE (and "national"), holding ``column`` of published tables."""
    tabs = list(per_cae) + ([national] if national is not None else [])
    long = pd.concat(tabs, ignore_index=True)
    long["breakdown"] = long["breakdown"].fillna("")
    keys = ["family", "indicator", "label", "breakdown", "unit"]
    wide = long.set_index(keys + ["cae"])[column].unstack("cae")
    rows = long[keys].drop_duplicates()
    wide = wide.reindex(pd.MultiIndex.from_frame(rows))
    caes = list(dict.fromkeys(long["cae"]))
    order = [c for c in caes if c != "national"] + (["national"] if "national" in caes else [])
    return wide[order].reset_index()


# ----------------------------------------------------------------- survey representativeness and weights

def _attributes(data: CaeData, spec: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(population, linked respondents) with the representativeness variables as strings ('nr' when missing)."""
    rep = spec["representativeness"]
    debut, fin = _period(data.info)
    ent = data.personnes.copy()
    ent["_fin"] = fin
    for c in ("date_entree", "date_sortie"):
        ent[c] = pd.to_datetime(ent[c])
    ent["anciennete"] = _seniority(ent, spec)
    miss = rep["missing_label"]
    cols = list(rep["variables"])
    pop = ent[["id"] + cols].copy()
    for c in cols:
        pop[c] = pop[c].astype("string").fillna(miss)
    if not data.has_survey:
        return pop, pop.iloc[0:0]
    ids = data.questionnaire["id"].dropna().astype("string")
    resp = pop[pop["id"].astype("string").isin(set(ids))]
    return pop, resp


def representativeness(data: CaeData, spec: dict | None = None) -> pd.DataFrame:
    """Respondents (questionnaire rows whose id is in the people table) against
    the whole CAE population, per variable and category: counts, shares, and
    the standardised difference (Austin 2009); ``differs`` when |d| exceeds
    ``representativeness.std_diff_threshold``. Published (small cells hidden)."""
    spec = spec or load_spec()
    rep = spec["representativeness"]
    pop, resp = _attributes(data, spec)
    rows = []
    for var, vspec in rep["variables"].items():
        cats = sorted(set(pop[var]))
        for cat in cats:
            npop, nres = int((pop[var] == cat).sum()), int((resp[var] == cat).sum())
            sp = npop / len(pop) if len(pop) else math.nan
            sr = nres / len(resp) if len(resp) else math.nan
            d = stats.standardized_difference(sr, sp) if len(resp) else math.nan
            label = label_of(vspec["codes"], cat) if vspec.get("codes") else cat
            rows.append({"variable": var, "variable_label": vspec["label"], "category": cat, "category_label": label,
                         "n_resp": nres, "total_resp": len(resp), "share_resp": sr, "n_pop": npop, "share_pop": sp,
                         "std_diff": d})
    out = pd.DataFrame(rows)
    out["differs"] = out["std_diff"].abs() > float(rep["std_diff_threshold"])
    values = ["share_resp", "share_pop", "std_diff", "differs"]
    pub = publish(out, count_cols=["n_resp", "n_pop"], denominator_col="total_resp", group_cols="variable",
                  value_cols=values, complement=False)
    # the population margins add up to the headcount published in the report
    return linked.protect_partition_total(pub, out, "n_pop", "variable", len(pop), value_cols=values)


def representativeness_tests(data: CaeData, spec: dict | None = None) -> pd.DataFrame:
    """Chi-square goodness-of-fit of the respondents' distribution against the
    population's shares, per variable (Pearson 1900; scipy.stats.chisquare;
    the respondents are part of the population, so the test ignores the
    finite-population correction and is conservative). ``small_expected``
    flags expected counts under 5, where the approximation is poor."""
    spec = spec or load_spec()
    pop, resp = _attributes(data, spec)
    rows = []
    for var in spec["representativeness"]["variables"]:
        if len(resp) == 0:
            rows.append({"variable": var, "chi2": math.nan, "dof": 0, "p_value": math.nan, "n_resp": 0, "small_expected": False})
            continue
        share = pop[var].value_counts(normalize=True)
        obs = resp[var].value_counts().reindex(share.index, fill_value=0)
        exp = share * len(resp)
        if len(share) < 2:
            rows.append({"variable": var, "chi2": math.nan, "dof": 0, "p_value": math.nan, "n_resp": len(resp), "small_expected": False})
            continue
        chi2, p = _st.chisquare(obs.to_numpy(float), exp.to_numpy(float))
        rows.append({"variable": var, "chi2": float(chi2), "dof": len(share) - 1, "p_value": float(p), "n_resp": len(resp),
                     "small_expected": bool((exp < 5).any())})
    return pd.DataFrame(rows)


def representativeness_note(rep: pd.DataFrame, tests: pd.DataFrame) -> str:
    """French sentences: where respondents differ from the population."""
    if rep.empty or int(tests["n_resp"].max() or 0) == 0:
        return f"Aucun répondant n'est relié à {profiles.current().term('personne.fichier')} : la représentativité ne peut pas être évaluée."
    n = int(tests["n_resp"].max())
    diff = rep[rep["differs"].astype("boolean").fillna(False).astype(bool) & ~rep["suppressed"]]
    parts = [f"{r.variable_label.lower()} « {r.category_label} » ({fr_percent(r.share_resp)} des répondants contre "
             f"{fr_percent(r.share_pop)} de la population)" for r in diff.itertuples()]
    txt = f"{count_fr(n)} répondants sont reliés à {profiles.current().term('personne.fichier')}. "
    if parts:
        txt += "Ils diffèrent de la population (écart standardisé supérieur à 0,1) sur : " + " ; ".join(parts) + ". "
    else:
        txt += "Leur répartition est proche de celle de la population sur toutes les variables comparées. "
    sig = tests[tests["p_value"] < 0.05]
    if len(sig):
        txt += "Le test du khi-deux signale une différence significative pour : " + ", ".join(sig["variable"]) + "."
    else:
        txt += "Aucun test du khi-deux n'est significatif au seuil de 5 %."
    return txt.strip()


def survey_weights(data: CaeData, spec: dict | None = None) -> tuple[pd.Series | None, str]:
    """Raking weights for the survey respondents linked to the people table
    (:func:`analysis.stats.weights.rake` on the representativeness variables, to
    the population's margins). Returns (weights aligned on the questionnaire
    rows, NaN for respondents without id; French note). Categories without
    respondents are dropped from the targets (the others rescaled) and a
    variable with a single category is left out; no weights (None) under
    the denominator threshold linked respondents."""
    spec = spec or load_spec()
    if not data.has_survey:
        return None, "Pas de questionnaire."
    pop, resp = _attributes(data, spec)
    if too_few(len(resp)):
        return None, f"Trop peu de répondants reliés à {profiles.current().term('personne.fichier')} ({count_fr(len(resp))}) pour calculer des poids."
    targets, notes = {}, []
    for var in spec["representativeness"]["variables"]:
        tgt = pop[var].value_counts()
        present = set(resp[var])
        dropped = [c for c in tgt.index if c not in present]
        if dropped:
            notes.append(f"{var} : catégorie(s) sans répondant ignorée(s) ({', '.join(map(str, dropped))})")
        tgt = tgt[[c for c in tgt.index if c in present]]
        if len(tgt) >= 2:
            targets[var] = tgt.to_dict()
    if not targets:
        return None, "Aucune variable ne permet de redresser l'échantillon."
    try:
        w = rake(resp, targets)
    except (RakingError, ValueError) as exc:
        return None, (f"Le calage n'a pas abouti sur {count_fr(len(resp))} répondants reliés ({exc}) : "
                      "les parts sont présentées sans pondération.")
    by_id = pd.Series(w.to_numpy(), index=resp["id"].astype("string").to_numpy())
    qid = data.questionnaire["id"].astype("string")
    out = pd.Series(qid.map(by_id).astype("float64").to_numpy(), index=data.questionnaire.index)
    labels = spec["representativeness"]["variables"]
    note = (f"Poids de calage (raking) sur {', '.join(labels[v].get('label', v).lower() for v in targets)} "
            f"pour {count_fr(len(resp))} répondants reliés.")
    if notes:
        note += " " + " ; ".join(notes) + "."
    return out, note


# ----------------------------------------------------------------- display

UNIT_FORMAT = {
    "part": lambda v: fr_percent(v),
    "euros": lambda v: fr_euro(v),
    "euros_mois": lambda v: fr_euro(v),
    "mois": lambda v: f"{fr_number(v, 1)}\u00a0mois" if not pd.isna(v) else "–",
    "nombre": lambda v: fr_number(v, 0),
    "heures": lambda v: f"{fr_number(v, 0)}\u00a0h" if not pd.isna(v) else "–",
}
SECRET = "masqué"  # short mark of a hidden cell; the value column says why (suppression.mark_fr)


def fmt_value(v, unit: str) -> str:
    return UNIT_FORMAT.get(unit, lambda x: fr_number(x, 1))(v)


def fmt_interval(low, high, unit: str) -> str:
    kind = {"part": "percent", "euros": "euro", "euros_mois": "euro"}.get(unit, "number")
    return fr_interval(low, high, kind=kind, decimals=1 if kind != "euro" else 0)


def to_display(table: pd.DataFrame, weighted: bool = False) -> pd.DataFrame:
    """French table for notebooks and reports: formatted values (``12,5 %``,
    ``1 234 €``), interval, counts, reference; a hidden value says why in
    plain French (:func:`analysis.publication.suppression.mark_fr`)."""
    rows = []
    for r in table.itertuples(index=False):
        hidden = bool(getattr(r, "suppressed", False))
        label = r.label + (f" — {r.breakdown}" if isinstance(r.breakdown, str) and r.breakdown else "")
        d = {
            "Indicateur": label,
            "Valeur": mark_fr(getattr(r, "suppression", None)) if hidden else fmt_value(r.value, r.unit),
            "IC 95 %": SECRET if hidden else fmt_interval(r.ci_low, r.ci_high, r.unit),
            "Effectif": SECRET if pd.isna(r.n) else fr_number(r.n),
            "Base": "–" if pd.isna(r.denominator) else fr_number(r.denominator),
            "Référence": "–" if pd.isna(r.reference) else fmt_value(r.reference, r.unit),
            "Source de la référence": r.reference_source if isinstance(r.reference_source, str) else "",
        }
        if weighted:
            d["Valeur pondérée"] = SECRET if hidden else fmt_value(r.value_weighted, r.unit)
            d["IC 95 % pondéré"] = SECRET if hidden else fmt_interval(r.ci_low_weighted, r.ci_high_weighted, r.unit)
        if "cae" in table.columns and table["cae"].nunique() > 1:
            d = {profiles.current().term("structure.colonne"): r.cae, **d}
        rows.append(d)
    return pd.DataFrame(rows)


def representativeness_display(rep: pd.DataFrame) -> pd.DataFrame:
    """French version of :func:`representativeness` (hidden cells marked « masqué »)."""
    def cnt(v):
        return SECRET if pd.isna(v) else fr_number(v)

    rows = []
    for r in rep.itertuples(index=False):
        hidden = bool(r.suppressed)
        rows.append({
            "Variable": r.variable_label, "Catégorie": r.category_label,
            "Répondants": cnt(r.n_resp), "Part des répondants": SECRET if hidden else fr_percent(r.share_resp),
            "Population": cnt(r.n_pop), "Part de la population": SECRET if hidden else fr_percent(r.share_pop),
            "Écart standardisé": SECRET if hidden else fr_number(r.std_diff, 2),
            "Écart notable": SECRET if hidden or pd.isna(r.differs) else ("oui" if r.differs else "non"),
        })
    return pd.DataFrame(rows)


def narrative(table: pd.DataFrame, family: str, spec: dict | None = None, data: CaeData | None = None) -> str:
    """French sentences quoting the family's published values (hidden ones are
    said to be hidden, never quoted). With ``data`` and no survey, a sentence
    says which of the family's indicators need the questionnaire."""
    spec = spec or load_spec()
    sub = table[table["family"] == family]
    fam = spec["families"].get(family, {}).get("label", family)
    missing = ""
    if data is not None and not data.has_survey:
        k = sum(1 for i in survey_indicators(spec) if i["family"] == family)
        if k:
            missing = (f"{k} indicateur{'s' if k > 1 else ''} de cette famille repose{'nt' if k > 1 else ''} sur le "
                       f"questionnaire, que {profiles.current().term('structure.le')} n'a pas transmis : {'ils ne sont' if k > 1 else 'il n’est'} pas calculé{'s' if k > 1 else ''}.")
    if sub.empty:
        note = spec["families"].get(family, {}).get("note", "")
        return " ".join(x for x in [f"Aucun indicateur n'est disponible pour la famille « {fam} ».", note, missing] if x)
    sentences = []
    for r in sub.itertuples(index=False):
        label = r.label + (f" ({r.breakdown})" if isinstance(r.breakdown, str) and r.breakdown else "")
        if r.suppressed or pd.isna(r.value):
            why = "masqué (secret statistique)" if r.suppressed else "non calculable"
            sentences.append(f"{label} : {why}.")
            continue
        s = f"{label} : {fmt_value(r.value, r.unit)}"
        if not pd.isna(r.ci_low):
            s += f" (IC 95 % {fmt_interval(r.ci_low, r.ci_high, r.unit)}"
            s += f", {fr_number(r.n)} sur {fr_number(r.denominator)})" if not pd.isna(r.denominator) else f", {fr_number(r.n)} personnes)"
        if not pd.isna(r.reference):
            pos = "au-dessus de" if r.ci_low > r.reference else "en dessous de" if r.ci_high < r.reference else "comparable à"
            if pd.isna(r.ci_low):
                pos = "à comparer à"
            s += f", {pos} la référence nationale de {fmt_value(r.reference, r.unit)}"
        sentences.append(s + ".")
    note = suppressed_note(sub)
    return " ".join(sentences + [x for x in (note, missing) if x])


def plot_family(table: pd.DataFrame, family: str, ax=None, unit: str | None = None, spec: dict | None = None):
    """Point + 95 % interval per indicator, beside its national reference
    (a vertical tick), for one family and one unit (default: the family's
    most common unit). Colour-blind palette, French labels; suppressed points
    are omitted (:func:`analysis.publication.suppression.for_figure`). Returns the axes,
    or None when there is nothing publishable to draw."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    spec = spec or load_spec()
    sub, unit = _family_rows(table, family, unit)
    if sub is None:
        return None
    pal = sns.color_palette("colorblind")
    caes = list(dict.fromkeys(sub["cae"]))
    labels = list(dict.fromkeys(sub["y"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(labels) * max(1, len(caes) ** 0.5) + 1.2))
    step = 0.7 / max(1, len(caes))
    for k, cae in enumerate(caes):
        d = sub[sub["cae"] == cae]
        ypos = np.array([labels.index(v) for v in d["y"]]) + (k - (len(caes) - 1) / 2) * step
        err = np.vstack([d["value"] - d["ci_low"], d["ci_high"] - d["value"]]).astype(float)
        err = np.clip(np.where(np.isnan(err), 0, err), 0, None)
        ax.errorbar(d["value"], ypos, xerr=err, fmt="o", color=pal[k % len(pal)], capsize=3,
                    label=("Ensemble" if cae == "national" else cae) if len(caes) > 1 else "Valeur (IC 95 %)")
    _reference_ticks(ax, sub, labels, pal[3])
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([_wrap(v) for v in labels])
    ax.invert_yaxis()
    _unit_axis(ax, unit)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(4, len(caes) + 1), fontsize=8, frameon=False)
    return ax


def _family_rows(table: pd.DataFrame, family: str, unit: str | None = None) -> tuple[pd.DataFrame | None, str | None]:
    """The publishable rows of one family and one unit (default: the
    family's most common unit) with their axis label in ``y``; (None, None)
    when nothing is publishable."""
    sub = table[table["family"] == family]
    if sub.empty:
        return None, None
    unit = unit or sub["unit"].mode().iloc[0]
    sub = for_figure(sub[sub["unit"] == unit]).copy()
    if sub.empty:
        return None, None
    sub["y"] = [lab + (f" — {b}" if isinstance(b, str) and b else "") for lab, b in zip(sub["label"], sub["breakdown"])]
    return sub, unit


def _reference_ticks(ax, sub: pd.DataFrame, labels: list[str], color):
    """The national reference of each indicator row (``y``) that has one, as
    a vertical tick; returns its line (for a legend) or None."""
    refs = sub.drop_duplicates("y")
    has_ref = refs["reference"].notna()
    if not has_ref.any():
        return None
    yr = np.array([labels.index(v) for v in refs.loc[has_ref, "y"]])
    (line,) = ax.plot(refs.loc[has_ref, "reference"], yr, linestyle="none", marker="|", markersize=16,
                      markeredgewidth=2.5, color=color, label="Référence nationale", zorder=3)
    return line


def _unit_axis(ax, unit: str) -> None:
    """The value axis of an indicator figure: French format and label of ``unit``."""
    from analysis.reporting.plotting import fr_axis

    fr_axis(ax, axis="x", kind={"part": "percent", "euros": "euro", "euros_mois": "euro"}.get(unit, "number"))
    if unit == "part":
        ax.set_xlim(0, 1)
    ax.set_xlabel({"part": "Part", "mois": "Mois", "euros": "Euros", "euros_mois": "Euros par mois", "heures": "Heures"}.get(unit, "Valeur"))
    ax.set_ylabel("")  # the figure's caption names the family (one caption per figure)


def spread_by_indicator(per_cae: pd.DataFrame) -> pd.DataFrame:
    """For each indicator (family, indicator, label, breakdown, unit) of the
    per-CAE tables ``per_cae`` (concatenated, one ``cae`` each), the five
    numbers of its published values across CAEs
    (:func:`analysis.stats.spread.five_numbers`; ``n`` is the number of CAEs
    with a published value). Hidden and unmeasured values are left out, so
    every number here is a function of published values only."""
    from analysis.stats.spread import spread_table

    keys = ["family", "indicator", "label", "breakdown", "unit"]
    long = per_cae.copy()
    long["breakdown"] = long["breakdown"].fillna("")
    return spread_table(for_figure(long), keys)


def plot_family_spread(per_cae: pd.DataFrame, national: pd.DataFrame, family: str, ax=None, unit: str | None = None):
    """How the CAEs' published values of one family are spread, indicator
    by indicator, beside the network's value and the national reference:
    the figure of a network too large for one point per CAE
    (:func:`analysis.reporting.plotting.shows_each_structure`). Boxes,
    whiskers and dots as drawn by :func:`analysis.reporting.plotting.draw_spread`
    (the numbers of :func:`spread_by_indicator`); the network as a diamond
    with its 95 % interval. Returns the axes, or None when nothing is
    publishable."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from analysis.reporting.plotting import PALETTE, draw_spread, spread_legend

    sub, unit = _family_rows(per_cae, family, unit)
    if sub is None:
        return None
    labels = list(dict.fromkeys(sub["y"]))
    nat, _ = _family_rows(national, family, unit)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.6 * len(labels) + 1.6))
    values = {y: sub.loc[sub["y"] == y, "value"].to_numpy(dtype="float64") for y in labels}
    network = {} if nat is None else {y: (v, lo, hi) for y, v, lo, hi in zip(nat["y"], nat["value"], nat["ci_low"], nat["ci_high"])}
    handles = draw_spread(ax, labels, values, network)
    ref = _reference_ticks(ax, sub, labels, sns.color_palette(PALETTE)[3])
    if ref is not None:
        handles.append(ref)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels([_wrap(v) for v in labels])
    _unit_axis(ax, unit)
    spread_legend(ax, handles, len(labels))
    return ax


def _wrap(text: str, width: int = 45) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text
