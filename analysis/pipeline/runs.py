"""Saved runs, keyed by the method's content fingerprint.

A successful run copies the result tables that ``cae-impact compare`` reads
(aggregates only: no per-person table) and the methodology files it used to
``<out>/runs/<fingerprint>/``::

    runs/<fingerprint>/run.json          method versions and sha256, data fingerprints, date, CAEs
    runs/<fingerprint>/methodology/*.yml the method as it was
    runs/<fingerprint>/tables/<cae>/<table>.parquet   (and tables/national/)

so that the last runs can be compared without recomputing, and so that a
method file whose content changed while its hand-typed ``version`` did not
is noticed (:func:`version_alerts`): the version cannot lie.

The fingerprint is sha256 over the (file name, content sha256) pairs of the
methodology files (:func:`analysis.method.loader.versions`), its first 16
hex digits naming the folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from analysis.method import loader

#: Result tables kept with a run (what ``compare`` compares); per-person
#: tables (``qvt_scores``) are never copied.
SAVED_TABLES = (
    "indicateurs",
    "sroi_carte_valeur",
    "sroi_parties_prenantes",
    "sroi_resume",
    "sroi_monte_carlo",
    "qvt_dimensions",
    "qvt_who5",
)
RUNS = "runs"
NATIONAL = "national"


def method_record(methodology_dir: Path | None = None) -> dict:
    """{"empreinte": fingerprint, "fichiers": loader.versions(...)}."""
    v = loader.versions(methodology_dir)
    return {"empreinte": method_fingerprint(v), "fichiers": v}


def method_fingerprint(versions: dict) -> str:
    """First 16 hex digits of sha256 over sorted ``file:sha256`` lines."""
    lines = sorted(f"{v['file']}:{v['sha256']}" for v in versions.values())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def runs_dir(out_dir: Path) -> Path:
    return Path(out_dir) / RUNS


def list_runs(out_dir: Path) -> list[dict]:
    """Saved runs, most recent first: each run.json with its ``path``."""
    out = []
    for p in runs_dir(out_dir).glob("*/run.json"):
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except ValueError:
            continue
        rec["path"] = str(p.parent)
        out.append(rec)
    return sorted(out, key=lambda r: r.get("time", 0), reverse=True)


def find_run(out_dir: Path, ident: str) -> dict | None:
    """The saved run whose fingerprint starts with ``ident``."""
    hits = [r for r in list_runs(out_dir) if r["empreinte"].startswith(ident)]
    return hits[0] if len(hits) == 1 else None


def version_alerts(methodology_dir: Path | None, out_dir: Path) -> list[dict]:
    """Methodology files whose content differs from a saved run's while their
    ``version`` is the same: [{"file", "version", "sha256", "sha256_avant",
    "message"}] (French message). One alert per file."""
    now = loader.versions(methodology_dir)
    alerts: dict[str, dict] = {}
    for rec in list_runs(out_dir):
        for name, old in rec.get("methode", {}).get("fichiers", {}).items():
            cur = now.get(name)
            if cur is None or name in alerts:
                continue
            if cur["version"] == old["version"] and cur["sha256"] != old["sha256"]:
                alerts[name] = {
                    "file": cur["file"],
                    "version": cur["version"],
                    "sha256": cur["sha256"],
                    "sha256_avant": old["sha256"],
                    "message": (
                        f"methodology/{cur['file']} : contenu modifié sans changement de version "
                        f"(version {cur['version']} ; empreinte {old['sha256'][:12]}… lors d'une exécution précédente, "
                        f"{cur['sha256'][:12]}… maintenant). Changez « version » dans ce fichier."
                    ),
                }
    return list(alerts.values())


def save_run(
    out_dir: Path,
    processed_dir: Path,
    caes: list[str],
    methodology_dir: Path | None = None,
    national: bool = True,
    data: dict[str, str] | None = None,
) -> Path:
    """Copy the :data:`SAVED_TABLES` of ``caes`` (and the national tables)
    and the methodology files to ``<out>/runs/<fingerprint>/``; a run of a
    subset of CAEs updates those CAEs and keeps the others. Return the folder."""
    rec = method_record(methodology_dir)
    dest = runs_dir(out_dir) / rec["empreinte"]
    meth = dest / "methodology"
    meth.mkdir(parents=True, exist_ok=True)
    for name, v in rec["fichiers"].items():
        shutil.copy2(loader.path_of(name, methodology_dir), meth / v["file"])
    sources = {c: Path(processed_dir) / c for c in caes}
    if national:
        sources[NATIONAL] = Path(processed_dir) / "_national"
    names = {}
    for unit, src in sources.items():
        (dest / "tables" / unit).mkdir(parents=True, exist_ok=True)
        for t in SAVED_TABLES:
            f = src / f"{t}.parquet"
            if f.exists():
                shutil.copy2(f, dest / "tables" / unit / f.name)
            else:
                (dest / "tables" / unit / f.name).unlink(missing_ok=True)
        if unit != NATIONAL:
            try:
                names[unit] = json.loads((src / "cae.json").read_text(encoding="utf-8")).get("nom", unit)
            except (FileNotFoundError, ValueError):
                names[unit] = unit
    old = {}
    if (dest / "run.json").exists():
        old = json.loads((dest / "run.json").read_text(encoding="utf-8"))
    record = {
        "empreinte": rec["empreinte"],
        "methode": rec,
        "time": time.time(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "caes": sorted(set(old.get("caes", [])) | set(caes)),
        "noms": {**old.get("noms", {}), **names},
        "national": national or old.get("national", False),
        "donnees": {**old.get("donnees", {}), **(data or {})},
    }
    (dest / "run.json").write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    return dest


def refresh_manifest_method(processed_cae: Path, methodology_dir: Path | None = None) -> None:
    """Record in ``manifest.json`` the methodology the CAE's results now
    follow, when intake is not rerun (a change to sroi.yml reruns SROI only,
    so the versions written at intake would otherwise be stale)."""
    p = Path(processed_cae) / "manifest.json"
    if not p.exists():
        return
    m = json.loads(p.read_text(encoding="utf-8"))
    now = loader.versions(methodology_dir)
    if m.get("methodology") != now:
        m["methodology"] = now
        p.write_text(json.dumps(m, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
