"""Named quantity rules of the SROI value map.

Each outcome of ``sroi.yml`` names the rule that computes its
quantity from one structure's processed tables, either as a string (``quantite:
remuneration_nette``) or as a mapping with the rule's arguments
(``quantite: {regle: sorties_selon_motif, motifs: [emploi_salarie]}``), or
describes it declaratively (a mapping with ``table`` and no ``regle``:
:func:`declarative`, rule name ``declarative``).
Codes such as ``rsa`` or ``emploi_salarie`` therefore live in the YAML, not
here, so the rules serve any work collective.

Notes never carry a count of people (only rates, euros and the
respondents' base, itself at least ``min_repondants``), so that they can be
published as they are (PROTOCOL §4).

A rule takes ``(data: CaeData, vm: dict, **arguments)`` (``vm`` is the whole
value map, for the ``cotisations`` and ``enquete`` blocks) and returns a
:class:`Quantity`: a float that carries a French note saying how it was
obtained (shown in the value map).

The period: activity rows count when ``annee`` falls within the structure's
``periode`` (its description file); exits count when ``date_sortie`` falls within it.
Without a period, every row counts.

Survey-based quantities scale the respondents' share to the number of
people of the people table (the survey is treated as representative: stated in
the note and in ``assumptions.yml``), and return 0 with a note when the structure
has no survey or fewer valid answers than ``enquete.min_repondants``.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from analysis.sroi import contributions
from analysis.intake.codebook import label_of
from analysis.publication.formatting import fr_euro, fr_number, fr_percent
from analysis.intake.processed import CaeData


class Quantity(float):
    """A float with a French note explaining how it was computed.

    ``sample`` is (k, n, N) for a quantity scaled from a survey (N × k/n):
    the Monte Carlo then draws the share k/n instead of taking it as known
    (:func:`analysis.sroi.valuation.draw_survey_share`); None otherwise.
    ``counts`` are the person counts it is computed from (each one a
    published count in disguise, judged by the publication gate)."""

    note: str
    sample: tuple[float, int, float] | None
    counts: tuple

    def __new__(cls, value: float, note: str = "", sample: tuple[float, int, float] | None = None, counts: tuple = ()):
        obj = super().__new__(cls, float(value))
        obj.note = note
        obj.sample = sample
        obj.counts = tuple(counts)
        return obj


#: Rule registry: name → function(data, vm, **arguments) -> Quantity.
RULES: dict[str, Callable[..., Quantity]] = {}
#: Quantity rules that read the ``cotisations`` block of sroi.yml (required only when used).
RULES_READING_CONTRIBUTIONS = ("remuneration_nette", "cotisations_sociales")


def rule(name: str):
    """Register a quantity rule under ``name``."""

    def deco(fn):
        RULES[name] = fn
        return fn

    return deco


# --------------------------------------------------------------------------
# period helpers
# --------------------------------------------------------------------------
def period_bounds(data: CaeData) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """(start, end) of ``info["periode"]`` as Timestamps, or (None, None)."""
    per = (data.info or {}).get("periode") or {}
    start = pd.Timestamp(per["debut"]) if per.get("debut") else None
    end = pd.Timestamp(per["fin"]) if per.get("fin") else None
    return start, end


def period_activity(data: CaeData) -> pd.DataFrame:
    """Activity rows whose ``annee`` lies in the period's calendar years."""
    act = data.activite
    start, end = period_bounds(data)
    years = pd.to_numeric(act["annee"], errors="coerce")
    keep = pd.Series(True, index=act.index)
    if start is not None:
        keep &= years >= start.year
    if end is not None:
        keep &= years <= end.year
    return act.loc[keep.fillna(False).astype(bool)]


def _labels(codes_name: str, values) -> str:
    """French labels of codes, for notes (the code itself when unknown)."""
    out = []
    for v in values:
        try:
            out.append(label_of(codes_name, v))
        except Exception:  # codebook list missing: show the code
            out.append(str(v))
    return ", ".join(f"« {x} »" for x in out)


def _years_text(act: pd.DataFrame) -> str:
    ys = sorted(int(y) for y in pd.to_numeric(act["annee"], errors="coerce").dropna().unique())
    if not ys:
        return "aucune année"
    return str(ys[0]) if len(ys) == 1 else f"{ys[0]}–{ys[-1]}"


