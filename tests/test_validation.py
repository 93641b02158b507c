"""One minimal bad file per rule; each gives the exact French problem naming
file, line (header = 1) and column as the user wrote it."""

from __future__ import annotations

import pytest

from _intake_helpers import (
    ACT_HEADER, ACT_ROWS, CAE_YML, ENT_HEADER, ENT_ROWS, Q_HEADER, Q_ROWS, make_cae, with_cell, write_csv, write_xlsx,
)
from analysis.intake import process as intake
from analysis.intake.problems import Problem
from analysis.intake.validation import MASK, build_schema


def problems_of(d):
    return list(intake.validate_dir(d))


def errors_of(d):
    return [p for p in problems_of(d) if p.is_error]


def warnings_of(d):
    return [p for p in problems_of(d) if not p.is_error]


def test_reference_cae_is_clean(tmp_path):
    assert problems_of(make_cae(tmp_path / "a")) == []
    # the partial survey only warns about the items it does not have
    (w,) = problems_of(make_cae(tmp_path / "b", q=(Q_HEADER, Q_ROWS)))
    assert (w.fichier, w.gravite) == ("questionnaire.csv", "avertissement")
    assert w.message.startswith("Colonnes facultatives absentes : « eff_droits », « eff_acceleration »")


# --- cell rules (entrepreneurs) ------------------------------------------------

ACCEPTED_GENRE = "Valeurs acceptées : « Femme » (F), « Homme » (H), « Autre » (autre), « Non renseigné » (nr)."


@pytest.mark.parametrize("line, column, value, expected", [
    (2, "date_entree", "31/02/2018", Problem("entrepreneurs.csv", "Date impossible : le 31 février n'existe pas.", "Vérifiez le jour et le mois de cette date (format JJ/MM/AAAA).", 2, "date_entree", "31/02/2018")),
    (2, "date_entree", "le 15 mars", Problem("entrepreneurs.csv", "Date illisible.", "Écrivez la date au format JJ/MM/AAAA (par exemple 15/03/2019) ou AAAA-MM-JJ.", 2, "date_entree", "le 15 mars")),
    (3, "date_sortie", "30/06/19", Problem("entrepreneurs.csv", "L'année de cette date n'a que deux chiffres.", "Écrivez la date avec l'année sur quatre chiffres : JJ/MM/AAAA (par exemple 15/03/2019).", 3, "date_sortie", "30/06/19")),
    (2, "annee_naissance", "mille neuf cent", Problem("entrepreneurs.csv", "Un nombre entier est attendu.", "Écrivez un nombre entier, sans texte (par exemple 1985).", 2, "annee_naissance", "mille neuf cent")),
    (4, "genre", "X", Problem("entrepreneurs.csv", "Valeur non reconnue.", ACCEPTED_GENRE, 4, "genre", "X")),
    (3, "date_entree", "", Problem("entrepreneurs.csv", "Valeur obligatoire manquante.", "Renseignez « Date d'entrée » sur cette ligne.", 3, "date_entree", "")),
    (3, "id", "A1", Problem("entrepreneurs.csv", "Valeur en double : déjà présente à la ligne 2.", "Chaque valeur doit être unique dans cette colonne : corrigez ou fusionnez les lignes en double.", 3, "id", MASK)),
    (3, "motif_sortie", "", Problem("entrepreneurs.csv", "« Motif de sortie » manquant alors que « Date de sortie » est renseignée.", "Indiquez « Motif de sortie » : « Emploi salarié » (emploi_salarie), « Création d'entreprise » (creation_entreprise), « Formation » (formation), « Abandon » (abandon), « Autre » (autre).", 3, "motif_sortie", None)),
    (3, "date_sortie", "01/12/2018", Problem("entrepreneurs.csv", "« Date de sortie » est antérieure à « Date d'entrée » (02/01/2019).", "Corrigez l'une des deux dates (jour et mois inversés ?).", 3, "date_sortie", "01/12/2018")),
    (2, "date_cesa", "01/01/2018", Problem("entrepreneurs.csv", "« Date du CESA » est antérieure à « Date d'entrée » (15/03/2018).", "Corrigez l'une des deux dates (jour et mois inversés ?).", 2, "date_cesa", "01/01/2018")),
    (4, "date_societariat", "09/10/2015", Problem("entrepreneurs.csv", "« Date d'entrée au sociétariat » est antérieure à « Date d'entrée » (10/10/2015).", "Corrigez l'une des deux dates (jour et mois inversés ?).", 4, "date_societariat", "09/10/2015")),
    # 2018 - 2010 = 8 years old at entry (plausible 15 to 90)
    (2, "annee_naissance", "2010", Problem("entrepreneurs.csv", "Année de naissance peu plausible : 8 ans à l'entrée (attendu entre 15 et 90 ans).", "Vérifiez l'année de naissance (quatre chiffres) et la date d'entrée.", 2, "annee_naissance", "2010")),
    # 2015 - 1920 = 95
    (4, "annee_naissance", "1920", Problem("entrepreneurs.csv", "Année de naissance peu plausible : 95 ans à l'entrée (attendu entre 15 et 90 ans).", "Vérifiez l'année de naissance (quatre chiffres) et la date d'entrée.", 4, "annee_naissance", "1920")),
])
def test_entrepreneurs_rule(tmp_path, line, column, value, expected):
    d = make_cae(tmp_path, ent=with_cell(ENT_HEADER, ENT_ROWS, line, column, value))
    assert [p for p in errors_of(d) if p.fichier == "entrepreneurs.csv"] == [expected]


