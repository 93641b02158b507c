"""Assemble the national report as a Quarto book from executed notebooks.

Quarto assembles; it never recomputes. This module:

1. copies each executed notebook into ``report/notebooks/<chapter>/``,
   suffixing every Quarto label with the chapter's key so that the same
   cell of seven CAEs gives seven distinct cross-reference ids, and tagging
   papermill's injected-parameters cell for removal (quarto-cli #723);
2. writes one chapter per CAE (``report/cae/<key>.qmd``) embedding the
   labelled outputs with ``{{< embed >}}``, plus the generated parts of
   the method and annex chapters (``report/_generated/``) from the
   methodology files, the codebook and the provenance manifests;
3. writes ``report/_quarto.yml`` from ``report/_quarto.base.yml`` with the
   chapter list of the CAEs present;
4. checks the book statically (config parses, every chapter and every
   embedded notebook and cell label exists);
5. renders with ``quarto render report`` when Quarto is on PATH, and
   otherwise says what was skipped and how to get Quarto.

Executed notebooks are never re-executed by Quarto: ``execute: enabled:
false`` in the config (quarto-cli #10366).
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from analysis import config
from analysis.publication.escape import html_line, markdown_text, yaml_scalar
from analysis.pipeline import registry
from analysis.method import profile as profiles
from analysis.method.yamlio import read_yaml

EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^#\s>]+)#([^\s>]+)\s*>\}\}")
LABEL_RE = re.compile(r"^#\|\s*label:\s*(\S+)\s*$", re.M)
QUARTO_HINT = (
    "Quarto introuvable : le livre n'a pas été rendu (HTML et PDF). Les rapports HTML de chaque structure et la "
    "synthèse nationale sont dans {out}. Pour obtenir le livre : `pip install quarto-cli` sur une machine "
    "reliée à Internet, ou `conda env create -f environment.yml` (paquet conda-forge `quarto`), puis "
    "relancez `make report`."
)



@dataclass(frozen=True)
class Section:
    """A section of a CAE's report or book chapter: a French title and, per
    notebook, the label patterns (fnmatch, before the chapter suffix) of the
    cells it embeds, in notebook order; ``{famille}`` stands for each result
    family of the profile (``rapport.familles``, lower case)."""

    title: str
    parts: tuple[tuple[str, tuple[str, ...]], ...]
    appendix: bool = False


_SUMMARY = ("05_synthese_cae", ("txt-synthese-qui", "txt-synthese-resultats", "fig-synthese-resultats",
                                "txt-synthese-sroi", "txt-synthese-qvt"))

#: The standalone report of a CAE (``<out>/<cae>/rapport.qmd``), reader
#: first: two pages for a funder, results by family, SROI, QVT, then the
#: technical appendix for the evaluator.
REPORT_SECTIONS = [
    Section("L'essentiel", (_SUMMARY,)),
    Section("Les effets, famille par famille", (("02_indicateurs", ("txt-ind-presentation", "txt-ind-{famille}",
                                                                    "tbl-ind-{famille}", "fig-ind-{famille}")),)),
    Section("La valeur sociale créée (SROI)", (("03_sroi", ("txt-sroi-*", "tbl-sroi-carte", "tbl-sroi-intrants",
                                                            "*-sroi-parties-prenantes", "fig-sroi-tornado",
                                                            "tbl-sroi-seuils", "fig-sroi-monte-carlo")),)),
    Section("La qualité de vie au travail", (("04_qvt", ("txt-qvt-*", "fig-qvt-*", "tbl-qvt-*")),)),
    Section("Annexe technique", (
        ("01_nettoyage", ("*",)),
        ("02_indicateurs", ("txt-ind-representativite", "tbl-ind-representativite", "tbl-ind-ponderation")),
        ("03_sroi", ("tbl-sroi-parametres",)),
        ("05_synthese_cae", ("txt-synthese-provenance",)),
    ), appendix=True),
]

#: A CAE's chapter of the national book: the same order, shorter (the
#: detail stays in the CAE's own report; provenance is in the annexes).
BOOK_SECTIONS = [
    Section("L'essentiel", (_SUMMARY,)),
    Section("Les effets", (("02_indicateurs", ("tbl-ind-{famille}",)),)),
    Section("La valeur sociale créée (SROI)", (("03_sroi", ("txt-sroi-resultat", "tbl-sroi-parties-prenantes",
                                                            "fig-sroi-tornado")),)),
    Section("La qualité de vie au travail", (("04_qvt", ("txt-qvt-presentation", "fig-qvt-dimensions", "tbl-qvt-who5")),)),
]

#: The executed notebooks a CAE's report reads, reader order.
REPORT_NOTEBOOKS = list(dict.fromkeys(stem for sec in REPORT_SECTIONS for stem, _ in sec.parts))

#: Embedded cells too wide for a portrait page: a landscape page in PDF.
WIDE_TABLES = ("tbl-sroi-carte", "tbl-sroi-parametres", "tbl-nat-indicateurs")

#: National cells too detailed for the main body: in the annexes (the
#: indicator × CAE table is also in each CAE's own report; past
#: publication.yml: structures_max_par_figure, its spread takes its place).
NATIONAL_IN_ANNEX = ("tbl-nat-indicateurs", "tbl-nat-indicateurs-repartition", "tbl-nat-qvt-modele")

#: National tables of one row per structure: in the annexes too past
#: publication.yml: structures_max_par_figure structures (a page per 25 or so:
#: the national chapter stays the few pages a funder reads).
NATIONAL_ROWS_PER_STRUCTURE = ("tbl-nat-totaux", "tbl-nat-sroi-cae")


def national_in_annex(n_structures: int, methodology_dir=None) -> tuple[str, ...]:
    """The national cells the book puts in its annexes for a network of
    ``n_structures`` (:data:`NATIONAL_IN_ANNEX`, plus
    :data:`NATIONAL_ROWS_PER_STRUCTURE` past the figures' threshold,
    :func:`analysis.reporting.plotting.shows_each_structure`)."""
    from analysis.reporting.plotting import shows_each_structure

    each = shows_each_structure(n_structures, methodology_dir)
    return NATIONAL_IN_ANNEX + (() if each else NATIONAL_ROWS_PER_STRUCTURE)

#: Said in a section whose every cell is empty for this CAE.
def empty_section() -> str:
    """Said in a section whose every cell is empty for this structure (profile words)."""
    from analysis.method import profile as profiles

    return (f"Aucun résultat de cette partie ne peut être présenté pour {profiles.current().term('structure.ce')} : "
            "les données nécessaires sont absentes ou portent sur trop peu de personnes.")


@dataclass
class Chapter:
    key: str  # file-safe key: the slug, or cae-<k> when anonymised
    title: str
    slug: str
    nav: str = ""  # the sidebar entry (``text:`` in _quarto.yml): the name as one line of HTML text


def quarto_path() -> str | None:
    return shutil.which("quarto")


# --------------------------------------------------------------------------
# notebooks
# --------------------------------------------------------------------------
def cell_labels(nb) -> set[str]:
    """Labels Quarto can embed: ``#| label:`` options, cell ids and tags."""
    labels: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        labels.update(LABEL_RE.findall(cell.source))
        labels.update(cell.metadata.get("tags", []))
        if cell.get("id"):
            labels.add(cell["id"])
    return labels