# --------------------------------------------------------------------------
# rules over the administrative tables
# --------------------------------------------------------------------------
@rule("constante")
def constante(data: CaeData, vm: dict, valeur: float, note: str = "") -> Quantity:
    """A quantity typed in the methodology file (e.g. from another study)."""
    return Quantity(float(valeur), note or "Valeur saisie dans la méthodologie")


@rule("remuneration_nette")
def remuneration_nette(data: CaeData, vm: dict) -> Quantity:
    """Net pay paid over the period: Σ gross × (1 − taux_salarial).

    Gross pay is ``activite.remuneration_brute``; the employee rate is
    ``cotisations.taux_salarial`` (see :mod:`analysis.sroi.contributions`).
    """
    act = period_activity(data)
    tab = contributions.contributions_table(act, vm["cotisations"])
    total = float(tab["remuneration_nette"].sum())
    return Quantity(
        total,
        f"Rémunération brute versée ({_years_text(act)}) × (1 − {fr_percent(vm['cotisations']['taux_salarial'], 0)})",
    )


@rule("cotisations_sociales")
def cotisations_sociales(data: CaeData, vm: dict) -> Quantity:
    """Employee + employer contributions after the general reduction, summed
    over each person-year of the period (:func:`analysis.sroi.contributions.contributions_table`)."""
    act = period_activity(data)
    tab = contributions.contributions_table(act, vm["cotisations"])
    emp = float(tab["cotisations_salariales"].sum())
    er = float(tab["cotisations_patronales"].sum())
    return Quantity(
        emp + er,
        f"Cotisations salariales {fr_euro(emp)} + patronales après réduction générale {fr_euro(er)} "
        f"sur la rémunération brute réelle ({_years_text(act)})",
    )


@rule("effectif_remunere_selon_entree")
def effectif_remunere_selon_entree(data: CaeData, vm: dict, situations: list[str]) -> Quantity:
    """People whose ``situation_entree`` is in ``situations`` and who drew
    gross pay > 0 in the period (summed over the period's years)."""
    ent = data.personnes
    who = set(ent.loc[ent["situation_entree"].isin(list(situations)).fillna(False).astype(bool), "id"].astype(str))
    act = period_activity(data)
    pay = pd.to_numeric(act["remuneration_brute"], errors="coerce").fillna(0.0).groupby(act["id"].astype(str)).sum()
    paid = set(pay.index[pay > 0])
    n = len(who & paid)
    return Quantity(
        n, counts=(n,), note=f"Personnes entrées en situation {_labels('situation_entree', situations)} "
        f"et rémunérées sur la période ({_years_text(act)})",
    )


@rule("sorties_selon_motif")
def sorties_selon_motif(data: CaeData, vm: dict, motifs: list[str]) -> Quantity:
    """Exits during the period whose ``motif_sortie`` is in ``motifs``."""
    ent = data.personnes
    start, end = period_bounds(data)
    d = pd.to_datetime(ent["date_sortie"])
    keep = d.notna() & ent["motif_sortie"].isin(list(motifs)).fillna(False).astype(bool)
    if start is not None:
        keep &= d >= start
    if end is not None:
        keep &= d <= end
    n = int(keep.fillna(False).sum())
    return Quantity(n, f"Sorties pendant la période pour motif {_labels('motif_sortie', motifs)}", counts=(n,))


