"""Templates and data dictionary, derived from the codebook; a filled template reads back."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from _intake_helpers import ACT_HEADER, KEY, write_csv
from analysis.intake import codebook as cbk
from analysis.intake import process as intake
from analysis.intake import processed
from analysis.intake import templates
from analysis.intake.validation import read_cae_yml


@pytest.fixture(scope="module")
def tpl(tmp_path_factory):
    d = tmp_path_factory.mktemp("tpl")
    return d, templates.write_templates(d)


def test_files_written(tpl):
    d, paths = tpl
    names = sorted(p.name for p in paths)
    assert names == sorted(["entrepreneurs.xlsx", "entrepreneurs.csv", "activite.xlsx", "activite.csv",
                            "questionnaire.xlsx", "questionnaire.csv", "cae.yml", "dictionnaire_des_donnees.csv"])
    assert all(p.exists() and p.parent == d for p in paths)


def test_csv_templates_header_only(tpl):
    d, _ = tpl
    data = (d / "activite.csv").read_bytes()
    assert data == "\ufeffid;annee;chiffre_affaires;remuneration_brute;heures_remunerees\r\n".encode("utf-8")
    q = (d / "questionnaire.csv").read_text(encoding="utf-8-sig").strip().split(";")
    assert q[0] == "id" and q[-1] == "commentaire" and len(q) == len(cbk.columns("questionnaire"))


def test_xlsx_template_structure(tpl):
    d, _ = tpl
    wb = openpyxl.load_workbook(d / "entrepreneurs.xlsx")
    assert wb.sheetnames == ["Lisez-moi", "entrepreneurs", "Listes", "Dictionnaire"] and wb["Listes"].sheet_state == "hidden"
    assert wb.active.title == "Lisez-moi"
    ws = wb["entrepreneurs"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["Identifiant", "Date d'entrée", "Date de sortie"]  # French labels, not codes
    assert header == [s.get("label", n) for n, s in cbk.columns("entrepreneurs").items()]
    assert ws["E1"].comment.text.startswith("Genre\nFacultatif.\nCode de la colonne (dictionnaire des données) : genre\nCodes : F = Femme ; H = Homme")
    # drop-down on genre (column E) pointing at the French labels
    dv = [v for v in ws.data_validations.dataValidation if "E2:E1001" in str(v.sqref)]
    assert len(dv) == 1 and dv[0].type == "list"
    sheet, rng = dv[0].formula1.lstrip("=").split("!")
    first, last = rng.replace("$", "").split(":")
    labels = [c.value for row in wb[sheet][first:last] for c in row]
    assert labels == ["Femme", "Homme", "Autre", "Non renseigné"]
    # every coded/scale column of every table has a drop-down list
    for table in cbk.table_names():
        wb = openpyxl.load_workbook(d / f"{table}.xlsx")
        ws = wb[table]
        lists = {str(v.sqref).split(":")[0].rstrip("0123456789") for v in ws.data_validations.dataValidation if v.type == "list"}
        coded = {openpyxl.utils.get_column_letter(j) for j, (_, s) in enumerate(cbk.columns(table).items(), 1) if s["type"] in ("code", "scale")}
        assert lists == coded
    dico = [[c.value for c in r] for r in openpyxl.load_workbook(d / "activite.xlsx")["Dictionnaire"].iter_rows()]
    assert dico[0] == ["table", "colonne", "libellé", "type", "obligatoire", "codes acceptés", "règle"]
    assert [r[1] for r in dico[1:]] == ACT_HEADER


def test_data_dictionary():
    dd = templates.data_dictionary()
    assert list(dd.columns) == ["table", "colonne", "libellé", "type", "obligatoire", "codes acceptés", "règle"]
    assert len(dd) == sum(len(cbk.columns(t)) for t in cbk.table_names())
    row = dd[(dd.table == "activite") & (dd.colonne == "heures_remunerees")].iloc[0]
    assert (row["type"], row["obligatoire"]) == ("nombre", "non")
    assert "≥ 0" in row["règle"] and "avertissement au-delà de 2\u202f500" in row["règle"]
    m = dd[dd.colonne == "motif_sortie"].iloc[0]
    assert m["obligatoire"] == "si « Date de sortie » est renseignée"
    assert dd[(dd.table == "questionnaire") & (dd.colonne == "who5_1")].iloc[0]["codes acceptés"].startswith("0 = Jamais ; 1 = De temps en temps")
    assert "formulé à l'envers" in dd[dd.colonne == "qvt_sante_2"].iloc[0]["règle"]


def test_cae_yml_template_blank_then_filled(tpl, tmp_path):
    d, _ = tpl
    text = (d / "cae.yml").read_text(encoding="utf-8")
    info, probs = read_cae_yml(d / "cae.yml")
    assert info is None
    assert {p.colonne for p in probs} == {"nom", "region", "type", "territoire", "annee_creation", "equipe_appui_etp",
                                          "periode.debut", "periode.fin", "ressources.subventions_publiques",
                                          "ressources.contribution_entrepreneurs", "ressources.autres_produits",
                                          "ressources.benevolat_heures"}
    # fill each key with the example its comment gives
    filled = []
    for line in text.splitlines():
        if "par exemple" in line and not line.lstrip().startswith("#"):
            key, comment = line.split("#", 1)
            filled.append(key.rstrip() + " " + comment.split("par exemple ")[1])
        else:
            filled.append(line)
    (tmp_path / "cae.yml").write_text("\n".join(filled), encoding="utf-8")
    info, probs = read_cae_yml(tmp_path / "cae.yml")
    assert probs == []
    assert info["nom"] == "Coopérative Exemple" and info["periode"] == {"debut": "2019-01-01", "fin": "2019-12-31"}
    assert info["ressources"]["subventions_publiques"] == 180000.0 and info["equipe_appui_etp"] == 4.5


def test_filled_xlsx_template_reads_back(tpl, tmp_path):
    """Fill the template's data sheet with the labels of its own drop-down lists."""
    d, _ = tpl
    cae = tmp_path / "raw" / "modele"
    cae.mkdir(parents=True)
    yml = (tmp_path / "cae.yml")
    test_cae_yml_template_blank_then_filled(tpl, tmp_path)  # writes a filled cae.yml in tmp_path
    (cae / "cae.yml").write_bytes(yml.read_bytes())
    wb = openpyxl.load_workbook(d / "entrepreneurs.xlsx")
    ws = wb["entrepreneurs"]
    values = {"id": "Claire", "date_entree": dt.datetime(2019, 2, 1), "genre": "Femme", "annee_naissance": 1990,
              "diplome": "Bac +3 ou +4", "situation_entree": "Bénéficiaire du RSA", "qpv": "Oui", "zone": "Rural",
              "secteur": "Conseil", "statut": "CESA (entrepreneur salarié)", "date_cesa": dt.datetime(2019, 6, 1)}
    for j, name in enumerate(cbk.columns("entrepreneurs"), start=1):
        if name in values:
            ws.cell(row=2, column=j, value=values[name])
    wb.save(cae / "entrepreneurs.xlsx")
    write_csv(cae / "activite.csv", ACT_HEADER, [["Claire", "2019", "10 000", "3 000", "400"]])
    res = intake.process_cae("modele", tmp_path / "raw", tmp_path / "proc", tmp_path / "out", key=KEY)
    assert res.problems.errors == [], res.summary_fr
    e = processed.load_cae("modele", tmp_path / "proc").personnes.iloc[0]
    assert (e["genre"], e["diplome"], e["situation_entree"], e["qpv"], e["zone"], e["statut"], e["tranche_age"]) == (
        "F", "bac_3_4", "rsa", "oui", "rural", "cesa", "26_34")  # 2019 - 1990 = 29
    assert str(e["date_cesa"].date()) == "2019-06-01"


