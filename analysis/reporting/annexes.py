"""The French parameter annex of the national book: every method parameter
of the methodology files under its French label, with its value (French
typography) and its source, never a YAML key.

The values and sources are read from ``methodology/*.yml`` (the one home of
method values); this module only holds the French *labels* of the settings
that have none in the files (coefficients, proxies and thresholds carry their
own ``libelle``/``label``). :func:`unlabelled` lists the settings of a
methodology folder that have no label here, so a parameter added to a file
without a French label is caught by the tests instead of printed as a key.
Indicator definitions are described in words by
:mod:`analysis.reporting.method_doc`; they are not repeated here.
"""

from __future__ import annotations

from analysis.method import loader as methodology
from analysis.publication.formatting import fr_euro, fr_number, fr_percent

#: French label and display kind of each scalar setting, by file and path.
#: Kinds: ``int``, ``year``, ``percent``, ``euro``, ``num2``, ``smic``
#: (multiple of the SMIC), ``bool``, ``text`` (value looked up in
#: :data:`VALUE_LABELS`), ``percents`` (a list of shares), ``ints``.
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "publication": {
        "seuil_effectif": ("Plus petit effectif publié (en deçà, la valeur est masquée, sauf zéro)", "int"),
        "seuil_denominateur": ("Nombre minimal de personnes pour publier une moyenne ou une part", "int"),
        "niveau_confiance": ("Niveau de confiance de chaque intervalle", "percent"),
        "anonymiser_structures": ("{structure.majuscule_pluriel} présentées sans leur nom dans le rapport national", "bool"),
        "graine": ("Graine des tirages aléatoires (bootstrap, Monte Carlo), pour des résultats reproductibles", "int"),
        "structures_max_par_figure": ("Au-delà de ce nombre de {structure.pluriel}, les figures et le tableau des indicateurs nationaux montrent la répartition de leurs valeurs au lieu d'une valeur par {structure.singulier}", "int"),
    },
    "indicateurs": {
        "agree": ("Réponses comptées comme un accord (échelle de 1 à 5)", "ints"),
        "parameters.net_sur_brut": ("Rapport du salaire net au salaire brut", "percent"),
        "representativeness.std_diff_threshold": ("Écart standardisé au-delà duquel les répondants diffèrent des {personne.population}", "num2"),
        "representativeness.anciennete.bounds_months": ("Bornes des classes d'ancienneté de la représentativité (mois)", "ints"),
    },
    "sroi": {
        "parametres.annee_base": ("Année des euros de tous les proxys financiers", "year"),
        "parametres.taux_actualisation": ("Taux d'actualisation", "percent"),
        "parametres.taux_actualisation_sensibilite": ("Taux d'actualisation de l'analyse de sensibilité", "percent"),
        "parametres.actualiser_annee_1": ("Effets de la première année actualisés", "bool"),
        "parametres.taux_horaire_benevolat": ("Valeur d'une heure de bénévolat (intrant)", "euro2"),
        "parametres.tirages_monte_carlo": ("Nombre de tirages de la simulation de Monte Carlo", "int"),
        "parametres.loi": ("Loi tirée dans la plage de chaque hypothèse", "text"),
        "parametres.quantiles_monte_carlo": ("Quantiles de l'intervalle publié de la simulation", "percents"),
        "enquete.min_repondants": ("Répondants nécessaires pour remplacer un coefficient par la réponse au questionnaire", "int"),
        "enquete.repetitions_bootstrap": ("Répétitions du bootstrap des coefficients tirés du questionnaire", "int"),
        "enquete.question_poids_mort": ("Question du questionnaire qui mesure le poids mort", "question"),
        "enquete.question_attribution": ("Question du questionnaire qui mesure l'attribution", "question"),
        # One row per answer code of the deadweight question, labelled from the codebook (see _label).
        "enquete.poids_mort_reponses.*": ("Poids mort d'une réponse « {code} »", "percent"),
        "enquete.reponses_exclues": ("Réponses écartées du calcul", "text"),
        "cotisations.taux_salarial": ("Taux des cotisations et contributions salariales", "percent"),
        "cotisations.taux_patronal": ("Taux des cotisations patronales de droit commun au niveau du SMIC", "percent"),
        "cotisations.seuil_reduction_smic": ("Plafond de la réduction générale des cotisations", "smic"),
        "cotisations.heures_temps_plein": ("Heures d'un temps plein sur l'année", "num2"),
        "cotisations.heures_manquantes": ("Heures rémunérées absentes des données", "text"),
    },
    "qvt": {
        "echelle.min": ("Plus petite réponse de l'échelle de qualité de vie au travail", "int"),
        "echelle.max": ("Plus grande réponse de l'échelle", "int"),
        "echelle.seuil_accord": ("Réponse à partir de laquelle une affirmation compte comme un accord", "int"),
        "part_min_items": ("Part des affirmations d'une dimension à renseigner pour calculer son score", "percent"),
        "who5.min": ("Plus petite réponse d'une question du WHO-5", "int"),
        "who5.max": ("Plus grande réponse d'une question du WHO-5", "int"),
        "who5.multiplicateur": ("Multiplicateur du total des cinq réponses du WHO-5 (score de 0 à 100)", "int"),
        "who5.part_min_items": ("Part des questions du WHO-5 à renseigner pour calculer le score", "percent"),
        "who5.classes_histogramme": ("Bornes des classes de la distribution du score WHO-5", "ints"),
        "fiabilite.n_min": ("Répondants nécessaires pour calculer la fiabilité d'une échelle", "int"),
        "fiabilite.omega_items_min": ("Affirmations nécessaires pour calculer l'ω de McDonald", "int"),
        "comparaisons.n_min_groupe": ("Répondants nécessaires dans chaque groupe comparé", "int"),
        "comparaisons.correction": ("Correction des comparaisons multiples", "text"),
        "modeles.ordinal.distr": ("Modèle ordinal : loi du lien", "text"),
        "modeles.ordinal.method": ("Modèle ordinal : algorithme d'estimation", "text"),
        "modeles.ordinal.maxiter": ("Modèle ordinal : nombre maximal d'itérations", "int"),
    },
}

