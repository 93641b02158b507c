"""A small processed CAE written by hand (the processed-table contract of
analysis/processed.py), shared by the indicator tests and the notebook test.

40 people, entry dates spread over 2016–2020, period 2019-01-01..2020-12-31.
Counts worth knowing (checked by the tests):
- genre: 24 F, 14 H, 2 nr  -> share of women 24/38
- situation_entree: 12 de_indemnise, 8 de_non_indemnise, 6 rsa, 10 salarie, 4 nr
- exits: 14 (8 emploi_salarie, 3 creation_entreprise, 3 abandon)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

N = 40


def entrepreneurs() -> pd.DataFrame:
    i = np.arange(N)
    genre = ["F"] * 24 + ["H"] * 14 + ["nr"] * 2
    situation = ["de_indemnise"] * 12 + ["de_non_indemnise"] * 8 + ["rsa"] * 6 + ["salarie"] * 10 + ["nr"] * 4
    entree = pd.to_datetime("2016-03-01") + pd.to_timedelta(i * 40, unit="D")  # 2016-03 .. 2020-05
    sortie = pd.Series(pd.NaT, index=i, dtype="datetime64[ns]")
    motif = pd.Series(pd.NA, index=i, dtype="string")
    leavers = list(range(0, 28, 2))  # 14 people
    reasons = ["emploi_salarie"] * 8 + ["creation_entreprise"] * 3 + ["abandon"] * 3
    for k, r in zip(leavers, reasons):
        sortie[k] = max(entree[k] + pd.Timedelta(days=300 + 20 * k), pd.Timestamp("2019-01-15"))
        motif[k] = r
    cesa = pd.Series(pd.NaT, index=i, dtype="datetime64[ns]")
    for k in range(1, N, 3):
        cesa[k] = entree[k] + pd.Timedelta(days=180 + 5 * k)
    cesa = cesa.where(cesa <= pd.Timestamp("2020-12-31"))
    statut = np.where(cesa.notna(), "cesa", "cape").astype(object)
    statut[[1, 4, 7, 10, 13]] = "associe"
    return pd.DataFrame({
        "id": pd.array([f"p{k:03d}" for k in i], dtype="string"),
        "date_entree": entree.astype("datetime64[ns]"),
        "date_sortie": sortie.to_numpy(),
        "date_cesa": cesa.to_numpy(),
        "date_societariat": pd.Series(pd.NaT, index=i, dtype="datetime64[ns]").to_numpy(),
        "motif_sortie": motif.to_numpy(),
        "genre": pd.array(genre, dtype="string"),
        "tranche_age": pd.array((["moins_26", "26_34", "35_49", "50_plus"] * 10), dtype="string"),
        "diplome": pd.array((["aucun", "cap_bep", "bac", "bac_2", "bac_3_4", "bac_5_plus", "nr", "bac"] * 5), dtype="string"),
        "situation_entree": pd.array(situation, dtype="string"),
        "qpv": pd.array((["oui", "non", "non", "non", "nr"] * 8), dtype="string"),
        "zone": pd.array((["urbain", "rural", "periurbain", "urbain"] * 10), dtype="string"),
        "secteur": pd.array((["conseil"] * 3 + ["artisanat", "culture"]) * 8, dtype="string"),
        "statut": pd.array(list(statut), dtype="string"),
    })


def activite(ent: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for k, r in ent.iterrows():
        for year in (2019, 2020):
            if r["date_entree"].year > year:
                continue
            if pd.notna(r["date_sortie"]) and r["date_sortie"].year < year:
                continue
            ca = 0.0 if (k % 5 == 0 and year == 2019) else 10000.0 + 1000 * k + (3000 if year == 2020 else 0)
            rows.append({"id": r["id"], "annee": year, "chiffre_affaires": ca, "remuneration_brute": ca * 0.4,
                         "heures_remunerees": np.nan})
    df = pd.DataFrame(rows)
    df["id"] = df["id"].astype("string")
    df["annee"] = df["annee"].astype("Int64")
    return df


def questionnaire(ent: pd.DataFrame) -> pd.DataFrame:
    # 30 respondents: the first 26 people by id, plus 4 anonymous answers
    n = 30
    ids = list(ent["id"][:26]) + [pd.NA] * 4
    likert = lambda shift: pd.array([(k + shift) % 5 + 1 for k in range(n)], dtype="Int64")
    q = pd.DataFrame({"id": pd.array(ids, dtype="string")})
    for j, item in enumerate(["eff_accompagnement", "eff_droits", "eff_acceleration", "eff_competences", "eff_confiance",
                              "eff_reseau", "eff_collectif", "eff_souplesse", "eff_citoyennete", "eff_responsabilite"]):
        q[item] = likert(j)
    # eff_droits: 2 missing answers
    q.loc[[0, 1], "eff_droits"] = pd.NA
    yn = lambda k0: pd.array([("oui" if (k + k0) % 3 else "non") for k in range(n)], dtype="string")
    q["droit_protection"], q["droit_logement"], q["droit_pret"] = yn(0), yn(1), yn(2)
    q["formation_suivie"] = pd.array(["oui"] * 20 + ["non"] * 8 + ["nr"] * 2, dtype="string")
    q["echanges_pairs"] = pd.array((["jamais", "moins_mensuel", "mensuel", "hebdomadaire", "mensuel"] * 6), dtype="string")
    q["sans_cae"] = pd.array((["pas_cree", "plus_tard", "meme_activite", "pas_cree", "nsp", "plus_petite"] * 5), dtype="string")
    q["part_cae"] = np.linspace(10, 90, n)
    q["revenu_avant"] = [np.nan if k % 4 == 0 else 800.0 + 20 * k for k in range(n)]
    for dim in ["sante", "relations", "temps", "charge", "parcours", "participation", "autonomie"]:
        q[f"qvt_{dim}_1"], q[f"qvt_{dim}_2"] = likert(1), likert(2)
    for k in range(1, 6):
        q[f"who5_{k}"] = pd.array([(j + k) % 6 for j in range(n)], dtype="Int64")
    return q


INFO = {"nom": "Coopérative Test", "region": "Bretagne", "type": "generaliste", "territoire": "urbain",
        "annee_creation": 2005, "periode": {"debut": "2019-01-01", "fin": "2020-12-31"},
        "ressources": {"subventions_publiques": 100000, "contribution_entrepreneurs": 50000, "autres_produits": 0,
                       "benevolat_heures": 100}, "equipe_appui_etp": 3.0}


def write_cae(root: Path, slug: str = "test", survey: bool = True) -> Path:
    d = Path(root) / slug
    d.mkdir(parents=True, exist_ok=True)
    ent = entrepreneurs()
    ent.to_parquet(d / "entrepreneurs.parquet", index=False)
    activite(ent).to_parquet(d / "activite.parquet", index=False)
    if survey:
        questionnaire(ent).to_parquet(d / "questionnaire.parquet", index=False)
    (d / "cae.json").write_text(json.dumps({**INFO, "slug": slug}, ensure_ascii=False), encoding="utf-8")
    (d / "manifest.json").write_text(json.dumps({"cae": slug, "fixture": True}), encoding="utf-8")
    return d
