"""Summaries built from the stage results: the one-page summary of a CAE's
report and the national synthesis.

Everything here reads the result files the stage notebooks wrote under
``<processed>/<cae>/`` (indicators, SROI, QVT); the figures quoted in
French sentences come from those files, never typed. Which indicators the
one-page summary shows is methodology (``synthese:`` in
``methodology/indicators.yml``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis import config
from analysis.method import profile as profiles
from analysis.pipeline import registry
from analysis.pipeline.results import read_result
from analysis.publication import suppression
from analysis.publication.formatting import fr_euro, fr_interval, fr_number, fr_percent, fr_ratio
from analysis.intake.processed import CaeData

#: The stage result tables the per-CAE summary reads (stage registry).
STAGE_RESULTS = list(registry.stage("synthese").utilise)


def load_stage_results(cae: str, processed_dir: Path | str | None = None) -> dict[str, pd.DataFrame | None]:
    """The stage result tables of ``cae`` (None for a table not written)."""
    d = Path(processed_dir or config.PROCESSED_DIR) / cae
    out: dict[str, pd.DataFrame | None] = {}
    for stem in STAGE_RESULTS:
        p = d / f"{stem}.parquet"
        out[stem] = read_result(d / stem) if p.exists() else None
    return out


def count_fr(n: int) -> str:
    """A published count in a sentence: :func:`analysis.publication.suppression.count_fr`."""
    return suppression.count_fr(n)


def overview_fr(data: CaeData) -> str:
    """Who the structure is and whom it served, in one French paragraph
    (profile ``phrases.presentation``: every key of the description file is
    a placeholder, coded keys as lower-case labels, ``type`` the label of
    ``description.cle_type``, ``debut``/``fin`` French dates, ``n`` the people)."""
    from analysis.intake import codebook
    from analysis.publication.escape import markdown_text

    prof = profiles.current()
    info = data.info
    cb = codebook.load_codebook()
    section = cb[prof.description_section]
    values = {k: ("?" if v is None else v) for k, v in info.items() if not isinstance(v, dict)}
    for k in [k[: -len("_codes")] for k in section if k.endswith("_codes")]:
        values[k] = str(section[f"{k}_codes"].get(info.get(k), info.get(k, ""))).lower()
    values["type"] = values.get(prof.get("description.cle_type", "type"), "")
    debut, fin = info["periode"]["debut"], info["periode"]["fin"]
    values.update(nom=markdown_text(info.get("nom", data.slug)), region=markdown_text(info.get("region", "")), debut=date_fr(debut), fin=date_fr(fin),
                  n=count_fr(len(data.personnes)))
    values = _Missing(values)
    text = str(prof.get("phrases.presentation")).format_map(values)
    if data.has_survey:
        text += " " + prof.phrase("presentation_questionnaire", n=count_fr(len(data.questionnaire)))
    else:
        text += " " + prof.phrase("presentation_sans_questionnaire")
    return text


class _Missing(dict):
    """Placeholders of a profile sentence absent from the description print as « ? »."""

    def __missing__(self, key):
        return "?"


def date_fr(iso: str) -> str:
    """``'2019-01-01'`` → ``'1er janvier 2019'`` (French ordinal for the
    first day of the month, month in full; never an ISO date in prose)."""
    months = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"]
    d = pd.Timestamp(iso)
    return f"{d.day}{'er' if d.day == 1 else ''} {months[d.month - 1]} {d.year}"


def headline_indicators(indicators: pd.DataFrame | None, spec: dict) -> pd.DataFrame:
    """The summary's indicators (``synthese:`` ids in the methodology), in
    that order, published ones only (no breakdown rows)."""
    ids = spec["synthese"]
    if indicators is None or not len(indicators) or not ids:
        return pd.DataFrame(columns=[] if indicators is None else indicators.columns)
    t = indicators[indicators["indicator"].isin(ids) & ~indicators["suppressed"].astype(bool)]
    if "breakdown" in t:
        t = t[t["breakdown"].isna() | (t["breakdown"].astype(str) == "")]
    return t.assign(_o=t["indicator"].map({k: i for i, k in enumerate(ids)})).sort_values("_o").drop(columns="_o")


def headline_sentences_fr(indicators: pd.DataFrame | None, spec: dict, limit: int = 6) -> list[str]:
    """The summary's headline results (``synthese:`` in the methodology, at
    most ``limit``) as French sentences: value, 95 % interval, and the count
    it rests on (n of the base, or the people followed for a survival rate),
    plus the national reference when the methodology gives one. Only
    published rows are quoted (:func:`headline_indicators`), so every count
    printed is one the indicator tables already publish."""
    from analysis.indicators.compute import fmt_interval, fmt_value

    out = []
    for r in headline_indicators(indicators, spec).head(limit).itertuples(index=False):
        if pd.isna(r.value):
            continue
        s = f"**{r.label}** : {fmt_value(r.value, r.unit)}"
        if pd.notna(r.ci_low) and pd.notna(r.ci_high):
            s += f" (intervalle de confiance à 95 % : {fmt_interval(r.ci_low, r.ci_high, r.unit)})"
        if pd.notna(r.n) and pd.notna(r.denominator) and r.unit == "part":
            s += f", soit {count_fr(int(r.n))} personnes sur {count_fr(int(r.denominator))}"
        elif pd.notna(r.n):
            s += f", calculé sur {count_fr(int(r.n))} personnes"
        if pd.notna(getattr(r, "reference", None)):
            s += f" ; référence nationale : {fmt_value(r.reference, r.unit)}"
        out.append(s + ".")
    return out


def sroi_meaning_fr(resume: pd.DataFrame | None) -> str:
    """What the CAE's SROI ratio means and does not mean, quoting it
    (Social Value International: ratios are not comparable across
    organisations; SROI Network guide 2012: a ratio is a valuation of
    outcomes, not a financial return)."""
    if resume is None or not len(resume):
        return ""
    ratio = fr_ratio(resume.iloc[0]["ratio"])
    prof = profiles.current()
    return (
        f"**Ce que le ratio signifie.** Pour chaque euro reçu par {prof.term('structure.le')} ({prof.get('rapport.texte_intrants')}), "
        f"la valeur des effets produits pour les parties prenantes ({prof.get('rapport.texte_parties_prenantes')}) "
        f"est estimée à {ratio}, une fois retirés ce qui serait arrivé "
        f"sans {prof.term('structure.le')}, la part due à d'autres acteurs et l'érosion des effets dans le temps.\n\n"
        f"**Ce qu'il ne signifie pas.** Ce n'est pas un bénéfice financier ni un retour en argent pour le "
        f"financeur : c'est une estimation en euros d'effets sociaux, qui dépend d'hypothèses sourcées et "
        f"présentées avec leur plage. Il ne se compare pas au ratio d'une autre organisation, dont les "
        f"hypothèses et les publics diffèrent."
    )


def sroi_fr(resume: pd.DataFrame | None, mc: pd.DataFrame | None) -> str:
    """The SROI result in one French sentence, with its Monte Carlo interval."""
    if resume is None or not len(resume):
        return "La valeur sociale (SROI) n'a pas été calculée."
    r = resume.iloc[0]
    text = (
        f"La valeur actuelle des résultats est estimée à {fr_euro(r['valeur_actuelle'])} pour "
        f"{fr_euro(r['intrants'])} d'intrants : {profiles.current().phrase('ratio_par_euro')} "
        f"**{fr_ratio(r['ratio'])}** de valeur sociale (ratio SROI ; ratio net {fr_number(r['ratio_net'], 2)})."
    )
    if mc is not None and len(mc):
        m = mc.iloc[0]
        text += (
            f" En faisant varier ensemble toutes les hypothèses ({fr_number(m['tirages'])} tirages), le ratio se situe "
            f"entre {fr_number(m['ratio_bas'], 2)} et {fr_number(m['ratio_haut'], 2)} dans "
            f"{fr_percent(m['q_haut'] - m['q_bas'], 0)} des cas ; il dépasse 1 avec une probabilité de "
            f"{fr_percent(m['p_ratio_sup_1'], 0)}."
        )
    if bool(r.get("coefficients_par_defaut", False)):
        text += (" Faute de questionnaire suffisant, ce ratio repose sur le poids mort et l'attribution par défaut "
                 f"de la méthode, fixés par prudence, et non sur une mesure propre {profiles.current().term('structure.au')}.")
    return text + " Ce ratio ne se compare pas à celui d'une autre organisation."


def qvt_fr(dims: pd.DataFrame | None, who5: pd.DataFrame | None) -> str:
    """Quality of work life in two French sentences (published values only)."""
    if dims is None or not len(dims):
        return "La qualité de vie au travail n'est pas mesurée faute de questionnaire."
    pub = dims[~dims["suppressed"].astype(bool) & dims["mean"].notna()]
    if not len(pub):
        return "Trop peu de personnes ont répondu aux questions de qualité de vie au travail pour publier un résultat."
    best, worst = pub.loc[pub["mean"].idxmax()], pub.loc[pub["mean"].idxmin()]
    text = (
        f"Sur une échelle de 1 à 5, la dimension la mieux notée est « {best['label']} » "
        f"({fr_number(best['mean'], 1)}, IC 95 % {fr_interval(best['ci_low'], best['ci_high'])}), "
        f"la moins bien notée « {worst['label']} » ({fr_number(worst['mean'], 1)})."
    )
    if who5 is not None and len(who5) and not bool(who5.iloc[0].get("suppressed", False)) and pd.notna(who5.iloc[0]["mean"]):
        w = who5.iloc[0]
        text += f" Le score de bien-être WHO-5 moyen est de {fr_number(w['mean'], 0)} sur 100"
        if pd.notna(w.get("share_le_50")):
            text += f" ; {fr_percent(w['share_le_50'], 0)} des répondants ont un score de 50 ou moins (bien-être faible)."
        else:  # the share is masked (too few people below or above 50): say so, never print a dash in a sentence
            text += " (la part des scores de 50 ou moins n'est pas publiée : trop peu de personnes)."
    return text


def cae_summary_md(data: CaeData, results: dict[str, pd.DataFrame | None], spec: dict | None = None) -> dict:
    """The paragraphs of a CAE's one-page summary (French Markdown), from
    its stage results (:func:`load_stage_results`)."""
    return {
        "qui": overview_fr(data),
        "resultats": headline_sentences_fr(results["indicateurs"], spec or {}),
        "sroi": sroi_fr(results["sroi_resume"], results["sroi_monte_carlo"]),
        "sroi_sens": sroi_meaning_fr(results["sroi_resume"]),
        "qvt": qvt_fr(results["qvt_dimensions"], results["qvt_who5"]),
    }


# --------------------------------------------------------------------------
# national
# --------------------------------------------------------------------------
def network_totals(datas: list[CaeData], labels: dict[str, str]) -> pd.DataFrame:
    """One row per CAE and a network total: people supported, survey
    respondents, response rate, turnover and gross pay of the last year.
    Counts go through :func:`analysis.publication.suppression.publish`."""
    prof = profiles.current()
    who, people = prof.term("structure.colonne"), prof.term("personne.colonne_population")
    amounts = [("chiffre_affaires", "Chiffre d'affaires de la dernière année (€)"),
               ("remuneration_brute", "Rémunération brute de la dernière année (€)")]
    present = [(c, lab) for c, lab in amounts if any(c in d.activite.columns for d in datas)]
    rows = []
    for d in datas:
        act = d.activite
        last = act[act["annee"] == act["annee"].max()] if len(act) else act
        row = {who: labels.get(d.slug, d.slug), people: len(d.personnes),
               "Répondants": len(d.questionnaire) if d.has_survey else 0}
        for c, lab in present:
            row[lab] = float(last[c].sum()) if len(last) and c in last else 0.0
        rows.append(row)
    t = pd.DataFrame(rows)
    total = t.drop(columns=who).sum().to_dict()
    total[who] = prof.term("structure.ensemble")
    t = pd.concat([t, pd.DataFrame([total])], ignore_index=True)
    t["Taux de réponse"] = t["Répondants"] / t[people]
    return t


def key_findings_md(national_ind: pd.DataFrame, sroi_nat, qvt_nat, n_cae: int, n_people: int, spec: dict) -> str:
    """The national key findings (Synthèse chapter), from computed results."""
    lines = ["- " + profiles.current().phrase("synthese_participation", n=n_cae, n_personnes=count_fr(n_people))]
    for _, r in headline_indicators(national_ind, spec).iterrows():
        if r["unit"] == "part":
            ref = f" (référence nationale : {fr_percent(r['reference'], 0)})" if pd.notna(r.get("reference")) else ""
            lines.append(f"- {r['label']} : **{fr_percent(r['value'])}** {fr_interval(r['ci_low'], r['ci_high'], 'percent')}{ref}.")
        elif r["unit"] in ("euros", "euros_mois"):
            lines.append(f"- {r['label']} : **{fr_euro(r['value'])}**.")
        else:
            lines.append(f"- {r['label']} : **{fr_number(r['value'], 1)}**.")
    if sroi_nat is not None:
        mc = sroi_nat.mc
        lines.append(
            f"- Valeur sociale du réseau : **{fr_ratio(sroi_nat.ratio)}** par euro investi (ratio SROI ; "
            f"intervalle Monte Carlo {fr_number(mc['ratio_bas'], 2)} – {fr_number(mc['ratio_haut'], 2)}, "
            f"probabilité de dépasser 1 : {fr_percent(mc['p_ratio_sup_1'], 0)})."
        )
    if qvt_nat is not None and getattr(qvt_nat, "available", False):
        lines.append("- Qualité de vie au travail : " + qvt_fr(qvt_nat.dimensions, qvt_nat.who5))
    return "\n".join(lines)


#: French names of the methodology files, for prose (file stem → name).
METHOD_FILES_FR = {
    "codebook": "formats des données",
    "indicators": "référentiel des indicateurs",
    "sroi": "carte de la valeur SROI",
    "qvt": "échelles QVT",
    "publication": "règles de publication",
    "assumptions": "journal des hypothèses",
    "endi": "correspondance enDI",
}


def provenance_fr(manifest: dict) -> str:
    """One French line tracing the numbers: methodology versions, package
    version, read date (PROTOCOL §4), in words (no file keys, no ISO date)."""
    versions = ", ".join(
        f"{METHOD_FILES_FR.get(k, k)} v{v['version']}" for k, v in manifest.get("methodology", {}).items()
    )
    run = str(manifest.get("run_time_utc", ""))[:10]
    read = f" ; données lues le {date_fr(run)}" if run else ""
    return f"_Versions de la méthode : {versions} ; classeur v{manifest.get('package_version', '?')}{read}._"


ABSENT = "–"  # not measured (e.g. no survey in that CAE)


def indicators_wide_fr(per_cae: list[pd.DataFrame], national: pd.DataFrame) -> pd.DataFrame:
    """Each CAE beside the network, one column per CAE, French-formatted.

    A hidden cell (statistical secret) prints as ``s``, INSEE's mark; a cell
    that was not measured (the indicator does not exist for that CAE, e.g.
    no questionnaire) prints as ``–``, so a reader never mistakes one for
    the other. ``per_cae`` tables carry the CAE's display name in ``cae``."""
    from analysis.indicators import compute as ind

    values = ind.by_cae(per_cae, national)
    hidden = ind.by_cae(per_cae, national, column="suppressed")
    keys = ["family", "indicator", "label", "breakdown", "unit"]
    out = values[keys].copy()
    for c in [c for c in values.columns if c not in keys]:
        out[c] = [
            ind.SECRET if (pd.notna(h) and bool(h)) else (ind.fmt_value(v, u) if pd.notna(v) else ABSENT)
            for v, h, u in zip(values[c], hidden[c], values["unit"])
        ]
    return out.drop(columns=["indicator", "unit"]).rename(columns={"family": "Famille", "label": "Indicateur", "breakdown": "Détail"})


