"""The study profile's words in the notebooks (``{{...}}`` placeholders).

The stage notebooks serve every study profile: their French prose and their
Quarto cell options (``#| tbl-cap: …``) name the structure and the people
through placeholders that the runner fills from ``profile.yml`` before
executing a notebook (:func:`fill_notebook`, called by
``analysis.pipeline.runner._execute``):

- ``{{structure.le}}``, ``{{personne.les}}``, ``{{questionnaire}}``: a value
  of ``termes`` (see :meth:`analysis.method.profile.Profile.term`);
- ``{{livre.titre}}``, ``{{titre_etude}}``: any other key of profile.yml;
- ``|maj`` after the key capitalises the first letter
  (``{{structure.le|maj}}`` → « La CAE », « Le tiers-lieu »).

Family blocks (cells tagged ``par-famille``) are expanded before, from
``indicators.yml: families`` (:mod:`analysis.pipeline.notebooks`).
"""

from __future__ import annotations

import copy
import re

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(\|\s*maj\s*)?\}\}")


def _value(prof, key: str, extra: dict) -> str:
    if key in extra:
        return str(extra[key])
    if key.startswith(("structure.", "personne.")) or key == "questionnaire":
        return prof.term(key)
    value = prof.get(key)
    if value is None:
        value = prof.get(f"termes.{key}")
    if value is None:
        raise KeyError(f"Le profil « {prof.id} » ne définit pas « {key} » (espace réservé {{{{{key}}}}}).")
    return str(value)


def fill(text: str, prof, extra: dict | None = None) -> str:
    """``text`` with every ``{{key}}`` replaced by the profile's value."""
    extra = extra or {}

    def sub(m):
        v = _value(prof, m.group(1), extra)
        return v[:1].upper() + v[1:] if m.group(2) else v

    return PLACEHOLDER.sub(sub, text)


def _fill_cell(cell, prof, extra: dict):
    """Markdown and code cells alike (the notebooks write no ``{{`` of their own)."""
    cell.source = fill(cell.source, prof, extra)
    return cell


def fill_notebook(nb, prof=None):
    """A copy of the notebook ``nb`` (nbformat v4) with the placeholders of
    every cell filled for the study profile ``prof`` (default: the run's)."""
    from analysis.method import profile as profiles

    prof = prof or profiles.current()
    nb = copy.deepcopy(nb)
    nb.cells = [_fill_cell(c, prof, {}) for c in nb.cells]
    return nb
