"""Notebooks driven by the method files: template cells expanded before
papermill runs a stage notebook.

A cell tagged ``par-famille`` in a stage notebook is a template repeated for
every result family of ``methodology/indicators.yml`` (``families:``, in file
order), so a family added to the YAML appears in the executed notebook, the
HTML report and the book with no code or notebook change. In a template:

- a Markdown cell becomes the family's heading (``titre``, else
  ``<id> — <label>``) followed by its ``note`` when it has one;
- in a code cell, the line ``FAMILLE = "..."`` is set to the family id, and
  the Quarto options ``#| label: <x>-famille`` and ``#| tbl-cap`` /
  ``#| fig-cap`` get the family's id and French caption.

A family without indicators (computed by another stage, such as the QVT
family) gets its heading and note only. The unexpanded notebook still runs
in JupyterLab (on the first family written in it).
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

__all__ = ["TEMPLATE_TAG", "expand_families", "family_captions", "imported_modules", "prepare"]

TEMPLATE_TAG = "par-famille"
_FAMILLE_LINE = re.compile(r'^FAMILLE = "[^"\n]*"$', re.M)
_LABEL = re.compile(r"^#\| label: (\S+)-famille$", re.M)
_CAP = re.compile(r'^#\| (tbl|fig)-cap: .*$', re.M)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def family_captions(fid: str, family: dict, level_pct: str) -> dict[str, str]:
    """French heading and captions of family ``fid`` (``level_pct`` is the
    confidence level as printed, e.g. "95 %")."""
    label = family["label"]
    fig = family.get("figure", {}) or {}
    return {
        "heading": family.get("titre") or f"{fid} — {label}",
        "tbl": f"{label} : indicateurs",
        "fig": f"{label} : {fig.get('legende') or f'valeur, intervalle à {level_pct} et référence nationale'}",
    }


def expand_families(nb, spec: dict, level_pct: str):
    """A copy of notebook ``nb`` (nbformat v4) whose ``par-famille`` template
    cells are repeated once per family of indicators spec ``spec``."""
    cells = nb.cells
    idx = [i for i, c in enumerate(cells) if TEMPLATE_TAG in c.get("metadata", {}).get("tags", [])]
    if not idx:
        return nb
    out = copy.deepcopy(nb)
    templates = [cells[i] for i in idx]
    with_indicators = {i["family"] for i in spec["indicators"]}
    generated = []
    for fid, fam in spec["families"].items():
        caps = family_captions(fid, fam, level_pct)
        for t in templates:
            if t.cell_type == "markdown":
                c = copy.deepcopy(t)
                c.source = f"## {caps['heading']}" + (f"\n\n{fam['note']}" if fam.get("note") else "")
            elif fid not in with_indicators:
                continue
            else:
                c = copy.deepcopy(t)
                src = _FAMILLE_LINE.sub(f"FAMILLE = {_quote(fid)}", c.source)
                src = _LABEL.sub(lambda m: f"#| label: {m.group(1)}-{fid.lower()}", src)
                src = _CAP.sub(lambda m: f"#| {m.group(1)}-cap: {_quote(caps[m.group(1)])}", src)
                c.source = src
            c.metadata["tags"] = [x for x in c.metadata.get("tags", []) if x != TEMPLATE_TAG]
            c["id"] = f"{t.get('id', 'c')}-{fid.lower()}"[:64]
            generated.append(c)
    out.cells = cells[: idx[0]] + generated + [c for i, c in enumerate(cells) if i > idx[0] and i not in idx]
    return out


def prepare(nb, methodology_dir=None):
    """``nb`` with its template cells expanded from the run's method files
    (what the runner executes); a notebook without templates is returned as is."""
    if not any(TEMPLATE_TAG in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        return nb
    from analysis.method import loader
    from analysis.publication.formatting import fr_percent

    # the validated file itself, not indicators.compute.load_spec: that module imports scipy.stats
    # (1.7 s in the runner process, which only needs the families and which of them have indicators)
    level = fr_percent(loader.load("publication", methodology_dir)["niveau_confiance"], 0)
    return expand_families(nb, loader.load("indicateurs", methodology_dir), level)


def imported_modules(paths) -> list[str]:
    """The modules the code cells of the notebooks at ``paths`` import, in
    first-seen order: ``import a.b`` gives ``a.b``; ``from a import b`` gives
    ``a.b`` (``b`` may be a submodule; importing it falls back to ``a``).
    IPython magics and shell lines are skipped, a cell that does not parse
    is ignored. The runner imports these in a fresh kernel while intake runs
    (:func:`analysis.pipeline.kernelpool.prestart`)."""
    seen: dict[str, None] = {}
    for path in paths:
        try:
            cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        except (OSError, ValueError, KeyError):
            continue
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    for a in node.names:
                        seen.setdefault(a.name, None)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for a in node.names:
                        seen.setdefault(node.module if a.name == "*" else f"{node.module}.{a.name}", None)
    return list(seen)