def national_effects_intro_md(n_structures: int) -> str:
    """The French paragraph that opens the national effects: how the table
    and figure below show the structures, one by one or, past
    ``publication.yml: structures_max_par_figure``, as a spread
    (:func:`analysis.reporting.plotting.shows_each_structure`), and what
    the marks of a hidden or unmeasured value are."""
    from analysis.indicators import compute as ind
    from analysis.reporting.plotting import shows_each_structure

    t = profiles.current().term
    if shows_each_structure(n_structures):
        return (f"Pour chaque famille d'effets, la valeur du réseau (toutes les personnes regroupées) est donnée à côté "
                f"de celle de chaque {t('structure.singulier')}. « {ind.SECRET} » signale une valeur cachée par le "
                f"secret statistique ; « {ABSENT} » un indicateur non mesuré dans {t('structure.ce')} "
                "(par exemple faute de questionnaire).")
    return (f"Le réseau compte {fr_number(n_structures)} {t('structure.pluriel')} : trop pour une colonne ou un point par "
            f"{t('structure.singulier')}. Pour chaque indicateur, la valeur du réseau (toutes les personnes regroupées) "
            f"est donnée avec la répartition des valeurs publiées par les {t('structure.pluriel')} : la médiane, les "
            f"quartiles (la moitié des {t('structure.pluriel')} se situe entre les deux) et les extrêmes. Les valeurs "
            f"de chaque {t('structure.singulier')} figurent dans son propre rapport. « {ind.SECRET} » signale une "
            f"valeur du réseau cachée par le secret statistique ; « {ABSENT} » un indicateur sans valeur publiée.")


