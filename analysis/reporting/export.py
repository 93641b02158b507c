"""Standalone HTML from executed notebooks (nbconvert), readable without Jupyter.

Code cells are hidden (a CAE's funders read results, not Python), the
parameters and papermill's injected-parameters cells are removed
(quarto-cli #723 shows them otherwise), images are embedded, and the page
is declared French (``<html lang="fr">``); every figure carries its French
caption as alternative text (nbconvert would write an English default).

The HTML exporter is built once per process and reused: template loading
dominates the cost of a single export.
"""

from __future__ import annotations

import copy
import html
import re
from functools import lru_cache
from pathlib import Path

from analysis.publication.escape import stable_table_ids

HIDDEN_TAGS = {"parameters", "injected-parameters", "remove-cell"}


@lru_cache(maxsize=1)
def _exporter():
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = set(HIDDEN_TAGS)
    c.TagRemovePreprocessor.enabled = True
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    c.HTMLExporter.language_code = "fr"
    exporter = HTMLExporter(config=c, template_name="lab")
    # its "alternative text is missing" warning is answered by _with_alt_text
    exporter.log.addFilter(lambda record: "Alternative text is missing" not in record.getMessage())
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    return exporter


def _strip_quarto_options(nb) -> None:
    """Drop Quarto's ``#|`` option lines from hidden sources (they never show,
    but keep the HTML free of them if a template ever shows input)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("#|"):
            cell.source = "\n".join(l for l in cell.source.splitlines() if not l.startswith("#|"))


#: What nbconvert writes in an <img> that has no alt text (nbconvert 7.x).
_NBCONVERT_ALT = 'alt="No description has been provided for this image"'
DEFAULT_ALT = "Figure (voir le texte qui l'accompagne)"
_CAPTION_RE = re.compile(r'^#\|\s*fig-cap:\s*"?(.*?)"?\s*$', re.M)


def figure_captions(nb) -> list[str]:
    """The French alternative text of every image the export will show, in
    document order: the figure's ``#| fig-cap`` caption, else a default."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code" or HIDDEN_TAGS & set(cell.metadata.get("tags", [])):
            continue
        m = _CAPTION_RE.search(cell.source)
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}) or "image/jpeg" in output.get("data", {}):
                out.append(m.group(1) if m else DEFAULT_ALT)
    return out


def _with_alt_text(body: str, captions: list[str]) -> str:
    parts = body.split(_NBCONVERT_ALT)
    alts = captions + [DEFAULT_ALT] * max(0, len(parts) - 1 - len(captions))
    return parts[0] + "".join(f'alt="{html.escape(alt, quote=True)}"' + part for alt, part in zip(alts, parts[1:]))


_REMOTE_SCRIPT_RE = re.compile(r"<script\b[^>]*\bsrc=[\"']https?://[^>]*>\s*</script>\s*", re.I)
_INLINE_SCRIPT_RE = re.compile(r"<script\b[^>]*>(?:(?!</script>).)*</script>\s*", re.I | re.S)
_REMOTE_IMPORT_RE = re.compile(r"import\(\s*[\"']https?://|[\"']https?://cdn", re.I)
_MATHJAX_CONFIG_RE = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->\s*", re.S)
#: The RequireJS shim Quarto adds with its CDN jQuery (useless once both are gone).
_JQUERY_SHIM_RE = re.compile(r"<script type=\"application/javascript\">define\('jquery', \[\],function\(\) \{return window\.jQuery;\}\)</script>\s*")


def self_contained(page: str) -> str:
    """``page`` without the scripts nbconvert and Quarto load from
    third-party hosts (RequireJS, jQuery and its RequireJS shim, MathJax and
    its configuration, Mermaid). Quarto adds RequireJS and jQuery to any page
    embedding a notebook with an HTML output (quarto-cli
    ``src/core/jupyter/widgets.ts``, no option turns it off); our outputs
    are static tables and need neither."""
    page = _MATHJAX_CONFIG_RE.sub("", page)
    page = _JQUERY_SHIM_RE.sub("", page)
    page = _REMOTE_SCRIPT_RE.sub("", page)
    return _INLINE_SCRIPT_RE.sub(lambda m: "" if _REMOTE_IMPORT_RE.search(m.group(0)) else m.group(0), page)


def notebook_node_to_html(nb, title: str | None = None) -> str:
    exporter = _exporter()
    nb = copy.deepcopy(nb)
    captions = figure_captions(nb)
    _strip_quarto_options(nb)
    if title:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb, resources={})
    return stable_table_ids(self_contained(_with_alt_text(body, captions)))


def notebook_to_html(nb_path: Path, html_path: Path, title: str | None = None) -> Path:
    """Export one executed notebook to standalone French HTML, code hidden."""
    import nbformat

    nb = nbformat.read(str(nb_path), as_version=4)
    if title is None:
        title = _first_heading(nb) or Path(nb_path).stem
    Path(html_path).write_text(notebook_node_to_html(nb, title), encoding="utf-8")
    return Path(html_path)


def combine_html(nb_paths: list[Path], html_path: Path, title: str, first: str | None = None) -> Path:
    """One standalone HTML document from several executed notebooks: the
    per-CAE report a CAE sends to its funders. Reader order: notebook
    ``first`` (the summary), the results in the order of
    :data:`analysis.reporting.book.REPORT_NOTEBOOKS` (the data-cleaning
    notebook, the technical appendix, last), then the glossary."""
    import nbformat

    from analysis.publication.formatting import fr_typography
    from analysis.reporting import glossary
    from analysis.reporting.book import REPORT_NOTEBOOKS, typeset_output

    order = {stem: i for i, stem in enumerate(REPORT_NOTEBOOKS)}
    paths = [Path(p) for p in nb_paths if Path(p).exists()]
    paths.sort(key=lambda p: (p.name != first if first else False, order.get(p.stem, len(order))))
    merged = nbformat.v4.new_notebook()
    merged.metadata = {}
    for p in paths:
        nb = nbformat.read(str(p), as_version=4)
        if not merged.metadata:
            merged.metadata = copy.deepcopy(nb.metadata)
        for cell in nb.cells:  # French spacing in what the CAE's funders read (as in the book)
            for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
                typeset_output(output)
        if p.stem == "01_nettoyage":
            merged.cells.append(nbformat.v4.new_markdown_cell("# Annexe technique : les données lues et leurs contrôles"))
        merged.cells.extend(nb.cells)
    merged.cells.append(nbformat.v4.new_markdown_cell("# Glossaire\n\n" + fr_typography(glossary.glossary_md())))
    merged.metadata.pop("papermill", None)
    Path(html_path).write_text(notebook_node_to_html(merged, title), encoding="utf-8")
    return Path(html_path)


def _first_heading(nb) -> str | None:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return None
