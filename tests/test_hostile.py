"""Hostile and broken inputs (issue #19): nothing a CAE's files hold is
executed, published by accident or silently lost.

Every input here is crafted inside the test from a class of inputs (random
names, phones, positions, payloads), never one fixed file; the assertions
search what intake, the reports and the book would publish for the planted
strings."""

from __future__ import annotations

import io
import json
import os
import random
import string
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.intake import codebook as cbk
from analysis.intake import process as intake
from analysis.intake import pseudonymise as ps
from analysis.intake.reading import read_table_bytes, read_table_file
from analysis.intake.validation import read_cae_yml
from analysis.publication import escape
from tests._intake_helpers import CAE_YML, ENT_HEADER, ENT_ROWS, csv_bytes, make_cae, write_csv

rng = random.Random(1919)
FIRST = ["Jeanne", "Karim", "Zoé", "Yannick", "Inès", "Bertrand", "Maëlle", "Sofiane"]
LAST = ["Dupont", "Nguyen", "Lefèvre", "Benali", "Rousseau", "Marchand"]


def person() -> dict:
    """A random person: name, e-mail, phone (planted strings to search for)."""
    f, l = rng.choice(FIRST), rng.choice(LAST)
    tag = "".join(rng.choice(string.ascii_lowercase) for _ in range(6))
    return {"nom": f"{f} {l} {tag}", "mail": f"{f.lower()}.{tag}@exemple.fr",
            "tel": "06 " + " ".join(f"{rng.randint(0, 99):02d}" for _ in range(4))}


def published(fd_or_problems) -> str:
    """Everything intake would show or store from its problems, as one text."""
    probs = fd_or_problems.problems if hasattr(fd_or_problems, "problems") else fd_or_problems
    return json.dumps([p.as_dict() for p in probs], ensure_ascii=False) + "\n".join(intake.grouped_lines(probs))


def no_plant(text: str, planted: dict) -> None:
    for v in planted.values():
        assert v not in text, v


# --------------------------------------------------------------- headers, files, links

@pytest.mark.parametrize("seed", range(4))
def test_headerless_questionnaire_is_an_error_that_quotes_nothing(tmp_path, seed):
    """A survey exported without its header row: the first respondent's
    answers are not echoed as "unknown columns"; the table is refused."""
    r = random.Random(seed)
    p = person()
    width = r.randint(3, 12)
    first = [p["nom"], p["mail"], f"appelez-moi au {p['tel']}"] + [str(r.randint(1, 5)) for _ in range(width - 3)]
    rows = [[str(r.randint(1, 5)) for _ in range(width)] for _ in range(r.randint(2, 30))]
    d = make_cae(tmp_path, q=(first, rows))
    fd = intake.load_folder(d)
    errs = [e for e in fd.problems.errors if e.fichier == "questionnaire.csv"]
    assert len(errs) == 1 and "ligne d'en-tête absente" in errs[0].message
    no_plant(published(fd), p)


@pytest.mark.parametrize("seed", range(3))
def test_personal_headers_and_file_names_are_never_quoted(tmp_path, seed):
    p = person()
    header = ENT_HEADER + [f"{p['nom']} {p['tel']}", f"<img src=x onerror=alert({seed})>"]
    rows = [r + ["x", "y"] for r in ENT_ROWS]
    d = make_cae(tmp_path, ent=(header, rows))
    write_csv(d / f"{p['nom']} {p['mail']}.csv", ["a"], [["1"]])
    (d / f"{p['tel']}.txt").write_text("x")
    fd = intake.load_folder(d)
    text = published(fd)
    no_plant(text, p)
    assert "onerror" not in text
    assert sum("en-tête inconnu" in w.message for w in fd.problems.warnings) == 2
    assert any("2 fichier(s) non reconnu(s)" in w.message for w in fd.problems.warnings)


