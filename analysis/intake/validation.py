"""Validate a CAE's tables against the codebook, all problems at once, in French.

Three steps, so that one bad cell never hides another (pandera discussion
#833: with ``coerce=True`` a coercion failure hides the later checks):

1. :func:`type_table` maps the headers as written to codebook columns
   (case, accents, spaces and aliases ignored) and parses every cell by its
   codebook type with explicit formats, collecting a Problem per cell it
   cannot read.
2. :func:`schema_problems` validates the typed frame, without coercion, with
   a pandera schema built from the codebook (:func:`build_schema`: types,
   required, unique, ranges, accepted codes; ``lazy=True`` collects every
   failure) and translates ``SchemaErrors.failure_cases`` into Problems
   naming the file, the spreadsheet line, the column as the user wrote it
   and the value. A second schema holds the plausible ranges
   (``warn_min``/``warn_max``) and yields warnings.
3. :func:`cross_table_problems` checks the rules that span columns or
   tables (PROTOCOL §2): ids of ``activite`` and of the survey exist in
   ``entrepreneurs``, dates not before entry, exit reason required with an
   exit date, plausible age at entry, entry inside the study period.

:func:`read_description` validates the structure's description file.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml

from analysis.intake import codebook as cbk
from analysis.intake.problems import Problem
from analysis.intake.reading import is_blank, looks_like_two_digit_year, parse_date, parse_integer, parse_number

MASK = "(masqué : donnée personnelle)"

#: Share of empty cells above which an optional column gets a warning.
MOSTLY_EMPTY_SHARE = 0.5

#: Cross-column rules of PROTOCOL §2 that the codebook has no syntax for come
#: from the study profile (``profile.yml: regles``):
#: ``pas_avant`` (table, later date column, reference date column),
#: ``obligatoire_si`` (table, column required when ..., ... this column is filled),
#: ``periode`` (table, entry-date column, exit-date column) checked against the
#: description file's periode, ``age`` (table, birth-year column, entry-date
#: column) checked against codebook ``age:``.


def profile_rules(prof=None) -> dict:
    """``{"pas_avant": [...], "obligatoire_si": [...], "periode": (...), "age": (...)}``
    of the run's profile (tuples; ``periode``/``age`` None when absent)."""
    from analysis.method import profile as profiles

    r = (prof or profiles.current()).get("regles") or {}
    return {
        "pas_avant": [tuple(x) for x in r.get("pas_avant") or []],
        "obligatoire_si": [tuple(x) for x in r.get("obligatoire_si") or []],
        "periode": tuple(r["periode"]) if r.get("periode") else None,
        "age": tuple(r["age"]) if r.get("age") else None,
    }

#: (table, column) holding a calendar year, checked like the date columns
#: against the plausible dates of the codebook's ``limites``.
YEAR_COLUMNS = [("activite", "annee")]

TYPE_LABELS = {"text": "texte", "date": "date", "integer": "entier", "number": "nombre", "code": "code", "scale": "échelle"}
DTYPES = {"text": "string", "code": "string", "date": "datetime64[ns]", "integer": "Int64", "scale": "Int64", "number": "float64"}


def fr_date(d: Any) -> str:
    return pd.Timestamp(d).strftime("%d/%m/%Y")


def fmt_num(x: Any, grouped: bool = True) -> str:
    """Short French rendering of a bound: ``2500`` → ``2 500``, ``0.5`` → ``0,5``;
    ``grouped=False`` for years (``1980``, never ``1 980``).

    >>> fmt_num(2500), fmt_num(1980, grouped=False), fmt_num(0.5)
    ('2\u202f500', '1980', '0,5')
    """
    x = float(x)
    if x.is_integer():
        return f"{int(x):,}".replace(",", "\u202f") if grouped else str(int(x))
    return f"{x}".replace(".", ",")


@dataclass
class TypedTable:
    """One table after typing: canonical columns, index = spreadsheet line."""

    table: str
    fichier: str
    frame: pd.DataFrame
    raw: pd.DataFrame  # cells as written, canonical column names, same index
    headers: dict[str, str]  # canonical column -> header as written
    parse_failures: set = field(default_factory=set)  # {(column, line)}

    @property
    def rows(self) -> int:
        return int(len(self.frame))

    def header(self, column: str) -> str:
        return self.headers.get(column, column)


def _is_personal_text(spec: dict) -> bool:
    return bool(spec.get("personal")) and spec.get("type") == "text"


def shown_value(value: Any, spec: dict) -> str:
    """The value as shown in a Problem; personal identifiers are masked so
    that validation reports never carry names or e-mails (PROTOCOL §4)."""
    if is_blank(value):
        return ""
    if _is_personal_text(spec) or spec.get("drop"):
        return MASK
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return fr_date(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def accepted_codes_text(codes_name: str, codebook: dict | None = None) -> str:
    """« Femme (F), Homme (H), … » for a fix message."""
    items = cbk.codes(codes_name, codebook)
    return ", ".join(f"« {label} » ({code})" if str(code) != str(label) else f"« {label} »" for code, label in items.items())


MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
             "novembre", "décembre"]


def impossible_date_text(value: Any) -> str | None:
    """Why a well-formed date does not exist, in French, or None when it is
    not a well-formed day/month/year at all (JJ/MM/AAAA or AAAA-MM-JJ).

    >>> print(impossible_date_text("31/02/2019"))
    le 31 février n'existe pas
    >>> print(impossible_date_text("29/02/2019"))
    le 29 février 2019 n'existe pas : 2019 n'est pas bissextile
    >>> print(impossible_date_text("15/13/2019"))
    il n'y a pas de mois 13 (jour et mois inversés ?)
    >>> impossible_date_text("29/02/2020") is None
    True
    """
    import calendar
    import re

    if not isinstance(value, str):
        return None
    s = value.strip()
    m = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", s)
    if m:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", s)
        if not m:
            return None
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not 1 <= month <= 12:
        return f"il n'y a pas de mois {month} (jour et mois inversés ?)"
    last = calendar.monthrange(year, month)[1]
    if day == 0 or day > 31:
        return f"il n'y a pas de jour {day} dans un mois"
    if day <= last:
        return None
    if month == 2 and day == 29:
        return f"le 29 février {year} n'existe pas : {year} n'est pas bissextile"
    return f"le {'1er' if day == 1 else day} {MONTHS_FR[month - 1]} n'existe pas"


