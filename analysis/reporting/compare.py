"""``cae-impact compare``: what a change of method changed in the results.

The current results are compared with a reference: a saved run
(``<out>/runs/<fingerprint>/``, :mod:`analysis.pipeline.runs`), another
methodology folder, or a git revision of ``methodology/`` (both computed by
an incremental run in a scratch copy, reusing every stage the change does
not touch, unless a saved run of that method already exists). The report
says first what changed in the method, in words (which parameter, proxy or
definition, old and new value, under the YAML's French labels), then, for
every indicator, SROI figure and QVT score, per CAE and national: before,
after, difference, and whether the new value leaves the earlier interval.

Masked cells (statistical secret: the value is missing in the result table)
are never shown, only marked ``s``; counts (``n``) are not compared, so two
runs cannot be differenced into a small count.
"""

from __future__ import annotations

import html
import json
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from analysis import config
from analysis.method import loader
from analysis.method import profile as profiles
from analysis.pipeline import runs
from analysis.publication.formatting import fr_number

RESULT_DIR = "comparaison"
MINUS = "\u2212"


# --------------------------------------------------------------------------
# figures: every compared number of one run, in long form
# --------------------------------------------------------------------------
#: (table, measure column, French measure label, unit, interval low, interval high, masked flag column)
_MEASURES = {
    "indicateurs": [("value", "valeur", None, "ci_low", "ci_high", "suppressed")],
    "sroi_carte_valeur": [
        ("quantite", "quantité", "nombre", None, None, None),
        ("impact_annee_1", "impact de l'année 1", "euros", None, None, None),
        ("valeur_actuelle", "valeur actuelle", "euros", None, None, None),
    ],
    "sroi_parties_prenantes": [
        ("valeur_actuelle", "valeur actuelle", "euros", None, None, None),
        ("part", "part de la valeur", "part", None, None, None),
    ],
    "sroi_resume": [
        ("valeur_actuelle", "valeur actuelle totale", "euros", None, None, None),
        ("intrants", "intrants", "euros", None, None, None),
        ("ratio", "ratio SROI", "ratio", "@ratio_bas", "@ratio_haut", None),
        ("ratio_net", "ratio net", "ratio", None, None, None),
        ("ratio_public", "ratio pour l'argent public", "ratio", None, None, None),
        ("delai_mois", "délai de retour (mois)", "nombre", None, None, None),
        ("delai_mois_actualise", "délai de retour actualisé (mois)", "nombre", None, None, None),
    ],
    "sroi_monte_carlo": [
        ("mediane", "ratio médian (Monte Carlo)", "ratio", None, None, None),
        ("ratio_bas", "borne basse du ratio (Monte Carlo)", "ratio", None, None, None),
        ("ratio_haut", "borne haute du ratio (Monte Carlo)", "ratio", None, None, None),
        ("p_ratio_sup_1", "probabilité que le ratio dépasse 1", "part", None, None, None),
    ],
    "qvt_dimensions": [
        ("mean", "score moyen", "nombre", "ci_low", "ci_high", "suppressed"),
        ("share_agree", "part favorable", "part", "share_ci_low", "share_ci_high", "share_suppressed"),
    ],
    "qvt_who5": [
        ("mean", "score WHO-5 moyen", "nombre", "ci_low", "ci_high", "suppressed"),
        ("share_le_50", "part avec un score ≤ 50", "part", "share_le_50_ci_low", "share_le_50_ci_high", "suppressed"),
        ("share_le_28", "part avec un score ≤ 28", "part", "share_le_28_ci_low", "share_le_28_ci_high", "suppressed"),
    ],
}
FAMILY = {"indicateurs": "Indicateurs", "qvt_dimensions": "QVT", "qvt_who5": "QVT"}
KEY_COLUMNS = ["portee", "tableau", "cle", "mesure"]


