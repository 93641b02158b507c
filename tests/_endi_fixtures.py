"""Synthetic enDI-shaped exports for the tests of ``analysis/endi.py``.

Headers follow enDI's public source (dataqueries porteurs_actifs_periode,
ca_porteurs_periode, etapes_parcours, sorties_periode) with every quirk of
issue 8: repeated "-----" columns, curly apostrophes in headers, a
space-padded day (" 5/03/2018"), an ``.xls`` file that is really OOXML, a
multi-valued status cell joined by " ; ", every field quoted, a cp1252
file, the old key name "Identifiant MoOGLi", French and English month
abbreviations. Four planted people carry fake personal values (surname,
e-mail, phone, street address, social security number...) that must never
come out of the adapter.

The expected values are worked out by hand in ``EXPECTED`` (see the
comments), not by running the adapter.
"""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl

# ---------------------------------------------------------------- headers --
CUSTOM_FIELDS = ["Projet ESS ?", "Remarques de l’accompagnateur"]

PORTEURS_HEADER = [
    "Identifiant interne", "Code(s) analytique(s)", "Civilité", "Nom", "Nom de naissance", "Prénom",
    "Situation actuelle dans la CAE", "Antenne de rattachement", "Accompagnateur", "Date info coll",
    "Date d’entrée dans la CAE", "Ancienneté (en mois)", "Date de contrat", "Date d’entrée au sociétariat",
    "Prescripteur", "Nom du prescripteur", "-----", "E-mail 1", "E-mail 2", "Tél. fixe", "Tél. mobile",
    "Adresse", "Code postal", "Ville", "Zone d’habitation", "Qualification de la zone d’habitation", "Sexe",
    "Date de naissance", "Age", "Lieu de naissance", "Code postal du lieu de naissance", "Nationalité",
    "Fin de validité de la carte de séjour", "-----", "Numéro de sécurité sociale", "Situation familiale",
    "Nombre d'enfants", "Niveau d’études", "Contact urgent : Nom", "Contact urgent : Téléphone",
    "Statut social à l’entrée", "Statut social actuel", "Date de fin de droit",
    "Allocation adulte handicapé - échéance", "Date de la visite médicale", "Date limite de la visite médicale",
    "Résultat de la visite médicale", "Objectifs", "Typologie d’activité", "-----",
    *CUSTOM_FIELDS,
    "-----", "Motif de non admission en CAE", "Date de sortie", "Type de sortie", "Motif de sortie", "-----",
    "ID Utilisateur", "ID Gestion sociale", "Créé(e) le", "Mis(e) à jour le",
]

CA_IDENTITY = [
    "ID Utilisateur", "Identifiant interne", "Code(s) analytique(s)", "Civilité", "Nom", "Prénom", "Sexe", "Age",
    "Code postal", "Ville", "Zone d'habitation", "Qualification de la zone d'habitation",
    "Statut social à l'entrée", "Statut social actuel", "Antenne de rattachement",
    "Situation actuelle dans la CAE", "Date d'entrée dans la CAE", "Ancienneté (en mois)", "Date de contrat",
    "Date d'entrée au sociétariat", "Date de sortie", "Motif de sortie", "-----", "Typologie d'activité",
    "Enseigne(s)", "Descriptif(s) d'activité(s)", "Domaine d’activité principal", "-----", "CA TOTAL",
]
MOIS_FR = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]
MOIS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

ETAPES_HEADER = [
    "ID Utilisateur", "Code(s) analytique(s)", "Civilité", "Nom", "Prénom", "Antenne de rattachement",
    "Typologie d'activité", "Date d'entrée dans la CAE", "Étape", "Nature", "Nouvelle situation", "Date d'effet",
    "Date d'échéance", "CONTRATS", "Type de contrat", "Qualité du salarié", "Taux horaire", "Nombre d'heures",
    "Salaire brut", "Objectif de CA / d'activité", "Numéro d'avenant", "SORTIES", "Type de sortie",
    "Motif de sortie",
]