def test_symlinks_leaving_the_folder_are_refused_and_not_read(tmp_path):
    secret = tmp_path / "outside" / "passwd"
    secret.parent.mkdir()
    planted = {"line": "root:x:0:0:" + "".join(rng.choice(string.ascii_letters) for _ in range(12))}
    secret.write_text(planted["line"] + ";a;b\n1;2;3\n")
    d = make_cae(tmp_path)
    for name in ("questionnaire.csv", "notes.csv"):
        (d / name).symlink_to(secret)
    (d / "copie.csv").symlink_to(d / "activite.csv")  # inside the folder: allowed (then "unrecognised")
    fd = intake.load_folder(d)
    assert [e.message for e in fd.problems.errors] == [
        "2 lien(s) symbolique(s) vers un fichier hors du dossier de la CAE : refusé(s), non lu(s)."]
    assert "questionnaire" not in fd.tables
    no_plant(published(fd), planted)
    assert intake.raw_fingerprint(d) == intake.raw_fingerprint(d)  # readable, links left out
    assert all(p.name != "questionnaire.csv" for p in intake._input_files(d))


# --------------------------------------------------------------- free text and unknown keys

def test_free_text_sector_is_reduced_to_the_coded_list(tmp_path, pseudonym_key):
    people = [person() for _ in ENT_ROWS]
    header, rows = list(ENT_HEADER), [list(r) for r in ENT_ROWS]
    j = header.index("secteur")
    rows[0][j] = f"{people[0]['nom']} {people[0]['tel']}"
    rows[1][j] = "BÂTIMENT "  # a listed label, other case and spacing
    rows[2][j] = people[2]["mail"]
    make_cae(tmp_path / "raw", ent=(header, rows))
    res = intake.process_cae("test", tmp_path / "raw", tmp_path / "processed", tmp_path / "out", key=pseudonym_key)
    assert res.ok
    ent = pd.read_parquet(tmp_path / "processed" / "test" / "entrepreneurs.parquet")
    assert list(ent["secteur"]) == ["Autre", "Bâtiment", "Autre"]
    stored = "".join(p.read_bytes().decode("latin-1") for p in (tmp_path / "processed" / "test").iterdir())
    stored += (tmp_path / "out" / "test" / "validation.csv").read_text(encoding="utf-8-sig")
    for p in people:
        no_plant(stored, p)


def test_unknown_cae_yml_keys_are_dropped_and_not_quoted(tmp_path, pseudonym_key):
    p = person()
    yml = CAE_YML + f'contact: "{p["nom"]} {p["tel"]}"\n"{p["mail"]}": 1\n'
    yml = yml.replace("  benevolat_heures: 10\n", f"  benevolat_heures: 10\n  note_{p['nom'].split()[-1]}: \"{p['tel']}\"\n")
    make_cae(tmp_path / "raw", yml=yml)
    res = intake.process_cae("test", tmp_path / "raw", tmp_path / "processed", tmp_path / "out", key=pseudonym_key)
    assert res.ok
    info = json.loads((tmp_path / "processed" / "test" / "cae.json").read_text(encoding="utf-8"))
    assert set(info) == set(cbk.load_codebook()["description"]["required"]) | {"slug"}
    assert set(info["ressources"]) == set(cbk.load_codebook()["description"]["ressources_required"])
    no_plant((tmp_path / "processed" / "test" / "manifest.json").read_text(encoding="utf-8") + json.dumps(info, ensure_ascii=False), p)


# --------------------------------------------------------------- CSV injection in outputs

def test_validation_csv_neutralises_formulas_from_cae_values(tmp_path):
    header, rows = list(ENT_HEADER), [list(r) for r in ENT_ROWS]
    payloads = ["=HYPERLINK(\"http://x\",\"clic\")", "+cmd|' /C calc'!A0", "@SUM(A1:A2)"]
    for r, v in zip(rows, payloads):
        r[header.index("genre")] = v
    make_cae(tmp_path / "raw", ent=(header, rows))
    res = intake.process_cae("test", tmp_path / "raw", tmp_path / "p", tmp_path / "out")
    assert not res.ok
    import csv as csvmod

    cells = [c for row in csvmod.reader(io.StringIO((tmp_path / "out" / "test" / "validation.csv").read_text(encoding="utf-8-sig"), newline=""), delimiter=";") for c in row]
    assert not [c for c in cells if c.startswith(escape.CSV_FORMULA_STARTS) and not c.lstrip("+-").replace(",", "").isdigit()]
    assert sum(c.startswith("'") for c in cells) == len(payloads)


