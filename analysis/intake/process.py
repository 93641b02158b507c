"""Intake: the door every CAE's data comes through (PROTOCOL §2, §4, §5).

``data/raw/<cae>/`` → read (:mod:`analysis.intake.reading`) → validate, every
problem at once (:mod:`analysis.intake.validation`) → pseudonymise
(:mod:`analysis.intake.pseudonymise`) → ``data/processed/<cae>/``:

- ``entrepreneurs.parquet``, ``activite.parquet``, ``questionnaire.parquet``
  (when there is a survey): typed tables, see :mod:`analysis.intake.processed`;
- ``cae.json``: the checked ``cae.yml`` plus ``slug``;
- ``manifest.json``: provenance. Keys: ``cae``; ``files`` (per raw file:
  ``table``, ``source`` ("protocole" or "enDI"), ``sha256``, ``rows``,
  ``format``, ``encoding``, ``separator``, ``sheet``); ``tables`` (per
  table: ``file``, ``rows_in``, ``rows_out``, ``columns``);
  ``codebook_version``; ``methodology`` (:func:`analysis.method.loader.versions`);
  ``package_version``; ``run_time_utc``; ``raw_fingerprint``;
  ``pseudonymisation`` (method and a key check value, never the key);
  ``warnings`` (the warnings as dicts, personal values masked).

Every run writes ``<out>/<cae>/validation.html`` and ``validation.csv``
(French), also when there is no problem. A CAE with an error writes nothing
under ``processed/<cae>/``: output is built in a temporary folder next to it
and swapped in only when complete, so a previous good output survives.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis import __version__, config
from analysis.intake import codebook as cbk
from analysis.method import loader as methodology
from analysis.publication.escape import csv_frame
from analysis.publication.formatting import fr_number
from analysis.intake.problems import Problem, ProblemList
from analysis.intake.pseudonymise import KEY_ENV, KeyProblem, key_fingerprint, pseudonymise_table, resolve_key
from analysis.intake.reading import TABLE_SUFFIXES, read_table_file
from analysis.intake.validation import TypedTable, read_description, type_table, validate_typed
from analysis.method import profile as profiles
SUMMARY_LINES = 10



class IntakeError(RuntimeError):
    """A CAE's data has errors; the message is the French summary."""


@dataclass
class IntakeResult:
    ok: bool
    problems: ProblemList
    manifest: dict | None
    summary_fr: str


@dataclass
class FolderData:
    """Everything read from one CAE folder, before pseudonymisation."""

    folder: Path
    info: dict | None = None
    tables: dict[str, TypedTable] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)  # file name -> read info
    problems: ProblemList = field(default_factory=ProblemList)


# ---------------------------------------------------------------------------
# Reading a folder
# ---------------------------------------------------------------------------


def _input_files(folder: Path) -> list[Path]:
    """Regular files of the folder that may be inputs (no hidden files, no
    spreadsheet lock files ``~$…``, no symbolic link leading out of the
    folder: see :func:`escaping_links`)."""
    if not folder.is_dir():
        return []
    outside = set(escaping_links(folder))
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith((".", "~$")) and p not in outside)


def escaping_links(folder: Path) -> list[Path]:
    """Symbolic links of ``folder`` whose target is outside it (or broken):
    never read (a link named ``questionnaire.csv`` to ``/etc/passwd`` would
    publish that file's first line)."""
    folder = Path(folder)
    root = folder.resolve()
    out = []
    for p in folder.iterdir():
        if p.is_symlink():
            try:
                target = p.resolve(strict=True)
            except (OSError, RuntimeError):
                out.append(p)
                continue
            if not target.is_relative_to(root):
                out.append(p)
    return sorted(out)


def find_table_files(folder: Path, codebook: dict | None = None) -> tuple[dict[str, list[Path]], list[Path]]:
    """Table files of a CAE folder: a file belongs to table ``t`` when its
    name without extension is ``t`` or the table's label (case and accents
    ignored). Returns ``({table: [paths]}, other table-like files)``."""
    cb = codebook or cbk.load_codebook()
    names = {}
    for t, spec in cb["tables"].items():
        names[cbk.normalize_name(t)] = t
        names[cbk.normalize_name(spec.get("label", t))] = t
    found: dict[str, list[Path]] = {}
    others: list[Path] = []
    for p in _input_files(folder):
        if p.suffix.lower() not in TABLE_SUFFIXES:
            continue
        t = names.get(cbk.normalize_name(p.stem))
        if t is None:
            others.append(p)
        else:
            found.setdefault(t, []).append(p)
    return found, others