SORTIES_HEADER = [
    "ID Utilisateur", "Code(s) analytique(s)", "Civilité", "Nom", "Prénom", "Antenne de rattachement",
    "Date d’entrée dans la CAE", "Date de sortie", "Type de sortie", "Motif de sortie",
]

# ----------------------------------------------------------- planted data --
# Fake personal values; none may appear in any output of the adapter.
PEOPLE = {
    "101": dict(nom="Zyxwabcdefova", prenom="Amandine-Test", email="amandine.planted@example.org",
                tel="06 11 22 33 44", adresse="17 rue des Planqués", secu="2 85 04 75 123 456 78",
                lieu="Trifouillis-les-Oies", urgence="Bernardin Témoin", nationalite="Syldave",
                naissance="12/04/1985"),
    "102": dict(nom="Qwertyuiopsen", prenom="Bastien-Test", email="bastien.planted@example.org",
                tel="07 98 76 54 32", adresse="3 impasse du Secret", secu="1 62 11 13 055 987 65",
                lieu="Bordurie-sur-Mer", urgence="Clotilde Témoin", nationalite="Bordure",
                naissance="03/11/1962"),
    "103": dict(nom="Mnbvcxzlkjh", prenom="Chloé-Test", email="chloe.planted@example.org",
                tel="01 23 45 67 89", adresse="88 boulevard Caché", secu="2 90 07 69 381 222 33",
                lieu="Moulinsart-Village", urgence="Dorothée Témoin", nationalite="Groland",
                naissance="21/07/1990"),
    "104": dict(nom="Plokijuhygtf", prenom="Damien-Test", email="damien.planted@example.org",
                tel="06 55 44 33 22", adresse="5 allée Discrète", secu="1 78 02 33 063 444 55",
                lieu="Villeperdue-Haute", urgence="Eulalie Témoin", nationalite="Pataland",
                naissance="08/02/1978"),
}
MEDICAL = "Apte avec réserve RESULTATMEDICALPLANTE"
FREE_TEXT = "Texte libre PERSONNELPLANTE sur la situation familiale"


def planted_values() -> list[str]:
    """Every fake personal value written into the exports."""
    out = [MEDICAL, "RESULTATMEDICALPLANTE", "PERSONNELPLANTE"]
    for p in PEOPLE.values():
        out += [p["nom"], p["prenom"], p["email"], p["tel"], p["adresse"], p["secu"], p["lieu"], p["urgence"],
                p["nationalite"], p["naissance"], p["secu"].replace(" ", ""), p["tel"].replace(" ", "")]
    return out


# Per person: (entry, contract date, societariat, exit, exit type, exit reason, sex,
# education level, social status at entry, zone, zone qualification, activity type)
PORTEURS = {
    "101": ("15/01/2019", "01/03/2019", "", "", "", "", "F", "Bac +2",
            "Bénéficiaire du RSA ; Demandeur d'emploi non indemnisé", "Urbain", "QPV", "Services aux entreprises"),
    "102": (" 5/03/2018", "", "", "30/06/2019", "Sortie positive", "CDI", "M", "CAP / BEP",
            "Demandeur.e d'emploi (plus de 2 ans) - Indemnisé.e", "Péri-urbain", "Hors QPV", "Bâtiment"),
    "103": ("01/09/2016", "01/05/2017", "15/06/2018", "", "", "", "F", "Master",
            "Salarié(e) ; Travailleur handicapé", "Rural", "", "Artisanat"),
    "104": ("10/02/2018", "01/03/2018", "", "", "", "", "M", "Niveau Bac",
            "Salarié à temps partiel et demandeur d'emploi indemnisé", "Urbain", "QPV", "Services aux entreprises"),
}


