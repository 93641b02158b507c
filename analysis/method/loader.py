"""Load the versioned methodology files (``methodology/*.yml``).

The method is data: indicators, SROI value map, QVT scales, publication
rules and the codebook are YAML files the evaluator edits. Outputs record
each file's ``version`` and sha256 so that every number can be traced
(PROTOCOL §4).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from analysis import config

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


def path_of(name: str, methodology_dir: Path | None = None) -> Path:
    return Path(methodology_dir or config.METHODOLOGY_DIR) / FILES[name]


def load(name: str, methodology_dir: Path | None = None) -> dict:
    """Parse methodology file ``name`` (a key of :data:`FILES`)."""
    with open(path_of(name, methodology_dir), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions(methodology_dir: Path | None = None) -> dict[str, dict]:
    """{name: {"file", "version", "sha256"}} for every methodology file present."""
    out = {}
    for name, filename in FILES.items():
        p = Path(methodology_dir or config.METHODOLOGY_DIR) / filename
        if p.exists():
            out[name] = {"file": filename, "version": str(load(name, methodology_dir).get("version", "?")), "sha256": sha256_file(p)}
    return out