def suggest_code(value: Any, codes_name: str, codebook: dict | None = None) -> str | None:
    """The code a mistyped answer most likely means (« Bac+2 » → ``bac_2``):
    the code or label equal to it once spaces and punctuation are ignored,
    else the closest one (:func:`difflib.get_close_matches`, ratio ≥ 0.75).

    >>> suggest_code("Bac+2", "diplome")
    'bac_2'
    >>> suggest_code("xyz", "diplome") is None
    True
    """
    lookup = cbk.code_lookup(codes_name, codebook)
    key = cbk.normalize_name(_text(value))
    squeezed = {k.replace("_", ""): code for k, code in lookup.items()}
    if key.replace("_", "") in squeezed:
        return str(squeezed[key.replace("_", "")])
    close = difflib.get_close_matches(key, list(lookup), n=1, cutoff=0.75)
    return str(lookup[close[0]]) if close else None


# ---------------------------------------------------------------------------
# 1. Typing
# ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return pd.Timestamp(value).date().isoformat()
    return " ".join(str(value).split())


def parse_cell(value: Any, spec: dict, codebook: dict | None = None, excel: bool = False) -> tuple[Any, tuple[str, str] | None]:
    """Parse one cell by its codebook type. Returns ``(value, None)`` or
    ``(None, (message, correction))`` in French. Blank cells give ``None``.

    Codes: the code or its French label, case and accents ignored
    (:func:`analysis.intake.codebook.code_lookup`); an unknown code is returned as
    written so that the schema's accepted-codes check reports it.
    """
    if is_blank(value):
        return None, None
    kind = spec.get("type", "text")
    if kind == "text":
        return _text(value), None
    if kind == "date":
        if looks_like_two_digit_year(value):
            return None, ("L'année de cette date n'a que deux chiffres.", "Écrivez la date avec l'année sur quatre chiffres : JJ/MM/AAAA (par exemple 15/03/2019).")
        try:
            return parse_date(value, excel_serial=excel), None
        except ValueError:
            why = impossible_date_text(value)
            if why:
                return None, (f"Date impossible : {why}.", "Vérifiez le jour et le mois de cette date (format JJ/MM/AAAA).")
            return None, ("Date illisible.", "Écrivez la date au format JJ/MM/AAAA (par exemple 15/03/2019) ou AAAA-MM-JJ.")
    if kind == "integer":
        try:
            return parse_integer(value), None
        except ValueError:
            return None, ("Un nombre entier est attendu.", "Écrivez un nombre entier, sans texte (par exemple 1985).")
    if kind == "number":
        try:
            return parse_number(value), None
        except ValueError:
            return None, ("Ce n'est pas un nombre.", "Écrivez un nombre, par exemple 1 234,50 (virgule décimale, sans texte ni unité).")
    if kind == "code":
        lookup = cbk.code_lookup(spec["codes"], codebook)
        key = cbk.normalize_name(_text(value))
        return (str(lookup[key]) if key in lookup else _text(value)), None
    if kind == "scale":
        lookup = cbk.code_lookup(spec["codes"], codebook)
        key = cbk.normalize_name(_text(value))
        if key in lookup:
            return int(lookup[key]), None
        try:
            return parse_integer(value), None
        except ValueError:
            return None, ("Réponse non reconnue.", f"Écrivez le nombre ou l'intitulé de la réponse : {accepted_codes_text(spec['codes'], codebook)}.")
    return _text(value), None  # pragma: no cover - unknown type in codebook


def _empty_column(kind: str, index: pd.Index) -> pd.Series:
    return pd.Series([None] * len(index), index=index, dtype=object).astype(DTYPES[kind])


def _to_dtype(values: list, kind: str, index: pd.Index) -> pd.Series:
    s = pd.Series(values, index=index, dtype=object)
    if kind == "date":
        return pd.to_datetime(s, errors="raise").astype("datetime64[ns]")
    if kind in ("integer", "scale"):
        return s.astype("Int64")
    if kind == "number":
        return pd.to_numeric(s.astype(object).where(s.notna(), None), errors="raise").astype("float64")
    return s.astype("string")


def _parse_column(cells: pd.Series, spec: dict, codebook: dict | None, excel: bool) -> tuple[list, list]:
    """:func:`parse_cell` over one column, each distinct cell parsed once
    (a million-row column has few distinct codes, dates or amounts).
    Returns the parsed values in order and ``(line, cell, (message, fix))``
    for the cells that could not be read. Cells are keyed by type and value
    so that ``1``, ``1.0`` and ``True`` from a spreadsheet stay distinct."""
    if pd.api.types.is_string_dtype(cells.dtype) and not pd.api.types.is_object_dtype(cells.dtype):
        # CSV text (pandas' string dtype): one parse per distinct cell, then a vectorised take
        import numpy as np

        codes, uniques = pd.factorize(cells, use_na_sentinel=True)
        parsed = [parse_cell(u, spec, codebook, excel=excel) for u in uniques]
        table = np.empty(len(parsed) + 1, dtype=object)
        table[:-1] = [v for v, _ in parsed]
        table[-1] = None  # code -1: missing cell
        values = list(table[codes])
        errs = []
        bad = [k for k, (_, e) in enumerate(parsed) if e]
        if bad:
            pos = np.flatnonzero(np.isin(codes, bad))
            for i in pos:
                errs.append((cells.index[i], uniques[codes[i]], parsed[codes[i]][1]))
        return values, errs
    cache: dict = {}
    values, errs = [], []
    for line, cell in cells.items():
        k = (type(cell), cell) if not (isinstance(cell, float) and cell != cell) else ("nan",)
        hit = cache.get(k)
        if hit is None:
            hit = cache[k] = parse_cell(cell, spec, codebook, excel=excel)
        value, err = hit
        if err:
            errs.append((line, cell, err))
        values.append(value)
    return values, errs


