"""Freeze (or compare) the demo's result tables: the backtest of the
architecture (NHS RAP template, ``tests/backtests/``).

The fixture is every result table that a run of the 7-CAE demo (seed 2019,
fixed test key) writes under ``data/processed/<cae>/`` and ``_national/``,
stored as CSV with full float precision (``repr``) beside a dtype record.
Personal tables (``entrepreneurs``, ``activite``, ``questionnaire``) are
not frozen: they are intake's, tested elsewhere, and carry pseudonyms.

Regenerate only when a change of results is intended, and say why in the
commit:  ``.venv/bin/python -m tests.backtests.freeze``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "demo"
TEST_KEY = "00" * 31 + "01"
INTAKE_TABLES = {"entrepreneurs", "activite", "questionnaire"}


def run_demo(root: Path) -> Path:
    """Run the 7-CAE demo under ``root``; return its processed folder."""
    os.environ["CAE_IMPACT_KEY"] = TEST_KEY
    from analysis.intake import demo
    from analysis.pipeline import runner

    raw, processed, out = root / "raw", root / "processed", root / "out"
    demo.generate(raw, seed=2019)
    summary = runner.run(
        raw_dir=raw, processed_dir=processed, out_dir=out, jobs=2, export_html=False, progress=runner.Progress(quiet=True)
    )
    if not summary["ok"]:
        raise RuntimeError(json.dumps(summary, ensure_ascii=False)[:2000])
    return processed


def canonical(df: pd.DataFrame) -> tuple[str, dict]:
    """(CSV text with repr floats, {column: dtype}) of a result table."""
    return df.to_csv(index=False, lineterminator="\n"), {c: str(t) for c, t in df.dtypes.items()}


def result_tables(processed: Path) -> dict[str, pd.DataFrame]:
    """{"<cae>/<table>": DataFrame} for every result table of a run."""
    out = {}
    for p in sorted(processed.glob("*/*.parquet")):
        if p.stem in INTAKE_TABLES:
            continue
        out[f"{p.parent.name}/{p.stem}"] = pd.read_parquet(p)
    return out


def freeze(processed: Path) -> int:
    dtypes = {}
    for key, df in result_tables(processed).items():
        text, types = canonical(df)
        target = FIXTURE / f"{key}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        dtypes[key] = types
    (FIXTURE / "dtypes.json").write_text(json.dumps(dtypes, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return len(dtypes)


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if FIXTURE.exists():
        import shutil

        shutil.rmtree(FIXTURE)
    if src is None:
        with tempfile.TemporaryDirectory() as tmp:
            n = freeze(run_demo(Path(tmp)))
    else:
        n = freeze(src)
    print(f"{n} result tables frozen in {FIXTURE}")
