"""Rendering with Quarto: the national book (HTML and Typst PDF) and every
CAE's PDF report, on the session's 2-CAE demo (``e2e_run``), rendered once
(module fixture) and searched for what a reader must never meet. Skipped,
with the reason, when ``quarto`` is not on PATH. The honest-build tests use
a fake ``quarto`` and run everywhere."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from analysis.reporting import book

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
needs_quarto = pytest.mark.skipif(shutil.which("quarto") is None, reason="quarto n'est pas installé (PATH) : rendu non testé")
needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) absent : texte des PDF non lu")

#: Words and codes a rendered page must not show: Python's missing values,
#: Quarto's English defaults, raw column codes and result-file keys.
FORBIDDEN = [r"\bnan\b", r"\bNone\b", r"\bTable \d", r"\bChapter\b", r"\bAppendix\b", r"\bFigure \d+:",
             r"qvt_charge_\d", r"who5_\d", r"valeur_actuelle", r"\bintrants\b\s*\|", r"Invalid Date", r"Annexe A\s*—\s*Annexes"]
EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*(?:src|href)=[\"']https?://", re.I)


def _copy_report(dest: Path) -> Path:
    shutil.copytree(ROOT / "report", dest, ignore=shutil.ignore_patterns(
        "_quarto.yml", "cae", "notebooks", "_generated", "_book", ".book-stamp", ".quarto"))
    return dest


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return re.sub(r"<[^>]+>", " ", html)


def _forbidden_in(text: str) -> list[str]:
    return [pat for pat in FORBIDDEN if re.search(pat, text)]


def _build_and_render(processed: Path, out: Path, report: Path, slugs, run: str) -> dict:
    """Assemble the book into ``report`` (static check included) and render it
    and each structure's PDF; the Quarto results by target (times logged)."""
    assert book.build(processed, out, render=False, report_dir=report) == 0
    targets = {"livre": (report,)}
    targets.update({s: (out / s / "rapport.qmd", "--to", "typst") for s in slugs})
    results = book.render_many(targets)
    _log_times(run, results)
    return results


def _log_times(run: str, results: dict) -> None:
    """Render times in the test log (``pytest -s`` or the captured output of a failure)."""
    import sys

    sys.stderr.write(f"rendu ({run}) : " + ", ".join(f"{k} {r.seconds:.0f} s" for k, r in results.items()) + "\n")


@pytest.fixture(scope="module")
def rendered(e2e_run, tmp_path_factory):
    """Assemble (static check included) and render the book and each CAE's
    PDF once; the Quarto results by target."""
    report = _copy_report(tmp_path_factory.mktemp("render") / "report")
    return report, _build_and_render(e2e_run["processed"], e2e_run["out"], report, e2e_run["slugs"], "démo")


@needs_quarto
def test_book_and_every_cae_report_render_without_warnings(rendered, e2e_run):
    report, results = rendered
    for target, res in results.items():
        assert res.ok, f"{target}: {res.target}: {res.message}"
        assert res.warnings == [], f"{target}: {res.warnings}"
    assert (report / "_book" / "index.html").exists()
    assert list((report / "_book").glob("*.pdf"))
    for slug in e2e_run["slugs"]:
        assert (e2e_run["out"] / slug / "rapport.pdf").read_bytes()[:4] == b"%PDF"


@needs_quarto
def test_rendered_html_is_french_self_contained_and_clean(rendered, e2e_run):
    report, _ = rendered
    pages = list((report / "_book").rglob("*.html"))
    pages += [e2e_run["out"] / s / "rapport.html" for s in e2e_run["slugs"]]
    assert len(pages) >= 6
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not EXTERNAL.search(html), f"{page.name}: {EXTERNAL.search(html).group(0)}"
        assert "mathjax" not in html.lower() and "require.min.js" not in html, page.name
        bad = _forbidden_in(_visible_text(html))
        assert not bad, f"{page.name}: {bad}"
    index = (report / "_book" / "index.html").read_text(encoding="utf-8")
    assert "Glossaire" in index and "Tableau" in (report / "_book" / "national.html").read_text(encoding="utf-8")


@needs_quarto
@needs_pdftotext
def test_rendered_pdfs_speak_french_and_show_no_raw_value(rendered, e2e_run):
    report, _ = rendered
    pdfs = list((report / "_book").glob("*.pdf")) + [e2e_run["out"] / s / "rapport.pdf" for s in e2e_run["slugs"]]
    for pdf in pdfs:
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Tableau" in text and "Figure" in text, pdf.name
        bad = _forbidden_in(text)
        assert not bad, f"{pdf.name}: {bad}"
        assert re.search(r"\b1er\s+\w+\s+\d{4}|\b\d{1,2}\s+(janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre)\s+\d{4}", text), pdf.name
        assert not re.search(r"du \d{4}-\d{2}-\d{2} au", text), pdf.name
    book_text = subprocess.run(["pdftotext", str(pdfs[0]), "-"], capture_output=True, text=True, check=True).stdout
    assert "Chapitre" in book_text and "Glossaire" in book_text


