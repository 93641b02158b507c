"""Generate the report's Méthode chapter and annexes from the methodology files.

No parameter is typed in the report: every value, source and label shown
here is read from ``methodology/*.yml``, the codebook and the provenance
manifests, so that changing the method changes the chapter (issue 7). The
output is Quarto/pandoc Markdown.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from analysis import __version__, config
from analysis.method import profile as profiles
from analysis.intake import codebook
from analysis.method import loader as methodology
from analysis.publication.formatting import fr_number, fr_percent


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "oui" if v else "non"
    if isinstance(v, float):
        return fr_number(v, 4).rstrip("0").rstrip(",") if v != int(v) else fr_number(v, 0)
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    return str(v).replace("|", "\\|").replace("\n", " ")


def md_table(rows: list[dict], columns: list[tuple[str, str]], caption: str | None = None) -> str:
    """A pandoc pipe table from dicts; ``columns`` = [(key, French header)]."""
    if not rows:
        return "_(aucun élément)_\n\n"
    out = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    out += ["| " + " | ".join(_cell(r.get(k)) for k, _ in columns) + " |" for r in rows]
    if caption:
        out += ["", f": {caption}"]
    return "\n".join(out) + "\n\n"


def _link(source: str | None, url: str | None) -> str:
    source = (source or "").strip()
    if url:
        return f"{source} ([lien]({url}))" if source else f"<{url}>"
    return source


def _version_line(name: str, methodology_dir) -> str:
    path = methodology.path_of(name, methodology_dir)
    if not path.exists():
        return ""
    version = methodology.load(name, methodology_dir)["version"]
    sha = methodology.sha256_file(path)
    return f"_Fichier `methodology/{path.name}`, version {version}, empreinte du contenu `{sha[:12]}`._\n\n"


# --------------------------------------------------------------------------
# definitions in words, generated from the YAML (annex and method cannot disagree)
# --------------------------------------------------------------------------
#: Special values of indicators.yml (analysis.indicators.compute._resolve_value) in words.
_PERIOD = {"$debut": "le début de la période", "$fin": "la fin de la période",
           "$annee_debut": "l'année du début de la période", "$annee_fin": "l'année de la fin de la période"}
_OPS = {"eq": "=", "ne": "≠", "gt": ">", "ge": "≥", "lt": "<", "le": "≤"}


def _value_fr(v, spec: dict, cb) -> str:
    if isinstance(v, str) and v in _PERIOD:
        return _PERIOD[v]
    if spec.get("codes"):
        try:
            return f"« {codebook.label_of(spec['codes'], v, cb)} »"
        except Exception:
            pass
    return f"« {v} »" if isinstance(v, str) else _cell(v)


def _people_table() -> str:
    return profiles.current().people_table


def condition_fr(cond, tables=None, cb=None) -> str:
    """A condition of indicators.yml (``{column, <op>: value}``, ``all``,
    ``any``, ``not``) in French words, with the codebook's labels of columns
    and codes: ``{column: genre, in: [F]}`` → « Genre » est « Femme ».
    ``tables`` default: the profile's people table."""
    tables = tables or (_people_table(),)
    if not isinstance(cond, dict):
        return _cell(cond)
    if "all" in cond:
        return " et ".join(f"({condition_fr(c, tables, cb)})" if isinstance(c, dict) and ("any" in c or "all" in c) else condition_fr(c, tables, cb) for c in cond["all"])
    if "any" in cond:
        return " ou ".join(condition_fr(c, tables, cb) for c in cond["any"])
    if "not" in cond:
        return f"non ({condition_fr(cond['not'], tables, cb)})"
    col = cond.get("column", "?")
    spec = codebook.column_spec(col, tables, cb)
    name = f"« {spec.get('label', col)} »"
    parts = []
    for op, v in cond.items():
        if op == "column":
            continue
        if op in ("in", "not_in"):
            vals = [_value_fr(x, spec, cb) for x in (v if isinstance(v, list) else [v])]
            if op == "in":
                parts.append(f"{name} est {vals[0]}" if len(vals) == 1 else f"{name} est {', '.join(vals[:-1])} ou {vals[-1]}")
            else:
                parts.append(f"{name} n'est pas {vals[0]}" if len(vals) == 1 else f"{name} n'est ni {' ni '.join(vals)}")
        elif op == "notna":
            parts.append(f"{name} est renseigné" if v else f"{name} n'est pas renseigné")
        elif op == "isna":
            parts.append(f"{name} n'est pas renseigné" if v else f"{name} est renseigné")
        elif op in _OPS:
            parts.append(f"{name} {_OPS[op]} {_value_fr(v, spec, cb)}")
        else:
            parts.append(f"{name} {op} {_cell(v)}")
    return " et ".join(parts)