def indicators_spread_fr(per_cae: list[pd.DataFrame], national: pd.DataFrame) -> pd.DataFrame:
    """The table of :func:`indicators_wide_fr` for a network too large for
    one column per CAE (:func:`analysis.reporting.plotting.shows_each_structure`):
    per indicator, the network's value, then how the CAEs' published values
    are spread (:func:`analysis.indicators.compute.spread_by_indicator`):
    median, quartiles, extremes and the number of CAEs with a published
    value. A hidden network value prints as
    :data:`analysis.indicators.compute.SECRET`, an indicator no CAE
    publishes as :data:`ABSENT`."""
    from analysis.indicators import compute as ind

    prof = profiles.current()
    spread = ind.spread_by_indicator(pd.concat(per_cae, ignore_index=True))
    nat = national.assign(breakdown=national["breakdown"].fillna("")).set_index(["indicator", "breakdown"])
    keys = ["family", "indicator", "label", "breakdown", "unit"]
    rows = pd.concat(per_cae + [national], ignore_index=True)[keys].assign(breakdown=lambda t: t["breakdown"].fillna(""))
    rows = rows.drop_duplicates().merge(spread, on=keys, how="left")
    between = lambda a, b, u: f"{ind.fmt_value(a, u)} à {ind.fmt_value(b, u)}"  # noqa: E731
    out = []
    for r in rows.itertuples(index=False):
        n = 0 if pd.isna(r.n) else int(r.n)
        net = nat.loc[(r.indicator, r.breakdown)] if (r.indicator, r.breakdown) in nat.index else None
        if isinstance(net, pd.DataFrame):
            net = net.iloc[0]
        if net is None or pd.isna(net["value"]) and not bool(net.get("suppressed", False)):
            net_txt = ABSENT
        else:
            net_txt = ind.SECRET if bool(net.get("suppressed", False)) else ind.fmt_value(net["value"], r.unit)
        out.append({
            "Famille": r.family, "Indicateur": r.label, "Détail": r.breakdown,
            prof.term("structure.ensemble"): net_txt,
            "Médiane": ind.fmt_value(r.median, r.unit) if n else ABSENT,
            "Quartiles": between(r.q1, r.q3, r.unit) if n else ABSENT,
            "Extrêmes": between(r.min, r.max, r.unit) if n else ABSENT,
            f"{prof.term('structure.majuscule_pluriel')} avec une valeur publiée": fr_number(n),
        })
    return pd.DataFrame(out)