# --------------------------------------------------------------------------
# survey rules
# --------------------------------------------------------------------------
@rule("part_enquete_effectif")
def part_enquete_effectif(
    data: CaeData, vm: dict, question: str, reponse: str = "oui", exclure: list[str] | None = None
) -> Quantity:
    """Share of valid respondents answering ``reponse`` to ``question``,
    applied to the number of people in the people table.

    ``Q = N_people × k / n`` with n the answers that are neither
    missing nor in ``exclure``. Zero (with a note) without a survey or with
    fewer than ``enquete.min_repondants`` valid answers. Carries
    ``sample = (k, n, N)`` so that the Monte Carlo draws the share.
    """
    min_n = int(vm["enquete"]["min_repondants"])
    if not data.has_survey or question not in data.questionnaire:
        return Quantity(0.0, "Pas de questionnaire : résultat non valorisé (quantité nulle)")
    ans = data.questionnaire[question].astype("string")
    valid = ans.dropna()
    valid = valid[~valid.isin(list(exclure or []))]
    n = int(len(valid))
    if n < min_n:
        return Quantity(0.0, f"Moins de {min_n} réponses valides à « {question} » : résultat non valorisé (quantité nulle)")
    k = float((valid == reponse).sum())
    share = k / n
    N = int(len(data.personnes))
    return Quantity(
        share * N,
        f"{fr_percent(share)} des {fr_number(n)} répondants (« {reponse} » à « {question} ») "
        f"appliqués aux {fr_number(N)} {_people_word()} (questionnaire supposé représentatif ; "
        f"erreur d'échantillonnage de la part reprise dans le Monte Carlo)",
        sample=(k, n, float(N)), counts=(int(k), n - int(k)),
    )


def _people_word() -> str:
    from analysis.method import profile as profiles

    prof = profiles.current()
    return prof.get("termes.personne.effectif") or prof.term("personne.population")


# --------------------------------------------------------------------------
# declarative quantities
# --------------------------------------------------------------------------
def constant_value(vm: dict, ref) -> tuple[float, str]:
    """A factor: a number or a name of ``parametres_quantites`` (its ``valeur``)."""
    if isinstance(ref, (int, float)) and not isinstance(ref, bool):
        return float(ref), fr_number(ref, 0 if float(ref).is_integer() else 3)
    params = vm.get("parametres_quantites") or {}
    if ref not in params:
        raise KeyError(f"Facteur « {ref} » absent du bloc parametres_quantites de sroi.yml.")
    p = params[ref]
    v = float(p["valeur"])
    return v, f"{p.get('libelle', ref).lower()} ({fr_number(v, 0 if v.is_integer() else 3)} {p.get('unite', '')})".replace(" )", ")")


def _as_list(x) -> list:
    return [] if x is None else list(x) if isinstance(x, (list, tuple)) else [x]


def filter_words(cond: dict | None) -> str:
    """A condition of the indicators grammar in French words (codes as labels)."""
    from analysis.intake import codebook as cbk

    if not cond:
        return ""
    if "all" in cond:
        return " et ".join(filter_words(c) for c in cond["all"])
    if "any" in cond:
        return " ou ".join(filter_words(c) for c in cond["any"])
    if "not" in cond:
        return "non (" + filter_words(cond["not"]) + ")"
    col = cond["column"]
    cb = cbk.load_codebook()
    spec = next((t["columns"][col] for t in cb["tables"].values() if col in t["columns"]), {})
    label = spec.get("label", col)
    op = next(k for k in cond if k != "column")
    v = cond[op]
    if op in ("in", "not_in") and spec.get("codes"):
        vals = _labels(spec["codes"], v)
        return f"« {label} » {'parmi' if op == 'in' else 'hors de'} {vals}"
    words = {"eq": "=", "ne": "≠", "gt": ">", "ge": "≥", "lt": "<", "le": "≤", "in": "parmi", "not_in": "hors de",
             "notna": "renseigné", "isna": "non renseigné"}
    return f"« {label} » {words.get(op, op)} {'' if op in ('notna', 'isna') else v}".strip()