def _col(column, tables, cb) -> str:
    return f"« {codebook.column_spec(column, tables, cb).get('label', column)} »"


def indicator_fr(ind: dict, cb=None) -> str:
    """One indicator of indicators.yml in French words: what is counted or
    averaged, in which table, among whom, broken down by what, plus any
    ``definition`` / ``note`` text the YAML carries."""
    people = _people_table()
    tables = [ind.get("table", people)] + [t for t in ind.get("join", []) if t != "activite_derniere"]
    tables += ["activite"] if "activite_derniere" in ind.get("join", []) else []
    src = f"table « {ind.get('table')} »" + (f" (jointe à : {', '.join(ind['join'])})" if ind.get("join") else "")
    kind = ind.get("kind")
    c = lambda x: condition_fr(x, tables, cb)
    scale = f" × {_cell(ind['scale'])}" if ind.get("scale") not in (None, 1) else ""
    if kind == "share":
        den = f", parmi celles où {c(ind['denominator'])}" if ind.get("denominator") else ", parmi toutes ses lignes"
        text = f"Dans la {src}, part des lignes où {c(ind['numerator'])}{den}."
    elif kind in ("mean", "median"):
        text = f"{'Moyenne' if kind == 'mean' else 'Médiane'} de {_col(ind.get('column'), tables, cb)}{scale} sur la {src}."
    elif kind in ("km_median", "km_survival"):
        censor = ", ".join(_PERIOD.get(x, _col(x, tables, cb)) for x in ind.get("censor", []))
        if kind == "km_median":
            text = f"Durée médiane (Kaplan–Meier), en mois, de {_col(ind.get('start'), tables, cb)} à {_col(ind.get('event'), tables, cb)}"
        else:
            text = (f"Probabilité (Kaplan–Meier) que {_col(ind.get('event'), tables, cb)} ne soit pas survenue "
                    f"{_cell(ind.get('at'))} mois après {_col(ind.get('start'), tables, cb)}")
        text += f", observation arrêtée au premier de : {censor} ; {src}."
        if ind.get("delayed_entry"):
            text += " Les personnes entrées avant la période ne comptent qu'à partir de son début (troncature à gauche)."
    elif kind == "distinct_count":
        text = f"Nombre de valeurs distinctes de {_col(ind.get('column'), tables, cb)} dans la {src}."
    elif kind == "top_share":
        text = f"Part de la valeur la plus fréquente de {_col(ind.get('column'), tables, cb)} dans la {src}."
    elif kind == "growth":
        text = (f"Évolution moyenne de {_col(ind.get('column'), tables, cb)}{scale} entre la première et la dernière année "
                f"({_col(ind.get('time_column'), tables, cb)}) des personnes présentes ces deux années ; {src}.")
    elif kind == "paired_diff":
        a, b = ind.get("after", {}), ind.get("before", {})
        text = (f"Écart moyen entre {_col(a.get('column'), tables, cb)} × {_cell(a.get('scale', 1))} et "
                f"{_col(b.get('column'), tables, cb)} × {_cell(b.get('scale', 1))}, sur les personnes renseignées pour les deux ; {src}.")
    elif kind == "total":
        text = f"Somme de {_col(ind.get('column'), tables, cb)} sur la {src}"
        text += (" ; un nombre de personnes, publié selon la règle des petits effectifs." if ind.get("personnes")
                 else f" ; une grandeur {profiles.current().term('structure.du')}, pas un nombre de personnes.")
    else:
        text = f"Statistique « {kind} » sur la {src}."
    if ind.get("filter"):
        text += f" Lignes retenues : {c(ind['filter'])}."
    if ind.get("by"):
        by = ind["by"]
        spec = codebook.column_spec(by.get("column"), tables, cb)
        levels = ", ".join(_value_fr(x, spec, cb) for x in by.get("levels", []))
        text += f" Une valeur par modalité de {_col(by.get('column'), tables, cb)}" + (f" ({levels})." if levels else ".")
    for key in ("definition", "note"):
        if isinstance(ind.get(key), str) and ind[key].strip():
            text += f" {ind[key].strip()}"
    return text