def test_xlsx_validations_alert_and_prompt(tpl):
    """openpyxl writes showErrorMessage="0" unless told: Excel and LibreOffice
    would then accept 31/02/2019 silently. Every column must alert and prompt."""
    d, _ = tpl
    for table in cbk.table_names():
        ws = openpyxl.load_workbook(d / f"{table}.xlsx")[table]
        dvs = ws.data_validations.dataValidation
        cols = {str(v.sqref).split(":")[0].rstrip("0123456789") for v in dvs}
        assert cols == {openpyxl.utils.get_column_letter(j) for j in range(1, len(cbk.columns(table)) + 1)}
        for v in dvs:
            assert v.showErrorMessage and v.showInputMessage and v.error and v.prompt, (table, v.sqref)
            assert len(v.prompt) <= 255 and len(v.promptTitle) <= 32
    ws = openpyxl.load_workbook(d / "entrepreneurs.xlsx")["entrepreneurs"]
    [date] = [v for v in ws.data_validations.dataValidation if str(v.sqref).startswith("B2:")]
    assert (date.type, date.operator, date.formula1, date.formula2, date.errorStyle) == ("date", "between", "1", "73050", None)
    assert ws["B2"].number_format == "DD/MM/YYYY" and ws["F2"].number_format == "0"  # year: no thousands separator
    act = openpyxl.load_workbook(d / "activite.xlsx")["activite"]
    [year] = [v for v in act.data_validations.dataValidation if str(v.sqref).startswith("B2:")]
    assert (year.type, year.formula1, year.formula2, year.error) == ("whole", "1980", "2100", "Saisissez un nombre entre 1980 et 2100.")