def orphan_captions(pdf_text: str) -> list[tuple[int, str]]:
    """(page, caption) of each table caption printed among the last two lines
    of a page (its page number aside): a caption whose table starts on the
    next page. ``pdf_text`` is pdftotext's output (pages split by form feeds)."""
    found = []
    for number, page in enumerate(pdf_text.split("\f"), 1):
        lines = [ln.strip() for ln in page.splitlines() if ln.strip() and not ln.strip().isdigit()]
        found += [(number, ln) for ln in lines[-2:] if re.match(r"Tableau [A-Z]?[0-9.]+ :", ln)]
    return found


@needs_quarto
@needs_pdftotext
def test_no_table_caption_ends_a_page(rendered, e2e_run):
    """A table's caption (above it) stays on the page of the table's first
    rows: ``block(sticky: true)`` in _quarto.base.yml (without it, the national
    annex of a 7-CAE book printed « Tableau A.3 » alone at the foot of a page)."""
    report, _ = rendered
    for pdf in list((report / "_book").glob("*.pdf")) + [e2e_run["out"] / s / "rapport.pdf" for s in e2e_run["slugs"]]:
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert not orphan_captions(text), (pdf.name, orphan_captions(text))


# --------------------------------------------------------------------------- a CAE without questionnaire, one of 12 people
SMALL = 12


def _shrink_csv_cae(folder: Path, n: int) -> set[str]:
    """Keep the first ``n`` people of a demo CAE written as French CSV
    (``;``, Windows-1252) and their activity rows; keep at most ``n // 2``
    questionnaire answers (anonymous or from the people kept). Returns the
    identifiers kept."""
    import csv

    def rw(name, keep):
        path = folder / name
        with path.open(encoding="cp1252", newline="") as fh:
            rows = list(csv.reader(fh, delimiter=";"))
        kept = [rows[0]] + [r for i, r in enumerate(rows[1:]) if keep(i, r)]
        with path.open("w", encoding="cp1252", newline="") as fh:
            csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows(kept)
        return kept

    ids = {r[0] for r in rw("entrepreneurs.csv", lambda i, r: i < n)[1:]}
    rw("activite.csv", lambda i, r: r[0] in ids)
    if (folder / "questionnaire.csv").exists():
        answers = []  # at most n // 2 answers, anonymous or from the people kept
        rw("questionnaire.csv", lambda i, r: (r[0] in ids or not r[0]) and len(answers) < n // 2 and not answers.append(i))
    return ids


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, pseudonym_key):
    """Two demo CAEs: one without questionnaire, one of 12 people; run,
    assembled and rendered once (book and each CAE's PDF)."""
    from analysis.intake import demo
    from analysis.pipeline import runner

    if shutil.which("quarto") is None:
        pytest.skip("quarto n'est pas installé (PATH) : rendu non testé")
    root = tmp_path_factory.mktemp("hostile")
    raw, processed, out = root / "raw", root / "processed", root / "out"
    slugs = demo.generate(raw, n_cae=2, seed=2019, scale=0.5)
    small = next(s for s in slugs if (raw / s / "entrepreneurs.csv").exists())
    no_survey = next(s for s in slugs if s != small)
    assert len(_shrink_csv_cae(raw / small, SMALL)) == SMALL
    for f in (raw / no_survey).glob("questionnaire.*"):
        f.unlink()
    summary = runner.run(raw_dir=raw, processed_dir=processed, out_dir=out, jobs=2, progress=runner.Progress(quiet=True))
    assert all(c["ok"] for c in summary["caes"]), summary["caes"]
    report = _copy_report(root / "report")
    results = _build_and_render(processed, out, report, slugs, "difficile")
    return {"report": report, "out": out, "results": results, "small": small, "no_survey": no_survey}


_HEADING_RE = re.compile(r"^(#{1,6}) \S")


def _empty_headings(qmd_text: str) -> list[str]:
    """Headings followed by nothing but a heading of the same or a higher
    level (or the end): what a reader would meet as an empty section."""
    lines = [l for l in qmd_text.splitlines() if l.strip()]
    out = []
    for i, line in enumerate(lines):
        m = _HEADING_RE.match(line)
        if not m:
            continue
        nxt = _HEADING_RE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if i + 1 == len(lines) or (nxt and len(nxt.group(1)) <= len(m.group(1))):
            out.append(line)
    return out