#: French reading of each SROI quantity rule (analysis.sroi.quantities.RULES);
#: {name} fields are the rule's YAML arguments or cotisations/enquete values.
QUANTITY_RULES_FR = {
    "remuneration_nette": "rémunération brute versée sur la période × (1 − {taux_salarial})",
    "cotisations_sociales": "cotisations salariales ({taux_salarial} du brut) et patronales ({taux_patronal} au niveau du SMIC, "
    "majorées au-delà de certains seuils) diminuées de la réduction générale, sur la rémunération brute versée",
    "effectif_remunere_selon_entree": "personnes entrées en situation {situations} qui perçoivent une rémunération sur la période",
    "sorties_selon_motif": "sorties pendant la période pour motif {motifs}",
    "part_enquete_effectif": "part des répondants ayant répondu {reponse} à « {question} »{exclure}, appliquée à l'effectif "
    "accompagné ; nulle sans questionnaire ou avec moins de {min_repondants} réponses valides",
    "constante": "valeur fixée par la méthode : {valeur}",
}


def declarative_fr(q: dict, vm: dict, cb=None) -> str:
    """A declarative quantity (analysis.sroi.quantities.declarative) in
    French words, step by step as the engine computes it: rows of the table
    (of the period's years), count or sum of a column, filter, extrapolation
    of the survey to the people table, factors and divisors."""
    from analysis.sroi.quantities import constant_value, filter_words

    cb = cb or codebook.load_codebook()
    table = q["table"]
    tlabel = cb["tables"].get(table, {}).get("label", table)
    if q.get("agregat", "somme") == "compte":
        text = f"nombre de lignes de « {tlabel} »"
    else:
        col = q["colonne"]
        text = f"somme de « {codebook.column_spec(col, [table], cb).get('label', col)} » (table « {tlabel} »)"
    if q.get("periode") == "annees":
        text += " sur les années de la période"
    if q.get("filtre"):
        text += f", pour {filter_words(q['filtre'])} (0 sinon)"
    if q.get("extrapolation"):
        people = cb["tables"].get(q["extrapolation"], {}).get("label", q["extrapolation"])
        text += (f", rapportée de ses réponses valides à l'effectif de « {people} » (questionnaire supposé représentatif ; "
                 f"nulle avec moins de {vm['enquete']['min_repondants']} réponses valides)")
    for key, sign in (("facteur", "×"), ("diviseur", "÷")):
        refs = q.get(key)
        for ref in (refs if isinstance(refs, list) else [] if refs is None else [refs]):
            text += f" {sign} {constant_value(vm, ref)[1]}"
    return text


def quantity_fr(spec, vm: dict, cb=None) -> str:
    """The ``quantite`` of an SROI outcome in French words."""
    from analysis.sroi.quantities import rule_spec

    name, args = rule_spec(spec)
    cot, enq = vm.get("cotisations", {}), vm.get("enquete", {})
    codes = {"situations": "situation_entree", "motifs": "motif_sortie"}
    fields = {
        "taux_salarial": fr_percent(cot.get("taux_salarial"), 0),
        "taux_patronal": fr_percent(cot.get("taux_patronal"), 0),
        "min_repondants": enq.get("min_repondants"),
        "exclure": "",
    }
    for k, v in args.items():
        if k in codes:
            vals = []
            for x in v:
                try:
                    vals.append(f"« {codebook.label_of(codes[k], x, cb)} »")
                except Exception:
                    vals.append(f"« {x} »")
            fields[k] = " ou ".join(vals)
        elif k == "exclure":
            fields[k] = f" (hors {', '.join(f'« {x} »' for x in v)})" if v else ""
        elif k == "reponse":
            fields[k] = f"« {v} »"
        elif k == "question":
            fields[k] = codebook.column_spec(v, ["questionnaire"], cb).get("label", v)
        else:
            fields[k] = _cell(v)
    if name == "declarative":
        return declarative_fr(args, vm, cb)
    template = QUANTITY_RULES_FR.get(name)
    if template is None:
        return f"règle « {name} »" + (f" ({', '.join(f'{k} = {_cell(v)}' for k, v in args.items())})" if args else "")
    try:
        return template.format(**fields)
    except KeyError:
        return f"règle « {name} » ({', '.join(f'{k} = {_cell(v)}' for k, v in args.items())})"