def _endi_convert(folder: Path):
    """Call ``analysis.intake.endi.convert_folder`` when that adapter exists;
    returns (EndiResult | None, problems)."""
    try:
        from analysis.intake import endi  # noqa: PLC0415 - optional adapter
        convert = endi.convert_folder
    except (ImportError, AttributeError):
        return None, []
    try:
        return convert(folder), []
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        return None, [Problem("export enDI", f"La conversion de l'export enDI a échoué ({type(exc).__name__}).",
                              "Déposez plutôt les tables au format des modèles (cae-impact templates).")]


def load_folder(folder: Path | str, codebook: dict | None = None, progress=None) -> FolderData:
    """Read and validate one CAE folder: ``cae.yml``, every table file (and
    an enDI export for a required table that has no protocol file), types,
    schema, cross-table rules. Collects every problem; never raises on bad
    input. ``progress(file name, rows read)`` is called while large tables
    are read."""
    cb = codebook or cbk.load_codebook()
    folder = Path(folder)
    fd = FolderData(folder)
    prof = profiles.current()
    where = f"dossier {prof.term('structure.du')}"
    links = escaping_links(folder) if folder.is_dir() else []
    if links:  # counted, not named: a file name can be personal data
        fd.problems.add(Problem(
            where, f"{len(links)} lien(s) symbolique(s) vers un fichier hors du {where} : refusé(s), non lu(s).",
            f"Copiez les fichiers eux-mêmes dans le {where} au lieu de liens symboliques."))
    yml = folder / prof.description_file
    if not yml.exists() and yml.with_suffix(".yaml").exists():
        yml = yml.with_suffix(".yaml")
    if yml in links:
        yml = folder / f".{prof.description_file}.refuse"  # reported above; read as absent
    fd.info, probs = read_description(yml, cb)
    fd.problems.extend(probs)
    if yml.exists():  # the SROI inputs live here: its checksum belongs to the provenance
        fd.files[yml.name] = {"table": prof.description_table, "source": "protocole", "format": "YAML", "sha256": hashlib.sha256(yml.read_bytes()).hexdigest()}

    found, others = find_table_files(folder, cb)
    raw_frames: dict[str, tuple[pd.DataFrame, str, bool]] = {}
    for table, paths in found.items():
        if len(paths) > 1:
            fd.problems.add(Problem(
                " et ".join(p.name for p in paths), f"La table « {table} » est fournie deux fois ({', '.join(p.name for p in paths)}).",
                "Gardez un seul fichier par table (supprimez ou renommez l'autre)."))
            continue
        p = paths[0]
        res = read_table_file(p, table, cb["tables"][table].get("label"), cb["limites"],
                              progress=(lambda n, _name=p.name: progress(_name, n)) if progress else None)
        fd.problems.extend(res.problems)
        fd.files[p.name] = {"table": table, "source": "protocole", **res.info}
        if res.frame is not None and len(res.frame) == 0:
            required = cb["tables"][table].get("required")
            fd.problems.add(Problem(
                p.name, "Le fichier ne contient que la ligne d'en-tête, aucune ligne de données." + ("" if required else " La table est ignorée."),
                "Ajoutez les données sous la ligne d'en-tête." if required else "Complétez le fichier ou retirez-le du dossier.",
                gravite="erreur" if required else "avertissement"))
            continue
        if res.frame is not None:
            raw_frames[table] = (res.frame, p.name, res.info.get("format") == "xlsx")

    missing_required = [t for t, s in cb["tables"].items() if s.get("required") and t not in found]
    endi_sources: set[str] = set()
    endi_rows: dict[str, tuple[str, pd.Index, list, list]] = {}
    if missing_required and "endi" in (prof.get("fichiers.adaptateurs") or []):
        er, probs = _endi_convert(folder)
        fd.problems.extend(probs)
        if er is not None:
            fd.problems.extend(getattr(er, "problems", []) or [])
            read_info = getattr(er, "read_info", {}) or {}
            table_of: dict[str, str] = {}
            for table, frame in (getattr(er, "tables", {}) or {}).items():
                if table in found or table not in cb["tables"]:
                    continue
                src = (getattr(er, "sources", {}) or {}).get(table, "export enDI")
                raw_frames[table] = (frame, src, False)
                for name in src.split(", "):
                    table_of[name] = table
                rf, rl = (getattr(er, "row_files", {}) or {}).get(table), (getattr(er, "row_lines", {}) or {}).get(table)
                if rf and rl and len(rf) == len(rl) == len(frame):
                    endi_rows[table] = (src, frame.index, list(rf), list(rl))
            endi_sources |= set(read_info) | set(table_of)
            for name in sorted(set(read_info) | set(table_of)):
                fd.files[name] = {"table": table_of.get(name), "source": "enDI", **read_info.get(name, {})}
    for t in missing_required:
        if t not in raw_frames and t not in found:
            fd.problems.add(Problem(
                f"{t}.csv", f"Fichier obligatoire absent : la table « {t} » ({cb['tables'][t].get('label', t)}) est introuvable.",
                f"Déposez un fichier « {t}.csv » ou « {t}.xlsx » dans le dossier {prof.term('structure.du')} (voir les modèles : cae-impact templates)."))
    unrecognised = [p for p in others if p.name not in endi_sources]
    if unrecognised:  # counted, not named: a file name can be personal data
        kinds = sorted({p.suffix.lower() for p in unrecognised})
        fd.problems.add(Problem(
            where, f"{len(unrecognised)} fichier(s) non reconnu(s) ({', '.join(kinds)}) : ignoré(s) (leur nom n'est pas recopié ici).",
            "Nommez les fichiers comme les tables : " + ", ".join(f"{t}.csv ou {t}.xlsx" for t in cb["tables"]) + ".",
            gravite="avertissement"))

    for table in [t for t in cb["tables"] if t in raw_frames]:  # codebook order
        frame, fichier, excel = raw_frames[table]
        tt, probs = type_table(frame, table, fichier, cb, excel=excel)
        fd.problems.extend(probs)
        fd.tables[table] = tt
    fd.problems.extend(validate_typed(fd.tables, fd.info, cb))
    if endi_rows:
        fd.problems.items = [_endi_origin(p, endi_rows) for p in fd.problems.items]
    fd.problems.items.sort(key=lambda p: (not p.is_error, p.fichier, p.ligne or 0))
    return fd


