"""French number formatting for tables and prose.

Conventions of the French typographic norm (Imprimerie nationale): decimal
comma, narrow no-break space (U+202F) between thousands, a no-break space
before ``%`` and ``€``, the minus sign U+2212 (not the hyphen-minus) before a
negative number. Missing values print as an en dash. These strings are for
reading (tables, prose, figure axes); result files keep machine numbers.
"""

from __future__ import annotations

import math
import re
from typing import Any

NNBSP = "\u202f"  # narrow no-break space: thousands separator
NBSP = "\u00a0"  # no-break space: before % and €
MINUS = "\u2212"  # minus sign: a negative number in published text
MISSING = "–"


def _is_missing(x: Any) -> bool:
    try:
        return x is None or (isinstance(x, float) and math.isnan(x)) or x is _NA()
    except TypeError:
        return False


def _NA():
    import pandas as pd

    return pd.NA


_SPACE_RE = re.compile(r"(?<=\S)[ \u00a0\u202f]([:;!?»])|(«)[ \u00a0\u202f](?=\S)")


def fr_typography(text: str) -> str:
    """French spacing in prose: a no-break space before ``:`` and inside
    « », a narrow no-break space (U+202F) before ``;``, ``!`` and ``?``
    (Imprimerie nationale). Only an existing space is replaced (``https://``,
    ``12:30`` and Markdown markers at a line start are left alone).

    >>> fr_typography("Note : voir « ici » ; fini ?") == "Note\u00a0: voir «\u00a0ici\u00a0»\u202f; fini\u202f?"
    True
    """
    def fix(m):
        if m.group(2):
            return m.group(2) + NBSP
        return (NBSP if m.group(1) in ":»" else NNBSP) + m.group(1)

    return _SPACE_RE.sub(fix, text)


def fr_number(x: Any, decimals: int = 0) -> str:
    """``1234.5`` → ``'1 234,5'`` (with ``decimals=1``).

    >>> fr_number(1234567.891, 2)
    '1\u202f234\u202f567,89'
    >>> fr_number(-0.5, 1) == "\u22120,5"
    True
    >>> fr_number(-0.04, 1)  # rounds to zero: no sign
    '0,0'
    """
    if _is_missing(x):
        return MISSING
    text = f"{float(x):,.{decimals}f}"
    if text.startswith("-"):
        text = text[1:] if not text.strip("-0.,") else MINUS + text[1:]
    return text.replace(",", NNBSP).replace(".", ",")


def fr_percent(share: Any, decimals: int = 1) -> str:
    """A share in [0, 1] as a French percentage: ``0.125`` → ``'12,5 %'``."""
    if _is_missing(share):
        return MISSING
    return f"{fr_number(100 * float(share), decimals)}{NBSP}%"


def fr_euro(x: Any, decimals: int = 0) -> str:
    """``1234`` → ``'1 234 €'``."""
    if _is_missing(x):
        return MISSING
    return f"{fr_number(x, decimals)}{NBSP}€"


def fr_interval(low: Any, high: Any, kind: str = "number", decimals: int = 1) -> str:
    """A 95 % interval as ``'[10,8 % ; 60,3 %]'`` (French list separator)."""
    fmt = {"percent": fr_percent, "euro": fr_euro}.get(kind, lambda v, d=decimals: fr_number(v, d))
    if _is_missing(low) or _is_missing(high):
        return MISSING
    return f"[{fmt(low, decimals)} ; {fmt(high, decimals)}]"


def fr_ratio(x: Any, decimals: int = 2) -> str:
    """An SROI-style ratio: ``2.5`` → ``'2,50 €'`` of value per euro."""
    return fr_euro(x, decimals)