_PLACEHOLDER = __import__("re").compile(r"\{\{\s*([a-z_]+):([^|}]+?)\s*(?:\|\s*([a-z]+)\s*)?\}\}")


def method_value(ref: str, methodology_dir=None):
    """The value at ``fichier:chemin.pointé`` (short file name of
    analysis.method.loader.FILES, dotted path; list items by ``id``)."""
    name, _, path = ref.partition(":")
    node = methodology.load(name, methodology_dir)
    for part in path.strip().split("."):
        if isinstance(node, list):
            node = next(x for x in node if isinstance(x, dict) and str(x.get("id")) == part)
        elif isinstance(node, dict):
            node = node[int(part)] if part.isdigit() and int(part) in node else node[part]
        else:
            raise KeyError(ref)
    return node


def _format_value(v, fmt: str | None) -> str:
    if fmt in ("pourcent", "pct"):
        return fr_percent(v, 1).replace(",0\u00a0%", "\u00a0%")
    if fmt == "euros":
        return fr_number(v, 2 if float(v) != int(float(v)) else 0) + "\u00a0€"
    if isinstance(v, float) and v != int(v):
        return fr_number(v, 4).rstrip("0").rstrip(",")
    return _cell(v)


def fill_values(text: str, methodology_dir=None) -> str:
    """Replace each ``{{fichier:chemin|format}}`` of an assumptions.yml text
    by the value the method actually uses (format: ``pourcent``, ``euros``,
    or none), so a text cannot state a value the method no longer uses.
    Raises KeyError on a reference to nothing."""
    return _PLACEHOLDER.sub(lambda m: _format_value(method_value(m.group(1) + ":" + m.group(2), methodology_dir), m.group(3)), text)


# --------------------------------------------------------------------------
# Méthode
# --------------------------------------------------------------------------
def indicators_section(methodology_dir=None) -> str:
    spec = methodology.load("indicateurs", methodology_dir)
    cb = codebook.load_codebook(Path(methodology_dir or config.METHODOLOGY_DIR) / "codebook.yml")
    out = ["## Les familles d'effets et leurs indicateurs {#sec-methode-indicateurs}\n\n", _version_line("indicateurs", methodology_dir)]
    kinds = {
        "share": "part (intervalle de Wilson)",
        "mean": "moyenne (intervalle de Student)",
        "median": "médiane (intervalle par statistiques d'ordre)",
        "km_median": "durée médiane (Kaplan–Meier)",
        "km_survival": "taux de maintien (Kaplan–Meier)",
        "distinct_count": "nombre de valeurs distinctes",
        "top_share": "part de la valeur la plus fréquente",
        "growth": "évolution moyenne (Student apparié)",
        "paired_diff": "écart moyen avant/après (Student apparié)",
    }
    for fam, meta in spec["families"].items():
        inds = [i for i in spec["indicators"] if i["family"] == fam]
        out.append(f"### {fam}. {meta['label']}\n\n")
        if meta.get("note"):
            out.append(f"{meta['note']}\n\n")
        rows = []
        for i in inds:
            ref = i.get("reference") or {}
            rows.append(
                {
                    "label": i.get("label"),
                    "kind": kinds.get(i.get("kind"), i.get("kind")),
                    "table": i.get("table"),
                    "ref": (fr_percent(ref["value"]) if i.get("unit") == "part" and "value" in ref else _cell(ref.get("value")))
                    if ref
                    else "",
                    "src": _link(f"{ref.get('source', '')} ({ref.get('year', '')})", ref.get("url")) if ref else "",
                }
            )
        for i, r in zip(inds, rows):
            ref = f" Référence nationale : {r['ref']} ({r['src']})." if r["ref"] else ""
            out.append(f"- **{_cell(i.get('label'))}** (`{i.get('id')}`) — {r['kind']} : {indicator_fr(i, cb)}{ref}\n")
        if rows:
            out.append("\n")
    return "".join(out)