def _endi_origin(p: Problem, endi_rows: dict) -> Problem:
    """Point a problem on an enDI-converted table back to the enDI file and
    line the row came from (``EndiResult.row_files``/``row_lines``)."""
    for src, index, files, lines in endi_rows.values():
        if p.fichier == src and p.ligne is not None and p.ligne in index:
            k = index.get_loc(p.ligne)
            if isinstance(k, int):
                return dataclasses.replace(p, fichier=files[k], ligne=int(lines[k]))
    return p


def validate_dir(path: Path | str, progress=None) -> ProblemList:
    """Validate one CAE folder without writing anything (``cae-impact validate``);
    ``progress(file name, rows read)`` after each block of a large table."""
    return load_folder(path, progress=progress).problems


def raw_fingerprint(cae_raw_dir: Path | str) -> str:
    """sha256 over the folder's input files: for each file in name order,
    its name, a NUL, its sha256, a newline. Changes when any input changes."""
    h = hashlib.sha256()
    for p in _input_files(Path(cae_raw_dir)):
        h.update(p.name.encode("utf-8") + b"\0" + hashlib.sha256(p.read_bytes()).hexdigest().encode() + b"\n")
    return h.hexdigest()


# ---------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------

PROBLEM_COLUMNS = {"gravite": "Gravité", "fichier": "Fichier", "ligne": "Ligne", "colonne": "Colonne", "valeur": "Valeur", "message": "Problème", "correction": "Correction"}


def problems_frame(problems) -> pd.DataFrame:
    """Problems as a French table (columns of :data:`PROBLEM_COLUMNS`)."""
    rows = [p.as_dict() for p in problems]
    df = pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS))
    df["ligne"] = df["ligne"].astype("Int64")
    return df.rename(columns=PROBLEM_COLUMNS)


