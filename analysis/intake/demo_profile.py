"""Deterministic demo data for any study profile, driven by its ``demo.yml``.

The default profile keeps its own generator (``analysis.intake.demo``, whose
files are frozen byte for byte by the backtest); a profile whose
``profile.yml: fichiers.demo`` names a ``demo.yml`` gets this one. Everything
study-specific comes from the profile: the tables, column types, codes,
labels and reverse items from its codebook; the people table
(``tables.personnes``), the activity grain (``tables.grain_activite``), the
description file and its codebook section from ``profile.yml``; sizes,
distributions and file styles from ``demo.yml``.

How ``demo.yml`` is read (one ``numpy.random.default_rng(graine + index)`` per
structure; same settings, same bytes):

- ``lieux`` / ``structures``: one entry per structure: ``slug``, the keys of
  the description file, the size under the people table's name, the file
  style (``format`` xlsx | csv_fr | csv_utf8, ``entetes`` labels | noms,
  ``libelles`` tables written with code labels, ``milliers``,
  ``bizarreries``, ``feuille_lisez_moi``), ``ids`` (erp | email | nom with
  ``motif_id``/``debut_id``), ``questionnaire`` and ``taux_reponse``, and a
  ``false`` flag per optional column left out of the files;
- people: arrival years from ``premiere_annee_arrivee`` to the end of
  ``periode`` with weights ``croissance_arrivees``^k, a log-normal stay
  (``duree_presence``), kept only when present in the period (PROTOCOL §2);
  the birth year from ``age`` and the profile's ``regles.age`` columns;
- a column's distribution is the entry of the table's section whose name is
  the column (or contains it, or is contained in it), optionally suffixed
  ``_par_<key>`` where ``<key>`` is a description key or an earlier column
  (its value selects the row; a missing level falls back to ``autre``). A
  mapping code -> probability (``null``: share of the remainder, or the
  structure's ``p_<...>`` share for the first ``null``), a list of
  probabilities in codebook order, ``[min, max]`` (uniform), ``{mediane,
  sigma}`` (log-normal), or a mapping of lists of texts by description
  value. ``part_<name>_vide`` is the share of blanks. Columns without a
  setting get a uniform draw over their codes or their codebook range;
- activity (``structure_annee``): one row per year of ``annees_activite``;
  ``<col>_par_<n>_<people>``/``<col>_par_<person>`` are rates per n people,
  ``<unit>_par_<other column>`` a log-normal amount per unit of another
  column, ``croissance_annuelle`` the yearly growth back from the last year;
- survey: a latent factor per respondent drives every scale item through an
  ordinal-probit cut of its target marginal (``<prefix>`` list, reversed
  items the list whose name contains ``invers``, ``*_special`` overrides),
  counterfactual codes by the person's columns, the trip model of
  ``modele_trajet``, a ``part_<...>`` percentage from a shifted Beta, fake
  comments; ``part_item_manquant`` blanks.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from analysis.intake import codebook as cbk
from analysis.intake.demo import _choice, _fr_number, _ordinal, _zscore, workbook_bytes


def has_settings(prof) -> bool:
    """True when ``prof`` ships a ``demo.yml`` for this generator."""
    name = prof.get("fichiers.demo")
    return bool(name) and (prof.methodology_dir / Path(name).name).is_file()


def load_settings(prof) -> dict:
    with open(prof.methodology_dir / Path(prof.get("fichiers.demo")).name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _structures(settings: dict) -> list[dict]:
    for key in ("structures", "lieux"):
        if isinstance(settings.get(key), list):
            return settings[key]
    raise ValueError("demo.yml : liste des structures absente (clé « structures » ou « lieux »).")


# ---------------------------------------------------------------- lookups
def _setting(section: dict, col: str, context: dict) -> tuple[object | None, str | None]:
    """(value, key) of ``section`` for column ``col``: exact name, then
    ``<name>_par_<ctx>`` selected by ``context``, then names containing or
    contained in the column (longest first)."""
    if not section:
        return None, None
    names = sorted(section, key=len, reverse=True)

    def singular(name: str) -> str:
        return "_".join(w[:-1] if w.endswith("s") and len(w) > 3 else w for w in name.split("_"))

    def matches(base: str) -> bool:
        b, c = singular(base), singular(col)
        return b == c or (len(b) > 2 and (b in c or c in b))

    for key in names:
        if key == col:
            return section[key], key
    for key in names:
        m = re.fullmatch(r"(.+)_par_([a-z_]+)", key)
        if m and matches(m.group(1)) and m.group(2) in context:
            table = section[key]
            level = context[m.group(2)]
            if isinstance(table, dict):
                return (table.get(level, table.get("autre")), key)
    for key in names:
        if key.startswith("part_") or "_par_" in key:
            continue
        if matches(key):
            return section[key], key
    return None, None


def _by_level(value, context: dict):
    """A mapping keyed by a description value (``types_activite: {coworking: [...]}``)."""
    if isinstance(value, dict):
        for v in context.values():
            if isinstance(v, str) and v in value:
                return value[v]
        return value.get("autre")
    return value


def _probs(value, codes: list, structure: dict) -> list[float]:
    """Probabilities over ``codes`` from a mapping (``null``: remainder) or a list."""
    if isinstance(value, list):
        p = list(value) + [0.0] * (len(codes) - len(value))
        return [float(x) for x in p[: len(codes)]]
    fixed = {c: v for c, v in value.items() if v is not None}
    free = [c for c in value if value[c] is None]
    rest = max(0.0, 1.0 - sum(fixed.values()))
    shares = {c: rest / len(free) for c in free} if free else {}
    # the structure's own share for the first free code (``p_femmes`` for genre F)
    own = [k for k in structure if k.startswith("p_")]
    if free and own:
        first = float(structure[own[0]]) * rest / max(rest, 1e-9) if rest else 0.0
        shares[free[0]] = min(first, rest)
        if len(free) > 1:
            for c in free[1:]:
                shares[c] = (rest - shares[free[0]]) / (len(free) - 1)
    return [float(fixed.get(c, shares.get(c, 0.0))) for c in codes]


def _numeric(rng, value, n: int, spec: dict) -> np.ndarray:
    if isinstance(value, dict) and "mediane" in value:
        return float(value["mediane"]) * np.exp(float(value.get("sigma", 0.5)) * rng.standard_normal(n))
    if isinstance(value, list) and len(value) == 2:
        return rng.uniform(float(value[0]), float(value[1]), n)
    lo = float(spec.get("min", 0))
    hi = float(spec.get("warn_max", spec.get("max", lo + 100)))
    return rng.uniform(lo, hi, n)


# ---------------------------------------------------------------- tables
def _dates(settings: dict, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit dates of ``n`` people present in the period."""
    debut = np.datetime64(str(settings["periode"]["debut"]))
    fin = np.datetime64(str(settings["periode"]["fin"]))
    y0, y1 = int(settings["premiere_annee_arrivee"]), int(str(settings["periode"]["fin"])[:4])
    years = np.arange(y0, y1 + 1)
    w = float(settings.get("croissance_arrivees", 1.0)) ** np.arange(len(years))
    stay = settings.get("duree_presence") or {}
    entries, exits = [], []
    while len(entries) < n:
        m = 3 * n
        y = rng.choice(years, size=m, p=w / w.sum())
        start = np.array([np.datetime64(f"{v}-01-01") for v in y])
        e = start + rng.integers(0, 365, m).astype("timedelta64[D]")
        e = np.minimum(e, fin)
        days = float(stay.get("mediane_annees", 2.0)) * 365.25 * np.exp(float(stay.get("sigma", 0.8)) * rng.standard_normal(m))
        days = np.maximum(days, float(stay.get("min_jours", 30)))
        x = e + days.astype("int64").astype("timedelta64[D]")
        keep = x >= debut
        for a, b in zip(e[keep], x[keep]):
            entries.append(a)
            exits.append(b if b <= fin else np.datetime64("NaT"))
    return np.array(entries[:n], dtype="datetime64[D]"), np.array(exits[:n], dtype="datetime64[D]")


