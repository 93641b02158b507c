"""The French glossary of the reports: the technical terms a funder meets
in a structure's report or the national book, explained in one or two
sentences. One home, used by the book (appendix), every structure's PDF
report and its HTML report. The entries name the structure and the people
through the study profile's words (``{{structure.le}}``, filled by
:func:`analysis.reporting.wording.fill`); a profile adds its own terms with
``profile.yml: glossaire`` (a list of [term, explanation])."""

from __future__ import annotations

#: (term, explanation) common to every study; :func:`entries` sorts them with the profile's own.
GLOSSARY: list[tuple[str, str]] = [
    ("Attribution", "Part d'un effet due à d'autres acteurs que {{structure.le}} (proches, autres structures d'accompagnement) ; elle est retirée de la valeur attribuée {{structure.au}}."),
    ("Bêta-PERT (loi)", "Loi de probabilité définie par une valeur basse, une valeur retenue et une valeur haute ; la simulation de Monte Carlo y tire chaque hypothèse, plus souvent près de la valeur retenue qu'aux extrémités."),
    ("α de Cronbach", "Mesure de la cohérence des affirmations d'une même échelle du questionnaire, de 0 à 1 ; plus il est proche de 1, plus les affirmations mesurent une même chose de façon fiable."),
    ("Déplacement", "Part d'un effet obtenue au détriment d'autres personnes ou structures (un client pris à un concurrent, par exemple) ; elle est retirée de la valeur créée."),
    ("Effet fixe (modèle à)", "Modèle statistique qui compare les personnes au sein de chaque {{structure.singulier}}, de sorte que les différences entre {{structure.pluriel}} ne faussent pas les écarts estimés."),
    ("Érosion", "Diminution d'un effet d'une année sur l'autre après la période observée (par exemple 10 % par an : 100, puis 90, puis 81)."),
    ("Holm (correction de)", "Correction des p-valeurs quand plusieurs tests sont faits à la fois : elle évite de conclure à des écarts qui ne seraient dus qu'au hasard de tests nombreux."),
    ("Intervalle de confiance à 95 %", "Fourchette de valeurs compatibles avec les données : avec la méthode employée, elle contient la vraie valeur dans 95 cas sur 100. Plus les personnes concernées sont nombreuses, plus elle est étroite."),
    ("Kaplan–Meier", "Méthode d'estimation de la part de personnes toujours présentes au bout d'une durée donnée, qui tient compte des personnes entrées trop récemment pour avoir atteint cette durée."),
    ("Kish (effectif équivalent de)", "Nombre de répondants qu'aurait un échantillon non pondéré aussi précis que l'échantillon pondéré ; les intervalles des parts pondérées sont calculés sur cet effectif."),
    ("Monte Carlo (simulation de)", "Calcul répété des milliers de fois en faisant varier ensemble toutes les hypothèses dans leur plage ; il donne la fourchette dans laquelle se situe le ratio SROI."),
    ("ω de McDonald", "Autre mesure de la fiabilité d'une échelle, fondée sur un modèle à un facteur ; elle demande au moins trois affirmations par échelle."),
    ("Poids mort", "Ce qui serait arrivé sans {{structure.le}} (une personne qui aurait de toute façon exercé son activité) ; il est retiré de la valeur attribuée {{structure.au}}."),
    ("Pondération (calage)", "Poids donnés aux répondants pour que leur répartition par {{rapport.variables_representativite}} rejoigne celle de l'ensemble des {{personne.population}}."),
    ("Proxy financier", "Valeur en euros, datée et sourcée, qui représente un effet qui n'a pas de prix (par exemple le coût évité d'une allocation)."),
    ("Ratio net", "Valeur sociale créée diminuée des intrants, rapportée aux intrants : un ratio net de 1,5 signifie que la valeur créée dépasse les ressources de 1,5 fois leur montant."),
    ("Ratio SROI", "Valeur actuelle des effets rapportée aux intrants {{structure.du}} : ce que représentent, en euros d'effets sociaux, les effets associés à chaque euro reçu. Ce n'est pas un bénéfice financier, et il ne se compare pas d'une organisation à l'autre."),
    ("Secret statistique (« s »)", "Une valeur calculée sur trop peu de personnes est masquée et remplacée par « s », pour qu'aucune personne ne puisse être reconnue."),
    ("SROI", "Retour social sur investissement (Social Return on Investment) : méthode qui valorise en euros les effets sociaux d'une action et les rapporte aux ressources engagées (guide du SROI Network, 2012)."),
    ("Valeur actuelle", "Somme des effets valorisés sur leur durée, les années futures étant actualisées (un euro dans deux ans compte un peu moins qu'un euro aujourd'hui)."),
    ("WHO-5", "Indice de bien-être de l'Organisation mondiale de la santé, de 0 à 100, calculé à partir de cinq questions ; un score bas signale un bien-être faible (les seuils retenus sont dans la méthode)."),
]


def entries(prof=None) -> list[tuple[str, str]]:
    """The glossary of the study profile ``prof`` (default: the run's): the
    common entries in its words plus its ``glossaire``, in French alphabetical
    order (accents ignored)."""
    import re
    import unicodedata

    from analysis.method import profile as profiles
    from analysis.reporting.wording import fill

    prof = prof or profiles.current()
    items = [(t, fill(x, prof)) for t, x in GLOSSARY] + [(str(t), str(x)) for t, x in prof.get("glossaire") or []]
    def key(e):  # « α de Cronbach » files under C
        term = re.sub(r"^[α-ω] de ", "", e[0])
        return unicodedata.normalize("NFD", term).encode("ascii", "ignore").decode().lower()

    return sorted(items, key=key)


def glossary_md(prof=None) -> str:
    """The glossary as a pandoc definition list (French Markdown)."""
    return "\n".join(f"{term}\n:   {text}\n" for term, text in entries(prof))
