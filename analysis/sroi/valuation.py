"""SROI valuation: value map, present value, ratio, sensitivity, Monte Carlo.

Method: SROI Network / Cabinet Office, *A guide to Social Return on
Investment* (2012), stages 3–5. For each outcome i of the value map
(``methodology/sroi.yml``)::

    impact_1 = Q_i × proxy_i × (1 − poids_mort)(1 − attribution)(1 − déplacement)
    impact_t = impact_1 × (1 − érosion)^(t−1)            t = 1 … durée
    PV_i     = Σ_t impact_t / (1 + r)^t                  (t − 1 when year 1 is not discounted)

    SROI ratio     = Σ PV / inputs
    net SROI ratio = (Σ PV − inputs) / inputs

Inputs are the structure's ``ressources`` (its description file; labels and
keys in hours from the study profile) with volunteer hours valued
at ``parametres.taux_horaire_benevolat``. Proxies of another year are indexed
to ``annee_base`` with the price index of the YAML.

Every coefficient and proxy is a parameter with a point value and a range
[min, max] whose nature ``plage`` states (:data:`RANGE_KINDS`): ``bornes``
(hard bounds, drawn Beta-PERT), ``interquartile`` (min, max = quartiles 25 %
and 75 %) or ``intervalle_95`` (quantiles 2,5 % and 97,5 %); the last two
are drawn from the Beta law (shares) or log-normal law (amounts) whose
quantiles match (:func:`fit_beta_quantiles`, :func:`fit_lognormal_quantiles`).
Deadweight and attribution marked ``enquete`` come from the structure's survey
(``enquete.question_poids_mort``, ``question_attribution``) when it has at least ``enquete.min_repondants``
valid answers; their range is then a seeded percentile-bootstrap 95 %
interval (``intervalle_95``). Survey-scaled quantities (N × k/n) carry their
sampling error: the share k/n is drawn from Jeffreys' Beta(k + ½, n − k + ½).
Uncertainty is shown three ways:

- tornado: each parameter moved alone to its min and its max;
- break-even: the value of each parameter at which the ratio equals 1
  (closed form where the ratio is linear in it, ``scipy.optimize.brentq``
  for the drop-off);
- Monte Carlo: every parameter drawn from the law its ``plage`` describes,
  vectorised with numpy. Each parameter has its own random stream
  seeded by (``publication.graine``, parameter key), so draws are common to
  every CAE for shared parameters (proxies and default coefficients) and
  independent for survey-based ones (whose key carries the CAE slug).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import optimize

from analysis.method import loader as _meth
from analysis.method import schemas as _schemas
from analysis.method.schemas import MethodError
from analysis.publication.formatting import fr_percent
from analysis.intake.processed import CaeData
from analysis.sroi.quantities import compute_quantity, rule_spec

KINDS = _schemas.COEFFICIENT_KINDS
KIND_LABELS = {
    "poids_mort": "Poids mort",
    "attribution": "Attribution",
    "deplacement": "Déplacement",
    "erosion": "Érosion",
    "proxy": "Proxy financier",
}
SOURCE_SURVEY = "questionnaire"
SOURCE_DEFAULT = "défaut méthodologique"
LAWS = ("pert", "triangulaire")
#: ``plage`` of a range -> probability mass between min and max (None: hard bounds);
#: the kinds themselves are declared in analysis.method.schemas.RANGE_KINDS.
RANGE_KINDS = dict(zip(_schemas.RANGE_KINDS, (None, 0.50, 0.95)))
RANGE_LABELS = {"bornes": "bornes", "interquartile": "écart interquartile", "intervalle_95": "intervalle à 95 %"}


def survey_questions(vm: dict) -> dict[str, str]:
    """{survey question: coefficient type it measures}: ``enquete.question_poids_mort``
    and ``enquete.question_attribution`` (default profile: sans_cae, part_cae)."""
    enq = vm.get("enquete") or {}
    return {enq["question_poids_mort"]: "poids_mort",
            enq["question_attribution"]: "attribution"}


def deadweight_answers(vm: dict) -> dict:
    """Deadweight share per answer code: ``enquete.poids_mort_reponses``
    (sroi.yml)."""
    enq = vm.get("enquete") or {}
    return enq["poids_mort_reponses"]


def resources(prof=None) -> tuple[dict[str, str], set[str], str]:
    """(labels of the SROI inputs by ``ressources`` key, keys given in hours,
    key of public money) from the study profile (``profile.yml: ressources``)."""
    from analysis.method import profile as profiles

    prof = prof or profiles.current()
    r = prof.get("ressources") or {}
    return dict(r.get("libelles") or {}), set(r.get("en_heures") or []), r.get("argent_public", "subventions_publiques")


class ValueMapError(MethodError):
    """The SROI methodology file is invalid; the message lists every problem in French."""


# ==========================================================================
# Loading and validation (the schema lives in analysis.method.schemas.SroiFile)
# ==========================================================================
def validate_value_map(vm: dict) -> list[str]:
    """Every problem of a value-map dict, in French (empty list when valid):
    :func:`analysis.method.schemas.problems` for ``sroi``."""
    return [f"{key} : {msg}." for key, msg in _schemas.problems("sroi", vm)]


def _rule_name(spec) -> str | None:
    try:
        return rule_spec(spec)[0]
    except ValueError:
        return None


def load_value_map(methodology_dir: Path | str | None = None) -> dict:
    """Read and validate ``methodology/sroi.yml`` (:func:`analysis.method.loader.load`);
    raise :class:`ValueMapError` (French, every problem listed) when it is invalid."""
    try:
        return _meth.load("sroi", methodology_dir)
    except MethodError as exc:
        raise ValueMapError(str(exc), exc.problems) from None


def check(vm: dict, path: Path | str = "sroi.yml") -> None:
    """Raise :class:`ValueMapError` if ``vm`` is invalid; otherwise fill the
    schema's defaults into ``vm`` (in place) for keys it lacks."""
    pb = _schemas.problems("sroi", vm)
    if pb:
        raise ValueMapError(_schemas.format_problems("sroi.yml", pb, "" if str(path) == "sroi.yml" else str(path)),
                            [("sroi.yml", k, m) for k, m in pb])
    _schemas.fill_defaults(vm, _schemas.SCHEMAS["sroi"].model_validate(vm))


def _publication(methodology_dir=None) -> dict:
    try:
        return _meth.load("publication", Path(methodology_dir) if methodology_dir else None) or {}
    except FileNotFoundError:
        return {}


# ==========================================================================
# Present value arithmetic
# ==========================================================================
def annuity_factor(erosion, duration, rate: float, discount_first: bool = True):
    """Σ_{t=1..D} (1 − e)^(t−1) / (1 + r)^τ with τ = t (or t − 1 when year 1
    is not discounted): PV of a year-1 impact of 1 with drop-off e.

    ``erosion`` may be an array; ``duration`` an int or an array broadcasting
    with it (years beyond an outcome's duration contribute 0).
    """
    e = np.asarray(erosion, dtype=float)
    d = np.asarray(duration)
    dmax = int(np.max(d))
    out = np.zeros(np.broadcast(e, d).shape)
    for t in range(1, dmax + 1):
        tau = t if discount_first else t - 1
        out = out + np.where(t <= d, (1.0 - e) ** (t - 1) / (1.0 + rate) ** tau, 0.0)
    return out


def impact_year1(quantity, proxy, deadweight, attribution, displacement):
    """Q × proxy × (1 − deadweight)(1 − attribution)(1 − displacement)."""
    return quantity * proxy * (1 - deadweight) * (1 - attribution) * (1 - displacement)


def impact_path(impact1: float, erosion: float, duration: int) -> np.ndarray:
    """Undiscounted impacts of years 1..D: impact1 × (1 − e)^(t−1)
    (guide's example: 100, 10 % → 100, 90, 81)."""
    t = np.arange(duration)
    return impact1 * (1.0 - erosion) ** t


def present_value(quantity, proxy, deadweight, attribution, displacement, erosion, duration, rate, discount_first=True):
    """PV of one outcome (see module docstring); vectorised over arrays."""
    return impact_year1(quantity, proxy, deadweight, attribution, displacement) * annuity_factor(
        erosion, duration, rate, discount_first
    )


# ==========================================================================
# Survey-based deadweight and attribution
# ==========================================================================
@dataclass
class SurveyEstimate:
    valeur: float
    min: float
    max: float
    n: int


def _rng(seed: int, tag: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(tag.encode("utf-8"))])