def _rows_of(table: str, df: pd.DataFrame, unit: str):
    """(key, label, row) for each row of a saved result table."""
    for _, r in df.iterrows():
        if table == "indicateurs":
            b = r.get("breakdown")
            b = None if pd.isna(b) else str(b)
            yield (f"{r['indicator']}" + (f"[{b}]" if b else ""), str(r["label"]) + (f" — {b}" if b else ""), r)
        elif table == "sroi_carte_valeur":  # the national value map has one row per CAE and outcome
            where = "" if unit != runs.NATIONAL else f"{r['cae']} : "
            yield (f"{r['cae']}/{r['id']}", f"{where}{r['resultat']} ({r['partie_prenante']})", r)
        elif table == "sroi_parties_prenantes":
            yield (f"partie_prenante:{r['code']}", f"Partie prenante : {r['partie_prenante']}", r)
        elif table == "sroi_resume":
            yield ("total", "Total SROI", r)
        elif table == "sroi_monte_carlo":
            yield ("total", "Simulation Monte Carlo", r)
        elif table == "qvt_dimensions":
            yield (str(r["dimension"]), str(r["label"]), r)
        elif table == "qvt_who5":
            yield ("who5", "Bien-être (WHO-5)", r)


def _num(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def figures(run_dir: Path) -> pd.DataFrame:
    """Every compared number of a saved run: one row per (CAE or national,
    table, key, measure) with its value, interval and mask flag."""
    run_dir = Path(run_dir)
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    names = {**meta.get("noms", {}), runs.NATIONAL: "Ensemble du réseau"}
    out = []
    for unit_dir in sorted((run_dir / "tables").iterdir()):
        unit = unit_dir.name
        tabs = {p.stem: pd.read_parquet(p) for p in unit_dir.glob("*.parquet")}
        mc = tabs.get("sroi_monte_carlo")
        for table, measures in _MEASURES.items():
            df = tabs.get(table)
            if df is None:
                continue
            for key, label, r in _rows_of(table, df, unit):
                for col, mlabel, kind, lo, hi, mask in measures:
                    if col not in r:
                        continue
                    if kind is None:  # indicators: the unit column says how to read the value
                        kind = "part" if r.get("unit") == "part" else "nombre"
                    low = _num(mc.iloc[0][lo[1:]]) if lo and lo.startswith("@") and mc is not None and len(mc) else (_num(r[lo]) if lo else math.nan)
                    high = _num(mc.iloc[0][hi[1:]]) if hi and hi.startswith("@") and mc is not None and len(mc) else (_num(r[hi]) if hi else math.nan)
                    value = _num(r[col])
                    masked = bool(r[mask]) if mask and not pd.isna(r[mask]) else False
                    out.append({
                        "portee": unit, "nom": names.get(unit, unit), "famille": FAMILY.get(table, "SROI"),
                        "tableau": table, "cle": key, "libelle": label, "mesure": mlabel, "unite": kind,
                        "valeur": math.nan if masked else value, "bas": math.nan if masked else low,
                        "haut": math.nan if masked else high, "masque": masked,
                    })
    cols = ["portee", "nom", "famille", "tableau", "cle", "libelle", "mesure", "unite", "valeur", "bas", "haut", "masque"]
    return pd.DataFrame(out, columns=cols)


def _moved(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return False
    if math.isnan(a) or math.isnan(b):
        return True
    return abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b))


