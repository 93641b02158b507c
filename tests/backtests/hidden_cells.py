"""Count the cells a new backtest fixture hides that an old one showed.

``python -m tests.backtests.hidden_cells OLD_DIR [NEW_DIR]`` (NEW_DIR
defaults to ``tests/backtests/demo``): for every table present in both
fixtures with the same rows, the cells empty in NEW and not in OLD, by table.
To compare with the fixture of another commit: ``git worktree add`` it, or
``git archive <commit> tests/backtests/demo | tar -x -C /tmp/old``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from tests.backtests.freeze import FIXTURE


def hidden_cells(old: Path, new: Path = FIXTURE) -> dict[str, int]:
    out = {}
    for p in sorted(Path(new).glob("*/*.csv")):
        q = Path(old) / p.parent.name / p.name
        if not q.exists():
            continue
        a, b = pd.read_csv(q, dtype=str), pd.read_csv(p, dtype=str)
        if len(a) != len(b):
            continue
        cols = [c for c in a.columns if c in b.columns]
        k = int((a[cols].notna() & b[cols].isna()).to_numpy().sum())
        if k:
            out[f"{p.parent.name}/{p.stem}"] = k
    return out


if __name__ == "__main__":
    old = Path(sys.argv[1])
    new = Path(sys.argv[2]) if len(sys.argv) > 2 else FIXTURE
    res = hidden_cells(old, new)
    for k, v in res.items():
        sys.stdout.write(f"{v:5d}  {k}\n")
    sys.stdout.write(f"{sum(res.values()):5d}  cells hidden now that were shown before, in {len(res)} tables\n")