def test_readme_sheet_and_years_in_dictionary(tpl):
    d, _ = tpl
    wb = openpyxl.load_workbook(d / "activite.xlsx")
    text = "\n".join(str(c.value) for c in wb["Lisez-moi"]["A"] if c.value)
    assert text.startswith("Modèle « activite »")
    assert "activite.xlsx dans data/raw/<nom-de-votre-cae>/" in text and "cae-impact validate" in text
    dico = [[c.value for c in r] for r in wb["Dictionnaire"].iter_rows()]
    annee = next(r for r in dico if r[1] == "annee")
    assert "≥ 1980 ; ≤ 2100" in annee[6] and "1\u202f980" not in annee[6]


def test_every_column_of_a_filled_template_reads_back_exactly(tpl, tmp_path):
    """Both XLSX templates filled by hand, one value per column; the typed
    values expected are written out by hand (labels → codes, dates, numbers)."""
    from analysis.intake.validation import read_cae_yml  # noqa: F401  (cae.yml from the other test)

    d, _ = tpl
    cae = tmp_path / "raw" / "modele"
    cae.mkdir(parents=True)
    test_cae_yml_template_blank_then_filled(tpl, tmp_path)
    (cae / "cae.yml").write_bytes((tmp_path / "cae.yml").read_bytes())
    ent = {"id": "Claire", "date_entree": dt.datetime(2019, 2, 1), "date_sortie": dt.datetime(2019, 11, 30),
           "motif_sortie": "Emploi salarié", "genre": "Femme", "annee_naissance": 1990, "diplome": "Bac +2",
           "situation_entree": "Bénéficiaire du RSA", "qpv": "Non", "zone": "Urbain", "secteur": "Conseil",
           "statut": "CESA (entrepreneur salarié)", "date_cesa": dt.datetime(2019, 6, 1), "date_societariat": None}
    act = {"id": "Claire", "annee": 2019, "chiffre_affaires": 12500.5, "remuneration_brute": 3000.25, "heures_remunerees": 400}
    for table, values in (("entrepreneurs", ent), ("activite", act)):
        wb = openpyxl.load_workbook(d / f"{table}.xlsx")
        ws = wb[table]
        assert set(values) == set(cbk.columns(table))
        for j, name in enumerate(cbk.columns(table), start=1):
            ws.cell(row=2, column=j, value=values[name])
        wb.save(cae / f"{table}.xlsx")
    res = intake.process_cae("modele", tmp_path / "raw", tmp_path / "proc", tmp_path / "out", key=KEY)
    assert res.problems.errors == [], res.summary_fr
    data = processed.load_cae("modele", tmp_path / "proc")
    e = data.personnes.iloc[0]
    got = {c: e[c] for c in ("motif_sortie", "genre", "diplome", "situation_entree", "qpv", "zone", "secteur", "statut", "tranche_age")}
    assert got == {"motif_sortie": "emploi_salarie", "genre": "F", "diplome": "bac_2", "situation_entree": "rsa",
                   "qpv": "non", "zone": "urbain", "secteur": "Conseil", "statut": "cesa", "tranche_age": "26_34"}
    assert [str(e[c].date()) for c in ("date_entree", "date_sortie", "date_cesa")] == ["2019-02-01", "2019-11-30", "2019-06-01"]
    assert e["date_societariat"] is pd.NaT or pd.isna(e["date_societariat"])
    a = data.activite.iloc[0]
    assert (int(a["annee"]), a["chiffre_affaires"], a["remuneration_brute"], a["heures_remunerees"]) == (2019, 12500.5, 3000.25, 400.0)
