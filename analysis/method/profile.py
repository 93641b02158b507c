"""Study profiles: the domain of a study as data (``profiles/<id>/profile.yml``).

A profile is a folder holding ``profile.yml`` (identity of the study and every
domain word the engine prints: the people table, the description file, French
terms and sentences, report structure) and the methodology files (codebook,
indicators, SROI value map, QVT scales, publication rules, assumptions, demo
settings) under the names of :data:`analysis.method.loader.FILES`.
``profile.yml: fichiers`` may point at another folder: the default profile,
``profiles/cae/``, points at ``methodology/``, which stays its methodology
folder. All files of one profile live in ONE folder, the run's methodology
folder (``config.METHODOLOGY_DIR``, ``CAE_IMPACT_METHODOLOGY``): the engine
passes that folder around and finds the profile from it (:func:`current`).

Choice of a profile, in order: ``--profil NAME`` (a name under ``profiles/``
or a folder path), else the key ``description.cle_profil`` of the structures'
description files (:func:`detect`), else the default profile.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from analysis import config
from analysis.method.yamlio import read_yaml

PROFILES_DIR = config.PROFILES_DIR  # the checkout's profiles/, or the copy shipped in the wheel
#: The default profile (the CAE study, the workbook's first study).
DEFAULT = "cae"


class ProfileError(ValueError):
    """A profile cannot be found or is inconsistent (French message)."""


@dataclass(frozen=True)
class Profile:
    """One study profile: ``data`` is ``profile.yml``; ``folder`` the
    profile's folder; ``methodology_dir`` the folder of its method files."""

    id: str
    folder: Path
    methodology_dir: Path
    data: dict

    # -- lookups ---------------------------------------------------------
    def get(self, dotted: str, default: Any = None) -> Any:
        """Value at ``a.b.c`` in profile.yml, else ``default``."""
        cur: Any = self.data
        for part in dotted.split("."):
            if isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
                cur = cur[int(part)]
            elif isinstance(cur, dict) and part in cur:
                cur = cur[part]
            else:
                return default
        return cur

    def term(self, dotted: str) -> str:
        """A French word of ``termes`` (``structure.le``, ``personne.population``)."""
        value = self.get(f"termes.{dotted}")
        if value is None:
            raise ProfileError(f"Le profil « {self.id} » ne définit pas termes.{dotted}.")
        return str(value)

    def phrase(self, name: str, **values) -> str:
        """A French sentence of ``phrases`` filled with ``values`` (str.format)."""
        template = self.get(f"phrases.{name}")
        if template is None:
            raise ProfileError(f"Le profil « {self.id} » ne définit pas phrases.{name}.")
        return str(template).format(**values)

    # -- tables and files -----------------------------------------------
    @property
    def people_table(self) -> str:
        """The people table (pseudonymised ids, age bands, people counts)."""
        return self.get("tables.personnes")

    @property
    def table_order(self) -> list[str]:
        return list(self.get("tables.ordre") or [self.people_table, "activite", "questionnaire"])

    @property
    def activity_grain(self) -> str:
        """``personne_annee`` (one row per person and year) or ``structure_annee``."""
        return self.get("tables.grain_activite", "personne_annee")

    @property
    def description_file(self) -> str:
        return self.get("description.fichier")

    @property
    def description_section(self) -> str:
        return self.get("description.section_codebook")

    @property
    def processed_description(self) -> str:
        return self.get("description.fichier_traite")

    @property
    def description_table(self) -> str:
        """``table`` of the description file in the manifest's file list."""
        return self.get("description.table_manifeste") or "description"

    def count_word(self, table: str, n: int = 2) -> str:
        """The French noun counting ``n`` rows of ``table`` (``tables.decompte``:
        [singular, plural]; French rule: singular for 0 and 1)."""
        one, many = (self.get("tables.decompte") or {}).get(table, [table, table])
        return one if n <= 1 else many

    def anonymous_name(self, n: int) -> str:
        return self.term("structure.anonyme").format(n=n)


def _profile_from_file(path: Path) -> Profile:
    from analysis.method import schemas

    with open(path, encoding="utf-8") as fh:
        data = read_yaml(fh) or {}
    try:
        schemas.validate("profil", data, filename="profile.yml", where=str(path))
    except schemas.MethodError as exc:
        raise ProfileError(str(exc)) from None
    folder = path.parent.resolve()
    files = data.get("fichiers") or {}
    dirs = set()
    for key, rel in files.items():
        if key in ("adaptateurs", "protocole", "guide") or not rel:
            continue
        dirs.add((folder / rel).resolve().parent)
    if len(dirs) > 1:
        raise ProfileError(f"Profil {path} : les fichiers de méthode doivent être dans un seul dossier ({', '.join(map(str, sorted(dirs)))}).")
    methodology_dir = dirs.pop() if dirs else folder
    return Profile(id=str(data.get("id") or folder.name), folder=folder, methodology_dir=methodology_dir, data=data)


@functools.lru_cache(maxsize=32)
def _cached(path: str, mtime: float) -> Profile:
    return _profile_from_file(Path(path))


def load_file(path: Path | str) -> Profile:
    p = Path(path).resolve()
    return _cached(str(p), p.stat().st_mtime)