def porteurs_rows() -> list[list[str]]:
    rows = []
    for pid, (entree, contrat, soc, sortie, type_s, motif_s, sexe, niveau, statut, zone, qual, typo) in PORTEURS.items():
        p = PEOPLE[pid]
        values = {
            "Identifiant interne": f"INT-{pid}", "Code(s) analytique(s)": f"ANA{pid}", "Civilité": "Mme" if sexe == "F" else "M.",
            "Nom": p["nom"], "Nom de naissance": p["nom"], "Prénom": p["prenom"],
            "Situation actuelle dans la CAE": "En activité", "Antenne de rattachement": "Siège",
            "Accompagnateur": "Accompagnateur Un", "Date info coll": "01/01/2016", "Date d’entrée dans la CAE": entree,
            "Ancienneté (en mois)": "12", "Date de contrat": contrat, "Date d’entrée au sociétariat": soc,
            "Prescripteur": "Pôle emploi", "Nom du prescripteur": p["urgence"], "E-mail 1": p["email"], "E-mail 2": p["email"],
            "Tél. fixe": p["tel"], "Tél. mobile": p["tel"], "Adresse": p["adresse"], "Code postal": "44000", "Ville": "Nantes",
            "Zone d’habitation": zone, "Qualification de la zone d’habitation": qual, "Sexe": sexe,
            "Date de naissance": p["naissance"], "Age": "40", "Lieu de naissance": p["lieu"],
            "Code postal du lieu de naissance": "99999", "Nationalité": p["nationalite"],
            "Fin de validité de la carte de séjour": "", "Numéro de sécurité sociale": p["secu"],
            "Situation familiale": "Célibataire", "Nombre d'enfants": "2", "Niveau d’études": niveau,
            "Contact urgent : Nom": p["urgence"], "Contact urgent : Téléphone": p["tel"],
            "Statut social à l’entrée": statut, "Statut social actuel": statut, "Date de fin de droit": "31/12/2020",
            "Allocation adulte handicapé - échéance": "", "Date de la visite médicale": "02/02/2019",
            "Date limite de la visite médicale": "02/02/2021", "Résultat de la visite médicale": MEDICAL,
            "Objectifs": FREE_TEXT, "Typologie d’activité": typo, "Projet ESS ?": "Oui",
            "Remarques de l’accompagnateur": FREE_TEXT, "Motif de non admission en CAE": "",
            "Date de sortie": sortie, "Type de sortie": type_s, "Motif de sortie": motif_s,
            "ID Utilisateur": pid, "ID Gestion sociale": f"9{pid}", "Créé(e) le": "01/01/2016",
            "Mis(e) à jour le": "01/01/2020",
        }
        rows.append([("" if h == "-----" else values[h]) for h in PORTEURS_HEADER])
    return rows


# CA per person and month (2019 file, French months): totals by hand.
# 101: 1000 × 10 months (Mar–Dec) + 10 000.50 in Dec → Σ = 20 000.50
# 102: 5 000 in Mar; 103: 1 234.56 in Jun (written "1 234,56"); 104: 3 000 in Feb
CA_2019 = {
    "101": {m: 1000.0 for m in range(3, 13)} | {12: 11000.50},
    "102": {3: 5000.0},
    "103": {6: 1234.56},
    "104": {2: 3000.0},
}
# 2020 file (xlsx named .xls, English months, "Identifiant MoOGLi"): 101 18 000, 103 7 000
CA_2020 = {"101": {m: 1500.0 for m in range(1, 13)}, "103": {1: 7000.0}}


def _ca_rows(ca: dict, year: int, french_total: set[str] = frozenset()) -> list[list]:
    rows = []
    for pid, months in ca.items():
        p = PEOPLE[pid]
        ident = [pid, f"INT-{pid}", f"ANA{pid}", "Mme", p["nom"], p["prenom"], PORTEURS[pid][6], "40", "44000",
                 "Nantes", PORTEURS[pid][9], PORTEURS[pid][10], PORTEURS[pid][8], PORTEURS[pid][8], "Siège",
                 "En activité", PORTEURS[pid][0], "12", PORTEURS[pid][1], PORTEURS[pid][2], PORTEURS[pid][3],
                 PORTEURS[pid][5], "", PORTEURS[pid][11], f"Enseigne {p['nom']}", "Activité", "Domaine", ""]
        total = round(sum(months.values()), 2)
        total_s = (f"{total:,.2f}".replace(",", " ").replace(".", ",")) if pid in french_total else f"{total}"
        rows.append(ident + [total_s] + [f"{months.get(m, 0.0)}" for m in range(1, 13)])
    return rows