@rule("declarative")
def declarative(data: CaeData, vm: dict, table: str, agregat: str = "somme", colonne: str | None = None,
                filtre: dict | None = None, periode: str | None = None, extrapolation: str | None = None,
                facteur=None, diviseur=None) -> Quantity:
    """A quantity described in ``sroi.yml`` (no code per outcome). In order:

    1. rows = the table named ``table`` (the people table, ``activite``,
       ``questionnaire``); a survey table of a structure without survey
       gives 0 with a note;
    2. ``periode: annees`` keeps activity rows of the period's years
       (:func:`period_activity`);
    3. ``agregat: compte`` → x_i = 1; ``somme`` → x_i = numeric ``colonne``;
    4. ``filtre`` (grammar of indicators.yml): failing rows give 0 but stay
       in the base;
    5. S = Σ x_i over rows with a non-missing ``colonne`` (all rows for compte);
    6. ``extrapolation: <people table>`` (survey tables): n = rows with a
       non-missing ``colonne``; n < ``enquete.min_repondants`` → 0 with a
       note; else S ← S × N / n, N = rows of the people table;
    7. Q = S × Π facteur / Π diviseur (numbers or ``parametres_quantites``).

    The note names the table, aggregate, column, filter in words, n and N
    when extrapolated and each factor; never a count under the threshold
    (n ≥ min_repondants by construction).
    """
    from analysis.indicators.compute import _mask
    from analysis.intake import codebook as cbk

    cb = cbk.load_codebook()
    tlabel = cb["tables"].get(table, {}).get("label", table)
    df = data.table(table)
    if table == "questionnaire" and not data.has_survey:
        return Quantity(0.0, "Pas de questionnaire : résultat non valorisé (quantité nulle)")
    if df is None:
        return Quantity(0.0, f"Table « {tlabel} » absente : résultat non valorisé (quantité nulle)")
    if periode == "annees":
        df = period_activity(data)
    df = df.reset_index(drop=True)
    clabel = (cbk.columns(table, cb).get(colonne) or {}).get("label", colonne) if colonne else None
    if agregat == "compte":
        x = pd.Series(1.0, index=df.index)
        base = pd.Series(True, index=df.index)
        what = f"nombre de lignes de « {tlabel} »"
    elif agregat == "somme":
        if colonne not in df.columns:
            return Quantity(0.0, f"Colonne « {clabel} » absente des fichiers : résultat non valorisé (quantité nulle)")
        x = pd.to_numeric(df[colonne], errors="coerce")
        base = x.notna()
        what = f"somme de « {clabel} » (table « {tlabel} »)"
    else:
        raise ValueError(f"agregat « {agregat} » inconnu (compte ou somme).")
    keep = pd.Series(_mask(df, filtre), index=df.index) if filtre else pd.Series(True, index=df.index)
    S = float(x.where(keep & base, 0.0).fillna(0.0).sum())
    parts = [what]
    if filtre:
        parts.append(f"pour {filter_words(filtre)} (0 sinon)")
    if extrapolation:
        min_n = int(vm["enquete"]["min_repondants"])
        n = int(base.sum())
        if n < min_n:
            return Quantity(0.0, f"Moins de {min_n} réponses valides à « {colonne} » : résultat non valorisé (quantité nulle)")
        N = int(len(data.table(extrapolation) if data.table(extrapolation) is not None else data.personnes))
        S = S * N / n
        parts.append(f"sur {fr_number(n)} réponses valides, rapportée aux {fr_number(N)} {_people_word()} "
                     "(questionnaire supposé représentatif)")
    q = S
    for ref in _as_list(facteur):
        v, txt = constant_value(vm, ref)
        q *= v
        parts.append(f"× {txt}")
    for ref in _as_list(diviseur):
        v, txt = constant_value(vm, ref)
        q /= v
        parts.append(f"÷ {txt}")
    return Quantity(q, " ".join(parts))


# --------------------------------------------------------------------------
def rule_spec(spec) -> tuple[str, dict]:
    """Split a YAML ``quantite`` (string or mapping) into (rule name, arguments)."""
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, dict) and "regle" in spec:
        args = {k: v for k, v in spec.items() if k != "regle"}
        return str(spec["regle"]), args
    if isinstance(spec, dict) and "table" in spec:
        return "declarative", dict(spec)
    raise ValueError(f"Quantité mal décrite : {spec!r} (attendu : un nom de règle, {{regle: nom, …}} ou {{table: …, agregat: …}}).")


def compute_quantity(spec, data: CaeData, vm: dict) -> Quantity:
    """Evaluate the ``quantite`` of an outcome for one structure."""
    name, args = rule_spec(spec)
    if name not in RULES:
        raise KeyError(f"Règle de quantité inconnue : « {name} ». Règles disponibles : {', '.join(sorted(RULES))}.")
    q = RULES[name](data, vm, **args)
    return q if isinstance(q, Quantity) else Quantity(float(q))