#: French words for the coded values of ``text`` settings.
VALUE_LABELS = {
    "pert": "bêta-PERT (valeur basse, retenue, haute)",
    "triangulaire": "triangulaire",
    "nsp": "« ne sait pas »",
    "smic": "rémunération supposée au SMIC horaire, plafonnée à un temps plein (hypothèse prudente)",
    "temps_plein": "comparaison au SMIC d'un temps plein",
    "holm": "Holm",
    "bonferroni": "Bonferroni",
    "logit": "logistique",
    "probit": "normale (probit)",
    "bfgs": "BFGS (quasi-Newton)",
    "newton": "Newton–Raphson (score et information observée calculés exactement)",
}

#: The sections of each file whose every scalar setting is a parameter of
#: :data:`LABELS` (structure such as codes, item lists and labels excluded).
_SCANNED = {
    "publication": ("",),
    "indicateurs": ("agree", "parameters", "representativeness.std_diff_threshold", "representativeness.anciennete.bounds_months"),
    "sroi": ("parametres", "enquete", "cotisations.taux_salarial", "cotisations.taux_patronal",
             "cotisations.seuil_reduction_smic", "cotisations.heures_temps_plein", "cotisations.heures_manquantes"),
    "qvt": ("echelle", "part_min_items", "who5.min", "who5.max", "who5.multiplicateur", "who5.part_min_items",
            "who5.classes_histogramme", "fiabilite", "comparaisons.n_min_groupe", "comparaisons.correction", "modeles"),
}
_SKIP = ("version", "source", "url", "label", "libelle", "note")

def _default_source() -> str:
    """« Choix de la méthode <nom_methode> » (profile.yml ``nom_methode``, else its ``nom``)."""
    from analysis.method import profile as profiles

    prof = profiles.current()
    return f"Choix de la méthode {prof.get('nom_methode') or prof.get('nom')}"


def _label(name: str, path: str, data: dict) -> tuple[str, str] | None:
    """French label and display kind of setting ``path`` of file ``name``:
    :data:`LABELS`, with the profile's words filled in (``{structure.…}``)
    and ``*`` entries matching any last key (``{code}`` is then the French
    label of that answer code in the codebook list of the question)."""
    from analysis.method import profile as profiles
    from analysis.reporting import wording

    entry = LABELS[name].get(path)
    code = None
    if entry is None and "." in path:
        parent, _, code = path.rpartition(".")
        entry = LABELS[name].get(f"{parent}.*")
    if entry is None:
        return None
    label, kind = entry
    if code is not None:
        label = label.replace("{code}", _answer_label(data, code))
    if "{" in label:
        label = wording.fill(label.replace("{", "{{").replace("}", "}}"), profiles.current())
    return label, kind


