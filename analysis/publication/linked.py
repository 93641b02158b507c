"""Secondary (complementary) suppression over *linked* published tables.

A table that is safe on its own can give a small count away through another
published number (Hundepool et al., *Statistical Disclosure Control*, Wiley
2012, §4.2 "linked tables" and §5.2 "secondary cell suppression";
Eurostat/ESSnet *Handbook on SDC*, 2010, §4.4). The links this project
publishes, and the function that protects each:

* **a CAE row and the national row** — a national count that is the sum of
  the CAEs' counts is the total of a line whose entries are the CAEs'
  published cells: :func:`protect_national_lines`;
* **margins and a headcount** — a partition (categories of one variable)
  whose total is published elsewhere (the number of people supported):
  :func:`protect_partition_total`;
* **test sizes over the same respondents** — the n of two tests (or of a
  test and of the score's own table) on the same respondents differ by the
  people a test dropped: :func:`protect_same_respondents`;
* **rows adding up to a shown total** — a table with a total row:
  :func:`protect_total_row`;
* **values equal to count × published constants** (SROI value = quantity ×
  proxy × coefficients) — handled at the source by
  :func:`analysis.sroi.valuation.evaluate_published`, which values a small
  person count at zero in every published SROI figure, so that no published
  euro amount, ratio, sensitivity or simulation depends on it.

Every function here decides *which* cells are hidden with the one primary
rule, :func:`analysis.publication.suppression.is_small`, and the one line
rule, :func:`analysis.publication.suppression.line_needs_more` (a line with
a single hidden entry, or hidden entries summing to a small count, needs one
more hidden entry). Thresholds come only from ``methodology/publication.yml``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.publication import suppression as _s


def _hide_row(table: pd.DataFrame, i, count_cols: Sequence[str], value_cols: Sequence[str], reason: str) -> None:
    for c in count_cols:
        if c in table.columns:
            table.loc[i, c] = pd.NA
    for c in value_cols:
        if c in table.columns:
            table.loc[i, c] = np.nan if pd.api.types.is_float_dtype(table[c].dtype) else pd.NA
    if "suppressed" in table.columns:
        if not bool(table.loc[i, "suppressed"]):
            table.loc[i, "suppression"] = reason
        table.loc[i, "suppressed"] = True


def protect_national_lines(per_cae_raw: Sequence[pd.DataFrame], per_cae_published: Sequence[pd.DataFrame],
                           national_raw: pd.DataFrame, national_published: pd.DataFrame,
                           keys: Sequence[str], count_cols: Sequence[str] = ("n", "denominator"),
                           value_cols: Sequence[str] = (), seuil_effectif: int | None = None,
                           methodology_dir=None) -> pd.DataFrame:
    """National cells hidden where the national count minus the CAEs' shown
    counts would give a hidden CAE count back.

    For each key (e.g. family, indicator, breakdown) and count column, the
    line is: the CAEs' cells (entries) and the national cell (total). It is
    a line only when the national raw count equals the sum of the CAEs' raw
    counts (additive statistics: counts, shares' numerators and bases,
    people in an estimator). The CAE cells are already published (each CAE's
    report comes first), so the complementary cell is the national one:
    when :func:`~analysis.publication.suppression.line_needs_more` says the
    line is unsafe, the national row's counts and values are hidden
    (``suppression`` = "complementaire"). Hundepool et al. 2012 §5.2: when
    no interior cell can be chosen, the marginal is suppressed.
    """
    se, _ = _s._resolve(seuil_effectif, 0, methodology_dir)
    out = national_published.copy()
    keys = list(keys)

    def key_of(df) -> pd.Index:
        parts = [df[k].astype("string").fillna("") for k in keys]
        joined = parts[0]
        for p in parts[1:]:
            joined = joined + "\x1f" + p
        return pd.Index(joined.to_numpy(dtype=object))

    def numeric(df, c) -> pd.Series:
        return pd.to_numeric(df[c], errors="coerce").astype("float64")

    # One vectorised pass per CAE and count column (reindexing on the keys), then a loop over the
    # national rows on plain arrays: the former cell-by-cell lookups cost 3 s at 35 CAEs (2026-12-01).
    nat_keys = key_of(national_raw)
    pub_keys = key_of(out)
    tables = []  # per CAE: its raw table by key (first row of a key) and its published one
    for raw, pub in zip(per_cae_raw, per_cae_published):
        rk, pk = key_of(raw), key_of(pub)
        tables.append((raw.set_axis(rk)[~rk.duplicated()], pub.set_axis(pk)[~pk.duplicated()]))
    for c in count_cols:
        if c not in out.columns:
            continue
        totals = numeric(national_raw.set_axis(nat_keys), c)  # a key twice in the national table is no line:
        totals = totals[~nat_keys.duplicated(keep=False)].reindex(pub_keys).to_numpy()  # NaN, skipped below
        shown_nat = numeric(out, c).to_numpy()
        present, vals, hid = [], [], []
        for raw, pub in tables:
            if c not in raw.columns:
                present.append(np.zeros(len(pub_keys), bool))
                vals.append(np.zeros(len(pub_keys)))
                hid.append(np.zeros(len(pub_keys), bool))
                continue
            v = numeric(raw, c).reindex(pub_keys).to_numpy()
            shown = numeric(pub, c).reindex(pub_keys).to_numpy() if c in pub.columns else np.full(len(pub_keys), np.nan)
            present.append(pub_keys.isin(raw.index))
            vals.append(np.where(np.isnan(v), 0.0, v))
            hid.append(np.isnan(shown) & ~np.isnan(v) & (v != 0))
        present, vals, hid = (np.array(x).reshape(len(tables), len(pub_keys)) for x in (present, vals, hid))
        for pos in range(len(pub_keys)):
            if np.isnan(shown_nat[pos]) or np.isnan(totals[pos]):
                continue
            m = present[:, pos]
            if not m.any() or abs(vals[m, pos].sum() - float(totals[pos])) > 1e-9:
                continue  # not additive: no line
            if _s.line_needs_more(vals[m, pos], hid[m, pos], False, True, se):
                _hide_row(out, out.index[pos], count_cols, value_cols, "complementaire")
    return out


def protect_partition_total(published: pd.DataFrame, raw: pd.DataFrame, count_col: str, group_col: str,
                            total: int | float, value_cols: Sequence[str] = (), seuil_effectif: int | None = None,
                            methodology_dir=None) -> pd.DataFrame:
    """A partition (rows sharing one ``group_col`` value) whose counts sum to
    a ``total`` published elsewhere (e.g. the headcount of the CAE): while
    the line (the group's ``count_col`` cells, its total shown) is unsafe,
    the smallest shown non-zero cell is hidden too (Hundepool et al. 2012
    §5.2, the heuristic of :func:`~analysis.publication.suppression.publish`
    rule 4). ``raw`` is the same table before publication (same row order);
    only ``count_col`` and ``value_cols`` of the chosen rows are blanked."""
    se, _ = _s._resolve(seuil_effectif, 0, methodology_dir)
    out = published.copy().reset_index(drop=True)
    raw = raw.reset_index(drop=True)
    for _, idx in out.groupby(group_col, sort=False).groups.items():
        idx = list(idx)
        vals = pd.to_numeric(raw.loc[idx, count_col], errors="coerce").to_numpy(dtype=float)
        if abs(np.nansum(vals) - float(total)) > 1e-9:
            continue  # not a partition of that total: no line
        while True:
            shown = pd.to_numeric(out.loc[idx, count_col], errors="coerce").to_numpy(dtype=float)
            hid = np.isnan(shown) & ~np.isnan(vals) & (vals != 0)
            if not _s.line_needs_more(vals, hid, False, True, se):
                break
            j = _s.protect_line(vals, hid)
            if j is None:
                break
            _hide_row(out, idx[j], [count_col], value_cols, "complementaire")
    return out


def protect_same_respondents(tests: pd.DataFrame, reference_n: dict, by: str = "dimension", n_col: str = "n",
                             value_cols: Sequence[str] = (), text_cols: Sequence[str] = ("groups",),
                             seuil_effectif: int | None = None, methodology_dir=None) -> pd.DataFrame:
    """Tests run on the same respondents (one score, several factors): the
    difference between two published sizes is the number of people one test
    dropped (a missing or too-rare group). A line per ``by`` value holds the
    reference size (``reference_n[by]``, e.g. the score's n published in the
    dimensions table) and every shown test size; while two shown sizes differ
    by 1 to ``seuil_effectif`` − 1, the smaller test is hidden whole (its n,
    ``value_cols`` — the statistic, p-values and effect size, from which n
    can be solved back — and the group sizes in ``text_cols``). This is
    complementary suppression on the implicit line n_ref = n_test + dropped
    (Hundepool et al. 2012 §5.2)."""
    se, _ = _s._resolve(seuil_effectif, 0, methodology_dir)
    out = tests.copy()
    out[n_col] = pd.to_numeric(out[n_col], errors="coerce").astype("Float64").round().astype("Int64")
    for key, idx in out.groupby(by, sort=False).groups.items():
        idx = list(idx)
        while True:
            ref = reference_n.get(key)
            sizes = [(float(ref), None)] if ref is not None and not pd.isna(ref) else []
            for i in idx:  # every published size counts, also that of a test not run (one group left)
                v = out.loc[i, n_col]
                if not pd.isna(v):
                    sizes.append((float(v), i))
            bad = None
            for a in range(len(sizes)):
                for b in range(len(sizes)):
                    d = sizes[a][0] - sizes[b][0]
                    if a != b and bool(_s.is_small([d], se)[0]) and sizes[b][1] is not None:
                        bad = sizes[b][1]
                        break
                if bad is not None:
                    break
            if bad is None:
                break
            out.loc[bad, n_col] = pd.NA
            for c in value_cols:
                out.loc[bad, c] = np.nan
            for c in text_cols:
                out.loc[bad, c] = _s.hidden_fr("test")
            out.loc[bad, "suppressed"] = True
    return out


def protect_total_row(table: pd.DataFrame, count_cols: Sequence[str], total_row, seuil_effectif: int | None = None,
                      methodology_dir=None) -> pd.DataFrame:
    """A table whose ``total_row`` (index label) is the sum of the other
    rows, for each of ``count_cols``: primary suppression of small cells
    (:func:`~analysis.publication.suppression.is_small`), then, per column,
    complementary suppression while the column is unsafe (the smallest shown
    non-zero cell, else the total). Hidden cells become NA (Hundepool et al.
    2012 §5.2)."""
    se, _ = _s._resolve(seuil_effectif, 0, methodology_dir)
    out = table.copy()
    body = [i for i in out.index if i != total_row]
    for c in count_cols:
        vals = pd.to_numeric(out.loc[body, c], errors="coerce").to_numpy(dtype=float)
        hid = _s.is_small(vals, se)
        tot = float(pd.to_numeric(pd.Series([out.loc[total_row, c]]), errors="coerce").iloc[0])
        tot_hidden = bool(_s.is_small([tot], se)[0])
        while _s.line_needs_more(vals, hid, tot_hidden, True, se):
            j = _s.protect_line(vals, hid)
            if j is None:
                tot_hidden = True
                break
            hid[j] = True
        col = out[c].astype("Float64")
        col.loc[[b for b, h in zip(body, hid) if h]] = pd.NA
        if tot_hidden:
            col.loc[total_row] = pd.NA
        out[c] = col.round().astype("Int64")
    return out