def compare_figures(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Before/after of every figure: ``avant``, ``apres``, ``ecart``, the
    earlier interval, ``hors_intervalle`` (True/False, None without interval
    or value) and ``statut`` (inchangé, modifié, nouveau, disparu)."""
    m = before.merge(after, on=KEY_COLUMNS, how="outer", suffixes=("_avant", "_apres"), indicator=True)
    rows = []
    for _, r in m.iterrows():
        a, b = _num(r.get("valeur_avant")), _num(r.get("valeur_apres"))
        side = "avant" if r["_merge"] != "right_only" else "apres"
        lo, hi = _num(r.get("bas_avant")), _num(r.get("haut_avant"))
        masked = bool(r.get("masque_avant") is True or r.get("masque_apres") is True)
        if r["_merge"] == "left_only":
            statut = "disparu"
        elif r["_merge"] == "right_only":
            statut = "nouveau"
        else:
            statut = "modifié" if _moved(a, b) or (r.get("masque_avant") != r.get("masque_apres")) else "inchangé"
        outside = None
        if not (math.isnan(lo) or math.isnan(hi) or math.isnan(b)) and statut == "modifié":
            outside = bool(b < lo or b > hi)
        rows.append({
            "portee": r["portee"], "nom": r[f"nom_{side}"], "famille": r[f"famille_{side}"], "tableau": r["tableau"],
            "cle": r["cle"], "libelle": r[f"libelle_{side}"], "mesure": r["mesure"], "unite": r[f"unite_{side}"],
            "avant": a, "apres": b, "ecart": b - a if not (math.isnan(a) or math.isnan(b)) else math.nan,
            "bas_avant": lo, "haut_avant": hi, "hors_intervalle": outside, "masque": masked, "statut": statut,
        })
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    order = {runs.NATIONAL: "~"}  # national last
    out["_o"] = out["portee"].map(lambda u: order.get(u, u))
    return out.sort_values(["_o", "famille", "tableau", "cle", "mesure"], kind="stable").drop(columns="_o").reset_index(drop=True)


# --------------------------------------------------------------------------
# method changes, in words
# --------------------------------------------------------------------------
SECTIONS = {
    "proxys": "Proxy financier", "coefficients": "Coefficient", "resultats": "Résultat SROI", "parametres": "Réglage SROI",
    "cotisations": "Cotisations", "enquete": "Questionnaire (SROI)", "indice": "Indice de prix", "parties_prenantes": "Partie prenante",
    "indicators": "Indicateur", "families": "Famille d'effets", "synthese": "Indicateurs de la synthèse", "parameters": "Paramètre",
    "representativeness": "Représentativité", "derived_dates": "Date dérivée", "dimensions": "Dimension QVT", "echelle": "Échelle QVT",
    "entrees": "Hypothèse ou réserve", "tables": "Table", "codes": "Liste de codes",
}
FIELDS = {
    "valeur": "valeur", "min": "minimum", "max": "maximum", "libelle": "libellé", "label": "libellé", "source": "source",
    "url": "adresse", "annee": "année", "unite": "unité", "indexer": "indexé", "numerator": "numérateur",
    "denominator": "dénominateur", "filter": "lignes retenues", "by": "ventilation", "table": "table source", "kind": "statistique",
    "join": "tables jointes", "unit": "unité", "reference": "référence nationale", "quantite": "quantité", "duree": "durée (ans)",
    "proxy": "proxy", "poids_mort": "poids mort", "attribution": "attribution", "deplacement": "déplacement", "erosion": "érosion",
    "actif": "actif", "partie_prenante": "partie prenante", "resultat": "résultat", "indicateur": "indicateur", "texte": "texte",
    "items": "items", "version": "version", "column": "colonne", "scale": "facteur", "definition": "définition", "note": "note",
}
#: fields compared whole (rendered in words), not key by key
_ATOMIC = {"numerator", "denominator", "filter", "by", "quantite", "reference", "join", "items", "censor", "after", "before"}


def _label(node) -> str | None:
    if isinstance(node, dict):
        for k in ("libelle", "label", "resultat", "texte"):
            if isinstance(node.get(k), str):
                return node[k]
    return None


def _walk(a, b, path: list, labels: list, out: list) -> None:
    if a == b:
        return
    if isinstance(a, dict) and isinstance(b, dict) and not (path and path[-1] in _ATOMIC):
        for k in list(a) + [k for k in b if k not in a]:
            if k in a and k in b:
                _walk(a[k], b[k], path + [k], labels + [_label(b[k]) or _label(a[k])], out)
            else:
                out.append((path + [k], labels + [_label(b.get(k)) or _label(a.get(k))], a.get(k), b.get(k), "ajouté" if k in b else "supprimé"))
        return
    if isinstance(a, list) and isinstance(b, list) and all(isinstance(x, dict) and "id" in x for x in a + b) and a + b:
        ia, ib = {x["id"]: x for x in a}, {x["id"]: x for x in b}
        for k in list(ia) + [k for k in ib if k not in ia]:
            if k in ia and k in ib:
                _walk(ia[k], ib[k], path + [k], labels + [_label(ib[k]) or _label(ia[k])], out)
            else:
                out.append((path + [k], labels + [_label(ib.get(k)) or _label(ia.get(k))], ia.get(k), ib.get(k), "ajouté" if k in ib else "supprimé"))
        return
    out.append((path, labels, a, b, "modifié"))


def _value_words(field, v, file: str, context: dict, cb) -> str:
    from analysis.reporting import method_doc as md

    if v is None:
        return "(absent)"
    if field in ("numerator", "denominator", "filter") and isinstance(v, dict):
        tables = [context.get("table", profiles.current().people_table)] + list(context.get("join", []))
        return md.condition_fr(v, tables, cb)
    if field == "quantite":
        return md.quantity_fr(v, context.get("_vm", {}), cb)
    if isinstance(v, dict):
        if _label(v):
            return f"« {_label(v)} »"
        return yaml.safe_dump(v, allow_unicode=True, default_flow_style=True, sort_keys=False).strip()
    if isinstance(v, list):
        return ", ".join(_value_words(field, x, file, context, cb) for x in v) or "(vide)"
    if isinstance(v, bool):
        return "oui" if v else "non"
    if isinstance(v, float):
        return fr_number(v, 6).rstrip("0").rstrip(",")
    return str(v)


def method_changes(before_dir: Path, after_dir: Path) -> list[dict]:
    """What changed between two methodology folders, one dict per change:
    ``fichier``, ``objet`` (French section and label), ``parametre``,
    ``avant``, ``apres`` (in words), ``nature`` and a French sentence ``texte``."""
    from analysis.intake import codebook

    out = []
    vb, va = loader.versions(before_dir), loader.versions(after_dir)
    try:
        cb = codebook.load_codebook(Path(after_dir) / "codebook.yml")
    except Exception:
        cb = None
    for name, filename in loader.FILES.items():
        if name not in vb and name not in va:
            continue
        if name in vb and name in va and vb[name]["sha256"] == va[name]["sha256"]:
            continue
        a = loader.load(name, before_dir) if name in vb else {}
        b = loader.load(name, after_dir) if name in va else {}
        diffs: list = []
        _walk(a, b, [], [], diffs)
        if not diffs:
            out.append({"fichier": filename, "objet": "", "parametre": "", "avant": "", "apres": "", "nature": "mise en forme",
                        "texte": f"{filename} : commentaires ou mise en forme modifiés, sans effet sur les valeurs."})
            continue
        for path, labels, old, new, nature in diffs:
            # the object is the deepest labelled node above the field; sections by their French name
            obj_parts, field = [], path[-1]
            node_a, node_b = a, b
            context = {}
            for i, (p, lab) in enumerate(zip(path[:-1], labels[:-1])):
                node_b = _child(node_b, p)
                node_a = _child(node_a, p)
                if i == 0 and p in SECTIONS:
                    obj_parts.append(SECTIONS[p])
                elif lab:
                    obj_parts.append(f"« {lab} » ({p})")
                else:
                    obj_parts.append(str(p))
                if isinstance(node_b or node_a, dict):
                    context = node_b or node_a
            if len(path) == 1 and path[0] in SECTIONS:
                obj_parts.append(SECTIONS[path[0]])
            elif labels[-1] and nature != "modifié":
                obj_parts.append(f"« {labels[-1]} » ({field})")
            if name == "sroi":
                context = {**context, "_vm": b or a}
            objet = " ".join(obj_parts) if obj_parts else filename
            param = FIELDS.get(str(field), str(field))
            before_w = _value_words(field, old, filename, context, cb)
            after_w = _value_words(field, new, filename, context, cb)
            if nature == "modifié":
                texte = f"{objet} : {param} {before_w} → {after_w}"
            elif nature == "ajouté":
                texte = f"{objet} : ajouté ({after_w})" if len(path) > 1 else f"{param} ajouté"
            else:
                texte = f"{objet} : supprimé (était {before_w})"
            out.append({"fichier": filename, "objet": objet, "parametre": param, "avant": before_w, "apres": after_w,
                        "nature": nature, "texte": f"{filename} — {texte}."})
    return out


def _child(node, key):
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list):
        return next((x for x in node if isinstance(x, dict) and x.get("id") == key), None)
    return None


# --------------------------------------------------------------------------
# references: saved run, methodology folder, git revision
# --------------------------------------------------------------------------
@dataclass
class RunRef:
    """A saved run and how it was obtained (French description)."""

    path: Path
    record: dict
    description: str

    @property
    def methodology(self) -> Path:
        return self.path / "methodology"


def git_methodology(rev: str, dest: Path, repo: Path | None = None) -> Path:
    """The methodology files as of git revision ``rev`` written to ``dest``."""
    repo = Path(repo or config.PROJ_ROOT)
    top = subprocess.run(["git", "-C", str(repo), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    if top.returncode:
        raise ValueError(f"{repo} n'est pas un dépôt git : impossible de lire la révision « {rev} ».")
    try:
        rel = Path(config.METHODOLOGY_DIR).resolve().relative_to(Path(top.stdout.strip()).resolve())
    except ValueError:
        rel = Path("methodology")
    dest.mkdir(parents=True, exist_ok=True)
    found = 0
    for filename in loader.FILES.values():
        proc = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:{(rel / filename).as_posix()}"], capture_output=True)
        if proc.returncode == 0:
            (dest / filename).write_bytes(proc.stdout)
            found += 1
    if not found:
        raise ValueError(f"La révision git « {rev} » ne contient aucun fichier de méthode ({rel}/).")
    return dest


def run_with_method(methodology_dir: Path, raw_dir: Path, processed_dir: Path, out_dir: Path, jobs=None, progress=None) -> RunRef:
    """The saved run of ``methodology_dir`` on the current data: reused when
    one exists for the same method and data, otherwise computed in a
    scratch copy of the current results (only the stages the method change
    touches rerun) and saved beside the others."""
    from analysis.pipeline import runner

    methodology_dir = Path(methodology_dir).resolve()
    fp = runs.method_fingerprint(loader.versions(methodology_dir))
    saved = runs.runs_dir(out_dir) / fp
    data_now = {c: runner.dir_fingerprint(Path(raw_dir) / c) for c in runner.list_raw_caes(raw_dir)}
    if (saved / "run.json").exists():
        rec = json.loads((saved / "run.json").read_text(encoding="utf-8"))
        if all(rec.get("donnees", {}).get(c) == h for c, h in data_now.items()):
            return RunRef(saved, rec, f"exécution enregistrée {fp} (méthode de {methodology_dir})")
    scratch = Path(tempfile.mkdtemp(prefix="cae-impact-compare-"))
    env_before = os.environ.get("CAE_IMPACT_METHODOLOGY")
    try:
        for src, name in ((processed_dir, "processed"), (out_dir, "out")):
            if Path(src).exists():
                shutil.copytree(src, scratch / name, ignore=shutil.ignore_patterns(runs.RUNS, RESULT_DIR))
        summary = runner.run(raw_dir=raw_dir, processed_dir=scratch / "processed", out_dir=scratch / "out", jobs=jobs,
                             methodology_dir=methodology_dir, progress=progress)
        if not summary["ok"] or not summary.get("execution_enregistree"):
            raise RuntimeError("Le calcul avec la méthode de référence a échoué : voir les messages ci-dessus.")
        shutil.copytree(summary["execution_enregistree"], saved, dirs_exist_ok=True)
    finally:
        if env_before is None:
            os.environ.pop("CAE_IMPACT_METHODOLOGY", None)
        else:
            os.environ["CAE_IMPACT_METHODOLOGY"] = env_before
        shutil.rmtree(scratch, ignore_errors=True)
    rec = json.loads((saved / "run.json").read_text(encoding="utf-8"))
    return RunRef(saved, rec, f"méthode de {methodology_dir} (calculée, enregistrée sous {fp})")


def resolve_reference(ref: str, current: RunRef, raw_dir, processed_dir, out_dir, jobs=None, progress=None) -> RunRef:
    """``ref``: « precedent » (the latest saved run of another method), a
    saved run's fingerprint (or its folder), a methodology folder, or a git
    revision of methodology/ (``git:REV`` or any revision git knows)."""
    if ref in ("precedent", "précédent"):
        others = [r for r in runs.list_runs(out_dir) if r["empreinte"] != current.record["empreinte"]]
        if not others:
            raise ValueError("Aucune exécution enregistrée avec une autre méthode : précisez --reference.")
        return RunRef(Path(others[0]["path"]), others[0], f"exécution précédente {others[0]['empreinte']} du {others[0].get('date_utc', '?')}")
    p = Path(ref).expanduser()
    if (p / "run.json").exists():
        rec = json.loads((p / "run.json").read_text(encoding="utf-8"))
        return RunRef(p.resolve(), rec, f"exécution enregistrée {rec['empreinte']} du {rec.get('date_utc', '?')}")
    if p.is_dir() and any((p / f).exists() for f in loader.FILES.values()):
        return run_with_method(p, raw_dir, processed_dir, out_dir, jobs, progress)
    hit = runs.find_run(out_dir, ref)
    if hit:
        return RunRef(Path(hit["path"]), hit, f"exécution enregistrée {hit['empreinte']} du {hit.get('date_utc', '?')}")
    rev = ref[4:] if ref.startswith("git:") else ref
    tmp = Path(tempfile.mkdtemp(prefix="cae-impact-git-"))
    try:
        git_methodology(rev, tmp / "methodology")
        r = run_with_method(tmp / "methodology", raw_dir, processed_dir, out_dir, jobs, progress)
        r.description = f"méthode de la révision git « {rev} » (enregistrée sous {r.record['empreinte']})"
        return r
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# the comparison and its outputs
# --------------------------------------------------------------------------
@dataclass
class Comparison:
    reference: RunRef
    current: RunRef
    changes: list[dict]
    table: pd.DataFrame
    alerts: list[dict]

    @property
    def moved(self) -> pd.DataFrame:
        return self.table[self.table["statut"] != "inchangé"]


def compare_runs(reference: RunRef, current: RunRef) -> Comparison:
    table = compare_figures(figures(reference.path), figures(current.path))
    changes = method_changes(reference.methodology, current.methodology)
    alerts = []
    for name, v in current.record.get("methode", {}).get("fichiers", {}).items():
        old = reference.record.get("methode", {}).get("fichiers", {}).get(name)
        if old and old["version"] == v["version"] and old["sha256"] != v["sha256"]:
            alerts.append({"file": v["file"], "version": v["version"], "sha256_avant": old["sha256"], "sha256": v["sha256"]})
    return Comparison(reference, current, changes, table, alerts)


def _fmt(v: float, unit: str, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if unit == "part":
        s = fr_number(v * 100, 1) + ("\u00a0pt" if signed else "\u00a0%")
    elif unit == "euros":
        s = fr_number(v, 0) + "\u00a0€"
    elif unit == "ratio":
        s = fr_number(v, 3)
    else:
        s = fr_number(v, 2)
    s = s.replace("-", MINUS)
    return ("+" + s) if signed and v > 0 else s


def _interval(r) -> str:
    if math.isnan(r["bas_avant"]) or math.isnan(r["haut_avant"]):
        return ""
    return f"[{_fmt(r['bas_avant'], r['unite'])} ; {_fmt(r['haut_avant'], r['unite'])}]"


def display_rows(cmp: Comparison) -> list[dict]:
    """The moved figures as French strings (masked values as « s »)."""
    rows = []
    for _, r in cmp.moved.iterrows():
        hidden = r["masque"]
        rows.append({
            "Portée": r["nom"], "Famille": r["famille"], "Élément": r["libelle"], "Mesure": r["mesure"],
            "Avant": "s" if hidden else _fmt(r["avant"], r["unite"]),
            "Après": "s" if hidden else _fmt(r["apres"], r["unite"]),
            "Écart": "s" if hidden else _fmt(r["ecart"], r["unite"], signed=True),
            "Intervalle avant": "" if hidden else _interval(r),
            "Hors de l'intervalle": {True: "oui", False: "non", None: ""}[r["hors_intervalle"]],
            "Statut": r["statut"],
        })
    return rows


def counts(cmp: Comparison) -> dict[str, tuple[int, int]]:
    """{famille: (moved, total)}."""
    t = cmp.table
    return {f: (int((g["statut"] != "inchangé").sum()), len(g)) for f, g in t.groupby("famille", sort=True)}


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def to_html(cmp: Comparison) -> str:
    """The comparison as a standalone French HTML page (all text escaped)."""
    def table(rows, cols):
        if not rows:
            return "<p><em>Aucun.</em></p>"
        head = "".join(f"<th>{_e(c)}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{_e(r.get(c, ''))}</td>" for c in cols) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        "<!DOCTYPE html>",
        '<html lang="fr"><head><meta charset="utf-8"><title>Sensibilité à la méthode</title>',
        "<style>body{font-family:system-ui,sans-serif;max-width:80rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}"
        "th{background:#f3f3f3}.alerte{background:#fff3cd;padding:.5rem;border:1px solid #e0c36c}</style></head><body>",
        "<h1>Sensibilité à la méthode</h1>",
        f"<p>Référence (avant)\u00a0: {_e(cmp.reference.description)}, empreinte de méthode <code>{_e(cmp.reference.record['empreinte'])}</code>.<br>"
        f"Méthode actuelle (après)\u00a0: {_e(cmp.current.description)}, empreinte <code>{_e(cmp.current.record['empreinte'])}</code>.</p>",
    ]
    for a in cmp.alerts:
        parts.append(
            f"<p class=\"alerte\">Attention\u00a0: le contenu de <code>methodology/{_e(a['file'])}</code> a changé alors que sa version "
            f"({_e(a['version'])}) est restée la même (empreinte <code>{_e(a['sha256_avant'][:12])}</code> → <code>{_e(a['sha256'][:12])}</code>).</p>"
        )
    parts.append("<h2>Ce qui a changé dans la méthode</h2>")
    if cmp.changes:
        parts.append("<ul>" + "".join(f"<li>{_e(c['texte'])}</li>" for c in cmp.changes) + "</ul>")
    else:
        parts.append("<p>Les deux méthodes sont identiques.</p>")
    parts.append("<h2>Résultats qui ont bougé</h2>")
    parts.append("<p>" + _e(" ; ".join(f"{f} : {m} sur {n}" for f, (m, n) in counts(cmp).items())) + ".</p>")
    cols = ["Portée", "Famille", "Élément", "Mesure", "Avant", "Après", "Écart", "Intervalle avant", "Hors de l'intervalle", "Statut"]
    parts.append(table(display_rows(cmp), cols))
    parts.append("<p>« s »\u00a0: valeur masquée (secret statistique). Les effectifs ne sont pas comparés. "
                 "Un écart de part s'exprime en points (pt).</p></body></html>")
    return "\n".join(parts)


def to_csv(cmp: Comparison, path: Path) -> Path:
    """Every figure (moved or not), French CSV (``;``, decimal comma,
    UTF-8 with BOM); masked values left empty."""
    t = cmp.table.copy()
    for c in ("avant", "apres", "ecart", "bas_avant", "haut_avant"):
        t.loc[t["masque"], c] = math.nan
    t["hors_intervalle"] = t["hors_intervalle"].map({True: "oui", False: "non"}).fillna("")
    t["masque"] = t["masque"].map({True: "oui", False: "non"})
    t = t.rename(columns={"nom": "cae"})
    t.to_csv(path, sep=";", decimal=",", index=False, encoding="utf-8-sig")
    return path


def write(cmp: Comparison, out_dir: Path) -> dict[str, Path]:
    """comparaison.html, .csv and .json (the book's « sensibilité à la
    méthode » section reads the JSON) in ``<out>/comparaison/``."""
    d = Path(out_dir) / RESULT_DIR
    d.mkdir(parents=True, exist_ok=True)
    paths = {"html": d / "comparaison.html", "csv": d / "comparaison.csv", "json": d / "comparaison.json"}
    paths["html"].write_text(to_html(cmp), encoding="utf-8")
    to_csv(cmp, paths["csv"])
    paths["json"].write_text(json.dumps({
        "reference": {"description": cmp.reference.description, "empreinte": cmp.reference.record["empreinte"]},
        "actuelle": {"description": cmp.current.description, "empreinte": cmp.current.record["empreinte"]},
        "changements": cmp.changes, "alertes": cmp.alerts, "comptes": counts(cmp), "lignes": display_rows(cmp),
    }, indent=2, ensure_ascii=False), encoding="utf-8")
    return paths


def book_markdown(out_dir: Path) -> str | None:
    """The book's « Sensibilité à la méthode » body from the last
    comparison, or None when no comparison was asked for."""
    p = Path(out_dir) / RESULT_DIR / "comparaison.json"
    if not p.exists():
        return None
    from analysis.reporting.method_doc import md_table

    c = json.loads(p.read_text(encoding="utf-8"))
    out = [
        f"Les résultats de ce rapport (méthode d'empreinte `{c['actuelle']['empreinte']}`) sont comparés à ceux de la "
        f"référence : {c['reference']['description']} (empreinte `{c['reference']['empreinte']}`).\n\n",
        "## Ce qui a changé dans la méthode\n\n",
    ]
    out += [f"- {ch['texte']}\n" for ch in c["changements"]] or ["Les deux méthodes sont identiques.\n"]
    for a in c["alertes"]:
        out.append(f"\n**Attention** : le contenu de `methodology/{a['file']}` a changé sans changement de version ({a['version']}).\n")
    out.append("\n## Résultats qui ont bougé\n\n")
    out.append(" ; ".join(f"{f} : {m} sur {n}" for f, (m, n) in c["comptes"].items()) + ".\n\n")
    cols = ["Portée", "Famille", "Élément", "Mesure", "Avant", "Après", "Écart", "Hors de l'intervalle"]
    out.append(md_table(c["lignes"], [(k, k) for k in cols], caption="Valeurs modifiées par le changement de méthode (s : secret statistique)"))
    return "".join(out)


def current_run(raw_dir, processed_dir, out_dir, methodology_dir=None, jobs=None, progress=None) -> RunRef:
    """The current method's results: an incremental run (a no-op when up to
    date) and its saved copy."""
    from analysis.pipeline import runner

    summary = runner.run(raw_dir=raw_dir, processed_dir=processed_dir, out_dir=out_dir, jobs=jobs,
                         methodology_dir=methodology_dir, progress=progress)
    if not summary["ok"] or not summary.get("execution_enregistree"):
        raise RuntimeError("Le calcul avec la méthode actuelle a échoué : voir les messages ci-dessus.")
    path = Path(summary["execution_enregistree"])
    rec = json.loads((path / "run.json").read_text(encoding="utf-8"))
    return RunRef(path, rec, f"méthode actuelle ({Path(methodology_dir or config.METHODOLOGY_DIR)})")


def compare(reference: str = "precedent", raw_dir=None, processed_dir=None, out_dir=None, methodology_dir=None,
            jobs=None, current: str | None = None, progress=None) -> tuple[Comparison, dict[str, Path]]:
    """The whole ``cae-impact compare``: current results (``current``: a saved
    run instead of computing), the reference, the comparison, its files."""
    raw_dir = Path(raw_dir or config.RAW_DIR).resolve()
    processed_dir = Path(processed_dir or config.PROCESSED_DIR).resolve()
    out_dir = Path(out_dir or config.OUT_DIR).resolve()
    methodology_dir = Path(methodology_dir or config.METHODOLOGY_DIR).resolve()
    if current:
        hit = runs.find_run(out_dir, current) if not (Path(current) / "run.json").exists() else None
        path = Path(hit["path"]) if hit else Path(current)
        if not (path / "run.json").exists():
            raise ValueError(f"Exécution enregistrée introuvable : « {current} ».")
        rec = json.loads((path / "run.json").read_text(encoding="utf-8"))
        cur = RunRef(path, rec, f"exécution enregistrée {rec['empreinte']} du {rec.get('date_utc', '?')}")
    else:
        cur = current_run(raw_dir, processed_dir, out_dir, methodology_dir, jobs, progress)
    ref = resolve_reference(reference, cur, raw_dir, processed_dir, out_dir, jobs, progress)
    cmp = compare_runs(ref, cur)
    return cmp, write(cmp, out_dir)


BOOK_CHAPTER = "sensibilite.qmd"


def book_chapter(out_dir: Path, report_dir: Path, replace: dict[str, str] | None = None) -> bool:
    """Write the book's « Sensibilité à la méthode » chapter
    (``report/sensibilite.qmd``, generated) when a comparison exists, remove
    it otherwise; True when the book should list it. ``replace`` maps CAE
    names and slugs to their anonymised keys (as in the book's notebooks)."""
    path = Path(report_dir) / BOOK_CHAPTER
    body = book_markdown(out_dir)
    if body is None:
        path.unlink(missing_ok=True)
        return False
    for old, new in sorted((replace or {}).items(), key=lambda kv: -len(kv[0])):
        body = body.replace(old, new)
    path.write_text(
        "<!-- GENERATED by `cae-impact report` from outputs/comparaison/comparaison.json (`cae-impact compare`). -->\n"
        "# Sensibilité à la méthode {#sec-sensibilite}\n\n" + body,
        encoding="utf-8",
    )
    return True