def bootstrap_mean_interval(values, reps: int, level: float, seed: int, tag: str = "") -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (Efron & Tibshirani 1993, §13.3):
    resample the n values with replacement ``reps`` times, take the
    (1 − level)/2 and (1 + level)/2 quantiles of the resampled means."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return (math.nan, math.nan)
    idx = _rng(seed, "bootstrap:" + tag).integers(0, n, size=(int(reps), n))
    means = x[idx].mean(axis=1)
    a = (1 - level) / 2
    return (float(np.quantile(means, a)), float(np.quantile(means, 1 - a)))


def survey_deadweight(questionnaire: pd.DataFrame | None, vm: dict, seed: int, level: float = 0.95, tag: str = "") -> SurveyEstimate | None:
    """Deadweight from ``sans_cae``: mean over valid answers of the mapped
    share ``enquete.poids_mort_reponses`` (e.g. meme_activite → 1,
    pas_cree → 0). Missing answers, ``reponses_exclues`` (nsp) and codes
    absent from the mapping are left out of numerator and denominator.
    Interval: percentile bootstrap of that mean. None without the column."""
    question = next(q for q, t in survey_questions(vm).items() if t == "poids_mort")
    if questionnaire is None or question not in questionnaire:
        return None
    enq = vm["enquete"]
    mapping = {str(k): float(v) for k, v in deadweight_answers(vm).items()}
    ans = questionnaire[question].astype("string").dropna()
    ans = ans[~ans.isin([str(x) for x in enq.get("reponses_exclues") or []]) & ans.isin(list(mapping))]
    vals = ans.map(mapping).to_numpy(dtype=float)
    if vals.size == 0:
        return SurveyEstimate(math.nan, math.nan, math.nan, 0)
    lo, hi = bootstrap_mean_interval(vals, enq.get("repetitions_bootstrap", 2000), level, seed, f"{question}:" + tag)
    return SurveyEstimate(float(vals.mean()), lo, hi, int(vals.size))


def survey_attribution(questionnaire: pd.DataFrame | None, vm: dict, seed: int, level: float = 0.95, tag: str = "") -> SurveyEstimate | None:
    """Attribution from ``part_cae`` (share of their progress respondents
    attribute to the CAE, 0–100): attribution = 1 − mean(part_cae)/100.

    SROI attribution is the share of the outcome owed to others; everything
    a respondent does not credit to the CAE (other organisations, family,
    their own effort) is treated as attributed to others, a deliberately
    prudent reading. Interval: percentile bootstrap of the mean."""
    question = next(q for q, t in survey_questions(vm).items() if t == "attribution")
    if questionnaire is None or question not in questionnaire:
        return None
    x = pd.to_numeric(questionnaire[question], errors="coerce").dropna().clip(0, 100).to_numpy(dtype=float)
    if x.size == 0:
        return SurveyEstimate(math.nan, math.nan, math.nan, 0)
    vals = 1.0 - x / 100.0
    lo, hi = bootstrap_mean_interval(vals, vm["enquete"].get("repetitions_bootstrap", 2000), level, seed, f"{question}:" + tag)
    return SurveyEstimate(float(vals.mean()), lo, hi, int(vals.size))


# ==========================================================================
# Parameters of one CAE
# ==========================================================================
def index_factor(vm: dict, year: int) -> float:
    """indice(annee_base) / indice(year): multiply a value of ``year`` by it."""
    idx = {int(k): float(v) for k, v in vm["indice"]["valeurs"].items()}
    return idx[int(vm["parametres"]["annee_base"])] / idx[int(year)]


def _used(vm: dict) -> tuple[set, set]:
    active = [o for o in vm["resultats"] if o["actif"]]
    coefs = {o[k] for o in active for k in KINDS}
    proxys = {o["proxy"] for o in active}
    return coefs, proxys


def _coverage(kind: str) -> float:
    """Probability mass between min and max of a ``plage`` (NaN for hard bounds)."""
    c = RANGE_KINDS.get(kind)
    return math.nan if c is None else float(c)


def resolve_parameters(data: CaeData, vm: dict, seed: int, level: float = 0.95) -> pd.DataFrame:
    """One row per parameter used by the active outcomes of ``vm`` for this
    CAE: ``cle`` (key of its random stream), ``nom``, ``type``, ``libelle``,
    ``valeur``, ``min``, ``max``, ``plage`` (what [min, max] is, see
    :data:`RANGE_KINDS`), ``couverture`` (its probability mass, NaN for
    bounds), ``origine`` ("questionnaire" or
    "défaut méthodologique" for coefficients, the citation for proxies),
    ``n_repondants``, ``cae`` (slug for survey-based keys, else ""), and for
    proxies the original value, year, unit, URL and index applied."""
    min_n = int(vm["enquete"]["min_repondants"])
    used_c, used_p = _used(vm)
    rows = []
    for name, c in vm["coefficients"].items():
        if name not in used_c:
            continue
        kind = c.get("plage", "bornes")
        row = dict(cle=name, nom=name, type=c["type"], libelle=c.get("libelle", name), valeur=float(c["valeur"]),
                   min=float(c["min"]), max=float(c["max"]), plage=kind, couverture=_coverage(kind),
                   origine=SOURCE_DEFAULT, n_repondants=0, cae="",
                   source=c.get("source", ""), url=c.get("url", ""))
        q = c.get("enquete")
        if q:
            fn = survey_deadweight if survey_questions(vm).get(q) == "poids_mort" else survey_attribution
            est = fn(data.questionnaire if data.has_survey else None, vm, seed, level, tag=data.slug)
            if est is not None:
                row["n_repondants"] = est.n
                if est.n >= min_n:
                    lo, hi = min(est.min, est.valeur), max(est.max, est.valeur)
                    # an interval reaching 0 or 1 (every answer mapped to the same share, e.g. 100 % deadweight)
                    # has no Beta law with those quantiles: it is drawn as hard bounds instead
                    inside = 0.0 < lo and hi < 1.0
                    row.update(cle=f"{name}@{data.slug}", valeur=est.valeur, min=lo,
                               max=hi, origine=SOURCE_SURVEY, cae=data.slug,
                               plage=("intervalle_95" if abs(level - 0.95) < 1e-9 else f"intervalle_{level:g}") if inside else "bornes",
                               couverture=float(level) if inside else _coverage("bornes"),
                               url="", source=f"Questionnaire {_structure_du()} (« {q} », {est.n} réponses valides ; "
                                                    f"intervalle bootstrap à {fr_percent(level, 0)})")
        rows.append(row)
    base = int(vm["parametres"]["annee_base"])
    idx_vals = {int(k): float(v) for k, v in vm["indice"]["valeurs"].items()}
    for name, x in vm["proxys"].items():
        if name not in used_p:
            continue
        year = int(x["annee"])
        f = index_factor(vm, year) if x["indexer"] and year != base else 1.0
        idx_txt = (f"{vm['indice']['nom']} : {idx_vals[base]:.2f} ({base}) / {idx_vals[year]:.2f} ({year})".replace(".", ",")
                   if f != 1.0 else "aucun")
        kind = x.get("plage", "bornes")
        rows.append(dict(cle=name, nom=name, type="proxy", libelle=x.get("libelle", name), valeur=float(x["valeur"]) * f,
                         min=float(x["min"]) * f, max=float(x["max"]) * f, plage=kind, couverture=_coverage(kind),
                         origine=x["source"], n_repondants=0, cae="",
                         source=x["source"], url=x.get("url", ""), valeur_origine=float(x["valeur"]), annee=year,
                         unite=x["unite"], indice=idx_txt, facteur_indice=f))
    return pd.DataFrame(rows).set_index("cle", drop=False)


