"""Read one structure's processed data (the contract between intake and every stage).

Layout of ``<processed>/<slug>/`` written by intake (file names from the
study profile, ``analysis.method.profile``; the default profile's shown):

- ``<tables.personnes>.parquet`` (default profile: ``entrepreneurs``): id (pseudonym), date_entree, date_sortie,
  motif_sortie, genre, tranche_age, diplome, situation_entree, qpv, zone,
  secteur, statut, date_cesa, date_societariat (dates as datetime64, codes
  as strings, missing as NA);
- ``activite.parquet``: id, annee (Int64), chiffre_affaires,
  remuneration_brute, heures_remunerees (float64);
- ``questionnaire.parquet`` (only when the CAE has a survey): id (pseudonym
  or NA), scale items as Int64, yes/no and coded answers as string codes,
  part_cae and revenu_avant as float64; free text dropped;
- ``<description.fichier_traite>`` (``cae.json``): the checked description
  file (dates ISO strings) plus its slug;
- ``manifest.json``: provenance (input checksums, versions, run time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis import config


@dataclass
class CaeData:
    slug: str
    info: dict
    #: The profile's people table (``tables.personnes`` of profile.yml).
    personnes: pd.DataFrame
    activite: pd.DataFrame
    questionnaire: pd.DataFrame | None
    manifest: dict

    #: Field names of the three tables, in the profile's ``tables`` order.
    TABLE_FIELDS = ("personnes", "activite", "questionnaire")

    def table(self, name: str) -> pd.DataFrame | None:
        """A processed table by its codebook name (the people table included)."""
        from analysis.method import profile as profiles

        if name == profiles.current().people_table:
            return self.personnes
        return getattr(self, name, None) if name in self.TABLE_FIELDS else None

    @property
    def has_survey(self) -> bool:
        return self.questionnaire is not None and len(self.questionnaire) > 0


def cae_dir(cae: str, processed_dir: Path | str | None = None) -> Path:
    return Path(processed_dir or config.PROCESSED_DIR) / cae


def load_cae(cae: str, processed_dir: Path | str | None = None) -> CaeData:
    """Load the processed tables of ``cae``; the questionnaire is None when absent."""
    d = cae_dir(cae, processed_dir)
    if not (d / "manifest.json").exists():
        raise FileNotFoundError(
            f"Aucune donnée traitée pour « {cae} » dans {d} : lancez d'abord `cae-impact run --cae {cae}`."
        )
    from analysis.method import profile as profiles

    prof = profiles.current()
    q = d / "questionnaire.parquet"
    return CaeData(
        slug=cae,
        info=json.loads((d / prof.processed_description).read_text(encoding="utf-8")),
        personnes=pd.read_parquet(d / f"{prof.people_table}.parquet"),
        activite=pd.read_parquet(d / "activite.parquet"),
        questionnaire=pd.read_parquet(q) if q.exists() else None,
        manifest=json.loads((d / "manifest.json").read_text(encoding="utf-8")),
    )


def list_processed(processed_dir: Path | str | None = None) -> list[str]:
    """Slugs of the CAEs that have processed data, sorted."""
    root = Path(processed_dir or config.PROCESSED_DIR)
    return sorted(p.parent.name for p in root.glob("*/manifest.json"))
