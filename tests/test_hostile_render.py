"""Hostile CAE names through the whole chain (issue #19): run, assemble and
render the Quarto book (HTML, search index, Typst PDF) and every CAE's PDF
report for two demo CAEs whose ``nom`` and ``region`` carry HTML, Quarto
shortcodes (the key in ``CAE_IMPACT_KEY``, ``/etc/passwd``), a new line
and Markdown, then search every file of the output folders.

What must never be found: a planted tag as markup (HTML, the HTML fields of
``search.json``), a shortcode opener ``{{<`` (Quarto would run it), the
result of one (the key, a line of the included file), Markdown backslash
escapes shown as text (an unrendered name). The planted text shown *as
text* (``&lt;script&gt;`` in HTML, the letters in a PDF or in the plain-text
fields of ``search.json``, which Quarto's search inserts as text nodes) is
the expected outcome. Skipped, with the reason, without Quarto."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analysis.reporting import book

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]

NAMES = {
    0: ("Coop {{< env CAE_IMPACT_KEY >}} <script>alert(1)</script>", 'Reg <img src=x onerror=alert(3)> {{< meta title >}} "q" *é*'),
    1: ("Bat\n{{< include /etc/passwd >}}\n# Faux <img src=x onerror=alert(2)> l'Ouest & [l](u)", None),
}
PASSWD_LINE = re.compile(r"root:[^:\s]*:0:0:")
#: A planted tag read as markup: ``<script>alert``, ``<img … onerror``, in any spelling the
#: escapes could leave (``\<img src\=x onerror\=…``, as Quarto's sidebar pasted it).
TAG = re.compile(r"<\\?(?:script\\?>\s*alert|img\b[^>]*?onerror)", re.I)
SHORTCODE = re.compile(r"\{\s*\{\s*<")
#: Markdown backslash escapes of the names (``\{``, ``\<``, ``\#``, ``\*``, ``\'``, ``\[``) shown as text.
MD_ESCAPE = re.compile(r"\\[{}<>#*'\[\]&]")


def _yaml_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # JSON strings are YAML double-quoted scalars


@pytest.fixture(scope="module")
def hostile_book(tmp_path_factory, pseudonym_key):
    from analysis.intake import demo
    from analysis.pipeline import runner

    if shutil.which("quarto") is None:
        pytest.skip("quarto n'est pas installé (PATH) : rendu non testé")
    root = tmp_path_factory.mktemp("hostile-render")
    raw, processed, out = root / "raw", root / "processed", root / "out"
    slugs = demo.generate(raw, n_cae=2, seed=2019, scale=0.5)
    for k, slug in enumerate(slugs):
        nom, region = NAMES[k]
        p = raw / slug / "cae.yml"
        text = re.sub(r"^nom: .*$", lambda m: "nom: " + _yaml_str(nom), p.read_text(encoding="utf-8"), flags=re.M)
        if region:
            text = re.sub(r"^region: .*$", lambda m: "region: " + _yaml_str(region), text, flags=re.M)
        p.write_text(text, encoding="utf-8")
    summary = runner.run(raw_dir=raw, processed_dir=processed, out_dir=out, jobs=2, progress=runner.Progress(quiet=True))
    assert all(c["ok"] for c in summary["caes"]), summary["caes"]
    report = root / "report"
    shutil.copytree(ROOT / "report", report, ignore=shutil.ignore_patterns(
        "_quarto.yml", "cae", "notebooks", "_generated", "_book", ".book-stamp", ".quarto"))
    assert book.build(processed, out, render=False, report_dir=report) == 0  # static check included
    targets = {"livre": (report,)}
    targets.update({s: (out / s / "rapport.qmd", "--to", "typst") for s in slugs})
    results = book.render_many(targets)
    for target, res in results.items():
        assert res.ok, f"{target}: {res.message}"
    return {"report": report, "out": out, "slugs": slugs, "key": os.environ["CAE_IMPACT_KEY"]}


def _published_files(hostile_book) -> list[Path]:
    files = [p for p in (hostile_book["report"] / "_book").rglob("*") if p.is_file() and "site_libs" not in p.parts]
    for slug in hostile_book["slugs"]:
        files += [p for p in (hostile_book["out"] / slug).iterdir() if p.suffix in (".html", ".pdf", ".csv")]
    files += list((hostile_book["out"] / "national").glob("*.html"))
    return files


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_the_chain_renders_what_it_checks(hostile_book):
    files = _published_files(hostile_book)
    names = {p.name for p in files}
    assert {"index.html", "search.json", "rapport-national.pdf", "rapport.pdf", "rapport.html"} <= names
    assert len([p for p in files if p.suffix == ".pdf"]) == 1 + len(hostile_book["slugs"])


def test_no_planted_markup_shortcode_key_or_file_anywhere(hostile_book):
    key, found = hostile_book["key"], []
    for path in _published_files(hostile_book):
        if path.suffix == ".pdf":
            if shutil.which("pdftotext") is None:
                continue
            texts = {"texte": _pdf_text(path)}
        elif path.suffix in (".html", ".csv", ".json", ".xml"):
            raw = path.read_text(encoding="utf-8", errors="replace")
            texts = {"source": raw}
            if path.name == "search.json":  # text fields (title, section) are shown as text; text and crumbs as HTML
                entries = json.loads(raw)
                texts = {"html": "\n".join(e.get("text", "") + "\n".join(e.get("crumbs") or []) for e in entries),
                         "texte": "\n".join(e.get("title", "") + "\n" + e.get("section", "") for e in entries)}
        else:
            continue
        for kind, text in texts.items():
            where = f"{path.name} ({kind})"
            if key in text:
                found.append(f"{where}: la clé")
            if PASSWD_LINE.search(text):
                found.append(f"{where}: /etc/passwd")
            m = SHORTCODE.search(text)
            if m:
                found.append(f"{where}: raccourci {text[max(0, m.start() - 40):m.end() + 20]!r}")
            if kind in ("source", "html") and path.suffix != ".csv":
                m = TAG.search(text)
                if m:
                    found.append(f"{where}: balise {text[max(0, m.start() - 60):m.end() + 20]!r}")
                m = MD_ESCAPE.search(_visible(text))
                if m:
                    t = _visible(text)
                    found.append(f"{where}: échappement Markdown affiché {t[max(0, m.start() - 40):m.end() + 20]!r}")
    assert found == []


def _visible(html: str) -> str:
    """HTML without scripts, styles and tags, and with attribute values kept
    (Quarto puts titles in ``aria-label`` and ``data-notebook-title``)."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    attrs = " ".join(re.findall(r'(?:aria-label|title|data-notebook-title)="([^"]*)"', html))
    return re.sub(r"<[^>]+>", " ", html) + " " + attrs


def test_the_names_are_shown_as_text(hostile_book):
    """The escaping kept the names readable: the sidebar and headings show
    them (HTML entities in the source), braces apart, on one line."""
    page = (hostile_book["report"] / "_book" / "cae" / f"{hostile_book['slugs'][0]}.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    side = re.findall(r'<span class="chapter-title">(.*?)</span>', page, re.S)
    assert any("Coop {\u2060{&lt; env CAE_IMPACT_KEY &gt;}\u2060} &lt;script&gt;" in s for s in side), side
    titles = re.findall(r'data-notebook-title="([^"]*)"', page)
    assert titles and not any("Coop" in t for t in titles), set(titles)
