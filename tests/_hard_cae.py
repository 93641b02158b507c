"""A CAE built to be hard for disclosure control (issue #13): 12 people, 2
men, one person of gender "autre", an exit reason held by one person, 3
people who entered on the RSA, a questionnaire answered by 11 of them.

Written as the CSV files a CAE would drop into ``data/raw/<slug>/`` (codes of
``methodology/codebook.yml``), so that the whole pipeline reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SLUG = "cae-difficile"

# 12 people: (gender, exit date, exit reason, situation at entry, status)
PEOPLE = [
    ("F", "", "", "rsa", "cesa"),
    ("F", "", "", "rsa", "cesa"),
    ("F", "", "", "rsa", "associe"),
    ("F", "", "", "de_indemnise", "cesa"),
    ("F", "", "", "de_indemnise", "cesa"),
    ("F", "2019-06-30", "emploi_salarie", "de_indemnise", "cesa"),
    ("F", "2019-07-31", "emploi_salarie", "de_indemnise", "cape"),
    ("F", "2019-08-31", "emploi_salarie", "salarie", "cape"),
    ("F", "2019-09-30", "emploi_salarie", "salarie", "cesa"),
    ("H", "2019-10-31", "emploi_salarie", "salarie", "cesa"),
    ("H", "", "", "de_indemnise", "associe"),
    ("autre", "2019-11-30", "formation", "salarie", "cape"),  # the only exit for training
]

CAE_YML = """nom: "Coopérative difficile"
region: "Bretagne"
type: generaliste
territoire: rural
annee_creation: 2010
periode:
  debut: 2019-01-01
  fin: 2019-12-31
ressources:
  subventions_publiques: 60000
  contribution_entrepreneurs: 30000
  autres_produits: 5000
  benevolat_heures: 100
equipe_appui_etp: 1.5
"""

QUESTION_ITEMS = (
    [f"eff_{k}" for k in ("accompagnement", "droits", "acceleration", "competences", "confiance", "reseau",
                          "collectif", "souplesse", "citoyennete", "responsabilite")]
    + [f"qvt_{d}_{i}" for d in ("sante", "relations", "temps", "charge", "parcours", "participation", "autonomie")
       for i in (1, 2)]
)


def write(raw_dir: Path, seed: int = 13) -> str:
    """Write the hard CAE under ``raw_dir/<SLUG>/``; return the slug."""
    rng = np.random.default_rng(seed)
    d = Path(raw_dir) / SLUG
    d.mkdir(parents=True, exist_ok=True)
    (d / "cae.yml").write_text(CAE_YML, encoding="utf-8")
    ent = ["id;date_entree;date_sortie;motif_sortie;genre;annee_naissance;diplome;situation_entree;qpv;zone;secteur;"
           "statut;date_cesa;date_societariat"]
    act = ["id;annee;chiffre_affaires;remuneration_brute;heures_remunerees"]
    for i, (g, out, why, sit, st) in enumerate(PEOPLE):
        pid = f"personne{i:02d}@exemple.fr"
        entry = f"{2016 + i % 4}-0{1 + i % 9}-15"
        cesa = entry if st in ("cesa", "associe") else ""
        soc = "2019-03-01" if st == "associe" else ""
        ent.append(f"{pid};{entry};{out};{why};{g};{1970 + i};bac;{sit};non;rural;conseil;{st};{cesa};{soc}")
        ca = 20000 + 1500 * i
        act.append(f"{pid};2019;{ca};{round(ca * 0.4, 2)};{800 + 10 * i}")
    (d / "entrepreneurs.csv").write_text("\n".join(ent) + "\n", encoding="utf-8")
    (d / "activite.csv").write_text("\n".join(act) + "\n", encoding="utf-8")
    cols = (["id"] + QUESTION_ITEMS + ["droit_protection", "droit_logement", "droit_pret", "formation_suivie",
                                       "echanges_pairs", "sans_cae", "part_cae", "revenu_avant"]
            + [f"who5_{i}" for i in range(1, 6)])
    q = [";".join(cols)]
    for i in range(11):  # everybody but the last person answered
        pid = f"personne{i:02d}@exemple.fr"
        vals = [pid] + [str(int(v)) for v in rng.integers(2, 6, len(QUESTION_ITEMS))]
        vals += ["oui" if i % 3 else "non", "non" if i else "oui", "oui" if i < 9 else "non", "oui" if i % 2 else "non",
                 "mensuel", ["meme_activite", "plus_tard", "pas_cree"][i % 3], str(20 + 5 * i), str(900 + 50 * i)]
        vals += [str(int(v)) for v in rng.integers(1, 6, 5)]
        q.append(";".join(vals))
    (d / "questionnaire.csv").write_text("\n".join(q) + "\n", encoding="utf-8")
    return SLUG
