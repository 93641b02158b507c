"""Write stage results: typed Parquet for machines, French CSV for spreadsheets.

Every table is checked against its declaration in the stage registry
(:func:`analysis.pipeline.registry.conform`) when written and read back.

**Which files are published.** Everything under ``data/processed`` is the
workbook's working area (it also holds pseudonymised person-level tables);
what leaves it for a reader is:

* the **CSV** result files (``<stem>.csv``): a CAE opens them in a
  spreadsheet and may pass them on, so they are *published* and must hold
  only what the publication gate lets out;
* the executed notebooks' HTML, the per-CAE report and the Quarto book,
  built from the same published tables.

The **Parquet** files are the stages' exchange format (the next stage and the
national synthesis read them). For a published result table they hold the
same published (gated) table as the CSV; a table marked ``published=False``
(person-level scores, e.g. ``qvt_scores``) is written as Parquet only and
never leaves ``data/processed``.

Before a CSV is written, :func:`check_published` refuses a table whose count
columns hold a count from 1 to the count threshold − 1 (the gate's own rule,
:func:`analysis.publication.suppression.is_small`): a stage that forgot the
gate fails loudly instead of publishing a small cell.

The CSV is for people who open it in Excel or LibreOffice (:func:`csv_view`):
French column headers, numbers rounded as the report shows them, ``;``
separator, decimal comma, UTF-8 with BOM; the Parquet keeps every column
name and full precision.
Text cells that a spreadsheet would run as formulas are neutralised
(:func:`analysis.publication.escape.csv_frame`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.pipeline.registry import conform
from analysis.publication.escape import csv_frame

#: Columns that hold person counts in the result tables (by name).
COUNT_COLUMN = re.compile(r"^(n|n_.*|denominator|total_resp|share_n|n_complete)$")


class UnpublishableTable(ValueError):
    """A table that would publish a small count."""


def check_published(df: pd.DataFrame, name: str = "") -> None:
    """Raise :class:`UnpublishableTable` when a count column (``COUNT_COLUMN``;
    in an SROI value map, ``quantite`` of the rows counted in
    "personnes") holds a small count."""
    from analysis.publication.suppression import is_small

    bad = []
    for c in df.columns:
        if COUNT_COLUMN.match(str(c)) and pd.api.types.is_numeric_dtype(df[c].dtype):
            if is_small(df[c].to_numpy()).any():
                bad.append(c)
    if {"quantite", "unite_quantite"} <= set(df.columns):
        rows = df["unite_quantite"].eq("personnes").to_numpy()
        if is_small(df.loc[rows, "quantite"].to_numpy()).any():
            bad.append("quantite")
    if bad:
        raise UnpublishableTable(
            f"{name or 'tableau'} : effectif(s) inférieur(s) au seuil dans {', '.join(bad)} — "
            "le tableau doit passer par analysis.publication avant d'être écrit en CSV"
        )


#: French headers of the English column names result tables use.
HEADERS_FR = {
    "weighted_coverage": "couverture pondérée",
    "cae": "CAE", "family": "famille", "indicator": "indicateur", "label": "libellé", "breakdown": "ventilation",
    "value": "valeur", "n": "effectif", "denominator": "dénominateur", "ci_low": "IC 95 % bas", "ci_high": "IC 95 % haut",
    "unit": "unité", "reference": "référence", "reference_source": "source de la référence",
    "reference_year": "année de la référence", "reference_url": "lien de la référence", "kind": "nature",
    "source_table": "table source", "detail": "détail", "value_weighted": "valeur pondérée",
    "ci_low_weighted": "IC 95 % bas pondéré", "ci_high_weighted": "IC 95 % haut pondéré",
    "n_eff": "effectif efficace", "deff": "effet de plan", "suppressed": "masqué", "suppression": "motif du masque",
    "category": "catégorie", "category_label": "libellé de la catégorie", "factor": "facteur",
    "factor_label": "libellé du facteur", "effect_name": "mesure d'effet", "effect_size": "taille d'effet",
    "groups": "groupes", "mean": "moyenne", "max": "maximum", "min": "minimum", "p": "p", "p_adj": "p ajusté",
    "reason": "motif", "reported": "publié", "differs": "diffère", "dropped": "écarté", "statistic": "statistique",
    "std_diff": "écart standardisé", "share_agree": "part d'accord", "share_ci_low": "IC 95 % bas de la part",
    "share_ci_high": "IC 95 % haut de la part", "share_n": "effectif de la part", "share_pop": "part dans la population",
    "share_resp": "part parmi les répondants", "share_suppressed": "part masquée", "n_resp": "répondants",
    "n_pop": "population", "n_complete": "réponses complètes", "total_resp": "total des répondants",
    "source": "source", "test": "test", "variable_label": "libellé de la variable", "k": "nombre d'items",
    "alpha_ci_low": "alpha IC 95 % bas", "alpha_ci_high": "alpha IC 95 % haut", "spearman_p": "p de Spearman",
    "spearman_anciennete": "Spearman avec l'ancienneté", "p_ratio_sup_1": "probabilité ratio > 1",
}
#: Accents restored in French column names written without them.
_WORDS_FR = {
    "anciennete": "ancienneté", "annees": "années", "deplacement": "déplacement", "erosion": "érosion",
    "duree": "durée", "ecart": "écart", "mediane": "médiane", "libelle": "libellé", "delai": "délai",
    "regle": "règle", "unite": "unité", "resultat": "résultat", "sante": "santé", "relie": "relié",
    "relies": "reliés", "repondants": "répondants", "quantite": "quantité", "cle": "clé", "annee": "année",
    "defaut": "défaut", "actualise": "actualisé", "omega": "oméga",
}


def header_fr(name: str) -> str:
    """The CSV header of a result column: :data:`HEADERS_FR`, else the French
    name spelled out (``poids_mort_source`` → ``poids mort source``), with
    ``share_le_28`` → ``part ≤ 28`` style for the WHO-5 cut-offs.

    >>> header_fr("ci_low"), header_fr("anciennete_annees"), header_fr("share_le_50_ci_high")
    ('IC 95 % bas', 'ancienneté années', 'part ≤ 50 IC 95 % haut')
    """
    if name in HEADERS_FR:
        return HEADERS_FR[name]
    m = re.fullmatch(r"(share|n)_le_(\d+)(?:_(ci_low|ci_high))?", name)
    if m:
        head = ("part ≤ " if m.group(1) == "share" else "effectif ≤ ") + m.group(2)
        return head + (" " + HEADERS_FR[m.group(3)] if m.group(3) else "")
    return " ".join(_WORDS_FR.get(w, w) for w in name.split("_"))


def published_decimals(values) -> np.ndarray:
    """Decimals each value is shown with, from its own magnitude: amounts
    (≥ 100) to the unit, values ≥ 1 (ratios, scores) to 2 decimals, values
    below 1 (shares, p-values, coefficients) to 3 decimals — a share of
    0.559 is the 55.9 % the report prints. Per value, not per column: a
    column may hold a share and an amount on two rows (the indicators'
    ``value``), and the amount must not round the share to 0 or 1.

    >>> published_decimals(pd.Series([0.44000000000000006, 1.87, 180000.5])).tolist()
    [3, 2, 0]
    """
    top = np.abs(pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float))
    with np.errstate(invalid="ignore"):
        return np.where(top >= 100, 0, np.where(top >= 1, 2, 3))


def csv_view(df: pd.DataFrame) -> pd.DataFrame:
    """The table as the CSV shows it: each float rounded
    (:func:`published_decimals`; a column whose values all round to the
    unit is written as integers), yes/no columns as « oui »/« non », headers
    in French (:func:`header_fr`).

    >>> csv_view(pd.DataFrame({"value": [0.5333, 31250.4]}))["valeur"].tolist()
    [0.533, 31250.0]
    """
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_bool_dtype(out[col]):  # a French reader's spreadsheet: « oui », « non », not True/False
            out[col] = out[col].astype("boolean").map({True: "oui", False: "non"}, na_action="ignore").astype("string")
        elif pd.api.types.is_float_dtype(out[col]):
            x = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
            k = published_decimals(x)
            r = np.select([k == 0, k == 2], [np.round(x, 0), np.round(x, 2)], np.round(x, 3))
            shown = ~np.isnan(x)
            if (k[shown] == 0).all() and np.isfinite(x[shown]).all():
                out[col] = pd.array(r, dtype="Float64").astype("Int64")
            else:
                out[col] = pd.Series(r, index=out.index, dtype="float64")
    return out.rename(columns={c: header_fr(str(c)) for c in out.columns})


def write_result(df: pd.DataFrame, stem: Path | str, table: str | None = None,
                 published: bool = True) -> tuple[Path, ...]:
    """Write ``<stem>.parquet`` and, for a published table, ``<stem>.csv``
    (after :func:`check_published`; the CSV is :func:`csv_view`, the Parquet
    full precision) of result table ``table`` (default: the stem's name),
    conformed to its declared schema; return the paths written."""
    stem = Path(stem)
    df = conform(df, table or stem.name)
    stem.parent.mkdir(parents=True, exist_ok=True)
    pq, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    if published:
        check_published(df, stem.name)
    df.to_parquet(pq, index=False)
    if not published:
        csv.unlink(missing_ok=True)
        return (pq,)
    # text cells neutralised for spreadsheets (OWASP CSV injection); Parquet keeps them as they are
    csv_frame(csv_view(df)).to_csv(csv, sep=";", decimal=",", index=False, encoding="utf-8-sig")
    return pq, csv


def read_result(stem: Path | str, table: str | None = None) -> pd.DataFrame:
    """Read back a result table, checked against its declared schema."""
    stem = Path(stem)
    return conform(pd.read_parquet(stem.with_suffix(".parquet")), table or stem.name)