# ==========================================================================
# Model: outcome rows + parameters + inputs
# ==========================================================================
@dataclass
class _Model:
    rows: pd.DataFrame  # one per outcome (and CAE)
    params: pd.DataFrame  # indexed by key
    inputs: float
    rate: float
    discount_first: bool

    def point(self) -> dict:
        return {k: float(v) for k, v in self.params["valeur"].items()}

    def pv_matrix(self, values: Mapping, rate: float | None = None) -> np.ndarray:
        """PV per outcome row: array (n_rows, n_draws) (n_draws = 1 for scalars)."""
        r = self.rate if rate is None else rate
        n = max((np.size(v) for v in values.values()), default=1)

        def stack(col):
            return np.stack([np.broadcast_to(np.asarray(values[k], dtype=float), (n,)) for k in self.rows[col]])

        q = np.stack([np.broadcast_to(np.asarray(values.get(kq, qv) if kq else qv, dtype=float), (n,))
                      for qv, kq in zip(self.rows["quantite"], self.rows.get("k_quantite", pd.Series([""] * len(self.rows))))]) \
            if len(self.rows) else np.zeros((0, n))
        d = self.rows["duree"].to_numpy(dtype=int)[:, None]
        imp = impact_year1(q, stack("k_proxy"), stack("k_poids_mort"), stack("k_attribution"), stack("k_deplacement"))
        return imp * annuity_factor(stack("k_erosion"), d, r, self.discount_first)

    def ratio(self, values: Mapping, rate: float | None = None):
        pv = self.pv_matrix(values, rate).sum(axis=0)
        out = pv / self.inputs if self.inputs > 0 else np.full_like(pv, np.nan)
        return float(out[0]) if out.size == 1 else out

    def yearly(self, values: Mapping) -> np.ndarray:
        """Discounted impacts per outcome row and year: (n_rows, max duration)."""
        q = self.rows["quantite"].to_numpy(dtype=float)
        dmax = int(self.rows["duree"].max()) if len(self.rows) else 0
        out = np.zeros((len(self.rows), dmax))
        for i, row in enumerate(self.rows.itertuples()):
            imp1 = impact_year1(q[i], values[row.k_proxy], values[row.k_poids_mort], values[row.k_attribution], values[row.k_deplacement])
            path = impact_path(float(imp1), float(values[row.k_erosion]), int(row.duree))
            for t in range(int(row.duree)):
                tau = t + 1 if self.discount_first else t
                out[i, t] = path[t] / (1 + self.rate) ** tau
        return out


def _structure_du() -> str:
    from analysis.method import profile as profiles

    return profiles.current().term("structure.du")


def _column() -> str:
    from analysis.method import profile as profiles

    return profiles.current().term("structure.colonne")


def _structure_au() -> str:
    from analysis.method import profile as profiles

    return profiles.current().term("structure.au")


def _structures() -> str:
    from analysis.method import profile as profiles

    return profiles.current().term("structure.pluriel")


def inputs_table(info: dict, vm: dict) -> pd.DataFrame:
    """The structure's inputs (``ressources``) in euros, with the labels of the
    profile's ``ressources.libelles``: hours (``ressources.en_heures``,
    volunteering) × hourly rate, other keys as they are."""
    res = (info or {}).get("ressources") or {}
    rate = float(vm["parametres"]["taux_horaire_benevolat"])
    labels, in_hours, _ = resources()
    rows = []
    for key, label in labels.items():
        v = res.get(key)
        v = 0.0 if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
        rows.append({"poste": key, "libelle": label, "quantite": v,
                     "montant": v * rate if key in in_hours else v})
    return pd.DataFrame(rows)


def _active(vm: dict) -> list[dict]:
    return [o for o in vm["resultats"] if o["actif"]]


def _build(data: CaeData, vm: dict, seed: int, level: float) -> tuple[_Model, pd.DataFrame]:
    params = resolve_parameters(data, vm, seed, level)
    key_of = {}  # (name) -> key for this CAE
    for k, row in params.iterrows():
        key_of[row["nom"]] = k
    rows = []
    for o in _active(vm):
        q = compute_quantity(o["quantite"], data, vm)
        name, _ = rule_spec(o["quantite"])
        rows.append(dict(cae=data.slug, id=o["id"], partie_prenante=o["partie_prenante"], resultat=o["resultat"],
                         indicateur=o["indicateur"], quantite=float(q), regle_quantite=name, note_quantite=getattr(q, "note", ""),
                         k_quantite=f"quantite:{o['id']}@{data.slug}" if getattr(q, "sample", None) else "",
                         **dict(zip(("q_k", "q_n", "q_N"), getattr(q, "sample", None) or (0.0, 0, 0.0))),
                         unite_quantite=o.get("unite_quantite", ""), comptes=tuple(getattr(q, "counts", ())),
                         duree=int(o["duree"]), k_proxy=key_of[o["proxy"]],
                         **{f"k_{k}": key_of[o[k]] for k in KINDS}))
    inputs = inputs_table(data.info, vm)
    p = vm["parametres"]
    model = _Model(pd.DataFrame(rows), params, float(inputs["montant"].sum()), float(p["taux_actualisation"]), bool(p["actualiser_annee_1"]))
    return model, inputs


# ==========================================================================
# Results
# ==========================================================================
@dataclass
class SroiResult:
    """Everything the notebook and the national synthesis need."""

    slug: str
    value_map: pd.DataFrame
    parameters: pd.DataFrame
    inputs: pd.DataFrame
    total_inputs: float
    total_pv: float
    ratio: float
    net_ratio: float
    ratio_public: float
    payback_months: float
    payback_months_discounted: float
    default_coefficients: bool
    coefficient_origin: str
    by_stakeholder: pd.DataFrame
    tornado: pd.DataFrame
    break_even: pd.DataFrame
    mc_summary: pd.DataFrame
    draws: np.ndarray
    scenarios: pd.DataFrame
    settings: dict
    notes: list[str] = field(default_factory=list)
    by_cae: pd.DataFrame | None = None

    @property
    def mc(self) -> dict:
        return self.mc_summary.iloc[0].to_dict()

    def summary(self) -> pd.DataFrame:
        """The headline numbers as a two-column table (indicateur, valeur)."""
        from analysis.publication.formatting import fr_percent

        mc = self.mc
        rows = [
            ("Valeur actuelle des résultats (€)", self.total_pv),
            ("Valeur des intrants (€)", self.total_inputs),
            ("Ratio SROI (valeur actuelle / intrants)", self.ratio),
            ("Ratio SROI net ((valeur actuelle − intrants) / intrants)", self.net_ratio),
            ("Valeur créée par euro de subvention publique", self.ratio_public),
            ("Délai de récupération (mois ; guide SROI : intrants / impact mensuel de l'année 1)", self.payback_months),
            ("Délai de récupération actualisé (mois ; cumul des impacts actualisés)", self.payback_months_discounted),
            ("Monte Carlo : médiane du ratio", mc["mediane"]),
            (f"Monte Carlo : quantile {fr_percent(mc['q_bas'], 0)} du ratio", mc["ratio_bas"]),
            (f"Monte Carlo : quantile {fr_percent(mc['q_haut'], 0)} du ratio", mc["ratio_haut"]),
            ("Monte Carlo : probabilité que le ratio dépasse 1", mc["p_ratio_sup_1"]),
        ]
        for s in self.scenarios.itertuples():
            rows.append((f"Ratio SROI au taux d'actualisation de {fr_percent(s.taux, 1)}", s.ratio))
        return pd.DataFrame(rows, columns=["indicateur", "valeur"])


def _value_map_table(model: _Model, vm: dict) -> pd.DataFrame:
    P = model.params
    pt = model.point()
    pv = model.pv_matrix(pt)[:, 0]
    labels = vm["parties_prenantes"]
    out = []
    for i, r in enumerate(model.rows.itertuples()):
        px = P.loc[r.k_proxy]
        row = dict(
            cae=r.cae, id=r.id, partie_prenante=labels.get(r.partie_prenante, r.partie_prenante), code_partie_prenante=r.partie_prenante,
            resultat=r.resultat, indicateur=r.indicateur, quantite=r.quantite, unite_quantite=r.unite_quantite,
            regle_quantite=r.regle_quantite, note_quantite=r.note_quantite, duree=r.duree,
            proxy=px["libelle"], proxy_valeur=px["valeur"], proxy_valeur_origine=px["valeur_origine"], proxy_unite=px["unite"],
            proxy_annee=int(px["annee"]), proxy_source=px["source"], proxy_url=px["url"], indice=px["indice"],
        )
        for k in KINDS:
            c = P.loc[getattr(r, f"k_{k}")]
            row[k] = c["valeur"]
            row[f"{k}_source"] = c["origine"]
        row["impact_annee_1"] = float(impact_year1(r.quantite, pt[r.k_proxy], pt[r.k_poids_mort], pt[r.k_attribution], pt[r.k_deplacement]))
        row["valeur_actuelle"] = float(pv[i])
        out.append(row)
    return pd.DataFrame(out)


def payback_guide(inputs: float, impact_year_1: float) -> float:
    """Payback period of the SROI guide (2012, stage 5, "payback period"):
    investment / (annual impact / 12), in months, with the year-1 impact
    undiscounted and summed over outcomes. It ignores durations: it can
    exceed the time the outcomes last. NaN without inputs or impact."""
    if not inputs > 0 or not impact_year_1 > 0:
        return math.nan
    return 12.0 * inputs / impact_year_1