def test_result_csv_neutralises_formulas(tmp_path, monkeypatch):
    from analysis.pipeline import results

    monkeypatch.setattr(results, "conform", lambda df, table: df)
    df = pd.DataFrame({"cae": ["=1+1", "-x", "ok"], "valeur": [-1.5, 2.0, 3.0]})
    _, csv_path = results.write_result(df, tmp_path / "t")
    rows = [line.split(";") for line in csv_path.read_text(encoding="utf-8-sig").splitlines()[1:]]
    assert [r[0] for r in rows] == ["'=1+1", "'-x", "ok"]
    assert rows[0][1].startswith("-1")  # a negative number stays a number
    assert pd.read_parquet(tmp_path / "t.parquet")["cae"].tolist() == ["=1+1", "-x", "ok"]


# --------------------------------------------------------------- no silent row loss

@pytest.mark.parametrize("seed", range(5))
def test_a_stray_quote_is_an_error_at_its_line(seed):
    r = random.Random(seed)
    n = r.randint(5, 40)
    header = ["id", "eff_confiance", "commentaire"]
    rows = [[f"A{i}", str(r.randint(1, 5)), "RAS"] for i in range(n)]
    bad = r.randint(0, n - 3)
    # a cell opening a quote it never closes (a quote inside an unquoted cell is harmless and kept)
    rows[bad][2] = '"il a dit ""bonjour"" et' if seed % 2 else '"bonjour, à bientôt'
    data = "\r\n".join([";".join(header)] + [";".join(x) for x in rows]).encode("cp1252")
    res = read_table_bytes(data, "questionnaire.csv")
    assert res.frame is None
    (p,) = res.problems
    assert "Guillemet non refermé" in p.message and p.ligne == bad + 2


def test_legit_multiline_comment_and_inner_quote_are_kept():
    data = 'id;commentaire\r\nA1;"ligne un\r\nligne deux"\r\nA2;il a dit "oui\r\nA3;ok\r\n'.encode()
    res = read_table_bytes(data, "q.csv")
    assert res.problems == [] and list(res.frame.index) == [2, 3, 4]
    assert res.frame["commentaire"].tolist() == ["ligne un\r\nligne deux", 'il a dit "oui', "ok"]


# --------------------------------------------------------------- limits

def test_yaml_alias_bomb_is_refused_fast(tmp_path):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, 10):
        prev, cur = chr(ord("a") + k - 1), chr(ord("a") + k)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "cae.yml").write_text(CAE_YML + "\n".join(lines) + "\n", encoding="utf-8")
    t = time.perf_counter()
    info, probs = read_cae_yml(tmp_path / "cae.yml")
    assert time.perf_counter() - t < 5
    assert info is None and "renvois YAML" in probs[0].message


def test_cae_yml_over_the_size_limit_is_refused(tmp_path):
    lim = cbk.load_codebook()["limites"]["yaml_taille_max_ko"]
    (tmp_path / "cae.yml").write_text(CAE_YML + "# " + "x" * int(lim * 1000) + "\n", encoding="utf-8")
    info, probs = read_cae_yml(tmp_path / "cae.yml")
    assert info is None and "au-delà de la limite" in probs[0].message


def _xlsx_bomb(uncompressed_mb: int) -> bytes:
    """A valid XLSX whose sheet XML inflates to ``uncompressed_mb`` MB of one repeated row."""
    from openpyxl import Workbook

    buf = io.BytesIO()
    wb = Workbook()
    wb.active.append(["id", "date_entree"])
    wb.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                pad = b"<!--" + b" " * (uncompressed_mb * 1_000_000) + b"-->"
                data = data.replace(b"<sheetData>", pad + b"<sheetData>", 1)
            z.writestr(item, data)
    return out.getvalue()


def test_xlsx_decompression_ratio_is_checked_before_parsing():
    data = _xlsx_bomb(60)
    assert len(data) < 1_000_000
    t = time.perf_counter()
    res = read_table_bytes(data, "entrepreneurs.xlsx")
    assert time.perf_counter() - t < 2  # not parsed
    assert res.frame is None and "se décompresse en" in res.problems[0].message