def grouped_lines(problems) -> list[str]:
    """One French line per problem, except that problems repeating the same
    message on the same file and column are merged into one line listing
    their spreadsheet lines (the console stays readable)."""
    groups: dict[tuple, list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.gravite, p.fichier, p.colonne, p.message, p.correction), []).append(p)
    out = []
    for (grav, fichier, colonne, message, correction), items in groups.items():
        if len(items) == 1:
            out.append(str(items[0]))
            continue
        lines = [str(p.ligne) for p in items if p.ligne is not None]
        shown = ", ".join(lines[:8]) + (", …" if len(lines) > 8 else "")
        where = fichier + (f", colonne « {colonne} »" if colonne else "")
        fix = f" → {correction}" if correction else ""
        out.append(f"[{grav}] {where} : {message} ({len(items)} lignes : {shown}){fix}")
    return out


def summary_text(cae: str, problems: ProblemList, limit: int = SUMMARY_LINES) -> str:
    """Short French console summary: counts, then the first ``limit`` problems
    (repeats of one message on one column merged, :func:`grouped_lines`)."""
    ne, nw = len(problems.errors), len(problems.warnings)
    prof = profiles.current()
    who = prof.term("structure.majuscule")
    if not ne and not nw:
        return f"{who} « {cae} » : aucun problème."
    head = f"{who} « {cae} » : {ne} erreur{'s' if ne > 1 else ''}, {nw} avertissement{'s' if nw > 1 else ''}."
    if ne:
        head += f" Les erreurs empêchent le traitement de {prof.term('structure.ce')}."
    lines = grouped_lines(problems)
    out = [head] + [f"  {x}" for x in lines[:limit]]
    if len(lines) > limit:
        out.append(f"  … et {len(lines) - limit} autre(s) : voir validation.html.")
    return "\n".join(out)


def write_validation_report(cae: str, problems: ProblemList, out_cae_dir: Path, info: dict | None = None) -> tuple[Path, Path]:
    """Write ``validation.html`` (Jinja2 template ``templates/validation.html.j2``)
    and ``validation.csv`` (``;``, UTF-8 with BOM) in ``out_cae_dir``."""
    import jinja2

    out_cae_dir = Path(out_cae_dir)
    out_cae_dir.mkdir(parents=True, exist_ok=True)
    df = problems_frame(problems)
    csv_path = out_cae_dir / "validation.csv"
    buf = io.StringIO()
    if df.empty:
        buf.write(";".join(PROBLEM_COLUMNS.values()) + "\n")
        buf.write("aucun problème" + ";" * (len(PROBLEM_COLUMNS) - 1) + "\n")
    else:
        csv_frame(df).to_csv(buf, sep=";", index=False, quoting=csv.QUOTE_MINIMAL)
    csv_path.write_text(buf.getvalue(), encoding="utf-8-sig")

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(config.TEMPLATES_DIR)),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    html = env.get_template("validation.html.j2").render(
        cae=cae, nom=(info or {}).get("nom", cae), errors=problems.errors, warnings=problems.warnings,
        date=dt.datetime.now().strftime("%d/%m/%Y %H:%M"),
    )
    html_path = out_cae_dir / "validation.html"
    html_path.write_text(html, encoding="utf-8")
    return html_path, csv_path


# ---------------------------------------------------------------------------
# Processing
# ---------------------------------------------------------------------------


def key_check_value(key: bytes) -> str:
    """The key's fingerprint (:func:`analysis.intake.pseudonymise.key_fingerprint`), never the key."""
    return key_fingerprint(key)