def sroi_section(methodology_dir=None) -> str:
    vm = methodology.load("sroi", methodology_dir)
    p = vm["parametres"]
    out = ["## La valeur sociale créée (SROI) {#sec-methode-sroi}\n\n", _version_line("sroi", methodology_dir)]
    out.append(
        "La valeur sociale suit le guide SROI (2012) : pour chaque partie prenante, chaque résultat est "
        "mesuré par un indicateur, multiplié par un proxy financier, corrigé du poids mort, de l'attribution et "
        "du déplacement, réduit chaque année de l'érosion sur sa durée, puis actualisé. Le ratio SROI rapporte "
        f"la valeur actuelle des résultats à la valeur des intrants (ressources {profiles.current().term('structure.du')}, bénévolat valorisé). "
        "Un ratio ne se compare pas d'une organisation à l'autre : il dépend des résultats retenus et des proxys.\n\n"
    )
    rows = [
        {"p": "Année de référence des euros", "v": p.get("annee_base"), "s": ""},
        {"p": "Taux d'actualisation", "v": fr_percent(p.get("taux_actualisation"), 1), "s": _link(p.get("taux_actualisation_source"), p.get("taux_actualisation_url"))},
        {"p": "Taux d'actualisation (sensibilité)", "v": fr_percent(p.get("taux_actualisation_sensibilite"), 1), "s": _link(p.get("taux_actualisation_sensibilite_source"), p.get("taux_actualisation_sensibilite_url"))},
        {"p": "Impact de l'année 1 actualisé", "v": p.get("actualiser_annee_1"), "s": ""},
        {"p": "Valeur d'une heure de bénévolat (€)", "v": p.get("taux_horaire_benevolat"), "s": _link(p.get("taux_horaire_benevolat_source"), p.get("taux_horaire_benevolat_url"))},
        {"p": "Tirages Monte Carlo", "v": p.get("tirages_monte_carlo"), "s": f"loi {p.get('loi', '')}"},
    ]
    out.append("### Réglages généraux\n\n")
    out.append(md_table(rows, [("p", "Paramètre"), ("v", "Valeur"), ("s", "Source")]))
    stake = vm["parties_prenantes"]
    out.append("### Carte de la valeur\n\n")
    cb = codebook.load_codebook(Path(methodology_dir or config.METHODOLOGY_DIR) / "codebook.yml")
    coefs = vm.get("coefficients", {})
    kinds = {"poids_mort": "poids mort", "attribution": "attribution", "deplacement": "déplacement", "erosion": "érosion"}
    rows = [
        {
            "pp": stake.get(r.get("partie_prenante"), r.get("partie_prenante")),
            "res": r.get("resultat"),
            "ind": r.get("indicateur"),
            "q": quantity_fr(r.get("quantite"), vm, cb),
            "duree": r.get("duree"),
            "proxy": f"{vm.get('proxys', {}).get(r.get('proxy'), {}).get('libelle', r.get('proxy'))} "
            f"({_format_value(vm.get('proxys', {}).get(r.get('proxy'), {}).get('valeur'), None)})",
            "coef": ", ".join(f"{lab} {fr_percent(coefs.get(r[k], {}).get('valeur'), 0)}" for k, lab in kinds.items() if r.get(k)),
        }
        for r in vm["resultats"]
        if r["actif"]
    ]
    out.append(md_table(rows, [("pp", "Partie prenante"), ("res", "Résultat"), ("ind", "Indicateur"), ("q", "Quantité (règle)"), ("duree", "Durée (ans)"), ("proxy", "Proxy financier (valeur)"), ("coef", "Coefficients (valeur par défaut)")]))

    out.append("### Proxys financiers\n\n")
    rows = [
        {"id": k, "lib": v.get("libelle"), "val": v.get("valeur"), "plage": f"{_cell(v.get('min'))} – {_cell(v.get('max'))}", "unite": v.get("unite"), "annee": v.get("annee"), "src": _link(v.get("source"), v.get("url"))}
        for k, v in vm["proxys"].items()
    ]
    cols = [("id", "Code"), ("lib", "Proxy"), ("val", "Valeur"), ("plage", "Plage"), ("unite", "Unité"), ("annee", "Année"), ("src", "Source")]
    _with_range_nature(rows, vm.get("proxys", {}), cols)
    out.append(md_table(rows, cols))
    idx = vm["indice"]
    if idx:
        out.append(f"Les proxys d'une autre année sont ramenés en euros de {p.get('annee_base')} par l'indice « {idx.get('nom', '')} » ({_link(idx.get('source'), idx.get('url'))}).\n\n")
    out.append("### Coefficients\n\n")
    rows = [
        {"id": k, "lib": v.get("libelle"), "val": fr_percent(v.get("valeur"), 1), "plage": f"{fr_percent(v.get('min'), 0)} – {fr_percent(v.get('max'), 0)}", "enq": v.get("enquete", ""), "src": _link(v.get("source"), v.get("url"))}
        for k, v in vm["coefficients"].items()
    ]
    cols = [("id", "Code"), ("lib", "Coefficient"), ("val", "Valeur"), ("plage", "Plage"), ("enq", "Mesuré par le questionnaire"), ("src", "Source")]
    _with_range_nature(rows, vm.get("coefficients", {}), cols)
    out.append(md_table(rows, cols))
    fixed = vm.get("parametres_quantites") or {}
    if fixed:  # named constants of declarative quantities: fixed values, no range, no Monte Carlo
        out.append("### Constantes des quantités\n\n")
        rows = [{"id": k, "lib": v.get("libelle"), "val": fr_number(v.get("valeur"), 3).rstrip("0").rstrip(",") if isinstance(v.get("valeur"), float) else v.get("valeur"),
                 "unite": v.get("unite"), "annee": v.get("annee"), "verif": "oui" if v.get("a_verifier") else "non",
                 "src": _link(v.get("source"), v.get("url"))} for k, v in fixed.items()]
        out.append(md_table(rows, [("id", "Code"), ("lib", "Constante"), ("val", "Valeur"), ("unite", "Unité"), ("annee", "Année"),
                                   ("verif", "À vérifier"), ("src", "Source")]))
    enq = vm["enquete"]
    if enq:
        from analysis.sroi.valuation import deadweight_answers, survey_questions

        question = next(q for q, t in survey_questions(vm).items() if t == "poids_mort")
        codes_name = next((t["columns"][question].get("codes", question) for t in codebook.load_codebook()["tables"].values()
                           if question in t["columns"]), question)
        mapping = ", ".join(f"« {codebook.label_of(codes_name, k)} » : {fr_percent(v, 0)}" for k, v in deadweight_answers(vm).items())
        out.append(profiles.current().phrase("methode_contrefactuel", min_repondants=enq.get("min_repondants"), correspondance=mapping)
                   + " Chaque tableau indique la source utilisée.\n\n")
    return "".join(out)


