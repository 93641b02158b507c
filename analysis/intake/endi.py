"""Native enDI exports → protocol tables ``entrepreneurs`` and ``activite``.

enDI (formerly Autonomie, also shipped as CAERP) is the cooperative ERP most
CAEs use. Its "Requêtes statistiques" export, per period, as CSV or XLSX:

- ``porteurs_actifs_periode`` / ``porteurs_accompagnes_periode``: one row
  per entrepreneur, ~70 columns, most of them personal;
- ``ca_porteurs_periode``: turnover per entrepreneur, ``CA TOTAL`` and one
  ``CA <month> <yy>`` column per month (one file per year);
- ``etapes_parcours``: career steps, whose fixed type is in ``Nature``
  ("Entrée CAE", "Contrat de travail", "Avenant contrat de travail",
  "Sortie CAE"), with hourly rate, monthly hours and monthly gross pay;
- ``sorties_periode`` (optional): exits.

This module holds all the enDI *format* knowledge (dialect, duplicate
``-----`` headers, space-padded days, xlsx named ``.xls``); the enDI
*vocabulary* (which columns, step natures, keyword rules proposing protocol
codes) is data in ``methodology/endi.yml``. The labels each CAE configures
itself (education level, social status, zone, zone qualification, exit type
and reason, activity type) are mapped by the CAE's own
``correspondances_endi.yml``, proposed by :func:`write_mapping`.

Personal data: a file's header is read first; only the columns named in
``endi.yml`` (``colonnes``) are kept from each row as it is read, so names,
addresses, phones, e-mails, birth place, nationality, social security
number, medical visit, emergency contact… never reach a DataFrame, a
message or a file. The birth date is reduced to its year at once. The id
kept is enDI's "ID Utilisateur" (raw; intake pseudonymises it).

The public entry points are :func:`convert_folder`, :func:`propose_mapping`
and :func:`write_mapping`.
"""

from __future__ import annotations

import calendar
import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import yaml

from analysis.intake import codebook as cb
from analysis.intake.problems import Problem
from analysis.method import loader as methodology
from analysis.intake.reading import sniff_separator

# ---------------------------------------------------------------------------
# Rules (methodology/endi.yml)
# ---------------------------------------------------------------------------


def load_rules(methodology_dir: Path | None = None) -> dict:
    """``methodology/endi.yml`` (enDI vocabulary and proposal rules), validated
    (:func:`analysis.method.loader.load`)."""
    return methodology.load("endi", methodology_dir)


def norm(text: Any) -> str:
    """Normalise a header or label for matching: :func:`codebook.normalize_name`
    (no accents, lowercase, curly or straight apostrophes and punctuation → ``_``)
    then glue ``+`` to its neighbours so that "Bac +2", "BAC+ 2" → ``bac+2``.

    >>> norm("Date d’entrée dans la CAE")
    'date_d_entree_dans_la_cae'
    >>> norm("Niveau Bac + 2")
    'niveau_bac+2'
    """
    s = cb.normalize_name(text)
    return re.sub(r"_?\+_?", "+", s)


def _keyword_regex(keyword: str) -> re.Pattern:
    prefix = keyword.endswith("*")
    k = norm(keyword.rstrip("*"))
    return re.compile(r"(?:^|_)" + re.escape(k) + ("" if prefix else r"(?:_|$)"))


def keyword_matches(label: str, keyword: str) -> bool:
    """True when ``keyword`` occurs in ``label`` at the start of a word (both
    normalised with :func:`norm`); it must end at a word end unless it ends
    with ``*`` (prefix). Rule semantics documented in ``endi.yml``.

    >>> keyword_matches("Demandeur.e d'emploi - Indemnisé.e", "indemnis*")
    True
    >>> keyword_matches("Bac +2", "bac")
    False
    """
    return bool(_keyword_regex(keyword).search(norm(label)))


def propose_code(label: str, rules: list[dict]) -> tuple[str | None, list[str]]:
    """Code proposed for ``label`` by keyword ``rules`` (list of
    ``{code, mots, sauf}``): the code when exactly one distinct code matches,
    else None; second item = every matching code (for the comment).
    No rule or conflicting rules → None: we never guess between codes."""
    hits: list[str] = []
    for rule in rules or []:
        if any(keyword_matches(label, k) for k in rule["mots"]) and not any(
            keyword_matches(label, k) for k in rule["sauf"]
        ):
            code = str(rule["code"])
            if code not in hits:
                hits.append(code)
    return (hits[0] if len(hits) == 1 else None), hits


# ---------------------------------------------------------------------------
# Reading (format plumbing)
# ---------------------------------------------------------------------------

XLSX_MAGIC = b"PK\x03\x04"