def test_column_named_as_user_wrote_it(tmp_path):
    header = ["Identifiant" if h == "id" else "Date d’Entrée" if h == "date_entree" else h for h in ENT_HEADER]
    d = make_cae(tmp_path, ent=with_cell(header, ENT_ROWS, 4, "Date d’Entrée", "le 10 octobre"))
    (p,) = errors_of(d)
    assert (p.fichier, p.ligne, p.colonne, p.valeur, p.message) == ("entrepreneurs.csv", 4, "Date d’Entrée", "le 10 octobre", "Date illisible.")


def test_every_problem_collected_not_only_the_first(tmp_path):
    header, rows = with_cell(ENT_HEADER, ENT_ROWS, 2, "genre", "Z")
    header, rows = with_cell(header, rows, 3, "date_entree", "demain")
    header, rows = with_cell(header, rows, 4, "diplome", "doctorat")
    d = make_cae(tmp_path, ent=(header, rows), act=with_cell(ACT_HEADER, ACT_ROWS, 5, "chiffre_affaires", "-5"))
    got = sorted((p.fichier, p.ligne, p.colonne) for p in errors_of(d))
    assert got == [("activite.csv", 5, "chiffre_affaires"), ("entrepreneurs.csv", 2, "genre"),
                   ("entrepreneurs.csv", 3, "date_entree"), ("entrepreneurs.csv", 4, "diplome")]


def test_missing_required_column(tmp_path):
    header = [h for h in ENT_HEADER if h != "date_entree"]
    rows = [[v for h, v in zip(ENT_HEADER, r) if h != "date_entree"] for r in ENT_ROWS]
    d = make_cae(tmp_path, ent=(header, rows))
    assert errors_of(d) == [Problem("entrepreneurs.csv", "Colonne obligatoire absente : « date_entree » (Date d'entrée).",
                                    "Ajoutez une colonne « date_entree » (voir le modèle de la table « entrepreneurs »).", None, "date_entree")]


def test_missing_key_column_reported_once(tmp_path):
    header = [h for h in ACT_HEADER if h != "annee"]
    rows = [[v for h, v in zip(ACT_HEADER, r) if h != "annee"] for r in ACT_ROWS]
    d = make_cae(tmp_path, act=(header, rows))
    assert [p.message for p in errors_of(d)] == ["Colonne obligatoire absente : « annee » (Année)."]


