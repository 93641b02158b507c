"""Declared schemas of the methodology files (``methodology/*.yml``).

One pydantic v2 model per file. Every model forbids unknown keys
(``extra="forbid"``) and is strict (a number where a number is expected, no
silent string-to-number coercion), so that a misspelt or missing key is an
error naming the file and the key instead of a silently ignored setting.

Defaults live here and only here: a key the engine treats as optional has its
default on the field (with a description saying where the default comes
from); :func:`analysis.method.loader.load` fills them in, so the code indexes
``spec["key"]`` and repeats no method value. A key without a default is
required, except optional keys whose absence means "none" (``None``), which
stay absent in the loaded data.

:func:`problems` returns every problem of a file at once as
(:data:`Loc`, French message); :class:`MethodError` renders them as
``sroi.yml, clé « coefficients.poids_mort_activite.valeur » : …``.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "MethodError",
    "SCHEMAS",
    "RANGE_KINDS",
    "problems",
    "validate",
    "format_problems",
    "PublicationFile",
    "IndicatorsFile",
    "SroiFile",
    "QvtFile",
    "AssumptionsFile",
    "CodebookFile",
    "EndiFile",
    "ProfileFile",
    "DemoFile",
]

#: A location inside a file: keys and list indices, from the root.
Loc = tuple[Union[str, int], ...]


class MethodError(ValueError):
    """A methodology file is missing, unreadable or does not match its schema.

    ``str(error)`` is a French message listing every problem; ``problems``
    holds them as (file name, dotted key, message)."""

    def __init__(self, message: str, problems: list[tuple[str, str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


# ==========================================================================
# Base model and value types
# ==========================================================================
class Strict(BaseModel):
    """Every schema: unknown keys forbidden, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def _version_text(v: Any) -> Any:
    # ``version: 1.0`` written without quotes is a YAML number: accept it as text.
    return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


Version = Annotated[str, BeforeValidator(_version_text), Field(description="Human version of the file, recorded in every output (PROTOCOL §4).")]
Share = Annotated[float, Field(ge=0, le=1)]
Rate = Annotated[float, Field(ge=0, lt=1)]
Amount = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]


def _scalar(v: Any) -> Any:
    if not isinstance(v, (int, float, str, bool)):
        raise PydanticCustomError("methode", "type attendu : nombre, texte ou booléen, reçu {v}", {"v": repr(v)})
    return v


Scalar = Annotated[Any, AfterValidator(_scalar)]


class Versioned(Strict):
    version: Version


# ==========================================================================
# publication.yml
# ==========================================================================
class PublicationFile(Versioned):
    """``publication.yml``: small-cell thresholds, interval level, anonymisation, seed (PROTOCOL §4)."""

    seuil_effectif: PositiveInt = Field(description="No published count 1 … seuil_effectif − 1 (read only by analysis.publication).")
    seuil_denominateur: PositiveInt = Field(description="No mean or share on fewer people (read only by analysis.publication).")
    niveau_confiance: float = Field(0.95, gt=0, lt=1, description="Level of every interval; default 0.95 as in indicators.compute, qvt.compute and sroi.valuation before the schema.")
    anonymiser_structures: bool = Field(False, description="National report names the structures by the profile's anonymous name ('CAE 1 … N' in the default profile); default false as in reporting.book and qvt.compute.")
    graine: int = Field(0, ge=0, description="Seed of every resampling; default 0 as in indicators.compute and sroi.valuation before the schema.")
    structures_max_par_figure: PositiveInt = Field(20, description="National report: up to this many structures, figures and the indicator table show each one; beyond, the spread of their published values (reporting.plotting.shows_each_structure).")


# ==========================================================================
# indicators.yml
# ==========================================================================
class Condition(Strict):
    """A declarative row condition (header of indicators.yml): one ``column``
    with exactly one operator, or one of ``all`` / ``any`` / ``not``."""

    column: Optional[str] = None
    in_: Optional[list[Scalar]] = Field(None, alias="in")
    not_in: Optional[list[Scalar]] = None
    eq: Optional[Scalar] = None
    ne: Optional[Scalar] = None
    gt: Optional[Scalar] = None
    ge: Optional[Scalar] = None
    lt: Optional[Scalar] = None
    le: Optional[Scalar] = None
    notna: Optional[bool] = None
    isna: Optional[bool] = None
    all: Optional[list["Condition"]] = None
    any: Optional[list["Condition"]] = None
    not_: Optional["Condition"] = Field(None, alias="not")

    @model_validator(mode="after")
    def _one_operator(self):
        set_ = self.model_fields_set
        combinators = set_ & {"all", "any", "not_"}
        ops = set_ - {"column", "all", "any", "not_"}
        if combinators:
            if len(combinators) > 1 or ops or "column" in set_:
                raise PydanticCustomError("methode", "une condition « all », « any » ou « not » ne se combine avec aucune autre clé")
        elif "column" not in set_:
            raise PydanticCustomError("methode", "condition sans « column » (ni « all », « any », « not »)")
        elif len(ops) != 1:
            raise PydanticCustomError("methode", "une condition sur une colonne demande exactement un opérateur (in, not_in, eq, ne, gt, ge, lt, le, notna, isna)")
        return self


class Reference(Strict):
    value: float
    source: str = Field(min_length=1)
    year: Optional[int] = None
    url: Optional[str] = None


class By(Strict):
    column: str
    levels: Optional[list[Scalar]] = Field(None, description="Absent: every level present in the data (indicators.compute._by_levels).")


class IndicatorBase(Strict):
    id: str = Field(min_length=1)
    family: str
    label: str
    table: str
    join: Optional[list[str]] = Field(None, description="Tables joined by id: the profile's people table, or 'activite_derniere' (last activity row of each person).")
    unit: str = Field("nombre", description="part | mois | euros | nombre | euros_mois; default 'nombre' as in indicators.compute before the schema.")
    reference: Optional[Reference] = None
    by: Optional[By] = None
    partition: Optional[str] = None
    filter: Optional[Condition] = None
    definition: Optional[str] = Field(None, description="French definition shown in the method annex.")
    note: Optional[str] = Field(None, description="French caveat carried in the result table's `note` column.")