# Career steps. Pay by hand (annual_pay rule: Salaire brut, else rate × monthly hours):
# 101: contract 01/03/2019 at 12 €/h × 100 h = 1 200 €/month (Mar–Jun: 4 months),
#      amendment 01/07/2019: 110 h, Salaire brut 1 500 (Jul–Dec: 6 months)
#      → 2019: 4×1 200 + 6×1 500 = 13 800 € ; hours 4×100 + 6×110 = 1 060
#      → 2020: 12×1 500 = 18 000 € ; hours 12×110 = 1 320
# 104: contract 01/03/2018 at 1 000 €/month (10 €/h × 100 h), exit 30/06/2019
#      → 2019: 6×1 000 = 6 000 € ; hours 600
# 102: never under contract (CAPE only) → 0 € ; 0 h
# 103: contract since 01/05/2017, before the steps export → unknown (NaN + warning)
ETAPES = [
    # id, Étape (CAE's own name), Nature, Date d'effet, échéance, taux, heures, salaire, type sortie, motif sortie
    ("101", "Signature CAPE", "Entrée CAE", "15/01/2019", "14/01/2020", "", "", "", "", ""),
    ("101", "CESA", "Contrat de travail", "01/03/2019", "", "12", "100", "", "", ""),
    ("101", "Avenant n°1", "Avenant contrat de travail", "01/07/2019", "", "", "110", "1500", "", ""),
    ("104", "Signature CAPE", "Entrée CAE", "10/02/2018", "", "", "", "", "", ""),
    ("104", "CESA", "Contrat de travail", "01/03/2018", "", "10", "100", "1000", "", ""),
    ("104", "Fin de parcours", "Sortie CAE", "30/06/2019", "", "", "", "", "Création d'entreprise", ""),
]


def etapes_rows() -> list[list[str]]:
    rows = []
    for pid, etape, nature, effet, ech, taux, heures, brut, type_s, motif_s in ETAPES:
        p = PEOPLE[pid]
        rows.append([pid, f"ANA{pid}", "Mme", p["nom"], p["prenom"], "Siège", PORTEURS[pid][11], PORTEURS[pid][0],
                     etape, nature, "En activité", effet, ech, "", "CDI" if nature.startswith("Contrat") else "",
                     "Entrepreneur salarié", taux, heures, brut, "", "", "", type_s, motif_s])
    return rows


# sorties_periode: 104 left on 30/06/2019, reason blank, type "Création d'entreprise"
SORTIES = [("104", "10/02/2018", "30/06/2019", "Création d'entreprise", "")]


def sorties_rows() -> list[list[str]]:
    return [[pid, f"ANA{pid}", "M.", PEOPLE[pid]["nom"], PEOPLE[pid]["prenom"], "Siège", entree, sortie, t, m]
            for pid, entree, sortie, t, m in SORTIES]


# ---------------------------------------------------------------- writers --
def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    """enDI's CSV dialect: ``;``, every field quoted, no BOM."""
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, delimiter=";", quotechar='"', quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list]) -> Path:
    """An OOXML workbook, whatever the extension (enDI names it .xls)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append([_num_or_str(v) for v in r])
    with open(path, "wb") as fh:  # explicit: openpyxl would refuse the .xls name
        wb.save(fh)
    return path


def _num_or_str(v):
    try:
        return float(v) if v not in ("",) and not str(v).startswith("0") else v
    except (TypeError, ValueError):
        return v


def build_folder(folder: Path) -> Path:
    """Write the four enDI exports (plus a protocol-format survey file that
    the adapter must ignore) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_csv(folder / "porteurs_actifs_periode_2019.csv", PORTEURS_HEADER, porteurs_rows())
    header19 = CA_IDENTITY + [f"CA {m} 19" for m in MOIS_FR]
    write_csv(folder / "ca_porteurs_periode_2019.csv", header19, _ca_rows(CA_2019, 2019, {"103"}), encoding="cp1252")
    header20 = ["Identifiant MoOGLi"] + CA_IDENTITY[1:] + [f"CA {m} 20" for m in MOIS_EN]
    write_xlsx(folder / "ca_porteurs_periode_2020.xls", header20, _ca_rows(CA_2020, 2020))
    write_csv(folder / "etapes_parcours.csv", ETAPES_HEADER, etapes_rows())
    write_csv(folder / "sorties_periode.csv", SORTIES_HEADER, sorties_rows())
    (folder / "questionnaire.csv").write_text("id;eff_accompagnement\n101;5\n", encoding="utf-8")
    return folder