def test_missing_id_column_not_echoed_in_other_tables(tmp_path):
    header = [h for h in ENT_HEADER if h != "id"]
    rows = [[v for h, v in zip(ENT_HEADER, r) if h != "id"] for r in ENT_ROWS]
    d = make_cae(tmp_path, ent=(header, rows))
    assert [p.message for p in errors_of(d)] == ["Colonne obligatoire absente : « id » (Identifiant)."]


def test_unreadable_key_cells_are_not_duplicates(tmp_path):
    header, rows = with_cell(ACT_HEADER, ACT_ROWS, 2, "annee", "?")
    header, rows = with_cell(header, rows, 3, "annee", "?")
    d = make_cae(tmp_path, act=(header, rows))
    assert [(p.ligne, p.message) for p in errors_of(d)] == [(2, "Un nombre entier est attendu."), (3, "Un nombre entier est attendu.")]


def test_two_headers_for_one_column(tmp_path):
    header = ENT_HEADER + ["Sexe"]
    rows = [r + ["F"] for r in ENT_ROWS]
    d = make_cae(tmp_path, ent=(header, rows))
    assert errors_of(d) == [Problem("entrepreneurs.csv", "Deux colonnes correspondent à « genre » : « genre » et « Sexe ».",
                                    "Gardez une seule de ces deux colonnes.", None, "Sexe")]


# --- activite ------------------------------------------------------------------

@pytest.mark.parametrize("line, column, value, expected", [
    (2, "chiffre_affaires", "douze mille", Problem("activite.csv", "Ce n'est pas un nombre.", "Écrivez un nombre, par exemple 1 234,50 (virgule décimale, sans texte ni unité).", 2, "chiffre_affaires", "douze mille")),
    (3, "remuneration_brute", "-1,5", Problem("activite.csv", "La valeur doit être supérieure ou égale à 0.", "Corrigez « Rémunération brute (€) » sur cette ligne.", 3, "remuneration_brute", "-1,5")),
    (4, "annee", "1970", Problem("activite.csv", "La valeur doit être supérieure ou égale à 1980.", "Corrigez « Année » sur cette ligne.", 4, "annee", "1970")),
    (4, "id", "Z9", Problem("activite.csv", "Identifiant absent du fichier entrepreneurs.csv.", "Écrivez l'identifiant exactement comme dans entrepreneurs.csv, ou ajoutez la personne à ce fichier.", 4, "id", MASK)),
    (3, "annee", "2018", Problem("activite.csv", "Ligne en double : même « id » et « annee » qu'à la ligne 2.", "Gardez une seule ligne par combinaison (additionnez les montants si besoin).", 3, "annee", "2018")),
])
def test_activite_rule(tmp_path, line, column, value, expected):
    d = make_cae(tmp_path, act=with_cell(ACT_HEADER, ACT_ROWS, line, column, value))
    assert errors_of(d) == [expected]


def test_hours_implausible_is_a_warning(tmp_path):
    d = make_cae(tmp_path, act=with_cell(ACT_HEADER, ACT_ROWS, 5, "heures_remunerees", "3 000"))
    assert errors_of(d) == []
    assert warnings_of(d) == [Problem("activite.csv", "Valeur inhabituelle (plus de 2\u202f500).",
                                      "Vérifiez cette valeur ; si elle est juste, ignorez cet avertissement.", 5, "heures_remunerees", "3 000", "avertissement")]


# --- questionnaire ------------------------------------------------------------------