def _manifest(cae: str, fd: FolderData, out_tables: dict[str, pd.DataFrame], fingerprint: str, key: bytes) -> dict:
    cb_versions = methodology.versions()
    return {
        "cae": cae,
        "files": fd.files,
        "tables": {
            t: {"file": fd.tables[t].fichier, "rows_in": fd.tables[t].rows, "rows_out": int(len(df)), "columns": list(df.columns)}
            for t, df in out_tables.items()
        },
        "codebook_version": str(cbk.load_codebook().get("version", "?")),
        "methodology": cb_versions,
        "package_version": __version__,
        "run_time_utc": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "raw_fingerprint": fingerprint,
        "pseudonymisation": {"method": "HMAC-SHA256, 16 premiers chiffres hexadécimaux, préfixe p_", "key_check": key_check_value(key)},
        "warnings": [p.as_dict() for p in fd.problems.warnings],
    }


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def clean_stale_temporaries(processed_dir: Path, cae: str) -> list[Path]:
    """Remove what a process killed mid-write left next to
    ``processed_dir/cae`` (a CAE's processed or output folder): intake's
    ``.<cae>.tmp-<pid>-*`` build folders and the ``.<cae>.old-<pid>-*``
    folders moved aside by :func:`_swap_in`, when the process ``<pid>`` that
    made them is gone (a concurrent run's are kept).
    Folders without a readable pid (older versions) are removed. Returns the
    paths removed."""
    removed = []
    for kind in ("tmp", "old"):
        for p in Path(processed_dir).glob(f".{cae}.{kind}-*"):
            head = p.name[len(f".{cae}.{kind}-"):].split("-", 1)[0]
            if head.isdigit() and _pid_alive(int(head)):
                continue
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace ``final`` by ``tmp`` with renames only (the old folder is
    moved aside first, then deleted), so ``final`` is never half-written.
    What a killed earlier swap or intake of the same folder left next to it
    is removed first (:func:`clean_stale_temporaries`)."""
    clean_stale_temporaries(final.parent, final.name)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{dt.datetime.now().strftime('%H%M%S%f')}")
        os.replace(final, old)
    try:
        os.replace(tmp, final)
    except OSError:
        if old is not None:
            os.replace(old, final)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def process_cae(cae: str, raw_dir, processed_dir, out_dir, key: bytes | None = None, new_key: bool = False,
                progress=None) -> IntakeResult:
    """Read, validate and pseudonymise ``raw_dir/cae/``; always write the
    French validation report in ``out_dir/cae/``; when there is no error,
    write ``processed_dir/cae/`` atomically (see module docstring). Without
    ``key``, the key comes from :func:`~analysis.intake.pseudonymise.resolve_key`
    (a silent change of key stops the CAE; ``new_key`` accepts it)."""
    raw_dir = Path(raw_dir or config.RAW_DIR)
    processed_dir = Path(processed_dir or config.PROCESSED_DIR)
    out_dir = Path(out_dir or config.OUT_DIR)
    if processed_dir.is_dir():  # what a killed intake of this CAE left behind
        clean_stale_temporaries(processed_dir, cae)
    folder = raw_dir / cae
    if not folder.is_dir():
        fd = FolderData(folder)
        prof = profiles.current()
        fd.problems.add(Problem(cae, f"Dossier {prof.term('structure.du')} introuvable : {folder}.", f"Créez le dossier {folder} et déposez-y {prof.description_file} et les tables."))
    else:
        fd = load_folder(folder, progress=progress)
    problems = fd.problems
    write_validation_report(cae, problems, out_dir / cae, fd.info)
    summary = summary_text(cae, problems)
    if problems.errors:
        return IntakeResult(False, problems, None, summary)

    if key is None:
        try:
            key = resolve_key(processed_dir, new_key=new_key)
        except (KeyProblem, OSError) as exc:
            problems.add(Problem("clé de pseudonymisation", f"La clé de pseudonymisation est inutilisable : {exc}",
                                 f"Corrigez la variable d'environnement {KEY_ENV} (64 caractères hexadécimaux) ou le fichier {config.KEY_FILE}."))
            write_validation_report(cae, problems, out_dir / cae, fd.info)
            return IntakeResult(False, problems, None, summary_text(cae, problems))
    cb = cbk.load_codebook()
    out_tables = {t: pseudonymise_table(tt.frame, t, key, cb).reset_index(drop=True) for t, tt in fd.tables.items()}
    people = profiles.current().people_table
    ids = out_tables[people]["id"]
    if ids.duplicated().any():  # 64-bit pseudonyms: a collision is ~1e-12 for 10^4 people
        problems.add(Problem(fd.tables[people].fichier, "Deux identifiants différents ont reçu le même pseudonyme.", "Signalez-le à l'équipe du projet (changer de clé règle le problème)."))
        return IntakeResult(False, problems, None, summary_text(cae, problems))
    manifest = _manifest(cae, fd, out_tables, raw_fingerprint(folder), key)
    processed_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cae}.tmp-{os.getpid()}-", dir=processed_dir))
    try:
        for t, df in out_tables.items():
            df.to_parquet(tmp / f"{t}.parquet", index=False)
        (tmp / profiles.current().processed_description).write_text(json.dumps({**fd.info, "slug": cae}, ensure_ascii=False, indent=2), encoding="utf-8")
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        _swap_in(tmp, processed_dir / cae)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return IntakeResult(True, problems, manifest, summary)


def _problems_from_manifest(manifest: dict) -> ProblemList:
    return ProblemList([Problem(**w) for w in manifest.get("warnings", [])])


def is_fresh(cae: str, raw_dir=None, processed_dir=None, key: bytes | None = None) -> bool:
    """True when ``processed/<cae>/manifest.json`` was written from the
    current raw files, codebook, package version (and key, when given)."""
    mpath = Path(processed_dir or config.PROCESSED_DIR) / cae / "manifest.json"
    if not mpath.exists():
        return False
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except ValueError:
        return False
    folder = Path(raw_dir or config.RAW_DIR) / cae
    if folder.is_dir() and m.get("raw_fingerprint") != raw_fingerprint(folder):
        return False
    cb_now = methodology.versions().get("codebook", {}).get("sha256")
    if m.get("methodology", {}).get("codebook", {}).get("sha256") != cb_now or m.get("package_version") != __version__:
        return False
    if key is not None and m.get("pseudonymisation", {}).get("key_check") != key_check_value(key):
        return False
    return True


def ensure_processed(cae: str, raw_dir=None, processed_dir=None, out_dir=None, key: bytes | None = None) -> IntakeResult:
    """Run intake for ``cae`` unless its processed data is up to date
    (:func:`is_fresh`), in which case the recorded manifest and warnings are
    returned. Raises :class:`IntakeError` (French summary) when the CAE's
    data has errors. Empty-string roots mean the project defaults."""
    raw_dir, processed_dir, out_dir = (Path(x) if x else None for x in (raw_dir, processed_dir, out_dir))
    if is_fresh(cae, raw_dir, processed_dir, key):
        m = json.loads((Path(processed_dir or config.PROCESSED_DIR) / cae / "manifest.json").read_text(encoding="utf-8"))
        probs = _problems_from_manifest(m)
        return IntakeResult(True, probs, m, summary_text(cae, probs))
    res = process_cae(cae, raw_dir, processed_dir, out_dir, key)
    if not res.ok:
        raise IntakeError(res.summary_fr)
    return res


# ---------------------------------------------------------------------------
# Display tables for the cleaning notebook
# ---------------------------------------------------------------------------

SEPARATORS_FR = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}
ENCODINGS_FR = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 avec BOM", "cp1252": "Windows-1252", "utf-16": "UTF-16"}


def files_table(manifest: dict) -> pd.DataFrame:
    """Files read and how (French headers)."""
    rows = []
    for name, f in manifest.get("files", {}).items():
        fmt = f.get("format", "")
        how = f"XLSX, feuille « {f.get('sheet')} »" if fmt == "xlsx" else (
            f"CSV, {ENCODINGS_FR.get(f.get('encoding'), f.get('encoding', '?'))}, séparateur {SEPARATORS_FR.get(f.get('separator'), f.get('separator', '?'))}" if fmt == "csv" else fmt or "?")
        rows.append({"Fichier": name, "Table": f.get("table") or "–", "Origine": f.get("source", ""), "Lecture": how,
                     "Lignes": fr_number(f["rows"]) if f.get("rows") is not None else "–",
                     "Empreinte SHA-256": (f.get("sha256") or "")[:12] + "…"})
    return pd.DataFrame(rows, columns=["Fichier", "Table", "Origine", "Lecture", "Lignes", "Empreinte SHA-256"])


def rows_table(manifest: dict) -> pd.DataFrame:
    """Rows read and written per table."""
    cb = cbk.load_codebook()
    rows = [{"Table": cb["tables"].get(t, {}).get("label", t), "Fichier": v.get("file"), "Lignes lues": v.get("rows_in"),
             "Lignes écrites": v.get("rows_out"), "Colonnes écrites": len(v.get("columns", []))}
            for t, v in manifest.get("tables", {}).items()]
    return pd.DataFrame(rows, columns=["Table", "Fichier", "Lignes lues", "Lignes écrites", "Colonnes écrites"])


def missing_table(cae: str, processed_dir=None) -> pd.DataFrame:
    """Share of missing values per column of each processed table, as it may
    be published (columns ``table``, ``colonne``, ``part_manquante`` in
    [0, 1], ``suppressed``, ``suppression``).

    A share times the table's published row count gives back the number of
    people without the value, and its complement those with it (the exits
    behind a leaving date): each share goes through
    :func:`analysis.publication.suppression.publish` with the missing count
    as its count and the table's rows as its base, so that it is hidden
    (NA, with the rule in ``suppression``) when the missing or the given
    values are a small count (rules 1 and 3) or the table has too few rows
    for a share (rule 2), by the thresholds of the publication gate
    (PROTOCOL §4)."""
    from analysis.intake.processed import load_cae
    from analysis.publication.suppression import publish

    data = load_cae(cae, processed_dir or None)
    rows = []
    for t in profiles.current().table_order:
        df = data.table(t)
        if df is None or df.empty:
            continue
        for col in df.columns:
            missing = int(df[col].isna().sum())
            rows.append({"table": t, "colonne": col, "n": missing, "denominator": len(df),
                         "part_manquante": missing / len(df)})
    frame = pd.DataFrame(rows, columns=["table", "colonne", "n", "denominator", "part_manquante"])
    out = publish(frame, count_cols="n", denominator_col="denominator", value_cols=["part_manquante"], keep_cols=())
    return out[["table", "colonne", "part_manquante", "suppressed", "suppression"]]


def missing_note(missing: pd.DataFrame, methodology_dir=None) -> str:
    """The French sentence under the missing-values figure: how many shares
    :func:`missing_table` hid and why ('' when none;
    :func:`analysis.publication.suppression.hidden_shares_note_fr`)."""
    from analysis.publication.suppression import hidden_shares_note_fr

    if "suppressed" not in missing.columns:
        return ""
    return hidden_shares_note_fr(int(missing["suppressed"].fillna(False).astype(bool).sum()), methodology_dir)


def pseudonymisation_statement(manifest: dict) -> str:
    """The French statement of what intake did to personal data (PROTOCOL §4)."""
    cb = cbk.load_codebook()
    dropped = sorted({c for t in cb["tables"] for c, s in cbk.columns(t, cb).items() if s.get("drop")})
    pseudo = sorted({c for t in cb["tables"] for c, s in cbk.columns(t, cb).items() if s.get("personal") and s.get("type") == "text"})
    bands = ", ".join(cbk.codes("tranche_age", cb).values())
    return (
        f"Les identifiants ({', '.join(pseudo)}) ont été remplacés par des pseudonymes calculés avec une clé secrète "
        f"(HMAC-SHA256) conservée hors du dépôt (contrôle de clé {manifest.get('pseudonymisation', {}).get('key_check', '?')}) : "
        "la même clé redonne les mêmes pseudonymes, et sans elle on ne peut pas retrouver une personne. "
        f"Le texte libre ({', '.join(dropped)}) a été supprimé dès la lecture. "
        f"L'année de naissance a été remplacée par la tranche d'âge à l'entrée ({bands}). "
        "Aucune donnée nominative ne sort de data/raw."
    )


def cleaning_report(cae: str, raw_dir=None, processed_dir=None, out_dir=None) -> dict:
    """Everything the cleaning notebook shows, computed here so the notebook stays thin:
    ``result`` (:class:`IntakeResult`), ``fichiers``, ``lignes``, ``avertissements``,
    ``manquants`` (DataFrames) and ``pseudonymisation`` (str)."""
    res = ensure_processed(cae, raw_dir, processed_dir, out_dir)
    m = res.manifest or {}
    return {
        "result": res,
        "fichiers": files_table(m),
        "lignes": rows_table(m),
        "avertissements": problems_frame(res.problems.warnings),
        "manquants": missing_table(cae, processed_dir),
        "pseudonymisation": pseudonymisation_statement(m),
    }


def grouped_problems_frame(problems) -> pd.DataFrame:
    """Problems merged as in :func:`grouped_lines`, as a French table:
    Gravité, Fichier, Colonne, Problème, Lignes (count and first lines), Correction."""
    groups: dict[tuple, list[Problem]] = {}
    for p in problems:
        groups.setdefault((p.gravite, p.fichier, p.colonne, p.message, p.correction), []).append(p)
    rows = []
    for (grav, fichier, colonne, message, correction), items in groups.items():
        lines = [str(p.ligne) for p in items if p.ligne is not None]
        shown = ", ".join(lines[:8]) + (", …" if len(lines) > 8 else "")
        rows.append({"Gravité": grav, "Fichier": fichier, "Colonne": colonne or "", "Problème": message,
                     "Lignes": f"{len(lines)} : {shown}" if len(lines) > 1 else shown, "Correction": correction})
    return pd.DataFrame(rows, columns=["Gravité", "Fichier", "Colonne", "Problème", "Lignes", "Correction"])


def provenance_table(manifest: dict) -> pd.DataFrame:
    """Versions and run time recorded in the manifest (PROTOCOL §4: every number can be traced)."""
    rows = [{"Élément": "Logiciel cae-impact", "Version": manifest.get("package_version", "?"), "Empreinte": ""}]
    for name, v in (manifest.get("methodology") or {}).items():
        rows.append({"Élément": f"Méthode : {v.get('file', name)}", "Version": v.get("version", "?"), "Empreinte": (v.get("sha256") or "")[:12] + "…"})
    rows.append({"Élément": "Données brutes (empreinte du dossier)", "Version": "", "Empreinte": (manifest.get("raw_fingerprint") or "")[:12] + "…"})
    t = manifest.get("run_time_utc")
    if t:
        rows.append({"Élément": "Lecture effectuée le (UTC)", "Version": dt.datetime.fromisoformat(t).strftime("%d/%m/%Y %H:%M"), "Empreinte": ""})
    return pd.DataFrame(rows, columns=["Élément", "Version", "Empreinte"])


def cleaning_summary_fr(report: dict, info: dict | None = None) -> str:
    """One French paragraph on what was read (counts from the manifest)."""
    m = report["result"].manifest or {}
    tables = m.get("tables", {})
    prof = profiles.current()
    n_files = sum(1 for f in m.get("files", {}).values() if f.get("table") not in (None, prof.description_table))
    parts = []
    for t in prof.table_order:
        if t in tables:
            n = tables[t]["rows_out"]
            parts.append(f"{fr_number(n)} {prof.count_word(t, n)}")
    if "questionnaire" not in tables:
        parts.append("pas de questionnaire")
    nw = len(report["result"].problems.warnings)
    warn = "aucun avertissement" if nw == 0 else f"{nw} avertissement{'s' if nw > 1 else ''} (voir ci-dessous)"
    return (f"{n_files} fichier{'s' if n_files > 1 else ''} de données {'ont' if n_files > 1 else 'a'} été lu{'s' if n_files > 1 else ''} et contrôlé{'s' if n_files > 1 else ''} : "
            + ", ".join(parts) + f". Aucune erreur ; {warn}.")


def plot_missing(missing: pd.DataFrame, ax=None):
    """Horizontal bars: share of missing values per column, one colour per
    table; a share hidden by :func:`missing_table` gets no bar, only the
    French mark of its rule (:func:`analysis.publication.suppression.mark_fr`)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from analysis.publication.suppression import mark_fr
    from analysis.reporting.plotting import fr_axis

    cb = cbk.load_codebook()
    df = missing.copy()
    df["Table"] = df["table"].map(lambda t: cb["tables"].get(t, {}).get("label", t))
    dup = df["colonne"].duplicated(keep=False)
    df["libelle"] = df["colonne"].where(~dup, df["colonne"] + " (" + df["table"] + ")")
    hidden = df["suppressed"].fillna(False).astype(bool) if "suppressed" in df.columns else pd.Series(False, index=df.index)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, max(3.0, 0.16 * len(df) + 1)))
    sns.barplot(data=df.assign(part_manquante=df["part_manquante"].where(~hidden, 0.0)), y="libelle",
                x="part_manquante", hue="Table", dodge=False, ax=ax)
    for pos, (_, r) in enumerate(df.iterrows()):
        if hidden.loc[r.name]:
            mark = mark_fr(r.get("suppression"), unit="valeurs")
            ax.text(0.005, pos, mark, va="center", ha="left", fontsize=6, color="0.35")
    ax.set_xlim(0, 1)
    ax.legend(title=None, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize=8)
    ax.set_xlabel("Part de valeurs manquantes")
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize=7)
    fr_axis(ax, axis="x", kind="percent", decimals=0)
    return ax