def output_kind(cell) -> str | None:
    """What a code cell shows once embedded: ``"figure"`` (an image),
    ``"table"`` (HTML holding a ``<table>``), ``"text"`` (Markdown or other
    text), or None when it has no output (Quarto cannot embed it)."""
    kinds = set()
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            if out.get("name") == "stdout" and "".join(out.get("text", "")).strip():
                kinds.add("text")
            continue
        data = out.get("data", {})
        if any(k.startswith("image/") for k in data):
            kinds.add("figure")
        elif "<table" in "".join(data.get("text/html", "")):
            kinds.add("table")
        elif any(k in data for k in ("text/markdown", "text/html", "text/plain")):
            kinds.add("text")
    return next((k for k in ("figure", "table", "text") if k in kinds), None)


def cell_outputs(nb) -> dict[str, str | None]:
    """``{label: output kind}`` for every labelled code cell."""
    out = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            for label in LABEL_RE.findall(cell.source):
                out[label] = output_kind(cell)
    return out


_CAPTION_OPT_RE = re.compile(r"^#\|\s*(fig|tbl)-(cap|alt|subcap)\s*:.*\n?", re.M)
_HEADING_RE = re.compile(r"^(#{1,5}) ", re.M)


def prepare_notebook(nb, key: str, replace: dict[str, str] | None = None, heading_level: int | None = None,
                     title: str | None = None):
    """A copy of ``nb`` for the book or a CAE report: labels suffixed with
    ``-<key>``, the parameters and injected-parameters cells removed, text
    replaced (anonymisation), Markdown headings in outputs moved so that the
    highest of each output is at ``heading_level`` (one below the section
    that embeds it: no skipped level, no "4.1.0.1" numbering). A ``fig-``/``tbl-`` cell that shows no figure/table
    for this CAE (a French sentence saying why instead) becomes
    ``txt-vide-<label>`` without caption, so Quarto never makes an empty
    float of it. With ``title``, a first Markdown cell gives the notebook that
    YAML title: Quarto takes an embedded notebook's title from the first
    title or heading it meets and pastes it unescaped into each embed's
    ``notebook-title`` attribute, so it must never be a heading that shows
    CAE text (see :func:`notebook_title`). Returns the notebook;
    :func:`embeddable` lists its cells."""
    from analysis.publication.escape import stable_table_ids

    nb = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if {"injected-parameters", "parameters", "remove-cell"} & set(tags):
            continue
        if cell.cell_type == "code":
            kind = output_kind(cell)
            if kind == "figure":
                _note_into_caption(cell)

            def relabel(m, kind=kind):
                label = m.group(1)
                if kind is not None and ((label.startswith("fig-") and kind != "figure")
                                         or (label.startswith("tbl-") and kind != "table")):
                    label = f"txt-vide-{label}"
                return f"#| label: {label}-{key}"

            new = LABEL_RE.sub(relabel, cell.source)
            if "txt-vide-" in new:
                new = _CAPTION_OPT_RE.sub("", new)
            cell.source = new
            for output in cell.get("outputs", []):
                if "text/html" in output.get("data", {}):  # Styler's random ids -> unique, stable ids on the page
                    value = output["data"]["text/html"]
                    output["data"]["text/html"] = stable_table_ids("".join(value) if isinstance(value, list) else value, f"{key}-c{i}-")
                if replace:
                    _replace_in_output(output, replace)
                typeset_output(output)
                if heading_level and "text/markdown" in output.get("data", {}):
                    md = "".join(output["data"]["text/markdown"])
                    levels = [len(h) for h in _HEADING_RE.findall(md)]
                    if levels:
                        shift = heading_level - min(levels)
                        output["data"]["text/markdown"] = _HEADING_RE.sub(
                            lambda m, d=shift: "#" * max(1, len(m.group(1)) + d) + " ", md)
        elif replace:
            cell.source = _replace_text(cell.source, replace)
        cells.append(cell)
    if title is not None:
        import nbformat

        # a fixed id: the same executed notebook always gives the same prepared one
        cells.insert(0, nbformat.v4.new_markdown_cell(f"---\ntitle: {yaml_scalar(title)}\n---", id="cae-impact-titre"))
    nb.cells = cells
    nb.metadata.pop("papermill", None)
    return nb


def notebook_title(stem: str) -> str:
    """The title of notebook ``stem`` in the book and reports: its stage's
    French title in the stage registry (never CAE text)."""
    from analysis.pipeline import registry

    return next((st.titre for st in registry.stages() if getattr(st, "carnet", None) == stem), stem)


_FIGCAP_RE = re.compile(r'^(#\|\s*fig-cap:\s*)"?(.*?)"?\s*$', re.M)


def _note_into_caption(cell) -> None:
    """A figure cell that also printed a sentence (a note on what the figure
    leaves out) would become "(a)"/"(b)" sub-figures with an empty caption
    in Quarto: the sentence joins the figure's caption instead."""
    notes, kept = [], []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if out.get("output_type") == "stream" or (data and not any(k.startswith("image/") for k in data)):
            text = "".join(data.get("text/markdown", "") or out.get("text", "") or data.get("text/plain", "")).strip()
            if text:
                notes.append(" ".join(text.split()))
            continue
        kept.append(out)
    m = _FIGCAP_RE.search(cell.source)
    if not notes or not m:
        return
    cell.outputs = kept
    cap = m.group(2).rstrip(" .")
    new = f'{m.group(1)}"{cap}. ' + " ".join(notes).replace('"', "'") + '"'
    cell.source = cell.source[: m.start()] + new + cell.source[m.end():]


def embeddable(nb, key: str) -> list[tuple[str, str, str | None]]:
    """``(original label, label in the prepared notebook, output kind)`` for
    every labelled cell of a notebook prepared by :func:`prepare_notebook`."""
    out = []
    suffix = f"-{key}"
    for label, kind in cell_outputs(nb).items():
        base = label[: -len(suffix)] if label.endswith(suffix) else label
        out.append((base.removeprefix("txt-vide-"), label, kind))
    return out


_HTML_TEXT_RE = re.compile(r">([^<]+)<")