def _decode(data: bytes) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), else Windows-1252.
    Strict UTF-8 essentially never decodes cp1252 accented text by accident."""
    try:
        return data.decode("utf-8-sig"), ("utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _open_rows(path: Path) -> tuple[list[str], Any, dict]:
    """Return (header, row iterator factory, info) for a CSV or XLSX file.

    The iterator yields ``(line, cells)`` where ``line`` is the spreadsheet
    line as Excel shows it (header = the first non-empty line). XLSX is
    detected from the first bytes (``PK\\x03\\x04``), whatever the extension.
    """
    data = path.read_bytes()
    info: dict = {"sha256": hashlib.sha256(data).hexdigest()}
    if data[:4] == XLSX_MAGIC:
        import openpyxl

        info.update(encoding="xlsx", separator="xlsx")

        def rows():
            wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                ws = wb.worksheets[0]
                for i, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
                    yield i, list(values)
            finally:
                wb.close()

    else:
        text, enc = _decode(data)
        first = next((ln for ln in text.splitlines() if ln.strip()), "")
        sep = sniff_separator(first)  # the protocol reader's rule: ';' wins ties
        info.update(encoding=enc, separator=sep)

        def rows():
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar='"')
            for i, cells in enumerate(reader, start=1):
                yield i, cells

    header: list[str] = []
    header_line = 0
    for line, cells in rows():
        if any(c not in (None, "") and str(c).strip() for c in cells):
            header = ["" if c is None else str(c).strip() for c in cells]
            header_line = line
            break
    info["header_line"] = header_line

    def body():
        for line, cells in rows():
            if line > header_line:
                yield line, cells

    return header, body, info


def _positions(header: list[str], rules: dict) -> tuple[dict[str, int], dict[str, int], dict[int, tuple[int, int]]]:
    """Positions of the kept columns. Returns (role → first position,
    role → number of occurrences, position → (year, month) for "CA <mois> <aa>").
    Positions, not names: enDI repeats "-----" headers, which a name-keyed
    reader would mangle."""
    normed = [norm(h) for h in header]
    roles: dict[str, int] = {}
    counts: dict[str, int] = {}
    for role, aliases in rules["colonnes"].items():
        wanted = {norm(a) for a in aliases}
        hits = [i for i, h in enumerate(normed) if h in wanted]
        if hits:
            roles[role] = hits[0]
            counts[role] = len(hits)
    months: dict[int, tuple[int, int]] = {}
    pattern = re.compile(rules["colonne_ca_mois"])
    for i, h in enumerate(normed):
        m = pattern.match(h)
        if m and m.group("mois") in rules["mois"]:
            yy = int(m.group("aa"))
            months[i] = (2000 + yy if yy < 70 else 1900 + yy, int(rules["mois"][m.group("mois")]))
    return roles, counts, months


def classify(header: list[str], rules: dict | None = None) -> str | None:
    """Which enDI export a header is (key of ``endi.yml`` ``exports``), by
    signature (every listed column present), or None."""
    rules = rules or load_rules()
    roles, _, _ = _positions(header, rules)
    for kind, spec in rules["exports"].items():
        if all(r in roles for r in spec["signature"]):
            return kind
    return None


def _candidate_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.is_file()
        and p.suffix.lower() in {".csv", ".xlsx", ".xls", ".txt"}
        and not p.name.startswith(("~$", ".~lock"))
    )


def detect_exports(folder: Path, rules: dict | None = None) -> dict[str, str]:
    """{file name: export kind} for every enDI export in ``folder`` (by header)."""
    rules = rules or load_rules()
    out = {}
    for p in _candidate_files(folder):
        try:
            header, _, _ = _open_rows(p)
        except Exception:  # unreadable: not ours to report
            continue
        kind = classify(header, rules)
        if kind:
            out[p.name] = kind
    return out


# ---------------------------------------------------------------------------
# Value parsing
# ---------------------------------------------------------------------------

_DATE_ROLES = {"date_entree", "date_contrat", "date_societariat", "date_sortie", "date_naissance", "date_effet", "date_echeance"}
_NUMBER_ROLES = {"ca_total", "taux_horaire", "nombre_heures", "salaire_brut", "remuneration_brute", "heures_remunerees", "annee"}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def parse_date(v: Any) -> pd.Timestamp | None:
    """Parse an enDI date: ``JJ/MM/AAAA`` (day possibly space-padded, " 5/03/2018"),
    ``AAAA-MM-JJ``, or an Excel date cell. Explicit formats only (never
    ``dayfirst``, see PRIOR_ART). Blank → None; unparseable → ValueError.

    >>> parse_date(" 5/03/2018")
    Timestamp('2018-03-05 00:00:00')
    """
    if _blank(v):
        return None
    if isinstance(v, (datetime, date)):
        return pd.Timestamp(v).normalize()
    s = re.sub(r"\s+", "", str(v))
    s = s.split("T")[0] if re.match(r"^\d{4}-\d{2}-\d{2}T", s) else s
    s = re.sub(r"^(\d{4}-\d{2}-\d{2})\d{2}:\d{2}(:\d{2})?$", r"\1", s)
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return pd.Timestamp(datetime.strptime(s, fmt))
        except ValueError:
            continue
    raise ValueError(s)


def parse_number(v: Any) -> float:
    """Parse a number written by enDI (``1234.5``) or re-saved by a French
    spreadsheet (``1 234,50``, NBSP/NNBSP thousands, trailing ``€``).
    Blank → NaN; unparseable → ValueError.

    >>> parse_number("1\u202f234,50 €")
    1234.5
    """
    if _blank(v):
        return float("nan")
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    s = str(v).strip().replace("€", "")
    s = re.sub(r"[\s\u00a0\u202f]", "", s)
    if "," in s and "." in s:  # 1.234,5 or 1,234.5: the last one is the decimal mark
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    else:
        s = s.replace(",", ".")
    return float(s)


def _has(v: Any) -> bool:
    """True for a present value (not None, NaN, NaT, NA or blank text)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return False
    if isinstance(v, str):
        return bool(v.strip())
    try:
        return not bool(pd.isna(v))
    except (TypeError, ValueError):
        return True


def _get(r: Any, key: str) -> Any:
    """``r[key]`` or None when absent or missing (pandas 3 string columns use NaN)."""
    v = r.get(key) if hasattr(r, "get") else None
    return v if _has(v) else None


def _mkey(ym: tuple[int, int]) -> str:
    return f"_ca_{ym[0]:04d}_{ym[1]:02d}"