def _other_label(spec: dict, codebook: dict | None) -> str:
    items = cbk.codes(spec["liste"], codebook)
    return str(items.get("autre", "Autre"))


def _reduce_to_list(values: list, spec: dict, codebook: dict | None) -> tuple[list, int]:
    """Free text reduced to the labels of ``codes.<liste>`` (code or label,
    case and accents ignored); any other non-empty value becomes the list's
    ``autre`` label. Returns the values and how many were replaced."""
    lookup = cbk.code_lookup(spec["liste"], codebook)
    labels = cbk.codes(spec["liste"], codebook)
    other = _other_label(spec, codebook)
    memo: dict = {}
    out, n = [], 0
    for v in values:
        if v is None:
            out.append(None)
            continue
        hit = memo.get(v)
        if hit is None:
            code = lookup.get(cbk.normalize_name(v))
            hit = memo[v] = (other, True) if code is None else (str(labels[code]), False)
        out.append(hit[0])
        n += hit[1]
    return out, n


def type_table(raw: pd.DataFrame, table: str, fichier: str, codebook: dict | None = None, excel: bool = False) -> tuple[TypedTable, list[Problem]]:
    """Map headers and parse every cell of ``raw`` (cells as written, index =
    spreadsheet line) by the codebook types of ``table``.

    Returns the typed table (every codebook column present, missing optional
    ones filled with NA; ``drop`` columns such as ``commentaire`` are never
    copied) and the Problems: unknown column (warning), two headers for one
    column, missing required column, unreadable cell (errors), optional
    columns absent (one warning).
    """
    specs = cbk.columns(table, codebook)
    lookup = cbk.header_lookup(table, codebook)
    problems: list[Problem] = []
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    unknown: list[Problem] = []
    for j, header in enumerate(raw.columns):
        name = lookup.get(cbk.normalize_name(header))
        if name is None:
            # the header itself is never quoted: without a header row it is
            # the first person's data, and a file's headers can hold names
            close = difflib.get_close_matches(cbk.normalize_name(header), list(lookup), n=1, cutoff=0.75)
            hint = f"Son en-tête ressemble à « {lookup[close[0]]} » : renommez-la ainsi si elle doit être lue. " if close else ""
            unknown.append(Problem(
                fichier, f"La colonne n° {j + 1} a un en-tête inconnu : elle est ignorée (l'en-tête n'est pas recopié ici).",
                f"{hint}Sinon renommez-la comme dans le modèle (voir le dictionnaire des données) ou supprimez-la.",
                gravite="avertissement"))
            continue
        if name in headers:
            problems.append(Problem(
                fichier, f"Deux colonnes correspondent à « {name} » : « {headers[name]} » et « {header} ».",
                "Gardez une seule de ces deux colonnes.", colonne=str(header)))
            continue
        headers[name] = str(header)
        positions[name] = j
    if not headers and len(raw.columns):
        # nothing recognised: the first row is data, not headers (or the
        # wrong file); its cells must not be echoed as "unknown columns"
        return TypedTable(table, fichier, pd.DataFrame(index=raw.index), pd.DataFrame(index=raw.index), {}, set()), [Problem(
            fichier, f"Aucune colonne reconnue parmi les {len(raw.columns)} colonnes du fichier (ligne d'en-tête absente ?) : le tableau n'est pas lu.",
            f"La première ligne doit porter les noms des colonnes du modèle de la table « {table} » (cae-impact templates) ; "
            "ajoutez-la, ou vérifiez qu'il s'agit du bon fichier.", ligne=1)]
    problems += unknown
    missing_optional = []
    for name, spec in specs.items():
        if name not in headers and not spec.get("drop"):
            if spec.get("required"):
                problems.append(Problem(
                    fichier, f"Colonne obligatoire absente : « {name} » ({spec.get('label', name)}).",
                    f"Ajoutez une colonne « {name} » (voir le modèle de la table « {table} »).", colonne=name))
            else:
                missing_optional.append(name)
    if missing_optional:
        problems.append(Problem(
            fichier, "Colonnes facultatives absentes : " + ", ".join(f"« {c} »" for c in missing_optional) + " ; les résultats qui en dépendent seront omis.",
            "Ajoutez-les si vous disposez de ces informations.", gravite="avertissement"))

    index = raw.index
    data: dict[str, pd.Series] = {}
    raw_canon: dict[str, pd.Series] = {}
    failures: set = set()
    for name, spec in specs.items():
        if spec.get("drop"):
            continue
        kind = spec.get("type", "text")
        if name not in headers:
            data[name] = _empty_column(kind, index)
            raw_canon[name] = pd.Series([None] * len(index), index=index, dtype=object)
            continue
        cells = raw.iloc[:, positions[name]]
        raw_canon[name] = cells
        values, errs = _parse_column(cells, spec, codebook, excel)
        for line, cell, err in errs:
            failures.add((name, int(line)))
            problems.append(Problem(fichier, err[0], err[1], ligne=int(line), colonne=headers[name], valeur=shown_value(cell, spec)))
        if spec.get("liste"):
            values, n_other = _reduce_to_list(values, spec, codebook)
            if n_other:
                problems.append(Problem(
                    fichier, f"{n_other} valeur(s) hors de la liste « {spec['liste']} » remplacée(s) par « {_other_label(spec, codebook)} » "
                    "(le texte saisi n'est pas conservé).",
                    "Choisissez les valeurs dans la liste du dictionnaire des données si vous voulez qu'elles soient distinguées.",
                    colonne=headers[name], gravite="avertissement"))
        data[name] = _to_dtype(values, kind, index)
    frame = pd.DataFrame(data, index=index)
    raw_frame = pd.DataFrame(raw_canon, index=index)
    return TypedTable(table, fichier, frame, raw_frame, headers, failures), problems