def network_totals_fr(totals: pd.DataFrame) -> pd.DataFrame:
    """:func:`network_totals` published and formatted the French way. The
    "Réseau" row is the total of the CAE rows, so the count columns are
    protected as a table with a total row
    (:func:`analysis.publication.linked.protect_total_row`); a response rate
    is hidden with either of its counts (rate × people = respondents) or
    when it is computed on fewer than ``seuil_denominateur`` people."""
    from analysis.publication import linked

    counts = [profiles.current().term("personne.colonne_population"), "Répondants"]
    t = totals.reset_index(drop=True)
    total_rows = t.index[t[t.columns[0]] == profiles.current().term("structure.ensemble")]
    if len(total_rows):
        pub = linked.protect_total_row(t, counts, total_rows[0])
    else:
        pub = suppression.publish(t, count_cols=counts, denominator_col=None, value_cols=[], complement=False)
    out = pub.drop(columns=[c for c in ("suppressed", "suppression") if c in pub.columns])
    _, sd = suppression.thresholds()
    hidden_count = out[counts].isna().any(axis=1)
    hidden_rate = hidden_count | (pd.to_numeric(t[counts[0]], errors="coerce") < sd)
    for c in [c for c in out.columns if "(€)" in c]:
        out[c] = out[c].map(fr_euro)
    out["Taux de réponse"] = [suppression.mark_fr("effectif" if hc else "denominateur") if h else fr_percent(v)
                              for v, h, hc in zip(t["Taux de réponse"], hidden_rate, hidden_count)]
    for c in counts:
        out[c] = out[c].map(lambda v: fr_number(v) if pd.notna(v) else ind_secret())
    return out