def _id_str(v: Any) -> str | None:
    if _blank(v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _text(v: Any) -> str | None:
    if _blank(v):
        return None
    return re.sub(r"\s+", " ", str(v)).strip()


# ---------------------------------------------------------------------------
# Reading one export: keep only the needed columns, row by row
# ---------------------------------------------------------------------------


@dataclass
class _Export:
    name: str
    kind: str
    rows: pd.DataFrame  # index = spreadsheet line; columns = roles (+ month keys)
    months: list[tuple[int, int]]  # (year, month) of the CA month columns, in order
    info: dict


def _read_export(path: Path, kind: str, rules: dict, problems: list[Problem]) -> _Export:
    """Read ``path`` keeping only the roles of ``endi.yml`` ``colonnes`` (and
    the CA month columns). Dates/numbers parsed; the birth date reduced to its
    year at once. Values of dropped columns are never stored."""
    header, body, info = _open_rows(path)
    roles, counts, month_pos = _positions(header, rules)
    for role, n in counts.items():
        if n > 1:
            problems.append(Problem(
                fichier=path.name, ligne=info["header_line"], colonne=header[roles[role]],
                message=f"La colonne « {header[roles[role]]} » apparaît {n} fois ; la première est utilisée.",
                correction="Vérifiez qu'aucun champ personnalisé d'enDI ne porte le même nom qu'une colonne standard.",
                gravite="avertissement"))
    month_items = sorted(month_pos.items(), key=lambda kv: kv[1])
    month_key = {ym: f"_ca_{ym[0]:04d}_{ym[1]:02d}" for _, ym in month_items}
    records: list[dict] = []
    lines: list[int] = []
    strict = kind != "etapes_parcours"  # a bad step field is a warning, the rest an error
    for line, cells in body():
        if not any(not _blank(c) for c in cells):
            continue
        rec: dict[str, Any] = {}
        for role, pos in roles.items():
            raw = cells[pos] if pos < len(cells) else None
            col = header[pos]
            try:
                if role in _DATE_ROLES:
                    d = parse_date(raw)
                    rec[role] = (d.year if d is not None else None) if role == "date_naissance" else d
                elif role in _NUMBER_ROLES:
                    rec[role] = parse_number(raw)
                elif role == "id":
                    rec[role] = _id_str(raw)
                else:
                    rec[role] = _text(raw)
            except (ValueError, TypeError):
                personal = role == "date_naissance"
                problems.append(Problem(
                    fichier=path.name, ligne=line, colonne=col,
                    valeur=None if personal else str(raw).strip(),
                    message=("Date illisible." if role in _DATE_ROLES else "Nombre illisible."),
                    correction=("Attendu JJ/MM/AAAA ; corrigez la fiche dans enDI puis refaites l'export."
                                if role in _DATE_ROLES else "Attendu un nombre (ex. 1234,50) ; corrigez puis refaites l'export."),
                    gravite="erreur" if strict else "avertissement"))
                rec[role] = None if role in _DATE_ROLES or role == "date_naissance" else float("nan")
        for pos, ym in month_items:
            raw = cells[pos] if pos < len(cells) else None
            try:
                rec[month_key[ym]] = parse_number(raw)
            except (ValueError, TypeError):
                problems.append(Problem(
                    fichier=path.name, ligne=line, colonne=header[pos], valeur=str(raw).strip(),
                    message="Montant illisible.", correction="Attendu un nombre ; refaites l'export.",
                    gravite="erreur"))
                rec[month_key[ym]] = float("nan")
        del cells  # the full row (personal columns included) is not kept
        records.append(rec)
        lines.append(line)
    df = pd.DataFrame.from_records(records, index=pd.Index(lines, name="ligne"))
    for role in list(roles) + list(month_key.values()):
        if role not in df.columns:
            df[role] = pd.Series(dtype=object)
    info["rows"] = len(df)
    info["kind"] = kind
    return _Export(path.name, kind, df, [ym for _, ym in month_items], info)


# ---------------------------------------------------------------------------
# Mapping of the CAE's own labels
# ---------------------------------------------------------------------------


def _split_multi(label: str, rules: dict) -> list[str]:
    sep = rules["separateur_multivaleur"]
    parts = [p.strip() for p in str(label).split(sep.strip())] if sep.strip() in str(label) else [str(label).strip()]
    return [p for p in parts if p]


def _list_labels(exports: Iterable[_Export], rules: dict) -> dict[str, dict[str, str]]:
    """{list name: {normalised label: label as first seen}} over all exports."""
    out: dict[str, dict[str, str]] = {name: {} for name in rules["listes"]}
    for ex in exports:
        for name, spec in rules["listes"].items():
            role = spec["colonne"]
            if role not in ex.rows.columns:
                continue
            for v in ex.rows[role].dropna():
                labels = _split_multi(v, rules) if spec.get("multivaleur") else [str(v)]
                for lab in labels:
                    out[name].setdefault(norm(lab), lab)
    return out


def _proposal(label: str, spec: dict, rules: dict) -> tuple[str, list[str]]:
    code, hits = propose_code(label, spec["regles"])
    if code is None and not hits and spec.get("defaut") == "libelle":
        return label, hits
    return (code if code is not None else rules["a_completer"]), hits


def _read_folder_exports(folder: Path, rules: dict, problems: list[Problem]) -> list[_Export]:
    exports = []
    for name, kind in detect_exports(folder, rules).items():
        exports.append(_read_export(Path(folder) / name, kind, rules, problems))
    return exports


def propose_mapping(folder: Path) -> dict:
    """For each configurable list (``endi.yml`` ``listes``), every distinct
    label found in the CAE's enDI exports, with the protocol code proposed by
    the keyword rules, or ``A_COMPLETER`` when no rule or several
    disagreeing rules match (free-text lists propose the label itself).

    Returns ``{list name: {label: code}}``; reads only the list columns.
    """
    rules = load_rules()
    exports = _read_folder_exports(Path(folder), rules, [])
    labels = _list_labels(exports, rules)
    return {
        name: {lab: _proposal(lab, rules["listes"][name], rules)[0] for lab in sorted(labels[name].values(), key=norm)}
        for name in rules["listes"]
    }


def _codes_comment(spec: dict, rules: dict) -> str:
    if not spec.get("codes"):
        return "texte libre (le libellé enDI est repris tel quel si vous le laissez)"
    items = [f"{c} = {lab}" for c, lab in cb.codes(spec["codes"]).items()]
    if spec.get("ignorer_autorise"):
        items.append(f"{rules['ignorer']} = ce libellé ne renseigne pas cette information")
    return " ; ".join(items)


def _yaml_str(s: str) -> str:
    return json.dumps(str(s), ensure_ascii=False)  # a double-quoted YAML scalar


def mapping_path_of(folder: Path, rules: dict | None = None) -> Path:
    rules = rules or load_rules()
    return Path(folder) / rules["fichier_correspondances"]


def load_mapping(path: Path) -> dict[str, dict[str, str]]:
    """Read a mapping file: ``{list: {label: code}}`` (labels as written)."""
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    out: dict[str, dict[str, str]] = {}
    for name, entries in raw.items():
        if isinstance(entries, dict):
            out[name] = {str(k): ("" if v is None else str(v)) for k, v in entries.items()}
    return out


def write_mapping(folder: Path, out: Path | None = None) -> Path:
    """Write (or complete) the CAE's mapping file, a commented French YAML:
    for each configurable list, each label found in the exports and its
    proposed code. Decisions already in an existing file are kept as they
    are; only labels not yet in it get a proposal. Only list labels are
    written, never a value of a personal column."""
    rules = load_rules()
    folder = Path(folder)
    out = Path(out) if out else mapping_path_of(folder, rules)
    existing = load_mapping(out) if out.exists() else {}
    exports = _read_folder_exports(folder, rules, [])
    found = _list_labels(exports, rules)
    todo = rules["a_completer"]
    lines = [
        "# Correspondances entre les libellés de votre enDI et les codes du protocole CAE-IMPACT.",
        "#",
        "# Chaque CAE paramètre elle-même certaines listes d'enDI (niveau d'études, statut social,",
        "# zone, motifs de sortie...). Ce fichier dit, une fois pour toutes, à quel code du protocole",
        "# correspond chacun de vos libellés. Les codes ont été PROPOSÉS automatiquement par mots-clés :",
        "# relisez chaque ligne et corrigez si besoin (le texte à gauche des « : » ne se modifie pas).",
        f"# « {todo} » : aucune proposition sûre ; remplacez-le par un code, sinon l'étude s'arrête",
        "# sur une erreur qui nomme le libellé.",
        "# Relancer `cae-impact endi-mapping` après un nouvel export ajoute les nouveaux libellés",
        "# sans toucher à vos décisions.",
        f"# Règles de proposition : methodology/endi.yml, version {rules['version']}.",
        "",
    ]
    for name, spec in rules["listes"].items():
        lines.append(f"{name}:")
        lines.append(f"  # Colonne enDI « {spec['libelle']} » → colonne du protocole « {spec['protocole']} ».")
        lines.append(f"  # Codes possibles : {_codes_comment(spec, rules)}.")
        if spec.get("multivaleur"):
            prio = ", ".join(rules["priorite_situation_entree"])
            lines.append("  # Une cellule peut contenir plusieurs statuts séparés par « ; » : chaque statut est")
            lines.append(f"  # traduit puis le premier code dans cet ordre est retenu : {prio}.")
        if spec["colonne"] == "type_sortie":
            lines.append("  # Le type de sortie ne sert que lorsque le motif de sortie est vide ou « ignorer ».")
        old = existing.get(name, {})
        old_norm = {norm(k) for k in old}
        entries: list[str] = []
        for lab, code in old.items():
            note = "" if norm(lab) in found[name] else "  # absent des exports actuels"
            entries.append(f"  {_yaml_str(lab)}: {_yaml_str(code) if code else _yaml_str(todo)}{note}")
        for key, lab in sorted(found[name].items()):
            if key in old_norm:
                continue
            code, hits = _proposal(lab, spec, rules)
            note = ""
            if code == todo:
                note = f"  # règles en conflit : {' ou '.join(hits)}" if hits else "  # aucune règle ne s'applique"
            entries.append(f"  {_yaml_str(lab)}: {_yaml_str(code)}{note}")
        if not entries:
            entries.append("  {}")
        lines.extend(entries)
        lines.append("")
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


# ---------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------


@dataclass
class EndiResult:
    """Protocol tables converted from a CAE's enDI exports.

    ``tables``: ``entrepreneurs`` and/or ``activite`` with protocol column
    names; index = spreadsheet line of the source row (header = line 1).
    ``sources``: table → enDI file name (several joined by ", ").
    The index is the true spreadsheet line whenever those lines are unique
    (one source file); when several files feed a table (one CA export per
    year) lines repeat, and since validation needs a unique index the rows
    are then numbered 2, 3, … in table order instead.
    ``row_files`` / ``row_lines``: table → source file name and true
    spreadsheet line of each row, positionally (exact origin in all cases).
    ``problems``: French problems (errors stop the CAE at intake).
    ``read_info``: file name → {sha256, encoding, separator ("xlsx" for a
    workbook), rows, kind}.
    """

    tables: dict[str, pd.DataFrame]
    sources: dict[str, str]
    problems: list[Problem]
    read_info: dict[str, dict]
    row_files: dict[str, list[str]] = field(default_factory=dict)
    row_lines: dict[str, list[int]] = field(default_factory=dict)
    mapping_path: Path | None = None


class _Mapper:
    """Apply the CAE's mapping file; collect unmapped labels as errors."""

    def __init__(self, mapping: dict[str, dict[str, str]] | None, path: Path, rules: dict, folder: Path):
        self.rules = rules
        self.path = path
        self.folder = folder
        self.present = mapping is not None
        self.table = {name: {norm(k): v for k, v in (mapping or {}).get(name, {}).items()} for name in rules["listes"]}
        self.unmapped: dict[tuple[str, str], dict] = {}
        self.invalid: dict[tuple[str, str], dict] = {}

    def code(self, list_name: str, label: str, where: tuple[str, int, str]) -> str | None:
        """Protocol code for one label; None (and a recorded error) if unmapped.
        Returns the special ``ignorer`` code as is."""
        spec = self.rules["listes"][list_name]
        value = self.table[list_name].get(norm(label))
        todo = self.rules["a_completer"]
        if value is None or value.strip() in ("", todo):
            self.unmapped.setdefault((list_name, label), {"where": where, "n": 0})["n"] += 1
            return None
        value = value.strip()
        if value == self.rules["ignorer"] and spec.get("ignorer_autorise"):
            return value
        if not spec.get("codes"):
            return value
        lookup = cb.code_lookup(spec["codes"])
        code = lookup.get(cb.normalize_name(value))
        if code is None:
            self.invalid.setdefault((list_name, label), {"where": where, "value": value})
            return None
        return str(code)

    def problems(self) -> list[Problem]:
        out = []
        fname = self.path.name
        if not self.present:
            if self.unmapped:
                out.append(Problem(
                    fichier=fname, message="Fichier de correspondances enDI absent : les libellés de vos listes enDI ne peuvent pas être traduits en codes du protocole.",
                    correction=f"Lancez `cae-impact endi-mapping {self.folder}` pour le créer avec des propositions, relisez-le, puis relancez l'étude."))
            return out
        for (list_name, label), d in self.unmapped.items():
            spec = self.rules["listes"][list_name]
            file, line, col = d["where"]
            out.append(Problem(
                fichier=file, ligne=line, colonne=col, valeur=label,
                message=(f"Le libellé « {label} » de la liste « {spec['libelle']} » n'a pas de code du protocole "
                         f"({d['n']} ligne(s) concernée(s))."),
                correction=(f"Dans {fname}, section « {list_name} », indiquez le code de « {label} » "
                            f"(codes possibles : {_codes_comment(spec, self.rules)}).")))
        for (list_name, label), d in self.invalid.items():
            spec = self.rules["listes"][list_name]
            file, line, col = d["where"]
            out.append(Problem(
                fichier=file, ligne=line, colonne=col, valeur=label,
                message=f"Dans {fname}, le code « {d['value']} » donné au libellé « {label} » n'existe pas dans la liste « {spec['protocole']} ».",
                correction=f"Codes possibles : {_codes_comment(spec, self.rules)}."))
        return out


def _combine_people(exports: list[_Export], problems: list[Problem]) -> tuple[pd.DataFrame, list[str]]:
    """One row per id over the porteurs exports: the last file (name order)
    wins, earlier files fill its blanks. Returns (rows, file of each row)."""
    frames = []
    for ex in exports:
        for line in ex.rows.index[ex.rows["id"].isna()]:
            problems.append(Problem(
                fichier=ex.name, ligne=int(line), colonne="ID Utilisateur",
                message="Ligne sans « ID Utilisateur » : personne ignorée.",
                correction="Refaites l'export depuis enDI sans modifier la colonne « ID Utilisateur »."))
        df = ex.rows.copy()
        df["_fichier"] = ex.name
        df["_ligne"] = df.index
        frames.append(df)
    allrows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if allrows.empty:
        return allrows, []
    allrows = allrows[allrows["id"].notna()]
    # later files override earlier ones, per column, where they are filled
    # (GroupBy.last skips missing values)
    merged = allrows.groupby("id", sort=False).last().reset_index()
    return merged, list(merged["_fichier"])


def _steps_by_person(exports: list[_Export], rules: dict) -> dict[str, pd.DataFrame]:
    frames = [ex.rows.assign(_fichier=ex.name, _ligne=ex.rows.index) for ex in exports]
    if not frames:
        return {}
    steps = pd.concat(frames, ignore_index=True)
    steps = steps[steps["id"].notna()]
    keep = [c for c in steps.columns if c not in ("_fichier", "_ligne")]
    steps = steps.drop_duplicates(subset=keep)
    nat = {k: norm(v) for k, v in rules["nature"].items()}
    inv = {v: k for k, v in nat.items()}
    steps = steps.assign(_nature=[inv.get(norm(v)) if _has(v) else None for v in steps["nature"]])
    steps = steps[steps["date_effet"].notna()]
    steps = steps.assign(_order=range(len(steps))).sort_values(["date_effet", "_order"], kind="stable")
    return {pid: g for pid, g in steps.groupby("id", sort=False)}


def _pay_terms(step: pd.Series, prev: dict | None) -> dict:
    """Monthly pay terms of a contract or amendment step (``endi.yml``
    ``remuneration``): monthly gross = "Salaire brut" if filled, else
    "Taux horaire" × "Nombre d'heures" (monthly hours); an amendment inherits
    the rate or hours it does not restate, and the whole terms if it states
    none."""
    def val(k):
        v = step.get(k)
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)

    taux, heures, brut = val("taux_horaire"), val("nombre_heures"), val("salaire_brut")
    if step["_nature"] == "avenant" and prev is not None:
        if taux is None and heures is None and brut is None:
            return dict(prev)
        taux = taux if taux is not None else prev.get("taux")
        heures = heures if heures is not None else prev.get("heures")
    if brut is None and taux is not None and heures is not None:
        brut = taux * heures
    return {"taux": taux, "heures": heures, "salaire": brut}