# ---------------------------------------------------------------------------
# 2. Schema from the codebook
# ---------------------------------------------------------------------------


def build_schema(table: str, level: str = "erreur", codebook: dict | None = None) -> tuple[pa.DataFrameSchema, dict]:
    """A pandera schema for the typed ``table`` built from the codebook.

    ``level="erreur"``: dtypes, ``required`` (not nullable), ``unique``
    (NA ignored), ``min``/``max``, accepted codes, ``unique_together``.
    ``level="avertissement"``: the plausible ranges ``warn_min``/``warn_max``.
    Returns the schema and ``{(column, check number): (message, correction)}``
    (the check's position in the column, as in pandera's ``failure_cases``)
    used to translate failures into French.
    """
    messages: dict[tuple[str, str], tuple[str, str]] = {}
    cols = {}
    for name, spec in cbk.columns(table, codebook).items():
        if spec.get("drop"):
            continue
        kind = spec.get("type", "text")
        label = spec.get("label", name)
        checks = []
        if level == "erreur":
            grouped = kind != "integer"  # the codebook's integers are years
            if "min" in spec:
                checks.append(pa.Check.ge(spec["min"], name="min"))
                messages[(name, len(checks) - 1)] = (f"La valeur doit être supérieure ou égale à {fmt_num(spec['min'], grouped)}.", f"Corrigez « {label} » sur cette ligne.")
            if "max" in spec:
                checks.append(pa.Check.le(spec["max"], name="max"))
                messages[(name, len(checks) - 1)] = (f"La valeur doit être inférieure ou égale à {fmt_num(spec['max'], grouped)}.", f"Corrigez « {label} » sur cette ligne.")
            if kind in ("code", "scale"):
                allowed = list(cbk.codes(spec["codes"], codebook))
                if kind == "code":
                    allowed = [str(c) for c in allowed]
                    msg = "Valeur non reconnue."
                else:
                    msg = f"Réponse hors de l'échelle ({min(allowed)} à {max(allowed)})."
                checks.append(pa.Check.isin(allowed, name="codes"))
                messages[(name, len(checks) - 1)] = (msg, f"Valeurs acceptées : {accepted_codes_text(spec['codes'], codebook)}.")
            cols[name] = pa.Column(DTYPES[kind], nullable=not spec.get("required", False), unique=bool(spec.get("unique")), checks=checks, required=True)
        else:
            if "warn_min" in spec:
                checks.append(pa.Check.ge(spec["warn_min"], name="warn_min"))
                messages[(name, len(checks) - 1)] = (f"Valeur inhabituelle (moins de {fmt_num(spec['warn_min'])}).", "Vérifiez cette valeur ; si elle est juste, ignorez cet avertissement.")
            if "warn_max" in spec:
                checks.append(pa.Check.le(spec["warn_max"], name="warn_max"))
                messages[(name, len(checks) - 1)] = (f"Valeur inhabituelle (plus de {fmt_num(spec['warn_max'])}).", "Vérifiez cette valeur ; si elle est juste, ignorez cet avertissement.")
            if checks:
                cols[name] = pa.Column(None, nullable=True, checks=checks, required=True)
    unique = (codebook or cbk.load_codebook())["tables"][table].get("unique_together")
    kwargs = {"unique": unique, "report_duplicates": "all"} if (unique and level == "erreur") else {}
    return pa.DataFrameSchema(cols, coerce=False, **kwargs), messages


