"""Small-cell suppression: the single gate every published table and figure goes through.

PROTOCOL §4 and ``methodology/publication.yml``: no published count under
``seuil_effectif`` (default 5), no mean or percentage computed on fewer than
``seuil_denominateur`` (default 10) people, and other cells suppressed too
where a total would give a small one away.

Two shapes of table are handled:

* a **tidy table** (one row per statistic) with one or more count columns
  (default ``n``), an optional denominator column (default ``denominator``)
  and value columns (means, shares, interval bounds...) — see :func:`publish`;
* a **2-D crosstab** of counts (rows × columns, optionally with margins) —
  see :func:`publish_crosstab`.

The rules (the exact ones, applied in this order) are documented in
:func:`publish` and :func:`crosstab_mask`. The approach is the classical
cell-suppression heuristic of statistical disclosure control: primary
suppression of small cells, then secondary (complementary) suppression so
that no line of a table that sums to a shown total has a single hidden
entry (Hundepool et al., *Statistical Disclosure Control*, Wiley 2012,
§5.2 and §5.7; Eurostat/ESSnet *Handbook on SDC*, 2010). It is a
heuristic, not the optimal (minimum-loss) pattern.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Reason codes written in the ``suppression`` column (French labels below).
REASONS = {
    "effectif": "effectif inférieur au seuil",
    "denominateur": "calculé sur trop peu de personnes",
    "complementaire": "suppression complémentaire (un total ou un autre tableau publié révélerait une petite case)",
}


def thresholds(methodology_dir=None) -> tuple[int, int]:
    """(seuil_effectif, seuil_denominateur) from ``methodology/publication.yml``."""
    from analysis.method.loader import load

    pub = load("publication", methodology_dir)
    return int(pub["seuil_effectif"]), int(pub["seuil_denominateur"])


def _resolve(seuil_effectif, seuil_denominateur, methodology_dir) -> tuple[int, int]:
    if seuil_effectif is None or seuil_denominateur is None:
        se, sd = thresholds(methodology_dir)
        seuil_effectif = se if seuil_effectif is None else seuil_effectif
        seuil_denominateur = sd if seuil_denominateur is None else seuil_denominateur
    return int(seuil_effectif), int(seuil_denominateur)


def is_small(count, seuil_effectif: int | None = None) -> np.ndarray:
    """Primary rule, the only implementation of the small-cell rule in the
    project (threshold rule, Hundepool et al. 2012 §4.2.1): a count c with
    0 < c < seuil_effectif may not be published (0 is shown). A survey-scaled
    person count ("30,5 personnes") is a count too and is judged on its
    rounded value. ``seuil_effectif`` defaults to ``publication.yml``."""
    if seuil_effectif is None:
        seuil_effectif = thresholds()[0]
    c = pd.to_numeric(pd.Series(count, dtype="object"), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        r = np.round(c)
        return ((c > 0) & (r < seuil_effectif)) & ~np.isnan(c)


def too_few(n, seuil_denominateur: int | None = None) -> bool:
    """Denominator rule: a mean or a percentage computed on fewer than
    ``seuil_denominateur`` people (``publication.yml``) may not be published."""
    if seuil_denominateur is None:
        seuil_denominateur = thresholds()[1]
    return n is None or pd.isna(n) or float(n) < seuil_denominateur


def small(count, seuil_effectif: int | None = None) -> bool:
    """:func:`is_small` of one count (NA and None are not small)."""
    if count is None or pd.isna(count):
        return False
    return bool(is_small([count], seuil_effectif)[0])


def mask_count(count, seuil_effectif: int | None = None):
    """The count, or NA when :func:`small`."""
    return pd.NA if small(count, seuil_effectif) else count


def hidden_fr(what: str = "personnes", methodology_dir=None) -> str:
    """The plain-French mark of a hidden cell, with the threshold of
    ``publication.yml``: "masqué : moins de 5 personnes". ``what`` = the unit
    of the hidden count; "test" gives the wording of a hidden test size."""
    se = thresholds(methodology_dir)[0]
    if what == "test":
        return f"masqué : le test laisse de côté moins de {se} personnes"
    return f"masqué : moins de {se} {what}"


def mark_fr(reason: str | None = None, methodology_dir=None, unit: str = "personnes") -> str:
    """Plain French for a hidden cell, by the rule that hid it (the
    ``suppression`` column of :func:`publish`), thresholds from
    ``publication.yml``: never a bare "s", never a false "< 5". ``unit``:
    what the hidden count counts (people, or values of a column)."""
    se, sd = thresholds(methodology_dir)
    return {
        "effectif": f"masqué : moins de {se} {unit}",
        "denominateur": f"masqué : calculé sur moins de {sd} {unit}",
        "complementaire": "masqué : un autre chiffre publié permettrait de retrouver une case de moins de "
                          f"{se} {unit}",
    }.get(reason or "", "masqué (secret statistique)")


def hidden_shares_note_fr(k: int, methodology_dir=None) -> str:
    """The French sentence saying that the missing-value shares of ``k``
    columns are not published ('' when k is 0): a share times the table's
    published row count would give back a count under the threshold
    (:func:`publish` on missing count, rows and given values)."""
    from analysis.publication.formatting import fr_number

    if not k:
        return ""
    se, sd = thresholds(methodology_dir)
    cols = "colonne" if k == 1 else "colonnes"
    return (f"La part de valeurs manquantes de {fr_number(k)} {cols} n'est pas publiée (secret statistique) : "
            f"moins de {se} valeurs y manquent, ou moins de {se} y sont renseignées, ou la table compte moins de "
            f"{sd} lignes ; multipliée par le nombre de lignes publié, elle redonnerait un effectif de moins de {se}.")


def count_fr(n, unit: str = "", methodology_dir=None) -> str:
    """A count for a French sentence: the number (French format) when it may
    be published, else "moins de <seuil>" — true for every hidden count
    (1 to seuil − 1), never written for a count of seuil or more."""
    from analysis.publication.formatting import fr_number

    se = thresholds(methodology_dir)[0]
    txt = f"moins de {se}" if small(n, se) else fr_number(n)
    return f"{txt} {unit}".strip()


def line_needs_more(values: np.ndarray, hidden: np.ndarray, total_hidden: bool, has_total: bool, seuil: int) -> bool:
    """A line (entries summing to a published total) is unsafe when the total
    lets hidden entries be recovered: exactly one hidden entry (the total
    counts as an entry), or several hidden interior entries whose sum
    (= total - shown entries) is itself a small count, or k hidden entries
    that are all small and sum to k × (seuil − 1) (a reader who knows each
    hidden cell lies in 1..seuil − 1 then knows every one: the protection
    interval of Hundepool et al. 2012 §4.2.2 is empty). A line without a
    total discloses nothing by difference."""
    if not has_total:
        return False
    n_hidden = int(hidden.sum()) + int(total_hidden)
    if n_hidden == 0:
        return False
    if n_hidden == 1:
        return True
    if not total_hidden:
        v = values[hidden]
        s = float(np.nansum(v))
        if 1 <= s < seuil:
            return True
        all_small = bool(np.all((v > 0) & (np.round(v) < seuil)))
        return all_small and s >= len(v) * (seuil - 1)
    return False


def protect_line(values: np.ndarray, hidden: np.ndarray) -> int | None:
    """Index of the complementary cell to hide in a line: the smallest shown
    non-zero entry (least information lost); None when there is none."""
    cand = [(values[i], i) for i in range(len(values)) if not hidden[i] and not np.isnan(values[i]) and values[i] > 0]
    if not cand:
        return None
    return min(cand)[1]


def _sweep_lines(aug: np.ndarray, hidden: np.ndarray, se: int) -> bool:
    """One pass over the rows of an augmented table (last column = row
    totals): each row that a total would disclose gets one more hidden entry
    (:func:`protect_line`), or its total hidden. True when anything changed."""
    r, c = aug.shape[0] - 1, aug.shape[1] - 1
    changed = False
    for i in range(r + 1):
        vals, hid = aug[i, :c], hidden[i, :c]
        if line_needs_more(vals, hid, bool(hidden[i, c]), True, se):
            j = protect_line(vals, hid)
            hidden[i, c if j is None else j] = True
            changed = True
    return changed


def crosstab_mask(table: pd.DataFrame, margins: bool = True, seuil_effectif: int | None = None,
                  methodology_dir=None) -> tuple[pd.DataFrame, pd.Series, pd.Series, bool]:
    """Suppression pattern of a 2-D table of counts (rows × columns, no margins in ``table``).

    Rules:

    1. primary: a cell with 1 <= count < seuil_effectif is hidden;
    2. the margins (row totals, column totals, grand total), when
       ``margins=True``, are published and are themselves cells: a margin
       that is small is hidden as well;
    3. complementary: every row and every column is a *line* whose entries
       sum to its margin. Repeat until stable: a line with exactly one hidden
       entry (its margin counts as an entry), or whose hidden interior
       entries sum to a small count while its margin is shown, gets one
       more hidden entry — the smallest shown non-zero interior cell, or its
       margin when none is left. The row-totals column and the
       column-totals row are lines too (they sum to the grand total).
       Without margins nothing can be derived and rule 3 does not apply.

    Returns (cell mask, row-total mask, column-total mask, grand-total hidden).
    """
    se, _ = _resolve(seuil_effectif, 0, methodology_dir)
    x = table.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    r, c = x.shape
    # augmented matrix: last column = row totals, last row = column totals
    aug = np.zeros((r + 1, c + 1))
    aug[:r, :c] = np.nan_to_num(x)
    aug[:r, c] = aug[:r, :c].sum(axis=1)
    aug[r, :c] = aug[:r, :c].sum(axis=0)
    aug[r, c] = aug[:r, :c].sum()
    hidden = np.zeros_like(aug, dtype=bool)
    hidden[:r, :c] = is_small(x.ravel(), se).reshape(r, c)
    if margins:
        hidden[:r, c] = is_small(aug[:r, c], se)
        hidden[r, :c] = is_small(aug[r, :c], se)
        hidden[r, c] = bool(is_small([aug[r, c]], se)[0])
        changed = True
        while changed:
            # rows (the last one = column totals, summing to the grand total), then columns: the
            # same sweep on the transposed views (numpy views, so `hidden` is updated in place)
            changed = _sweep_lines(aug, hidden, se) | _sweep_lines(aug.T, hidden.T, se)
    cells = pd.DataFrame(hidden[:r, :c], index=table.index, columns=table.columns)
    return cells, pd.Series(hidden[:r, c], index=table.index), pd.Series(hidden[r, :c], index=table.columns), bool(hidden[r, c])


def publish_crosstab(table: pd.DataFrame, margins: bool = True, total_label: str = "Total",
                     percent: str | None = None, seuil_effectif: int | None = None,
                     seuil_denominateur: int | None = None, methodology_dir=None) -> pd.DataFrame:
    """Publishable version of a crosstab of counts: hidden cells become NA.

    ``margins=True`` adds a ``total_label`` row and column (the totals are
    published, hence rule 3 of :func:`crosstab_mask`). ``percent`` = "row",
    "col" or "all" returns percentages (shares in [0, 1]) instead of counts,
    with the same hidden cells plus every percentage whose base (row total,
    column total or grand total) is under ``seuil_denominateur``.
    """
    se, sd = _resolve(seuil_effectif, seuil_denominateur, methodology_dir)
    counts = table.apply(pd.to_numeric, errors="coerce").astype(float)
    cells, rows, cols, grand = crosstab_mask(counts, margins=margins, seuil_effectif=se)
    out = counts.copy()
    mask = cells.copy()
    if margins:
        out[total_label] = counts.sum(axis=1)
        out.loc[total_label] = list(counts.sum(axis=0)) + [counts.to_numpy().sum()]
        mask[total_label] = rows
        mask.loc[total_label] = list(cols) + [grand]
    mask = mask.astype(bool)
    if percent:
        body = out
        if percent == "row":
            base = body[total_label] if margins else counts.sum(axis=1)
            pct = body.div(base.replace(0, np.nan), axis=0)
            small_base = pd.DataFrame(np.repeat((base < sd).to_numpy()[:, None], body.shape[1], axis=1), index=body.index, columns=body.columns)
        elif percent == "col":
            base = body.loc[total_label] if margins else counts.sum(axis=0)
            pct = body.div(base.replace(0, np.nan), axis=1)
            small_base = pd.DataFrame(np.repeat((base < sd).to_numpy()[None, :], body.shape[0], axis=0), index=body.index, columns=body.columns)
        elif percent == "all":
            g = counts.to_numpy().sum()
            pct = body / g if g else body * np.nan
            small_base = pd.DataFrame(g < sd, index=body.index, columns=body.columns)
        else:
            raise ValueError("percent doit valoir 'row', 'col' ou 'all'")
        mask = mask | small_base.astype(bool)
        out = pct
    return out.mask(mask)


def publish(table: pd.DataFrame, count_cols: str | Sequence[str] | None = None,
            denominator_col: str | None = "denominator", value_cols: Sequence[str] | None = None,
            group_cols: str | Sequence[str] | None = None, keep_cols: Sequence[str] = ("reference",),
            complement: bool = True, seuil_effectif: int | None = None,
            seuil_denominateur: int | None = None, methodology_dir=None, **crosstab_kw) -> pd.DataFrame:
    """Apply the publication rules to a table; return what may be published.

    Every table, figure and sentence of the project goes through this
    function (PROTOCOL §4). Thresholds come from ``publication.yml``
    unless given.

    **Tidy table** (a column named in ``count_cols`` exists; default ``n``):

    * ``count_cols``: count columns (people). ``denominator_col``: the base
      of shares (optional; when absent or NA the base of a statistic is the
      first count column, as for a mean over n people).
    * ``value_cols``: the statistics derived from the counts (value,
      percentages, interval bounds...). Default: every float column except
      the count, denominator and ``keep_cols`` columns (``keep_cols`` holds
      numbers that do not come from the data, e.g. a national reference).
      Integer columns that are not counts (a year...) are left alone.
    * ``group_cols``: rows sharing these values form a *partition* whose
      counts sum to the group's denominator (e.g. exits by reason, shares of
      the exits). Rows whose group value is NA are not grouped.

    Rules, in order (the row's ``suppression`` column records the first
    one that applied; ``suppressed`` is True when its values are hidden):

    1. *effectif*: a count with 1 <= count < seuil_effectif is hidden, and
       so are the row's value columns (its percentage, mean, interval). 0 is
       shown. A denominator in that range is hidden too.
    2. *denominateur*: the value columns of a row whose base (denominator,
       else the first count) is under seuil_denominateur are hidden; the
       counts stay if they pass rule 1.
    3. *complementaire*, two-category split: when the denominator is shown,
       denominator - count is the other category's count; if it is small
       (1..seuil_effectif-1) the row's count and values are hidden
       (``complement=True``).
    4. *complementaire*, partitions (``group_cols``): within a group whose
       denominator is shown, if exactly one row is hidden, or the hidden
       counts sum to a small number, the smallest shown non-zero count of the
       group is hidden too (repeated); when no such row is left, the group's
       denominator is hidden instead.

    **Crosstab** (no count column found and every column numeric): delegated
    to :func:`publish_crosstab` (``crosstab_kw``: margins, percent,
    total_label).

    Hidden numbers are returned as NA (counts as nullable ``Int64``).
    """
    se, sd = _resolve(seuil_effectif, seuil_denominateur, methodology_dir)
    if count_cols is None:
        count_cols = ["n"] if "n" in table.columns else None
    if count_cols is None:
        if len(table.columns) and all(pd.api.types.is_numeric_dtype(t) for t in table.dtypes):
            return publish_crosstab(table, seuil_effectif=se, seuil_denominateur=sd, **crosstab_kw)
        raise ValueError("publish : aucune colonne d'effectif (count_cols) et le tableau n'est pas un tableau croisé numérique")
    count_cols = [count_cols] if isinstance(count_cols, str) else list(count_cols)
    missing = [c for c in count_cols if c not in table.columns]
    if missing:
        raise KeyError(f"colonnes d'effectif absentes : {missing}")
    den = denominator_col if denominator_col and denominator_col in table.columns else None
    if value_cols is None:
        skip = set(count_cols) | {den} | set(keep_cols)
        value_cols = [c for c in table.columns if c not in skip and pd.api.types.is_float_dtype(table[c].dtype)]
    value_cols = [c for c in value_cols if c in table.columns]

    out = table.copy().reset_index(drop=True)
    n_rows = len(out)
    counts = {c: pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float) for c in count_cols}
    d = pd.to_numeric(out[den], errors="coerce").to_numpy(dtype=float) if den else np.full(n_rows, np.nan)
    first = counts[count_cols[0]]

    hide_count = {c: is_small(counts[c], se) for c in count_cols}
    hide_den = is_small(d, se) if den else np.zeros(n_rows, bool)
    hide_values = np.zeros(n_rows, bool)
    reason = np.array([None] * n_rows, dtype=object)

    # rule 1
    r1 = np.logical_or.reduce([hide_count[c] for c in count_cols]) | hide_den
    hide_values |= r1
    reason[r1] = "effectif"
    # rule 2
    base = np.where(np.isnan(d), first, d)
    with np.errstate(invalid="ignore"):
        r2 = (base < sd) & ~hide_values
    hide_values |= r2
    reason[r2] = "denominateur"
    # rule 3
    if complement and den:
        with np.errstate(invalid="ignore"):
            other = d - first
            r3 = ~hide_den & (other >= 1) & (other < se) & ~hide_count[count_cols[0]]
        hide_count[count_cols[0]] |= r3
        reason[r3 & ~hide_values] = "complementaire"
        hide_values |= r3
    # rule 4
    if group_cols is not None:
        group_cols = [group_cols] if isinstance(group_cols, str) else list(group_cols)
        key = out[group_cols].astype("string")
        valid = key.notna().all(axis=1).to_numpy()
        if valid.any():
            labels = key[valid].agg("\x1f".join, axis=1)
            c0 = count_cols[0]
            for _, idx in labels.groupby(labels).groups.items():
                idx = np.asarray(idx)
                has_total = den is not None and not np.isnan(d[idx]).all()
                while True:
                    vals = counts[c0][idx]
                    hid = hide_count[c0][idx]
                    if not line_needs_more(vals, hid, bool(hide_den[idx].any()), has_total, se):
                        break
                    j = protect_line(vals, hid)
                    if j is None:
                        hide_den[idx] = True
                        break
                    row = idx[j]
                    hide_count[c0][row] = True
                    if not hide_values[row]:
                        reason[row] = "complementaire"
                    hide_values[row] = True
    for c in count_cols:
        out[c] = pd.array(np.where(hide_count[c], np.nan, counts[c]), dtype="Float64").round().astype("Int64")
    if den:
        out[den] = pd.array(np.where(hide_den, np.nan, d), dtype="Float64").round().astype("Int64")
    for c in value_cols:
        col = out[c]
        if pd.api.types.is_bool_dtype(col.dtype):
            out[c] = col.astype("boolean").mask(hide_values)
        elif pd.api.types.is_numeric_dtype(col.dtype):
            out[c] = col.astype("float64").mask(hide_values)
        else:
            out[c] = col.mask(hide_values)
    if "suppressed" in table.columns:  # a table already through a linked rule keeps its hidden rows
        before = table["suppressed"].reset_index(drop=True).astype("boolean").fillna(False).to_numpy(dtype=bool)
        prior = (table["suppression"].reset_index(drop=True).astype("string") if "suppression" in table.columns
                 else pd.Series(pd.NA, index=range(n_rows), dtype="string"))
        for i in np.flatnonzero(before & ~hide_values):
            reason[i] = prior.iloc[i] if not pd.isna(prior.iloc[i]) else "complementaire"
        hide_values = hide_values | before
    out["suppressed"] = hide_values
    out["suppression"] = pd.array(reason, dtype="string")
    return out


def publishable_mask(table: pd.DataFrame, value_col: str = "value") -> pd.Series:
    """Rows a figure may draw: not suppressed and with a value.

    Figures must call this (or :func:`for_figure`) on a table returned by
    :func:`publish`, so that suppressed points are omitted.
    """
    ok = table[value_col].notna() if value_col in table.columns else pd.Series(True, index=table.index)
    if "suppressed" in table.columns:
        ok &= ~table["suppressed"].fillna(True).astype(bool)
    return ok.astype(bool)


def for_figure(table: pd.DataFrame, value_col: str = "value") -> pd.DataFrame:
    """The rows of a published table that a figure may draw."""
    return table[publishable_mask(table, value_col)]


mask_for_figure = publishable_mask


def suppressed_note(table: pd.DataFrame) -> str:
    """A French sentence stating how many rows were hidden and why ('' if none)."""
    if "suppressed" not in table.columns or not table["suppressed"].any():
        return ""
    k = int(table["suppressed"].sum())
    reasons = sorted(set(table.loc[table["suppressed"], "suppression"].dropna()))
    why = " ; ".join(REASONS.get(r, r) for r in reasons)
    s = "s" if k > 1 else ""
    return f"{k} valeur{s} masquée{s} (secret statistique : {why})."

