"""How values are spread across units: the five-number summary.

Used where a report shows a network of many structures: instead of one
point or column per structure, the spread of their published values
(minimum, quartiles, median, maximum) beside the network's own value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FIVE_NUMBERS", "five_numbers", "spread_table"]

#: Columns of :func:`five_numbers` and :func:`spread_table`, in order.
FIVE_NUMBERS = ("n", "min", "q1", "median", "q3", "max")


def five_numbers(values) -> dict[str, float]:
    """Number of values, minimum, first quartile, median, third quartile and
    maximum of the non-missing ``values``.

    Quartiles by linear interpolation between order statistics: the
    p-quantile of x₍₁₎ ≤ … ≤ x₍ₙ₎ is x₍ⱼ₎ + g·(x₍ⱼ₊₁₎ − x₍ⱼ₎) with
    h = (n − 1)·p + 1, j = ⌊h⌋, g = h − j (Hyndman & Fan 1996, "Sample
    quantiles in statistical packages", Am Stat 50:361–365, definition 7;
    numpy's and R's default). All NaN but ``n`` = 0 when no value is left.
    """
    x = pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce").astype("float64").dropna().to_numpy()
    if not len(x):
        return {"n": 0, **{k: float("nan") for k in FIVE_NUMBERS[1:]}}
    q = np.quantile(x, [0.0, 0.25, 0.5, 0.75, 1.0])
    return {"n": int(len(x)), **dict(zip(FIVE_NUMBERS[1:], map(float, q)))}


def spread_table(long: pd.DataFrame, keys: list[str], value_col: str = "value") -> pd.DataFrame:
    """One row per distinct ``keys`` (in order of first appearance) with the
    :func:`five_numbers` of ``value_col`` over that group's rows. The caller
    passes only the rows it may show (published values)."""
    rows = []
    for key, g in long.groupby(keys, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(keys, key)), **five_numbers(g[value_col])})
    out = pd.DataFrame(rows, columns=[*keys, *FIVE_NUMBERS])
    out["n"] = out["n"].astype("int64")
    return out