def test_file_size_and_row_limits_are_methodology_settings(tmp_path):
    lim = dict(cbk.load_codebook()["limites"])
    header, rows = ["id", "annee"], [[f"A{i}", "2019"] for i in range(50)]
    data = csv_bytes(header, rows)
    assert read_table_bytes(data, "a.csv", limits={**lim, "lignes_max": 50}).frame is not None
    res = read_table_bytes(data, "a.csv", limits={**lim, "lignes_max": 49})
    assert res.frame is None and "limite de 49 lignes" in res.problems[0].message
    (tmp_path / "a.csv").write_bytes(data)
    res = read_table_file(tmp_path / "a.csv", limits={**lim, "taille_max_mo": len(data) / 2e6})
    assert res.frame is None and "au-delà de la limite" in res.problems[0].message


def test_csv_is_read_in_blocks_with_progress():
    lim = {**cbk.load_codebook()["limites"], "csv_bloc_lignes": 7}
    header, rows = ["id", "annee"], [[f"A{i}", "2019"] for i in range(30)]
    seen = []
    res = read_table_bytes(csv_bytes(header, rows), "a.csv", limits=lim, progress=seen.append)
    assert seen == [7, 14, 21, 28, 30]
    assert list(res.frame.index) == list(range(2, 32)) and res.frame.iloc[-1].tolist() == ["A29", "2019"]


# --------------------------------------------------------------- pseudonymisation key

def _fake_processed(root: Path, cae: str, key: bytes) -> None:
    (root / cae).mkdir(parents=True)
    (root / cae / "manifest.json").write_text(json.dumps({"pseudonymisation": {"key_check": ps.key_fingerprint(key)}}))


def test_a_run_never_creates_or_switches_key_silently(tmp_path, monkeypatch):
    monkeypatch.delenv(ps.KEY_ENV, raising=False)
    old = bytes(range(32))
    _fake_processed(tmp_path / "processed", "coop-a", old)
    key_file = tmp_path / "cfg" / "pseudonym.key"
    with pytest.raises(ps.KeyProblem, match="--nouvelle-cle"):
        ps.resolve_key(tmp_path / "processed", key_file=key_file)
    assert not key_file.exists()
    new = ps.resolve_key(tmp_path / "processed", new_key=True, key_file=key_file)
    assert key_file.exists() and new != old
    with pytest.raises(ps.KeyProblem, match="coop-a"):  # the new key is not the processed data's
        ps.resolve_key(tmp_path / "processed", key_file=key_file)
    monkeypatch.setenv(ps.KEY_ENV, old.hex())
    assert ps.resolve_key(tmp_path / "processed", key_file=key_file) == old
    m = json.dumps({"k": ps.key_fingerprint(old)})
    assert old.hex() not in m and len(ps.key_fingerprint(old)) == 8


def test_run_stops_in_french_on_a_key_change(tmp_path, monkeypatch):
    from analysis.pipeline import runner

    make_cae(tmp_path / "raw", slug="coop-a")
    _fake_processed(tmp_path / "processed", "coop-a", bytes(range(32)))
    monkeypatch.setenv(ps.KEY_ENV, "ab" * 32)
    with pytest.raises(SystemExit, match="Clé de pseudonymisation.*--nouvelle-cle"):
        runner.run(raw_dir=tmp_path / "raw", processed_dir=tmp_path / "processed", out_dir=tmp_path / "out",
                   progress=runner.Progress(quiet=True))
    assert not (tmp_path / "out" / "coop-a").exists()


# --------------------------------------------------------------- network comparison

def test_network_snapshot_holds_only_the_run_caes(tmp_path):
    from analysis.pipeline.runner import _network_snapshot
    from analysis.qvt.compute import network_median

    root = tmp_path / "processed"
    for cae, m in (("coop-a", 3.0), ("coop-b", 4.0), ("ancienne", 1.0), ("_national", 9.0)):
        (root / cae).mkdir(parents=True)
        pd.DataFrame({"dimension": ["sante"], "mean": [m], "suppressed": [False]}).to_parquet(root / cae / "qvt_dimensions.parquet")
    snap = _network_snapshot(root, ["coop-a", "coop-b", "coop-c"])
    assert sorted(p.name for p in snap.iterdir()) == ["coop-a", "coop-b"]
    assert float(network_median(snap, exclude="coop-c")["sante"]) == 3.5
    assert float(network_median(root, exclude="coop-c")["sante"]) == 3.0  # _national never counted: median(3, 4, 1)