def _payback_months(model: _Model, values: Mapping) -> float:
    """Discounted payback: months until the cumulative discounted impact
    covers the inputs (linear within a year). Equals the guide's payback
    (:func:`payback_guide`) divided by (1 + r) when reached in year 1 with
    year 1 discounted. NaN when never reached within the durations."""
    if model.inputs <= 0:
        return math.nan
    per_year = model.yearly(values).sum(axis=0)
    cum = 0.0
    for t, y in enumerate(per_year):
        if y > 0 and cum + y >= model.inputs:
            return 12.0 * (t + (model.inputs - cum) / y)
        cum += y
    return math.nan


def coefficient_origin(params: pd.DataFrame, vm: dict) -> tuple[bool, str]:
    """(rests on defaults, French origin) of the coefficients the survey can
    measure (``enquete`` in ``vm``): "questionnaire" when every one comes from
    the survey, "défaut méthodologique" when none does, "mixte" otherwise
    (national: some CAEs measured them). A ratio on defaults is not the CAE's
    measurement: the tables carry the flag so that reports say it."""
    measurable = {n for n, c in vm["coefficients"].items() if c.get("enquete")}
    p = params[params["nom"].isin(measurable)]
    if p.empty:
        return False, "sans objet"
    survey = p["origine"].eq(SOURCE_SURVEY)
    if survey.all():
        return False, SOURCE_SURVEY
    return True, SOURCE_DEFAULT if not survey.any() else "mixte"


def _label(p, tag_cae: bool) -> str:
    return p["libelle"] + (f" ({p['cae']})" if tag_cae and p["cae"] else "")


_KEY_COLUMNS = ("k_proxy", "k_poids_mort", "k_attribution", "k_deplacement", "k_erosion", "k_quantite")


def _one_at_a_time(model: _Model, base: dict):
    """``f(key, x)``: :meth:`_Model.ratio` with parameter ``key`` alone at
    ``x`` and every other at ``base``. A row's PV depends only on the
    parameters it names, so only the rows naming ``key`` are recomputed and
    the others keep their base PV: a sweep over every parameter costs
    O(rows) instead of O(parameters × rows), which matters nationally where
    both grow with the number of CAEs. The total is summed over the same
    (rows × 1) array as :meth:`_Model.ratio`, so results are bit-identical."""
    if not len(model.rows):  # nothing to reuse (and pv_matrix needs a row)
        return lambda key, x: model.ratio({**base, key: x})
    pv0 = model.pv_matrix(base)
    uses: dict[str, list[int]] = {}
    for col in _KEY_COLUMNS:
        if col in model.rows:
            for i, key in enumerate(model.rows[col]):
                if key:
                    uses.setdefault(key, []).append(i)

    def f(key, x):
        idx = sorted(set(uses.get(key, ())))
        pv = pv0.copy()
        if idx:
            v = dict(base)
            v[key] = x
            pv[idx] = replace(model, rows=model.rows.iloc[idx]).pv_matrix(v)
        total = pv.sum(axis=0)
        out = total / model.inputs if model.inputs > 0 else np.full_like(total, np.nan)
        return float(out[0])

    return f


def tornado_table(model: _Model, tag_cae: bool = False) -> pd.DataFrame:
    """One-way sensitivity: the ratio with each parameter alone at its min and max.
    ``tag_cae`` appends the CAE slug to survey-based parameters (national)."""
    base = model.point()
    r0 = model.ratio(base)
    alone = _one_at_a_time(model, base)
    rows = []
    for k, p in model.params.iterrows():
        rlo, rhi = alone(k, p["min"]), alone(k, p["max"])
        rows.append(dict(cle=k, libelle=_label(p, tag_cae), type=KIND_LABELS[p["type"]],
                         origine=p["origine"] if p["type"] != "proxy" else "proxy", valeur=p["valeur"], min=p["min"], max=p["max"],
                         ratio_base=r0, ratio_min=rlo, ratio_max=rhi, ecart=abs(rhi - rlo)))
    return pd.DataFrame(rows).sort_values("ecart", ascending=False, kind="stable").reset_index(drop=True)


def break_even_table(model: _Model, target: float = 1.0, tag_cae: bool = False) -> pd.DataFrame:
    """Value of each parameter, alone, at which the ratio equals ``target``.

    Deadweight, attribution, displacement and proxies enter the PV linearly,
    so x* = x0 + (target − f(x0)) / slope; the drop-off enters through a
    polynomial, solved with ``scipy.optimize.brentq`` on [0, 1]. Shares whose
    root lies outside [0, 1] (and negative proxies) are "non atteint";
    parameters without a range (min = max) are reported as fixed.
    """
    base = model.point()
    alone = _one_at_a_time(model, base)
    rows = []
    for k, p in model.params.iterrows():

        def f(x, k=k):
            return alone(k, x)

        seuil, statut = math.nan, ""
        if not model.inputs > 0:
            statut = "ratio non calculable (intrants nuls)"
        elif not p["max"] - p["min"] > 0:
            statut = "paramètre fixe (sans plage)"
        elif p["type"] == "erosion":
            g0, g1 = f(0.0) - target, f(1.0) - target
            if abs(g0 - g1) < 1e-12:
                statut = "sans effet (durée d'un an)"
            elif g0 * g1 > 0:
                statut = "non atteint dans [0 ; 1]"
            else:
                seuil, statut = optimize.brentq(lambda x: f(x) - target, 0.0, 1.0, xtol=1e-12), "atteint"
        else:
            x0, x1 = 0.0, (1.0 if p["type"] != "proxy" else max(p["valeur"], 1.0))
            f0, f1 = f(x0), f(x1)
            slope = (f1 - f0) / (x1 - x0)
            if abs(slope) < 1e-15:
                statut = "sans effet"
            else:
                x = x0 + (target - f0) / slope
                if p["type"] == "proxy":
                    seuil, statut = (x, "atteint") if x >= 0 else (math.nan, "non atteint (valeur négative)")
                else:
                    seuil, statut = (x, "atteint") if 0.0 <= x <= 1.0 else (math.nan, "non atteint dans [0 ; 1]")
        rows.append(dict(cle=k, libelle=_label(p, tag_cae), type=KIND_LABELS[p["type"]],
                         valeur=p["valeur"], min=p["min"], max=p["max"], seuil=seuil, statut=statut,
                         dans_la_plage=bool(not math.isnan(seuil) and p["min"] <= seuil <= p["max"])))
    return pd.DataFrame(rows)


def fit_beta_quantiles(low: float, high: float, coverage: float) -> tuple[float, float]:
    """(α, β) of the Beta law whose (1 − c)/2 and (1 + c)/2 quantiles are
    ``low`` and ``high`` (c = ``coverage``; 0.5 for an interquartile range).

    Solved with ``scipy.optimize.least_squares`` on (log α, log β), started
    from the method of moments with a normal approximation (mean (low +
    high)/2, sd (high − low)/(2 z)). Raises ValueError unless 0 < low < high < 1
    or when the quantiles are not matched to 1e-6."""
    from scipy import stats as st

    if not 0 < low < high < 1:
        raise ValueError(f"quantiles {low}, {high} : il faut 0 < bas < haut < 1")
    p = ((1 - coverage) / 2, (1 + coverage) / 2)
    m, sd = (low + high) / 2, (high - low) / (2 * st.norm.ppf(p[1]))
    k = max(m * (1 - m) / sd ** 2 - 1, 0.5)

    def resid(z):
        a, b = np.exp(z)
        return st.beta.ppf(p, a, b) - np.array([low, high])

    sol = optimize.least_squares(resid, np.log([m * k, (1 - m) * k]), xtol=1e-14, ftol=1e-14, gtol=1e-14)
    if np.max(np.abs(resid(sol.x))) > 1e-6:
        raise ValueError(f"pas de loi bêta de quantiles {low} et {high} à {coverage:.0%}")
    a, b = np.exp(sol.x)
    return float(a), float(b)


def fit_lognormal_quantiles(low: float, high: float, coverage: float) -> tuple[float, float]:
    """(μ, σ) of the log-normal law whose (1 − c)/2 and (1 + c)/2 quantiles are
    ``low`` and ``high``: μ = (ln low + ln high)/2, σ = (ln high − ln low)/(2 z),
    z = Φ⁻¹((1 + c)/2) (closed form). Requires 0 < low < high."""
    from scipy import stats as st

    if not 0 < low < high:
        raise ValueError(f"quantiles {low}, {high} : il faut 0 < bas < haut")
    z = float(st.norm.ppf((1 + coverage) / 2))
    return (math.log(low) + math.log(high)) / 2, (math.log(high) - math.log(low)) / (2 * z)