def annual_pay(year: int, steps: pd.DataFrame | None, entry: pd.Timestamp | None, exit_: pd.Timestamp | None,
               contract_start: pd.Timestamp | None, off_contract_monthly: float = 0.0) -> tuple[float, float]:
    """Gross pay and paid hours of one person over calendar ``year``.

    Day by day, the monthly terms in force are painted in this order: off
    contract (``off_contract_monthly``, 0 € by default: a CAPE is a support
    contract, not a salary) before ``contract_start``, unknown from it on;
    then each contract/amendment step from its effective date to the next
    step (a contract's "Date d'échéance" ends it: off contract until the next
    step; an amendment's ends it: the previous terms resume); then off
    contract before ``entry`` and after ``exit_`` (the exit day is paid).
    Pay = Σ_days monthly gross ÷ days in that month (full months count the
    monthly amount exactly), rounded to the cent. NaN when any day's terms
    are unknown; hours NaN when any day's hours are unknown.
    """
    days = pd.date_range(f"{year}-01-01", f"{year}-12-31", freq="D")
    n = len(days)
    pay = np.full(n, np.nan)
    hours = np.full(n, np.nan)
    if contract_start is None:
        pay[:] = off_contract_monthly
        hours[:] = 0.0
    else:
        before = days < contract_start
        pay[before] = off_contract_monthly
        hours[before] = 0.0

    def paint(start, end, terms):  # [start, end)
        mask = np.ones(n, dtype=bool)
        if start is not None:
            mask &= days >= start
        if end is not None:
            mask &= days < end
        s, h = terms.get("salaire"), terms.get("heures")
        pay[mask] = np.nan if s is None else s
        hours[mask] = np.nan if h is None else h

    off = {"salaire": off_contract_monthly, "heures": 0.0}
    if steps is not None and len(steps):
        pay_steps = steps[steps["_nature"].isin(["contrat", "avenant"])]
        prev: dict | None = None
        rows = list(pay_steps.iterrows())
        for i, (_, st) in enumerate(rows):
            before = prev
            terms = _pay_terms(st, prev)
            start = st["date_effet"]
            nxt = rows[i + 1][1]["date_effet"] if i + 1 < len(rows) else None
            paint(start, nxt, terms)
            ech = _get(st, "date_echeance")
            if ech is not None and ech >= start and (nxt is None or ech + pd.Timedelta(days=1) < nxt):
                after = off if st["_nature"] == "contrat" else (before or off)
                paint(ech + pd.Timedelta(days=1), nxt, after)
            prev = terms
    if entry is not None:
        paint(None, entry, off)
    if exit_ is not None:
        paint(exit_ + pd.Timedelta(days=1), None, off)
    dim = np.array([calendar.monthrange(year, m)[1] for m in days.month], dtype=float)
    # rounded to the cent (and hundredth of an hour): removes float residue of the day sum
    total = round(float(np.sum(pay / dim)), 2) if not np.isnan(pay).any() else float("nan")
    total_h = round(float(np.sum(hours / dim)), 2) if not np.isnan(hours).any() else float("nan")
    return total, total_h