def test_empty_headings_are_found():
    assert _empty_headings("# A\n\n## B\n\ntexte\n\n## C\n\n# D\n\nfin\n") == ["## C"]
    assert _empty_headings("# A\n## B\n") == ["## B"]


@needs_quarto
def test_a_cae_without_survey_and_one_of_12_people_render_without_warnings_or_empty_sections(hostile):
    for target, res in hostile["results"].items():
        assert res.ok, f"{target}: {res.target}: {res.message}"
        assert res.warnings == [], f"{target}: {res.warnings}"
    report, out = hostile["report"], hostile["out"]
    docs = {f"livre/{p.name}": p for p in (report / "cae").glob("*.qmd")}
    docs.update({f"{s}/rapport.qmd": out / s / "rapport.qmd" for s in (hostile["small"], hostile["no_survey"])})
    for name, qmd in docs.items():
        assert _empty_headings(qmd.read_text(encoding="utf-8")) == [], name
    # the QVT section of the CAE without questionnaire says why it shows nothing, in French
    html = (report / "_book" / "cae" / f"{hostile['no_survey']}.html").read_text(encoding="utf-8")
    qvt = _visible_text(html.split("La qualité de vie au travail", 1)[1])
    assert "questionnaire" in qvt, qvt[:300]
    for page in list((report / "_book").rglob("*.html")):
        text = _visible_text(page.read_text(encoding="utf-8"))
        assert not _forbidden_in(text), f"{page.name}: {_forbidden_in(text)}"
    assert (out / hostile["small"] / "rapport.pdf").read_bytes()[:4] == b"%PDF"