class ShareIndicator(IndicatorBase):
    kind: Literal["share"]
    numerator: Condition
    denominator: Optional[Condition] = Field(None, description="Absent: every row.")


class MeanIndicator(IndicatorBase):
    kind: Literal["mean", "median"]
    column: str
    scale: float = Field(1, description="Multiplier of the column; default 1 as in indicators.compute._values.")


class KmIndicator(IndicatorBase):
    kind: Literal["km_median"]
    start: str
    event: str
    censor: list[str] = Field(["$fin"], description="Default ['$fin'] as in indicators.compute._km_data.")
    delayed_entry: bool = False


class KmSurvivalIndicator(KmIndicator):
    kind: Literal["km_survival"]  # type: ignore[assignment]
    at: float = Field(ge=0)


class ColumnIndicator(IndicatorBase):
    kind: Literal["distinct_count", "top_share"]
    column: str


class TotalIndicator(IndicatorBase):
    """Σ column over the kept rows (indicators.compute._total)."""

    kind: Literal["total"]
    column: str
    personnes: bool = Field(False, description="The total counts people (small-cell rule applies); default false as in indicators.compute._total.")


class GrowthIndicator(IndicatorBase):
    kind: Literal["growth"]
    column: str
    time_column: str = Field("annee", description="Default 'annee' as in indicators.compute._growth.")


class Side(Strict):
    column: str
    scale: float = Field(1, description="Default 1 as in indicators.compute._side.")
    scale_parameter: Optional[str] = Field(None, description="A key of `parameters` multiplying the column.")
    divide: float = Field(1, description="Default 1 as in indicators.compute._side.")
    divide_column: Optional[str] = Field(None, description="A column dividing the values (rows where it is not > 0 are missing).")


class PairedIndicator(IndicatorBase):
    kind: Literal["paired_diff"]
    before: Side
    after: Side


Indicator = Annotated[
    Union[ShareIndicator, MeanIndicator, KmIndicator, KmSurvivalIndicator, ColumnIndicator, GrowthIndicator, PairedIndicator, TotalIndicator],
    Field(discriminator="kind"),
]


class DerivedDate(Strict):
    from_: Literal["activite"] = Field("activite", alias="from", description="Default 'activite' as in indicators.compute (the only source table).")
    year_column: str = Field("annee", description="Default 'annee' as in indicators.compute.")
    where: Optional[Condition] = None
    anchor: Literal["milieu", "debut"] = Field("milieu", description="Default 'milieu' as in indicators.compute.")
    years_after_entry_column: Optional[str] = Field(None, description="Also derive, under this name, the years from entry to that date.")


class RepVariable(Strict):
    label: str
    codes: Optional[str] = None


class Seniority(Strict):
    bounds_months: list[Annotated[int, Field(ge=0)]]
    labels: list[str]


class Representativeness(Strict):
    variables: dict[str, RepVariable]
    anciennete: Seniority
    std_diff_threshold: float = Field(0.1, gt=0, description="Default 0.1 (Austin 2009) as in indicators.compute before the schema.")
    missing_label: str = Field("nr", description="Default 'nr' as in indicators.compute before the schema.")
    weighted_definition: Optional[str] = Field(None, description="French text: whom the weighted shares cover.")


class Parameter(Strict):
    value: float
    source: str = Field(min_length=1)


class FamilyFigure(Strict):
    unite: Optional[str] = Field(None, description="Unit drawn when the family mixes units (notebooks/02_indicateurs).")
    legende: Optional[str] = Field(None, description="End of the figure caption (pipeline.notebooks.family_captions).")


class Family(Strict):
    """A result family: a section of the indicators notebook and of the book (pipeline.notebooks)."""

    label: str
    titre: Optional[str] = Field(None, description="Heading; absent: '<id> — <label>' (pipeline.notebooks.family_captions).")
    note: Optional[str] = None
    figure: Optional[FamilyFigure] = None


class ContractMonths(Strict):
    column: str = Field("mois_sous_contrat", description="Name of the derived column (indicators.compute.contract_months).")
    start_column: str = Field(description="Column of the people table holding the date the structure's contract starts.")
    paid_statuses: list[str] = Field(description="Statuses under which the structure pays the person.")


class NationalText(Strict):
    definition: str = Field(description="French text: what the national values and their intervals describe.")


class IndicatorsFile(Versioned):
    """``indicators.yml``: the effects referential (PROTOCOL §3)."""

    national: Optional[NationalText] = None
    contract_months: Optional[ContractMonths] = None
    agree: list[int] = Field(description="Likert points that count as agreeing.")
    derived_dates: dict[str, DerivedDate] = Field(default_factory=dict)
    representativeness: Optional[Representativeness] = None
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    families: dict[str, Family]
    synthese: list[str] = Field(default_factory=list, description="Indicator ids quoted in the summaries; default none as in reporting.synthesis.")
    indicators: list[Indicator]