def typeset_output(output) -> None:
    """French spacing (:func:`analysis.publication.formatting.fr_typography`)
    in the Markdown and the HTML text (between tags) of a cell output."""
    from analysis.publication.formatting import fr_typography

    data = output.get("data", {})
    if "text/markdown" in data:
        data["text/markdown"] = fr_typography("".join(data["text/markdown"]))
    if "text/html" in data:
        data["text/html"] = _HTML_TEXT_RE.sub(lambda m: ">" + fr_typography(m.group(1)) + "<", "".join(data["text/html"]))


def _replace_text(text: str, replace: dict[str, str]) -> str:
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def _replace_in_output(output, replace) -> None:
    if "text" in output:
        output["text"] = _replace_text("".join(output["text"]), replace)
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/"):
            output["data"][mime] = _replace_text("".join(value), replace)


# --------------------------------------------------------------------------
# generated chapters
# --------------------------------------------------------------------------
def chapters_for(caes: list[str], processed_dir: Path, anonymise: bool) -> list[Chapter]:
    chapters = []
    for k, slug in enumerate(caes, start=1):
        if anonymise:
            name = profiles.current().anonymous_name(k)
            chapters.append(Chapter(key=f"cae-{k}", title=name, slug=slug, nav=html_line(name)))
        else:
            try:
                info = json.loads((Path(processed_dir) / slug / profiles.current().processed_description).read_text(encoding="utf-8"))
                title = info.get("nom", slug)
            except FileNotFoundError:
                title = slug
            # Chapter.title is Markdown (heading, annex table, rapport.qmd title): CAE text escaped
            # the sidebar pastes its text as HTML, unrendered: HTML-escaped, without Markdown backslashes
            chapters.append(Chapter(key=slug, title=markdown_text(title), slug=slug, nav=html_line(title)))
    return chapters


def presentation_md() -> str:
    """The book's opening paragraphs: the profile's ``rapport.presentation_livre``
    (what the study measures, in its words), then how the numbers are made."""
    from analysis.method import profile as profiles
    from analysis.reporting import wording

    prof = profiles.current()
    tool = prof.get("nom_methode")
    made = f"le classeur {tool}" if tool else "le classeur d'impact social"
    intro = prof.get("rapport.presentation_livre")
    return ((wording.fill(str(intro).strip(), prof) + "\n\n" if intro else "") +
            f"Tous les chiffres de ce rapport sont calculés par {made} à partir des fichiers de résultats ; aucun "
            "n'est saisi à la main. La méthode (@sec-methode) en donne les principes ; les annexes donnent chaque "
            "paramètre et sa source, et le glossaire (@sec-glossaire) explique les termes techniques. "
            f"Chaque {prof.term('structure.singulier')} dispose en outre de son propre rapport, plus détaillé.\n")


def sections_md(sections: list[Section], nb_dir: str, cells: dict[str, list], level: int) -> list[str]:
    """The Markdown lines of ``sections``: a heading of ``level`` each, then
    the embeds of the matching cells that have output; a section left
    without any says so in one French sentence."""
    from analysis.method import profile as profiles

    families = [str(f).lower() for f in profiles.current().get("rapport.familles", [])]
    lines: list[str] = []
    for sec in sections:
        embeds = []
        for stem, patterns in sec.parts:
            # ``{famille}``: one pattern per result family of the profile (rapport.familles)
            patterns = [p.replace("{famille}", f) if f else p for p in patterns for f in (families if "{famille}" in p else [None])]
            for base, label, kind in cells.get(stem, []):
                if kind is None or not base.startswith(("fig-", "tbl-", "txt-")):
                    continue
                if any(fnmatch.fnmatchcase(base, pat) for pat in patterns):
                    embed = f"{{{{< embed {nb_dir}/{stem}.ipynb#{label} >}}}}"
                    if base in WIDE_TABLES and kind == "table":
                        embed = "::: {.landscape}\n\n" + embed + "\n\n:::"
                    embeds.append(embed)
        lines += ["#" * level + " " + sec.title, ""]
        lines += [x for e in embeds for x in (e, "")] or [empty_section(), ""]
    return lines


def chapter_qmd(ch: Chapter, nb_dir: str, cells: dict[str, list]) -> str:
    """A CAE chapter of the book (:data:`BOOK_SECTIONS`)."""
    return "\n".join([f"# {ch.title} {{#sec-{ch.key}}}", ""] + sections_md(BOOK_SECTIONS, nb_dir, cells, 2))


# --------------------------------------------------------------------------
# static checks
# --------------------------------------------------------------------------
def check_book(report_dir: Path) -> list[str]:
    """Static problems of the book (empty list = fine): ``_quarto.yml``
    parses, every chapter exists, every embedded notebook and label exists
    and every embedded cell has output."""
    report_dir = Path(report_dir)
    problems = []
    cfg_path = report_dir / "_quarto.yml"
    try:
        cfg = read_yaml(cfg_path.read_text(encoding="utf-8"))
    except Exception as exc:
        return [f"_quarto.yml illisible : {exc}"]
    if cfg.get("project", {}).get("type") != "book":
        problems.append("_quarto.yml : project.type doit valoir « book »")
    files = []
    for entry in cfg.get("book", {}).get("chapters", []) + cfg.get("book", {}).get("appendices", []):
        if isinstance(entry, str):
            files.append(entry)
        elif isinstance(entry, dict):
            files += [c if isinstance(c, str) else c.get("href") for c in entry.get("chapters", []) if isinstance(c, (str, dict))]
    cache: dict[Path, tuple[set[str], dict]] = {}
    for f in files:
        qmd = report_dir / f
        if not qmd.exists():
            problems.append(f"chapitre absent : {f}")
            continue
        problems += check_embeds(qmd, f, cache)
    return problems


def check_embeds(qmd: Path, name: str, cache: dict | None = None) -> list[str]:
    """Problems with the includes and embeds of one ``.qmd`` (empty = fine):
    every included file, embedded notebook and cell label must exist, and
    every embedded cell must have output (Quarto fails on an empty one)."""
    import nbformat

    cache = {} if cache is None else cache
    problems = []
    text = qmd.read_text(encoding="utf-8")
    root = qmd.parent.resolve()
    for inc in INCLUDE_RE.findall(text):
        inc_path = (qmd.parent / inc).resolve()
        if not inc_path.is_relative_to(root):
            problems.append(f"{name} : inclusion d'un fichier hors du livre refusée : {inc}")
        elif not inc_path.exists():
            problems.append(f"{name} : fichier inclus absent : {inc}")
        else:
            text += inc_path.read_text(encoding="utf-8")
    problems += foreign_shortcodes(text, name)
    for nb_rel, label in EMBED_RE.findall(text):
        nb_path = (qmd.parent / nb_rel).resolve()
        if not nb_path.exists():
            problems.append(f"{name} : carnet intégré absent : {nb_rel}")
            continue
        if nb_path not in cache:
            nb = nbformat.read(str(nb_path), as_version=4)
            cache[nb_path] = (cell_labels(nb), cell_outputs(nb))
            problems += foreign_shortcodes(notebook_text(nb), nb_rel, generated=False)
        labels, outputs = cache[nb_path]
        if label not in labels:
            problems.append(f"{name} : cellule « {label} » absente de {nb_rel}")
        elif label in outputs and outputs[label] is None:
            problems.append(f"{name} : la cellule « {label} » de {nb_rel} n'a pas de sortie à intégrer")
    return problems