@pytest.mark.parametrize("line, column, value, message", [
    (2, "eff_accompagnement", "7", "Réponse hors de l'échelle (1 à 5)."),
    (3, "eff_accompagnement", "0", "Réponse hors de l'échelle (1 à 5)."),
    (2, "who5_1", "6", "Réponse hors de l'échelle (0 à 5)."),
    (2, "eff_accompagnement", "beaucoup", "Réponse non reconnue."),
    (2, "part_cae", "150", "La valeur doit être inférieure ou égale à 100."),
    (2, "revenu_avant", "-3", "La valeur doit être supérieure ou égale à 0."),
    (2, "id", "Z9", "Identifiant absent du fichier entrepreneurs.csv."),
    (2, "echanges_pairs", "souvent", "Valeur non reconnue."),
])
def test_questionnaire_rule(tmp_path, line, column, value, message):
    d = make_cae(tmp_path, q=with_cell(Q_HEADER, Q_ROWS, line, column, value))
    (p,) = errors_of(d)
    assert (p.fichier, p.ligne, p.colonne, p.message) == ("questionnaire.csv", line, column, message)


def test_questionnaire_labels_accepted(tmp_path):
    header, rows = with_cell(Q_HEADER, Q_ROWS, 2, "eff_accompagnement", "Tout a fait d’accord")
    header, rows = with_cell(header, rows, 3, "who5_1", "TOUT LE TEMPS")
    header, rows = with_cell(header, rows, 3, "sans_cae", "je ne l'aurais pas créée")
    d = make_cae(tmp_path, q=(header, rows))
    fd = intake.load_folder(d)
    assert fd.problems.errors == []
    f = fd.tables["questionnaire"].frame
    assert (f.loc[2, "eff_accompagnement"], f.loc[3, "who5_1"], f.loc[3, "sans_cae"]) == (5, 5, "pas_cree")
    assert "commentaire" not in f.columns


def test_questionnaire_optional_ids_may_repeat_blank(tmp_path):
    rows = Q_ROWS + [["", "3", "3", "nr", "mensuel", "nsp", "", "", ""]]
    d = make_cae(tmp_path, q=(Q_HEADER, rows))
    assert errors_of(d) == []


# --- warnings ---------------------------------------------------------------------

def test_unknown_column_warns_with_suggestion(tmp_path):
    header = ENT_HEADER + ["date_entre"]
    rows = [r + ["x"] for r in ENT_ROWS]
    d = make_cae(tmp_path, ent=(header, rows))
    ws = [p for p in warnings_of(d) if "en-tête inconnu" in p.message]
    # the header is not quoted (it may be personal data), its position and the close codebook name are
    assert ws == [Problem("entrepreneurs.csv", f"La colonne n° {len(header)} a un en-tête inconnu : elle est ignorée (l'en-tête n'est pas recopié ici).",
                          "Son en-tête ressemble à « date_entree » : renommez-la ainsi si elle doit être lue. Sinon renommez-la comme dans le modèle (voir le dictionnaire des données) ou supprimez-la.",
                          None, None, None, "avertissement")]
    assert "date_entre" not in repr(warnings_of(d)).replace("date_entree", "")


def test_entry_and_exit_outside_period_warn(tmp_path):
    header, rows = with_cell(ENT_HEADER, ENT_ROWS, 2, "date_entree", "05/01/2020")
    header, rows = with_cell(header, rows, 2, "date_cesa", "")
    header, rows = with_cell(header, rows, 4, "date_sortie", "31/12/2018")
    header, rows = with_cell(header, rows, 4, "motif_sortie", "formation")
    d = make_cae(tmp_path, ent=(header, rows))
    assert errors_of(d) == []
    got = {(p.ligne, p.colonne, p.message) for p in warnings_of(d)}
    assert got == {(2, "date_entree", "Entrée après la fin de la période étudiée (31/12/2019)."),
                   (4, "date_sortie", "Sortie avant le début de la période étudiée (01/01/2019).")}