def _d(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list:
    return [i for i in x if isinstance(i, dict)] if isinstance(x, list) else []


def _indicators_checks(data: dict) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    ids: set = set()
    families, parameters = _d(data.get("families")), _d(data.get("parameters"))
    for i, ind in enumerate(data.get("indicators") or []):
        ind = _d(ind)
        if "id" in ind and ind["id"] in ids:
            out.append((("indicators", i, "id"), f"identifiant « {ind['id']} » en double"))
        ids.add(ind.get("id"))
        if "family" in ind and ind["family"] not in families:
            out.append((("indicators", i, "family"), f"famille « {ind['family']} » absente du bloc families"))
        for side in ("before", "after"):
            p = _d(ind.get(side)).get("scale_parameter")
            if p is not None and p not in parameters:
                out.append((("indicators", i, side, "scale_parameter"), f"paramètre « {p} » absent du bloc parameters"))
    for j, ident in enumerate(data.get("synthese") or []):
        if ident not in ids:
            out.append((("synthese", j), f"indicateur « {ident} » absent de la liste indicators"))
    return out


# ==========================================================================
# sroi.yml
# ==========================================================================
#: What the range [min, max] of a coefficient or proxy is (optional key
#: ``plage``). Add a kind here and in the engine (analysis.sroi.valuation)
#: to extend it; absent, the engine treats the range as hard bounds.
RANGE_KINDS = ("bornes", "interquartile", "intervalle_95")
COEFFICIENT_KINDS = ("poids_mort", "attribution", "deplacement", "erosion")


class Ranged(Strict):
    """A parameter with a point value and a range (SROI guide 2012; PROTOCOL §3)."""

    libelle: Optional[str] = None
    valeur: float
    min: float
    max: float
    plage: Optional[str] = Field(None, description=f"What [min, max] is: one of {', '.join(RANGE_KINDS)} (RANGE_KINDS).")
    source: str
    url: str = Field("", description="Empty string when none; default '' as in sroi.valuation before the schema.")
    note: Optional[str] = Field(None, description="French note on the value and its range (method annex).")
    nature_plage: Optional[str] = Field(None, description="French words on where the range comes from (column « Nature de la plage » of the method annex).")

    @field_validator("plage")
    @classmethod
    def _plage(cls, v):
        if v is not None and v not in RANGE_KINDS:
            raise PydanticCustomError("methode", "choisir parmi {kinds}", {"kinds": ", ".join(f"« {k} »" for k in RANGE_KINDS)})
        return v

    @field_validator("source")
    @classmethod
    def _source(cls, v):
        if not v.strip():
            raise PydanticCustomError("methode", "source manquante")
        return v

    #: A share (Beta law for quantile ranges) or an amount (log-normal law).
    _share: ClassVar[bool] = False

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.min <= self.valeur <= self.max):
            raise PydanticCustomError("methode", "il faut min ≤ valeur ≤ max (ici {a} ; {b} ; {c})", {"a": self.min, "b": self.valeur, "c": self.max})
        return self

    @model_validator(mode="after")
    def _range_kind(self):
        """A real range (min < max) says what it is (``plage``); a quantile
        range needs an open interval on which its law exists: 0 < min < max < 1
        for a share (Beta), 0 < min for an amount (log-normal)."""
        kinds = ", ".join(f"« {k} »" for k in RANGE_KINDS)
        lo, hi = float(self.min), float(self.max)
        if self.plage is None:
            if hi > lo:
                raise PydanticCustomError("methode", "plage manquante : dire ce que couvre la plage [min ; max] ({kinds})", {"kinds": kinds})
            return self
        if self.plage == "bornes" or hi <= lo:
            return self
        if self._share and not (0 < lo and hi < 1):
            raise PydanticCustomError("methode", "une plage « {k} » d'une part demande 0 < min et max < 1 (loi bêta), ici {lo} ; {hi}",
                                      {"k": self.plage, "lo": lo, "hi": hi})
        if not self._share and not lo > 0:
            raise PydanticCustomError("methode", "une plage « {k} » d'un montant demande min > 0 (loi log-normale), ici {lo}",
                                      {"k": self.plage, "lo": lo})
        return self


class Coefficient(Ranged):
    _share: ClassVar[bool] = True
    type: Literal["poids_mort", "attribution", "deplacement", "erosion"]
    valeur: Share
    min: Share
    max: Share
    enquete: Optional[str] = Field(None, description="Survey question replacing the default value: enquete.question_poids_mort or enquete.question_attribution (checked in _sroi_checks).")


class Proxy(Ranged):
    valeur: Amount
    min: Amount
    max: Amount
    unite: str = Field(min_length=1)
    annee: int
    url: str = Field(description="Required (empty string when none): a proxy is sourced.")
    indexer: bool = Field(False, description="Index to annee_base with the price index; default false as in sroi.valuation.")


class SroiParametres(Strict):
    annee_base: int
    taux_actualisation: Rate
    taux_actualisation_source: Optional[str] = None
    taux_actualisation_url: Optional[str] = None
    taux_actualisation_sensibilite: Rate
    taux_actualisation_sensibilite_source: Optional[str] = None
    taux_actualisation_sensibilite_url: Optional[str] = None
    actualiser_annee_1: bool
    taux_horaire_benevolat: Amount
    taux_horaire_benevolat_source: Optional[str] = None
    taux_horaire_benevolat_url: Optional[str] = None
    tirages_monte_carlo: int = Field(ge=1000, description="At least 1,000 (10,000 advised).")
    loi: Literal["pert", "triangulaire"]
    quantiles_monte_carlo: list[Share] = Field([0.05, 0.95], min_length=2, max_length=2, description="Default [0.05, 0.95] as in sroi.valuation._settings.")


class PriceIndex(Strict):
    nom: str
    source: str
    url: str = ""
    valeurs: dict[int, Annotated[float, Field(gt=0)]]


class SroiEnquete(Strict):
    min_repondants: PositiveInt
    repetitions_bootstrap: PositiveInt = Field(2000, description="Default 2000 as in sroi.valuation before the schema.")
    question_poids_mort: str = Field(min_length=1, description="Questionnaire column whose answers give the deadweight (poids_mort_reponses).")
    question_attribution: str = Field(min_length=1, description="Questionnaire column giving the share of the outcome due to the structure (0–100).")
    poids_mort_reponses: dict[str, Share] = Field(description="Deadweight share of each answer code of question_poids_mort.")
    reponses_exclues: list[str] = Field(default_factory=list, description="Default none as in sroi.valuation.")


class Majoration(Strict):
    seuil_smic: Amount
    taux: Rate
    libelle: str


