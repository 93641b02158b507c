"""The codebook (``methodology/codebook.yml``): PROTOCOL §2 as data.

Helpers here turn it into what other modules need: the columns of a table,
header matching tolerant of case, accents, spaces and aliases, and code
look-up accepting either a code or its French label.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from analysis.method import loader as methodology


def normalize_name(text: Any) -> str:
    """Fold a header or label for comparison: strip, drop accents, lowercase,
    turn curly apostrophes, spaces, hyphens and punctuation into ``_``.

    >>> normalize_name("  Date d’Entrée ")
    'date_d_entree'
    >>> normalize_name("qvt-SANTE 1")
    'qvt_sante_1'
    """
    s = unicodedata.normalize("NFKD", str(text))
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.replace("œ", "oe").replace("Œ", "oe").lower().strip()
    s = re.sub(r"[^a-z0-9+]+", "_", s)
    return s.strip("_")


def load_codebook(path: Path | None = None) -> dict:
    """Return the validated codebook (:func:`analysis.method.loader.load_file`,
    cached per path and content; shared: treat as read-only)."""
    return methodology.load_file("codebook", path or methodology.path_of("codebook"), shared=True)


def table_names(codebook: dict | None = None) -> list[str]:
    cb = codebook or load_codebook()
    return list(cb["tables"])


def columns(table: str, codebook: dict | None = None) -> dict[str, dict]:
    """Column specs of ``table``, in codebook order."""
    cb = codebook or load_codebook()
    return cb["tables"][table]["columns"]


def column_spec(column: str, tables=None, codebook: dict | None = None) -> dict:
    """Spec of ``column`` in the first of ``tables`` (default: every table, in
    codebook order) that has it; ``{}`` when none does."""
    cb = codebook or load_codebook()
    for t in tables if tables is not None else cb["tables"]:
        spec = cb["tables"].get(t, {}).get("columns", {}).get(column)
        if spec:
            return spec
    return {}


def codes(name: str, codebook: dict | None = None) -> dict:
    """Code list ``name``: {code: French label}. Scale codes are ints."""
    cb = codebook or load_codebook()
    return cb["codes"][name]


def header_lookup(table: str, codebook: dict | None = None) -> dict[str, str]:
    """Map every accepted header spelling (normalised) to its column name."""
    lookup: dict[str, str] = {}
    for name, spec in columns(table, codebook).items():
        lookup[normalize_name(name)] = name
        lookup[normalize_name(spec.get("label", name))] = name
        for alias in spec.get("aliases", []) or []:
            lookup[normalize_name(alias)] = name
    return lookup


def code_lookup(codes_name: str, codebook: dict | None = None) -> dict[str, Any]:
    """Map every accepted spelling of a code (the code itself or its label,
    normalised) to the code.

    >>> code_lookup("genre")["femme"]
    'F'
    >>> code_lookup("likert5")["tout_a_fait_d_accord"]
    5
    """
    out: dict[str, Any] = {}
    for code, label in codes(codes_name, codebook).items():
        out[normalize_name(code)] = code
        out[normalize_name(label)] = code
    return out


def label_of(codes_name: str, code: Any, codebook: dict | None = None) -> str:
    """French label of ``code`` in list ``codes_name`` (the code itself if unknown)."""
    return str(codes(codes_name, codebook).get(code, code))


def personal_columns(table: str, codebook: dict | None = None) -> list[str]:
    return [c for c, s in columns(table, codebook).items() if s.get("personal")]


def reverse_items(codebook: dict | None = None) -> list[str]:
    """Questionnaire items flagged reverse-worded in the codebook."""
    return [c for c, s in columns("questionnaire", codebook).items() if s.get("reverse")]
