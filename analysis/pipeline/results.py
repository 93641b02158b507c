"""Write stage results: typed Parquet for machines, French CSV for spreadsheets.

The CSV follows what French spreadsheet software opens without help:
``;`` separator, decimal comma, UTF-8 with BOM.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_result(df: pd.DataFrame, stem: Path | str) -> tuple[Path, Path]:
    """Write ``<stem>.parquet`` and ``<stem>.csv``; return both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    pq, csv = stem.with_suffix(".parquet"), stem.with_suffix(".csv")
    df.to_parquet(pq, index=False)
    df.to_csv(csv, sep=";", decimal=",", index=False, encoding="utf-8-sig")
    return pq, csv


def read_result(stem: Path | str) -> pd.DataFrame:
    return pd.read_parquet(Path(stem).with_suffix(".parquet"))