def _first_lines(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    """For each row, the spreadsheet line of the first row with the same values in ``cols``."""
    key = frame[cols].astype(object).map(lambda v: "\x00" if pd.isna(v) else str(v)).agg("\x1f".join, axis=1)
    lines = pd.Series(frame.index, index=frame.index)
    return lines.groupby(key.values).transform("min")


def _int_or_none(x: Any) -> int | None:
    try:
        return None if x is None or pd.isna(x) else int(x)
    except (TypeError, ValueError):
        return None


def schema_problems(tt: TypedTable, level: str = "erreur", codebook: dict | None = None) -> list[Problem]:
    """Validate ``tt.frame`` lazily with :func:`build_schema` and translate
    every failure case into a French Problem (line, column as written, value
    as written). Cells that already failed to parse are not reported again."""
    schema, messages = build_schema(tt.table, level, codebook)
    try:
        schema.validate(tt.frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
    specs = cbk.columns(tt.table, codebook)
    gravite = "erreur" if level == "erreur" else "avertissement"
    unique_cols = list(schema.unique or [])
    problems: list[Problem] = []
    seen: set = set()
    for rec in fc.to_dict("records"):
        col, check, idx = rec.get("column"), str(rec.get("check")), rec.get("index")
        line = None if idx is None or (isinstance(idx, float) and pd.isna(idx)) else int(idx)
        if check == "multiple_fields_uniqueness":
            if line is None or (("__together__", line) in seen) or any(c not in tt.headers for c in unique_cols):
                continue  # an absent column was reported once by type_table
            if tt.frame.loc[line, unique_cols].isna().any():
                continue  # a missing or unreadable key cell is reported on its own
            seen.add(("__together__", line))
            first = int(_first_lines(tt.frame, unique_cols).loc[line])
            if first == line:
                continue  # report the repeats, pointing to the first row
            names = " et ".join(f"« {tt.header(c)} »" for c in unique_cols)
            problems.append(Problem(
                tt.fichier, f"Ligne en double : même {names} qu'à la ligne {first}.",
                "Gardez une seule ligne par combinaison (additionnez les montants si besoin).",
                ligne=line, colonne=tt.header(unique_cols[-1]), valeur=shown_value(tt.raw.at[line, unique_cols[-1]], specs[unique_cols[-1]]), gravite=gravite))
            continue
        if col is None or col not in specs or (col, line) in seen or col not in tt.headers:
            continue  # absent columns were reported once by type_table
        spec = specs[col]
        raw_value = tt.raw.at[line, col] if line is not None and line in tt.raw.index else rec.get("failure_case")
        if check == "not_nullable":
            if (col, line) in tt.parse_failures:
                continue
            msg, fix = "Valeur obligatoire manquante.", f"Renseignez « {spec.get('label', col)} » sur cette ligne."
        elif check == "field_uniqueness":
            first = int(_first_lines(tt.frame, [col]).loc[line])
            if first == line:
                continue
            msg = f"Valeur en double : déjà présente à la ligne {first}."
            fix = "Chaque valeur doit être unique dans cette colonne : corrigez ou fusionnez les lignes en double."
        elif (col, _int_or_none(rec.get("check_number"))) in messages:
            msg, fix = messages[(col, _int_or_none(rec.get("check_number")))]
            guess = suggest_code(raw_value, spec["codes"], codebook) if check.startswith(("codes", "isin")) and spec.get("type") == "code" else None
            if guess:
                msg = f"{msg[:-1]} : vouliez-vous dire « {guess} » ({cbk.label_of(spec['codes'], guess, codebook)}) ?"
        elif check.startswith("dtype"):
            msg, fix = "Type de colonne inattendu.", "Vérifiez le contenu de cette colonne."
        else:  # pragma: no cover - every codebook check has a message
            msg, fix = f"Contrôle « {check} » non respecté.", "Corrigez la valeur."
        seen.add((col, line))
        problems.append(Problem(tt.fichier, msg, fix, ligne=line, colonne=tt.header(col), valeur=shown_value(raw_value, spec), gravite=gravite))
    return problems


def _blank_mask(s: pd.Series) -> pd.Series:
    """:func:`~analysis.intake.reading.is_blank` over a column (vectorised for text)."""
    if pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_object_dtype(s.dtype):
        return s.isna() | s.str.strip(" \u00a0\u202f\u2009\u2007\t\r\n").eq("").fillna(True)
    return s.map(is_blank)


def mostly_empty_problems(tt: TypedTable, codebook: dict | None = None) -> list[Problem]:
    """Warn for an optional column the user gave but left mostly empty
    (share of empty cells > :data:`MOSTLY_EMPTY_SHARE`). Optional dates and
    columns required only under a condition (e.g. exit reason) are
    naturally sparse and exempt."""
    if tt.rows == 0:
        return []
    exempt = {c for t, c, _ in profile_rules()["obligatoire_si"] if t == tt.table}
    out = []
    for col, spec in cbk.columns(tt.table, codebook).items():
        if col not in tt.headers or spec.get("required") or spec.get("type") == "date" or col in exempt or spec.get("drop"):
            continue
        share = float(_blank_mask(tt.raw[col]).mean())
        if share > MOSTLY_EMPTY_SHARE:
            out.append(Problem(
                tt.fichier, f"Colonne presque vide : {round(100 * share)} % des lignes ne sont pas renseignées.",
                "Complétez-la si possible ; sinon les résultats qui en dépendent porteront sur peu de personnes.",
                colonne=tt.header(col), gravite="avertissement"))
    return out


# ---------------------------------------------------------------------------
# 3. Cross-column and cross-table rules
# ---------------------------------------------------------------------------


def cross_table_problems(tables: dict[str, TypedTable], info: dict | None = None, codebook: dict | None = None) -> list[Problem]:
    """PROTOCOL §2 rules spanning columns or tables (plain pandas):

    - ``references`` in the codebook (``activite.id``, ``questionnaire.id``
      → ``entrepreneurs.id``): the id must exist there (error);
    - profile ``regles.pas_avant``: a date not before the entry date (error);
    - ``regles.obligatoire_si``: e.g. the exit reason required with an exit date (error);
    - ``regles.age``: age at entry = entry year − birth year within the
      codebook's ``age.plausible_min``–``plausible_max`` (error);
    - ``regles.periode``: entry after the end of ``periode`` or exit
      before its start (warning: the person was not present in the period).
    """
    cb = codebook or cbk.load_codebook()
    from analysis.method import profile as profiles

    prof = profiles.current()
    rules = profile_rules(prof)
    people = prof.people_table
    problems: list[Problem] = []
    # references
    for tname, tt in tables.items():
        for col, spec in cbk.columns(tname, cb).items():
            ref = spec.get("references")
            if not ref or col not in tt.frame:
                continue
            rtable, rcol = ref.split(".")
            if rtable not in tables or rcol not in tables[rtable].headers or col not in tt.headers:
                continue  # an absent column was reported once by type_table
            known = set(tables[rtable].frame[rcol].dropna())
            vals = tt.frame[col]
            bad = vals.notna() & ~vals.isin(known)
            for line in vals.index[bad]:
                problems.append(Problem(
                    tt.fichier, f"Identifiant absent du fichier {tables[rtable].fichier}.",
                    f"Écrivez l'identifiant exactement comme dans {tables[rtable].fichier}, ou ajoutez la personne à ce fichier.",
                    ligne=int(line), colonne=tt.header(col), valeur=shown_value(tt.raw.at[line, col], spec)))
    ent = tables.get(people)
    if ent is not None:
        f, specs = ent.frame, cbk.columns(people, cb)
        for t, later, ref in rules["pas_avant"]:
            if t != ent.table or later not in f or ref not in f:
                continue
            bad = f[later].notna() & f[ref].notna() & (f[later] < f[ref])
            for line in f.index[bad]:
                problems.append(Problem(
                    ent.fichier, f"« {specs[later].get('label', later)} » est antérieure à « {specs[ref].get('label', ref)} » ({fr_date(f.at[line, ref])}).",
                    "Corrigez l'une des deux dates (jour et mois inversés ?).",
                    ligne=int(line), colonne=ent.header(later), valeur=shown_value(ent.raw.at[line, later], specs[later])))
        for t, col, cond in rules["obligatoire_si"]:
            if t != ent.table or col not in f or cond not in f:
                continue
            parsed = pd.Series([(col, int(i)) not in ent.parse_failures for i in f.index], index=f.index, dtype=bool)
            bad = f[cond].notna() & f[col].isna() & parsed
            for line in f.index[bad]:
                problems.append(Problem(
                    ent.fichier, f"« {specs[col].get('label', col)} » manquant alors que « {specs[cond].get('label', cond)} » est renseignée.",
                    f"Indiquez « {specs[col].get('label', col)} » : {accepted_codes_text(specs[col]['codes'], cb)}." if specs[col].get("codes") else f"Renseignez « {specs[col].get('label', col)} ».",
                    ligne=int(line), colonne=ent.header(col) if col in ent.headers else col))
        t, by, entry = rules["age"] or (None, None, None)
        if "age" in cb and by in f and entry in f:
            lo, hi = cb["age"]["plausible_min"], cb["age"]["plausible_max"]
            age = f[entry].dt.year.astype("Int64") - f[by]
            bad = (age.notna() & ((age < lo) | (age > hi))).fillna(False).astype(bool)
            for line in f.index[bad]:
                problems.append(Problem(
                    ent.fichier, f"Année de naissance peu plausible : {int(age.loc[line])} ans à l'entrée (attendu entre {lo} et {hi} ans).",
                    "Vérifiez l'année de naissance (quatre chiffres) et la date d'entrée.",
                    ligne=int(line), colonne=ent.header(by), valeur=shown_value(ent.raw.at[line, by], {})))
        desc_file = prof.description_file
        if info and isinstance(info.get("periode"), dict) and rules["periode"]:
            t, entry, exit_ = rules["periode"]
            try:
                debut, fin = pd.Timestamp(info["periode"]["debut"]), pd.Timestamp(info["periode"]["fin"])
            except (KeyError, ValueError, TypeError):
                debut = fin = None
            if debut is not None:
                for line in f.index[(f[entry] > fin).fillna(False).astype(bool)]:
                    problems.append(Problem(
                        ent.fichier, f"Entrée après la fin de la période étudiée ({fr_date(fin)}).",
                        f"Vérifiez la date ; cette personne n'était pas présente pendant la période de {desc_file}.",
                        ligne=int(line), colonne=ent.header(entry), valeur=shown_value(ent.raw.at[line, entry], {}), gravite="avertissement"))
                for line in f.index[(f[exit_] < debut).fillna(False).astype(bool)]:
                    problems.append(Problem(
                        ent.fichier, f"Sortie avant le début de la période étudiée ({fr_date(debut)}).",
                        f"Vérifiez la date ; cette personne n'était pas présente pendant la période de {desc_file}.",
                        ligne=int(line), colonne=ent.header(exit_), valeur=shown_value(ent.raw.at[line, exit_], {}), gravite="avertissement"))
    return problems


def plausible_years(info: dict | None, codebook: dict | None = None) -> tuple[int, int | None]:
    """The first and last plausible calendar years of a CAE's dates (codebook
    ``limites``): from 1 January of the later of ``annee_creation`` (cae.yml)
    and ``dates_annee_min``, to 31 December of the year of ``periode.fin``
    plus ``dates_ans_apres_periode`` (None without a period).

    >>> plausible_years({"annee_creation": 2004, "periode": {"debut": "2019-01-01", "fin": "2019-12-31"}})
    (2004, 2021)
    >>> plausible_years(None)
    (1980, None)
    """
    lim = (codebook or cbk.load_codebook())["limites"]
    first = int(lim["dates_annee_min"])
    info = info or {}
    if isinstance(info.get("annee_creation"), int):
        first = max(first, info["annee_creation"])
    last = None
    try:
        last = pd.Timestamp(info["periode"]["fin"]).year + int(lim["dates_ans_apres_periode"])
    except (KeyError, TypeError, ValueError):
        pass
    return first, last


def implausible_date_problems(tables: dict[str, TypedTable], info: dict | None = None, codebook: dict | None = None) -> list[Problem]:
    """Warnings for dates (every ``date`` column of the codebook) and years
    (:data:`YEAR_COLUMNS`) outside :func:`plausible_years`: possible in a
    file, hardly in a CAE's history (PROTOCOL §2, "Bad input": an
    implausible but possible value is a warning)."""
    from analysis.method import profile as profiles

    prof = profiles.current()
    cb = codebook or cbk.load_codebook()
    first, last = plausible_years(info, cb)
    creation = (info or {}).get("annee_creation")
    why_first = (f"création {prof.term('structure.du')} en {creation} (annee_creation dans {prof.description_file})"
                 if isinstance(creation, int) and creation >= first else f"aucune date d'avant {first} n'est attendue")
    why_last = (f"plus de {cb['limites']['dates_ans_apres_periode']} ans après la fin de la période étudiée "
                f"({fr_date((info or {}).get('periode', {}).get('fin'))})" if last is not None else "")
    out: list[Problem] = []
    for tname, tt in tables.items():
        specs = cbk.columns(tname, cb)
        for col, spec in specs.items():
            is_year = (tname, col) in YEAR_COLUMNS
            if col not in tt.headers or not (spec.get("type") == "date" or is_year):
                continue
            s = tt.frame[col]
            years = (s.astype("Int64") if is_year else s.dt.year.astype("Int64"))
            early = (years < first).fillna(False).astype(bool)
            late = ((years > last) if last is not None else pd.Series(False, index=s.index)).fillna(False).astype(bool)
            what = "Année" if is_year else "Date"
            for line in s.index[early]:
                out.append(Problem(
                    tt.fichier, f"{what} peu plausible : antérieure à {first} ; {why_first}.",
                    "Vérifiez l'année (une date vide d'Excel s'affiche parfois 00/01/1900) ; si la valeur est juste, ignorez cet avertissement.",
                    ligne=int(line), colonne=tt.header(col), valeur=shown_value(tt.raw.at[line, col], spec), gravite="avertissement"))
            for line in s.index[late]:
                out.append(Problem(
                    tt.fichier, f"{what} peu plausible : postérieure à {last}, {why_last}.",
                    "Vérifiez l'année (quatre chiffres) ; si la valeur est juste, ignorez cet avertissement.",
                    ligne=int(line), colonne=tt.header(col), valeur=shown_value(tt.raw.at[line, col], spec), gravite="avertissement"))
    return out


def validate_typed(tables: dict[str, TypedTable], info: dict | None = None, codebook: dict | None = None) -> list[Problem]:
    """Schema errors, plausibility warnings, mostly-empty columns and cross rules for typed tables;
    implausible dates (:func:`implausible_date_problems`) on cells no other rule flagged."""
    out: list[Problem] = []
    for tt in tables.values():
        out += schema_problems(tt, "erreur", codebook)
        out += schema_problems(tt, "avertissement", codebook)
        out += mostly_empty_problems(tt, codebook)
    out += cross_table_problems(tables, info, codebook)
    flagged = {(p.fichier, p.ligne, p.colonne) for p in out}
    out += [p for p in implausible_date_problems(tables, info, codebook) if (p.fichier, p.ligne, p.colonne) not in flagged]
    return out


# ---------------------------------------------------------------------------
# the description file (cae.yml for the default profile)
# ---------------------------------------------------------------------------


def _as_date(value: Any) -> pd.Timestamp | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


def read_description(path: Path | str, codebook: dict | None = None) -> tuple[dict | None, list[Problem]]:
    """Read and check a structure's description file (PROTOCOL §2; its name
    and codebook section come from the profile, ``description.fichier`` and
    ``description.section_codebook``: ``cae.yml``/``cae_yml`` for the default
    profile): YAML syntax, required keys (section ``required``; keys of
    ``optional`` are accepted too), the code of every key ``K`` for which the
    section has ``K_codes`` (code or label), the profile's
    ``description.annees`` keys a year, ``periode`` two dates with
    ``debut`` ≤ ``fin``, ``ressources`` non-negative amounts, the
    ``description.nombres_positifs`` keys ≥ 0. Returns the description with
    ISO date strings and codes, or None with the errors."""
    from analysis.method import profile as profiles

    prof = profiles.current()
    fname = prof.description_file
    cb = codebook or cbk.load_codebook()
    rules = cb[prof.description_section]
    path = Path(path)
    name = path.name
    if not path.exists():
        return None, [Problem(name, f"Fichier {fname} absent : la description {prof.term('structure.du')} est obligatoire.",
                              f"Copiez le modèle {fname} (commande « cae-impact templates DOSSIER ») dans le dossier {prof.term('structure.du')} et complétez-le.")]
    lim = cb["limites"]
    try:
        size = path.stat().st_size
        if size > float(lim["yaml_taille_max_ko"]) * 1000:
            return None, [Problem(name, f"Le fichier {fname} pèse {size / 1000:.0f} ko, au-delà de la limite de {lim['yaml_taille_max_ko']} ko : il n'est pas lu.".replace(".", ","),
                                  f"Repartez du modèle {fname} (commande « cae-impact templates DOSSIER ») : quelques lignes suffisent.")]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(name, f"Le fichier {fname} ne peut pas être ouvert ({exc.strerror}).", "Vérifiez que vous avez le droit de le lire.")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            return None, [Problem(name, f"Le fichier {fname} n'est pas un texte lisible.", "Enregistrez-le comme texte brut en UTF-8.")]
    try:
        n_alias = count_yaml_aliases(text)
        if n_alias > int(lim["yaml_alias_max"]):
            return None, [Problem(name, f"Le fichier {fname} contient {n_alias} renvois YAML (« *nom »), au-delà de la limite de {lim['yaml_alias_max']} : il n'est pas lu.",
                                  f"Écrivez chaque valeur en toutes lettres, sans ancres (« &nom ») ni renvois (« *nom ») ; comparez avec le modèle {fname}.")]
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or "syntaxe YAML invalide"
        return None, [Problem(name, f"Le fichier {fname} est mal formé ({what}).",
                              "Vérifiez l'indentation (espaces, pas de tabulations), les deux-points après chaque clé et les guillemets ; comparez avec le modèle.",
                              ligne=line)]
    if not isinstance(data, dict):
        return None, [Problem(name, f"Le fichier {fname} ne contient pas une liste de clés « clé: valeur ».", f"Repartez du modèle {fname}.")]
    problems: list[Problem] = []

    def err(msg, fix, key, value=None):
        problems.append(Problem(name, msg, fix, colonne=key, valeur=None if value is None else str(value)))

    for key in rules["required"]:
        if key not in data:
            err(f"Clé obligatoire absente : « {key} ».", f"Ajoutez la ligne « {key}: … » (voir le modèle {fname}).", key)
        elif data[key] is None or (isinstance(data[key], str) and not data[key].strip()):
            err(f"Valeur vide pour la clé « {key} ».", f"Écrivez la valeur après « {key}: » (voir l'exemple du modèle {fname}).", key)
    known = set(rules["required"]) | set(rules.get("optional") or []) | {"slug", prof.get("description.cle_profil")}
    unknown = [k for k in data if k not in known]
    if unknown:  # counted, not quoted (a key can be anything, a name or a phone number), and dropped
        close = sorted({c for k in unknown for c in difflib.get_close_matches(cbk.normalize_name(str(k)), sorted(str(x) for x in known if x), n=1, cutoff=0.75)})
        problems.append(Problem(
            name, f"{len(unknown)} clé(s) inconnue(s) : elle(s) est (sont) ignorée(s) et ne sont pas conservée(s).",
            (f"Vérifiez l'orthographe des clés (voir le modèle {fname})" + (" ; clé(s) attendue(s) proche(s) : " + ", ".join(f"« {c} »" for c in close) if close else "") + "."),
            gravite="avertissement"))
    info: dict = {k: v for k, v in data.items() if k in known}
    coded = [k[: -len("_codes")] for k in rules if k.endswith("_codes") and k != "ressources_codes"]
    for key in coded:
        codes_key = f"{key}_codes"
        if data.get(key) not in (None, ""):
            allowed = rules[codes_key]
            lookup = {cbk.normalize_name(c): c for c in allowed} | {cbk.normalize_name(lab): c for c, lab in allowed.items()}
            code = lookup.get(cbk.normalize_name(data[key]))
            if code is None:
                err(f"Valeur non reconnue pour « {key} ».", "Valeurs acceptées : " + ", ".join(allowed) + ".", key, data[key])
            else:
                info[key] = code
    for key in prof.get("description.annees") or []:
        if data.get(key) in (None, ""):
            continue
        try:
            year = parse_integer(data[key])
            if not 1900 <= year <= dt.date.today().year:
                raise ValueError
            info[key] = year
        except ValueError:
            err(f"« {key} » doit être une année sur quatre chiffres.", f"Écrivez par exemple « {key}: 2001 ».", key, data[key])
    per = data.get("periode")
    if per not in (None, ""):
        if not isinstance(per, dict) or "debut" not in per or "fin" not in per:
            err("« periode » doit donner « debut » et « fin ».", "Écrivez par exemple « periode: {debut: 2019-01-01, fin: 2019-12-31} ».", "periode", None)
        else:
            d0, d1 = _as_date(per["debut"]), _as_date(per["fin"])
            for k, d in (("debut", d0), ("fin", d1)):
                if per[k] in (None, ""):
                    err(f"Valeur vide pour la clé « periode.{k} ».", "Écrivez la date au format AAAA-MM-JJ (par exemple 2019-01-01).", f"periode.{k}")
                elif d is None:
                    why = impossible_date_text(per[k])
                    err(f"Date impossible pour « periode.{k} » : {why}." if why else f"Date illisible pour « periode.{k} ».",
                        "Écrivez la date au format AAAA-MM-JJ ou JJ/MM/AAAA.", f"periode.{k}", per[k])
            if d0 is not None and d1 is not None:
                if d1 < d0:
                    err("La période est incohérente : « fin » est avant « debut ».", "Corrigez les dates de la période.", "periode", f"{fr_date(d0)} – {fr_date(d1)}")
                info["periode"] = {"debut": d0.date().isoformat(), "fin": d1.date().isoformat()}
    res = data.get("ressources")
    if res not in (None, ""):
        if not isinstance(res, dict):
            err("« ressources » doit lister les montants par clé.", f"Repartez du modèle {fname}.", "ressources", None)
        else:
            extra = [k for k in res if k not in rules["ressources_required"]]
            if extra:
                problems.append(Problem(name, f"{len(extra)} clé(s) inconnue(s) sous « ressources » : elle(s) est (sont) ignorée(s) et ne sont pas conservée(s).",
                                        f"Gardez seulement les clés du modèle {fname} sous « ressources ».", colonne="ressources", gravite="avertissement"))
            clean = {k: v for k, v in res.items() if k in rules["ressources_required"]}
            for key in rules["ressources_required"]:
                if key not in res:
                    err(f"Clé obligatoire absente : « ressources.{key} ».", f"Ajoutez « {key}: … » sous « ressources » (0 si aucun).", f"ressources.{key}")
                    continue
                if res[key] in (None, ""):
                    err(f"Valeur vide pour la clé « ressources.{key} ».", f"Écrivez le montant après « {key}: » (0 si aucun).", f"ressources.{key}")
                    continue
                try:
                    x = parse_number(res[key])
                    if x < 0:
                        raise ValueError
                    clean[key] = x
                except ValueError:
                    err(f"« ressources.{key} » doit être un nombre positif ou nul.", "Écrivez un montant sans texte, par exemple 95000.", f"ressources.{key}", res[key])
            problems.extend(zero_resource_problems(clean, name, rules["ressources_required"], cb["limites"]["ressources_positives"]))
            info["ressources"] = clean
    for key in prof.get("description.nombres_positifs") or []:
        if data.get(key) in (None, ""):
            continue
        try:
            x = parse_number(data[key])
            if x < 0:
                raise ValueError
            info[key] = x
        except ValueError:
            err(f"« {key} » doit être un nombre positif ou nul.", f"Écrivez par exemple « {key}: 4.5 ».", key, data[key])
    if any(p.is_error for p in problems):
        return None, problems
    return _jsonable(info), problems


def zero_resource_problems(ressources: dict, fichier: str, keys: list[str], expected: list[str]) -> list[Problem]:
    """Warnings for resources of cae.yml at 0 where a CAE always has some
    (``expected``: the codebook's ``limites.ressources_positives``), and one
    when every resource of ``keys`` is 0 (the SROI ratio divides by them).
    Negative amounts are errors of :func:`read_cae_yml`."""
    from analysis.method import profile as profiles

    each = profiles.current().term("structure.singulier")
    out = [Problem(fichier, f"« ressources.{k} » vaut 0, alors que chaque {each} en perçoit : montant oublié ?",
                   "Indiquez le montant de la période ; s'il est vraiment nul, ignorez cet avertissement.",
                   colonne=f"ressources.{k}", valeur="0", gravite="avertissement")
           for k in expected if ressources.get(k) == 0]
    if keys and all(ressources.get(k) == 0 for k in keys):
        out.append(Problem(fichier, "Toutes les ressources valent 0 : le ratio SROI (valeur créée rapportée aux ressources) ne pourra pas être calculé.",
                           "Indiquez sous « ressources » les montants de la période (subventions, contribution des entrepreneurs, autres produits, bénévolat).",
                           colonne="ressources", gravite="avertissement"))
    return out


def count_yaml_aliases(text: str) -> int:
    """Number of aliases (``*name``) in a YAML text, from the parser's event
    stream: nothing is constructed, so an alias bomb ("billion laughs")
    costs the length of its text, not of its expansion."""
    return sum(1 for ev in yaml.parse(text, Loader=yaml.SafeLoader) if isinstance(ev, yaml.AliasEvent))


#: The default profile's name of :func:`read_description` (``cae.yml``).
read_cae_yml = read_description


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    return obj