def draw_parameter(key: str, mode: float, low: float, high: float, n: int, law: str, seed: int,
                   coverage: float | None = None, share: bool = True) -> np.ndarray:
    """``n`` draws of one parameter from its own stream (seed, key).

    ``coverage`` None (``plage: bornes``): [low, high] are hard bounds, drawn
    Beta-PERT (Vose 2008, §13.2): α = 1 + 4(m − a)/(b − a),
    β = 1 + 4(b − m)/(b − a), x = a + (b − a)·Beta(α, β); or triangular(a, m, b).
    ``coverage`` c (``interquartile`` 0.5, ``intervalle_95`` 0.95): low and
    high are the (1 − c)/2 and (1 + c)/2 quantiles of the law drawn, a Beta
    (``share``) or a log-normal (an amount) fitted to them; ``mode`` is then
    the point value only, not a parameter of the law. A point range (a = b)
    gives a constant."""
    if not high - low > 1e-15:
        return np.full(n, float(mode))
    rng = _rng(seed, "mc:" + key)
    if coverage is not None and not (isinstance(coverage, float) and math.isnan(coverage)):
        if share:
            a, b = fit_beta_quantiles(low, high, float(coverage))
            return rng.beta(a, b, size=n)
        mu, sigma = fit_lognormal_quantiles(low, high, float(coverage))
        return rng.lognormal(mu, sigma, size=n)
    m = min(max(mode, low), high)
    if law == "triangulaire":
        return rng.triangular(low, m, high, size=n)
    a = 1.0 + 4.0 * (m - low) / (high - low)
    b = 1.0 + 4.0 * (high - m) / (high - low)
    return low + (high - low) * rng.beta(a, b, size=n)


def draw_survey_share(key: str, k: float, n: int, size: int, seed: int) -> np.ndarray:
    """``size`` draws of a surveyed share k/n from Jeffreys' posterior
    Beta(k + ½, n − k + ½) (Brown, Cai & DasGupta 2001, §4.1.2: its 2,5 % and
    97,5 % quantiles are the Jeffreys interval). The respondents are treated
    as a simple random sample of the CAE (no finite-population correction:
    conservative)."""
    return _rng(seed, "mc:" + key).beta(k + 0.5, n - k + 0.5, size=size)


def monte_carlo(model: _Model, n: int, law: str, seed: int) -> np.ndarray:
    """Ratio draws (vectorised; one stream per parameter key, and one per
    survey-scaled quantity, whose share is drawn by :func:`draw_survey_share`)."""
    values = {k: draw_parameter(k, p["valeur"], p["min"], p["max"], n, law, seed, p.get("couverture"), p["type"] != "proxy")
              for k, p in model.params.iterrows()}
    for r in model.rows.itertuples():
        if getattr(r, "k_quantite", "") and r.q_n > 0:
            values[r.k_quantite] = r.q_N * draw_survey_share(r.k_quantite, r.q_k, int(r.q_n), n, seed)
    return np.asarray(model.ratio(values), dtype=float).reshape(-1)


def mc_summary(draws: np.ndarray, quantiles=(0.05, 0.95), law: str = "pert") -> pd.DataFrame:
    """Median, interval quantiles, mean and P(ratio > 1) of the draws."""
    qlo, qhi = quantiles
    return pd.DataFrame([dict(
        mediane=float(np.median(draws)), ratio_bas=float(np.quantile(draws, qlo)), ratio_haut=float(np.quantile(draws, qhi)),
        q_bas=float(qlo), q_haut=float(qhi), moyenne=float(np.mean(draws)), p_ratio_sup_1=float(np.mean(draws > 1.0)),
        tirages=int(draws.size), loi=law,
    )])


def _by_stakeholder(table: pd.DataFrame, vm: dict) -> pd.DataFrame:
    total = table["valeur_actuelle"].sum()
    order = list(vm["parties_prenantes"])
    g = table.groupby("code_partie_prenante", sort=False)["valeur_actuelle"].sum()
    rows = [dict(code=c, partie_prenante=vm["parties_prenantes"][c], valeur_actuelle=float(g.get(c, 0.0)),
                 part=float(g.get(c, 0.0) / total) if total > 0 else math.nan) for c in order]
    return pd.DataFrame(rows)


def _settings(vm: dict, methodology_dir, draws, seed):
    pub = _publication(methodology_dir)
    p = vm["parametres"]
    return dict(
        seed=int(seed if seed is not None else pub.get("graine", 0)),
        level=float(pub.get("niveau_confiance", 0.95)),
        draws=int(draws if draws is not None else p["tirages_monte_carlo"]),
        law=str(p["loi"]),
        quantiles=tuple(p["quantiles_monte_carlo"]),
        rate=float(p["taux_actualisation"]),
        rate_sensitivity=float(p["taux_actualisation_sensibilite"]),
        discount_first=bool(p["actualiser_annee_1"]),
        base_year=int(p["annee_base"]),
        version=str(vm.get("version", "?")),
        definitions=dict(vm.get("definitions") or {}),
    )


def _finish(model: _Model, table: pd.DataFrame, inputs: pd.DataFrame, vm: dict, st: dict, slug: str, notes: list[str]) -> SroiResult:
    pt = model.point()
    total_pv = float(table["valeur_actuelle"].sum())
    ratio = model.ratio(pt) if len(model.rows) else math.nan
    from analysis.method import profile as profiles

    public = float(inputs.loc[inputs["poste"] == resources()[2], "montant"].sum())
    if model.inputs <= 0:
        notes.append(f"Intrants nuls ou absents dans {profiles.current().description_file} : le ratio ne peut pas être calculé.")
    draws = monte_carlo(model, st["draws"], st["law"], st["seed"])
    by_default, origin = coefficient_origin(model.params, vm)
    scen = pd.DataFrame([dict(scenario="taux de référence", taux=st["rate"], ratio=ratio),
                         dict(scenario="taux de sensibilité", taux=st["rate_sensitivity"], ratio=model.ratio(pt, st["rate_sensitivity"]))])
    return SroiResult(
        slug=slug, value_map=table, parameters=model.params.reset_index(drop=True), inputs=inputs,
        total_inputs=model.inputs, total_pv=total_pv, ratio=ratio,
        net_ratio=(total_pv - model.inputs) / model.inputs if model.inputs > 0 else math.nan,
        ratio_public=total_pv / public if public > 0 else math.nan,
        payback_months=payback_guide(model.inputs, float(table["impact_annee_1"].sum()) if len(table) else 0.0),
        payback_months_discounted=_payback_months(model, pt),
        default_coefficients=by_default, coefficient_origin=origin, by_stakeholder=_by_stakeholder(table, vm),
        tornado=tornado_table(model, slug == "national"), break_even=break_even_table(model, tag_cae=slug == "national"),
        mc_summary=mc_summary(draws, st["quantiles"], st["law"]), draws=draws, scenarios=scen, settings=st, notes=notes,
    )


def _notes_for(model: _Model, data_slug: str) -> list[str]:
    from analysis.publication.suppression import count_fr

    notes = []
    for _, p in model.params.iterrows():
        if p["type"] in ("poids_mort", "attribution") and p["cae"] == "" and p["n_repondants"] > 0:
            notes.append(f"{KIND_LABELS[p['type']]} « {p['nom']} » ({data_slug}) : {count_fr(p['n_repondants'])} réponse(s) valide(s), "
                         f"en dessous du minimum : valeur par défaut de la méthode.")
    return notes


def evaluate(data: CaeData, vm: dict | None = None, *, methodology_dir: Path | str | None = None,
             draws: int | None = None, seed: int | None = None, publication: bool = False) -> SroiResult:
    """SROI of one CAE: value map, ratio, sensitivity and Monte Carlo.

    ``vm`` defaults to :func:`load_value_map`; ``seed`` to
    ``publication.graine``; ``draws`` to ``parametres.tirages_monte_carlo``.
    ``publication=True`` gives the figures that may be published
    (:func:`evaluate_published`).
    """
    vm = load_value_map(methodology_dir) if vm is None else vm
    check(vm)
    st = _settings(vm, methodology_dir, draws, seed)
    model, inputs = _build(data, vm, st["seed"], st["level"])
    table = _value_map_table(model, vm)
    if publication:
        model = publishable_model(model, methodology_dir)
        table = _mark_masked(_value_map_table(model, vm), model)
    return _finish(model, table, inputs, vm, st, data.slug, _notes_for(model, data.slug))


