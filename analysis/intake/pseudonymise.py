"""Pseudonymisation at intake (PROTOCOL §4): nothing that identifies a person
leaves ``data/raw/``.

- Identifiers become keyed pseudonyms: ``p_`` + the first 16 hex digits
  (64 bits) of HMAC-SHA256(key, id) (RFC 2104 with SHA-256, FIPS 180-4).
  Without the key nobody can recompute or test a guessed name; with the same
  key the same id always gives the same pseudonym, so reruns are identical.
- The key comes from the environment variable ``CAE_IMPACT_KEY`` (hex),
  else from ``config.KEY_FILE`` (default ``~/.config/cae-impact/pseudonym.key``,
  overridable by ``CAE_IMPACT_KEY_FILE``), created with 0600 permissions on
  first use. It is never written inside the repository or next to data.
- Free text (codebook ``drop: true``, e.g. ``commentaire``) is dropped; the
  birth year becomes an age band at entry (codebook ``age.bands`` and
  ``codes.tranche_age``); any other ``personal`` column is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from pathlib import Path

import pandas as pd

from analysis.intake import codebook as cbk
from analysis import config

PREFIX = "p_"
HEX_DIGITS = 16
KEY_ENV = "CAE_IMPACT_KEY"
MIN_KEY_BYTES = 16


class KeyProblem(ValueError):
    """The pseudonymisation key is unusable (message in French)."""


def load_or_create_key(key_file: Path | str | None = None) -> bytes:
    """Return the pseudonymisation key.

    Order: ``$CAE_IMPACT_KEY`` (hex, at least 16 bytes) wins; else the key
    file (``key_file`` or :data:`analysis.config.KEY_FILE`) is read; if it
    does not exist, 32 random bytes (``secrets.token_bytes``) are written to
    it as hex with permissions 0600 (its folder 0700).
    """
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        return _parse_hex(env, f"la variable d'environnement {KEY_ENV}")
    path = Path(key_file or config.KEY_FILE).expanduser()
    if path.exists():
        return _parse_hex(path.read_text(encoding="ascii", errors="replace").strip(), f"le fichier de clé {path}")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # created meanwhile by a parallel run: use theirs
        return _parse_hex(path.read_text(encoding="ascii").strip(), f"le fichier de clé {path}")
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex() + "\n")
    return key


def _parse_hex(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyProblem(f"La clé de pseudonymisation donnée par {where} n'est pas en hexadécimal.") from None
    if len(key) < MIN_KEY_BYTES:
        raise KeyProblem(f"La clé de pseudonymisation donnée par {where} est trop courte (au moins {MIN_KEY_BYTES} octets, soit {2 * MIN_KEY_BYTES} caractères hexadécimaux).")
    return key


def canonical_id(value: str) -> str:
    """The form of an id that is hashed: Unicode NFC, inner whitespace
    collapsed, ends stripped (so ``"Jean  Dupont "`` and ``"Jean Dupont"``
    are the same person; case is kept)."""
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def pseudonym(value: str, key: bytes) -> str:
    """``p_`` + first 16 hex digits of HMAC-SHA256(key, canonical id in UTF-8)."""
    digest = hmac.new(key, canonical_id(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return PREFIX + digest[:HEX_DIGITS]


def pseudonymise(ids: pd.Series, key: bytes) -> pd.Series:
    """Replace every id by its keyed pseudonym (:func:`pseudonym`); missing stays NA.
    Returns a ``string`` Series with the same index."""
    out = [pd.NA if pd.isna(v) else pseudonym(v, key) for v in ids]
    return pd.Series(out, index=ids.index, dtype="string", name=ids.name)


def age_band(birth_year: pd.Series, entry_date: pd.Series, codebook: dict | None = None) -> pd.Series:
    """Age band at entry: age = year of entry − birth year (only the year is
    known), placed in the codebook's ``age.bands`` (inclusive lower bounds)
    and labelled with the codes of ``codes.tranche_age`` in order.
    Missing birth year or entry date gives NA."""
    cb = codebook or cbk.load_codebook()
    bounds = list(cb["age"]["bands"])
    labels = [str(c) for c in cb["codes"]["tranche_age"]]
    age = entry_date.dt.year.astype("Float64") - birth_year.astype("Float64")
    bins = bounds + [float("inf")]
    cut = pd.cut(age.astype("float64"), bins=bins, right=False, labels=labels)
    return pd.Series(cut.astype(object), index=birth_year.index).astype("string")


def pseudonymise_table(frame: pd.DataFrame, table: str, key: bytes, codebook: dict | None = None) -> pd.DataFrame:
    """Apply PROTOCOL §4 to one typed table (driven by the codebook):
    ``personal`` text columns are pseudonymised, ``annee_naissance`` becomes
    ``tranche_age`` (inserted in its place), other ``personal`` and ``drop``
    columns are removed."""
    cb = codebook or cbk.load_codebook()
    specs = cbk.columns(table, cb)
    out = {}
    for col in frame.columns:
        spec = specs.get(col, {})
        if spec.get("drop"):
            continue
        if spec.get("personal"):
            if spec.get("type") == "text":
                out[col] = pseudonymise(frame[col], key)
            elif col == "annee_naissance" and "date_entree" in frame:
                out["tranche_age"] = age_band(frame[col], frame["date_entree"], cb)
            continue
        out[col] = frame[col]
    return pd.DataFrame(out, index=frame.index)