# Mapping decided by hand (what a CAE would write after review); "Niveau Bac"
# and the conflicting status are deliberately left A_COMPLETER / unknown.
MAPPING = {
    "niveau_etudes": {"Bac +2": "bac_2", "CAP / BEP": "cap_bep", "Master": "bac_5_plus", "Niveau Bac": "A_COMPLETER"},
    "statut_social_entree": {
        "Bénéficiaire du RSA": "rsa", "Demandeur d'emploi non indemnisé": "de_non_indemnise",
        "Demandeur.e d'emploi (plus de 2 ans) - Indemnisé.e": "de_indemnise", "Salarié(e)": "salarie",
        "Travailleur handicapé": "ignorer",
        "Salarié à temps partiel et demandeur d'emploi indemnisé": "de_indemnise",
    },
    "zone": {"Urbain": "urbain", "Péri-urbain": "periurbain", "Rural": "rural"},
    "qualification_zone": {"QPV": "oui", "Hors QPV": "non"},
    "type_sortie": {"Sortie positive": "ignorer", "Création d'entreprise": "creation_entreprise"},
    "motif_sortie": {"CDI": "emploi_salarie"},
    "typologie_activite": {"Services aux entreprises": "Services", "Bâtiment": "Bâtiment", "Artisanat": "Artisanat"},
}

# Expected entrepreneurs, worked out by hand from PORTEURS/ETAPES/SORTIES and MAPPING.
EXPECTED = {
    "101": dict(line=2, date_entree="2019-01-15", date_sortie=None, motif_sortie=None, genre="F",
                annee_naissance=1985, diplome="bac_2",
                situation_entree="rsa",  # rsa before de_non_indemnise in priorite_situation_entree
                qpv="oui", zone="urbain", secteur="Services", statut="cesa", date_cesa="2019-03-01",
                date_societariat=None),
    "102": dict(line=3, date_entree="2018-03-05", date_sortie="2019-06-30", motif_sortie="emploi_salarie",
                genre="H", annee_naissance=1962, diplome="cap_bep", situation_entree="de_indemnise", qpv="non",
                zone="periurbain", secteur="Bâtiment", statut="cape", date_cesa=None, date_societariat=None),
    "103": dict(line=4, date_entree="2016-09-01", date_sortie=None, motif_sortie=None, genre="F",
                annee_naissance=1990, diplome="bac_5_plus",
                situation_entree="salarie",  # "Travailleur handicapé" → ignorer
                qpv=None, zone="rural", secteur="Artisanat", statut="associe", date_cesa="2017-05-01",
                date_societariat="2018-06-15"),
    "104": dict(line=5, date_entree="2018-02-10", date_sortie="2019-06-30",
                motif_sortie="creation_entreprise",  # reason blank → exit type, from sorties_periode
                genre="H", annee_naissance=1978, diplome=None,  # "Niveau Bac" left A_COMPLETER → error
                situation_entree="de_indemnise", qpv="oui", zone="urbain", secteur="Services", statut="cesa",
                date_cesa="2018-03-01", date_societariat=None),
}
# (id, year) → (line in its CA file, turnover, gross pay, paid hours)
EXPECTED_ACTIVITE = {
    ("101", 2019): (2, 20000.50, 13800.0, 1060.0),
    ("102", 2019): (3, 5000.0, 0.0, 0.0),
    ("103", 2019): (4, 1234.56, float("nan"), float("nan")),
    ("104", 2019): (5, 3000.0, 6000.0, 600.0),
    ("101", 2020): (2, 18000.0, 18000.0, 1320.0),
    ("103", 2020): (3, 7000.0, float("nan"), float("nan")),
}
