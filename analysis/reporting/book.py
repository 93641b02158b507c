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
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from analysis import config
from analysis.pipeline import registry

EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^#\s>]+)#([^\s>]+)\s*>\}\}")
LABEL_RE = re.compile(r"^#\|\s*label:\s*(\S+)\s*$", re.M)
QUARTO_HINT = (
    "Quarto introuvable : le livre n'a pas été rendu (HTML et PDF). Les rapports HTML de chaque CAE et la "
    "synthèse nationale sont dans {out}. Pour obtenir le livre : `pip install quarto-cli` sur une machine "
    "reliée à Internet, ou `conda env create -f environment.yml` (paquet conda-forge `quarto`), puis "
    "relancez `make report`."
)

#: Per-CAE notebooks whose labelled cells a CAE chapter embeds, in order,
#: with the French section title of each (from the stage registry).
CHAPTER_SECTIONS = [(s.carnet, s.titre) for s in registry.book_stages()]


@dataclass
class Chapter:
    key: str  # file-safe key: the slug, or cae-<k> when anonymised
    title: str
    slug: str


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


def prepare_notebook(nb, key: str, replace: dict[str, str] | None = None):
    """A copy of ``nb`` for the book: labels suffixed with ``-<key>``, the
    injected-parameters cell removed, text replaced (anonymisation)."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if {"injected-parameters", "parameters", "remove-cell"} & set(tags):
            continue
        if cell.cell_type == "code":
            cell.source = LABEL_RE.sub(lambda m: f"#| label: {m.group(1)}-{key}", cell.source)
            if replace:
                for output in cell.get("outputs", []):
                    _replace_in_output(output, replace)
        elif replace:
            cell.source = _replace_text(cell.source, replace)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("papermill", None)
    return nb


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
            chapters.append(Chapter(key=f"cae-{k}", title=f"CAE {k}", slug=slug))
        else:
            try:
                info = json.loads((Path(processed_dir) / slug / "cae.json").read_text(encoding="utf-8"))
                title = info.get("nom", slug)
            except FileNotFoundError:
                title = slug
            chapters.append(Chapter(key=slug, title=title, slug=slug))
    return chapters


def chapter_qmd(ch: Chapter, nb_dir: str, available: dict[str, set[str]]) -> str:
    """A CAE chapter: every labelled output of its notebooks, in section order."""
    lines = [f"# {ch.title} {{#sec-{ch.key}}}", ""]
    for stem, section in CHAPTER_SECTIONS:
        labels = sorted(available.get(stem, set()), key=_label_order(stem, available))
        labels = [l for l in labels if l.startswith(("fig-", "tbl-", "txt-"))]
        if not labels:
            continue
        lines += [f"## {section}", ""]
        for label in labels:
            lines += [f"{{{{< embed {nb_dir}/{stem}.ipynb#{label} >}}}}", ""]
    return "\n".join(lines)


def _label_order(stem, available):
    order = available.get(f"__order__{stem}", [])
    return lambda l: order.index(l) if l in order else len(order)


def _ordered_labels(nb) -> list[str]:
    out = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            out += LABEL_RE.findall(cell.source)
    return out


# --------------------------------------------------------------------------
# static checks
# --------------------------------------------------------------------------
def check_book(report_dir: Path) -> list[str]:
    """Static problems of the book (empty list = fine): ``_quarto.yml``
    parses, every chapter exists, every embedded notebook and label exists."""
    report_dir = Path(report_dir)
    problems = []
    cfg_path = report_dir / "_quarto.yml"
    try:
        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    except Exception as exc:
        return [f"_quarto.yml illisible : {exc}"]
    if cfg.get("project", {}).get("type") != "book":
        problems.append("_quarto.yml : project.type doit valoir « book »")
    files = []
    for entry in cfg.get("book", {}).get("chapters", []) + cfg.get("book", {}).get("appendices", []):
        if isinstance(entry, str):
            files.append(entry)
        elif isinstance(entry, dict):
            files += [c for c in entry.get("chapters", []) if isinstance(c, str)]
    labels_cache: dict[Path, set[str]] = {}
    for f in files:
        qmd = report_dir / f
        if not qmd.exists():
            problems.append(f"chapitre absent : {f}")
            continue
        problems += check_embeds(qmd, f, labels_cache)
    return problems


def check_embeds(qmd: Path, name: str, labels_cache: dict | None = None) -> list[str]:
    """Problems with the includes and embeds of one ``.qmd`` (empty = fine):
    every included file, embedded notebook and cell label must exist."""
    import nbformat

    labels_cache = {} if labels_cache is None else labels_cache
    problems = []
    text = qmd.read_text(encoding="utf-8")
    for inc in re.findall(r"\{\{<\s*include\s+(\S+)\s*>\}\}", text):
        if not (qmd.parent / inc).exists():
            problems.append(f"{name} : fichier inclus absent : {inc}")
        else:
            text += (qmd.parent / inc).read_text(encoding="utf-8")
    for nb_rel, label in EMBED_RE.findall(text):
        nb_path = (qmd.parent / nb_rel).resolve()
        if not nb_path.exists():
            problems.append(f"{name} : carnet intégré absent : {nb_rel}")
            continue
        if nb_path not in labels_cache:
            labels_cache[nb_path] = cell_labels(nbformat.read(str(nb_path), as_version=4))
        if label not in labels_cache[nb_path]:
            problems.append(f"{name} : cellule « {label} » absente de {nb_rel}")
    return problems


def cae_document(out_dir: Path, ch: Chapter) -> Path:
    """``<out>/<cae>/rapport.qmd``: the CAE's standalone report (summary,
    then the four stages) as a Quarto document embedding the labelled cells
    of its executed notebooks, for a Typst PDF when Quarto is present."""
    import nbformat

    cae_out = Path(out_dir) / ch.slug
    available: dict = {}
    for stem, _ in CHAPTER_SECTIONS:
        src = cae_out / f"{stem}.ipynb"
        if src.exists():
            nb = nbformat.read(str(src), as_version=4)
            available[stem] = cell_labels(nb)
            available[f"__order__{stem}"] = _ordered_labels(nb)
    body = chapter_qmd(Chapter(key=ch.key, title=ch.title, slug=ch.slug), ".", available)
    body = body.split("\n", 1)[1]  # the title goes to the front matter
    header = {
        "title": f"Mesure d'impact social — {ch.title}",
        "lang": "fr",
        "execute": {"enabled": False, "echo": False, "warning": False},
        "format": {"typst": {"papersize": "a4", "margin": {"x": "2.5cm", "y": "2.5cm"}, "toc": True}},
    }
    path = cae_out / "rapport.qmd"
    path.write_text("---\n" + yaml.safe_dump(header, allow_unicode=True, sort_keys=False) + "---\n" + body, encoding="utf-8")
    return path


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

    from analysis.reporting import method_doc
    from analysis.method import loader as methodology

    processed_dir = Path(processed_dir or config.PROCESSED_DIR)
    out_dir = Path(out_dir or config.OUT_DIR)
    report_dir = Path(report_dir or config.REPORT_DIR)
    if anonymise is None:
        anonymise = bool(methodology.load("publication", methodology_dir).get("anonymiser_cae", False))

    chapters = chapters_for(_ok_caes(out_dir), processed_dir, anonymise)

    replace = {}
    if anonymise:
        for ch in chapters:
            try:
                info = json.loads((processed_dir / ch.slug / "cae.json").read_text(encoding="utf-8"))
                if info.get("nom"):
                    replace[info["nom"]] = ch.title
            except FileNotFoundError:
                pass
            replace[ch.slug] = ch.key

    for sub in ("cae", "notebooks", "_generated"):
        shutil.rmtree(report_dir / sub, ignore_errors=True)
        (report_dir / sub).mkdir(parents=True)

    for ch in chapters:
        available: dict = {}
        dest = report_dir / "notebooks" / ch.key
        dest.mkdir(parents=True)
        for stem, _ in CHAPTER_SECTIONS:
            src = out_dir / ch.slug / f"{stem}.ipynb"
            if not src.exists():
                continue
            nb = prepare_notebook(nbformat.read(str(src), as_version=4), ch.key, replace)
            nbformat.write(nb, str(dest / f"{stem}.ipynb"))
            available[stem] = cell_labels(nb)
            available[f"__order__{stem}"] = _ordered_labels(nb)
        (report_dir / "cae" / f"{ch.key}.qmd").write_text(
            chapter_qmd(ch, f"../notebooks/{ch.key}", available), encoding="utf-8"
        )

    nat_src = out_dir / "national" / "10_national.ipynb"
    nat_labels: list[str] = []
    if nat_src.exists():
        (report_dir / "notebooks" / "national").mkdir(parents=True, exist_ok=True)
        nb = prepare_notebook(nbformat.read(str(nat_src), as_version=4), "nat", replace)
        nbformat.write(nb, str(report_dir / "notebooks" / "national" / "10_national.ipynb"))
        nat_labels = _ordered_labels(nb)
    (report_dir / "_generated" / "national.md").write_text(
        _embeds("notebooks/national/10_national.ipynb", nat_labels, exclude_prefix="txt-synthese"),
        encoding="utf-8",
    )
    (report_dir / "_generated" / "synthese.md").write_text(
        _embeds("notebooks/national/10_national.ipynb", [l for l in nat_labels if l.startswith("txt-synthese")]),
        encoding="utf-8",
    )
    (report_dir / "_generated" / "methode.md").write_text(method_doc.render_method(methodology_dir), encoding="utf-8")
    (report_dir / "_generated" / "annexes.md").write_text(
        method_doc.render_annexes(chapters, processed_dir, methodology_dir), encoding="utf-8"
    )

    base = yaml.safe_load((report_dir / "_quarto.base.yml").read_text(encoding="utf-8"))
    chapters_cfg = ["index.qmd", "methode.qmd"]
    if chapters:
        chapters_cfg.append({"part": "Les coopératives", "chapters": [f"cae/{c.key}.qmd" for c in chapters]})
    chapters_cfg.append("national.qmd")
    base["book"]["chapters"] = chapters_cfg
    base["book"]["appendices"] = ["annexes.qmd"]
    header = "# GENERATED by `cae-impact report` from _quarto.base.yml: edit that file, not this one.\n"
    (report_dir / "_quarto.yml").write_text(
        header + yaml.safe_dump(base, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return chapters


def _embeds(nb_rel: str, labels: list[str], exclude_prefix: str | None = None) -> str:
    keep = [l for l in labels if not (exclude_prefix and l.startswith(exclude_prefix))]
    keep = [l for l in keep if l.startswith(("fig-", "tbl-", "txt-"))]
    if not keep:
        return "_La synthèse nationale n'a pas encore été exécutée : lancez `make report`._\n"
    return "\n".join(f"{{{{< embed {nb_rel}#{l} >}}}}\n" for l in keep)


def render(report_dir: Path | None = None) -> int:
    """``quarto render`` the book; return its exit status."""
    report_dir = Path(report_dir or config.REPORT_DIR)
    proc = subprocess.run([quarto_path(), "render", str(report_dir)], capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode


def build(
    processed_dir: Path | None = None,
    out_dir: Path | None = None,
    render: bool = True,
    anonymise: bool | None = None,
    report_dir: Path | None = None,
) -> int:
    """Assemble, check, and render when Quarto is present (CLI ``report``).

    Incremental: when nothing the book is made of changed since the last
    successful build (see :func:`book_fingerprint`), assembly and checks are
    skipped, and so is the render if the rendered book exists."""
    report_dir = Path(report_dir or config.REPORT_DIR)
    out_dir = Path(out_dir or config.OUT_DIR)
    fp = book_fingerprint(out_dir, report_dir, anonymise)
    stamp = report_dir / BOOK_STAMP
    fresh = stamp.exists() and stamp.read_text() == fp and (report_dir / "_quarto.yml").exists()
    if fresh:
        print(f"Livre Quarto à jour dans {report_dir}.")
    else:
        stamp.unlink(missing_ok=True)
        chapters = assemble(processed_dir, out_dir, report_dir, anonymise=anonymise)
        problems = check_book(report_dir)
        for ch in chapters_for(_ok_caes(out_dir), Path(processed_dir or config.PROCESSED_DIR), False):
            doc = cae_document(out_dir, ch)
            problems += check_embeds(doc, f"{ch.slug}/rapport.qmd")
        if problems:
            print("Le livre Quarto est incohérent :", file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            return 1
        stamp.write_text(fp)
        print(f"Livre Quarto préparé dans {report_dir} ({len(chapters)} CAE) ; vérification statique : OK.")
    if not render:
        return 0
    if quarto_path() is None:
        print(QUARTO_HINT.format(out=out_dir))
        return 0
    if fresh and (report_dir / "_book" / "index.html").exists():
        print("Livre déjà rendu : rien à faire.")
        return 0
    status = globals()["render"](report_dir)
    for slug in _ok_caes(out_dir):  # each CAE's report as PDF, beside its HTML
        doc = out_dir / slug / "rapport.qmd"
        if doc.exists():
            proc = subprocess.run([quarto_path(), "render", str(doc), "--to", "typst"], capture_output=True, text=True)
            if proc.returncode:
                sys.stderr.write(proc.stderr)
                status = status or proc.returncode
            else:
                print(f"Rapport PDF de {slug} : {out_dir / slug / 'rapport.pdf'}")
    return status


def _ok_caes(out_dir: Path) -> list[str]:
    """CAEs whose run succeeded and whose notebooks are present."""
    summary = Path(out_dir) / "run_summary.json"
    if not summary.exists():
        return []
    caes = [c["cae"] for c in json.loads(summary.read_text(encoding="utf-8"))["caes"] if c["ok"]]
    return [c for c in caes if (Path(out_dir) / c / f"{CHAPTER_SECTIONS[0][0]}.ipynb").exists()]


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
    for p in sorted(Path(report_dir).glob("*.qmd")) + [Path(report_dir) / "_quarto.base.yml"]:
        h.update(p.name.encode() + (p.read_bytes() if p.exists() else b"-"))  # sources only, not generated chapters
    h.update(code_fingerprint(config.NOTEBOOKS_DIR, config.METHODOLOGY_DIR).encode())
    return h.hexdigest()