def _ts(v) -> pd.Timestamp | None:
    return None if v is None or pd.isna(v) else pd.Timestamp(v)


def convert_folder(folder: Path, mapping_path: Path | None = None) -> EndiResult | None:
    """Convert the enDI exports of a CAE folder into ``entrepreneurs`` and
    ``activite`` (PROTOCOL §2). None when the folder holds no enDI export
    (detected by header signature, whatever the file names).

    entrepreneurs (from porteurs_*; exits completed from sorties_periode
    and "Sortie CAE" steps, CESA from the first "Contrat de travail" step):
    ``id`` = "ID Utilisateur"; ``date_entree`` = "Date d'entrée dans la CAE"
    (else the first "Entrée CAE" step); ``date_sortie`` with
    ``motif_sortie`` (reason label mapped, else the type label);
    ``genre`` from "Sexe"; ``annee_naissance`` = year of "Date de naissance";
    ``diplome``, ``situation_entree`` (multi-valued: first code in
    ``priorite_situation_entree``; only ``ignorer`` labels → ``nr``), ``zone``,
    ``qpv`` (from "Qualification de la zone d'habitation"), ``secteur`` via
    the mapping file; ``date_cesa`` = first "Contrat de travail" step on or
    after entry, else "Date de contrat"; ``date_societariat``;
    ``statut`` = associe if a membership date, else cesa if a CESA date,
    else cape.

    activite (from ca_porteurs_periode, one row per person and calendar
    year): ``chiffre_affaires`` = "CA TOTAL" when the months all fall in one
    year (else the sum of the months of each year); ``remuneration_brute``
    and ``heures_remunerees`` by :func:`annual_pay` from the contract steps,
    overridden by the optional complement ``remunerations_endi.csv``;
    underivable pay stays NaN with a warning (never invented), so that
    validation asks the CAE to complete it.
    """
    folder = Path(folder)
    rules = load_rules()
    kinds = detect_exports(folder, rules)
    if not kinds:
        return None
    problems: list[Problem] = []
    exports = [_read_export(folder / name, kind, rules, problems) for name, kind in kinds.items()]
    read_info = {ex.name: ex.info for ex in exports}
    by_kind: dict[str, list[_Export]] = {}
    for ex in exports:
        by_kind.setdefault(ex.kind, []).append(ex)

    mpath = Path(mapping_path) if mapping_path else mapping_path_of(folder, rules)
    mapping = load_mapping(mpath) if mpath.exists() else None
    mapper = _Mapper(mapping, mpath, rules, folder)

    steps = _steps_by_person(by_kind.get("etapes_parcours", []), rules)
    exits = _exits_from_sorties(by_kind.get("sorties_periode", []))

    tables: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    row_files: dict[str, list[str]] = {}
    row_lines: dict[str, list[int]] = {}

    people = by_kind.get("porteurs_periode", [])
    ent = None
    if people:
        ent, files = _entrepreneurs(people, steps, exits, mapper, rules, problems)
        tables["entrepreneurs"] = ent
        sources["entrepreneurs"] = ", ".join(sorted({ex.name for ex in people}))
        row_files["entrepreneurs"] = files
        row_lines["entrepreneurs"] = _unique_lines(ent)
    else:
        problems.append(Problem(
            fichier=", ".join(sorted(kinds)),
            message="Export enDI « Détail des porteurs actifs sur une période » (porteurs_actifs_periode) introuvable : la table des entrepreneurs ne peut pas être construite.",
            correction="Dans enDI, Requêtes statistiques, exportez « porteurs_actifs_periode » sur la période de l'étude et déposez-le dans ce dossier."))

    ca = by_kind.get("ca_porteurs_periode", [])
    if ca:
        act, files = _activite(ca, ent, steps, folder, rules, problems)
        tables["activite"] = act
        sources["activite"] = ", ".join(sorted({ex.name for ex in ca}))
        row_files["activite"] = files
        row_lines["activite"] = _unique_lines(act)
    else:
        problems.append(Problem(
            fichier=", ".join(sorted(kinds)),
            message="Export enDI « Chiffre d'affaire par entrepreneur » (ca_porteurs_periode) introuvable : la table d'activité ne peut pas être construite.",
            correction="Exportez « ca_porteurs_periode » pour chaque année civile de l'étude et déposez les fichiers dans ce dossier."))
    if "etapes_parcours" not in by_kind and ca:
        problems.append(Problem(
            fichier=", ".join(sorted({ex.name for ex in ca})),
            message="Export enDI « Liste des étapes de parcours » (etapes_parcours) absent : la rémunération brute ne peut être calculée que pour les personnes restées sous CAPE.",
            correction="Exportez « etapes_parcours » depuis la création de la coopérative jusqu'à la fin de la période, ou complétez remunerations_endi.csv.",
            gravite="avertissement"))

    problems.extend(mapper.problems())
    for name, path in _complement_files(folder, rules):
        _, body, info = _open_rows(path)
        info["rows"] = sum(1 for _, cells in body() if any(not _blank(c) for c in cells))
        read_info[name] = {**info, "kind": "complement"}
    return EndiResult(tables=tables, sources=sources, problems=problems, read_info=read_info,
                      row_files=row_files, row_lines=row_lines, mapping_path=mpath)