def ind_secret() -> str:
    """The short mark of a hidden count in a wide table."""
    from analysis.indicators import compute as ind

    return ind.SECRET


def sroi_summary_fr(summary: pd.DataFrame) -> pd.DataFrame:
    """An SROI headline table (``SroiResult.summary()``) with French values:
    euros for amounts, a percentage for the probability, two decimals else."""
    out = summary.copy()
    out["valeur"] = [
        fr_euro(v) if "(€)" in k else (fr_percent(v) if "probabilité" in k else fr_number(v, 2))
        for k, v in zip(out["indicateur"], out["valeur"])
    ]
    return out.rename(columns={"indicateur": "Indicateur", "valeur": "Valeur"})


def sroi_by_cae_fr(by_cae: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The national SROI's per-CAE table with display names and French values,
    in the order of ``by_cae`` (never sorted by ratio: each ratio is its CAE's
    own result); ``coefficients_par_defaut`` becomes the column « Poids mort et attribution »
    (questionnaire or défaut)."""
    out = by_cae.copy()
    out["cae"] = out["cae"].map(lambda s: labels.get(s, s))
    for c in out.columns:
        if c == "cae":
            continue
        if c == "coefficients_par_defaut":
            out[c] = out[c].map(lambda v: "par défaut (sans questionnaire suffisant)" if v else "mesurés par le questionnaire")
            continue
        out[c] = out[c].map((lambda v: fr_number(v, 2)) if "ratio" in c else fr_euro)
    headers = {"cae": profiles.current().term("structure.colonne"), "coefficients_par_defaut": "Poids mort et attribution", "valeur_actuelle": "Valeur actuelle",
               "intrants": "Intrants", "ratio": "Ratio SROI", "ratio_net": "Ratio net", "valeur_nette": "Valeur nette"}
    return out.rename(columns=lambda c: headers.get(c, c.replace("_", " ").capitalize()))


# --------------------------------------------------------------------------
# national context from the study profile
# --------------------------------------------------------------------------
def national_facts_md(prof=None) -> str:
    """The profile's national facts (``rapport.reperes_nationaux``: {texte,
    source, url, annee}), one French bullet each with its source ('' when none)."""
    prof = prof or profiles.current()
    lines = []
    for f in prof.get("rapport.reperes_nationaux") or []:
        src = f.get("source", "")
        if f.get("url"):
            src = f"[{src}]({f['url']})"
        lines.append(f"- {f['texte']} _Source : {src}._")
    return "\n".join(lines)


def structures_vs_reference(datas: list[CaeData], prof=None, anonymise: bool | None = None) -> pd.DataFrame:
    """The participating structures by description key beside the national
    shares of ``rapport.references_structures`` ({key: {valeurs: {code: share},
    source, annee}}): one row per key and code with the number of structures,
    their share and the national share. Counts of structures, not people: no
    small-cell rule, except when the structures are anonymised, where a count
    from 1 to ``seuil_effectif`` − 1 could name a place and is hidden (NA)."""
    from analysis.intake import codebook

    prof = prof or profiles.current()
    if anonymise is None:
        from analysis.method import loader

        pub = loader.load("publication")
        anonymise = bool(pub["anonymiser_structures"])
    refs = prof.get("rapport.references_structures") or {}
    section = codebook.load_codebook()[prof.description_section]
    seuil = suppression.thresholds()[0]
    rows = []
    n = len(datas)
    for key, ref in refs.items():
        labels = section.get(f"{key}_codes") or {}
        counts = pd.Series([d.info.get(key) for d in datas]).value_counts()
        for code in dict.fromkeys(list(labels) + list(counts.index)):
            k = int(counts.get(code, 0))
            nat = (ref.get("valeurs") or {}).get(code)
            if k == 0 and nat is None:
                continue
            hide = anonymise and 0 < k < seuil
            rows.append({"cle": key, "code": code, "libelle": labels.get(code, str(code)),
                         "structures": pd.NA if hide else k, "part_structures": pd.NA if hide else (k / n if n else pd.NA),
                         "part_nationale": nat if nat is not None else pd.NA,
                         "source": ref.get("source", ""), "annee": ref.get("annee")})
    return pd.DataFrame(rows, columns=["cle", "code", "libelle", "structures", "part_structures", "part_nationale", "source", "annee"])


def structures_vs_reference_fr(table: pd.DataFrame, prof=None) -> pd.DataFrame:
    """:func:`structures_vs_reference` with French headers and values (``s`` for a hidden count)."""
    prof = prof or profiles.current()
    out = pd.DataFrame({
        "Caractéristique": table["cle"].str.replace("_", " ").str.capitalize(),
        "Modalité": table["libelle"],
        prof.term("structure.majuscule_pluriel"): [("s" if pd.isna(v) else fr_number(v)) for v in table["structures"]],
        "Part": [("s" if pd.isna(v) else fr_percent(v, 0)) for v in table["part_structures"]],
        "Part nationale": [("–" if pd.isna(v) else fr_percent(v, 0)) for v in table["part_nationale"]],
    })
    return out