def available() -> list[str]:
    """Names of the profiles shipped under ``profiles/``."""
    return sorted(p.parent.name for p in PROFILES_DIR.glob("*/profile.yml"))


def resolve(name_or_path: str | Path) -> Profile:
    """The profile called ``name_or_path`` (a folder under ``profiles/``) or
    held in that folder (a path to a folder holding ``profile.yml``)."""
    p = Path(name_or_path).expanduser()
    candidates = [p / "profile.yml", PROFILES_DIR / str(name_or_path) / "profile.yml"]
    if p.name == "profile.yml":
        candidates.insert(0, p)
    for c in candidates:
        if c.is_file():
            return load_file(c)
    raise ProfileError(f"Profil inconnu : « {name_or_path} ». Profils disponibles : {', '.join(available())} (ou le chemin d'un dossier contenant profile.yml).")


def for_methodology(methodology_dir: Path | str | None = None) -> Profile:
    """The profile whose method files live in ``methodology_dir`` (default:
    the run's folder): its own ``profile.yml`` if present, else the shipped
    profile pointing at that folder, else the default profile (a copy of
    ``methodology/`` used by tests is the default study)."""
    d = Path(methodology_dir or config.METHODOLOGY_DIR).resolve()
    if (d / "profile.yml").is_file():
        return load_file(d / "profile.yml")
    for name in available():
        prof = resolve(name)
        if prof.methodology_dir == d:
            return prof
    import dataclasses

    return dataclasses.replace(resolve(DEFAULT), methodology_dir=d)


def current() -> Profile:
    """The profile of the run's methodology folder (``config.METHODOLOGY_DIR``)."""
    return for_methodology(config.METHODOLOGY_DIR)


#: Set by :func:`activate` beside ``CAE_IMPACT_METHODOLOGY``: tells a value it
#: wrote from one the user set (an evaluator's copy of the method).
_ACTIVATED = "CAE_IMPACT_METHODOLOGIE_ACTIVEE"


def user_methodology_dir() -> Path | None:
    """The methodology folder the user chose with ``CAE_IMPACT_METHODOLOGY``
    (not one :func:`activate` wrote earlier in this process), or None."""
    import os

    value = os.environ.get("CAE_IMPACT_METHODOLOGY")
    if not value or value == os.environ.get(_ACTIVATED):
        return None
    return Path(value).expanduser().resolve()


def for_command(name: str | None = None, raw_dir: Path | str | None = None) -> Profile:
    """The profile of a command: ``name`` (``--profil``), else the one the
    description files under ``raw_dir`` name (:func:`detect`), else the
    profile of the run's methodology folder. A methodology folder the user
    set in ``CAE_IMPACT_METHODOLOGY`` (a copy of the method the evaluator
    edits) is kept: the profile gives the study's words, that folder the
    method."""
    import dataclasses

    prof = resolve(name) if name else (detect(raw_dir) if raw_dir is not None else None)
    user = user_methodology_dir()
    if prof is None:
        return for_methodology(user) if user else current()
    if user and user != prof.methodology_dir:
        prof = dataclasses.replace(prof, methodology_dir=user)
    return prof


def activate(prof: Profile) -> Path:
    """Make ``prof`` the run's profile in this process and in the kernels and
    workers it starts (they read ``CAE_IMPACT_METHODOLOGY``). Returns its
    methodology folder."""
    import os

    # config.METHODOLOGY_DIR is computed from the variable on each access
    os.environ["CAE_IMPACT_METHODOLOGY"] = os.environ[_ACTIVATED] = str(prof.methodology_dir)
    config.__dict__.pop("METHODOLOGY_DIR", None)
    return prof.methodology_dir


def detect(raw_dir: Path | str, slugs: list[str] | None = None) -> Profile | None:
    """The profile chosen by the structures under ``raw_dir``: each folder's
    description file (the ``description.fichier`` of a shipped profile) names
    it with its ``description.cle_profil`` key, or by its file name alone.
    None when no folder says anything. Raises :class:`ProfileError` (French)
    when the folders belong to two profiles: two studies run separately."""
    raw_dir = Path(raw_dir)
    profiles = [resolve(n) for n in available()]
    found: dict[str, list[str]] = {}
    for folder in sorted(p for p in raw_dir.iterdir() if p.is_dir()) if raw_dir.is_dir() else []:
        if slugs is not None and folder.name not in slugs:
            continue
        for prof in profiles:
            desc = folder / prof.description_file
            if not desc.is_file():
                continue
            chosen = prof.id
            try:
                content = read_yaml(desc.read_text(encoding="utf-8")) or {}
                key = prof.get("description.cle_profil")
                if isinstance(content, dict) and key and content.get(key):
                    chosen = str(content[key])
            except (yaml.YAMLError, UnicodeDecodeError, OSError):
                pass  # validation reports the broken file; the file name decides here
            found.setdefault(chosen, []).append(folder.name)
            break
    if not found:
        return None
    if len(found) > 1:
        detail = " ; ".join(f"{k} : {', '.join(v)}" for k, v in sorted(found.items()))
        raise ProfileError(f"Les dossiers de {raw_dir} relèvent de plusieurs études ({detail}). "
                           "Lancez chaque étude séparément (--raw vers un dossier par étude, --profil NOM).")
    return resolve(next(iter(found)))