class Cotisations(Strict):
    taux_salarial: Rate
    taux_salarial_source: Optional[str] = None
    taux_salarial_url: Optional[str] = None
    taux_patronal: Rate
    taux_patronal_source: Optional[str] = None
    taux_patronal_url: Optional[str] = None
    majorations_patronales: list[Majoration] = Field(default_factory=list, description="Default none as in sroi.contributions.")
    seuil_reduction_smic: float = Field(1.6, gt=0, description="Default 1.6 (CSS art. D241-7) as in sroi.contributions before the schema.")
    reduction_source: Optional[str] = None
    reduction_url: Optional[str] = None
    coefficient_T: dict[int, Rate]
    smic_horaire: dict[int, Annotated[float, Field(gt=0)]]
    heures_temps_plein: Annotated[float, Field(gt=0)]
    heures_manquantes: Literal["smic", "temps_plein"] = Field("smic", description="Default 'smic' as in sroi.contributions before the schema.")


DECLARATIVE_KEYS = ("table", "agregat", "colonne", "filtre", "periode", "extrapolation", "facteur", "diviseur")


def _quantity(v: Any) -> Any:
    """A rule name, ``{regle: name, …arguments}`` whose arguments depend on
    the rule, or a declarative spec ``{table, agregat, …}``
    (analysis.sroi.quantities.declarative); checked by
    analysis.sroi.quantities.rule_spec."""
    if isinstance(v, str):
        return v
    if not isinstance(v, dict):
        raise PydanticCustomError("methode", "type attendu : nom de règle ou dictionnaire {{regle: …, arguments}} ou {{table: …, agregat: …}}")
    if "regle" in v:
        if not isinstance(v["regle"], str):
            raise PydanticCustomError("methode", "clé « regle » : nom de règle attendu")
        return v
    if not isinstance(v.get("table"), str):
        raise PydanticCustomError("methode", "clé « regle » (nom de la règle de quantité) ou « table » (quantité déclarative) absente")
    unknown = [k for k in v if k not in DECLARATIVE_KEYS]
    if unknown:
        raise PydanticCustomError("methode", "clé(s) inconnue(s) {k} d'une quantité déclarative (clés possibles : {known})",
                                  {"k": ", ".join(f"« {k} »" for k in unknown), "known": ", ".join(DECLARATIVE_KEYS)})
    if v.get("agregat", "somme") not in ("somme", "compte"):
        raise PydanticCustomError("methode", "agregat « {a} » inconnu : choisir parmi « somme », « compte »", {"a": v.get("agregat")})
    if v.get("agregat", "somme") == "somme" and not isinstance(v.get("colonne"), str):
        raise PydanticCustomError("methode", "une quantité « agregat: somme » demande « colonne »")
    return v


class QuantityConstant(Strict):
    """A named constant of declarative quantities (``parametres_quantites``)."""

    libelle: str
    valeur: float
    unite: str = Field(min_length=1)
    annee: Optional[int] = None
    source: str = Field(min_length=1)
    url: str = ""
    a_verifier: bool = Field(False, description="Listed in assumptions.yml as to be checked; default false.")


Quantity = Annotated[Any, AfterValidator(_quantity)]


class Outcome(Strict):
    id: str = Field(min_length=1)
    actif: bool = Field(True, description="false disables the outcome; default true as in sroi.valuation.")
    partie_prenante: str
    resultat: str
    indicateur: str
    quantite: Quantity
    unite_quantite: str = Field("", description="Default '' as in sroi.valuation before the schema.")
    duree: PositiveInt
    proxy: str
    poids_mort: str
    attribution: str
    deplacement: str
    erosion: str


class SroiFile(Versioned):
    """``sroi.yml``: the SROI value map (SROI guide 2012, stages 3–5)."""

    definitions: dict[str, str] = Field(default_factory=dict, description="French definitions quoted by the reports (Monte Carlo interval, payback…).")

    parametres: SroiParametres
    parties_prenantes: dict[str, str]
    indice: PriceIndex
    enquete: SroiEnquete
    cotisations: Optional[Cotisations] = Field(None, description="Payroll rates; required when an outcome uses a rule reading them (sroi.quantities.RULES_READING_CONTRIBUTIONS).")
    parametres_quantites: dict[str, QuantityConstant] = Field(default_factory=dict, description="Named, sourced constants used by declarative quantities (facteur, diviseur).")
    coefficients: dict[str, Coefficient]
    proxys: dict[str, Proxy]
    resultats: list[Outcome]


