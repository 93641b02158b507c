"""Load the versioned methodology files (``methodology/*.yml``).

The method is data: indicators, SROI value map, QVT scales, publication
rules and the codebook are YAML files the evaluator edits. Each file is
validated against its declared schema (:mod:`analysis.method.schemas`) when
loaded: a misspelt, missing or ill-typed key raises :class:`MethodError`, a
French message naming the file and every faulty key. The loaded data are the
file's own values with the schema's defaults filled in, so callers index
``spec["key"]`` without repeating a default.

A file is parsed and validated once per process and content: the cache key
is (resolved path, sha256 of the bytes), so an edited file is re-read and a
copy of the method in another folder (``methodology_dir``) is its own entry.

Outputs record each file's ``version`` and sha256 so that every number can
be traced (PROTOCOL §4).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import yaml

from analysis import config
from analysis.method import schemas
from analysis.method.yamlio import read_yaml
from analysis.method.schemas import MethodError

__all__ = ["FILES", "MethodError", "MethodFileNotFound", "path_of", "load", "load_file", "sha256_file", "versions",
           "check_all", "content_changed_without_version"]

#: The methodology files, by short name.
FILES = {
    "codebook": "codebook.yml",
    "publication": "publication.yml",
    "indicateurs": "indicators.yml",
    "sroi": "sroi.yml",
    "qvt": "qvt.yml",
    "hypotheses": "assumptions.yml",
    "endi": "endi.yml",
    "profil": "profile.yml",
    "demo": "demo.yml",
}


class MethodFileNotFound(MethodError, FileNotFoundError):
    """A methodology file is absent (also a FileNotFoundError, for callers that tolerate it)."""


#: (resolved path, sha256) -> validated data with defaults filled. Never handed out directly.
_CACHE: dict[tuple[str, str], dict] = {}


def _dir(methodology_dir: Path | str | None) -> Path:
    # config.METHODOLOGY_DIR is read at call time (CAE_IMPACT_METHODOLOGY may be set by the runner).
    return Path(methodology_dir) if methodology_dir else Path(config.METHODOLOGY_DIR)


def path_of(name: str, methodology_dir: Path | str | None = None) -> Path:
    """Path of methodology file ``name`` in ``methodology_dir``. The study
    profile (``profil``) may live beside its methodology folder instead of
    in it (the default profile's ``profiles/cae/profile.yml`` points at
    ``methodology/``): then the profile's own file."""
    p = _dir(methodology_dir) / FILES[name]
    if name == "profil" and not p.exists():
        from analysis.method import profile as profiles

        return profiles.for_methodology(_dir(methodology_dir)).folder / FILES[name]
    return p


def _validated(name: str, path: Path) -> dict:
    path = Path(path).resolve()
    filename = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MethodFileNotFound(f"Fichier de méthodologie introuvable : {path}.") from None
    key = (str(path), hashlib.sha256(raw).hexdigest())
    if key not in _CACHE:
        try:
            data = read_yaml(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise MethodError(f"{filename} illisible ({path}) : {exc}") from None
        model = schemas.validate(name, data, filename, where=str(path))
        _CACHE[key] = schemas.fill_defaults(data, model)
    return _CACHE[key]


def load(name: str, methodology_dir: Path | str | None = None) -> dict:
    """Methodology file ``name`` (a key of :data:`FILES`) from
    ``methodology_dir`` (default: ``config.METHODOLOGY_DIR``), validated, with
    the schema's defaults filled in. Returns a fresh copy the caller may
    modify. Raises :class:`MethodError` (French) when it is invalid."""
    return copy.deepcopy(_validated(name, path_of(name, methodology_dir)))


def load_file(name: str, path: Path | str, *, shared: bool = False) -> dict:
    """Like :func:`load` for a file at an explicit ``path`` validated as
    ``name``. ``shared=True`` returns the cached object itself (no copy: the
    caller must treat it as read-only; for hot paths such as the codebook)."""
    data = _validated(name, Path(path))
    return data if shared else copy.deepcopy(data)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions(methodology_dir: Path | str | None = None) -> dict[str, dict]:
    """{name: {"file", "version", "sha256"}} for every methodology file present:
    the human ``version`` written in the file and the sha256 of its content."""
    out = {}
    for name, filename in FILES.items():
        p = path_of(name, methodology_dir)
        if p.exists():
            out[name] = {"file": filename, "version": str(_validated(name, p)["version"]), "sha256": sha256_file(p)}
    return out


def check_all(methodology_dir: Path | str | None = None) -> None:
    """Validate every methodology file present; raise one :class:`MethodError`
    listing the problems of all the files at once."""
    messages, problems = [], []
    for name, filename in FILES.items():
        p = path_of(name, methodology_dir)
        if p.exists():
            try:
                _validated(name, p)
            except MethodError as exc:
                messages.append(str(exc))
                problems += exc.problems
    if messages:
        raise MethodError("\n".join(messages), problems)


def content_changed_without_version(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """Names of the files (as in :func:`versions`) whose content changed
    between two :func:`versions` results while their ``version`` did not."""
    return [n for n, v in after.items()
            if n in before and v["sha256"] != before[n]["sha256"] and v["version"] == before[n]["version"]]