def test_mostly_empty_column_warns(tmp_path):
    header, rows = ENT_HEADER, [list(r) for r in ENT_ROWS]
    for r in rows[:2]:
        r[header.index("diplome")] = ""
    d = make_cae(tmp_path, ent=(header, rows))
    # 2 of 3 cells empty: 67 %
    assert warnings_of(d) == [Problem("entrepreneurs.csv", "Colonne presque vide : 67 % des lignes ne sont pas renseignées.",
                                      "Complétez-la si possible ; sinon les résultats qui en dépendent porteront sur peu de personnes.",
                                      None, "diplome", None, "avertissement")]


def test_missing_optional_columns_warn_once(tmp_path):
    header = ["id", "date_entree"]
    rows = [[r[0], r[1]] for r in ENT_ROWS]
    d = make_cae(tmp_path, ent=(header, rows))
    ws = [p for p in warnings_of(d) if p.fichier == "entrepreneurs.csv"]
    assert len(ws) == 1 and ws[0].message.startswith("Colonnes facultatives absentes : « date_sortie », « motif_sortie »")


# --- cae.yml ------------------------------------------------------------------------

@pytest.mark.parametrize("yml, expected", [
    (CAE_YML.replace("nom: \"Coopérative Test\"\n", ""), [Problem("cae.yml", "Clé obligatoire absente : « nom ».", "Ajoutez la ligne « nom: … » (voir le modèle cae.yml).", None, "nom")]),
    (CAE_YML.replace("type: generaliste", "type: boulangerie"), [Problem("cae.yml", "Valeur non reconnue pour « type ».", "Valeurs acceptées : generaliste, batiment, culture, services_personne, agri_rurale.", None, "type", "boulangerie")]),
    (CAE_YML.replace("fin: 2019-12-31", "fin: 2018-12-31"), [Problem("cae.yml", "La période est incohérente : « fin » est avant « debut ».", "Corrigez les dates de la période.", None, "periode", "01/01/2019 – 31/12/2018")]),
    (CAE_YML.replace("autres_produits: 0", "autres_produits: beaucoup"), [Problem("cae.yml", "« ressources.autres_produits » doit être un nombre positif ou nul.", "Écrivez un montant sans texte, par exemple 95000.", None, "ressources.autres_produits", "beaucoup")]),
    (CAE_YML.replace("region: \"Bretagne\"", "region: \"Bretagne"), None),
])
def test_cae_yml_rules(tmp_path, yml, expected):
    d = make_cae(tmp_path, yml=yml)
    errs = errors_of(d)
    if expected is None:  # malformed YAML: one error naming the line
        (p,) = errs
        assert p.fichier == "cae.yml" and p.message.startswith("Le fichier cae.yml est mal formé") and p.ligne is not None
    else:
        assert errs == expected


def test_cae_yml_missing(tmp_path):
    d = make_cae(tmp_path, yml=None)
    assert [p.message for p in errors_of(d)] == ["Fichier cae.yml absent : la description de la CAE est obligatoire."]


def test_cae_yml_accepts_french_dates_and_labels(tmp_path):
    yml = CAE_YML.replace("{debut: 2019-01-01, fin: 2019-12-31}", '{debut: "01/01/2019", fin: "31/12/2019"}').replace("type: generaliste", "type: Généraliste")
    d = make_cae(tmp_path, yml=yml)
    fd = intake.load_folder(d)
    assert fd.problems.errors == []
    assert fd.info["periode"] == {"debut": "2019-01-01", "fin": "2019-12-31"} and fd.info["type"] == "generaliste"


# --- bad files ------------------------------------------------------------------------

def test_empty_file(tmp_path):
    d = make_cae(tmp_path)
    (d / "entrepreneurs.csv").write_bytes(b"")
    assert errors_of(d) == [Problem("entrepreneurs.csv", "Le fichier est vide.", "Enregistrez le tableau avec sa ligne d'en-tête et au moins une ligne de données.")]


def test_header_only_required_file(tmp_path):
    d = make_cae(tmp_path, act=(ACT_HEADER, []))
    assert [p.message for p in errors_of(d)] == ["Le fichier ne contient que la ligne d'en-tête, aucune ligne de données."]