def _answer_label(sroi: dict, code: str) -> str:
    """French label of ``code`` among the answers of the deadweight question
    (codebook: the ``codes`` list of the questionnaire column it names)."""
    from analysis.intake.codebook import column_spec, label_of

    spec = column_spec((sroi.get("enquete") or {}).get("question_poids_mort"))
    return label_of(spec["codes"], code) if spec.get("codes") else code


def _get(data, path: str):
    for part in filter(None, path.split(".")):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _leaves(data, prefix: str = ""):
    """``(path, value)`` of every setting under ``data``: scalars and lists
    of scalars, keyed by dotted path (``*_source``/``*_url`` keys skipped)."""
    if isinstance(data, dict):
        for k, v in data.items():
            k = str(k)
            if k == "value" and prefix:  # {value: …, source: …}: the setting itself
                yield prefix, v
                continue
            if k in _SKIP or k.endswith(("_source", "_url")):
                continue
            key = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                yield from _leaves(v, key)
            else:
                yield key, v
    else:
        yield prefix, data


def _settings(name: str, data: dict):
    for section in _SCANNED[name]:
        node = data if section == "" else _get(data, section)
        if node is None:
            continue
        if isinstance(node, dict):
            yield from _leaves(node, section)
        else:
            yield section, node


def unlabelled(methodology_dir=None) -> list[str]:
    """Settings of the methodology files with no French label (should be
    empty: each one would otherwise print as its YAML key)."""
    out = []
    for name in LABELS:
        data = methodology.load(name, methodology_dir)
        out += [f"{methodology.FILES[name]} : {path}" for path, _ in _settings(name, data) if _label(name, path, data) is None]
        out += [f"{methodology.FILES[name]} : {path} (valeur {v!r})" for path, v in _settings(name, data)
                if (_label(name, path, data) or ("", ""))[1] == "text"
                for v in (v if isinstance(v, list) else [v]) if str(v) not in VALUE_LABELS]
    return out


def fr_value(value, kind: str) -> str:
    """A setting's value in French for the annex (``0.035`` as a
    ``percent`` → ``3,5 %``; booleans as oui/non; codes in words)."""
    if isinstance(value, list):
        item = {"percents": "percent", "ints": "int"}.get(kind, kind)
        return " ; ".join(fr_value(v, item) for v in value)
    if value is None:
        return "sans borne"
    if kind == "bool":
        return "oui" if value else "non"
    if kind == "text":
        return VALUE_LABELS.get(str(value), str(value))
    if kind == "year":
        return str(int(value))
    if kind == "percent":
        pct = 100 * float(value)
        return fr_percent(value, next(d for d in (0, 1, 2) if abs(round(pct, d) - pct) < 1e-9 or d == 2))
    if kind == "euro2":
        return fr_euro(value, 2)
    if kind == "num2":
        return fr_number(value, 2).rstrip("0").rstrip(",")
    if kind == "smic":
        return f"{fr_number(value, 1)} fois le SMIC"
    return fr_number(value, 0)


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _table(rows: list[tuple], headers: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] * len(headers)) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n\n"


def _source(data: dict, path: str, name: str) -> str:
    """The source of a setting: its ``<key>_source``, else the ``source`` of
    its section, else the method's own choice (named with its file)."""
    parent, _, key = path.rpartition(".")
    node = _get(data, parent) if parent else data
    for cand in (node.get(f"{key}_source") if isinstance(node, dict) else None,
                 node.get("source") if isinstance(node, dict) and isinstance(node.get("source"), str) else None,
                 node.get(key, {}).get("source") if isinstance(node, dict) and isinstance(node.get(key), dict) else None):
        if cand:
            return cand
    return f"{_default_source()} (fichier {methodology.FILES[name]})"


def _labelled_rows(name: str, data: dict) -> list[tuple[str, str, str]]:
    rows = []
    for path, value in _settings(name, data):
        label, kind = _label(name, path, data) or (path, "text")
        rows.append((label, _question_value(value) if kind == "question" else fr_value(value, kind), _source(data, path, name)))
    return rows


def _question_value(column: str) -> str:
    """« label » (column) of a questionnaire column named by a setting (codebook label)."""
    from analysis.intake.codebook import column_spec

    label = column_spec(column).get("label")
    return f"« {label} » ({column})" if label else column


def _range(spec: dict, fmt) -> str:
    """``10 % à 45 % (bornes)``: the range and what it covers (``plage``)."""
    from analysis.sroi.valuation import RANGE_LABELS

    lo, hi = spec.get("min"), spec.get("max")
    if lo is None or hi is None or lo == hi:
        return "aucune (valeur fixe)"
    kind = spec.get("plage")
    return f"{fmt(lo)} à {fmt(hi)}" + (f" ({RANGE_LABELS.get(kind, kind)})" if kind else "")