def _sroi_checks(data: dict) -> list[tuple[Loc, str]]:
    """Cross-references between blocks (formerly sroi.valuation.validate_value_map)."""
    from analysis.sroi.quantities import RULES, rule_spec

    out: list[tuple[Loc, str]] = []
    base = _d(data.get("parametres")).get("annee_base")
    years = set(_d(_d(data.get("indice")).get("valeurs")))
    coefs, proxys, stake = _d(data.get("coefficients")), _d(data.get("proxys")), _d(data.get("parties_prenantes"))
    if isinstance(base, int) and base not in years:
        out.append((("indice", "valeurs"), f"pas de valeur pour l'année de base {base}"))
    for name in sorted(set(coefs) & set(proxys), key=str):
        out.append((("proxys", name), f"« {name} » est à la fois un coefficient et un proxy : donnez-leur des noms différents"))
    for name, x in proxys.items():
        x = _d(x)
        if x.get("indexer") is True and isinstance(x.get("annee"), int) and x["annee"] not in years:
            out.append((("proxys", name, "annee"), f"l'indice n'a pas de valeur pour {x['annee']} (bloc indice.valeurs)"))
    enq = _d(data.get("enquete"))
    questions = {enq.get("question_poids_mort"): "poids_mort", enq.get("question_attribution"): "attribution"}
    for name, c in coefs.items():
        q = _d(c).get("enquete")
        if q is None:
            continue
        if q not in questions:
            known = ", ".join(f"« {k} »" for k in questions if isinstance(k, str))
            out.append((("coefficients", name, "enquete"), f"question « {q} » inconnue : choisir parmi {known} (bloc enquete)"))
        elif questions[q] != _d(c).get("type"):
            out.append((("coefficients", name, "enquete"), f"la question « {q} » mesure un coefficient de type « {questions[q]} »"))
    constants = _d(data.get("parametres_quantites"))
    outcomes = data.get("resultats") if isinstance(data.get("resultats"), list) else []
    for i, o in enumerate(outcomes):
        q = _d(_d(o).get("quantite"))
        if "regle" in q:
            continue
        for key in ("facteur", "diviseur"):
            for ref in (q.get(key) if isinstance(q.get(key), list) else [q.get(key)]):
                if isinstance(ref, str) and ref not in constants:
                    out.append((("resultats", i, "quantite", key), f"constante « {ref} » absente du bloc parametres_quantites"))
    from analysis.sroi.quantities import RULES_READING_CONTRIBUTIONS
    if "cotisations" not in data:
        for i, o in enumerate(outcomes):
            q = _d(o).get("quantite")
            rule = q if isinstance(q, str) else _d(q).get("regle")
            if rule in RULES_READING_CONTRIBUTIONS and _d(o).get("actif", True) is not False:
                out.append((("resultats", i, "quantite"), f"la règle « {rule} » lit le bloc cotisations, absent du fichier"))
    if not any(_d(o).get("actif", True) is not False for o in outcomes):
        out.append((("resultats",), "aucun résultat actif (au moins un résultat sans « actif: false » est nécessaire)"))
    ids: set = set()
    for i, o in enumerate(outcomes):
        o = _d(o)
        if "id" in o and o["id"] in ids:
            out.append((("resultats", i, "id"), "identifiant en double"))
        ids.add(o.get("id"))
        if "partie_prenante" in o and o["partie_prenante"] not in stake:
            out.append((("resultats", i, "partie_prenante"), f"partie prenante « {o['partie_prenante']} » absente du bloc parties_prenantes"))
        if "proxy" in o and o["proxy"] not in proxys:
            out.append((("resultats", i, "proxy"), f"proxy « {o['proxy']} » inconnu"))
        for kind in COEFFICIENT_KINDS:
            if kind not in o:
                continue
            ref = o[kind]
            if ref not in coefs:
                out.append((("resultats", i, kind), f"{kind} « {ref} » absent du bloc coefficients"))
            elif _d(coefs[ref]).get("type") != kind:
                out.append((("resultats", i, kind), f"« {ref} » est de type « {_d(coefs[ref]).get('type')} », pas « {kind} »"))
        if isinstance(o.get("quantite"), str) or isinstance(_d(o.get("quantite")).get("regle"), str):  # declarative specs: checked by _quantity
            try:
                rule, _ = rule_spec(o["quantite"])
                if rule not in RULES:
                    out.append((("resultats", i, "quantite"), f"règle de quantité « {rule} » inconnue (disponibles : {', '.join(sorted(RULES))})"))
            except ValueError as exc:
                out.append((("resultats", i, "quantite"), str(exc)))
    return out


# ==========================================================================
# qvt.yml
# ==========================================================================
class Echelle(Strict):
    min: int
    max: int
    seuil_accord: float


class Dimension(Strict):
    label: str
    items: list[str] = Field(min_length=1)


class Who5Seuil(Strict):
    code: str
    valeur: float
    label: str


class Who5(Strict):
    label: str
    items: list[str] = Field(min_length=1)
    min: int
    max: int
    multiplicateur: float
    part_min_items: Share = Field(1.0, description="Default 1.0 (WHO scoring: all five items) as in qvt.scores before the schema.")
    seuils: list[Who5Seuil] = Field(default_factory=list)
    classes_histogramme: list[float] = Field(min_length=2)


class QvtReference(Strict):
    valeur: float
    source: str = Field(min_length=1)
    annee: Optional[int] = None
    population: Optional[str] = None
    url: Optional[str] = None


class Fiabilite(Strict):
    n_min: PositiveInt
    omega_items_min: PositiveInt = Field(3, description="Default 3 (a two-item one-factor model is not identified) as in qvt.compute before the schema.")


class Facteur(Strict):
    label: str
    codes: Optional[str] = None
    reference: Optional[str] = None


class Comparaisons(Strict):
    n_min_groupe: PositiveInt
    correction: Literal["holm", "fdr_bh"] = Field("holm", description="Default 'holm' as in qvt.compute before the schema.")
    facteurs: dict[str, Facteur]
    exclus: list[str] = Field(default_factory=list, description="Default none as in qvt.compute before the schema.")


class Bande(Strict):
    code: str
    label: str
    min: float
    max: Optional[float]


class CodeLabel(Strict):
    code: str
    label: str


class Anciennete(Strict):
    bandes: list[Bande] = Field(min_length=1)
    non_relie: CodeLabel


class Ordinal(Strict):
    distr: Literal["logit", "probit"] = Field("logit", description="Default 'logit' as in qvt.compute before the schema.")
    method: Literal["newton", "bfgs"] = Field(
        "newton", description="'newton': analysis.stats.ordinal (analytic derivatives, sparse CAE block; default); "
                              "'bfgs': statsmodels OrderedModel, kept for comparison.")
    maxiter: PositiveInt = Field(2000, description="Default 2000 as in qvt.compute before the schema.")


class Modeles(Strict):
    ordinal: Ordinal = Field(default_factory=Ordinal)


class QvtFile(Versioned):
    """``qvt.yml``: QVT scales, WHO-5 and the statistical choices (PROTOCOL §3)."""

    echelle: Echelle
    part_min_items: Share
    dimensions: dict[str, Dimension]
    who5: Who5
    references: dict[str, QvtReference] = Field(default_factory=dict, description="None by default: a reference that cannot be cited is left out.")
    fiabilite: Fiabilite
    comparaisons: Comparaisons
    anciennete: Anciennete
    modeles: Modeles = Field(default_factory=Modeles, description="Defaults of qvt.compute before the schema.")


# ==========================================================================
# assumptions.yml
# ==========================================================================
class Echelles(Strict):
    qualite: dict[str, str]
    impact: dict[str, str]


class Entree(Strict):
    id: str = Field(min_length=1)
    etape: str
    nature: Literal["hypothese", "reserve"]
    texte: str
    qualite: str
    impact: str
    source: str
    a_verifier: bool = False