def test_binary_garbage_as_csv(tmp_path):
    d = make_cae(tmp_path)
    (d / "activite.csv").write_bytes(bytes(range(256)) * 4)
    (p,) = errors_of(d)
    assert (p.fichier, p.message) == ("activite.csv", "Le fichier contient des données binaires : ce n'est pas un CSV.")


def test_missing_required_file(tmp_path):
    d = make_cae(tmp_path, act=False)
    assert errors_of(d) == [Problem("activite.csv", "Fichier obligatoire absent : la table « activite » (Activité annuelle) est introuvable.",
                                    "Déposez un fichier « activite.csv » ou « activite.xlsx » dans le dossier de la CAE (voir les modèles : cae-impact templates).")]


def test_same_table_csv_and_xlsx(tmp_path):
    d = make_cae(tmp_path)
    write_xlsx(d / "activite.xlsx", ACT_HEADER, ACT_ROWS)
    assert errors_of(d) == [Problem("activite.csv et activite.xlsx", "La table « activite » est fournie deux fois (activite.csv, activite.xlsx).",
                                    "Gardez un seul fichier par table (supprimez ou renommez l'autre).")]


@pytest.mark.parametrize("data", [b"PK\x03\x04 this is not a zip", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100])
def test_unreadable_xlsx(tmp_path, data):
    d = make_cae(tmp_path, act=False)
    (d / "activite.xlsx").write_bytes(data)
    (p,) = errors_of(d)
    assert p.fichier == "activite.xlsx"
    assert p.message in ("Le classeur Excel est illisible (fichier abîmé, protégé par mot de passe ou d'un autre format).",
                         "Ce classeur est au format Excel 97-2003 (.xls) ou protégé par mot de passe : il ne peut pas être lu.")


def test_unrecognised_file_warns(tmp_path):
    d = make_cae(tmp_path)
    write_csv(d / "export_compta.csv", ["a"], [["1"]])
    (p,) = warnings_of(d)
    assert (p.fichier, p.message) == ("dossier de la CAE", "1 fichier(s) non reconnu(s) (.csv) : ignoré(s) (leur nom n'est pas recopié ici).")
    assert "export_compta" not in repr(p)


# --- schema built from the codebook -----------------------------------------------------

def test_schema_follows_codebook():
    schema, messages = build_schema("activite")
    assert schema.unique == ["id", "annee"]
    assert not schema.columns["annee"].nullable and schema.columns["heures_remunerees"].nullable
    assert messages[("chiffre_affaires", 0)][0] == "La valeur doit être supérieure ou égale à 0."
    assert messages[("annee", 1)][0] == "La valeur doit être inférieure ou égale à 2100."
    wschema, wmessages = build_schema("activite", "avertissement")
    assert list(wschema.columns) == ["heures_remunerees"] and ("heures_remunerees", 0) in wmessages


def test_fuzz_random_cell_values_only_problems(tmp_path):
    """Random text in every cell: problems, never an exception."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    cell = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.lists(cell, min_size=len(ENT_HEADER), max_size=len(ENT_HEADER)), min_size=1, max_size=4),
           st.lists(st.lists(cell, min_size=len(ACT_HEADER), max_size=len(ACT_HEADER)), min_size=1, max_size=4))
    def run(ent_rows, act_rows):
        import shutil
        d = tmp_path / "fuzz"
        shutil.rmtree(d, ignore_errors=True)
        make_cae(tmp_path, "fuzz", ent=False, act=False)
        write_csv(d / "entrepreneurs.csv", ENT_HEADER, ent_rows, encoding="utf-8-sig")
        write_csv(d / "activite.csv", ACT_HEADER, act_rows, encoding="utf-8-sig")
        probs = intake.validate_dir(d)
        assert all(isinstance(p, Problem) for p in probs)

    run()
