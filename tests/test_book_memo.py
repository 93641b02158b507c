"""Book assembly reuses what did not change (``analysis.reporting.book``
memo): after one CAE's notebooks changed only its chapter is rewritten, the
book assembled from the memo is the same as one assembled from scratch, and
a renamed CAE, anonymisation or a new method text rebuild what they touch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.reporting import book

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]


def _report_copy(dest: Path) -> Path:
    for p in (ROOT / "report").iterdir():
        if p.suffix in (".qmd", ".yml") and p.name != "_quarto.yml":
            shutil.copy(p, dest / p.name)
    return dest


def _tree(report: Path) -> dict[str, str]:
    """Every generated file of the book and its text (memo files aside)."""
    return {str(p.relative_to(report)): p.read_text(encoding="utf-8") for sub in ("cae", "notebooks", "_generated")
            for p in sorted((report / sub).rglob("*")) if p.is_file() and p.name != book.MEMO_FILE}


@pytest.fixture()
def copy_run(e2e_run, tmp_path):
    for name in ("processed", "out"):
        shutil.copytree(e2e_run[name], tmp_path / name)
    return tmp_path


def test_one_changed_cae_rewrites_only_its_chapter_and_matches_a_fresh_assembly(copy_run, e2e_run, tmp_path_factory):
    processed, out = copy_run / "processed", copy_run / "out"
    report = _report_copy(tmp_path_factory.mktemp("memo"))
    book.assemble(processed, out, report, anonymise=False)
    a, b = sorted(e2e_run["slugs"])
    # CAE chapters only: the national notebook is prepared again at every assembly (it pools every CAE)
    mtimes = {p: p.stat().st_mtime_ns for p in (report / "notebooks").rglob("*.ipynb") if p.parent.name != "national"}
    # a new run of CAE a: its stamp and one of its notebooks' outputs differ
    stamp = out / a / ".stamp.json"
    stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "time": 1.0}))
    nb = out / a / "05_synthese_cae.ipynb"
    nb.write_text(nb.read_text(encoding="utf-8").replace("Les principaux résultats", "Les principaux résultats (nouveau)"),
                  encoding="utf-8")
    book.assemble(processed, out, report, anonymise=False)
    changed = {p for p, t in mtimes.items() if p.stat().st_mtime_ns != t}
    assert changed and all(p.parent.name == a for p in changed)  # only CAE a's prepared notebooks
    assert "(nouveau)" in (report / "notebooks" / a / "05_synthese_cae.ipynb").read_text(encoding="utf-8")
    fresh = _report_copy(tmp_path_factory.mktemp("fresh"))
    book.assemble(processed, out, fresh, anonymise=False)
    assert _tree(report) == _tree(fresh)


def test_anonymising_or_a_changed_method_text_rebuilds(copy_run, tmp_path_factory, monkeypatch):
    processed, out = copy_run / "processed", copy_run / "out"
    report = _report_copy(tmp_path_factory.mktemp("memo"))
    book.assemble(processed, out, report, anonymise=False)
    book.assemble(processed, out, report, anonymise=True)
    fresh = _report_copy(tmp_path_factory.mktemp("fresh"))
    book.assemble(processed, out, fresh, anonymise=True)
    assert _tree(report) == _tree(fresh)
    assert not any(p.name.startswith("demo-") for p in (report / "notebooks").iterdir())  # no chapter kept by name
    # the method annex comes from its memo only while the code and method are those it was written from
    monkeypatch.setattr(book, "runner_code_fingerprint", lambda methodology_dir=None: "another method")
    from analysis.reporting import method_doc

    monkeypatch.setattr(method_doc, "render_method", lambda methodology_dir=None: "# Méthode\n\nTexte neuf.\n")
    book.assemble(processed, out, report, anonymise=True)
    assert "Texte neuf." in (report / "_generated" / "methode.md").read_text(encoding="utf-8")