def _unique_lines(df: pd.DataFrame) -> list[int]:
    """Keep the true spreadsheet lines in ``df.index`` when unique, else
    renumber the rows 2, 3, … (see :class:`EndiResult`); return the true lines."""
    lines = [int(v) for v in df.index]
    if not df.index.is_unique:
        df.index = pd.RangeIndex(2, 2 + len(df), name="ligne")
    return lines


def _complement_files(folder: Path, rules: dict) -> list[tuple[str, Path]]:
    stem = rules["fichier_complement_remuneration"].lower()
    return [(p.name, p) for p in _candidate_files(folder) if p.stem.lower() == stem]


def _exits_from_sorties(exports: list[_Export]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for ex in exports:
        for line, r in ex.rows.iterrows():
            if _get(r, "id") is None or _get(r, "date_sortie") is None:
                continue
            out[r["id"]] = {"date": r["date_sortie"], "type": _get(r, "type_sortie"), "motif": _get(r, "motif_sortie"),
                            "where": (ex.name, int(line))}
    return out


def _map_exit(type_label, motif_label, mapper: _Mapper, where_file: str, line: int, rules: dict) -> str | None:
    """Exit reason: the reason label's code; the type label's when the reason
    is blank or mapped to ``ignorer``."""
    ign = rules["ignorer"]
    if motif_label:
        code = mapper.code("motif_sortie", motif_label, (where_file, line, "Motif de sortie"))
        if code not in (None, ign):
            return code
        if code is None:
            return None
    if type_label:
        code = mapper.code("type_sortie", type_label, (where_file, line, "Type de sortie"))
        if code not in (None, ign):
            return code
    return None


def _entrepreneurs(people: list[_Export], steps: dict, exits: dict, mapper: _Mapper, rules: dict,
                   problems: list[Problem]) -> tuple[pd.DataFrame, list[str]]:
    merged, files = _combine_people(people, problems)
    ign = rules["ignorer"]
    prio = list(rules["priorite_situation_entree"])
    sexe = {norm(k): v for k, v in rules["sexe"].items()}
    recs, lines = [], []
    for _, r in merged.iterrows():
        fname, line = r["_fichier"], int(r["_ligne"])
        pid = r["id"]
        st = steps.get(pid)
        entry = _ts(_get(r, "date_entree"))
        if entry is None and st is not None:
            e = st[st["_nature"] == "entree"]
            entry = _ts(e["date_effet"].iloc[0]) if len(e) else None
        later = st[st["date_effet"] >= entry] if (st is not None and entry is not None) else st
        # exit: porteurs, else sorties_periode, else the last "Sortie CAE" step after entry
        exit_date, exit_type, exit_motif, exit_where = _ts(_get(r, "date_sortie")), _get(r, "type_sortie"), _get(r, "motif_sortie"), (fname, line)
        if exit_date is None and pid in exits:
            x = exits[pid]
            exit_date, exit_type, exit_motif, exit_where = _ts(x["date"]), x["type"], x["motif"], x["where"]
        if exit_date is None and later is not None:
            s = later[later["_nature"] == "sortie"]
            if len(s):
                last = s.iloc[-1]
                exit_date, exit_type, exit_motif = _ts(last["date_effet"]), _get(last, "type_sortie"), _get(last, "motif_sortie")
                exit_where = (last["_fichier"], int(last["_ligne"]))
        motif = _map_exit(exit_type, exit_motif, mapper, exit_where[0], exit_where[1], rules) if exit_date is not None else None
        # CESA: first "Contrat de travail" step on or after entry, else "Date de contrat"
        cesa = None
        if later is not None:
            c = later[later["_nature"] == "contrat"]
            cesa = _ts(c["date_effet"].iloc[0]) if len(c) else None
        if cesa is None:
            cesa = _ts(_get(r, "date_contrat"))
        soc = _ts(_get(r, "date_societariat"))
        statut = "associe" if soc is not None else ("cesa" if cesa is not None else "cape")
        # mapped lists
        genre = None
        if _get(r, "sexe"):
            genre = sexe.get(norm(r["sexe"]))
            if genre is None:
                problems.append(Problem(fichier=fname, ligne=line, colonne="Sexe", valeur=str(r["sexe"]),
                                        message="Valeur de « Sexe » inconnue.",
                                        correction="Valeurs attendues : F ou M (Femme, Homme).", gravite="avertissement"))
        diplome = mapper.code("niveau_etudes", r["niveau_etudes"], (fname, line, "Niveau d'études")) if _get(r, "niveau_etudes") else None
        situation = None
        if _get(r, "statut_social_entree"):
            codes = [mapper.code("statut_social_entree", lab, (fname, line, "Statut social à l'entrée"))
                     for lab in _split_multi(r["statut_social_entree"], rules)]
            if all(c is not None for c in codes):
                real = [c for c in codes if c != ign]
                situation = min(real, key=lambda c: prio.index(c) if c in prio else len(prio)) if real else "nr"
        zone = mapper.code("zone", r["zone"], (fname, line, "Zone d'habitation")) if _get(r, "zone") else None
        qpv = None
        if _get(r, "qualification_zone"):
            q = mapper.code("qualification_zone", r["qualification_zone"], (fname, line, "Qualification de la zone d'habitation"))
            qpv = None if q == ign else q
        secteur = mapper.code("typologie_activite", r["typologie_activite"], (fname, line, "Typologie d'activité")) if _get(r, "typologie_activite") else None
        yob = _get(r, "date_naissance")
        recs.append({
            "id": pid, "date_entree": entry, "date_sortie": exit_date, "motif_sortie": motif,
            "genre": genre, "annee_naissance": None if yob is None or pd.isna(yob) else int(yob),
            "diplome": diplome, "situation_entree": situation, "qpv": qpv, "zone": zone,
            "secteur": secteur, "statut": statut, "date_cesa": cesa, "date_societariat": soc,
        })
        lines.append(line)
    df = pd.DataFrame.from_records(recs, index=pd.Index(lines, name="ligne"),
                                   columns=["id", "date_entree", "date_sortie", "motif_sortie", "genre", "annee_naissance",
                                            "diplome", "situation_entree", "qpv", "zone", "secteur", "statut",
                                            "date_cesa", "date_societariat"])
    for c in ["date_entree", "date_sortie", "date_cesa", "date_societariat"]:
        df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
    for c in ["id", "motif_sortie", "genre", "diplome", "situation_entree", "qpv", "zone", "secteur", "statut"]:
        df[c] = df[c].astype("string")
    # whole numbers as Python ints (None when missing): plain cells for intake's parser
    df["annee_naissance"] = pd.Series([None if pd.isna(v) else int(v) for v in df["annee_naissance"]], index=df.index, dtype=object)
    return df, files


def _read_complement(folder: Path, rules: dict, problems: list[Problem]) -> dict[tuple[str, int], dict]:
    out: dict[tuple[str, int], dict] = {}
    for _, p in _complement_files(folder, rules):
        ex = _read_export(p, "complement", rules, problems)
        if "id" not in ex.rows.columns or "annee" not in ex.rows.columns:
            problems.append(Problem(fichier=p.name, message="Colonnes « ID Utilisateur » et « Année » attendues.",
                                    correction="Colonnes : ID Utilisateur ; Année ; Rémunération brute ; Heures rémunérées (facultatif)."))
            continue
        for line, r in ex.rows.iterrows():
            if _get(r, "id") is None or _get(r, "annee") is None:
                continue
            pay, hours = _get(r, "remuneration_brute"), _get(r, "heures_remunerees")
            out[(r["id"], int(r["annee"]))] = {"pay": np.nan if pay is None else pay, "hours": np.nan if hours is None else hours}
    return out


def _activite(ca: list[_Export], ent: pd.DataFrame | None, steps: dict, folder: Path, rules: dict,
              problems: list[Problem]) -> tuple[pd.DataFrame, list[str]]:
    year_re = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
    rows: dict[tuple[str, int], dict] = {}
    for ex in sorted(ca, key=lambda e: e.name):
        years = sorted({y for y, _ in ex.months})
        if not ex.months:
            m = year_re.findall(ex.name)
            if len(set(m)) != 1:
                problems.append(Problem(
                    fichier=ex.name, message="Impossible de savoir quelle année couvre cet export (ni colonnes « CA <mois> <aa> », ni année dans le nom du fichier).",
                    correction="Refaites l'export ca_porteurs_periode sur une année civile, ou mettez l'année dans le nom du fichier (ex. ca_porteurs_2019.csv)."))
                continue
            years = [int(m[0])]
        for y in years:
            n_months = sum(1 for yy, _ in ex.months if yy == y)
            if ex.months and n_months < 12:
                problems.append(Problem(
                    fichier=ex.name, message=f"L'export ne couvre que {n_months} mois de l'année {y} : le chiffre d'affaires de {y} sera partiel.",
                    correction="Exportez ca_porteurs_periode du 1er janvier au 31 décembre de chaque année.", gravite="avertissement"))
        for line, r in ex.rows.iterrows():
            pid = _get(r, "id")
            if pid is None:
                problems.append(Problem(fichier=ex.name, ligne=int(line), message="Ligne sans « ID Utilisateur » ignorée.",
                                        correction="Refaites l'export depuis enDI sans modifier la colonne d'identifiant.", gravite="avertissement"))
                continue
            for y in years:
                if len(years) == 1:
                    total = _get(r, "ca_total")
                    total = float("nan") if total is None else float(total)
                    if np.isnan(total) and ex.months:
                        total = float(np.nansum([r[_mkey(ym)] for ym in ex.months]))
                else:
                    total = float(np.nansum([r[_mkey(ym)] for ym in ex.months if ym[0] == y]))
                key = (pid, y)
                cover = sum(1 for yy, _ in ex.months if yy == y) or 12
                if key in rows and rows[key]["_cover"] >= cover:
                    continue
                rows[key] = {"id": pid, "annee": y, "chiffre_affaires": total, "_fichier": ex.name,
                             "_ligne": int(line), "_cover": cover}
    complement = _read_complement(folder, rules, problems)
    info = {}
    if ent is not None:
        for _, e in ent.iterrows():
            info[e["id"]] = (_ts(e["date_entree"]), _ts(e["date_sortie"]), _ts(e["date_cesa"]))
    off = float(rules["remuneration"]["hors_contrat_mensuel"])
    recs, lines, files = [], [], []
    for (pid, y), rec in sorted(rows.items(), key=lambda kv: (kv[1]["_fichier"], kv[1]["_ligne"], kv[0][1])):
        entry, exit_, cesa = info.get(pid, (None, None, None))
        st = steps.get(pid)
        contract_start = cesa
        if st is not None:
            c = st[st["_nature"] == "contrat"]
            if len(c):
                first = _ts(c["date_effet"].iloc[0])
                contract_start = first if contract_start is None else min(contract_start, first)
        if pid in info:
            pay, hours = annual_pay(y, st, entry, exit_, contract_start, off)
        else:
            pay, hours = float("nan"), float("nan")
        if (pid, y) in complement:
            c = complement[(pid, y)]
            if not pd.isna(c["pay"]):
                pay = float(c["pay"])
                hours = float(c["hours"]) if not pd.isna(c["hours"]) else float("nan")
        if pid not in info:
            problems.append(Problem(
                fichier=rec["_fichier"], ligne=rec["_ligne"], colonne="ID Utilisateur",
                message="Cette personne figure dans l'export du chiffre d'affaires mais pas dans l'export des porteurs : sa rémunération ne peut pas être calculée.",
                correction="Exportez « porteurs_accompagnes_periode » (ou porteurs_actifs_periode) sur toute la période de l'étude.",
                gravite="avertissement"))
        elif np.isnan(pay):
            problems.append(Problem(
                fichier=rec["_fichier"], ligne=rec["_ligne"], colonne="remuneration_brute",
                message=(f"Rémunération brute {y} impossible à calculer à partir des étapes de parcours enDI "
                         "(contrat ou avenant sans taux horaire ni nombre d'heures ni salaire brut, ou antérieur à l'export des étapes) ; elle n'est pas inventée."),
                correction=("Complétez les étapes « Contrat de travail » dans enDI et refaites l'export etapes_parcours depuis l'entrée de la personne, "
                            "ou ajoutez la ligne (ID Utilisateur ; Année ; Rémunération brute) dans remunerations_endi.csv."),
                gravite="avertissement"))
        recs.append({"id": pid, "annee": y, "chiffre_affaires": rec["chiffre_affaires"],
                     "remuneration_brute": pay, "heures_remunerees": hours})
        lines.append(rec["_ligne"])
        files.append(rec["_fichier"])
    df = pd.DataFrame.from_records(recs, index=pd.Index(lines, name="ligne"),
                                   columns=["id", "annee", "chiffre_affaires", "remuneration_brute", "heures_remunerees"])
    df["id"] = df["id"].astype("string")
    df["annee"] = pd.Series([int(v) for v in df["annee"]], index=df.index, dtype=object)
    for c in ["chiffre_affaires", "remuneration_brute", "heures_remunerees"]:
        df[c] = df[c].astype("float64")
    return df, files
