"""Templates and data dictionary, derived from the codebook; a filled template reads back."""

from __future__ import annotations

import datetime as dt

import openpyxl
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
    assert wb.sheetnames == ["entrepreneurs", "Listes", "Dictionnaire"] and wb["Listes"].sheet_state == "hidden"
    ws = wb["entrepreneurs"]
    header = [c.value for c in ws[1]]
    assert header == list(cbk.columns("entrepreneurs"))
    assert ws["E1"].comment.text.startswith("Genre\nFacultatif.\nCodes : F = Femme ; H = Homme")
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
    e = processed.load_cae("modele", tmp_path / "proc").entrepreneurs.iloc[0]
    assert (e["genre"], e["diplome"], e["situation_entree"], e["qpv"], e["zone"], e["statut"], e["tranche_age"]) == (
        "F", "bac_3_4", "rsa", "oui", "rural", "cesa", "26_34")  # 2019 - 1990 = 29
    assert str(e["date_cesa"].date()) == "2019-06-01"