def _ids(structure: dict, ident: dict, rng, n: int) -> list[str]:
    style = structure.get("ids", "erp")
    start = int(structure.get("debut_id", 1))
    if style == "erp":
        pattern = structure.get("motif_id", "ID-{:04d}")
        return [pattern.format(start + i) for i in range(n)]
    prenoms, noms = ident.get("prenoms") or ["Camille"], ident.get("noms") or ["Exemple"]
    first = [prenoms[i % len(prenoms)] for i in range(n)]
    last = [noms[(i // len(prenoms)) % len(noms)] for i in range(n)]
    if style == "email":
        dom = ident.get("domaine_courriel", "exemple.invalid")
        ascii_ = lambda s: re.sub(r"[^a-z]", "", s.lower().translate(str.maketrans("éèêëàâîïôöûüç", "eeeeaaiioouuc")))
        return [f"{ascii_(a)}.{ascii_(b)}{i + 1}@{dom}" for i, (a, b) in enumerate(zip(first, last))]
    return [f"{a} {b} {i + 1}" for i, (a, b) in enumerate(zip(first, last))]


def _column(rng, table: str, col: str, spec: dict, section: dict, context: dict, structure: dict, cb: dict, n: int):
    """Draw one column of ``n`` rows (codes as codes, missing as None/NaN)."""
    value, _ = _setting(section, col, context)
    kind = spec.get("type")
    if kind in ("code", "scale"):
        codes = list(cbk.codes(spec["codes"], cb))
        if value is None:
            usable = [c for c in codes if c not in ("nr", "sans_objet")] or codes
            out = _choice(rng, usable, np.ones(len(usable)), n)
        else:
            out = _choice(rng, codes, _probs(value, codes, structure), n)
        if kind == "scale":
            out = out.astype(float)
    elif kind == "text":
        pool = _by_level(value, context) if value is not None else None
        pool = pool or [f"{spec.get('label', col)} {k}" for k in range(1, 6)]
        out = _choice(rng, list(pool), np.ones(len(pool)), n)
    elif kind in ("number", "integer"):
        out = _numeric(rng, value, n, spec)
        if "max" in spec:
            out = np.minimum(out, float(spec["max"]))
        out = np.round(out) if kind == "integer" else np.round(out, 1)
    elif kind == "date":
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    else:
        out = np.full(n, None, dtype=object)
    blank = section.get(f"part_{col}_vide")
    if blank is None:
        for key, share in section.items():
            m = re.fullmatch(r"part_(.+)_vide", key)
            if m and m.group(1) in col:
                blank = share
    if blank:
        miss = rng.random(n) < float(blank)
        out = np.where(miss, np.nan, out) if out.dtype.kind == "f" else np.where(miss, None, out.astype(object))
    return out


def _people(prof, settings: dict, structure: dict, cb: dict, rng, n: int) -> pd.DataFrame:
    people = prof.people_table
    section = settings.get(people) or {}
    rules = prof.get("regles") or {}
    entry_col, exit_col = (rules.get("periode") or [people, "date_entree", "date_sortie"])[1:3]
    age_col = (rules.get("age") or [None, None, None])[1]
    entry, exit_ = _dates(settings, rng, n)
    cols: dict[str, object] = {}
    context = {k: v for k, v in structure.items() if isinstance(v, str)}
    for col, spec in cbk.columns(people, cb).items():
        if col == "id":
            cols[col] = _ids(structure, settings.get("identites") or {}, rng, n)
        elif col == entry_col:
            cols[col] = entry
        elif col == exit_col:
            cols[col] = exit_
        elif col == age_col:
            a = section.get("age") or {}
            age = np.clip(np.round(float(a.get("moyenne", 40)) + float(a.get("ecart_type", 10)) * rng.standard_normal(n)),
                          float(a.get("min", 18)), float(a.get("max", 70)))
            cols[col] = entry.astype("datetime64[Y]").astype(int) + 1970 - age
        elif structure.get(col) is False:
            continue
        else:
            # per-row context: description keys plus the codes already drawn (per person)
            drawn = [c for c in cols if isinstance(cols[c], np.ndarray) and cols[c].dtype == object]
            keyed = [k for k in section if (m := re.fullmatch(r"(.+)_par_([a-z_]+)", k)) and m.group(2) in drawn
                     and (m.group(1) in col or col in m.group(1))]
            if keyed:
                out = np.empty(n, dtype=object)
                by = re.fullmatch(r".*_par_([a-z_]+)", keyed[0]).group(1)
                for level in pd.unique(cols[by]):
                    rows = np.flatnonzero(cols[by] == level)
                    out[rows] = _column(rng, people, col, spec, section, context | {by: level}, structure, cb, len(rows))
                cols[col] = out
            else:
                cols[col] = _column(rng, people, col, spec, section, context, structure, cb, n)
    df = pd.DataFrame(cols)
    order = np.argsort(df[entry_col].to_numpy(), kind="stable")
    return df.iloc[order].reset_index(drop=True)


def _activity(prof, settings: dict, structure: dict, cb: dict, rng, n_people: int) -> pd.DataFrame:
    """One row per year of ``annees_activite`` for the whole structure."""
    section = settings.get("activite") or {}
    years = [int(y) for y in settings["annees_activite"]]
    g = section.get("croissance_annuelle")
    growth = rng.uniform(*g) if isinstance(g, list) else 0.0
    factor = np.array([(1 + growth) ** (y - years[-1]) for y in years])
    context = {k: v for k, v in structure.items() if isinstance(v, str)}
    people_word = prof.people_table
    person_word = people_word[:-1] if people_word.endswith("s") else people_word
    cols: dict[str, np.ndarray] = {"annee": np.array(years)}
    for col, spec in cbk.columns("activite", cb).items():
        if col in cols or col == "id" or structure.get(col) is False:
            continue
        base = None
        for key, value in section.items():
            m = re.fullmatch(rf"{re.escape(col)}_par_(?:(\d+)_)?({re.escape(people_word)}|{re.escape(person_word)})", key)
            if m:
                per = float(m.group(1) or 1)
                rate = rng.uniform(*value) if isinstance(value, list) else float(value)
                base = rate * n_people / per * np.exp(0.1 * rng.standard_normal(len(years)))
                break
            m = re.fullmatch(r"([a-z]+)_par_([a-z_]+)", key)
            if m and col.startswith(m.group(1) + "_"):
                other = "_".join(w + "s" for w in m.group(2).split("_"))
                if other in cols:
                    base = cols[other] * _numeric(rng, value, len(years), spec)
                    break
        if base is None:
            value, _ = _setting(section, col, context)
            base = _numeric(rng, value, len(years), spec)
        else:
            base = base * factor
        if "max" in spec or "warn_max" in spec:
            base = np.minimum(base, float(spec.get("max", spec.get("warn_max"))))
        cols[col] = np.round(base) if spec.get("type") == "integer" else np.round(base, 0 if base.mean() > 100 else 1)
    return pd.DataFrame(cols)


def _survey(prof, settings: dict, structure: dict, cb: dict, rng, people: pd.DataFrame) -> pd.DataFrame:
    section = settings.get("questionnaire") or {}
    n = len(people)
    r = int(round(n * float(structure.get("taux_reponse", 0.5))))
    resp = np.sort(rng.choice(n, size=r, replace=False))
    pp = people.iloc[resp].reset_index(drop=True)
    w = _zscore(rng.standard_normal(r))  # latent factor of the respondent
    reverse = set(cbk.reverse_items(cb))
    cols: dict[str, np.ndarray] = {}
    groups: dict[str, np.ndarray] = {}
    specials = {k: v for key, val in section.items() if key.endswith("_special") and isinstance(val, dict) for k, v in val.items()}
    context = {k: v for k, v in structure.items() if isinstance(v, str)}
    trip = settings.get("modele_trajet") or section.get("modele_trajet")
    qspecs = cbk.columns("questionnaire", cb)
    for col, spec in qspecs.items():
        if spec.get("references"):
            ref_col = spec["references"].split(".")[1]
            cols[col] = np.where(rng.random(r) < float(section.get("part_id_donne", 0.85)), pp[ref_col].to_numpy(object), None)
            continue
        if spec.get("drop"):
            texts = section.get("commentaires") or ["Rien à ajouter."]
            cols[col] = np.where(rng.random(r) < float(section.get("part_commentaire", 0.2)), _choice(rng, texts, np.ones(len(texts)), r), None)
            continue
        if spec.get("type") == "scale":
            codes = [int(c) for c in cbk.codes(spec["codes"], cb)]
            prefix = col.split("_")[0]
            probs = specials.get(col)
            if probs is None:
                lists = {k: v for k, v in section.items() if isinstance(v, list) and len(v) == len(codes) and all(isinstance(x, (int, float)) for x in v)}
                cand = [k for k in lists if k == spec["codes"] or k == prefix] or [k for k in lists if prefix in k]
                if col in reverse:
                    cand = [k for k in cand if "invers" in k] or [k for k in lists if prefix in k and "invers" in k] or cand
                else:
                    cand = [k for k in cand if "invers" not in k] or cand
                probs = lists[cand[0]] if cand else [1 / len(codes)] * len(codes)
            dim = col.rsplit("_", 1)[0]
            if dim not in groups:
                groups[dim] = 0.7 * w + np.sqrt(1 - 0.49) * rng.standard_normal(r)
            x = 0.8 * groups[dim] + 0.6 * rng.standard_normal(r)
            cols[col] = _ordinal(-x if col in reverse else x, probs, codes[0]).astype(float)
            continue
        person = {c: pp[c].to_numpy(object) for c in pp.columns if pd.api.types.is_object_dtype(pp[c]) or pd.api.types.is_string_dtype(pp[c])}
        keyed = []
        for k in section:
            m = re.fullmatch(r"(.+)_par_([a-z_]+)", k)
            if m and m.group(2) in person and (m.group(1) in col or col in m.group(1)):
                keyed.append(k)
        if keyed and spec.get("type") in ("code", "number", "integer"):
            by = keyed[0][keyed[0].rindex("_par_") + 5:]
            out = np.empty(r, dtype=object if spec.get("type") == "code" else float)
            for level in pd.unique(person[by]):
                rows = np.flatnonzero(person[by] == level)
                out[rows] = _column(rng, "questionnaire", col, spec, section, context | {by: level}, structure, cb, len(rows))
            cols[col] = out
            continue
        value, key = _setting(section, col, context)
        if value is None and col.startswith("part_") and isinstance(section.get("part_lieu", None), dict):
            value = section["part_lieu"]
        if isinstance(value, dict) and {"a", "b"} <= set(value):
            x = 100 * rng.beta(float(value["a"]), float(value["b"]), r) + float(value.get("decalage", 0)) * rng.standard_normal(r)
            cols[col] = np.clip(np.round(x / 5) * 5, spec.get("min", 0), spec.get("max", 100))
            continue
        cols[col] = _column(rng, "questionnaire", col, spec, section, context, structure, cb, r)
    if trip:
        cond = trip["condition"]
        on = np.isin(cols[cond["column"]].astype(object), cond["in"])
        days = np.asarray(cols[trip["jours"]], dtype=float)
        km = _numeric(rng, section.get(trip.get("km_par_jour", "km_aller_retour_par_jour")), r, {}) * np.nan_to_num(days)
        speed = section.get(trip.get("vitesses", "vitesse_km_h")) or {}
        mode = cols[trip["mode"]].astype(object)
        v = np.array([float(speed.get(m, 30)) for m in mode])
        cols[trip["km"]] = np.where(on, np.round(km), 0.0)
        cols[trip["minutes"]] = np.where(on, np.round(km / v * 60 / 5) * 5, 0.0)
        cols[trip["mode"]] = np.where(on, mode, trip.get("sans_objet", "sans_objet"))
    miss_share = float(section.get("part_item_manquant", 0.05))
    for col in list(cols):
        spec = qspecs[col]
        if spec.get("references") or spec.get("drop"):
            continue
        miss = rng.random(r) < miss_share
        v = cols[col]
        cols[col] = np.where(miss, np.nan, v.astype(float)) if v.dtype.kind in "fi" else np.where(miss, None, v)
    out = pd.DataFrame({k: cols[k] for k in qspecs if k in cols})
    return out.iloc[rng.permutation(r)].reset_index(drop=True)


def _description(prof, settings: dict, structure: dict, cb: dict, rng, people: pd.DataFrame, act: pd.DataFrame, seed: int) -> str:
    rules = cb[prof.description_section]
    keys = list(rules["required"]) + list(rules.get("optional") or [])
    n = len(people)
    info: dict = {}
    for key in keys:
        if key == prof.get("description.cle_profil"):
            info[key] = prof.id
        elif key == "periode":
            info[key] = {"debut": dt.date.fromisoformat(str(settings["periode"]["debut"])),
                         "fin": dt.date.fromisoformat(str(settings["periode"]["fin"]))}
        elif key == "ressources":
            res = {}
            draws = settings.get("ressources") or {}
            person = prof.people_table[:-1] if prof.people_table.endswith("s") else prof.people_table
            last = act.iloc[-1] if len(act) else pd.Series(dtype=float)
            for rk in rules.get("ressources_required") or []:
                amount = 0.0
                for dk, dv in draws.items():
                    lo_hi = dv if isinstance(dv, list) else [dv, dv]
                    if dk == rk:
                        amount = rng.uniform(*lo_hi)
                    elif re.fullmatch(rf"[a-z_]+_par_({person}|{prof.people_table})", dk) and rk.startswith(dk.split("_par_")[0]):
                        amount = n * rng.uniform(*lo_hi)
                    elif dk.startswith(f"{rk}_part_"):
                        ref = dk[len(rk) + 6:]
                        col = next((c for c in act.columns if c == ref or "".join(w[0] for w in c.split("_")) == ref), None)
                        amount = float(last.get(col, 0.0)) * rng.uniform(*lo_hi) if col else 0.0
                    else:
                        continue
                    break
                res[rk] = int(round(amount, -2 if amount > 1000 else -1))
            info[key] = res
        elif key in structure:
            info[key] = structure[key]
    head = "".join(f"# {line}\n" for line in str(settings.get("avertissement", "")).format(graine=seed).splitlines())
    return head + yaml.safe_dump(info, allow_unicode=True, sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------------- writers
def _cells(df: pd.DataFrame, table: str, structure: dict, cb: dict) -> list[tuple[str, str, list]]:
    specs = cbk.columns(table, cb)
    labels = table in (structure.get("libelles") or [])
    out = []
    for col in df.columns:
        spec = specs[col]
        kind = spec.get("type")
        s = df[col]
        if kind == "date":
            vals = [None if pd.isna(v) else pd.Timestamp(v).date() for v in s]
        elif kind in ("integer", "scale"):
            vals = [None if pd.isna(v) else int(v) for v in s.to_numpy(object)]
        elif kind == "number":
            vals = [None if pd.isna(v) else float(v) for v in s.to_numpy(object)]
        else:
            vals = [None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in s.to_numpy(object)]
        if labels and kind in ("code", "scale"):
            lm = {str(k): str(v) for k, v in cbk.codes(spec["codes"], cb).items()}
            vals = [None if v is None else lm.get(str(v), str(v)) for v in vals]
        out.append((col, kind, vals))
    return out


def _header(table: str, col: str, structure: dict, cb: dict) -> str:
    return cbk.columns(table, cb)[col].get("label", col) if structure.get("entetes") == "labels" else col


def _write(df: pd.DataFrame, d: Path, table: str, structure: dict, cb: dict, rng, stamp: dt.datetime) -> Path:
    for ext in ("csv", "xlsx"):
        (d / f"{table}.{ext}").unlink(missing_ok=True)
    cells = _cells(df, table, structure, cb)
    if structure.get("format") == "xlsx":
        path = d / f"{table}.xlsx"
        path.write_bytes(workbook_bytes(table, [_header(table, c, structure, cb) for c, _, _ in cells], cells,
                                        bool(structure.get("feuille_lisez_moi")), "demo", stamp))
        return path
    fr = structure.get("format") == "csv_fr"
    thousands = structure.get("milliers", "")
    quirks = bool(structure.get("bizarreries"))
    cols = {}
    for col, kind, vals in cells:
        if kind == "date":
            fmt = "%d/%m/%Y" if fr else "%Y-%m-%d"
            strs = ["" if v is None else v.strftime(fmt) for v in vals]
        elif kind == "number":
            strs = ["" if v is None else (_fr_number(v, 2, thousands) if fr else f"{v:.2f}") for v in vals]
        else:
            strs = ["" if v is None else str(v) for v in vals]
            if quirks and kind in ("code", "text") and col != "id":
                pad = rng.random(len(strs)) < 0.05
                strs = [s + "  " if p and s else s for s, p in zip(strs, pad)]
        cols[_header(table, col, structure, cb)] = strs
    text = pd.DataFrame(cols).to_csv(sep=";" if fr else ",", index=False, lineterminator="\r\n")
    if quirks:
        text += (";" * (len(cols) - 1) + "\r\n") * 2
    path = d / f"{table}.csv"
    path.write_bytes(text.encode("cp1252" if fr else "utf-8-sig", errors="replace"))
    return path


# ---------------------------------------------------------------- public
def draw(prof, structure: dict, index: int, settings: dict | None = None, seed: int | None = None, scale: float = 1.0) -> dict:
    """One structure's tables in memory (codes, not labels): {table: DataFrame
    or None, "description": text}. For inspection only: tests work their
    expected values out from the written files."""
    settings = settings or load_settings(prof)
    seed = int(settings.get("graine", 0) if seed is None else seed)
    cb = cbk.load_codebook(prof.methodology_dir / "codebook.yml")
    rng = np.random.default_rng(seed + index)
    people_table = prof.people_table
    n = max(int(settings.get("effectif_min", 25)), int(round(float(structure[people_table]) * scale)))
    people = _people(prof, settings, structure, cb, rng, n)
    act = _activity(prof, settings, structure, cb, rng, n)
    survey = _survey(prof, settings, structure, cb, rng, people) if structure.get("questionnaire") else None
    desc = _description(prof, settings, structure, cb, rng, people, act, seed)
    tables = {people_table: people, "activite": act, "questionnaire": survey}
    return {"tables": {t: tables.get(t) for t in prof.table_order}, "description": desc, "rng": rng, "codebook": cb}


def generate(raw_dir, prof, n: int | None = None, seed: int | None = None, scale: float | None = 1.0) -> list[str]:
    """Write the first ``n`` demo structures of ``prof``'s demo.yml under
    ``raw_dir/<slug>/``; return their slugs. Deterministic."""
    settings = load_settings(prof)
    structures = _structures(settings)
    n = len(structures) if n is None else n
    if not 1 <= n <= len(structures):
        raise ValueError(f"Le nombre de structures doit être compris entre 1 et {len(structures)} (reçu : {n}).")
    scale = 1.0 if scale is None else float(scale)
    if scale <= 0:
        raise ValueError(f"scale doit être positif (reçu : {scale}).")
    stamp = dt.datetime.fromisoformat(str(settings.get("horodatage_fixe", "2024-01-01T00:00:00")))
    raw = Path(raw_dir)
    slugs = []
    for index, structure in enumerate(structures[:n]):
        out = draw(prof, structure, index, settings, seed, scale)
        d = raw / structure["slug"]
        d.mkdir(parents=True, exist_ok=True)
        (d / prof.description_file).write_bytes(out["description"].encode("utf-8"))
        for table, df in out["tables"].items():
            if df is None:
                for ext in ("csv", "xlsx"):
                    (d / f"{table}.{ext}").unlink(missing_ok=True)
                continue
            _write(df, d, table, structure, out["codebook"], out["rng"], stamp)
        slugs.append(structure["slug"])
    return slugs