def evaluate_national(datas: list[CaeData], vm: dict | None = None, *, methodology_dir: Path | str | None = None,
                      draws: int | None = None, seed: int | None = None, publication: bool = False) -> SroiResult:
    """National SROI: Σ PV over Σ inputs of the CAEs.

    Shared parameters (proxies, coefficients on their default value) have one
    key, hence one random stream, common to every CAE; survey-based
    coefficients have a key per CAE (``nom@cae``), hence independent draws.
    ``by_cae`` gives each CAE's PV, inputs, ratio and whether that ratio
    rests on default coefficients (``coefficients_par_defaut``), in the
    order of ``datas``: each CAE's own result, not a ranking.
    """
    vm = load_value_map(methodology_dir) if vm is None else vm
    check(vm)
    if not datas:
        raise ValueError(f"Aucun·e {_column()} à agréger.")
    st = _settings(vm, methodology_dir, draws, seed)
    models, inputs_all, notes = [], [], []
    for d in datas:
        m, inp = _build(d, vm, st["seed"], st["level"])
        if publication:
            m = publishable_model(m, methodology_dir)
        models.append(m)
        inputs_all.append(inp.assign(cae=d.slug))
        notes += _notes_for(m, d.slug)
    params = pd.concat([m.params for m in models])
    params = params[~params.index.duplicated(keep="first")]
    rows = pd.concat([m.rows for m in models], ignore_index=True)
    inputs = pd.concat(inputs_all, ignore_index=True)
    model = _Model(rows, params, float(inputs["montant"].sum()), models[0].rate, models[0].discount_first)
    table = _value_map_table(model, vm)
    if publication:
        table = _mark_masked(table, model)
    res = _finish(model, table, inputs.groupby(["poste", "libelle"], as_index=False, sort=False)[["quantite", "montant"]].sum(),
                  vm, st, "national", notes)
    by = table.groupby("cae", sort=False)["valeur_actuelle"].sum()
    # in the order the CAEs were given (never sorted by ratio: each ratio is its CAE's own result, not a rank)
    res.by_cae = pd.DataFrame([dict(cae=m.rows["cae"].iloc[0] if len(m.rows) else d.slug, valeur_actuelle=float(by.get(d.slug, 0.0)),
                                    intrants=m.inputs, ratio=float(by.get(d.slug, 0.0)) / m.inputs if m.inputs > 0 else math.nan,
                                    coefficients_par_defaut=coefficient_origin(m.params, vm)[0])
                               for m, d in zip(models, datas)])
    return res


def value_map_table(data: CaeData, vm: dict | None = None, *, methodology_dir: Path | str | None = None) -> pd.DataFrame:
    """The value map of one CAE (one row per active outcome), without the
    uncertainty analysis. Columns: see :func:`evaluate` (``value_map``)."""
    vm = load_value_map(methodology_dir) if vm is None else vm
    check(vm)
    st = _settings(vm, methodology_dir, 1000, None)
    model, _ = _build(data, vm, st["seed"], st["level"])
    return _value_map_table(model, vm)


# ==========================================================================
# Publication helpers
# ==========================================================================
def masked_outcomes(rows: pd.DataFrame, methodology_dir=None) -> pd.Series:
    """Outcome rows whose value would publish a small person count.

    A value-map value is a count in disguise: value = quantity × proxy ×
    (1 − deadweight)(1 − attribution)(1 − displacement) × discounting, and
    every factor but the quantity is published (method annex, value map),
    so value ÷ published constants gives the quantity back. A row is masked
    when its quantity is a person count (``unite_quantite`` "personnes")
    that is small (:func:`analysis.publication.suppression.small`; a
    survey-scaled count is judged on its rounded value, "no unrounded person
    counts from survey scaling"), or when one of the person counts it is
    computed from (``comptes``: the people counted; for a survey share, those
    who answered yes and the others) is small."""
    from analysis.publication.suppression import small, thresholds

    se = thresholds(methodology_dir)[0]

    def hit(r) -> bool:
        if r["unite_quantite"] != "personnes":
            return False
        counts = r["comptes"] if "comptes" in r and isinstance(r["comptes"], tuple) else ()
        return small(r["quantite"], se) or any(small(c, se) for c in counts)

    if rows.empty:
        return pd.Series(False, index=rows.index, dtype=bool)
    return rows.apply(hit, axis=1).astype(bool)


def publishable_model(model: _Model, methodology_dir=None) -> _Model:
    """The model of the published SROI: each masked outcome
    (:func:`masked_outcomes`) is valued at zero.

    Why zero and not complementary suppression: the ratio, the stakeholder
    and CAE totals, the ratio at the sensitivity discount rate, the payback
    time, every tornado and break-even row and the Monte Carlo summary are
    all functions of the quantities, and the method, the seed and every
    other quantity are published; a reader could rerun the model for each
    candidate count 1 … seuil − 1 and keep the one that reproduces a
    published figure. Hiding cells cannot stop that; leaving the small
    outcome out of every published figure does (threshold rule, Hundepool
    et al. 2012 §4.2.1, applied before aggregation), and errs on the side of
    not over-claiming (Social Value UK, *A Guide to SROI*, 2012, principle 6
    "do not over-claim"). The internal figures (``publication=False``) are
    unchanged."""
    rows = model.rows.copy()
    mask = masked_outcomes(rows, methodology_dir)
    rows["masque"] = mask.to_numpy()
    rows.loc[mask, "quantite"] = 0.0
    if "k_quantite" in rows:  # a masked survey-scaled quantity is not drawn either (Monte Carlo)
        rows.loc[mask, "k_quantite"] = ""
        rows.loc[mask, ["q_k", "q_n", "q_N"]] = 0
    return _Model(rows, model.params, model.inputs, model.rate, model.discount_first)


def _mark_masked(table: pd.DataFrame, model: _Model) -> pd.DataFrame:
    """Value-map columns of a masked outcome: quantity, year-1 impact and
    present value NA (they were valued at zero), the note says why in plain
    French; ``masque`` True."""
    from analysis.publication.suppression import hidden_fr

    t = table.copy()
    mask = model.rows["masque"].to_numpy(dtype=bool)
    t["masque"] = mask
    if mask.any():
        for col in ("quantite", "impact_annee_1", "valeur_actuelle"):
            t[col] = t[col].astype(float).where(~mask)
        t.loc[mask, "note_quantite"] = (hidden_fr() + " ; résultat non valorisé dans les chiffres publiés "
                                        "(secret statistique)")
    return t


def evaluate_published(data: CaeData, vm: dict | None = None, **kw) -> SroiResult:
    """:func:`evaluate` with ``publication=True``: the SROI a report may show."""
    return evaluate(data, vm, publication=True, **kw)


def evaluate_national_published(datas: list[CaeData], vm: dict | None = None, **kw) -> SroiResult:
    """:func:`evaluate_national` with ``publication=True``: every CAE's masked
    outcomes are valued at zero, so that the national figures are those of
    the published CAE figures (national minus the other CAEs gives nothing
    hidden back)."""
    return evaluate_national(datas, vm, publication=True, **kw)


def _published_parameters(params: pd.DataFrame) -> pd.DataFrame:
    """The parameters table with the respondents behind each survey-based
    coefficient through the gate (a count under the threshold is NA)."""
    from analysis.publication.suppression import mask_count

    t = params.copy()
    if "n_repondants" in t.columns:
        t["n_repondants"] = pd.array([mask_count(v) for v in t["n_repondants"]], dtype="Int64")
    return t


def result_tables(result: SroiResult) -> dict[str, pd.DataFrame]:
    """Tables to write under ``<processed>/<cae>/`` (stem → DataFrame)."""
    mc = result.mc_summary.copy()
    resume = pd.DataFrame(
        [
            {
                "valeur_actuelle": result.total_pv,
                "intrants": result.total_inputs,
                "ratio": result.ratio,
                "ratio_net": result.net_ratio,
                "ratio_public": result.ratio_public,
                "delai_mois": result.payback_months,
                "delai_mois_actualise": result.payback_months_discounted,
                "coefficients_par_defaut": result.default_coefficients,
                "origine_coefficients": result.coefficient_origin,
            }
        ]
    )
    return {
        "sroi_resume": resume,
        "sroi_carte_valeur": result.value_map,
        "sroi_synthese": result.summary(),
        "sroi_parties_prenantes": result.by_stakeholder,
        "sroi_tornado": result.tornado,
        "sroi_seuils": result.break_even,
        "sroi_monte_carlo": mc,
        "sroi_parametres": _published_parameters(result.parameters),
        "sroi_intrants": result.inputs,
    }