class AssumptionsFile(Versioned):
    """``assumptions.yml``: the assumptions and caveats log (govcookiecutter)."""

    echelles: Echelles
    entrees: list[Entree]


def _assumptions_checks(data: dict) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    ids: set = set()
    scales = _d(data.get("echelles"))
    for i, e in enumerate(data.get("entrees") or []):
        e = _d(e)
        if "id" in e and e["id"] in ids:
            out.append((("entrees", i, "id"), f"identifiant « {e['id']} » en double"))
        ids.add(e.get("id"))
        for scale in ("qualite", "impact"):
            allowed = _d(scales.get(scale))
            if scale in e and allowed and e[scale] not in allowed:
                out.append((("entrees", i, scale), f"« {e[scale]} » absent de echelles.{scale} ({', '.join(map(str, allowed))})"))
    return out


# ==========================================================================
# codebook.yml
# ==========================================================================
class Column(Strict):
    type: Literal["text", "date", "integer", "number", "code", "scale"]
    label: Optional[str] = None
    description: Optional[str] = None
    codes: Optional[str] = None
    aliases: Optional[list[str]] = None
    required: bool = False
    unique: bool = False
    personal: bool = False
    drop: bool = False
    reverse: bool = False
    references: Optional[str] = None
    liste: Optional[str] = None  # (text) reduced at intake to the labels of codes.<liste>
    min: Optional[float] = None
    max: Optional[float] = None
    warn_min: Optional[float] = None
    warn_max: Optional[float] = None

    @model_validator(mode="after")
    def _codes_for_coded(self):
        if self.type in ("code", "scale") and not self.codes:
            raise PydanticCustomError("methode", "une colonne de type « {t} » demande « codes »", {"t": self.type})
        return self


class Table(Strict):
    label: Optional[str] = None
    description: Optional[str] = None
    required: bool
    unique_together: Optional[list[str]] = None
    columns: dict[str, Column] = Field(min_length=1)


class Age(Strict):
    bands: list[int] = Field(min_length=1)
    plausible_min: int
    plausible_max: int


