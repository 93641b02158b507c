"""Write stage results: typed Parquet for machines, French CSV for spreadsheets.

Every table is checked against its declaration in the stage registry
(:func:`analysis.pipeline.registry.conform`) when written and read back.

The CSV follows what French spreadsheet software opens without help:
``;`` separator, decimal comma, UTF-8 with BOM.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis.pipeline.registry import conform


def write_result(df: pd.DataFrame, stem: Path | str, table: str | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.parquet`` and ``<stem>.csv`` of result table ``table``
    (default: the stem's name), conformed to its declared schema; return both paths."""
    stem = Path(stem)
    df = conform(df, table or stem.name)
    stem.parent.mkdir(parents=True, exist_ok=True)
    pq, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    df.to_parquet(pq, index=False)
    df.to_csv(csv, sep=";", decimal=",", index=False, encoding="utf-8-sig")
    return pq, csv


def read_result(stem: Path | str, table: str | None = None) -> pd.DataFrame:
    """Read back a result table, checked against its declared schema."""
    stem = Path(stem)
    return conform(pd.read_parquet(stem.with_suffix(".parquet")), table or stem.name)