# --------------------------------------------------------------- book

def test_book_static_check_refuses_foreign_shortcodes(tmp_path):
    import nbformat

    from analysis.reporting import book

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("#| label: txt-a\nx")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "Coop {{< env CAE_IMPACT_KEY >}}"})]
    nb.cells = [cell]
    nbformat.write(nb, str(tmp_path / "n.ipynb"))
    good = "# Titre\n\n{{< embed n.ipynb#txt-a >}}\n"
    (tmp_path / "a.qmd").write_text(good, encoding="utf-8")
    probs = book.check_embeds(tmp_path / "a.qmd", "a.qmd")
    assert len(probs) == 1 and "n.ipynb" in probs[0] and "non généré" in probs[0]
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "ok"})]
    nbformat.write(nb, str(tmp_path / "n.ipynb"))
    assert book.check_embeds(tmp_path / "a.qmd", "a.qmd") == []
    for payload in ("{{< include /etc/passwd >}}", "{{<env HOME>}}", "{ {< var x >}}", "{{{< meta title >}}}"):
        (tmp_path / "b.qmd").write_text(good + payload + "\n", encoding="utf-8")
        assert book.check_embeds(tmp_path / "b.qmd", "b.qmd"), payload


@pytest.mark.parametrize("nom", ["Coop {{< env CAE_IMPACT_KEY >}} <script>alert(1)</script>",
                                 "Coop\n{{< include ../../pseudonym.key >}}\n# Faux chapitre", "$x$ `y` *z* [l](u) @c"])
def test_cae_names_reach_the_book_as_plain_text(tmp_path, nom):
    from analysis.reporting import book

    (tmp_path / "p" / "coop").mkdir(parents=True)
    (tmp_path / "p" / "coop" / "cae.json").write_text(json.dumps({"nom": nom}), encoding="utf-8")
    (ch,) = book.chapters_for(["coop"], tmp_path / "p", anonymise=False)
    qmd = book.chapter_qmd(ch, "nb", {})
    heading = qmd.splitlines()[0]
    assert heading.startswith("# ") and heading.endswith("{#sec-coop}") and "\n" not in ch.title
    assert book.foreign_shortcodes(qmd, "x.qmd") == []
    (tmp_path / "o" / "coop").mkdir(parents=True)
    doc = book.cae_document(tmp_path / "o", ch)
    assert book.check_embeds(doc, "rapport.qmd") == []
    front = yaml.safe_load(doc.read_text(encoding="utf-8").split("---")[1])
    assert "{{" not in front["title"].replace("\\", "").replace(escape.WORD_JOINER + "{", "")


def _fake_run(out: Path, fp_summary: str, fp_stamp: str, status: str = "completed") -> None:
    import nbformat

    from analysis.pipeline import registry

    (out / "coop").mkdir(parents=True)
    (out / "coop" / ".stamp.json").write_text(json.dumps({"fingerprint": fp_stamp}))
    for stem in [st.carnet for st in registry.cae_stages()]:
        nb = nbformat.v4.new_notebook()
        c = nbformat.v4.new_code_cell("1")
        c.metadata["papermill"] = {"status": status}
        nb.cells = [c]
        nbformat.write(nb, str(out / "coop" / f"{stem}.ipynb"))
    (out / "run_summary.json").write_text(json.dumps({"ok": True, "caes": [{"cae": "coop", "ok": True, "fingerprint": fp_summary}], "national": None}))


def test_book_refuses_incomplete_or_older_runs_and_names_them(tmp_path):
    from analysis.reporting import book
    from analysis.pipeline.runner import RUN_MARKER

    _fake_run(tmp_path / "a", "f1", "f1")
    assert book.run_problems(tmp_path / "a") == []
    _fake_run(tmp_path / "b", "f1", "f0")
    assert ["coop" in p and "autre exécution" in p for p in book.run_problems(tmp_path / "b")] == [True]
    _fake_run(tmp_path / "c", "f1", "f1", status="failed")
    assert all("coop" in p and "en partie" in p for p in book.run_problems(tmp_path / "c"))
    (tmp_path / "a" / RUN_MARKER).write_text("{}")
    assert "interrompue" in book.run_problems(tmp_path / "a")[0]
    assert book.build(out_dir=tmp_path / "a", report_dir=tmp_path / "r", render=False) == 1