# --------------------------------------------------------------------------- honest build (fake quarto)
def _fake_quarto(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    q = bin_dir / "quarto"
    q.write_text("#!/usr/bin/env bash\n" + script)
    q.chmod(q.stat().st_mode | stat.S_IEXEC)


def test_a_failed_render_exits_1_names_the_chapter_and_is_retried(e2e_run, tmp_path, monkeypatch, capsys):
    report = _copy_report(tmp_path / "report")
    _fake_quarto(tmp_path / "bin", 'echo "[ 1/9] index.qmd"; echo "[ 2/9] cae/demo-x.qmd"\n'
                                   'echo "ERROR: pagebreaks are not allowed inside of containers" >&2; exit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert book.build(e2e_run["processed"], e2e_run["out"], report_dir=report) == 1
    err = capsys.readouterr().err
    assert "cae/demo-x.qmd" in err and "pagebreaks are not allowed inside of containers" in err
    assert not (report / book.BOOK_STAMP).read_text().endswith(":rendu")
    # the next build renders again instead of saying the book is done
    assert book.build(e2e_run["processed"], e2e_run["out"], report_dir=report) == 1
    assert "déjà rendu" not in capsys.readouterr().out


def test_a_cae_that_failed_is_named_in_the_book(e2e_run, tmp_path):
    import json

    out = tmp_path / "out"
    shutil.copytree(e2e_run["out"], out)
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    summary["caes"].append({"cae": "cae-en-echec", "ok": False, "error": "données invalides"})
    (out / "run_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    report = _copy_report(tmp_path / "report")
    assert book.build(e2e_run["processed"], out, render=False, report_dir=report) == 0
    notice = (report / "_generated" / "absentes.md").read_text(encoding="utf-8")
    assert "«\u00a0cae-en-echec\u00a0»" in notice and "n'a pas pu être intégrée" in notice  # French no-break spaces
    assert "absentes.md" in (report / "index.qmd").read_text(encoding="utf-8")
    assert book.check_book(report) == []


def test_embeds_skip_cells_without_output_and_the_check_catches_them(tmp_path):
    """A cell with no output is never embedded (Quarto would fail on it), a
    figure cell that printed a sentence instead becomes a text cell, and
    check_embeds reports an embed of an empty cell."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    empty = nbformat.v4.new_code_cell("#| label: tbl-vide\n#| tbl-cap: \"Vide\"\npass")
    said = nbformat.v4.new_code_cell("#| label: fig-phrase\n#| fig-cap: \"Une figure\"\nx")
    said.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "Pas de figure : trop peu de réponses."})]
    nb.cells = [empty, said]
    prepared = book.prepare_notebook(nb, "k")
    cells = book.embeddable(prepared, "k")
    assert ("tbl-vide", "tbl-vide-k", None) in cells and ("fig-phrase", "txt-vide-fig-phrase-k", "text") in cells
    assert "fig-cap" not in prepared.cells[1].source
    lines = book.sections_md([book.Section("Essai", (("nb", ("*",)),))], ".", {"nb": cells}, 1)
    text = "\n".join(lines)
    assert "tbl-vide-k" not in text and "txt-vide-fig-phrase-k" in text
    empty_only = book.sections_md([book.Section("Essai", (("nb", ("tbl-*",)),))], ".", {"nb": cells}, 1)
    assert book.empty_section() in empty_only
    nbformat.write(prepared, str(tmp_path / "nb.ipynb"))
    qmd = tmp_path / "doc.qmd"
    qmd.write_text("{{< embed nb.ipynb#tbl-vide-k >}}\n", encoding="utf-8")
    assert book.check_embeds(qmd, "doc.qmd") == ["doc.qmd : la cellule « tbl-vide-k » de nb.ipynb n'a pas de sortie à intégrer"]


# --------------------------------------------------------------------------- the second study: tiers-lieux
#: Words of the default (CAE) study that a tiers-lieux reader must never meet, except where the
#: tiers-lieux profile's own files say them: its comparisons with « l'étude CAE » (assumptions log,
#: sources) and its status « micro-entrepreneur ».
CAE_WORDS = re.compile(r"(?<!étude\s)\bCAE\b(?!-impact)|\bCESA\b|\bCAPE\b|(?<!micro-)(?<!micro)entrepreneur|coopérative|sociétariat", re.I)


@pytest.fixture(scope="module")
def tiers_lieux(tmp_path_factory, pseudonym_key):
    """Two demo tiers-lieux (profile ``profiles/tiers-lieux``), run, assembled
    and rendered once (book and each place's PDF)."""
    from analysis.intake import demo_profile
    from analysis.method import profile as profiles
    from analysis.pipeline import runner

    if shutil.which("quarto") is None:
        pytest.skip("quarto n'est pas installé (PATH) : rendu non testé")
    mp = pytest.MonkeyPatch()
    prof = profiles.resolve("tiers-lieux")
    mp.setenv("CAE_IMPACT_METHODOLOGY", str(prof.methodology_dir))
    try:
        root = tmp_path_factory.mktemp("tiers-lieux")
        raw, processed, out = root / "raw", root / "processed", root / "out"
        slugs = demo_profile.generate(raw, prof, n=2, scale=0.3)
        summary = runner.run(raw_dir=raw, processed_dir=processed, out_dir=out, jobs=2, methodology_dir=prof.methodology_dir,
                             progress=runner.Progress(quiet=True))
        assert all(c["ok"] for c in summary["caes"]), summary["caes"]
        report = _copy_report(root / "report")
        results = _build_and_render(processed, out, report, slugs, "tiers-lieux")
        yield {"report": report, "out": out, "results": results, "slugs": slugs, "profile": prof}
    finally:
        mp.undo()


@needs_quarto
@needs_pdftotext
def test_the_tiers_lieux_book_and_reports_render_in_their_own_words(tiers_lieux):
    for target, res in tiers_lieux["results"].items():
        assert res.ok, f"{target}: {res.target}: {res.message}"
        assert res.warnings == [], f"{target}: {res.warnings}"
    report, out, prof = tiers_lieux["report"], tiers_lieux["out"], tiers_lieux["profile"]
    index = _visible_text((report / "_book" / "index.html").read_text(encoding="utf-8"))
    assert prof.get("livre.titre").split(":")[0].strip("\u00a0 ") in index  # « Tiers-lieux » (then a no-break space and « : »)
    pages = list((report / "_book").rglob("*.html")) + [out / s / "rapport.html" for s in tiers_lieux["slugs"]]
    assert len(pages) >= 5
    for page in pages:
        text = _visible_text(page.read_text(encoding="utf-8"))
        assert not _forbidden_in(text), f"{page.name}: {_forbidden_in(text)}"
        leaked = sorted({m.group(0) for m in CAE_WORDS.finditer(text)})
        assert not leaked, f"{page.name}: {leaked}"
    pdfs = list((report / "_book").glob("*.pdf")) + [out / s / "rapport.pdf" for s in tiers_lieux["slugs"]]
    for pdf in pdfs:
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        text = re.sub(r"\s+", " ", re.sub(r"-\s+", "-", text))  # words hyphenated or broken across lines, joined
        assert "tiers-lieu" in text.lower(), pdf.name
        leaked = sorted({m.group(0) for m in CAE_WORDS.finditer(text)})
        assert not leaked, f"{pdf.name}: {leaked}"