INCLUDE_RE = re.compile(r"\{\{<\s*include\s+(\S+)\s*>\}\}")
#: Every place a Quarto shortcode can start: ``{{<`` (and ``{{{<``, Quarto's
#: escaped form), allowing spaces and invisible characters between the braces
#: that a renderer might strip.
SHORTCODE_OPEN_RE = re.compile(r"\{[\s\u200b-\u200d\ufeff]*\{[\s\u200b-\u200d\ufeff]*<")


def foreign_shortcodes(text: str, name: str, generated: bool = True) -> list[str]:
    """Problems for every shortcode in ``text`` that this module did not
    write: in a generated chapter only ``{{< embed NB#LABEL >}}`` and
    ``{{< include FILE >}}`` exactly as :func:`chapter_qmd` and the book's
    sources write them are allowed; in a notebook (``generated=False``) none
    is (CAE text reaches notebooks; Quarto would execute it)."""
    allowed = {m.start() for m in EMBED_RE.finditer(text)} | {m.start() for m in INCLUDE_RE.finditer(text)} if generated else set()
    out = []
    for m in SHORTCODE_OPEN_RE.finditer(text):
        if m.start() not in allowed:
            snippet = " ".join(text[m.start(): m.start() + 40].split())
            out.append(f"{name} : code court Quarto non généré par le livre (refusé) : « {snippet}… »")
    return out


def notebook_text(nb) -> str:
    """Everything of a notebook Quarto would read: Markdown cells and the
    text outputs of code cells (``text/*`` data and streams)."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        for output in cell.get("outputs", []) or []:
            if "text" in output:
                parts.append("".join(output["text"]))
            for mime, value in (output.get("data") or {}).items():
                if mime.startswith("text/"):
                    parts.append("".join(value) if isinstance(value, list) else str(value))
    return "\n".join(parts)


def today_fr() -> str:
    """Today's date in French words (``1er décembre 2026``), for covers:
    Quarto's ``date-format: long`` writes ``1 décembre``."""
    from datetime import date

    from analysis.reporting.synthesis import date_fr

    return date_fr(date.today().isoformat())


def copy_sources(report_dir: Path) -> None:
    """Make ``report_dir`` a Quarto project when it is not the sources folder
    (installed from a wheel: ``./report``, the sources being the read-only
    copies in the package): copy the files of
    :data:`analysis.config.REPORT_SOURCES_DIR` matching
    :data:`~analysis.config.REPORT_SOURCE_PATTERNS` into it, and again when
    they change (``.sources-stamp`` records the copy). A folder holding its
    own ``_quarto.base.yml`` without that stamp is the user's: left alone."""
    import hashlib

    src = Path(config.REPORT_SOURCES_DIR)
    report_dir = Path(report_dir)
    if report_dir.resolve() == src.resolve():
        return
    stamp = report_dir / ".sources-stamp"
    if (report_dir / "_quarto.base.yml").exists() and not stamp.exists():
        return
    files = sorted({p.relative_to(src).as_posix() for pat in config.REPORT_SOURCE_PATTERNS for p in src.glob(pat) if p.is_file()})
    h = hashlib.sha256()
    for rel in files:
        h.update(rel.encode() + b"\0" + (src / rel).read_bytes() + b"\0")
    old = json.loads(stamp.read_text(encoding="utf-8")) if stamp.exists() else {}
    if old.get("sha256") == h.hexdigest():
        return
    for rel in set(old.get("files", [])) - set(files):  # a source the package no longer ships
        (report_dir / rel).unlink(missing_ok=True)
    for rel in files:
        (report_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, report_dir / rel)
    stamp.write_text(json.dumps({"sha256": h.hexdigest(), "files": files}), encoding="utf-8")


def typst_settings(report_dir: Path | None = None) -> dict:
    """The PDF settings shared by the book and every CAE report: ``lang``,
    ``crossref`` and ``format.typst`` of ``report/_quarto.base.yml``."""
    base = read_yaml((Path(report_dir or config.REPORT_DIR) / "_quarto.base.yml").read_text(encoding="utf-8"))
    return {"lang": base.get("lang", "fr"), "crossref": base.get("crossref", {}), "typst": base["format"]["typst"]}


REPORT_NB_DIR = "rapport-carnets"


def cae_document(out_dir: Path, ch: Chapter, report_dir: Path | None = None) -> Path:
    """``<out>/<cae>/rapport.qmd``: the CAE's standalone report
    (:data:`REPORT_SECTIONS`, then the glossary) as a Quarto document
    embedding the labelled cells of its executed notebooks (prepared copies
    in ``rapport-carnets/``), for a Typst PDF when Quarto is present."""
    import nbformat

    from analysis.publication.formatting import fr_typography
    from analysis.reporting import glossary

    cae_out = Path(out_dir) / ch.slug
    nb_dir = cae_out / REPORT_NB_DIR
    path = cae_out / "rapport.qmd"
    key = memo_key(_MEMO_VERSION, runner_code_fingerprint(), dataclasses.astuple(ch), today_fr(),
                   _stamp_fingerprint(cae_out), str(report_dir), (Path(report_dir or config.REPORT_DIR) / "_quarto.base.yml").read_text(encoding="utf-8"))
    if memo_hit(nb_dir, key) and path.exists():
        return path  # the same executed notebooks, code, settings and date as when it was written
    shutil.rmtree(nb_dir, ignore_errors=True)
    nb_dir.mkdir(parents=True)
    cells: dict = {}
    for stem in REPORT_NOTEBOOKS:
        src = cae_out / f"{stem}.ipynb"
        if src.exists():
            nb = prepare_notebook(nbformat.read(str(src), as_version=4), "r", heading_level=2, title=notebook_title(stem))
            nbformat.write(nb, str(nb_dir / f"{stem}.ipynb"))
            cells[stem] = embeddable(nb, "r")
    body = sections_md(REPORT_SECTIONS, REPORT_NB_DIR, cells, 1)
    body += ["# Glossaire {.unnumbered}", "", fr_typography(glossary.glossary_md()), ""]
    settings = typst_settings(report_dir)
    typst = copy.deepcopy(settings["typst"])
    typst.pop("template-partials", None)  # the book's cover partial; a report is an article
    typst.update({"toc": True, "toc-depth": 2, "number-sections": True})
    header = {
        "title": f"Mesure d'impact social — {ch.title}",
        "subtitle": f"Rapport {profiles.current().term('structure.du')}"
                    + (f", méthode {profiles.current().get('nom_methode')}" if profiles.current().get("nom_methode") else "")
                    + f" — {today_fr()}",
        "lang": settings["lang"],
        "crossref": settings["crossref"],
        "execute": {"enabled": False, "echo": False, "warning": False},
        "format": {"typst": typst},
    }
    path.write_text("---\n" + yaml.safe_dump(header, allow_unicode=True, sort_keys=False) + "---\n\n" + "\n".join(body), encoding="utf-8")
    memo_store(nb_dir, key)
    return path