def parameters_annex(methodology_dir=None) -> str:
    """The annex « Paramètres de la méthode » (French Markdown): publication
    rules, indicator settings, the SROI (general settings, coefficients,
    financial proxies, price index, social contributions, questionnaire)
    and the QVT, each parameter with its French label, value and source."""
    pub = methodology.load("publication", methodology_dir)
    ind = methodology.load("indicateurs", methodology_dir)
    sroi = methodology.load("sroi", methodology_dir)
    qvt = methodology.load("qvt", methodology_dir)
    head = ("Paramètre", "Valeur", "Source")
    out = [
        "## Paramètres de la méthode {#sec-annexe-parametres}\n\n",
        "Chaque valeur ci-dessous est lue dans les fichiers de méthode versionnés au moment de l'assemblage : "
        "modifier un fichier modifie ce tableau et tous les résultats qui en dépendent.\n\n",
        "### Règles de publication\n\n", _table(_labelled_rows("publication", pub), head),
        "### Indicateurs\n\n", _table(_labelled_rows("indicateurs", ind), head),
        "### SROI : réglages généraux, questionnaire et cotisations\n\n", _table(_labelled_rows("sroi", sroi), head),
    ]
    cot = sroi.get("cotisations", {})
    extra = [(m.get("libelle", "Majoration patronale"), f"{fr_percent(m['taux'], 1)} de plus au-delà de {fr_number(m['seuil_smic'], 1)} SMIC",
              cot.get("taux_patronal_source", _default_source())) for m in cot.get("majorations_patronales", [])]
    extra += [(f"Paramètre T de la réduction générale, {year}", fr_number(v, 4), cot.get("reduction_source", _default_source()))
              for year, v in cot.get("coefficient_T", {}).items()]
    extra += [(f"SMIC horaire brut au 1er janvier {year}", fr_euro(v, 2), "Décret annuel de revalorisation du salaire minimum de croissance")
              for year, v in cot.get("smic_horaire", {}).items()]
    if extra:
        out += ["### SROI : barèmes des cotisations\n\n", _table(extra, head)]
    coefs = [(c.get("libelle", k), fr_percent(c.get("valeur"), 0), _range(c, lambda v: fr_percent(v, 0)),
              c.get("source", _default_source())) for k, c in sroi.get("coefficients", {}).items()]
    if coefs:
        out += ["### SROI : coefficients\n\n",
                "Le poids mort, l'attribution et le déplacement sont retirés de chaque effet ; l'érosion le diminue "
                "chaque année. La plage (entre parenthèses : ce qu'elle couvre) est celle de l'analyse de sensibilité et "
                "de la simulation.\n\n",
                _table(coefs, ("Coefficient", "Valeur retenue", "Plage", "Source"))]
    proxies = [(p.get("libelle", k), fr_euro(p.get("valeur"), 2 if float(p.get("valeur", 0)) < 100 else 0),
                _range(p, lambda v: fr_euro(v, 0 if float(v) >= 100 else 2)), p.get("unite", ""), str(p.get("annee", "")),
                p.get("source", _default_source())) for k, p in sroi.get("proxys", {}).items()]
    if proxies:
        out += ["### SROI : proxys financiers\n\n",
                _table(proxies, ("Proxy", "Valeur", "Plage", "Unité", "Année des euros", "Source"))]
    idx = sroi.get("indice", {})
    if idx.get("valeurs"):
        out += [f"### SROI : indice des prix\n\n{idx.get('nom', '')}. Source : {idx.get('source', _default_source())}.\n\n",
                _table([(str(y), fr_number(v, 2)) for y, v in idx["valeurs"].items()], ("Année", "Indice"))]
    qrows = _labelled_rows("qvt", qvt)
    qrows += [(f"Seuil du WHO-5 : {s.get('label', '')}", fr_number(s.get("valeur"), 0), _source(qvt, "who5.seuils", "qvt"))
              for s in qvt.get("who5", {}).get("seuils", [])]
    qrows += [(f"Classe d'ancienneté : {b.get('label', '')}", f"{fr_number(b.get('min'), 0)} à {fr_value(b.get('max'), 'int')} ans"
               if b.get("max") is not None else f"{fr_number(b.get('min'), 0)} ans et plus", _source(qvt, "anciennete.bandes", "qvt"))
              for b in qvt.get("anciennete", {}).get("bandes", [])]
    out += ["### Qualité de vie au travail\n\n", _table(qrows, head)]
    return "".join(out)