def qvt_section(methodology_dir=None) -> str:
    spec = methodology.load("qvt", methodology_dir)
    cb = codebook.load_codebook(Path(methodology_dir or config.METHODOLOGY_DIR) / "codebook.yml")
    cols = codebook.columns("questionnaire", cb)
    out = ["## La qualité de vie au travail {#sec-methode-qvt}\n\n", _version_line("qvt", methodology_dir)]
    rows = []
    for dim, meta in spec["dimensions"].items():
        for item in meta["items"]:
            rows.append({"dim": meta["label"], "item": item, "texte": cols.get(item, {}).get("label", ""), "inv": bool(cols.get(item, {}).get("reverse"))})
    out.append(md_table(rows, [("dim", "Dimension"), ("texte", "Énoncé"), ("inv", "Formulé à l'envers")]))
    ech = spec["echelle"]
    out.append(
        f"Chaque item est noté de {ech.get('min')} à {ech.get('max')} ; un item formulé à l'envers est recodé "
        f"({ech['min'] + ech['max']} − note). Le score d'une dimension est la moyenne des items "
        f"répondus, calculée si au moins {fr_percent(spec.get('part_min_items'), 0)} des items sont renseignés. "
        f"Une dimension est jugée favorable à partir de {ech.get('seuil_accord')}.\n\n"
    )
    try:
        from analysis.qvt import compute as qvt

        out.append(qvt.method_text_fr(spec) + "\n\n")
    except Exception:  # the method text is a convenience; the table above is the method
        pass
    return "".join(out)