# --------------------------------------------------------------------------
# memo: a chapter, or a CAE's report, is rewritten only when what it is made of changed
# --------------------------------------------------------------------------
#: Bumped when the memo's inputs change meaning (a cached chapter must never outlive its format).
_MEMO_VERSION = 1
MEMO_FILE = ".memo"


def memo_key(*parts) -> str:
    """SHA-256 of ``parts`` (JSON): the inputs of one generated folder."""
    import hashlib

    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


def memo_hit(folder: Path, key: str) -> bool:
    """``folder`` was generated, completely, from inputs hashing to ``key``."""
    try:
        return (Path(folder) / MEMO_FILE).read_text(encoding="utf-8") == key
    except OSError:
        return False


def memo_store(folder: Path, key: str) -> None:
    """Record that ``folder`` is complete for ``key`` (written last)."""
    (Path(folder) / MEMO_FILE).write_text(key, encoding="utf-8")


def _stamp_fingerprint(folder: Path) -> str:
    """What identifies the executed notebooks of a CAE folder: its stamp as
    written by the run that made them (their inputs' fingerprint and the
    run's time, so that a forced rerun counts as new)."""
    import hashlib

    try:
        return hashlib.sha256((Path(folder) / ".stamp.json").read_bytes()).hexdigest()
    except OSError:
        return ""


def runner_code_fingerprint(methodology_dir: Path | None = None) -> str:
    """The package source, notebooks, method and profile (as the runner hashes them)."""
    from analysis.pipeline.runner import code_fingerprint

    return code_fingerprint(config.NOTEBOOKS_DIR, Path(methodology_dir or config.METHODOLOGY_DIR))


METHOD_MEMO = ".memo-methode.json"


