"""The stage registry: one declaration of the data flow (``stages.yml``).

Every part of the workbook that needs the list of stages, their notebooks,
the methodology files a stage reads or the result tables it writes asks this
module: the runner (order, fingerprints), the book (section order and
titles), the summaries (which tables to read) and the result store (the
schema a table must have when it is written or read back). A stage or a
result table is added in ``stages.yml``, nowhere else.

Pattern: a declarative pipeline registry, as in cookiecutter-data-science's
"analysis is a DAG" and Kedro's catalogue of named datasets with declared
types (https://docs.kedro.org/ — the catalogue idea only; the runner here is
papermill).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd

from analysis.method.yamlio import read_yaml

__all__ = [
    "REGISTRY_FILE",
    "SchemaError",
    "Stage",
    "Table",
    "book_stages",
    "cae_stages",
    "cae_waves",
    "conform",
    "national_stage",
    "stage",
    "stages",
    "table",
    "tables",
]

REGISTRY_FILE = Path(__file__).resolve().parent / "stages.yml"
SCOPES = ("lecture", "cae", "national")


class SchemaError(ValueError):
    """A result table that does not match its declaration in ``stages.yml``."""


@dataclass(frozen=True)
class Stage:
    name: str
    titre: str
    portee: str
    carnet: str | None = None
    lit: tuple[str, ...] = ()
    ecrit: tuple[str, ...] = ()
    utilise: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, str] = field(default_factory=dict)
    optional: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def _load() -> tuple[tuple[Stage, ...], tuple[str, ...], dict[str, Table]]:
    data = read_yaml(REGISTRY_FILE.read_text(encoding="utf-8"))
    st = []
    for s in data["stages"]:
        unknown = set(s) - set(Stage.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{REGISTRY_FILE.name}: unknown stage keys {sorted(unknown)} in {s.get('name')}")
        if s["portee"] not in SCOPES:
            raise ValueError(f"{REGISTRY_FILE.name}: stage {s['name']}: portee must be one of {SCOPES}")
        st.append(Stage(**{k: tuple(v) if isinstance(v, list) else v for k, v in s.items()}))
    tabs = {
        name: Table(name=name, columns=dict(t["columns"]), optional=tuple(t.get("optional", ())))
        for name, t in data["tables"].items()
    }
    names = [s.name for s in st]
    if len(set(names)) != len(names):
        raise ValueError(f"{REGISTRY_FILE.name}: duplicate stage names")
    for s in st:
        for t in s.ecrit + s.utilise:
            if t not in tabs:
                raise ValueError(f"{REGISTRY_FILE.name}: stage {s.name} names undeclared table {t}")
    livre = tuple(data["livre"])
    if set(livre) - set(names):
        raise ValueError(f"{REGISTRY_FILE.name}: livre names unknown stages {sorted(set(livre) - set(names))}")
    return tuple(st), livre, tabs


def stages(portee: str | None = None) -> list[Stage]:
    """Every stage in execution order, or those of one scope."""
    return [s for s in _load()[0] if portee is None or s.portee == portee]


def stage(name: str) -> Stage:
    for s in _load()[0]:
        if s.name == name:
            return s
    raise KeyError(name)


def cae_stages() -> list[Stage]:
    """The per-CAE notebook stages, in execution order."""
    return stages("cae")


def cae_waves(names: list[str] | None = None) -> list[list[str]]:
    """The per-CAE notebooks in waves that may run side by side: a stage
    runs in the wave after every stage writing a table it ``utilise``
    (Kahn's topological layering; every CAE stage also follows intake,
    which runs before any notebook). ``names`` (notebooks, default all)
    keeps only those, in registry order within a wave; a dependency on a
    stage not selected is already satisfied (its results are up to date)."""
    todo = [s for s in cae_stages() if names is None or s.carnet in names]
    writers = {t: s.carnet for s in todo for t in s.ecrit}
    deps = {s.carnet: {writers[t] for t in s.utilise if t in writers} - {s.carnet} for s in todo}
    waves: list[list[str]] = []
    done: set[str] = set()
    while len(done) < len(todo):
        wave = [s.carnet for s in todo if s.carnet not in done and deps[s.carnet] <= done]
        if not wave:
            raise ValueError(f"{REGISTRY_FILE.name} : dépendances circulaires entre {sorted(set(deps) - done)}")
        waves.append(wave)
        done.update(wave)
    return waves


def national_stage() -> Stage:
    (nat,) = stages("national")
    return nat


def book_stages() -> list[Stage]:
    """The per-CAE stages in the order a CAE chapter shows them."""
    return [stage(n) for n in _load()[1]]


def table(name: str) -> Table:
    return _load()[2][name]


def tables() -> dict[str, Table]:
    return dict(_load()[2])


def conform(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """``df`` checked against the declaration of result table ``name``:
    every required column present, no undeclared column, columns in declared
    order, each cast to its declared dtype (an empty table built without
    types gets them here). Raises :class:`SchemaError` otherwise."""
    t = table(name)
    missing = [c for c in t.columns if c not in df.columns and c not in t.optional]
    extra = [c for c in df.columns if c not in t.columns]
    if missing or extra:
        raise SchemaError(
            f"Table de résultats « {name} » non conforme à {REGISTRY_FILE.name} : "
            + (f"colonnes absentes {missing} " if missing else "")
            + (f"colonnes non déclarées {extra}" if extra else "")
        )
    cols = [c for c in t.columns if c in df.columns]
    out = df[cols].copy()
    for c in cols:
        want = t.columns[c]
        if str(out[c].dtype) != want:
            try:
                out[c] = out[c].astype(want)
            except (TypeError, ValueError) as exc:
                raise SchemaError(f"Table « {name} », colonne « {c} » : type {out[c].dtype}, attendu {want} ({exc})") from exc
    return out