def publication_section(methodology_dir=None) -> str:
    from analysis.publication.suppression import thresholds

    pub = methodology.load("publication", methodology_dir)
    seuils = thresholds(methodology_dir)
    return (
        "## Règles de publication {#sec-methode-publication}\n\n"
        + _version_line("publication", methodology_dir)
        + f"- Aucun effectif publié n'est inférieur à {seuils[0]} (hors zéro) ; aucune moyenne ni "
        f"aucun pourcentage n'est calculé sur moins de {seuils[1]} personnes. D'autres cases sont masquées "
        "quand un chiffre publié ailleurs permettrait de retrouver la première (secret secondaire, sur "
        f"l'ensemble des tableaux publiés : total, réseau moins {profiles.current().term('structure.les').replace('les ', 'les autres ', 1)}, effectifs de deux "
        "tests sur les mêmes répondants). Un résultat de la carte de la valeur qui compte moins de "
        f"{seuils[0]} personnes n'est pas valorisé dans les chiffres SROI publiés.\n"
        "- Les identifiants sont remplacés par des pseudonymes à clé (HMAC-SHA256) ; la clé reste hors du "
        "dépôt. Les commentaires libres ne sont jamais copiés ; les années de naissance deviennent des tranches d'âge.\n"
        f"- Chaque intervalle est au niveau de confiance de {fr_percent(pub['niveau_confiance'], 0)} ; chaque tirage "
        f"aléatoire part de la graine {pub['graine']}.\n"
        f"- {_anonymised_line(pub)} dans la synthèse nationale.\n\n"
    )


def _with_range_nature(rows: list[dict], entries: dict, cols: list) -> None:
    """Add the column « Nature de la plage » (``nature_plage``) when an entry states it."""
    if any(v.get("nature_plage") for v in entries.values()):
        for row, v in zip(rows, entries.values()):
            row["nature"] = v.get("nature_plage", "")
        cols.insert(4, ("nature", "Nature de la plage"))


def _anonymised_line(pub: dict) -> str:
    """How the structures are named nationally (``anonymiser_structures``)."""
    prof = profiles.current()
    names = prof.term("structure.majuscule_pluriel")
    if pub["anonymiser_structures"]:
        return f"Les {names} sont présentés comme « {prof.anonymous_name(1)} … {prof.anonymous_name(0).replace('0', 'N')} »"
    return f"Les {names} sont nommés"


def limits_section(methodology_dir=None) -> str:
    log = methodology.load("hypotheses", methodology_dir)
    entries = [e for e in log["entrees"] if e["nature"] == "reserve"]
    out = ["## Limites {#sec-methode-limites}\n\n"]
    out += [f"- {fill_values(e['texte'], methodology_dir)} ({e['id']})\n" for e in entries]
    out.append(
        "\nLes données sont transversales et les répondants au questionnaire se sont sélectionnés eux-mêmes : "
        f"{profiles.current().phrase('pas_de_causalite')}\n\n"
    )
    return "".join(out)


def render_method(methodology_dir=None) -> str:
    return "\n".join(
        [
            indicators_section(methodology_dir),
            sroi_section(methodology_dir),
            qvt_section(methodology_dir),
            publication_section(methodology_dir),
            limits_section(methodology_dir),
        ]
    )


# --------------------------------------------------------------------------
# Annexes
# --------------------------------------------------------------------------
def dictionary_section(methodology_dir=None) -> str:
    from analysis.intake import templates

    dd = templates.data_dictionary()
    out = ["## Dictionnaire des données {#sec-annexe-dictionnaire}\n\n", _version_line("codebook", methodology_dir)]
    for table, sub in dd.groupby(dd.columns[0], sort=False):
        out.append(f"### {table}\n\n")
        rows = sub.drop(columns=dd.columns[0]).to_dict("records")
        out.append(md_table(rows, [(c, c[:1].upper() + c[1:]) for c in sub.columns if c != dd.columns[0]]))
    return "".join(out)


