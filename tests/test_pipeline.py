"""End-to-end: the real pipeline on a 2-CAE demo (session fixture
``e2e_run`` in conftest.py, run once with ``--jobs 2``), then the
acceptance criteria of the foundation and report issues."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from analysis.reporting import book
from analysis.reporting import method_doc
from analysis.pipeline import runner

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "analysis.cli"]


def _all_files(*dirs):
    for d in dirs:
        yield from (p for p in Path(d).rglob("*") if p.is_file())


def test_every_cae_and_the_nation_are_executed_and_exported(e2e_run):
    s, out = e2e_run["summary"], e2e_run["out"]
    assert s["ok"], s
    assert [c["cae"] for c in s["caes"]] == sorted(e2e_run["slugs"])
    for slug in e2e_run["slugs"]:
        for nb in runner.CAE_NOTEBOOKS:
            assert (out / slug / f"{nb}.ipynb").exists()
            html = (out / slug / f"{nb}.html").read_text(encoding="utf-8")
            assert '<html lang="fr"' in html
            assert "processed.load_cae" not in html, "code cells must be hidden"
            assert "injected-parameters" not in html
        report = (out / slug / "rapport.html").read_text(encoding="utf-8")
        # the summary comes first, then the four stages, figures embedded
        assert report.index("Mesure d'impact social") < report.index("Les effets")
        assert report.count("data:image/png;base64") >= 5
    assert (out / "national" / "10_national.html").exists()


def test_the_national_parts_start_once_every_intake_is_done_before_the_caes_end(e2e_run):
    """The pooled results read only processed data: the run queues them as
    soon as both CAEs are read, while their notebooks still run (issue 18),
    and only once (the national step then waits for those)."""
    ev = e2e_run["events"]
    idx = {e: i for i, e in enumerate(ev)}  # last index of each event
    parts = [i for i, (cae, stage, status, detail) in enumerate(ev)
             if cae == "national" and status == "en cours" and "calculs nationaux côte à côte" in detail]
    assert len(parts) == 1, parts
    assert "pendant les dernières structures" in ev[parts[0]][3]
    for slug in e2e_run["slugs"]:
        assert idx[(slug, "lecture", "ok", "")] < parts[0] < idx[(slug, "05_synthese_cae", "ok", "")]
    nat = e2e_run["summary"]["national"]
    assert nat["ok"]
    assert [s["stage"] for s in nat["stages"]] == ["calcul indicateurs", "calcul sroi", "calcul qvt", "10_national"]
    assert all(s["ok"] and s["seconds"] > 0 for s in nat["stages"])


def test_no_personal_data_reaches_any_output(e2e_run):
    """Ids as written in the raw files and survey comments never appear in
    processed data, executed notebooks or HTML (bytes searched, Parquet too)."""
    raw = e2e_run["raw"]
    planted: set[str] = set()
    for slug in e2e_run["slugs"]:
        for path in (raw / slug).iterdir():
            if path.suffix == ".csv":
                enc = "utf-8-sig"
                try:
                    path.read_bytes().decode("utf-8")
                except UnicodeDecodeError:
                    enc = "cp1252"
                df = pd.read_csv(path, sep=None, engine="python", dtype=str, encoding=enc)
            elif path.suffix == ".xlsx":
                df = pd.read_excel(path, dtype=str, sheet_name=-1)
            else:
                continue
            for col in df.columns:
                if col.lower() in ("id", "identifiant") or "comment" in col.lower():
                    planted |= {v.strip() for v in df[col].dropna() if len(v.strip()) >= 6}
    assert len(planted) > 40
    needles = [p.encode("utf-8") for p in planted]
    for f in _all_files(e2e_run["processed"], e2e_run["out"]):
        blob = f.read_bytes()
        leaked = [n for n in needles if n in blob]
        assert not leaked, f"{f}: {leaked[:3]}"


def test_a_rerun_with_nothing_changed_is_a_noop(e2e_run):
    s = runner.run(
        raw_dir=e2e_run["raw"], processed_dir=e2e_run["processed"], out_dir=e2e_run["out"], jobs=2,
        progress=runner.Progress(quiet=True),
    )
    assert all(c["skipped"] for c in s["caes"]) and s["national"]["skipped"]


@pytest.fixture(scope="module")
def broken_run(e2e_run, tmp_path_factory):
    """The e2e CAEs plus a copy of one with a required column removed, run
    through the CLI with 2 jobs in copies of the e2e folders."""
    root = tmp_path_factory.mktemp("broken")
    for name in ("raw", "processed", "out"):
        shutil.copytree(e2e_run[name], root / name)
    src = next(s for s in e2e_run["slugs"] if any((root / "raw" / s).glob("entrepreneurs*.csv")))
    bad = root / "raw" / "cae-cassee"
    shutil.copytree(root / "raw" / src, bad)
    ent = next(bad.glob("entrepreneurs*.csv"))
    raw_bytes = ent.read_bytes()
    enc = "utf-8-sig" if raw_bytes.startswith(b"\xef\xbb\xbf") else "cp1252"
    df = pd.read_csv(ent, sep=";", dtype=str, encoding=enc, keep_default_na=False)
    date_col = next(c for c in df.columns if "entr" in c.lower() and "date" in c.lower())
    df.drop(columns=[date_col]).to_csv(ent, sep=";", index=False, encoding=enc)
    proc = subprocess.run(
        CLI + ["run", "--jobs", "2", "--raw", str(root / "raw"), "--processed", str(root / "processed"), "--out", str(root / "out")],
        capture_output=True, text=True, cwd=ROOT,
    )
    return {"root": root, "proc": proc, "file": ent.name, "column": date_col, "good": e2e_run["slugs"]}


def test_a_broken_cae_fails_alone_with_a_french_message_and_exit_1(broken_run):
    proc = broken_run["proc"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    err = proc.stderr
    assert "cae-cassee" in err and broken_run["file"] in err and "date_entree" in err
    assert "Traceback" not in proc.stdout + proc.stderr
    summary = json.loads((broken_run["root"] / "out" / "run_summary.json").read_text(encoding="utf-8"))
    status = {c["cae"]: c["ok"] for c in summary["caes"]}
    assert status == {**{s: True for s in broken_run["good"]}, "cae-cassee": False}
    assert not (broken_run["root"] / "processed" / "cae-cassee").exists()
    assert (broken_run["root"] / "out" / "cae-cassee" / "validation.html").exists()


def test_validate_exit_codes(e2e_run, broken_run):
    ok = subprocess.run(CLI + ["validate", str(e2e_run["raw"] / e2e_run["slugs"][0])], capture_output=True, text=True)
    bad = subprocess.run(CLI + ["validate", str(broken_run["root"] / "raw" / "cae-cassee")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout
    assert bad.returncode == 1 and "date_entree" in bad.stdout


# --------------------------------------------------------------------------- the book
@pytest.fixture(scope="module")
def assembled(e2e_run, tmp_path_factory):
    report = tmp_path_factory.mktemp("report")
    for p in (ROOT / "report").iterdir():
        if p.suffix in (".qmd", ".yml") and p.name != "_quarto.yml":
            shutil.copy(p, report / p.name)
    chapters = book.assemble(e2e_run["processed"], e2e_run["out"], report, anonymise=False)
    return report, chapters


def test_book_is_generated_for_the_caes_present_and_checks_statically(assembled, e2e_run):
    report, chapters = assembled
    cfg = yaml.safe_load((report / "_quarto.yml").read_text(encoding="utf-8"))
    assert cfg["lang"] == "fr" and cfg["execute"]["enabled"] is False
    assert set(cfg["format"]) == {"html", "typst"}
    part = next(c for c in cfg["book"]["chapters"] if isinstance(c, dict))
    assert [c["href"] for c in part["chapters"]] == [f"cae/{s}.qmd" for s in sorted(e2e_run["slugs"])]
    assert book.check_book(report) == []
    chapter = (report / "cae" / f"{e2e_run['slugs'][0]}.qmd").read_text(encoding="utf-8")
    assert len(book.EMBED_RE.findall(chapter)) >= 10


def test_static_check_reports_a_missing_embed(assembled):
    report, _ = assembled
    broken = report.parent / "broken_report"
    shutil.copytree(report, broken)
    qmd = next((broken / "cae").glob("*.qmd"))
    qmd.write_text(qmd.read_text(encoding="utf-8") + "\n{{< embed ../notebooks/x/02_indicateurs.ipynb#fig-absente >}}\n", encoding="utf-8")
    problems = book.check_book(broken)
    assert len(problems) == 1 and "02_indicateurs.ipynb" in problems[0]


def test_provenance_annex_lists_the_real_input_checksums(assembled, e2e_run):
    report, _ = assembled
    annex = (report / "_generated" / "annexes.md").read_text(encoding="utf-8")
    for slug in e2e_run["slugs"]:
        for f in (e2e_run["raw"] / slug).iterdir():
            assert hashlib.sha256(f.read_bytes()).hexdigest() in annex, f.name


def test_method_chapter_follows_the_methodology_files(tmp_path):
    meth = tmp_path / "methodology"
    shutil.copytree(ROOT / "methodology", meth)
    vm = yaml.safe_load((meth / "sroi.yml").read_text(encoding="utf-8"))
    proxy = next(iter(k for k in vm["proxys"] if k != "euro"))
    vm["proxys"][proxy]["valeur"] = vm["proxys"][proxy]["max"] = 98765.0  # min ≤ valeur ≤ max (sroi.yml schema)
    vm["proxys"][proxy]["source"] = "Source inventée pour le test, 2031"
    (meth / "sroi.yml").write_text(yaml.safe_dump(vm, allow_unicode=True), encoding="utf-8")
    before = method_doc.render_method(ROOT / "methodology")
    after = method_doc.render_method(meth)
    assert "98\u202f765" in after and "Source inventée pour le test, 2031" in after
    assert "98\u202f765" not in before


def test_anonymised_national_output_names_no_cae(e2e_run, tmp_path):
    """The national notebook run in anonymised mode and the book assembled
    from it contain no CAE name or slug."""
    import papermill as pm

    out = tmp_path / "out"
    shutil.copytree(e2e_run["out"], out)
    nb_path = out / "national" / "10_national.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "10_national.ipynb"), str(nb_path), kernel_name="python3", progress_bar=False,
        parameters={"caes": ",".join(e2e_run["slugs"]), "processed_dir": str(e2e_run["processed"]), "out_dir": str(out), "anonymiser": "oui"},
    )
    report = tmp_path / "report"
    shutil.copytree(ROOT / "report", report, ignore=shutil.ignore_patterns("_quarto.yml", "cae", "notebooks", "_generated", "_book"))
    book.assemble(e2e_run["processed"], out, report, anonymise=True)
    names = [json.loads((e2e_run["processed"] / s / "cae.json").read_text(encoding="utf-8"))["nom"] for s in e2e_run["slugs"]]
    names += e2e_run["slugs"]
    nat = nbformat.read(str(nb_path), as_version=4)
    texts = [json.dumps(c.get("outputs", []), ensure_ascii=False) for c in nat.cells]
    for f in _all_files(report):
        if f.suffix in (".qmd", ".md", ".yml") or f.name == "10_national.ipynb":
            texts.append(f.read_text(encoding="utf-8"))
    blob = "\n".join(texts)
    assert "CAE 1" in blob
    for name in names:
        assert name not in blob, name


def test_book_build_is_incremental(e2e_run, tmp_path, capsys):
    report = tmp_path / "report"
    shutil.copytree(ROOT / "report", report, ignore=shutil.ignore_patterns("_quarto.yml", "cae", "notebooks", "_generated", "_book", ".book-stamp"))
    assert book.build(e2e_run["processed"], e2e_run["out"], render=False, report_dir=report) == 0
    first = (report / "_quarto.yml").stat().st_mtime_ns
    for slug in e2e_run["slugs"]:  # each CAE's standalone report, ready for a Typst PDF
        doc = e2e_run["out"] / slug / "rapport.qmd"
        assert book.check_embeds(doc, doc.name) == []
        assert "format:" in doc.read_text(encoding="utf-8") and len(book.EMBED_RE.findall(doc.read_text(encoding="utf-8"))) >= 10
    assert book.build(e2e_run["processed"], e2e_run["out"], render=False, report_dir=report) == 0
    assert (report / "_quarto.yml").stat().st_mtime_ns == first
    assert "à jour" in capsys.readouterr().out
    (report / "methode.qmd").write_text((report / "methode.qmd").read_text(encoding="utf-8") + "\nAjout.\n", encoding="utf-8")
    assert book.build(e2e_run["processed"], e2e_run["out"], render=False, report_dir=report) == 0
    assert "préparé" in capsys.readouterr().out


def test_figures_carry_their_french_caption_as_alt_text(e2e_run):
    html = (e2e_run["out"] / e2e_run["slugs"][0] / "02_indicateurs.html").read_text(encoding="utf-8")
    # the executed notebook: its family cells are expanded from indicators.yml before papermill runs
    nb = nbformat.read(str(e2e_run["out"] / e2e_run["slugs"][0] / "02_indicateurs.ipynb"), as_version=4)
    caption = next(
        line.split("fig-cap:", 1)[1].strip().strip('"') for c in nb.cells for line in c.source.splitlines() if "fig-cap:" in line
    )
    assert f'alt="{caption}"'.replace("'", "&#x27;") in html
    assert "No description has been provided" not in html