def _method_text(report_dir: Path, methodology_dir: Path | None) -> str:
    """:func:`analysis.reporting.method_doc.render_method`, kept in
    ``report_dir/.memo-methode.json`` for as long as the method files, the
    profile and the code are those it was written from (it imports the
    stage modules and reads every method file: about 2 s)."""
    from analysis.reporting import method_doc

    key = memo_key(_MEMO_VERSION, runner_code_fingerprint(methodology_dir))
    memo = Path(report_dir) / METHOD_MEMO
    try:
        cached = json.loads(memo.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached["text"]
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    text = method_doc.render_method(methodology_dir)
    memo.write_text(json.dumps({"key": key, "text": text}, ensure_ascii=False), encoding="utf-8")
    return text


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------
def assemble(
    processed_dir: Path | None = None,
    out_dir: Path | None = None,
    report_dir: Path | None = None,
    methodology_dir: Path | None = None,
    anonymise: bool | None = None,
) -> list[Chapter]:
    """Write every generated file of the book; return the CAE chapters."""
    import nbformat

    from analysis.method import loader as methodology
    from analysis.publication.formatting import fr_typography
    from analysis.reporting import annexes, glossary, method_doc

    processed_dir = Path(processed_dir or config.PROCESSED_DIR)
    out_dir = Path(out_dir or config.OUT_DIR)
    report_dir = Path(report_dir or config.REPORT_DIR)
    copy_sources(report_dir)
    if anonymise is None:
        pub = methodology.load("publication", methodology_dir)
        anonymise = bool(pub["anonymiser_structures"])

    chapters = chapters_for(_ok_caes(out_dir), processed_dir, anonymise)

    replace = {}
    if anonymise:
        for ch in chapters:
            try:
                info = json.loads((processed_dir / ch.slug / profiles.current().processed_description).read_text(encoding="utf-8"))
                if info.get("nom"):
                    from analysis.publication.escape import html_text

                    # the name as written, and as the notebooks' Markdown and HTML tables escaped it
                    for form in (info["nom"], markdown_text(info["nom"]), html_text(info["nom"])):
                        replace[form] = ch.title
            except FileNotFoundError:
                pass
            replace[ch.slug] = ch.key

    shutil.rmtree(report_dir / "_generated", ignore_errors=True)
    (report_dir / "_generated").mkdir(parents=True)
    keys = {ch.key for ch in chapters} | {"national"}
    for sub, stale in (("cae", lambda p: p.stem not in keys), ("notebooks", lambda p: p.name not in keys)):
        (report_dir / sub).mkdir(parents=True, exist_ok=True)
        for p in (report_dir / sub).iterdir():  # chapters of CAEs no longer in the book
            if stale(p):
                shutil.rmtree(p) if p.is_dir() else p.unlink()

    common = [_MEMO_VERSION, runner_code_fingerprint(), replace, [dataclasses.astuple(c) for c in chapters]]
    for ch in chapters:
        dest = report_dir / "notebooks" / ch.key
        key = memo_key(*common, ch.key, _stamp_fingerprint(out_dir / ch.slug))
        if memo_hit(dest, key) and (report_dir / "cae" / f"{ch.key}.qmd").exists():
            continue  # this CAE's executed notebooks, the names and the code are those of the last assembly
        cells: dict = {}
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for stem in dict.fromkeys(stem for sec in BOOK_SECTIONS for stem, _ in sec.parts):
            src = out_dir / ch.slug / f"{stem}.ipynb"
            if not src.exists():
                continue
            nb = prepare_notebook(nbformat.read(str(src), as_version=4), ch.key, replace, heading_level=3,
                                  title=notebook_title(stem))
            nbformat.write(nb, str(dest / f"{stem}.ipynb"))
            cells[stem] = embeddable(nb, ch.key)
        (report_dir / "cae" / f"{ch.key}.qmd").write_text(
            chapter_qmd(ch, f"../notebooks/{ch.key}", cells), encoding="utf-8"
        )
        memo_store(dest, key)

    nat_src = out_dir / "national" / "10_national.ipynb"
    nat_cells: list = []
    shutil.rmtree(report_dir / "notebooks" / "national", ignore_errors=True)
    if nat_src.exists():
        (report_dir / "notebooks" / "national").mkdir(parents=True, exist_ok=True)
        nb = prepare_notebook(nbformat.read(str(nat_src), as_version=4), "nat", replace, title=notebook_title("10_national"))
        nbformat.write(nb, str(report_dir / "notebooks" / "national" / "10_national.ipynb"))
        nat_cells = embeddable(nb, "nat")
    nat_rel = "notebooks/national/10_national.ipynb"
    gen = report_dir / "_generated"
    in_annex = national_in_annex(len(chapters), methodology_dir)
    (gen / "national.md").write_text(_embeds(nat_rel, [
        c for c in nat_cells if not c[0].startswith("txt-synthese") and c[0] not in in_annex]), encoding="utf-8")
    nat_annex = [c for c in nat_cells if c[0] in in_annex and c[2] is not None]
    (gen / "annexe-nationale.md").write_text(
        "## Synthèse nationale : tableaux détaillés {#sec-annexe-nationale}\n\n" + _embeds(nat_rel, nat_annex)
        if nat_annex else "", encoding="utf-8")
    (gen / "synthese.md").write_text(
        _embeds(nat_rel, [c for c in nat_cells if c[0].startswith("txt-synthese")]), encoding="utf-8"
    )
    (gen / "presentation.md").write_text(fr_typography(presentation_md()), encoding="utf-8")
    (gen / "absentes.md").write_text(fr_typography(missing_caes_md(out_dir, anonymise)), encoding="utf-8")
    method_body, method_tables = split_method(_method_text(report_dir, methodology_dir))
    (gen / "methode.md").write_text(fr_typography(method_body), encoding="utf-8")
    # the annexes: parameters, the method's tables, assumptions, provenance (the data dictionary, a list of
    # column codes for whoever prepares a CAE's files, ships with the input templates, not in the book)
    (gen / "annexes.md").write_text(fr_typography("\n".join([
        annexes.parameters_annex(methodology_dir), method_tables,
        method_doc.assumptions_section(methodology_dir),
        method_doc.provenance_section(chapters, processed_dir, methodology_dir),
    ])), encoding="utf-8")
    (gen / "glossaire.md").write_text(fr_typography(glossary.glossary_md()), encoding="utf-8")

    base = read_yaml((report_dir / "_quarto.base.yml").read_text(encoding="utf-8"))
    chapters_cfg = ["index.qmd", "methode.qmd", "national.qmd"]
    if chapters:
        chapters_cfg.append({"part": profiles.current().get("livre.partie_structures"),
                             "chapters": [{"href": f"cae/{c.key}.qmd", "text": c.nav or c.key} for c in chapters]})
    for key, quarto_key in (("titre", "title"), ("sous_titre", "subtitle"), ("auteur", "author")):
        if profiles.current().get(f"livre.{key}"):
            base["book"][quarto_key] = profiles.current().get(f"livre.{key}")  # the study profile's book
    base["date-fr"] = today_fr()  # on the cover (report/_typst/typst-show.typ); Quarto would parse `date`
    from analysis.reporting import compare  # « sensibilité à la méthode », when a comparison was asked for

    if compare.book_chapter(out_dir, report_dir, replace):
        chapters_cfg.append(compare.BOOK_CHAPTER)
    base["book"]["chapters"] = chapters_cfg
    base["book"]["appendices"] = [f for f in ("annexes.qmd", "glossaire.qmd") if (report_dir / f).exists()]
    header = "# GENERATED by `cae-impact report` from _quarto.base.yml: edit that file, not this one.\n"
    (report_dir / "_quarto.yml").write_text(
        header + yaml.safe_dump(base, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return chapters


def _embeds(nb_rel: str, cells: list) -> str:
    keep = [label for base, label, kind in cells if kind is not None and base.startswith(("fig-", "tbl-", "txt-"))]
    if not keep:
        return "_La synthèse nationale n'a pas encore été exécutée : lancez `make report`._\n"
    out = []
    for base, label, kind in cells:
        if label in keep:
            embed = f"{{{{< embed {nb_rel}#{label} >}}}}"
            if base in WIDE_TABLES and kind == "table":
                embed = "::: {.landscape}\n\n" + embed + "\n\n:::"
            out.append(embed + "\n")
    return "\n".join(out)


#: Méthode sections whose tables the parameter annex already gives
#: (:mod:`analysis.reporting.annexes`), dropped instead of moved.
IN_PARAMETER_ANNEX = ("Réglages généraux", "Proxys financiers", "Coefficients")
_HEAD_RE = re.compile(r"^(#{2,4}) (.*?)\s*(\{#[^}]*\})?\s*$")


def split_method(md: str) -> tuple[str, str]:
    """The Méthode chapter's Markdown (:func:`method_doc.render_method`) split
    into its prose, kept in the book's main body, and its tables, moved to an
    annex (``{#sec-annexe-methode}``) under their section titles, so the
    body stays near the length of the original national report. A ``###``
    heading left with nothing but tables leaves the body; each ``##``
    section that lost a table says where it went. Tables the parameter
    annex already gives (:data:`IN_PARAMETER_ANNEX`) are dropped."""
    blocks: list[tuple[str, list[str]]] = [("", [])]
    for line in md.splitlines():
        if _HEAD_RE.match(line):
            blocks.append((line, []))
        else:
            blocks[-1][1].append(line)
    body: list[str] = []
    annex: list[str] = []
    section = ""  # title of the current ## section, until the annex has written it
    moved_at = None  # where the current ## section says its tables moved
    for head, lines in blocks:
        m = _HEAD_RE.match(head)
        level, title = (len(m.group(1)), m.group(2)) if m else (0, "")
        if level == 2:
            section, moved_at = title, None
        table = [i for i, l in enumerate(lines) if l.startswith("|")]
        table += [i for i, l in enumerate(lines) if l.startswith(": ") and i - 2 in table]
        prose = [l for i, l in enumerate(lines) if i not in table]
        if table and title not in IN_PARAMETER_ANNEX:
            if section:
                annex += [f"### {section}", ""]
                section = ""
            if level > 2:
                annex += [f"{'#' * (level + 1)} {title}", ""]
            annex += [lines[i] for i in sorted(table)] + [""]
        if head and (level == 2 or any(l.strip() for l in prose)):
            body.append(head)
        if level == 2:
            moved_at = len(body)
        if table and moved_at is not None and _MOVED not in body[moved_at:moved_at + 1]:
            body.insert(moved_at, _MOVED)
        body += prose
    annex_md = "\n".join(annex).strip()
    if annex_md:
        annex_md = "## Détail de la méthode {#sec-annexe-methode}\n\n" + annex_md + "\n"
    return re.sub(r"\n{3,}", "\n\n", "\n".join(body)).strip() + "\n", annex_md


_MOVED = ("\nLes tableaux détaillés de cette partie sont en annexe (@sec-annexe-methode) ; chaque paramètre y "
          "figure avec sa valeur et sa source (@sec-annexe-parametres).\n")


def missing_caes_md(out_dir: Path, anonymise: bool) -> str:
    """A French notice naming the CAEs of the run that the book leaves out
    (failed validation or execution); empty when every CAE is in. Anonymised
    books give their number only."""
    missing = _failed_caes(out_dir)
    if not missing:
        return ""
    n = len(missing)
    prof = profiles.current()
    e = "e" if prof.get("termes.structure.genre") == "f" else ""  # agreement of « intégré(e) »
    one, many = prof.term("structure.singulier"), prof.term("structure.pluriel")
    if anonymise:
        who = f"{prof.term('structure.un')} n'a pas pu être intégré{e}" if n == 1 else f"{n} {many} n'ont pas pu être intégré{e}s"
    else:
        names = ", ".join(f"« {s} »" for s in missing)
        who = (f"{prof.term('structure.le')} {names} n'a pas pu être intégré{e}" if n == 1
               else f"{prof.term('structure.les')} {names} n'ont pas pu être intégré{e}s")
    return (
        "::: {.callout-warning}\n"
        f"## {prof.term('structure.majuscule' if n == 1 else 'structure.majuscule_pluriel')} absent{e}{'s' if n > 1 else ''}\n\n"
        f"Lors de ce traitement, {who} : leurs données n'ont pas passé la validation ou leur traitement a échoué "
        f"(le rapport de validation de chaque {one}, `validation.html`, dit pourquoi). Ce rapport est établi "
        f"à partir des autres {many}.\n:::\n"
    )


# --------------------------------------------------------------------------
# render
# --------------------------------------------------------------------------
@dataclass
class RenderResult:
    ok: bool
    warnings: list[str]
    target: str  # the chapter (book) or document Quarto was rendering last
    message: str  # Quarto's error lines, when it failed
    seconds: float


_PROGRESS_RE = re.compile(r"^\s*\[\s*\d+/\d+\]\s+(\S+)", re.M)
_WARN_RE = re.compile(r"^(?:WARN(?:ING)?\b|\s*warning:).*$", re.M | re.I)


def quarto_render(target: Path, *args: str) -> RenderResult:
    """``quarto render target args…`` with a private Quarto cache (renders
    sharing ``~/.cache/quarto`` collide, see the Quarto install notes);
    returns its warnings, and on failure the chapter it was rendering and
    its error lines."""
    import os
    import tempfile
    import time

    t0 = time.perf_counter()
    cache = tempfile.mkdtemp(prefix="cae-quarto-cache-")
    try:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        proc = subprocess.run([quarto_path(), "render", str(target), *args], capture_output=True, text=True, env=env)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    if proc.returncode == 0 and Path(target).is_dir():
        strip_remote_scripts(Path(target) / "_book")
    text = proc.stdout + "\n" + proc.stderr
    warnings = [w.strip() for w in _WARN_RE.findall(text)]
    progress = _PROGRESS_RE.findall(text)
    target_name = progress[-1] if progress else Path(target).name
    message = ""
    if proc.returncode:
        lines = proc.stderr.strip().splitlines()
        start = next((i for i, l in enumerate(lines) if l.startswith("ERROR") or "error" in l.lower()), max(0, len(lines) - 15))
        message = "\n".join(lines[start:start + 15])
    return RenderResult(proc.returncode == 0, warnings, target_name, message, time.perf_counter() - t0)


def strip_remote_scripts(book_dir: Path) -> None:
    """Make every rendered page of the book self-contained: remove the
    scripts Quarto loads from a CDN (:func:`analysis.reporting.export.self_contained`)."""
    from analysis.reporting.export import self_contained

    for page in Path(book_dir).rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        clean = self_contained(html)
        if clean != html:
            page.write_text(clean, encoding="utf-8")


def render(report_dir: Path | None = None) -> int:
    """``quarto render`` the book; return its exit status."""
    res = quarto_render(Path(report_dir or config.REPORT_DIR))
    _report_render("le livre", res)
    return 0 if res.ok else 1


def _report_render(what: str, res: RenderResult) -> None:
    for w in res.warnings:
        print(f"Avertissement de Quarto ({what}) : {w}", file=sys.stderr)
    if not res.ok:
        print(f"Échec du rendu de {what}, au chapitre {res.target} ; Quarto dit :", file=sys.stderr)
        print("  " + res.message.replace("\n", "\n  "), file=sys.stderr)


def build(
    processed_dir: Path | None = None,
    out_dir: Path | None = None,
    render: bool = True,
    anonymise: bool | None = None,
    report_dir: Path | None = None,
) -> int:
    """Assemble, check, and render when Quarto is present (CLI ``report``).

    Incremental: when nothing the book is made of changed since the last
    build (see :func:`book_fingerprint`), assembly and checks are skipped,
    and so is the render if the last one succeeded. The stamp records a
    render only after the book and every CAE report rendered: a failed
    render exits 1, names the chapter and quotes Quarto, and is retried by
    the next build."""
    report_dir = Path(report_dir or config.REPORT_DIR)
    out_dir = Path(out_dir or config.OUT_DIR)
    processed_dir = Path(processed_dir or config.PROCESSED_DIR)
    refused = run_problems(out_dir)
    if refused:
        print("Le livre Quarto n'est pas assemblé : les carnets exécutés ne viennent pas d'une exécution complète.", file=sys.stderr)
        for p in refused:
            print(f"  - {p}", file=sys.stderr)
        return 1
    copy_sources(report_dir)
    fp = book_fingerprint(out_dir, report_dir, anonymise)
    stamp = report_dir / BOOK_STAMP
    state = stamp.read_text() if stamp.exists() else ""
    assembled = state.split(":")[0] == fp and (report_dir / "_quarto.yml").exists()
    if assembled:
        print(f"Livre Quarto à jour dans {report_dir}.")
    else:
        stamp.unlink(missing_ok=True)
        chapters = assemble(processed_dir, out_dir, report_dir, anonymise=anonymise)
        problems = check_book(report_dir)
        for ch in chapters_for(_ok_caes(out_dir), processed_dir, False):
            doc = cae_document(out_dir, ch, report_dir)
            problems += check_embeds(doc, f"{ch.slug}/rapport.qmd")
        if problems:
            print("Le livre Quarto est incohérent :", file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            return 1
        stamp.write_text(f"{fp}:prepare")
        missing = _failed_caes(out_dir)
        extra = f" ; absente{'s' if len(missing) > 1 else ''} : {', '.join(missing)}" if missing else ""
        print(f"Livre Quarto préparé dans {report_dir} ({len(chapters)} {profiles.current().term('structure.pluriel' if len(chapters) > 1 else 'structure.singulier')}{extra}) ; vérification statique : OK.")
    return _render_all(report_dir, out_dir, fp, stamp, render)


def render_jobs() -> int:
    """Parallel Quarto renders: ``CAE_IMPACT_RENDER_JOBS``, else 2 (each
    render is mostly one process; two keep a 2-core machine busy)."""
    import os

    try:
        return max(1, int(os.environ.get("CAE_IMPACT_RENDER_JOBS", "2")))
    except ValueError:
        return 2


def render_many(targets: dict[str, tuple], jobs: int | None = None) -> dict[str, RenderResult]:
    """``{name: quarto_render(*args)}`` for every target, ``jobs`` at a time
    (each render has its own Quarto cache, so they never collide)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=jobs or render_jobs()) as pool:
        futures = {name: pool.submit(quarto_render, *args) for name, args in targets.items()}
        return {name: f.result() for name, f in futures.items()}


def _render_all(report_dir: Path, out_dir: Path, fp: str, stamp: Path, render: bool) -> int:
    """The render part of :func:`build`: the book and each CAE's PDF, in
    parallel (:func:`render_many`)."""
    if not render:
        return 0
    if quarto_path() is None:
        print(QUARTO_HINT.format(out=out_dir))
        return 0
    if stamp.read_text() == f"{fp}:rendu" and (report_dir / "_book" / "index.html").exists():
        print("Livre déjà rendu : rien à faire.")
        return 0
    targets: dict[str, tuple] = {"livre": (report_dir,)}
    for slug in _ok_caes(out_dir):  # each CAE's report as PDF, beside its HTML
        if (out_dir / slug / "rapport.qmd").exists():
            targets[slug] = (out_dir / slug / "rapport.qmd", "--to", "typst")
    results = render_many(targets)
    status = 0
    for name, res in results.items():
        _report_render("livre" if name == "livre" else f"rapport de {name}", res)
        if not res.ok:
            status = 1
        elif name == "livre":
            print(f"Livre rendu en {res.seconds:.0f} s : {report_dir / '_book'} (HTML et PDF).")
        else:
            print(f"Rapport PDF de {name} : {out_dir / name / 'rapport.pdf'}")
    if status == 0:
        stamp.write_text(f"{fp}:rendu")
    return status


def run_problems(out_dir: Path) -> list[str]:
    """Why the executed notebooks under ``out_dir`` must not be published
    (empty = fine), naming them: a run still going or killed (its marker
    ``.run-en-cours.json`` is there); a CAE (or the national synthesis) the
    last run reported as done whose folder holds another run's notebooks
    (stamp fingerprint differing from ``run_summary.json``); a notebook
    that did not run to its end (papermill's per-cell status)."""
    import nbformat

    from analysis.pipeline.runner import RUN_MARKER, STAMP

    out_dir = Path(out_dir)
    problems = []
    if (out_dir / RUN_MARKER).exists():
        problems.append(f"une exécution de « cae-impact run » est en cours ou a été interrompue ({out_dir / RUN_MARKER}) : "
                        "relancez-la jusqu'au bout avant d'assembler le livre")
    summary_path = out_dir / "run_summary.json"
    if not summary_path.exists():
        return problems
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    entries = [c for c in summary.get("caes", []) if c.get("ok")]
    if summary.get("national") and summary["national"].get("ok"):
        entries.append(summary["national"])
    for c in entries:
        folder = out_dir / c["cae"]
        try:
            stamp = json.loads((folder / STAMP).read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError):
            stamp = None
        if c.get("fingerprint") and stamp != c["fingerprint"]:
            problems.append(f"{c['cae']} : carnets d'une autre exécution que la dernière (empreinte différente de run_summary.json)")
            continue
        stems = [registry.national_stage().carnet] if c["cae"] == "national" else [st.carnet for st in registry.cae_stages()]
        for stem in stems:
            nb_path = folder / f"{stem}.ipynb"
            if not nb_path.exists():
                problems.append(f"{c['cae']} : carnet absent : {stem}.ipynb")
                continue
            nb = nbformat.read(str(nb_path), as_version=4)
            statuses = {cell.get("metadata", {}).get("papermill", {}).get("status") for cell in nb.cells if cell.cell_type == "code"}
            if nb.metadata.get("papermill", {}).get("exception") or statuses - {"completed", None}:
                problems.append(f"{c['cae']} : carnet exécuté en partie seulement : {stem}.ipynb")
    return problems


def _run_caes(out_dir: Path) -> list[dict]:
    summary = Path(out_dir) / "run_summary.json"
    if not summary.exists():
        return []
    return json.loads(summary.read_text(encoding="utf-8"))["caes"]


def _ok_caes(out_dir: Path) -> list[str]:
    """CAEs whose run succeeded and whose notebooks are present."""
    caes = [c["cae"] for c in _run_caes(out_dir) if c["ok"]]
    return [c for c in caes if all((Path(out_dir) / c / f"{stem}.ipynb").exists() for stem in REPORT_NOTEBOOKS)]


def _failed_caes(out_dir: Path) -> list[str]:
    """CAEs of the last run that the book leaves out."""
    ok = set(_ok_caes(out_dir))
    return [c["cae"] for c in _run_caes(out_dir) if c["cae"] not in ok]


BOOK_STAMP = ".book-stamp"


def book_fingerprint(out_dir: Path, report_dir: Path, anonymise) -> str:
    """Hash of what the book is made of: the CAEs that succeeded, the stamps of
    every executed CAE and of the national notebook (which already hash
    data, method, notebooks and code), the book's own sources, the package
    source and the methodology (the Méthode chapter), the anonymisation flag."""
    import hashlib

    from analysis.pipeline.runner import code_fingerprint

    h = hashlib.sha256(str(anonymise).encode())
    summary = Path(out_dir) / "run_summary.json"
    if summary.exists():  # which CAEs succeeded, not timings (a no-op run rewrites the summary)
        h.update(",".join(c["cae"] for c in json.loads(summary.read_text(encoding="utf-8"))["caes"] if c["ok"]).encode())
    for p in sorted(Path(out_dir).glob("*/.stamp.json")):
        h.update(json.loads(p.read_text()).get("fingerprint", "").encode())
    for p in [q for q in sorted(Path(report_dir).glob("*.qmd")) if q.name != "sensibilite.qmd"] + [Path(report_dir) / "_quarto.base.yml"]:
        h.update(p.name.encode() + (p.read_bytes() if p.exists() else b"-"))  # sources only, not generated chapters
    h.update(code_fingerprint(config.NOTEBOOKS_DIR, config.METHODOLOGY_DIR).encode())
    cmp = Path(out_dir) / "comparaison" / "comparaison.json"  # the method-sensitivity chapter
    h.update(cmp.read_bytes() if cmp.exists() else b"-")
    return h.hexdigest()
