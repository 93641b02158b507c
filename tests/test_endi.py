"""Tests of the enDI adapter on synthetic enDI-shaped exports.

Expected values are worked out by hand in ``tests/_endi_fixtures.py``
(EXPECTED, EXPECTED_ACTIVITE) or below, never copied from the adapter.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _endi_fixtures as fx  # noqa: E402

from analysis.intake import endi  # noqa: E402


@pytest.fixture
def folder(tmp_path) -> Path:
    return fx.build_folder(tmp_path / "cae-endi")


def _write_mapping(folder: Path, mapping: dict) -> Path:
    p = folder / "correspondances_endi.yml"
    p.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    return p


@pytest.fixture
def converted(folder):
    _write_mapping(folder, fx.MAPPING)
    return endi.convert_folder(folder)


# ------------------------------------------------------------- detection --

def test_folder_without_endi_export_gives_none(tmp_path):
    (tmp_path / "entrepreneurs.csv").write_text("id;date_entree\nA;01/01/2019\n", encoding="utf-8")
    (tmp_path / "questionnaire.csv").write_text("id;eff_droits\nA;4\n", encoding="utf-8")
    assert endi.convert_folder(tmp_path) is None


def test_exports_detected_by_header_not_by_name(folder, tmp_path):
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    names = {"porteurs_actifs_periode_2019.csv": "export1.csv", "ca_porteurs_periode_2019.csv": "export2.csv",
             "ca_porteurs_periode_2020.xls": "export3.csv", "etapes_parcours.csv": "export4.txt",
             "sorties_periode.csv": "export5.csv", "questionnaire.csv": "export6.csv"}
    for old, new in names.items():
        shutil.copy(folder / old, renamed / new)
    assert endi.detect_exports(renamed) == {
        "export1.csv": "porteurs_periode", "export2.csv": "ca_porteurs_periode",
        "export3.csv": "ca_porteurs_periode",  # an xlsx workbook named .csv: detected by its first bytes
        "export4.txt": "etapes_parcours", "export5.csv": "sorties_periode",
    }


def test_read_info_reports_encoding_separator_and_rows(converted):
    info = converted.read_info
    assert info["ca_porteurs_periode_2019.csv"]["encoding"] == "cp1252"
    assert info["ca_porteurs_periode_2019.csv"]["separator"] == ";"
    assert info["ca_porteurs_periode_2020.xls"]["separator"] == "xlsx"  # OOXML behind an .xls name
    assert info["porteurs_actifs_periode_2019.csv"]["encoding"] == "utf-8"
    assert info["porteurs_actifs_periode_2019.csv"]["rows"] == 4
    assert info["etapes_parcours.csv"]["rows"] == len(fx.ETAPES)
    assert len(info["sorties_periode.csv"]["sha256"]) == 64
    assert "questionnaire.csv" not in info


# ------------------------------------------------------------ conversion --

def _date(s):
    return pd.NaT if s is None else pd.Timestamp(s)


@pytest.mark.parametrize("pid", sorted(fx.EXPECTED))
def test_entrepreneurs_row(converted, pid):
    ent = converted.tables["entrepreneurs"]
    exp = fx.EXPECTED[pid]
    row = ent[ent["id"] == pid]
    assert len(row) == 1
    assert row.index[0] == exp["line"]  # spreadsheet line in the porteurs export (header = 1)
    r = row.iloc[0]
    for col in ("date_entree", "date_sortie", "date_cesa", "date_societariat"):
        got = r[col]
        assert (pd.isna(got) and exp[col] is None) or got == _date(exp[col]), col
    for col in ("motif_sortie", "genre", "diplome", "situation_entree", "qpv", "zone", "secteur", "statut"):
        got = None if pd.isna(r[col]) else r[col]
        assert got == exp[col], col
    assert r["annee_naissance"] == exp["annee_naissance"]


def test_entrepreneurs_columns_and_types(converted):
    ent = converted.tables["entrepreneurs"]
    assert list(ent.columns) == ["id", "date_entree", "date_sortie", "motif_sortie", "genre", "annee_naissance",
                                 "diplome", "situation_entree", "qpv", "zone", "secteur", "statut", "date_cesa",
                                 "date_societariat"]
    assert str(ent["date_entree"].dtype).startswith("datetime64")
    # whole numbers as plain Python ints (what intake's cell parser reads)
    assert [type(v) for v in ent["annee_naissance"]] == [int] * 4
    assert ent.index.tolist() == converted.row_lines["entrepreneurs"] == [2, 3, 4, 5]  # one file: true lines
    assert converted.sources["entrepreneurs"] == "porteurs_actifs_periode_2019.csv"


def test_activite_rows(converted):
    act = converted.tables["activite"]
    assert len(act) == len(fx.EXPECTED_ACTIVITE)
    for (pid, year), (line, ca, pay, hours) in fx.EXPECTED_ACTIVITE.items():
        pos = [i for i in range(len(act)) if act["id"].iloc[i] == pid and act["annee"].iloc[i] == year]
        assert len(pos) == 1, (pid, year)
        i = pos[0]
        assert converted.row_lines["activite"][i] == line
        assert converted.row_files["activite"][i] == f"ca_porteurs_periode_{year}" + (".csv" if year == 2019 else ".xls")
        assert act["chiffre_affaires"].iloc[i] == pytest.approx(ca)
        for col, exp in (("remuneration_brute", pay), ("heures_remunerees", hours)):
            got = act[col].iloc[i]
            assert (math.isnan(exp) and math.isnan(got)) or got == pytest.approx(exp), (pid, year, col)
    # two yearly files repeat line numbers: the index is renumbered to stay unique
    assert act.index.is_unique and act.index.tolist() == list(range(2, 2 + len(act)))
    assert all(type(v) is int for v in act["annee"])


def test_underivable_pay_is_a_warning_not_a_value(converted):
    warn = [p for p in converted.problems if p.colonne == "remuneration_brute"]
    # 103: contract since 2017, before the steps export → 2019 (CSV line 4) and 2020 (xlsx line 3)
    assert sorted((p.fichier, p.ligne) for p in warn) == [
        ("ca_porteurs_periode_2019.csv", 4), ("ca_porteurs_periode_2020.xls", 3)]
    assert all(p.gravite == "avertissement" and "pas inventée" in p.message for p in warn)
    assert all("remunerations_endi.csv" in p.correction for p in warn)


def test_complement_file_supplies_missing_pay(folder):
    _write_mapping(folder, fx.MAPPING)
    fx.write_csv(folder / "remunerations_endi.csv", ["ID Utilisateur", "Année", "Rémunération brute", "Heures rémunérées"],
                 [["103", "2019", "21 000,00", "1 607"]])
    res = endi.convert_folder(folder)
    act = res.tables["activite"]
    r = act[(act["id"] == "103") & (act["annee"] == 2019)].iloc[0]
    assert r["remuneration_brute"] == 21000.0 and r["heures_remunerees"] == 1607.0
    assert res.read_info["remunerations_endi.csv"]["rows"] == 1
    r20 = act[(act["id"] == "103") & (act["annee"] == 2020)].iloc[0]
    assert math.isnan(r20["remuneration_brute"])  # not in the complement: still missing


def test_only_ignored_statuses_give_nr(folder):
    mapping = {k: dict(v) for k, v in fx.MAPPING.items()}
    mapping["statut_social_entree"]["Salarié(e)"] = "ignorer"  # 103: "Salarié(e) ; Travailleur handicapé"
    _write_mapping(folder, mapping)
    ent = endi.convert_folder(folder).tables["entrepreneurs"]
    assert ent.loc[ent["id"] == "103", "situation_entree"].iloc[0] == "nr"


def test_ca_export_over_two_years_is_split_by_month(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    header = fx.CA_IDENTITY + [f"CA {m} 19" for m in fx.MOIS_FR[6:]] + [f"CA {m} 20" for m in fx.MOIS_FR[:6]]
    row = fx._ca_rows({"101": {}}, 2019)[0][: len(fx.CA_IDENTITY)]
    row[-1] = "2100"  # CA TOTAL over July 2019 – June 2020
    months = [100] * 6 + [250] * 6  # Jul–Dec 2019: 6×100 = 600 ; Jan–Jun 2020: 6×250 = 1500
    fx.write_csv(folder / "ca.csv", header, [row + [str(v) for v in months]])
    res = endi.convert_folder(folder)
    act = res.tables["activite"].set_index("annee")
    assert act.loc[2019, "chiffre_affaires"] == 600.0
    assert act.loc[2020, "chiffre_affaires"] == 1500.0
    partial = [p for p in res.problems if "ne couvre que 6 mois" in p.message]
    assert len(partial) == 2


# --------------------------------------------------------------- mapping --

def test_unmapped_label_is_an_error_naming_label_file_and_mapping(converted):
    errors = [p for p in converted.problems if p.is_error]
    assert len(errors) == 1
    e = errors[0]
    assert e.valeur == "Niveau Bac" and "« Niveau Bac »" in e.message
    assert e.fichier == "porteurs_actifs_periode_2019.csv" and e.ligne == 5
    assert "Niveau d'études" in e.message  # the list
    assert "correspondances_endi.yml" in e.correction and "niveau_etudes" in e.correction
    ent = converted.tables["entrepreneurs"]
    assert pd.isna(ent.loc[ent["id"] == "104", "diplome"].iloc[0])  # no value invented


def test_missing_mapping_file_is_one_error(folder):
    res = endi.convert_folder(folder)
    errors = [p for p in res.problems if p.is_error]
    assert len(errors) == 1
    assert "endi-mapping" in errors[0].correction and errors[0].fichier == "correspondances_endi.yml"


def test_invalid_code_in_mapping_is_an_error(folder):
    mapping = {k: dict(v) for k, v in fx.MAPPING.items()}
    mapping["zone"]["Rural"] = "campagne"  # not a code of the zone list
    _write_mapping(folder, mapping)
    res = endi.convert_folder(folder)
    bad = [p for p in res.problems if p.is_error and p.valeur == "Rural"]
    assert len(bad) == 1 and "campagne" in bad[0].message
    ent = res.tables["entrepreneurs"]
    assert pd.isna(ent.loc[ent["id"] == "103", "zone"].iloc[0])


def test_mapping_accepts_french_label_instead_of_code(folder):
    mapping = {k: dict(v) for k, v in fx.MAPPING.items()}
    mapping["zone"]["Rural"] = "Rural"  # the codebook label of code "rural"
    mapping["niveau_etudes"]["Niveau Bac"] = "Baccalauréat"
    _write_mapping(folder, mapping)
    res = endi.convert_folder(folder)
    ent = res.tables["entrepreneurs"].set_index("id")
    assert ent.loc["103", "zone"] == "rural" and ent.loc["104", "diplome"] == "bac"
    assert not [p for p in res.problems if p.is_error]


@pytest.mark.parametrize("label, list_name, expected", [
    # clear cases: one rule
    ("Demandeur.e d'emploi (plus de 2 ans) - Indemnisé.e", "statut_social_entree", "de_indemnise"),
    ("Demandeur d’emploi non indemnisé", "statut_social_entree", "de_non_indemnise"),
    ("Bénéficiaire du RSA", "statut_social_entree", "rsa"),
    ("Travailleur non salarié", "statut_social_entree", "independant"),
    ("Bac+3/4", "niveau_etudes", "bac_3_4"),
    ("Niveau IV (bac)", "niveau_etudes", "bac"),
    ("Niveau V", "niveau_etudes", "cap_bep"),
    ("Niveau VI", "niveau_etudes", "aucun"),
    ("Périurbain", "zone", "periurbain"),
    ("Péri-urbain", "zone", "periurbain"),
    ("Hors QPV", "qualification_zone", "non"),
    ("Quartier prioritaire de la ville", "qualification_zone", "oui"),
    ("Création d'activité", "motif_sortie", "creation_entreprise"),
    # no rule: never guessed
    ("Demandeur d'emploi", "statut_social_entree", None),
    ("Niveau Bac", "niveau_etudes", None),
    ("Brevet des collèges", "niveau_etudes", None),
    ("ZRR", "qualification_zone", None),
    ("Sortie positive", "type_sortie", None),
    # conflicting rules: never guessed
    ("Salarié à temps partiel et demandeur d'emploi indemnisé", "statut_social_entree", None),
    ("Emploi salarié après création avortée", "motif_sortie", None),
])
def test_proposals_fall_back_to_unmapped(label, list_name, expected):
    rules = endi.load_rules()
    code, _ = endi.propose_code(label, rules["listes"][list_name]["regles"])
    assert code == expected


def test_propose_mapping_lists_every_label_with_a_completer(folder):
    m = endi.propose_mapping(folder)
    assert m["niveau_etudes"] == {"Bac +2": "bac_2", "CAP / BEP": "cap_bep", "Master": "bac_5_plus",
                                  "Niveau Bac": "A_COMPLETER"}
    # multi-valued cells are split into their labels
    assert set(m["statut_social_entree"]) == {
        "Bénéficiaire du RSA", "Demandeur d'emploi non indemnisé", "Demandeur.e d'emploi (plus de 2 ans) - Indemnisé.e",
        "Salarié(e)", "Travailleur handicapé", "Salarié à temps partiel et demandeur d'emploi indemnisé"}
    assert m["statut_social_entree"]["Salarié à temps partiel et demandeur d'emploi indemnisé"] == "A_COMPLETER"
    assert m["statut_social_entree"]["Travailleur handicapé"] == "ignorer"
    assert m["type_sortie"] == {"Création d'entreprise": "creation_entreprise", "Sortie positive": "A_COMPLETER"}
    assert m["typologie_activite"]["Bâtiment"] == "Bâtiment"  # free text: the CAE's own label


def test_write_mapping_then_convert_and_preserve_decisions(folder):
    path = endi.write_mapping(folder)
    assert path == folder / "correspondances_endi.yml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Correspondances")
    assert "règles en conflit : de_indemnise ou salarie" in text  # in rule order
    data = yaml.safe_load(text)
    assert data["niveau_etudes"]["Niveau Bac"] == "A_COMPLETER"
    # the CAE decides, then a new export brings a new label
    data["niveau_etudes"]["Niveau Bac"] = "bac"
    data["type_sortie"]["Sortie positive"] = "ignorer"
    data["statut_social_entree"]["Salarié à temps partiel et demandeur d'emploi indemnisé"] = "salarie"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    rows = fx.porteurs_rows()[:1]
    rows[0][fx.PORTEURS_HEADER.index("Niveau d’études")] = "Doctorat"
    rows[0][fx.PORTEURS_HEADER.index("ID Utilisateur")] = "101"
    fx.write_csv(folder / "porteurs_actifs_periode_2020.csv", fx.PORTEURS_HEADER, rows)
    again = yaml.safe_load(endi.write_mapping(folder).read_text(encoding="utf-8"))
    assert again["niveau_etudes"]["Niveau Bac"] == "bac"  # decision kept
    assert again["type_sortie"]["Sortie positive"] == "ignorer"
    assert again["niveau_etudes"]["Doctorat"] == "bac_5_plus"  # new label proposed
    res = endi.convert_folder(folder)
    assert not [p for p in res.problems if p.is_error]
    ent = res.tables["entrepreneurs"].set_index("id")
    assert ent.loc["104", "diplome"] == "bac" and ent.loc["104", "situation_entree"] == "salarie"
    assert ent.loc["101", "diplome"] == "bac_5_plus"  # the later export wins for 101


# ---------------------------------------------------------- personal data --

def _all_text(res) -> str:
    parts = []
    for name, df in res.tables.items():
        parts.append(df.to_csv())
        parts.append(" ".join(map(str, df.columns)))
    for p in res.problems:
        parts.append(str(p))
        parts.append(" ".join(str(v) for v in p.as_dict().values()))
    parts.append(repr(res.read_info))
    parts.append(repr(res.sources))
    return "\n".join(parts)


def test_no_planted_personal_value_reaches_any_output(folder, tmp_path):
    inputs = {p.name for p in folder.iterdir()}
    mapping_file = endi.write_mapping(folder)  # all proposals, A_COMPLETER errors included
    mapping_text = mapping_file.read_text(encoding="utf-8")
    outputs = [endi.convert_folder(folder)]
    proposals = endi.propose_mapping(folder)
    _write_mapping(folder, fx.MAPPING)
    outputs.append(endi.convert_folder(folder))
    (folder / "correspondances_endi.yml").unlink()
    outputs.append(endi.convert_folder(folder))  # no mapping file at all
    written = [p for p in folder.iterdir() if p.name not in inputs]
    texts = [_all_text(r) for r in outputs] + [repr(proposals), mapping_text]
    texts += [p.read_text(encoding="utf-8") for p in written]
    blob = "\n".join(texts)
    planted = fx.planted_values()
    assert len(planted) > 40
    leaked = [v for v in planted if v in blob]
    assert leaked == []
    # the "Identifiant interne" (another id) and the exact birth dates are dropped too
    assert "INT-101" not in blob and "12/04/1985" not in blob and "1985-04-12" not in blob


def test_dropped_columns_never_enter_the_tables(converted):
    cols = set(converted.tables["entrepreneurs"].columns) | set(converted.tables["activite"].columns)
    assert not cols & {"Nom", "nom", "email", "Numéro de sécurité sociale", "adresse", "date_naissance"}


def test_bad_birth_date_error_does_not_echo_the_value(folder):
    _write_mapping(folder, fx.MAPPING)
    rows = fx.porteurs_rows()
    rows[0][fx.PORTEURS_HEADER.index("Date de naissance")] = "31/02/19X5"
    fx.write_csv(folder / "porteurs_actifs_periode_2019.csv", fx.PORTEURS_HEADER, rows)
    res = endi.convert_folder(folder)
    bad = [p for p in res.problems if p.colonne == "Date de naissance"]
    assert len(bad) == 1 and bad[0].ligne == 2 and bad[0].valeur is None
    assert "19X5" not in _all_text(res)


# ------------------------------------------------------- pay and parsing --

def _steps(*rows):
    df = pd.DataFrame(rows, columns=["_nature", "date_effet", "date_echeance", "taux_horaire", "nombre_heures",
                                     "salaire_brut"])
    df["date_effet"] = pd.to_datetime(df["date_effet"])
    df["date_echeance"] = pd.to_datetime(df["date_echeance"])
    return df


def test_annual_pay_partial_month_prorated_by_days():
    # contract from 16 April (30-day month): 15/30 × 1 200 + 8 months × 1 200 = 10 200
    st = _steps(("contrat", "2019-04-16", None, 12.0, 100.0, None))
    pay, hours = endi.annual_pay(2019, st, pd.Timestamp("2019-01-01"), None, pd.Timestamp("2019-04-16"))
    assert pay == pytest.approx(10200.0)
    assert hours == pytest.approx(850.0)  # 15/30 × 100 + 8 × 100


def test_annual_pay_fixed_term_contract_ends_at_its_due_date():
    # CDD 1 Jan – 31 Mar at 1 000 €: 3 000 €, then nothing
    st = _steps(("contrat", "2019-01-01", "2019-03-31", None, None, 1000.0))
    pay, _ = endi.annual_pay(2019, st, pd.Timestamp("2018-06-01"), None, pd.Timestamp("2019-01-01"))
    assert pay == pytest.approx(3000.0)


def test_annual_pay_temporary_amendment_reverts_to_previous_terms():
    # 1 000 €/month all year; amendment to 1 500 € for February only → 11 × 1 000 + 1 500 = 12 500
    st = _steps(("contrat", "2018-01-01", None, None, None, 1000.0),
                ("avenant", "2019-02-01", "2019-02-28", None, None, 1500.0))
    pay, _ = endi.annual_pay(2019, st, pd.Timestamp("2017-09-01"), None, pd.Timestamp("2018-01-01"))
    assert pay == pytest.approx(12500.0)


def test_annual_pay_unknown_before_first_exported_step():
    # contract known to start in 2017 but first exported step in July 2019 → Jan–Jun unknown
    st = _steps(("avenant", "2019-07-01", None, None, None, 1500.0))
    pay, _ = endi.annual_pay(2019, st, pd.Timestamp("2016-01-01"), None, pd.Timestamp("2017-05-01"))
    assert math.isnan(pay)


@pytest.mark.parametrize("raw, expected", [
    (" 5/03/2018", "2018-03-05"), ("05/03/2018", "2018-03-05"), ("2018-03-05", "2018-03-05"),
    ("31/12/2019", "2019-12-31"),
])
def test_parse_date(raw, expected):
    assert endi.parse_date(raw) == pd.Timestamp(expected)


def test_parse_date_rejects_impossible_date():
    with pytest.raises(ValueError):
        endi.parse_date("31/02/2019")


@pytest.mark.parametrize("raw, expected", [
    ("1234.5", 1234.5), ("1 234,50", 1234.5), ("1\u00a0234,5", 1234.5), ("12 000 €", 12000.0), ("1.234,5", 1234.5),
    (7000, 7000.0),
])
def test_parse_number(raw, expected):
    assert endi.parse_number(raw) == expected


# ------------------------------------------------------------ with intake --

CAE_YML = """nom: "CAE enDI de test"
region: "Pays de la Loire"
type: generaliste
territoire: urbain
annee_creation: 2001
periode: {debut: 2019-01-01, fin: 2020-12-31}
ressources: {subventions_publiques: 1000, contribution_entrepreneurs: 500, autres_produits: 0, benevolat_heures: 0}
equipe_appui_etp: 1
"""


def test_intake_validates_the_converted_tables(folder):
    intake = pytest.importorskip("analysis.intake.process")
    (folder / "cae.yml").write_text(CAE_YML, encoding="utf-8")
    (folder / "questionnaire.csv").unlink()
    mapping = {k: dict(v) for k, v in fx.MAPPING.items()}
    mapping["niveau_etudes"]["Niveau Bac"] = "bac"
    _write_mapping(folder, mapping)
    fx.write_csv(folder / "remunerations_endi.csv", ["ID Utilisateur", "Année", "Rémunération brute"],
                 [["103", "2019", "21000"], ["103", "2020", "22000"]])
    fd = intake.load_folder(folder)
    assert [str(p) for p in fd.problems if p.is_error] == []
    ent = fd.tables["entrepreneurs"].frame.set_index("id")
    assert ent.loc["102", "situation_entree"] == "de_indemnise" and ent.loc["102", "annee_naissance"] == 1962
    act = fd.tables["activite"].frame
    assert sorted(act["remuneration_brute"]) == sorted([13800.0, 0.0, 21000.0, 6000.0, 18000.0, 22000.0])


def test_cli_endi_mapping_reports_labels_left_to_complete(tmp_path):
    """The CLI counts the A_COMPLETER entries it left in the file it wrote."""
    import subprocess
    import sys

    folder = fx.build_folder(tmp_path / "cae")
    for old in folder.glob("correspondances_endi.yml"):
        old.unlink()
    proc = subprocess.run([sys.executable, "-m", "analysis.cli", "endi-mapping", str(folder)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    written = (folder / "correspondances_endi.yml").read_text(encoding="utf-8")
    expected = sum(1 for line in written.splitlines() if "A_COMPLETER" in line.split("#")[0] and ":" in line)
    assert expected > 0  # the fixture has labels no rule can map
    assert f"({expected} libellé(s) à compléter)" in proc.stdout
