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
columns hold a count from 1 to ``seuil_effectif`` − 1 (the gate's own rule,
:func:`analysis.publication.suppression.is_small`): a stage that forgot the
gate fails loudly instead of publishing a small cell.

The CSV follows what French spreadsheet software opens without help:
``;`` separator, decimal comma, UTF-8 with BOM.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from analysis.pipeline.registry import conform

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


def write_result(df: pd.DataFrame, stem: Path | str, table: str | None = None,
                 published: bool = True) -> tuple[Path, ...]:
    """Write ``<stem>.parquet`` and, for a published table, ``<stem>.csv``
    (after :func:`check_published`) of result table ``table`` (default: the
    stem's name), conformed to its declared schema; return the paths written."""
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
    df.to_csv(csv, sep=";", decimal=",", index=False, encoding="utf-8-sig")
    return pq, csv


def read_result(stem: Path | str, table: str | None = None) -> pd.DataFrame:
    """Read back a result table, checked against its declared schema."""
    stem = Path(stem)
    return conform(pd.read_parquet(stem.with_suffix(".parquet")), table or stem.name)
