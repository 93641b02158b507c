"""process_cae end to end on small hand-written CAEs: outputs, provenance,
atomic writes, no personal data anywhere downstream, enDI hook."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from _intake_helpers import (
    ACT_HEADER, ACT_ROWS, ENT_HEADER, ENT_ROWS, EXPECTED_ACT, KEY, Q_HEADER, Q_ROWS, make_cae, with_cell, write_csv,
)
import analysis.intake
from analysis import __version__
from analysis.intake import process as intake
from analysis.intake import processed
from analysis.intake.problems import Problem
from analysis.intake.pseudonymise import pseudonym


@pytest.fixture()
def roots(tmp_path):
    return tmp_path / "raw", tmp_path / "processed", tmp_path / "out"


def run(roots, slug="test", **kw):
    raw, proc, out = roots
    return intake.process_cae(slug, raw, proc, out, key=KEY, **kw)


def test_good_cae_writes_contract(roots):
    raw, proc, out = roots
    d = make_cae(raw, q=(Q_HEADER, Q_ROWS))
    res = run(roots)
    assert res.ok and res.problems.errors == []
    data = processed.load_cae("test", proc)
    e, a, q = data.personnes, data.activite, data.questionnaire
    assert e["id"].tolist() == [pseudonym(x, KEY) for x in ["A1", "A2", "A3"]]
    # 2018-1980 = 38, 2019-1995 = 24, 2015-1960 = 55
    assert e["tranche_age"].tolist() == ["35_49", "moins_26", "50_plus"]
    assert "annee_naissance" not in e and "commentaire" not in q
    assert str(e["date_entree"].dtype).startswith("datetime64") and e["genre"].tolist() == ["F", "H", "F"]
    assert pd.isna(e.loc[0, "motif_sortie"])
    assert a["annee"].dtype == "Int64" and a["chiffre_affaires"].dtype == "float64"
    assert a["chiffre_affaires"].tolist() == EXPECTED_ACT["chiffre_affaires"].tolist()
    assert q["eff_accompagnement"].dtype == "Int64" and q["eff_accompagnement"].tolist() == [5, 2]
    assert q["id"].iloc[0] == pseudonym("A1", KEY) and pd.isna(q["id"].iloc[1])
    assert q["part_cae"].iloc[0] == 80.0 and q["revenu_avant"].iloc[0] == 1200.5
    assert data.info["slug"] == "test" and data.info["periode"] == {"debut": "2019-01-01", "fin": "2019-12-31"}
    m = data.manifest
    assert m["files"]["entrepreneurs.csv"]["sha256"] == hashlib.sha256((d / "entrepreneurs.csv").read_bytes()).hexdigest()
    assert m["files"]["entrepreneurs.csv"]["encoding"] == "cp1252" and m["files"]["entrepreneurs.csv"]["separator"] == ";"
    assert m["files"]["activite.csv"]["rows"] == 4
    assert m["tables"]["entrepreneurs"]["rows_in"] == 3 == m["tables"]["entrepreneurs"]["rows_out"]
    assert m["package_version"] == __version__ and m["codebook_version"] == "1.1.0"
    assert "codebook" in m["methodology"] and m["run_time_utc"].endswith("+00:00")
    assert m["raw_fingerprint"] == intake.raw_fingerprint(d)
    # the French validation report exists even without problems
    assert "Aucun problème" not in (out / "test" / "validation.html").read_text()  # there is one warning (partial survey)
    assert (out / "test" / "validation.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_report_says_no_problem(roots):
    raw, proc, out = roots
    make_cae(raw)
    res = run(roots)
    assert res.summary_fr == "CAE « test » : aucun problème."
    assert "Aucun problème" in (out / "test" / "validation.html").read_text(encoding="utf-8")
    lines = (out / "test" / "validation.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines == ["Gravité;Fichier;Ligne;Colonne;Valeur;Problème;Correction", "aucun problème;;;;;;"]


def test_errors_write_nothing_and_keep_previous_output(roots):
    raw, proc, out = roots
    d = make_cae(raw)
    assert run(roots).ok
    before = {p.name: p.read_bytes() for p in (proc / "test").iterdir()}
    write_csv(d / "activite.csv", *with_cell(ACT_HEADER, ACT_ROWS, 3, "chiffre_affaires", "beaucoup"))
    res = run(roots)
    assert not res.ok and res.manifest is None
    assert {p.name: p.read_bytes() for p in (proc / "test").iterdir()} == before
    assert [p.name for p in proc.iterdir()] == ["test"]  # no temporary folder left
    assert "activite.csv, ligne 3, colonne « chiffre_affaires » : Ce n'est pas un nombre." in res.summary_fr
    html = (out / "test" / "validation.html").read_text(encoding="utf-8")
    assert "beaucoup" in html and "Ce n&#39;est pas un nombre." in html


def test_error_on_first_run_writes_no_folder(roots):
    raw, proc, out = roots
    make_cae(raw, act=False)
    res = run(roots)
    assert not res.ok and not (proc / "test").exists()
    assert res.summary_fr.startswith("CAE « test » : 1 erreur, 0 avertissement.")


def test_rerun_replaces_output(roots):
    raw, proc, out = roots
    d = make_cae(raw)
    run(roots)
    write_csv(d / "activite.csv", *with_cell(ACT_HEADER, ACT_ROWS, 5, "chiffre_affaires", "46 000"))
    assert run(roots).ok
    assert processed.load_cae("test", proc).activite["chiffre_affaires"].iloc[3] == 46000.0


def test_summary_limits_and_groups(roots):
    raw, proc, out = roots
    rows = [[f"B{i}", "demain"] + ENT_ROWS[0][2:] for i in range(15)]
    make_cae(raw, ent=(ENT_HEADER, rows), act=(ACT_HEADER, [["B1", "2019", "1", "1", "10"]]))
    res = run(roots)
    lines = res.summary_fr.splitlines()
    assert lines[0] == "CAE « test » : 15 erreurs, 0 avertissement. Les erreurs empêchent le traitement de cette CAE."
    assert lines[1] == ("  [erreur] entrepreneurs.csv, colonne « date_entree » : Date illisible. (15 lignes : 2, 3, 4, 5, 6, 7, 8, 9, …) "
                        "→ Écrivez la date au format JJ/MM/AAAA (par exemple 15/03/2019) ou AAAA-MM-JJ.")
    assert len(lines) == 2


def test_bad_key_is_a_french_problem(roots, monkeypatch):
    raw, proc, out = roots
    make_cae(raw)
    monkeypatch.setenv("CAE_IMPACT_KEY", "pas-une-cle")
    res = intake.process_cae("test", raw, proc, out)
    assert not res.ok and not (proc / "test").exists()
    assert res.problems.errors[0].message.startswith("La clé de pseudonymisation est inutilisable : La clé de pseudonymisation donnée par la variable d'environnement CAE_IMPACT_KEY n'est pas en hexadécimal.")


def test_raw_fingerprint(tmp_path):
    a = make_cae(tmp_path, "a")
    b = make_cae(tmp_path, "b")
    assert intake.raw_fingerprint(a) == intake.raw_fingerprint(b)
    (b / "activite.csv").write_bytes((b / "activite.csv").read_bytes() + b"\r\n")
    assert intake.raw_fingerprint(a) != intake.raw_fingerprint(b)
    (a / ".hidden").write_text("x")
    assert intake.raw_fingerprint(a) == intake.raw_fingerprint(make_cae(tmp_path, "c"))


def test_ensure_processed_incremental(roots):
    raw, proc, out = roots
    d = make_cae(raw)
    r1 = intake.ensure_processed("test", raw, proc, out, key=KEY)
    t1 = r1.manifest["run_time_utc"]
    mtime = (proc / "test" / "manifest.json").stat().st_mtime_ns
    r2 = intake.ensure_processed("test", str(raw), str(proc), str(out), key=KEY)
    assert r2.manifest["run_time_utc"] == t1 and (proc / "test" / "manifest.json").stat().st_mtime_ns == mtime
    write_csv(d / "activite.csv", *with_cell(ACT_HEADER, ACT_ROWS, 3, "annee", "deux mille"))
    with pytest.raises(intake.IntakeError, match="activite.csv, ligne 3, colonne « annee » : Un nombre entier est attendu."):
        intake.ensure_processed("test", raw, proc, out, key=KEY)
    # a different key is a change too
    write_csv(d / "activite.csv", ACT_HEADER, ACT_ROWS)
    intake.ensure_processed("test", raw, proc, out, key=KEY)
    assert not intake.is_fresh("test", raw, proc, key=b"x" * 32)


def test_validate_dir_writes_nothing(tmp_path):
    d = make_cae(tmp_path)
    before = sorted(p.name for p in d.iterdir())
    probs = intake.validate_dir(d)
    assert len(probs) == 0 and sorted(p.name for p in d.iterdir()) == before


# --- personal data never leaves data/raw -------------------------------------------------

PLANTED = ["Jeanne Moreau-Exemple", "jeanne.moreau@exemple.invalid", "06 12 34 56 78", "Karim Benali",
           "k.benali@exemple.invalid", "+33 7 98 76 54 32", "Sophie Martin", "0612345678"]


def test_no_personal_data_in_any_output(roots, monkeypatch):
    raw, proc, out = roots
    ids = ["Jeanne Moreau-Exemple", "k.benali@exemple.invalid", "Sophie Martin"]
    ent = [[ids[i]] + r[1:] for i, r in enumerate(ENT_ROWS)]
    act = [[{"A1": ids[0], "A2": ids[1], "A3": ids[2]}[r[0]]] + r[1:] for r in ACT_ROWS]
    q = [[ids[0]] + Q_ROWS[0][1:-1] + ["Rappelez-moi au 06 12 34 56 78 ou jeanne.moreau@exemple.invalid"],
         [""] + Q_ROWS[1][1:-1] + ["Karim Benali, +33 7 98 76 54 32, 0612345678"]]
    # make one warning carry a personal value's row: an unknown-id problem would be an error, so use a duplicate-free warning
    act[3][4] = "3 000"
    make_cae(raw, ent=(ENT_HEADER, ent), act=(ACT_HEADER, act), q=(Q_HEADER, q))
    res = run(roots)
    assert res.ok
    # the cleaning notebook's display tables too
    tables = intake.cleaning_report("test", raw, proc, out)
    monkeypatch.setenv("CAE_IMPACT_KEY", KEY.hex())
    shown = [res.summary_fr, tables["pseudonymisation"]] + [tables[k].to_csv() for k in ("fichiers", "lignes", "avertissements", "manquants")]
    files = [p for p in list(proc.rglob("*")) + list(out.rglob("*")) if p.is_file()]
    assert {p.suffix for p in files} >= {".parquet", ".json", ".html", ".csv"}
    blobs = [p.read_bytes() for p in files]
    for p in files:
        if p.suffix == ".parquet":  # also the decoded values (pages may be compressed)
            blobs.append(pq.read_table(p).to_pandas().to_csv().encode())
    for secret in PLANTED:
        for variant in {secret, secret.replace(" ", ""), secret.lower()}:
            needle = variant.encode("utf-8")
            assert not any(needle in b for b in blobs), f"{secret!r} leaked"
            assert not any(variant in s for s in shown)
    # the pseudonyms are there instead
    assert pseudonym(ids[1], KEY).encode() in pq.read_table(proc / "test" / "activite.parquet").to_pandas().to_csv().encode()


# --- enDI hook -----------------------------------------------------------------------------

def test_endi_export_fills_missing_tables(roots, monkeypatch):
    raw, proc, out = roots
    d = make_cae(raw, ent=False)
    for name in ("porteurs_2018.csv", "porteurs_2019.csv"):
        (d / name).write_text("fake", encoding="utf-8")
    frame = pd.DataFrame([r for r in ENT_ROWS], columns=ENT_HEADER, index=pd.Index([2, 3, 4]))
    frame.loc[4, "genre"] = "Q"  # an error, to be reported on the enDI file and line the row came from
    calls = []
    src = "porteurs_2018.csv, porteurs_2019.csv"

    def convert_folder(folder):
        calls.append(Path(folder))
        return types.SimpleNamespace(
            tables={"entrepreneurs": frame}, sources={"entrepreneurs": src},
            problems=[Problem("porteurs_2018.csv", "Colonne enDI ignorée.", "", gravite="avertissement")],
            read_info={"porteurs_2018.csv": {"sha256": "abc", "encoding": "utf-8", "separator": ";", "rows": 2},
                       "porteurs_2019.csv": {"sha256": "def", "encoding": "utf-8", "separator": ";", "rows": 1}},
            row_files={"entrepreneurs": ["porteurs_2018.csv", "porteurs_2018.csv", "porteurs_2019.csv"]},
            row_lines={"entrepreneurs": [5, 6, 2]})

    fake = types.SimpleNamespace(convert_folder=convert_folder)
    monkeypatch.setitem(sys.modules, "analysis.intake.endi", fake)
    monkeypatch.setattr(analysis.intake, "endi", fake, raising=False)
    res = run(roots)
    assert calls == [d]
    assert [(p.fichier, p.ligne, p.colonne, p.message) for p in res.problems.errors] == [
        ("porteurs_2019.csv", 2, "genre", "Valeur non reconnue.")]
    assert [p.message for p in res.problems.warnings] == ["Colonne enDI ignorée."]  # not "fichier non reconnu"
    frame.loc[4, "genre"] = "F"
    res = run(roots)
    assert res.ok
    m = json.loads((proc / "test" / "manifest.json").read_text())
    assert m["files"]["porteurs_2019.csv"] == {"table": "entrepreneurs", "source": "enDI", "sha256": "def", "encoding": "utf-8", "separator": ";", "rows": 1}
    assert m["tables"]["entrepreneurs"]["file"] == src


def test_without_endi_module_missing_table_is_an_error(roots, monkeypatch):
    raw, proc, out = roots
    make_cae(raw, ent=False)
    monkeypatch.setitem(sys.modules, "analysis.intake.endi", None)  # import fails
    monkeypatch.delattr(analysis.intake, "endi", raising=False)
    res = run(roots)
    assert [p.message for p in res.problems.errors][0].startswith("Fichier obligatoire absent : la table « entrepreneurs »")


# --- display helpers and the cleaning notebook ---------------------------------------------

def test_grouped_problems_and_summary(roots):
    raw, proc, out = roots
    rows = [list(r) for r in ENT_ROWS]
    for r in rows:
        r[ENT_HEADER.index("date_entree")] = "05/01/2020"  # 3 entries after the period: one grouped warning
        r[ENT_HEADER.index("date_sortie")] = r[ENT_HEADER.index("date_cesa")] = r[ENT_HEADER.index("date_societariat")] = ""
        r[ENT_HEADER.index("motif_sortie")] = ""
    make_cae(raw, ent=(ENT_HEADER, rows))
    rep = intake.cleaning_report("test", raw, proc, out)
    g = intake.grouped_problems_frame(rep["result"].problems.warnings)
    assert g[["Colonne", "Problème", "Lignes"]].values.tolist() == [
        ["date_entree", "Entrée après la fin de la période étudiée (31/12/2019).", "3 : 2, 3, 4"]]
    assert intake.cleaning_summary_fr(rep) == ("2 fichiers de données ont été lus et contrôlés : 3 entrepreneurs, "
                                               "4 lignes d'activité annuelle, pas de questionnaire. Aucune erreur ; 3 avertissements (voir ci-dessous).")
    assert rep["lignes"][["Fichier", "Lignes lues"]].values.tolist() == [["entrepreneurs.csv", 3], ["activite.csv", 4]]
    # 4 rows of activity, 3 people: every base is itself a small count, so no share is published
    m = rep["manquants"]
    assert m["part_manquante"].isna().all() and (m["suppression"] == "effectif").all()


def test_missing_shares_hide_small_counts_of_missing_and_given_values(tmp_path, monkeypatch):
    """A missing share × the table's published rows gives a count back: with
    40 people, 2 or 37 missing leaving dates (2 or 3 people) are hidden, 0,
    5, 35 and 40 are shown (worked by hand: threshold 5, base 40 ≥ 10)."""
    from analysis.intake import processed

    monkeypatch.setenv("CAE_IMPACT_KEY", KEY.hex())
    n = 40
    frame = pd.DataFrame({"a": [None] * 2 + [1.0] * 38, "b": [None] * 37 + [1.0] * 3, "c": [1.0] * n,
                          "d": [None] * 5 + [1.0] * 35, "e": [None] * 35 + [1.0] * 5, "f": [None] * n})

    class Data:
        def table(self, t):
            return frame if t == "entrepreneurs" else None

    monkeypatch.setattr(processed, "load_cae", lambda cae, proc=None: Data())
    m = intake.missing_table("x").set_index("colonne")
    assert m["part_manquante"].isna().tolist() == [True, True, False, False, False, False]
    assert m["suppression"].fillna("").tolist() == ["effectif", "complementaire", "", "", "", ""]
    assert m.loc["c", "part_manquante"] == 0.0 and m.loc["d", "part_manquante"] == 0.125
    assert m.loc["e", "part_manquante"] == 0.875 and m.loc["f", "part_manquante"] == 1.0


@pytest.mark.e2e
def test_cleaning_notebook_runs(roots, monkeypatch):
    import papermill as pm

    raw, proc, out = roots
    monkeypatch.setenv("CAE_IMPACT_KEY", KEY.hex())
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = Path(__file__).resolve().parents[1] / "notebooks" / "01_nettoyage.ipynb"
    ids = ["Jeanne Moreau-Exemple", "k.benali@exemple.invalid", "Sophie Martin"]
    ent = [[ids[i]] + r[1:] for i, r in enumerate(ENT_ROWS)]
    act = [[{"A1": ids[0], "A2": ids[1], "A3": ids[2]}[r[0]]] + r[1:] for r in ACT_ROWS]
    make_cae(raw, ent=(ENT_HEADER, ent), act=(ACT_HEADER, act), q=(Q_HEADER, [[ids[0]] + Q_ROWS[0][1:]]))
    params = {"cae": "test", "raw_dir": str(raw), "processed_dir": str(proc), "out_dir": str(out)}
    out.mkdir(parents=True)
    res = pm.execute_notebook(str(nb), str(out / "01.ipynb"), parameters=params, kernel_name="python3", progress_bar=False)
    outputs = [o for c in res.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    text = (out / "01.ipynb").read_text(encoding="utf-8")
    assert "3 entrepreneurs, 4 lignes d'activité annuelle, 1 réponse au questionnaire" in text
    assert not any(s in text for s in ids + ["Très bien, appelez-moi"])
    assert (proc / "test" / "nettoyage_lignes.parquet").exists() and (proc / "test" / "entrepreneurs.parquet").exists()
    # a CAE with errors stops the notebook with the French summary
    write_csv(raw / "test" / "activite.csv", *with_cell(ACT_HEADER, act, 2, "annee", "2O19"))
    with pytest.raises(pm.PapermillExecutionError, match="Un nombre entier est attendu"):
        pm.execute_notebook(str(nb), str(out / "01b.ipynb"), parameters=params, kernel_name="python3", progress_bar=False)
