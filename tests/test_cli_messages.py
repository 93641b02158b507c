"""Validation wording a CAE reads (issue 16): empty value vs absent key,
YAML keys called « clé », a "vouliez-vous dire" for a mistyped code,
an impossible date named as such. Expected strings are written by hand."""

from __future__ import annotations

from _intake_helpers import CAE_YML, ENT_HEADER, ENT_ROWS, make_cae, with_cell
from analysis.intake import process as intake
from analysis.intake.validation import impossible_date_text, read_cae_yml, suggest_code


def _messages(folder):
    return [str(p) for p in intake.validate_dir(folder)]


def test_empty_nom_is_an_empty_value_not_an_absent_key(tmp_path):
    (tmp_path / "cae.yml").write_text(CAE_YML.replace('nom: "Coopérative Test"', "nom:"), encoding="utf-8")
    info, probs = read_cae_yml(tmp_path / "cae.yml")
    assert info is None
    [p] = [p for p in probs if p.colonne == "nom"]
    assert p.message == "Valeur vide pour la clé « nom »."
    assert "absente" not in p.message
    assert str(p).startswith("[erreur] cae.yml, clé « nom » : Valeur vide")  # a YAML key is a « clé »
    (tmp_path / "cae.yml").write_text(CAE_YML.replace('nom: "Coopérative Test"\n', ""), encoding="utf-8")
    _, probs = read_cae_yml(tmp_path / "cae.yml")
    assert [p.message for p in probs if p.colonne == "nom"] == ["Clé obligatoire absente : « nom »."]


def test_a_spreadsheet_column_is_still_a_colonne(tmp_path):
    rows = with_cell(ENT_HEADER, ENT_ROWS, 2, "genre", "Femmme")
    msgs = _messages(make_cae(tmp_path, ent=rows))
    assert any("entrepreneurs.csv, ligne 2, colonne « genre »" in m for m in msgs), msgs


def test_mistyped_code_gets_a_suggestion(tmp_path):
    rows = with_cell(ENT_HEADER, ENT_ROWS, 3, "diplome", "Bac+2")
    msgs = [m for m in _messages(make_cae(tmp_path, ent=rows)) if "« diplome »" in m]
    assert len(msgs) == 1, msgs
    assert "ligne 3" in msgs[0] and "vouliez-vous dire « bac_2 » (Bac +2) ?" in msgs[0]
    assert suggest_code("Bac + 3 ou + 4", "diplome") == "bac_3_4"
    assert suggest_code("Hommme", "genre") == "H"
    assert suggest_code("zzz", "genre") is None


def test_impossible_dates_are_named(tmp_path):
    rows = with_cell(ENT_HEADER, ENT_ROWS, 2, "date_entree", "31/02/2019")
    msgs = [m for m in _messages(make_cae(tmp_path, ent=rows)) if "« date_entree »" in m]
    assert len(msgs) == 1 and "Date impossible : le 31 février n'existe pas." in msgs[0], msgs
    assert impossible_date_text("31/04/2019") == "le 31 avril n'existe pas"
    assert impossible_date_text("2019-02-29") == "le 29 février 2019 n'existe pas : 2019 n'est pas bissextile"
    assert impossible_date_text("29/02/2020") is None  # 2020 is a leap year
    assert impossible_date_text("12/13/2019") == "il n'y a pas de mois 13 (jour et mois inversés ?)"
    assert impossible_date_text("pas une date") is None


def test_impossible_period_date_in_cae_yml(tmp_path):
    (tmp_path / "cae.yml").write_text(CAE_YML.replace("fin: 2019-12-31", 'fin: "31/02/2019"'), encoding="utf-8")
    _, probs = read_cae_yml(tmp_path / "cae.yml")
    [p] = [p for p in probs if p.colonne == "periode.fin"]
    assert p.message == "Date impossible pour « periode.fin » : le 31 février n'existe pas."