def assumptions_section(methodology_dir=None) -> str:
    log = methodology.load("hypotheses", methodology_dir)
    rows = [
        {"id": e.get("id"), "etape": e.get("etape"), "nature": e.get("nature"), "texte": fill_values(e.get("texte", ""), methodology_dir), "q": e.get("qualite"), "i": e.get("impact"), "src": e.get("source"), "v": "à vérifier" if e.get("a_verifier") else ""}
        for e in log["entrees"]
    ]
    return (
        "## Journal des hypothèses et réserves {#sec-annexe-hypotheses}\n\n"
        + _version_line("hypotheses", methodology_dir)
        + md_table(rows, [("id", "Id"), ("etape", "Étape"), ("nature", "Nature"), ("texte", "Texte"), ("q", "Qualité"), ("i", "Impact"), ("src", "Source"), ("v", "")])
    )


def parameters_section(methodology_dir=None) -> str:
    """Every scalar parameter of every methodology file, flattened, with the
    source found beside it (``*_source`` / ``source`` keys)."""
    rows = []
    for name in ("publication", "indicateurs", "sroi", "qvt"):
        try:
            data = methodology.load(name, methodology_dir)
        except FileNotFoundError:
            continue
        for path, value, source in _flatten(data):
            rows.append({"f": methodology.FILES[name], "p": path, "v": value, "s": source})
    return "## Tous les paramètres {#sec-annexe-parametres}\n\n" + md_table(rows, [("f", "Fichier"), ("p", "Paramètre"), ("v", "Valeur"), ("s", "Source")])


def _flatten(data, prefix=""):
    if isinstance(data, dict):
        source = data.get("source") if isinstance(data.get("source"), str) else ""
        for k, v in data.items():
            if str(k).endswith(("_source", "_url")) or k in ("source", "url", "label", "libelle", "texte", "note"):
                continue
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, (dict, list)):
                yield from _flatten(v, key)
            else:
                src = data.get(f"{k}_source", source) or ""
                yield key, v, src
    elif isinstance(data, list):
        for i, v in enumerate(data):
            ident = v.get("id", i) if isinstance(v, dict) else i
            if isinstance(v, (dict, list)):
                yield from _flatten(v, f"{prefix}[{ident}]")
            else:
                yield f"{prefix}[{i}]", v, ""


def provenance_section(chapters, processed_dir, methodology_dir=None) -> str:
    out = ["## Provenance {#sec-annexe-provenance}\n\n"]
    quarto = shutil.which("quarto")
    qv = ""
    if quarto:
        try:
            qv = subprocess.run([quarto, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        except Exception:
            qv = "?"
    rows = [
        {"k": "Version du classeur (paquet analysis)", "v": __version__},
        {"k": "Python", "v": platform.python_version()},
        {"k": "Quarto", "v": qv or "absent (livre non rendu)"},
        {"k": "Date de l'assemblage (UTC)", "v": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")},
    ]
    rows += [{"k": f"Méthode : {v['file']}", "v": f"version {v['version']}, sha256 {v['sha256'][:16]}…"} for v in methodology.versions(methodology_dir).values()]
    out.append(md_table(rows, [("k", "Élément"), ("v", "Valeur")]))
    out.append("### Fichiers d'entrée\n\n")
    rows = []
    for ch in chapters:
        try:
            manifest = json.loads((Path(processed_dir) / ch.slug / "manifest.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        for name, f in sorted(manifest.get("files", {}).items()):
            rows.append({"cae": ch.title, "fichier": name, "lignes": f.get("rows"), "sha": f.get("sha256", "")})
        rows.append({"cae": ch.title, "fichier": "(exécution)", "lignes": "", "sha": manifest.get("run_time_utc", "")})
    out.append(md_table(rows, [("cae", profiles.current().term("structure.colonne")), ("fichier", "Fichier"), ("lignes", "Lignes"), ("sha", "SHA-256 / date")]))
    return "".join(out)


def render_annexes(chapters, processed_dir, methodology_dir=None) -> str:
    return "\n".join(
        [
            dictionary_section(methodology_dir),
            assumptions_section(methodology_dir),
            provenance_section(chapters, processed_dir, methodology_dir),
        ]
    )
