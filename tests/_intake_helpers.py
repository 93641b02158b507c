"""Builders of small CAE folders for the intake tests (not a conftest: plain helpers).

The reference CAE below is written by hand; the expected typed values in
``EXPECTED_*`` are worked out by hand from it, not produced by the code.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

KEY = bytes.fromhex("00" * 31 + "01")

CAE_YML = """\
nom: "Coopérative Test"
region: "Bretagne"
type: generaliste
territoire: urbain
annee_creation: 2001
periode: {debut: 2019-01-01, fin: 2019-12-31}
ressources:
  subventions_publiques: 1000
  contribution_entrepreneurs: 500
  autres_produits: 0
  benevolat_heures: 10
equipe_appui_etp: 2.5
"""

ENT_HEADER = ["id", "date_entree", "date_sortie", "motif_sortie", "genre", "annee_naissance", "diplome",
              "situation_entree", "qpv", "zone", "secteur", "statut", "date_cesa", "date_societariat"]
# French-office shape: JJ/MM/AAAA, codes.
ENT_ROWS = [
    ["A1", "15/03/2018", "", "", "F", "1980", "bac", "rsa", "non", "urbain", "Conseil", "cesa", "01/09/2018", ""],
    ["A2", "02/01/2019", "30/06/2019", "emploi_salarie", "H", "1995", "bac_2", "de_indemnise", "oui", "rural", "Bâtiment", "cape", "", ""],
    ["A3", "10/10/2015", "", "", "F", "1960", "bac_5_plus", "salarie", "non", "periurbain", "Édition", "associe", "01/01/2016", "01/01/2018"],
]
ACT_HEADER = ["id", "annee", "chiffre_affaires", "remuneration_brute", "heures_remunerees"]
ACT_ROWS = [
    ["A1", "2018", "12 500,50", "4\u00a0000", "300"],
    ["A1", "2019", "20\u00a0000", "8 000,25", "600"],
    ["A2", "2019", "3 000", "1 000", ""],
    ["A3", "2019", "45 000", "20 000", "1 200"],
]
Q_HEADER = ["id", "eff_accompagnement", "who5_1", "droit_protection", "echanges_pairs", "sans_cae", "part_cae", "revenu_avant", "commentaire"]
Q_ROWS = [
    ["A1", "5", "0", "oui", "mensuel", "pas_cree", "80", "1 200,5", "Très bien, appelez-moi"],
    ["", "2", "5", "non", "jamais", "nsp", "", "", ""],
]

# Expected typed tables, by hand from the rows above (index = spreadsheet line).
EXPECTED_ENT = pd.DataFrame(
    {
        "id": pd.array(["A1", "A2", "A3"], dtype="string"),
        "date_entree": pd.to_datetime(["2018-03-15", "2019-01-02", "2015-10-10"]).astype("datetime64[ns]"),
        "date_sortie": pd.to_datetime([None, "2019-06-30", None]).astype("datetime64[ns]"),
        "motif_sortie": pd.array([None, "emploi_salarie", None], dtype="string"),
        "genre": pd.array(["F", "H", "F"], dtype="string"),
        "annee_naissance": pd.array([1980, 1995, 1960], dtype="Int64"),
        "diplome": pd.array(["bac", "bac_2", "bac_5_plus"], dtype="string"),
        "situation_entree": pd.array(["rsa", "de_indemnise", "salarie"], dtype="string"),
        "qpv": pd.array(["non", "oui", "non"], dtype="string"),
        "zone": pd.array(["urbain", "rural", "periurbain"], dtype="string"),
        "secteur": pd.array(["Conseil", "Bâtiment", "Édition"], dtype="string"),
        "statut": pd.array(["cesa", "cape", "associe"], dtype="string"),
        "date_cesa": pd.to_datetime(["2018-09-01", None, "2016-01-01"]).astype("datetime64[ns]"),
        "date_societariat": pd.to_datetime([None, None, "2018-01-01"]).astype("datetime64[ns]"),
    },
    index=pd.Index([2, 3, 4], name="ligne"),
)
EXPECTED_ACT = pd.DataFrame(
    {
        "id": pd.array(["A1", "A1", "A2", "A3"], dtype="string"),
        "annee": pd.array([2018, 2019, 2019, 2019], dtype="Int64"),
        "chiffre_affaires": [12500.5, 20000.0, 3000.0, 45000.0],
        "remuneration_brute": [4000.0, 8000.25, 1000.0, 20000.0],
        "heures_remunerees": [300.0, 600.0, float("nan"), 1200.0],
    },
    index=pd.Index([2, 3, 4, 5], name="ligne"),
)


def csv_bytes(header, rows, sep=";", encoding="cp1252", eol="\r\n") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator=eol, quoting=csv.QUOTE_MINIMAL)
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue()
    if encoding == "utf-8-sig":
        return b"\xef\xbb\xbf" + data.encode("utf-8")
    return data.encode(encoding)


def write_csv(path: Path, header, rows, **kw) -> Path:
    path.write_bytes(csv_bytes(header, rows, **kw))
    return path


def write_xlsx(path: Path, header, rows, sheet: str | None = None, extra_first_sheet: str | None = None) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if extra_first_sheet:
        ws.title = extra_first_sheet
        ws.append(["ceci", "n'est", "pas", "la", "table"])
        ws = wb.create_sheet(sheet or "Feuil2")
    elif sheet:
        ws.title = sheet
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


def make_cae(root: Path, slug: str = "test", ent=None, act=None, q=None, yml: str | None = CAE_YML) -> Path:
    """Write a CAE folder with French CSVs (cp1252, ``;``); ``ent``/``act``/``q``
    are (header, rows) or None for the defaults (``q=False``: no survey)."""
    d = Path(root) / slug
    d.mkdir(parents=True, exist_ok=True)
    if yml is not None:
        (d / "cae.yml").write_text(yml, encoding="utf-8")
    if ent is not False:
        write_csv(d / "entrepreneurs.csv", *(ent or (ENT_HEADER, ENT_ROWS)))
    if act is not False:
        write_csv(d / "activite.csv", *(act or (ACT_HEADER, ACT_ROWS)))
    if q not in (None, False):
        write_csv(d / "questionnaire.csv", *q)
    return d


def with_cell(header, rows, line: int, column: str, value):
    """Copy of (header, rows) with the cell at spreadsheet ``line`` (header = 1) replaced."""
    rows = [list(r) for r in rows]
    rows[line - 2][header.index(column)] = value
    return header, rows