class Description(Strict):
    """Rules of the structure's description file (``cae.yml`` in the default
    profile; profile.yml ``description.fichier``): its required and accepted
    keys, the resources it must list, and one ``<key>_codes`` list per coded
    key (for instance ``territoire_codes``)."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)

    required: list[str]
    optional: list[str] = Field(default_factory=list, description="Keys accepted without a warning beyond `required`; default none.")
    ressources_required: list[str]

    @model_validator(mode="after")
    def _code_lists(self):
        for key, value in (self.model_extra or {}).items():
            if not key.endswith("_codes"):
                raise PydanticCustomError("methode", "clé « {k} » inconnue : une liste de codes se nomme « <clé>_codes »", {"k": key})
            if not (isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
                raise PydanticCustomError("methode", "« {k} » : dictionnaire code: libellé attendu", {"k": key})
        return self


class Limites(Strict):
    """Intake limits (issue #19): beyond them a file is refused before parsing;
    and the bounds of plausible dates (beyond them, a warning)."""

    taille_max_mo: float = Field(gt=0)
    lignes_max: int = Field(gt=0)
    xlsx_decompresse_max_mo: float = Field(gt=0)
    xlsx_taux_max: float = Field(gt=0)
    yaml_taille_max_ko: float = Field(gt=0)
    yaml_alias_max: int = Field(ge=0)
    csv_bloc_lignes: int = Field(gt=0)
    dates_annee_min: int = Field(ge=1000)
    dates_ans_apres_periode: int = Field(ge=0)
    ressources_positives: list[str]


class CodebookFile(Versioned):
    """``codebook.yml``: the input formats (PROTOCOL §2)."""

    tables: dict[str, Table]
    codes: dict[str, dict[Union[int, str], str]]
    age: Age
    description: Description
    limites: Limites


def _codebook_checks(data: dict) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    lists = _d(data.get("codes"))
    for t, table in _d(data.get("tables")).items():
        for c, col in _d(_d(table).get("columns")).items():
            codes = _d(col).get("codes")
            if isinstance(codes, str) and codes not in lists:
                out.append((("tables", t, "columns", c, "codes"), f"liste de codes « {codes} » absente du bloc codes"))
    return out


# ==========================================================================
# endi.yml
# ==========================================================================
class Export(Strict):
    label: str
    signature: list[str] = Field(min_length=1)


class Regle(Strict):
    code: str
    mots: list[str] = Field(min_length=1)
    sauf: list[str] = Field(default_factory=list)


class Liste(Strict):
    colonne: str
    protocole: str
    codes: Optional[str]
    ignorer_autorise: bool
    multivaleur: bool = False
    libelle: str
    defaut: Optional[Literal["libelle"]] = None
    regles: list[Regle]


class Remuneration(Strict):
    hors_contrat_mensuel: Amount = Field(0, description="Default 0 as in intake.endi before the schema.")


class EndiFile(Versioned):
    """``endi.yml``: how enDI exports map to the protocol's tables (docs/guide_endi.md)."""

    fichier_correspondances: str
    fichier_complement_remuneration: str
    a_completer: str
    ignorer: str
    colonnes: dict[str, list[str]]
    colonne_ca_mois: str
    mois: dict[str, Annotated[int, Field(ge=1, le=12)]]
    exports: dict[str, Export]
    nature: dict[str, str]
    sexe: dict[str, str]
    remuneration: Remuneration = Field(default_factory=Remuneration)
    separateur_multivaleur: str = Field(" ; ", description="Default ' ; ' as in intake.endi before the schema.")
    priorite_situation_entree: list[str] = Field(default_factory=list, description="Default none as in intake.endi before the schema.")
    listes: dict[str, Liste]


# ==========================================================================
# profile.yml (study profile: docs/profiles.md) and demo.yml
# ==========================================================================
Words = dict[str, Any]  # nested French words and sentences, read by analysis.method.profile


class Livre(Strict):
    titre: str
    sous_titre: str
    auteur: str
    partie_structures: str = Field(description="Title of the book part holding one chapter per structure.")


class Fichiers(Strict):
    """Paths of the profile's method files, relative to profile.yml (one folder)."""

    protocole: Optional[str] = None
    guide: Optional[str] = None
    codebook: Optional[str] = None
    indicateurs: Optional[str] = None
    sroi: Optional[str] = None
    qvt: Optional[str] = None
    publication: Optional[str] = None
    hypotheses: Optional[str] = None
    demo: Optional[str] = None
    adaptateurs: list[str] = Field(default_factory=list, description="Importers of third-party exports (e.g. endi); default none.")


class DescriptionFile(Strict):
    fichier: str = Field(min_length=1, description="Name of the structure's description file (cae.yml, lieu.yml).")
    section_codebook: str = Field("description", description="Codebook section with its rules; default 'description'.")
    fichier_traite: str = Field(min_length=1)
    table_manifeste: Optional[str] = None
    cle_type: Optional[str] = None
    cle_profil: Optional[str] = None
    aide: dict[str, list[Optional[str]]] = Field(default_factory=dict, description="Template help: key -> [French help, example].")
    annees: list[str] = Field(default_factory=list)
    nombres_positifs: list[str] = Field(default_factory=list)


class Ressources(Strict):
    libelles: dict[str, str]
    en_heures: list[str] = Field(default_factory=list)
    argent_public: Optional[str] = None


class Tables(Strict):
    personnes: str
    activite: str
    questionnaire: str
    ordre: list[str] = Field(min_length=1)
    grain_activite: Literal["personne_annee", "structure_annee"] = Field("personne_annee", description="Default one row per person and year, as in the CAE study.")
    decompte: dict[str, Annotated[list[str], Field(min_length=2, max_length=2)]] = Field(
        default_factory=dict, description="Per table, the French noun counting its rows: [singular, plural].")


class ProfileFile(Versioned):
    """``profile.yml``: identity and domain words of a study (docs/profiles.md)."""

    id: str = Field(min_length=1)
    nom: str
    nom_methode: Optional[str] = None
    titre_etude: str
    livre: Livre
    fichiers: Fichiers
    description: DescriptionFile
    ressources: Ressources
    tables: Tables
    regles: Words = Field(default_factory=dict)
    termes: Words
    phrases: Words = Field(default_factory=dict)
    rapport: Words = Field(default_factory=dict)
    glossaire: list[list[str]] = Field(default_factory=list, description="Extra glossary entries [term, French definition].")


class DemoFile(Versioned):
    """``demo.yml``: settings of the profile's demo generator
    (analysis.intake.demo_profile). Beyond the keys below, one section per
    table of the profile (named as the table: its column laws)."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)

    graine: int
    periode: Words
    annees_activite: list[int] = Field(min_length=1)
    premiere_annee_arrivee: int
    croissance_arrivees: float = Field(gt=0)
    duree_presence: Words
    effectif_min: PositiveInt
    horodatage_fixe: str
    avertissement: str
    lieux: list[Words] = Field(min_length=1)
    ressources: Words
    identites: Words

    @model_validator(mode="after")
    def _table_sections(self):
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, dict):
                raise PydanticCustomError("methode", "clé « {k} » : section d'une table (dictionnaire) attendue", {"k": key})
        return self


# ==========================================================================
# Registry, validation and French messages
# ==========================================================================
#: Loader short name -> schema of that file.
SCHEMAS: dict[str, type[Versioned]] = {
    "publication": PublicationFile,
    "indicateurs": IndicatorsFile,
    "sroi": SroiFile,
    "qvt": QvtFile,
    "hypotheses": AssumptionsFile,
    "codebook": CodebookFile,
    "endi": EndiFile,
    "profil": ProfileFile,
    "demo": DemoFile,
}

#: Cross-block checks run once the file matches its schema.
CHECKS = {
    "indicateurs": _indicators_checks,
    "sroi": _sroi_checks,
    "hypotheses": _assumptions_checks,
    "codebook": _codebook_checks,
}

_TYPES_FR = {
    "float_type": "type attendu : nombre",
    "int_type": "type attendu : nombre entier",
    "int_from_float": "type attendu : nombre entier",
    "string_type": "type attendu : texte",
    "bool_type": "type attendu : true ou false",
    "list_type": "type attendu : liste",
    "dict_type": "type attendu : dictionnaire (clé: valeur)",
    "model_type": "type attendu : dictionnaire (clé: valeur)",
    "model_attributes_type": "type attendu : dictionnaire (clé: valeur)",
    "none_required": "aucune valeur attendue",
}


def _unwrap(tp):
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _members(tp) -> list:
    tp = _unwrap(tp)
    if typing.get_origin(tp) in (Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _members(a)]
    return [tp]


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class validating the mapping at ``loc`` (None if unknown).
    Union tags in pydantic locations (a kind, a type name) are skipped."""
    candidates: list = [root]
    for part in loc:
        nxt: list = []
        for tp in candidates:
            for m in _members(tp):
                origin = typing.get_origin(m)
                if isinstance(m, type) and issubclass(m, BaseModel):
                    field = next((f for n, f in m.model_fields.items() if part in (n, f.alias)), None)
                    if field is not None:
                        nxt.append(field.annotation)
                elif origin in (list, tuple) and isinstance(part, int):
                    nxt.append(typing.get_args(m)[0])
                elif origin is dict:
                    nxt.append(typing.get_args(m)[1])
        if nxt:
            candidates = nxt
        else:  # a union tag: stay on the same candidates, narrowed to the tagged member
            narrowed = [m for tp in candidates for m in _members(tp) if isinstance(m, type) and issubclass(m, BaseModel)
                        and (m.__name__ == part or part in typing.get_args(_unwrap(m.model_fields["kind"].annotation) if "kind" in m.model_fields else ()))]
            candidates = narrowed or candidates
    models = [m for tp in candidates for m in _members(tp) if isinstance(m, type) and issubclass(m, BaseModel)]
    return models[0] if models else None


def _data_loc(data: Any, loc: Loc) -> Loc:
    """The part of a pydantic location that names keys of the data: the
    discriminator tag of an indicator (its ``kind``) and ``[key]`` are
    dropped; a missing or unknown key ends the path."""
    out: list = []
    cur = data
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(cur, list) and isinstance(part, int):
            out.append(part)
            cur = cur[part] if 0 <= part < len(cur) else None
        elif isinstance(cur, dict):
            key = next((k for k in cur if k == part or str(k) == str(part)), _ABSENT)
            if key is not _ABSENT:
                out.append(key)
                cur = cur[key]
            elif part == cur.get("kind"):
                continue
            else:
                out.append(part)
                break
        else:
            break
    return tuple(out)


_ABSENT = object()


def _message(err: dict, schema: type[BaseModel]) -> str:
    t = err["type"]
    if t == "missing":
        return "clé obligatoire absente"
    if t == "extra_forbidden":
        key = str(err["loc"][-1])
        model = _model_at(schema, tuple(err["loc"][:-1]))
        known = [f.alias or n for n, f in model.model_fields.items()] if model else []
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" — vouliez-vous dire « {close[0]} » ?" if close else (f" (clés possibles : {', '.join(known)})" if known else "")
        return f"clé inconnue{hint}"
    if t in _TYPES_FR:
        return f"{_TYPES_FR[t]}, reçu {err.get('input')!r}"
    if t == "literal_error":
        choices = err["ctx"]["expected"].replace("' or '", "', '").strip("'").split("', '")
        return f"valeur {err.get('input')!r} non prévue : choisir parmi " + ", ".join(f"« {c} »" for c in choices)
    if t == "union_tag_invalid":
        choices = err["ctx"]["expected_tags"].replace("'", "").split(", ")
        return f"valeur {err['ctx']['tag']!r} non prévue : choisir parmi " + ", ".join(f"« {c} »" for c in choices)
    if t == "union_tag_not_found":
        return f"clé obligatoire absente : « {err['ctx']['discriminator'].strip(chr(39))} »"
    bounds = {"greater_than_equal": "≥ {ge}", "greater_than": "> {gt}", "less_than_equal": "≤ {le}", "less_than": "< {lt}"}
    if t in bounds:
        return f"valeur {err.get('input')!r} : une valeur {bounds[t].format(**err['ctx'])} est attendue"
    if t == "too_short":
        return f"au moins {err['ctx']['min_length']} élément(s) attendu(s)"
    if t == "too_long":
        return f"au plus {err['ctx']['max_length']} élément(s) attendu(s)"
    if t == "string_too_short":
        return "texte non vide attendu"
    return err["msg"]  # our own PydanticCustomError("methode", …) messages are French already


def _dotted(loc: Loc, data: Any) -> str:
    """``coefficients.poids_mort_activite.valeur``; list items 1-based with their id:
    ``resultats[3 : rsa_evite].proxy``."""
    out = ""
    cur = data
    for part in loc:
        if isinstance(part, int) and isinstance(cur, list):
            item = cur[part] if 0 <= part < len(cur) else None
            ident = item.get("id") if isinstance(item, dict) else None
            out += f"[{part + 1}" + (f" : {ident}" if ident is not None else "") + "]"
            cur = item
        else:
            out += ("." if out else "") + str(part)
            cur = cur.get(part) if isinstance(cur, dict) else None
    return out or "(racine)"


def problems(name: str, data: Any) -> list[tuple[str, str]]:
    """Every problem of ``data`` (parsed methodology file ``name``) as
    (dotted key, French message), schema and cross-block checks together;
    empty when valid."""
    schema = SCHEMAS[name]
    if not isinstance(data, dict):
        return [("(racine)", "le fichier doit contenir un dictionnaire YAML (clé: valeur)")]
    found: list[tuple[Loc, str]] = []
    try:
        schema.model_validate(data)
        valid = True
    except ValidationError as exc:
        valid = False
        found += [(_data_loc(data, tuple(err["loc"])), _message(err, schema)) for err in exc.errors(include_url=False)]
    check = CHECKS.get(name)
    if check is not None:
        try:
            found += check(data)
        except Exception:
            if valid:  # on a file matching its schema a failing check is a bug, not a method problem
                raise
    seen, out = set(), []
    for loc, msg in found:
        item = (_dotted(loc, data), msg)
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def format_problems(filename: str, probs: list[tuple[str, str]], where: str = "") -> str:
    """The French message of :class:`MethodError`: a header and one line per problem."""
    head = f"La méthodologie ({filename}{', ' + where if where else ''}) comporte {len(probs)} problème(s) :"
    return head + "".join(f"\n- {filename}, clé « {key} » : {msg}" + ("" if msg.endswith(("?", ".")) else ".") for key, msg in probs)


def validate(name: str, data: Any, filename: str | None = None, where: str = "") -> Versioned:
    """The validated model of ``data``; raise :class:`MethodError` listing every problem."""
    filename = filename or name
    probs = problems(name, data)
    if probs:
        raise MethodError(format_problems(filename, probs, where), [(filename, k, m) for k, m in probs])
    return SCHEMAS[name].model_validate(data)


def fill_defaults(data: Any, model: Any) -> Any:
    """``data`` (the parsed YAML, types untouched) with every schema default
    of a key it lacks filled in; optional keys without a default stay absent."""
    if isinstance(model, BaseModel) and isinstance(data, dict):
        for n, f in type(model).model_fields.items():
            key = f.alias or n
            if key in data:
                data[key] = fill_defaults(data[key], getattr(model, n))
            elif n not in model.model_fields_set and getattr(model, n) is not None:
                data[key] = _plain(getattr(model, n))
        return data
    if isinstance(model, list) and isinstance(data, list):
        return [fill_defaults(d, m) for d, m in zip(data, model)]
    if isinstance(model, dict) and isinstance(data, dict):
        for (k, d), m in zip(list(data.items()), model.values()):
            data[k] = fill_defaults(d, m)
        return data
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, exclude_none=True)
    return value
