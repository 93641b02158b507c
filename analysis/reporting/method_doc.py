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
    version = methodology.load(name, methodology_dir).get("version", "?")
    return f"_Fichier `methodology/{path.name}`, version {version}._\n\n"


# --------------------------------------------------------------------------
# Méthode
# --------------------------------------------------------------------------
def indicators_section(methodology_dir=None) -> str:
    spec = methodology.load("indicateurs", methodology_dir)
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
    for fam, meta in spec.get("families", {}).items():
        inds = [i for i in spec.get("indicators", []) if i.get("family") == fam]
        out.append(f"### {fam}. {meta.get('label', fam)}\n\n")
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
        if rows:
            out.append(
                md_table(rows, [("label", "Indicateur"), ("kind", "Statistique"), ("table", "Source"), ("ref", "Référence nationale"), ("src", "Source de la référence")])
            )
    return "".join(out)


def sroi_section(methodology_dir=None) -> str:
    vm = methodology.load("sroi", methodology_dir)
    p = vm.get("parametres", {})
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
    stake = vm.get("parties_prenantes", {})
    out.append("### Carte de la valeur\n\n")
    rows = [
        {
            "pp": stake.get(r.get("partie_prenante"), r.get("partie_prenante")),
            "res": r.get("resultat"),
            "ind": r.get("indicateur"),
            "duree": r.get("duree"),
            "proxy": vm.get("proxys", {}).get(r.get("proxy"), {}).get("libelle", r.get("proxy")),
            "coef": ", ".join(str(r.get(k)) for k in ("poids_mort", "attribution", "deplacement", "erosion") if r.get(k)),
        }
        for r in vm.get("resultats", [])
        if r.get("actif", True)
    ]
    out.append(md_table(rows, [("pp", "Partie prenante"), ("res", "Résultat"), ("ind", "Indicateur"), ("duree", "Durée (ans)"), ("proxy", "Proxy financier"), ("coef", "Coefficients")]))
    out.append("### Proxys financiers\n\n")
    rows = [
        {"id": k, "lib": v.get("libelle"), "val": v.get("valeur"), "plage": f"{_cell(v.get('min'))} – {_cell(v.get('max'))}", "unite": v.get("unite"), "annee": v.get("annee"), "src": _link(v.get("source"), v.get("url"))}
        for k, v in vm.get("proxys", {}).items()
    ]
    cols = [("id", "Code"), ("lib", "Proxy"), ("val", "Valeur"), ("plage", "Plage"), ("unite", "Unité"), ("annee", "Année"), ("src", "Source")]
    _with_range_nature(rows, vm.get("proxys", {}), cols)
    out.append(md_table(rows, cols))
    idx = vm.get("indice", {})
    if idx:
        out.append(f"Les proxys d'une autre année sont ramenés en euros de {p.get('annee_base')} par l'indice « {idx.get('nom', '')} » ({_link(idx.get('source'), idx.get('url'))}).\n\n")
    out.append("### Coefficients\n\n")
    rows = [
        {"id": k, "lib": v.get("libelle"), "val": fr_percent(v.get("valeur"), 1), "plage": f"{fr_percent(v.get('min'), 0)} – {fr_percent(v.get('max'), 0)}", "enq": v.get("enquete", ""), "src": _link(v.get("source"), v.get("url"))}
        for k, v in vm.get("coefficients", {}).items()
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
    enq = vm.get("enquete", {})
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
    for dim, meta in spec.get("dimensions", {}).items():
        for item in meta.get("items", []):
            rows.append({"dim": meta.get("label", dim), "item": item, "texte": cols.get(item, {}).get("label", ""), "inv": bool(cols.get(item, {}).get("reverse"))})
    out.append(md_table(rows, [("dim", "Dimension"), ("item", "Item"), ("texte", "Énoncé"), ("inv", "Formulé à l'envers")]))
    ech = spec.get("echelle", {})
    out.append(
        f"Chaque item est noté de {ech.get('min')} à {ech.get('max')} ; un item formulé à l'envers est recodé "
        f"({ech.get('min', 1) + ech.get('max', 5)} − note). Le score d'une dimension est la moyenne des items "
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
    pub = methodology.load("publication", methodology_dir)
    return (
        "## Règles de publication {#sec-methode-publication}\n\n"
        + _version_line("publication", methodology_dir)
        + f"- Aucun effectif publié n'est inférieur à {pub['seuil_effectif']} (hors zéro) ; aucune moyenne ni "
        f"aucun pourcentage n'est calculé sur moins de {pub['seuil_denominateur']} personnes. Une seconde case "
        "est masquée quand un total permettrait de retrouver la première (secret secondaire).\n"
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
    """How the structures are named nationally (``anonymiser_structures``, alias ``anonymiser_cae``)."""
    prof = profiles.current()
    names = prof.term("structure.majuscule_pluriel")
    if pub.get("anonymiser_structures", pub.get("anonymiser_cae")):
        return f"Les {names} sont présentés comme « {prof.anonymous_name(1)} … {prof.anonymous_name(0).replace('0', 'N')} »"
    return f"Les {names} sont nommés"


def limits_section(methodology_dir=None) -> str:
    log = methodology.load("hypotheses", methodology_dir)
    entries = [e for e in log.get("entrees", []) if e.get("nature") == "reserve"]
    out = ["## Limites {#sec-methode-limites}\n\n"]
    out += [f"- {e['texte']} ({e['id']})\n" for e in entries]
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
        {"id": e.get("id"), "etape": e.get("etape"), "nature": e.get("nature"), "texte": e.get("texte"), "q": e.get("qualite"), "i": e.get("impact"), "src": e.get("source"), "v": "à vérifier" if e.get("a_verifier") else ""}
        for e in log.get("entrees", [])
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
