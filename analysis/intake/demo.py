"""Deterministic demo data: seven fictional CAEs in the PROTOCOL §2 formats.

``generate(raw_dir, n_cae, seed, scale)`` writes ``raw_dir/<slug>/`` with a
``cae.yml`` and the ``entrepreneurs``, ``activite`` and (except for one CAE)
``questionnaire`` tables, as XLSX, French-Excel CSV (``;``, Windows-1252,
decimal comma, JJ/MM/AAAA, thousands separated by a space or a non-breaking
space) or UTF-8-with-BOM CSV (``,``, ISO dates). Same seed, same bytes: XLSX
archives get fixed document properties and fixed ZIP entry times.

The distributions aim at the figures published by the CAE network for the
CAE-IMPACT study (``TARGETS`` below; see ``/work/shared/PRIOR_ART.md``). The
demo is *not* a test oracle: tests work their expected values out from the
written files. Every name, e-mail, phone number and identifier is fake
(``@exemple.invalid``, ``06 00 00 00 00``, surnames such as "Exemple").

Design of the generator (all vectorised with numpy, one
``numpy.random.default_rng(seed + profile index)`` per CAE):

- people: entry dates over 2010–2019 (more recent years more frequent), a
  log-normal length of stay; only people present at some time in the
  period (2019) are kept, as PROTOCOL §2 asks ("one row per person
  supported in the period"), so exits fall in 2019;
- status by rank of seniority plus noise: the most senior share ``p_associe``
  are members (``associe``), the most recent quarter stay in ``cape``; CESA a
  few months after entry, membership one to four years after the CESA;
- activity: one row per person and year present in 2017–2019 (the history
  of the people supported in 2019); full-year
  turnover log-normal, growing with ``log(1 + seniority)``; gross pay is a
  per-person share (38–52 %) of turnover, rescaled so that the mean monthly
  pay of paid person-years is the profile's ``pay_mean``;
- survey: a latent well-being factor W (seniority, membership, CESA, noise)
  drives QVT dimensions and WHO-5 items; each ordinal item is a standard
  normal latent cut at the normal quantiles of its target distribution
  (a Gaussian-copula / ordinal-probit construction), so marginals hit their
  targets in expectation and items correlate through W; reverse-worded QVT
  items (codebook ``reverse: true``) load negatively on W.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import yaml

from analysis.intake import codebook as cb

#: Published network figures the demo aims at (CAE-IMPACT national report and
#: network statistics as summarised in the issue and PRIOR_ART.md).
TARGETS = {
    "part_femmes": 0.55,
    "part_sans_emploi_entree": 0.56,  # de_indemnise + de_non_indemnise + rsa
    "part_diplome_bac_ou_moins": 0.31,
    "part_bac_2": 0.25,
    "part_bac_3_plus": 0.45,
    "part_associes": 0.24,
    "remuneration_mensuelle_moyenne": 1138.0,
    "part_pas_cree_sans_cae": 0.375,
    "part_eff_droits_decisif": 0.75,
    "part_eff_accompagnement_decisif": 0.85,
    "part_droit_protection": 0.70,
    "part_formation_suivie": 0.65,
    "part_echanges_mensuels": 0.52,
}

PERIOD_START = np.datetime64("2019-01-01")
PERIOD_END = np.datetime64("2019-12-31")
WINDOW_YEARS = (2017, 2018, 2019)  # years exported in `activite`
FIRST_ENTRY_YEAR = 2010
#: Fixed timestamp for XLSX document properties and ZIP entries.
FIXED_TIMESTAMP = dt.datetime(2020, 1, 15, 9, 0, 0)
MIN_PEOPLE = 25

# Each profile: identity (cae.yml), size, file format and style, and the
# few parameters that differ between CAEs. Pooled over the seven profiles at
# scale 1, the size-weighted shares match TARGETS (women 0.552, diploma
# ≤ bac 0.306 / bac+3 or more 0.439, members 0.243).
PROFILES: list[dict] = [
    dict(
        slug="demo-nord", nom="Coopérative Démo Nord", region="Hauts-de-France",
        type="generaliste", territoire="urbain", annee_creation=2004, size=45,
        format="xlsx", headers="labels", labels_entrepreneurs=True, labels_questionnaire=False,
        ids="erp", id_pattern="ENT-{:05d}", has_survey=True, response_rate=0.62,
        p_femmes=0.56, p_low=0.30, p_high=0.44, p_associe=0.25, pay_mean=1150.0,
    ),
    dict(
        slug="demo-batisseurs-ouest", nom="Coopérative Démo Bâtisseurs de l'Ouest", region="Bretagne",
        type="batiment", territoire="periurbain", annee_creation=2008, size=55,
        format="csv_fr", headers="labels", labels_entrepreneurs=True, labels_questionnaire=True,
        thousands="\u00a0", ids="erp", id_pattern="BAT{:04d}", has_survey=True, response_rate=0.60,
        p_femmes=0.30, p_low=0.50, p_high=0.24, p_associe=0.20, pay_mean=1300.0,
    ),
    dict(
        slug="demo-arts-sud", nom="Coopérative Démo Arts et Scènes du Sud", region="Occitanie",
        type="culture", territoire="urbain", annee_creation=2002, size=120,
        format="xlsx", headers="names", labels_entrepreneurs=False, labels_questionnaire=True,
        ids="email", has_survey=True, response_rate=0.60,
        p_femmes=0.58, p_low=0.22, p_high=0.53, p_associe=0.22, pay_mean=1000.0,
    ),
    dict(
        slug="demo-services-est", nom="Coopérative Démo Services à Domicile de l'Est", region="Grand Est",
        type="services_personne", territoire="mixte", annee_creation=2006, size=200,
        format="csv_fr", headers="labels", labels_entrepreneurs=True, labels_questionnaire=True,
        thousands=" ", quirks=True, hours=False, ids="erp", id_pattern="SAP-{:05d}",
        has_survey=False, response_rate=0.0,
        p_femmes=0.66, p_low=0.40, p_high=0.33, p_associe=0.20, pay_mean=1100.0,
    ),
    dict(
        slug="demo-terres-centre", nom="Coopérative Démo Terres du Centre", region="Centre-Val de Loire",
        type="agri_rurale", territoire="rural", annee_creation=2010, size=80,
        format="csv_utf8", headers="names", labels_entrepreneurs=False, labels_questionnaire=False,
        ids="name", has_survey=True, response_rate=0.66,
        p_femmes=0.48, p_low=0.35, p_high=0.40, p_associe=0.35, pay_mean=1050.0,
    ),
    dict(
        slug="demo-metropole", nom="Coopérative Démo Métropole", region="Île-de-France",
        type="generaliste", territoire="urbain", annee_creation=1998, size=300,
        format="xlsx", headers="labels", labels_entrepreneurs=True, labels_questionnaire=False,
        readme_sheet=True, ids="erp", id_pattern="{year}-{seq:04d}", has_survey=True, response_rate=0.58,
        p_femmes=0.53, p_low=0.26, p_high=0.50, p_associe=0.24, pay_mean=1200.0,
    ),
    dict(
        slug="demo-culture-rhone", nom="Coopérative Démo Culture Rhône", region="Auvergne-Rhône-Alpes",
        type="culture", territoire="periurbain", annee_creation=2005, size=150,
        format="csv_fr", headers="labels", labels_entrepreneurs=False, labels_questionnaire=True,
        thousands="", quirks=True, ids="erp", id_pattern="{:d}", id_start=10400,
        has_survey=True, response_rate=0.62,
        p_femmes=0.56, p_low=0.25, p_high=0.48, p_associe=0.28, pay_mean=1100.0,
    ),
]

SECTEURS = {
    "generaliste": ["Conseil et formation", "Communication et graphisme", "Informatique et web",
                    "Artisanat d'art", "Commerce", "Services aux entreprises", "Traduction"],
    "batiment": ["Maçonnerie", "Plomberie et chauffage", "Électricité", "Menuiserie",
                 "Peinture et revêtements", "Rénovation énergétique", "Paysagisme"],
    "culture": ["Spectacle vivant", "Arts plastiques", "Audiovisuel", "Musique",
                "Écriture et édition", "Photographie", "Médiation culturelle"],
    "services_personne": ["Aide à domicile", "Garde d'enfants", "Soutien scolaire", "Bien-être",
                          "Ménage et repassage", "Jardinage", "Accompagnement des personnes âgées"],
    "agri_rurale": ["Maraîchage", "Apiculture", "Transformation alimentaire", "Élevage",
                    "Tourisme rural", "Artisanat rural", "Vente directe"],
}

# Obviously fake identities (for the CAEs whose ids are names or e-mails).
PRENOMS = ["Camille", "Dominique", "Claude", "Alix", "Sacha", "Lou", "Noa", "Charlie", "Maxime",
           "Andréa", "Yannick", "Frédérique", "Stéphane", "Morgan", "Eden", "Joël", "Hélène", "René",
           "Gaëlle", "Loïc"]
NOMS = ["Exemple", "Démo", "Fictif", "Modèle", "Essai", "Spécimen", "Témoin", "Maquette",
        "Brouillon", "Prototype", "Factice", "Échantillon", "Test", "Simulé", "Inventé"]

COMMENTAIRES = [
    "Merci à l'équipe d'appui, en particulier à Camille Exemple.",
    "Vous pouvez me rappeler au 06 00 00 00 00.",
    "Contact : dominique.demo@exemple.invalid",
    "Les réunions mensuelles m'ont beaucoup aidé.",
    "Difficile de concilier l'activité et la vie de famille.",
    "Je souhaiterais plus de formations sur la gestion.",
    "La mutuelle a tout changé pour moi.",
    "Bien ; mais les délais de paiement des clients sont longs.",
    "Je n'aurais jamais osé me lancer seul(e).",
    "Rien à ajouter.",
]

# Target distributions (probabilities of each code, in codebook order).
P_GENRE = {"F": None, "H": None, "autre": 0.005, "nr": 0.015}  # F from the profile, H the rest
P_SITUATION = {"de_indemnise": 0.36, "de_non_indemnise": 0.10, "rsa": 0.10, "salarie": 0.16,
               "independant": 0.09, "inactif": 0.08, "etudiant": 0.04, "autre": 0.04, "nr": 0.03}
P_MOTIF = {"emploi_salarie": 0.28, "creation_entreprise": 0.28, "formation": 0.27,
           "abandon": 0.10, "autre": 0.07}
P_ZONE = {  # by territoire: urbain, periurbain, rural, nr
    "urbain": [0.72, 0.20, 0.05, 0.03], "periurbain": [0.30, 0.50, 0.17, 0.03],
    "rural": [0.10, 0.25, 0.62, 0.03], "mixte": [0.40, 0.30, 0.27, 0.03],
}
P_QPV_OUI = {"urbain": 0.12, "periurbain": 0.07, "rural": 0.01, "mixte": 0.07}
P_LIKERT_EFF = [0.04, 0.08, 0.18, 0.40, 0.30]
P_LIKERT_SPECIAL = {
    "eff_accompagnement": [0.03, 0.04, 0.08, 0.38, 0.47],  # 4-5: 0.85
    "eff_droits": [0.05, 0.06, 0.14, 0.33, 0.42],  # 4-5: 0.75
}
P_QVT_POS = [0.05, 0.12, 0.23, 0.37, 0.23]
P_QVT_REV = [0.12, 0.28, 0.27, 0.22, 0.11]  # agreement with a negatively worded item
P_WHO5 = [0.03, 0.09, 0.15, 0.30, 0.31, 0.12]
P_OUI_NON = {"droit_protection": [0.70, 0.27, 0.03], "droit_logement": [0.25, 0.68, 0.07],
             "droit_pret": [0.15, 0.77, 0.08], "formation_suivie": [0.65, 0.33, 0.02]}
P_ECHANGES = [0.15, 0.33, 0.32, 0.20]  # jamais, moins_mensuel, mensuel, hebdomadaire
P_SANS_CAE = {  # meme_activite, plus_tard, plus_petite, pas_cree, nsp
    "F": [0.11, 0.19, 0.19, 0.40, 0.11], "other": [0.13, 0.21, 0.21, 0.345, 0.105],
}
P_MISSING_ITEM = 0.05
P_ID_GIVEN = 0.85
P_COMMENT = 0.25
P_HOURS_BLANK = 0.15

TABLE_FILES = ("entrepreneurs", "activite", "questionnaire")


# ---------------------------------------------------------------- helpers
def _days(a: np.ndarray) -> np.ndarray:
    """Timedelta64[D] array as float days (NaN for NaT)."""
    return a.astype("timedelta64[D]").astype("float64")


def _year_start(y: int) -> np.datetime64:
    return np.datetime64(f"{y}-01-01")


def _zscore(x: np.ndarray) -> np.ndarray:
    """Standardise ``(x - mean) / sd`` (zeros when the sd is 0)."""
    x = np.asarray(x, dtype=float)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _ordinal(latent: np.ndarray, probs: list[float], first: int) -> np.ndarray:
    """Ordinal-probit cut of a standard-normal latent: category k when the
    latent falls between Φ⁻¹(P₁+…+P_{k-1}) and Φ⁻¹(P₁+…+P_k), so that the
    marginal is ``probs`` in expectation. Returns first, first+1, ..."""
    nd = NormalDist()
    cuts = [nd.inv_cdf(c) for c in np.cumsum(probs)[:-1]]
    return np.searchsorted(np.array(cuts), latent) + first


def _choice(rng: np.random.Generator, codes: list, probs, size: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return np.asarray(codes, dtype=object)[rng.choice(len(codes), size=size, p=p / p.sum())]


def _quota(rng: np.random.Generator, codes: list, probs, size: int) -> np.ndarray:
    """Exactly ``round(p * size)`` of each code (largest remainders), in
    random order: quota sampling, so that small groups keep the target split."""
    p = np.asarray(probs, dtype=float) / np.sum(probs)
    counts = np.floor(p * size).astype(int)
    rest = size - counts.sum()
    counts[np.argsort(-(p * size - counts), kind="stable")[:rest]] += 1
    return rng.permutation(np.repeat(np.asarray(codes, dtype=object), counts))


def _size(profile: dict, scale: float) -> int:
    return max(MIN_PEOPLE, int(round(profile["size"] * scale)))


# ---------------------------------------------------------------- people
def _people(profile: dict, rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Draw ``n`` people present at some time in the period (2019)."""
    first_year = max(FIRST_ENTRY_YEAR, profile["annee_creation"])
    years = np.arange(first_year, 2020)
    w = 1.15 ** (years - FIRST_ENTRY_YEAR)
    m = 8 * n
    y = rng.choice(years, size=m, p=w / w.sum())
    entry = (y - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    days_in_year = np.where((y % 4 == 0), 366, 365)
    entry = entry + (rng.random(m) * days_in_year).astype("int64").astype("timedelta64[D]")
    stay = np.exp(np.log(3.0) + 0.9 * rng.standard_normal(m)) * 365.25  # median 3 years
    exit_ = entry + np.maximum(stay, 30).astype("int64").astype("timedelta64[D]")
    keep = exit_ >= PERIOD_START
    if keep.sum() < n:  # pragma: no cover - 8x oversampling is ample
        raise RuntimeError("demo: not enough candidates")
    idx = np.flatnonzero(keep)[:n]
    entry, exit_ = entry[idx], exit_[idx]
    exit_ = np.where(exit_ > PERIOD_END, np.datetime64("NaT"), exit_).astype("datetime64[D]")
    order = np.argsort(entry, kind="stable")
    entry, exit_ = entry[order], exit_[order]
    end = np.where(np.isnat(exit_), PERIOD_END, exit_).astype("datetime64[D]")
    seniority = _days(end - entry) / 365.25

    # Status by rank of seniority + noise.
    score = seniority + 1.2 * rng.standard_normal(n)
    rank = np.argsort(np.argsort(-score, kind="stable"), kind="stable")
    n_assoc = int(round(profile["p_associe"] * n))
    n_cape = int(round(0.25 * n))
    statut = np.where(rank < n_assoc, "associe", np.where(rank >= n - n_cape, "cape", "cesa")).astype(object)

    # CESA a few months after entry (some sign on day one), before the end.
    span = _days(end - entry)
    delay = np.where(rng.random(n) < 0.15, 0.0, rng.gamma(2.0, 60.0, n))
    delay = np.where(delay > span, np.floor(span * rng.uniform(0.2, 0.9, n)), np.floor(delay))
    has_cesa = statut != "cape"
    date_cesa = np.where(has_cesa, entry + delay.astype("int64").astype("timedelta64[D]"), np.datetime64("NaT"))
    date_cesa = date_cesa.astype("datetime64[D]")
    # Membership one to four years after the CESA, before the end.
    span2 = _days(end - date_cesa)
    delay2 = 365.25 * (1.0 + rng.gamma(2.0, 0.6, n))
    delay2 = np.where(delay2 > span2, np.floor(span2 * rng.uniform(0.3, 0.95, n)), np.floor(delay2))
    is_assoc = statut == "associe"
    delay2 = np.where(is_assoc, delay2, 0).astype("int64").astype("timedelta64[D]")
    date_soc = np.where(is_assoc, date_cesa + delay2, np.datetime64("NaT")).astype("datetime64[D]")

    p_f = profile["p_femmes"]
    genre = _choice(rng, ["F", "H", "autre", "nr"],
                    [p_f, 1 - p_f - P_GENRE["autre"] - P_GENRE["nr"], P_GENRE["autre"], P_GENRE["nr"]], n)
    age = np.clip(np.round(rng.normal(40, 10, n)), 19, 66).astype(int)
    entry_year = entry.astype("datetime64[Y]").astype(int) + 1970
    low, high = profile["p_low"], profile["p_high"]
    mid = 0.99 - low - high
    diplome = _choice(rng, ["aucun", "cap_bep", "bac", "bac_2", "bac_3_4", "bac_5_plus", "nr"],
                      [0.2 * low, 0.32 * low, 0.48 * low, mid, 0.45 * high, 0.55 * high, 0.01], n)
    situation = _choice(rng, list(P_SITUATION), list(P_SITUATION.values()), n)
    terr = profile["territoire"]
    p_qpv = P_QPV_OUI[terr]
    qpv = _choice(rng, ["oui", "non", "nr"], [p_qpv, 0.95 - p_qpv, 0.05], n)
    zone = _choice(rng, ["urbain", "periurbain", "rural", "nr"], P_ZONE[terr], n)
    secteurs = SECTEURS[profile["type"]]
    sw = 1.0 / np.arange(1, len(secteurs) + 1) ** 0.7  # a few main trades
    secteur = _choice(rng, secteurs, sw, n)
    has_exit = ~np.isnat(exit_)
    motif = np.full(n, None, dtype=object)
    motif[has_exit] = _quota(rng, list(P_MOTIF), list(P_MOTIF.values()), int(has_exit.sum()))

    return pd.DataFrame({
        "id": _ids(profile, rng, entry_year),
        "date_entree": entry, "date_sortie": exit_, "motif_sortie": motif,
        "genre": genre, "annee_naissance": entry_year - age, "diplome": diplome,
        "situation_entree": situation, "qpv": qpv, "zone": zone, "secteur": secteur,
        "statut": statut, "date_cesa": date_cesa, "date_societariat": date_soc,
        "_seniority": seniority, "_end": end,
    })


def _ascii(s: str) -> str:
    return cb.normalize_name(s).replace("_", "-")


def _ids(profile: dict, rng: np.random.Generator, entry_year: np.ndarray) -> list[str]:
    """Fake identifiers: ERP numbers increasing with entry, or fake names/e-mails."""
    n = len(entry_year)
    kind = profile["ids"]
    if kind == "erp":
        seq = profile.get("id_start", 100) + np.cumsum(rng.integers(1, 4, n))
        pat = profile["id_pattern"]
        if "{year}" in pat:
            return [pat.format(year=int(yy), seq=int(s)) for yy, s in zip(entry_year, seq)]
        return [pat.format(int(s)) for s in seq]
    combos = [(p, nm) for nm in NOMS for p in PRENOMS]
    picks = rng.permutation(len(combos))
    out = []
    for i in range(n):
        p, nm = combos[picks[i % len(combos)]]
        suffix = "" if i < len(combos) else str(i // len(combos) + 1)
        if kind == "email":
            out.append(f"{_ascii(p)}.{_ascii(nm)}{suffix}@exemple.invalid")
        else:
            out.append(f"{p} {nm.upper()}{(' ' + suffix) if suffix else ''}")
    return out


# ---------------------------------------------------------------- activity
def _activity(profile: dict, rng: np.random.Generator, people: pd.DataFrame) -> pd.DataFrame:
    """One row per person and year present in 2017–2019."""
    n = len(people)
    entry = people["date_entree"].to_numpy("datetime64[D]")
    end = people["_end"].to_numpy("datetime64[D]")
    cesa = people["date_cesa"].to_numpy("datetime64[D]")
    person_eff = 0.45 * rng.standard_normal(n)
    ratio = rng.uniform(0.38, 0.52, n)  # gross pay / turnover
    rate = rng.uniform(10.5, 16.0, n)  # gross hourly pay
    cape_zero = rng.random(n) < 0.10

    parts = []
    for year in WINDOW_YEARS:
        y0, y1 = _year_start(year), np.datetime64(f"{year}-12-31")
        start = np.maximum(entry, y0)
        stop = np.minimum(end, y1)
        present = start <= stop
        idx = np.flatnonzero(present)
        ndays = 366 if year % 4 == 0 else 365
        frac = (_days(stop[idx] - start[idx]) + 1) / ndays
        mid_sen = (_days(start[idx] - entry[idx]) + _days(stop[idx] - entry[idx])) / 2 / 365.25
        c = cesa[idx]
        paid = ~np.isnat(c) & (c <= stop[idx])
        paid_start = np.maximum(start[idx], np.where(paid, c, start[idx]))  # CESA or 1 January
        months_paid = np.where(paid, (_days(stop[idx] - paid_start) + 1) / ndays * 12, 0.0)
        log_ca = 0.5 * np.log1p(mid_sen) + person_eff[idx] + 0.2 * rng.standard_normal(len(idx))
        parts.append(pd.DataFrame({
            "_i": idx, "annee": year, "_frac": frac, "_ca_full": np.exp(log_ca),
            "_months_paid": months_paid, "_paid": paid,
        }))
    act = pd.concat(parts, ignore_index=True)
    i = act["_i"].to_numpy()
    paid = act["_paid"].to_numpy()
    statut = people["statut"].to_numpy()[i]
    ca_full = act["_ca_full"].to_numpy() * np.where(statut == "cape", 0.6, 1.0)
    monthly = ratio[i] * ca_full / 12
    k = profile["pay_mean"] / monthly[paid].mean() if paid.any() else 1.0
    ca_full, monthly = ca_full * k, monthly * k
    ca = ca_full * act["_frac"].to_numpy()
    ca = np.where((statut == "cape") & cape_zero[i], 0.0, ca)
    remu = np.where(paid, monthly * act["_months_paid"].to_numpy(), 0.0)
    full_time = 151.67 * act["_months_paid"].to_numpy() * rng.uniform(0.8, 1.0, len(act))
    hours = np.minimum(remu / rate[i], full_time)  # monthly legal full time: 151.67 h
    hours = np.round(hours * 2) / 2
    if profile.get("hours", True):
        hours = np.where(rng.random(len(act)) < P_HOURS_BLANK, np.nan, hours)
    else:
        hours = np.full(len(act), np.nan)
    out = pd.DataFrame({
        "id": people["id"].to_numpy()[i], "annee": act["annee"].to_numpy(),
        "chiffre_affaires": np.round(ca, 2), "remuneration_brute": np.round(remu, 2),
        "heures_remunerees": hours, "_i": i,
    })
    return out.sort_values(["annee", "_i"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------- survey
def _survey(profile: dict, rng: np.random.Generator, people: pd.DataFrame) -> pd.DataFrame:
    """Questionnaire answers of a random share (``response_rate``) of the people supported in 2019."""
    n = len(people)
    end = people["_end"].to_numpy("datetime64[D]")
    eligible = end >= PERIOD_START
    resp = np.flatnonzero(eligible & (rng.random(n) < profile["response_rate"]))
    r = len(resp)
    pp = people.iloc[resp]
    statut = pp["statut"].to_numpy()
    w = (0.35 * _zscore(pp["_seniority"].to_numpy()) + 0.25 * _zscore(statut == "associe")
         + 0.10 * _zscore(statut == "cesa") + 0.85 * rng.standard_normal(r))
    w = _zscore(w)  # latent well-being
    e_lat = 0.5 * w + np.sqrt(1 - 0.25) * rng.standard_normal(r)  # perceived effects

    cols: dict[str, np.ndarray] = {}
    cols["id"] = np.where(rng.random(r) < P_ID_GIVEN, pp["id"].to_numpy(), None)
    qcols = cb.columns("questionnaire")
    reverse = set(cb.reverse_items())
    dims: dict[str, np.ndarray] = {}
    for name in qcols:
        if name.startswith("eff_"):
            x = 0.55 * e_lat + np.sqrt(1 - 0.55**2) * rng.standard_normal(r)
            cols[name] = _ordinal(x, P_LIKERT_SPECIAL.get(name, P_LIKERT_EFF), 1)
        elif name.startswith("qvt_"):
            dim = name.rsplit("_", 1)[0]
            if dim not in dims:
                dims[dim] = 0.7 * w + np.sqrt(1 - 0.49) * rng.standard_normal(r)
            x = 0.8 * dims[dim] + 0.6 * rng.standard_normal(r)
            cols[name] = _ordinal(-x, P_QVT_REV, 1) if name in reverse else _ordinal(x, P_QVT_POS, 1)
        elif name.startswith("who5_"):
            x = 0.75 * w + np.sqrt(1 - 0.75**2) * rng.standard_normal(r)
            cols[name] = _ordinal(x, P_WHO5, 0)
        elif name in P_OUI_NON:
            cols[name] = _choice(rng, ["oui", "non", "nr"], P_OUI_NON[name], r)
        elif name == "echanges_pairs":
            cols[name] = _choice(rng, list(cb.codes("echanges_pairs")), P_ECHANGES, r)
        elif name == "sans_cae":
            codes = list(cb.codes("sans_cae"))
            is_f = pp["genre"].to_numpy() == "F"
            cols[name] = np.where(is_f, _choice(rng, codes, P_SANS_CAE["F"], r),
                                  _choice(rng, codes, P_SANS_CAE["other"], r))
    acc = cols["eff_accompagnement"]
    part = 100 * rng.beta(4, 5, r) + 8 * (acc - 3)
    cols["part_cae"] = np.clip(np.round(part / 5) * 5, 0, 100)
    sit = pp["situation_entree"].to_numpy()
    med = np.select([sit == "rsa", sit == "de_indemnise", sit == "salarie", sit == "independant"],
                    [450.0, 1150.0, 1650.0, 1300.0], 900.0)
    rev = np.round(med * np.exp(0.35 * rng.standard_normal(r)) / 10) * 10
    rev = np.where((sit == "inactif") & (rng.random(r) < 0.5), 0.0, rev)
    cols["revenu_avant"] = np.where(rng.random(r) < 0.6, rev, np.nan)

    # ~5 % missing answers per item (the id and revenu_avant have their own).
    for name in list(cols):
        if name in ("id", "revenu_avant"):
            continue
        miss = rng.random(r) < P_MISSING_ITEM
        v = cols[name]
        if v.dtype.kind in "fi":  # numbers: NaN
            cols[name] = np.where(miss, np.nan, v.astype(float))
        else:  # codes: None
            cols[name] = np.where(miss, None, v)
    cols["commentaire"] = np.where(rng.random(r) < P_COMMENT,
                                   _choice(rng, COMMENTAIRES, np.ones(len(COMMENTAIRES)), r), None)
    out = pd.DataFrame({k: cols[k] for k in qcols if k in cols})  # codebook order
    return out.iloc[rng.permutation(r)].reset_index(drop=True)  # response order


# ---------------------------------------------------------------- cae.yml
def _cae_yml(profile: dict, rng: np.random.Generator, people: pd.DataFrame, act: pd.DataFrame, seed: int) -> str:
    n_2019 = int((people["_end"].to_numpy("datetime64[D]") >= PERIOD_START).sum())
    ca_2019 = float(act.loc[act["annee"] == 2019, "chiffre_affaires"].sum())
    info = {
        "nom": profile["nom"],
        "region": profile["region"],
        "type": profile["type"],
        "territoire": profile["territoire"],
        "annee_creation": profile["annee_creation"],
        "periode": {"debut": dt.date(2019, 1, 1), "fin": dt.date(2019, 12, 31)},
        "ressources": {
            "subventions_publiques": int(round(n_2019 * rng.uniform(2000, 4000), -3)),
            "contribution_entrepreneurs": int(round(0.10 * ca_2019 * rng.uniform(0.9, 1.1), -2)),
            "autres_produits": int(round(ca_2019 * rng.uniform(0.01, 0.04), -2)),
            "benevolat_heures": int(round(rng.uniform(80, 600), -1)),
        },
        "equipe_appui_etp": max(1.0, round(n_2019 / 30 * 2) / 2),
    }
    head = (f"# Coopérative FICTIVE : données de démonstration générées par `cae-impact demo` "
            f"(graine {seed}).\n# Aucune personne réelle ; ne pas utiliser comme référence.\n")
    return head + yaml.safe_dump(info, allow_unicode=True, sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------------- writers
def _kind(table: str, col: str) -> tuple[str, str | None]:
    spec = cb.columns(table)[col]
    t = spec["type"]
    if t in ("code", "scale"):
        return t, spec["codes"]
    if col in ("chiffre_affaires", "remuneration_brute", "heures_remunerees"):
        return "amount", None
    if col in ("part_cae", "revenu_avant", "annee", "annee_naissance"):
        return "int", None
    return t, None


def _header(table: str, col: str, profile: dict) -> str:
    if profile["headers"] == "labels":
        return cb.columns(table)[col].get("label", col)
    return col


def _use_labels(table: str, profile: dict) -> bool:
    if table == "entrepreneurs":
        return profile["labels_entrepreneurs"]
    if table == "questionnaire":
        return profile["labels_questionnaire"]
    return False


def _label_map(kind: str, codes_name: str | None, labels: bool) -> dict | None:
    if kind not in ("code", "scale") or not labels:
        return None
    return {k: str(v) for k, v in cb.codes(codes_name).items()}


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT or v is pd.NA


def _cell_values(df: pd.DataFrame, table: str, profile: dict) -> list[tuple[str, str, list]]:
    """Python values per column (dates as datetime.date, codes or labels)."""
    out = []
    labels = _use_labels(table, profile)
    for col in df.columns:
        kind, codes_name = _kind(table, col)
        lm = _label_map(kind, codes_name, labels)
        s = df[col]
        if kind == "date":
            vals = [None if pd.isna(v) else v.date() for v in pd.to_datetime(s)]
        elif kind in ("int", "scale"):
            vals = [None if _is_missing(v) else int(v) for v in s.to_numpy(object)]
            if lm:
                vals = [None if v is None else lm[v] for v in vals]
        elif kind == "amount":
            vals = [None if _is_missing(v) else float(v) for v in s.to_numpy(object)]
        else:
            vals = [None if _is_missing(v) else str(v) for v in s.to_numpy(object)]
            if lm:
                vals = [None if v is None else lm[v] for v in vals]
        out.append((col, kind, vals))
    return out


def _fr_number(x: float, decimals: int, thousands: str) -> str:
    s = f"{x:,.{decimals}f}"
    return s.replace(",", "\x00").replace(".", ",").replace("\x00", thousands)


def _csv_text(df: pd.DataFrame, table: str, profile: dict, rng: np.random.Generator) -> tuple[str, str]:
    """The CSV as text and its encoding."""
    fr = profile["format"] == "csv_fr"
    thousands = profile.get("thousands", "")
    quirks = profile.get("quirks", False)
    cols = {}
    for col, kind, vals in _cell_values(df, table, profile):
        if kind == "date":
            fmt = "%d/%m/%Y" if fr else "%Y-%m-%d"
            strs = ["" if v is None else v.strftime(fmt) for v in vals]
        elif kind == "amount":
            strs = ["" if v is None else (_fr_number(v, 2, thousands) if fr else f"{v:.2f}") for v in vals]
        elif kind == "int" and col in ("revenu_avant",):
            strs = ["" if v is None else (_fr_number(v, 0, thousands) if fr else str(v)) for v in vals]
        else:
            strs = ["" if v is None else str(v) for v in vals]
            if quirks and kind in ("code", "text") and col != "id":
                pad = rng.random(len(strs)) < 0.05  # trailing spaces, as typed in Excel
                strs = [s + "  " if p and s else s for s, p in zip(strs, pad)]
        cols[_header(table, col, profile)] = strs
    text = pd.DataFrame(cols).to_csv(sep=";" if fr else ",", index=False, lineterminator="\r\n")
    if quirks:
        text += (";" * (len(cols) - 1) + "\r\n") * 2  # blank rows Excel keeps at the end
    return text, ("cp1252" if fr else "utf-8-sig")


def workbook_bytes(table: str, header: list, cells: list, readme_sheet: bool, creator: str, created) -> bytes:
    """An XLSX workbook of ``cells`` ((column, kind, values) per column, under
    ``header``) with real date cells, byte-stable (fixed metadata and zip
    times): one sheet named ``table``, after a « Lisez-moi » sheet when
    ``readme_sheet``. Shared by the demo generators."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    if readme_sheet:
        ws.title = "Lisez-moi"
        ws.append(["Export du logiciel de gestion : données FICTIVES de démonstration."])
        ws.append(["Les données sont dans la feuille nommée comme le fichier."])
        ws = wb.create_sheet(table)
    else:
        ws.title = table
    ws.append(header)
    for row in zip(*[v for _, _, v in cells]):
        ws.append(list(row))
    for j, (_, kind, _) in enumerate(cells, start=1):
        if kind == "date":
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.number_format = "DD/MM/YYYY"
    wb.properties.creator = creator
    wb.properties.created = created
    buf = io.BytesIO()
    wb.save(buf)
    return _freeze_zip(buf.getvalue())


def _xlsx_bytes(df: pd.DataFrame, table: str, profile: dict) -> bytes:
    """The CAE demo's XLSX export of ``table``."""
    cells = _cell_values(df, table, profile)
    return workbook_bytes(table, [_header(table, c, profile) for c, _, _ in cells], cells,
                          bool(profile.get("readme_sheet")), "cae-impact demo", FIXED_TIMESTAMP)


def _freeze_zip(data: bytes) -> bytes:
    """Rewrite an XLSX archive with fixed entry times and a fixed
    ``dcterms:modified`` (openpyxl stamps the save time), so that the same
    content gives the same bytes."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + stamp.encode() + rb"\g<2>",
                                 content)
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            dst.writestr(zi, content)
    return out.getvalue()


def _write_table(df: pd.DataFrame, d: Path, table: str, profile: dict, rng: np.random.Generator) -> Path:
    for ext in ("csv", "xlsx"):  # one file per table: drop a stale copy in the other format
        (d / f"{table}.{ext}").unlink(missing_ok=True)
    if profile["format"] == "xlsx":
        path = d / f"{table}.xlsx"
        path.write_bytes(_xlsx_bytes(df, table, profile))
    else:
        path = d / f"{table}.csv"
        text, enc = _csv_text(df, table, profile, rng)
        path.write_bytes(text.encode(enc))
    return path


# ---------------------------------------------------------------- public
def generate_cae(profile: dict, index: int, seed: int = 2019, scale: float = 1.0) -> dict[str, pd.DataFrame]:
    """Draw one CAE's tables in memory (codes, not labels; dates as datetime64).

    Returns {"entrepreneurs", "activite", "questionnaire" (None without survey),
    "cae_yml" (text)}. Uses ``default_rng(seed + index)``. For inspection
    only: tests must work their expected values out independently.
    """
    tables, _ = _draw_cae(profile, index, seed, scale)
    return tables


def _draw_cae(profile: dict, index: int, seed: int, scale: float) -> tuple[dict, np.random.Generator]:
    rng = np.random.default_rng(seed + index)
    n = _size(profile, scale)
    people = _people(profile, rng, n)
    act = _activity(profile, rng, people)
    survey = _survey(profile, rng, people) if profile["has_survey"] else None
    yml = _cae_yml(profile, rng, people, act, seed)
    ent_cols = [c for c in cb.columns("entrepreneurs")]
    act_cols = [c for c in cb.columns("activite") if profile.get("hours", True) or c != "heures_remunerees"]
    return {
        "entrepreneurs": people[ent_cols],
        "activite": act[act_cols],
        "questionnaire": survey,
        "cae_yml": yml,
    }, rng


def generate(raw_dir, n_cae: int = 7, seed: int = 2019, scale: float = 1.0) -> list[str]:
    """Write the first ``n_cae`` demo CAEs under ``raw_dir/<slug>/`` and
    return their slugs. Deterministic: the same arguments give byte-identical
    files. ``scale`` multiplies every CAE's size (never below 25 people)."""
    if not 1 <= n_cae <= len(PROFILES):
        raise ValueError(f"n_cae doit être compris entre 1 et {len(PROFILES)} (reçu : {n_cae}).")
    if scale <= 0:
        raise ValueError(f"scale doit être positif (reçu : {scale}).")
    raw = Path(raw_dir)
    slugs = []
    for index, profile in enumerate(PROFILES[:n_cae]):
        tables, rng = _draw_cae(profile, index, seed, scale)
        d = raw / profile["slug"]
        d.mkdir(parents=True, exist_ok=True)
        (d / "cae.yml").write_bytes(tables["cae_yml"].encode("utf-8"))
        for table in TABLE_FILES:
            df = tables[table]
            if df is None:
                for ext in ("csv", "xlsx"):
                    (d / f"{table}.{ext}").unlink(missing_ok=True)
                continue
            _write_table(df, d, table, profile, rng)
        slugs.append(profile["slug"])
    return slugs


def _nom_in(path: Path) -> str | None:
    """The ``nom`` of a CAE folder's description (raw ``cae.yml`` or processed ``cae.json``)."""
    import json

    import yaml

    try:
        if path.suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8")).get("nom")
        return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nom")
    except Exception:
        return None


def remove(raw_dir, processed_dir, out_dir) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Delete the demo CAEs and everything they produced: ``raw/<slug>``,
    ``processed/<slug>``, ``out/<slug>`` for each profile slug whose
    description still carries the demo's name (a real CAE that reused a
    demo slug is left alone), then the national synthesis
    (``out/national``, ``processed/_national``) and the run summary, which
    were computed with them. Returns (removed paths, kept paths with
    the French reason)."""
    import shutil

    removed: list[Path] = []
    kept: list[tuple[Path, str]] = []
    for profile in PROFILES:
        slug = profile["slug"]
        places = [
            (Path(raw_dir) / slug, Path(raw_dir) / slug / "cae.yml"),
            (Path(processed_dir) / slug, Path(processed_dir) / slug / "cae.json"),
            (Path(out_dir) / slug, None),
        ]
        ours = all(_nom_in(desc) in (None, profile["nom"]) for folder, desc in places if desc is not None and desc.exists())
        for folder, _desc in places:
            if not folder.exists():
                continue
            if not ours:
                kept.append((folder, f"« {slug} » ne décrit pas la CAE de démonstration « {profile['nom']} »"))
                continue
            shutil.rmtree(folder)
            removed.append(folder)
    if removed:
        # the national synthesis, its result tables (processed/_national), its cache of per-CAE contributions
        # and the saved runs and comparisons (they hold the demo's results)
        for extra in (Path(out_dir) / "national", Path(processed_dir) / "_national", Path(processed_dir) / "_cache",
                      Path(out_dir) / "runs", Path(out_dir) / "comparaison", Path(out_dir) / "run_summary.json"):
            if extra.is_dir():
                shutil.rmtree(extra)
                removed.append(extra)
            elif extra.exists():
                extra.unlink()
                removed.append(extra)
    return removed, kept