# ==========================================================================
# Figures (French labels, colour-blind palette)
# ==========================================================================
def _palette(n: int):
    import seaborn as sns

    from analysis.reporting.plotting import PALETTE

    return sns.color_palette(PALETTE, n)


def _empty(ax, message: str):
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
    return ax


def _named(label: str, names: dict[str, str] | None) -> str:
    """A national parameter's label with its CAE slug (« … (demo-nord) »,
    :func:`_label`) replaced by the CAE's display name from ``names``."""
    for slug, name in (names or {}).items():
        if label.endswith(f" ({slug})"):
            return f"{label[: -len(slug) - 3]} ({name})"
    return label


def plot_tornado(result: SroiResult, ax=None, top: int = 12, names: dict[str, str] | None = None):
    """Horizontal bars: the ratio with each parameter at its min and max.
    ``names`` (slug → display name, :func:`analysis.qvt.compute.cae_labels`)
    names the CAE of a CAE's own parameter in the national figure: the book
    replaces slugs in its text, never in an image, so an anonymised report
    must draw « CAE 3 », not the folder's name."""
    import matplotlib.pyplot as plt

    from analysis.publication.formatting import fr_number

    t = result.tornado[result.tornado["ecart"] > 0].head(top).iloc[::-1]
    import textwrap

    labels = [textwrap.fill(_named(str(lbl), names), 45) for lbl in t["libelle"]]
    if ax is None:
        lines = sum(lbl.count("\n") + 1 for lbl in labels)
        _, ax = plt.subplots(figsize=(6.5, 0.28 * max(lines, 3) + 0.3 * len(labels) + 1.2))
    if t.empty or not np.isfinite(result.ratio):
        return _empty(ax, "Aucune hypothèse ne fait varier le ratio (ou ratio non calculable).")
    c = _palette(2)
    base = result.ratio
    y = np.arange(len(t))
    ax.barh(y, t["ratio_min"] - base, left=base, color=c[0], label="paramètre à son minimum")
    ax.barh(y, t["ratio_max"] - base, left=base, color=c[1], label="paramètre à son maximum")
    ax.axvline(base, color="black", lw=1)
    ax.axvline(1.0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel(f"Ratio SROI (valeur centrale {fr_number(base, 2)} ; tirets : ratio = 1)")
    ax.legend(loc="lower right", fontsize=8)
    from analysis.reporting.plotting import fr_axis

    fr_axis(ax, "x", decimals=2)
    return ax


def plot_mc(result: SroiResult, ax=None):
    """Histogram of the Monte Carlo ratio draws with median and interval."""
    import matplotlib.pyplot as plt

    from analysis.publication.formatting import fr_number, fr_percent
    from analysis.reporting.plotting import fr_axis

    if ax is None:
        _, ax = plt.subplots()
    if not np.isfinite(result.draws).any():
        return _empty(ax, "Ratio non calculable : intrants nuls ou absents.")
    mc = result.mc
    c = _palette(3)
    ax.hist(result.draws, bins=60, color=c[0], alpha=0.85)
    ax.axvline(mc["mediane"], color=c[1], lw=2, label=f"médiane {fr_number(mc['mediane'], 2)}")
    ax.axvspan(mc["ratio_bas"], mc["ratio_haut"], color=c[2], alpha=0.2,
               label=f"intervalle {fr_percent(mc['q_bas'], 0)}–{fr_percent(mc['q_haut'], 0)} : "
                     f"[{fr_number(mc['ratio_bas'], 2)} ; {fr_number(mc['ratio_haut'], 2)}]")
    ax.axvline(1.0, color="grey", ls="--", lw=1, label="ratio = 1")
    # the caption titles the figure; the axis says what was drawn
    ax.set_xlabel(f"Ratio SROI simulé ({fr_number(mc['tirages'])} tirages ; ratio supérieur à 1 dans "
                  f"{fr_percent(mc['p_ratio_sup_1'])} des tirages)")
    ax.set_ylabel("Nombre de tirages")
    ax.legend(fontsize=8)
    fr_axis(ax, "x", decimals=2)
    fr_axis(ax, "y")
    return ax


def plot_stakeholders(result: SroiResult, ax=None):
    """Bars: present value per stakeholder, with its share of the total."""
    import matplotlib.pyplot as plt

    from analysis.publication.formatting import fr_percent
    from analysis.reporting.plotting import fr_axis

    if ax is None:
        _, ax = plt.subplots()
    b = result.by_stakeholder
    c = _palette(len(b))
    import textwrap

    bars = ax.bar([textwrap.fill(x, 18) for x in b["partie_prenante"]], b["valeur_actuelle"], color=c)
    for bar, share in zip(bars, b["part"]):
        ax.annotate(fr_percent(share, 0), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("Valeur actuelle")
    fr_axis(ax, "y", kind="euro")
    return ax


# ==========================================================================
# French display (notebook tables and sentences, built from computed values)
# ==========================================================================
def _link(text: str, url: str) -> str:
    import html

    t = html.escape(str(text))
    return f'<a href="{html.escape(url)}">{t}</a>' if url else t


def _coef_cell(value: float, origin: str) -> str:
    from analysis.publication.formatting import fr_percent

    tag = "questionnaire" if origin == SOURCE_SURVEY else "défaut"
    return f"{fr_percent(value, 1)} ({tag})"


def value_map_display(table: pd.DataFrame) -> pd.DataFrame:
    """The value map as a French table (euros formatted). A masked outcome
    (``masque``, :func:`publishable_model`) says so in plain French; a person
    count from survey scaling is shown rounded to whole people.
    The gate reads the threshold. The proxies' sources are in
    :func:`parameters_display` (the report's technical appendix), not in a
    column that would make this 15-column table unreadable on a page."""
    from analysis.publication.formatting import fr_euro, fr_number
    from analysis.publication.suppression import hidden_fr

    t = table.copy()
    if "masque" not in t.columns:  # an internal table: never display it unmasked
        raise ValueError("value_map_display : carte de la valeur non publiée (utiliser evaluate_published)")
    rows = []
    for r in t.itertuples():
        if r.masque:
            q = hidden_fr()
        elif r.unite_quantite == "€":
            q = fr_euro(r.quantite)
        elif r.unite_quantite == "personnes":
            q = f"{fr_number(round(r.quantite), 0)} {r.unite_quantite}"
        else:
            q = f"{fr_number(r.quantite, 1 if r.quantite % 1 else 0)} {r.unite_quantite}"
        rows.append({
            **({_column(): r.cae} if t["cae"].nunique() > 1 else {}),
            "Partie prenante": r.partie_prenante,
            "Résultat": r.resultat,
            "Indicateur": r.indicateur,
            "Quantité": q,
            "Durée (ans)": int(r.duree),
            "Proxy financier": r.proxy,
            "Valeur du proxy": fr_euro(r.proxy_valeur, 2 if r.proxy_valeur < 10 else 0),
            "Poids mort": _coef_cell(r.poids_mort, r.poids_mort_source),
            "Attribution": _coef_cell(r.attribution, r.attribution_source),
            "Déplacement": _coef_cell(r.deplacement, r.deplacement_source),
            "Érosion": _coef_cell(r.erosion, r.erosion_source),
            "Impact année 1": "non valorisé (secret statistique)" if r.masque else fr_euro(r.impact_annee_1),
            "Valeur actuelle": "non valorisé (secret statistique)" if r.masque else fr_euro(r.valeur_actuelle),
        })
    return pd.DataFrame(rows)


def inputs_display(result: SroiResult) -> pd.DataFrame:
    """Inputs (``ressources``) with volunteer hours valued, in French."""
    from analysis.publication.formatting import fr_euro, fr_number

    rate = None
    rows = []
    for r in result.inputs.itertuples():
        detail = ""
        if r.poste == "benevolat_heures":
            rate = r.montant / r.quantite if r.quantite else math.nan
            detail = f"{fr_number(r.quantite)} h × {fr_euro(rate, 2)}" if r.quantite else ""
        rows.append({"Intrant": r.libelle, "Détail": detail, "Montant": fr_euro(r.montant)})
    rows.append({"Intrant": "Total", "Détail": "", "Montant": fr_euro(result.total_inputs)})
    return pd.DataFrame(rows)


def stakeholders_display(result: SroiResult) -> pd.DataFrame:
    from analysis.publication.formatting import fr_euro, fr_percent

    return pd.DataFrame({"Partie prenante": result.by_stakeholder["partie_prenante"],
                         "Valeur actuelle": [fr_euro(v) for v in result.by_stakeholder["valeur_actuelle"]],
                         "Part de la valeur créée": [fr_percent(v, 0) for v in result.by_stakeholder["part"]]})


def _param_value(v: float, kind: str) -> str:
    from analysis.publication.formatting import fr_euro, fr_percent

    if isinstance(v, float) and math.isnan(v):
        return "–"
    return fr_euro(v, 2 if v < 10 else 0) if kind == KIND_LABELS["proxy"] else fr_percent(v, 1)


def break_even_display(result: SroiResult) -> pd.DataFrame:
    """Break-even values in French, parameters without a range left out."""
    b = result.break_even[~result.break_even["statut"].str.startswith("paramètre fixe")]
    return pd.DataFrame({
        "Hypothèse": b["libelle"], "Type": b["type"],
        "Valeur retenue": [_param_value(v, k) for v, k in zip(b["valeur"], b["type"])],
        "Plage": [f"{_param_value(lo, k)} à {_param_value(hi, k)}" for lo, hi, k in zip(b["min"], b["max"], b["type"])],
        "Valeur pour laquelle le ratio vaut 1": [_param_value(v, k) if s == "atteint" else s
                                                 for v, k, s in zip(b["seuil"], b["type"], b["statut"])],
        "Dans la plage ?": ["oui" if x else "non" for x in b["dans_la_plage"]],
    })


def _range_label(kind: str) -> str:
    """French name of a ``plage`` (a survey interval at another level keeps its code)."""
    return RANGE_LABELS.get(kind, str(kind).replace("_", " "))


def parameters_display(result: SroiResult) -> pd.DataFrame:
    """Every parameter with its value, range, origin and source (annex table)."""
    p = result.parameters
    return pd.DataFrame({
        "Hypothèse": p["libelle"] + p["cae"].map(lambda c: f" ({c})" if c and result.slug == "national" else ""),
        "Type": p["type"].map(KIND_LABELS),
        "Valeur": [_param_value(v, KIND_LABELS[k]) for v, k in zip(p["valeur"], p["type"])],
        "Plage": [f"{_param_value(lo, KIND_LABELS[k])} à {_param_value(hi, KIND_LABELS[k])}"
                  + (f" ({_range_label(g)})" if hi > lo else "")
                  for lo, hi, k, g in zip(p["min"], p["max"], p["type"], p.get("plage", pd.Series(["bornes"] * len(p))))],
        "Origine": [("questionnaire" if o == SOURCE_SURVEY else ("défaut méthodologique" if t != "proxy" else "proxy"))
                    for o, t in zip(p["origine"], p["type"])],
        "Source": [_link(s, u) for s, u in zip(p["source"], p["url"].fillna(""))],
    })


def headline(result: SroiResult) -> str:
    """A French paragraph with the ratios, the interval and the sources of the coefficients."""
    from analysis.publication.formatting import fr_euro, fr_number, fr_percent

    if not len(result.value_map) or math.isnan(result.ratio):
        return "Le ratio SROI ne peut pas être calculé : " + " ".join(result.notes or ["aucun résultat valorisé."])
    mc = result.mc
    survey = result.parameters[result.parameters["origine"] == SOURCE_SURVEY]
    src = (f"Poids mort et attribution viennent du questionnaire {_structure_du()} ("
           + ", ".join(f"{KIND_LABELS[t].lower()} : {fr_number(n)} réponses" for t, n in zip(survey["type"], survey["n_repondants"]))
           + ")." if len(survey) else
           "Faute de questionnaire suffisant, poids mort et attribution prennent les valeurs par défaut de la méthode.")
    if result.default_coefficients:
        higher = mc["mediane"] > result.ratio
        src += (" Ce ratio repose donc sur des coefficients par défaut (fixés par prudence au 3e quartile d'une "
                f"méta-analyse de rapports SROI) : ce n'est pas une mesure propre {_structure_au()}. La simulation tire ces "
                "coefficients dans la dispersion des rapports publiés"
                + (", d'où une médiane simulée plus haute que le ratio central." if higher else ".")
                if result.coefficient_origin == SOURCE_DEFAULT else
                f" Pour une partie des {_structures()}, ce ratio repose sur des coefficients par défaut (sans questionnaire suffisant).")
    guide = (f"Au sens du guide SROI (12 × intrants / impact de l'année 1), le délai de récupération est de "
             f"{fr_number(result.payback_months, 1)} mois" if not math.isnan(result.payback_months)
             else "Le délai de récupération du guide SROI n'est pas calculable (impact de l'année 1 nul)")
    disc = (f" ; en cumulant les impacts actualisés, les intrants sont couverts en {fr_number(result.payback_months_discounted, 1)} mois."
            if not math.isnan(result.payback_months_discounted) else
            " ; en cumulant les impacts actualisés, les intrants ne sont pas couverts sur la durée des effets retenus.")
    pay = guide + disc
    cover = result.settings.get("definitions", {}).get("intervalle_monte_carlo", "")
    return (
        f"Pour {fr_euro(result.total_inputs)} d'intrants, la valeur actuelle des résultats est estimée à "
        f"{fr_euro(result.total_pv)} : **{fr_euro(result.ratio, 2)} de valeur sociale par euro investi** "
        f"(ratio SROI), soit un ratio net de {fr_number(result.net_ratio, 2)} "
        f"((valeur − intrants) / intrants). La simulation de Monte Carlo ({fr_number(mc['tirages'])} tirages) "
        f"place le ratio entre {fr_number(mc['ratio_bas'], 2)} et {fr_number(mc['ratio_haut'], 2)} "
        f"(intervalle {fr_percent(mc['q_bas'], 0)}–{fr_percent(mc['q_haut'], 0)}, médiane {fr_number(mc['mediane'], 2)}) ; "
        f"la probabilité qu'il dépasse 1 est de {fr_percent(mc['p_ratio_sup_1'], 0)}. {cover} {pay} {src}"
    ).replace("  ", " ")


def limits_text(result: SroiResult) -> str:
    """The limits paragraph: non-comparability, dominant hypotheses (computed),
    survey or default coefficients, discount-rate sensitivity."""
    from analysis.publication.formatting import fr_number, fr_percent

    head = ("Un ratio SROI dépend de son périmètre, de ses proxys et de ses hypothèses : Social Value International "
            f"rappelle qu'il ne se compare pas d'une organisation à l'autre, ni entre {_structures()}. Il se lit avec son intervalle "
            "et sa sensibilité.")
    if not np.isfinite(result.ratio) or result.total_pv <= 0:
        return head + " Ici, aucune valeur n'a pu être rapportée aux intrants : l'analyse de sensibilité est sans objet."
    top = result.tornado[result.tornado["ecart"] > 0].head(3)
    dom = " ; ".join(f"{r.libelle} (ratio de {fr_number(min(r.ratio_min, r.ratio_max), 2)} à {fr_number(max(r.ratio_min, r.ratio_max), 2)})"
                    for r in top.itertuples())
    vm = result.value_map
    share = vm.groupby("proxy")["valeur_actuelle"].sum().sort_values(ascending=False)
    total = vm["valeur_actuelle"].sum()
    proxies = ", ".join(f"{name} ({fr_percent(v / total, 0)})" for name, v in share.head(2).items()) if total > 0 else "–"
    sens = result.scenarios.iloc[1]
    within = result.break_even[result.break_even["dans_la_plage"]]
    be = ("Aucune hypothèse, prise seule dans sa plage, ne ramène le ratio à 1."
          if within.empty else
          "Prise seule dans sa plage, " + ("l'hypothèse suivante peut" if len(within) == 1 else "chacune de ces hypothèses peut")
          + " ramener le ratio à 1 : " + ", ".join(within["libelle"]) + ".")
    return (
        f"{head} Les hypothèses qui déplacent le plus le ratio sont : {dom}. "
        f"Les proxys qui portent le plus de valeur sont : {proxies}. {be} "
        f"Au taux d'actualisation de {fr_percent(sens.taux, 1)} (France Stratégie), le ratio serait de {fr_number(sens.ratio, 2)}. "
        "Le journal des hypothèses (methodology/assumptions.yml) liste les valeurs encore à vérifier."
    )
