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
import json
import os
import secrets
import unicodedata
from pathlib import Path

import pandas as pd

from analysis.intake import codebook as cbk

from analysis import config


def _structures() -> str:
    """The profile's plural noun for the structures (« CAE », « tiers-lieux »)."""
    from analysis.method import profile as profiles

    return profiles.current().term("structure.pluriel")


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


def key_fingerprint(key: bytes) -> str:
    """A short value identifying the key without revealing it:
    HMAC-SHA256(key, "cae-impact key check"), first 8 hex digits (the
    manifest's ``pseudonymisation.key_check``)."""
    return hmac.new(key, b"cae-impact key check", hashlib.sha256).hexdigest()[:8]


def processed_key_fingerprints(processed_dir: Path | str) -> dict[str, str]:
    """``{cae: key fingerprint}`` of the processed data under ``processed_dir``
    (from each ``<cae>/manifest.json``; unreadable manifests are skipped)."""
    out = {}
    root = Path(processed_dir)
    if not root.is_dir():
        return out
    for m in sorted(root.glob("*/manifest.json")):
        try:
            kc = json.loads(m.read_text(encoding="utf-8")).get("pseudonymisation", {}).get("key_check")
        except (OSError, ValueError, AttributeError):
            continue
        if kc:
            out[m.parent.name] = str(kc)
    return out


def resolve_key(processed_dir: Path | str, new_key: bool = False, key_file: Path | str | None = None) -> bytes:
    """The key for a run, refusing a silent change of key.

    Without ``new_key`` (CLI ``--nouvelle-cle``), when processed data made
    with another key exist under ``processed_dir`` (their manifests' key
    fingerprints, :func:`key_fingerprint`), a run stops with a French
    :class:`KeyProblem` instead of creating a key (missing key file) or using
    a different one: every pseudonym would change and year-to-year linkage
    would break. With ``new_key`` the key file may be created and the
    change is accepted."""
    env = os.environ.get(KEY_ENV, "").strip()
    path = Path(key_file or config.KEY_FILE).expanduser()
    known = processed_key_fingerprints(processed_dir)
    if not env and not path.exists() and known and not new_key:
        raise KeyProblem(
            f"aucune clé de pseudonymisation n'a été trouvée ({path} absent, {KEY_ENV} non définie), alors que des données "
            f"traitées existent dans {processed_dir} ({len(known)} {_structures()}, clé de contrôle {', '.join(sorted(set(known.values())))}). "
            "Créer une nouvelle clé changerait tous les pseudonymes et couperait le lien avec les années précédentes. "
            f"Restaurez le fichier de clé (ou donnez la clé dans {KEY_ENV}) ; pour changer de clé volontairement, relancez avec --nouvelle-cle.")
    key = load_or_create_key(key_file)
    fp = key_fingerprint(key)
    other = sorted(c for c, kc in known.items() if kc != fp)
    if other and not new_key:
        shown = ", ".join(other[:5]) + (" …" if len(other) > 5 else "")
        raise KeyProblem(
            f"la clé de pseudonymisation (contrôle {fp}) n'est pas celle des données traitées de {len(other)} {_structures()} ({shown}, "
            f"contrôle {', '.join(sorted({known[c] for c in other}))}). L'utiliser changerait leurs pseudonymes. "
            f"Reprenez la clé d'origine (fichier {path} ou variable {KEY_ENV}) ; pour changer de clé volontairement, relancez avec --nouvelle-cle.")
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