# --------------------------------------------------------------- no traceback

def _cli(*args, stdin=None, **kw):
    return subprocess.run([sys.executable, "-m", "analysis.cli", *args], capture_output=True, text=True, timeout=300, **kw)


def test_no_traceback_when_output_cannot_be_written(tmp_path):
    blocker = tmp_path / "fichier"
    blocker.write_text("x")
    make_cae(tmp_path / "raw", slug="coop-a")
    env = {**os.environ, "CAE_IMPACT_KEY": "00" * 31 + "01"}
    r = _cli("run", "--raw", str(tmp_path / "raw"), "--processed", str(blocker / "p"), "--out", str(tmp_path / "out"), "--jobs", "1", env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.strip()
    r = _cli("templates", str(blocker / "modeles"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    r = _cli("demo", "--raw", str(blocker / "raw"))
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_no_traceback_when_the_reader_of_validate_leaves(tmp_path):
    header, rows = list(ENT_HEADER), [list(r) for r in ENT_ROWS] * 400
    for i, r in enumerate(rows):
        r[0] = f"A{i}"
        r[header.index("genre")] = "?"
    d = make_cae(tmp_path, ent=(header, rows))
    p = subprocess.Popen(f"{sys.executable} -m analysis.cli validate {d} | head -1", shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=300)
    assert out.count("\n") == 1 and "Traceback" not in err and "BrokenPipe" not in err


# --------------------------------------------------------------- run as a transaction, dead kernel

def _nb(path: Path, code: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('cae = ""\nprocessed_dir = ""\nout_dir = ""\nraw_dir = ""')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.mark.parametrize("failure", ["raise ValueError('étape cassée')", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
def test_a_failing_stage_or_dead_kernel_keeps_previous_results(tmp_path, pseudonym_key, failure):
    from analysis.pipeline import runner

    make_cae(tmp_path / "raw", slug="coop-a")
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _nb(nbs / "s1.ipynb", "from pathlib import Path\n(Path(processed_dir) / cae / 'nouveau.txt').write_text('nouveau')")
    _nb(nbs / "s2.ipynb", failure)
    for d in (tmp_path / "processed" / "coop-a", tmp_path / "out" / "coop-a"):
        d.mkdir(parents=True)
        (d / "ancien.txt").write_text("résultat précédent")
    t = time.perf_counter()
    res = runner.run_cae("coop-a", tmp_path / "raw", tmp_path / "processed", tmp_path / "out", nbs, stages=["s1", "s2"], export_html=False)
    assert time.perf_counter() - t < 240
    assert not res.ok and [s.ok for s in res.stages] == [True, True, False]
    if "SIGKILL" in failure:
        assert "Le noyau Jupyter s'est arrêté" in res.error
    for d in (tmp_path / "processed" / "coop-a", tmp_path / "out" / "coop-a"):
        assert (d / "ancien.txt").read_text() == "résultat précédent"
    assert not (tmp_path / "processed" / "coop-a" / "nouveau.txt").exists()
    assert (tmp_path / "out" / "coop-a" / "validation.html").exists()  # always updated
    assert (tmp_path / "out" / runner.FAILED_DIR / "coop-a" / "s2.ipynb").exists()
    assert not [p for p in (tmp_path / "processed").iterdir() if p.name.startswith(runner.STAGING)]
    # and when every stage succeeds, the new results replace the old ones at once
    _nb(nbs / "s2.ipynb", "x = 1")
    res = runner.run_cae("coop-a", tmp_path / "raw", tmp_path / "processed", tmp_path / "out", nbs, stages=["s1", "s2"], export_html=False, fingerprint="f")
    assert res.ok
    assert (tmp_path / "processed" / "coop-a" / "nouveau.txt").exists() and not (tmp_path / "processed" / "coop-a" / "ancien.txt").exists()
    assert json.loads((tmp_path / "out" / "coop-a" / ".stamp.json").read_text())["fingerprint"] == "f"
