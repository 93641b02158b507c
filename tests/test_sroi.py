"""SROI engine: present value, ratio, survey coefficients, sensitivity, Monte Carlo.

Expected numbers are computed by hand in each test (SROI guide 2012
arithmetic), or by an independent root finder on a hand-written function.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import optimize

from analysis.sroi import valuation as sroi
from analysis.intake.processed import CaeData

R = 0.035


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
def hand_vm(
    quantity=10,
    proxy=1000.0,
    dw=0.2,
    att=0.25,
    disp=0.1,
    drop=0.1,
    years=3,
    ranges=None,
    discount_first=True,
    survey=False,
):
    """A one-outcome value map: quantity via the 'constante' rule.

    ``ranges`` maps a parameter name to (min, max); default: a point range.
    """
    base = sroi.load_value_map()
    ranges = ranges or {}

    def coef(kind, v, name):
        lo, hi = ranges.get(name, (v, v))
        c = {"type": kind, "libelle": name, "valeur": v, "min": lo, "max": hi, "plage": "bornes", "source": "test", "url": ""}
        if survey and kind == "poids_mort":
            c["enquete"] = "sans_cae"
        if survey and kind == "attribution":
            c["enquete"] = "part_cae"
        return c

    lo, hi = ranges.get("px", (proxy, proxy))
    vm = copy.deepcopy(base)
    vm["parametres"].update(taux_actualisation=R, actualiser_annee_1=discount_first, taux_horaire_benevolat=10.0)
    vm["coefficients"] = {
        "pm": coef("poids_mort", dw, "pm"),
        "at": coef("attribution", att, "at"),
        "de": coef("deplacement", disp, "de"),
        "er": coef("erosion", drop, "er"),
    }
    vm["proxys"] = {
        "px": {"libelle": "px", "valeur": proxy, "min": lo, "max": hi, "plage": "bornes", "unite": "€", "annee": 2019, "indexer": False, "source": "test", "url": ""}
    }
    vm["resultats"] = [
        {"id": "o1", "partie_prenante": "entrepreneurs", "resultat": "r", "indicateur": "i",
         "quantite": {"regle": "constante", "valeur": quantity}, "unite_quantite": "personnes", "duree": years,
         "proxy": "px", "poids_mort": "pm", "attribution": "at", "deplacement": "de", "erosion": "er"}
    ]
    return vm


def empty_cae(slug="x", subventions=10000.0, hours=0.0, survey=None):
    ent = pd.DataFrame({"id": pd.array(["a"], dtype="string"), "situation_entree": pd.array(["rsa"], dtype="string"),
                        "date_sortie": pd.to_datetime([None]), "motif_sortie": pd.array([None], dtype="string")})
    act = pd.DataFrame({"id": pd.array(["a"], dtype="string"), "annee": pd.array([2019], dtype="Int64"),
                        "chiffre_affaires": [1000.0], "remuneration_brute": [500.0], "heures_remunerees": [np.nan]})
    info = {"slug": slug, "periode": {"debut": "2019-01-01", "fin": "2019-12-31"},
            "ressources": {"subventions_publiques": subventions, "contribution_entrepreneurs": 0,
                           "autres_produits": 0, "benevolat_heures": hours}}
    return CaeData(slug, info, ent, act, survey, {})


# 10 people × 1 000 € × (1 − 0.2)(1 − 0.25)(1 − 0.1) = 5 400 € in year 1,
# then 4 860 and 4 374 (10 % drop-off), discounted at 3.5 % from year 1.
PV_HAND = 5400 / 1.035 + 4860 / 1.035**2 + 4374 / 1.035**3


# --------------------------------------------------------------------------
# arithmetic
# --------------------------------------------------------------------------
def test_guide_drop_off_example():
    assert sroi.impact_path(100.0, 0.10, 3).tolist() == pytest.approx([100.0, 90.0, 81.0])


def test_hand_worked_value_map():
    res = sroi.evaluate(empty_cae(subventions=10000.0), hand_vm(), draws=1000)
    row = res.value_map.iloc[0]
    assert row["impact_annee_1"] == pytest.approx(5400.0)
    assert PV_HAND == pytest.approx(5217.391 + 4536.862 + 3945.098, abs=0.01)  # 13 699,35 €
    assert row["valeur_actuelle"] == pytest.approx(PV_HAND)
    assert res.total_pv == pytest.approx(PV_HAND)
    assert res.ratio == pytest.approx(PV_HAND / 10000.0)
    assert res.net_ratio == pytest.approx((PV_HAND - 10000.0) / 10000.0)


def test_year_one_not_discounted():
    res = sroi.evaluate(empty_cae(), hand_vm(discount_first=False), draws=1000)
    assert res.total_pv == pytest.approx(5400 + 4860 / 1.035 + 4374 / 1.035**2)


def test_volunteer_hours_are_valued_in_inputs():
    # 10 000 € + 150 h × 10 €/h
    res = sroi.evaluate(empty_cae(subventions=10000.0, hours=150), hand_vm(), draws=1000)
    assert res.total_inputs == pytest.approx(11500.0)
    assert res.ratio_public == pytest.approx(PV_HAND / 10000.0)


def test_discounted_payback_in_months():
    # Inputs equal to half the discounted year-1 impact → six months.
    inputs = 5400 / 1.035 / 2
    res = sroi.evaluate(empty_cae(subventions=inputs), hand_vm(), draws=1000)
    assert res.payback_months_discounted == pytest.approx(6.0)
    # Inputs = year 1 + half of year 2 (discounted) → 18 months.
    inputs = 5400 / 1.035 + 0.5 * 4860 / 1.035**2
    res = sroi.evaluate(empty_cae(subventions=inputs), hand_vm(), draws=1000)
    assert res.payback_months_discounted == pytest.approx(18.0)
    # Never covered within the duration.
    res = sroi.evaluate(empty_cae(subventions=10 * PV_HAND), hand_vm(), draws=1000)
    assert math.isnan(res.payback_months_discounted)


def test_guide_payback_in_months():
    # SROI guide 2012: inputs / (year-1 impact / 12), undiscounted. Year-1
    # impact 5 400 €: inputs 2 700 € → 6 months; inputs 8 100 € → 18 months
    # (the guide ignores drop-off and discounting).
    res = sroi.evaluate(empty_cae(subventions=2700.0), hand_vm(), draws=1000)
    assert res.payback_months == pytest.approx(6.0)
    res = sroi.evaluate(empty_cae(subventions=8100.0), hand_vm(), draws=1000)
    assert res.payback_months == pytest.approx(18.0)
    # the discounted one for the same inputs: 8 100 − 5 400/1,035 = 2 882,61 € left,
    # covered by 2 882,61 / (4 860/1,035² = 4 536,86) = 0,63538 of year 2 → 19,6245 months
    assert res.payback_months_discounted == pytest.approx(12 * (1 + (8100 - 5400 / 1.035) / (4860 / 1.035**2)))
    assert res.payback_months_discounted == pytest.approx(19.6245, abs=1e-4)
    assert sroi.payback_guide(0.0, 5400.0) != sroi.payback_guide(0.0, 5400.0)  # NaN without inputs


def test_proxy_indexed_to_base_year():
    vm = sroi.load_value_map()
    idx = vm["indice"]["valeurs"]
    px = sroi.resolve_parameters(empty_cae(), vm, seed=1).loc["are_annuelle"]
    # 930 € × 12 in 2018 euros, indexed by CPI(2019) / CPI(2018)
    assert px["valeur"] == pytest.approx(11160.0 * idx[2019] / idx[2018])
    assert px["valeur_origine"] == 11160.0


# --------------------------------------------------------------------------
# tornado and break-even
# --------------------------------------------------------------------------
def test_tornado_moves_one_parameter():
    vm = hand_vm(ranges={"px": (500.0, 2000.0), "pm": (0.1, 0.4)})
    res = sroi.evaluate(empty_cae(subventions=10000.0), vm, draws=1000)
    t = res.tornado.set_index("cle")
    # PV is proportional to the proxy and to (1 − deadweight).
    assert t.loc["px", "ratio_min"] == pytest.approx(PV_HAND * 0.5 / 10000.0)
    assert t.loc["px", "ratio_max"] == pytest.approx(PV_HAND * 2.0 / 10000.0)
    assert t.loc["pm", "ratio_max"] == pytest.approx(PV_HAND * 0.6 / 0.8 / 10000.0)
    assert t.loc["de", "ecart"] == 0.0  # point range
    assert res.tornado.iloc[0]["cle"] == "px"  # widest bar first


def _hand_ratio(dw=0.2, att=0.25, disp=0.1, drop=0.1, proxy=1000.0, inputs=10000.0):
    y1 = 10 * proxy * (1 - dw) * (1 - att) * (1 - disp)
    return sum(y1 * (1 - drop) ** (t - 1) / 1.035**t for t in (1, 2, 3)) / inputs


def test_break_even_equals_brentq():
    ranges = {"pm": (0.0, 0.5), "er": (0.0, 0.5), "px": (500.0, 1500.0), "at": (0.1, 0.4)}
    res = sroi.evaluate(empty_cae(subventions=10000.0), hand_vm(ranges=ranges), draws=1000)
    be = res.break_even.set_index("cle")
    # deadweight (linear, closed form in the engine)
    root = optimize.brentq(lambda x: _hand_ratio(dw=x) - 1, 0, 1, xtol=1e-14)
    assert be.loc["pm", "seuil"] == pytest.approx(root, abs=1e-9)
    assert be.loc["pm", "statut"] == "atteint"
    # attribution
    root = optimize.brentq(lambda x: _hand_ratio(att=x) - 1, 0, 1, xtol=1e-14)
    assert be.loc["at", "seuil"] == pytest.approx(root, abs=1e-9)
    # proxy (linear, any positive value)
    root = optimize.brentq(lambda x: _hand_ratio(proxy=x) - 1, 1, 10000, xtol=1e-10)
    assert be.loc["px", "seuil"] == pytest.approx(root, rel=1e-9)
    # drop-off (polynomial, brentq in the engine): at 1 only year 1 remains,
    # 5 400 / 1.035 / 10 000 = 0.52 < 1; at 0 the ratio is 1.51 > 1 → a root in [0, 1].
    root = optimize.brentq(lambda x: _hand_ratio(drop=x) - 1, 0, 1, xtol=1e-14)
    assert be.loc["er", "seuil"] == pytest.approx(root, abs=1e-9)


def test_break_even_not_reached():
    # Inputs so large that the ratio stays below 1 even with zero deadweight.
    vm = hand_vm(ranges={"pm": (0.0, 0.5)})
    res = sroi.evaluate(empty_cae(subventions=100 * PV_HAND), vm, draws=1000)
    row = res.break_even.set_index("cle").loc["pm"]
    assert row["statut"].startswith("non atteint") and math.isnan(row["seuil"])


# --------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------
def test_monte_carlo_collapses_to_point_values():
    res = sroi.evaluate(empty_cae(subventions=10000.0), hand_vm(), draws=10000)
    assert res.draws.shape == (10000,)
    assert np.allclose(res.draws, PV_HAND / 10000.0)
    assert res.mc["mediane"] == pytest.approx(res.ratio)
    assert res.mc["p_ratio_sup_1"] == 1.0


def test_pert_draws_have_the_pert_mean():
    # Beta-PERT mean = (a + 4m + b) / 6 (Vose 2008).
    x = sroi.draw_parameter("k", 0.2, 0.1, 0.6, 200_000, "pert", seed=7)
    assert x.mean() == pytest.approx((0.1 + 4 * 0.2 + 0.6) / 6, abs=2e-3)
    assert x.min() >= 0.1 and x.max() <= 0.6
    # triangular mean = (a + m + b) / 3
    x = sroi.draw_parameter("k", 0.2, 0.1, 0.6, 200_000, "triangulaire", seed=7)
    assert x.mean() == pytest.approx((0.1 + 0.2 + 0.6) / 3, abs=2e-3)


def test_monte_carlo_is_seeded():
    vm = hand_vm(ranges={"px": (500.0, 2000.0), "pm": (0.1, 0.4)})
    a = sroi.evaluate(empty_cae(), vm, draws=2000, seed=3).draws
    b = sroi.evaluate(empty_cae(), vm, draws=2000, seed=3).draws
    c = sroi.evaluate(empty_cae(), vm, draws=2000, seed=4).draws
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# --------------------------------------------------------------------------
# survey-based coefficients
# --------------------------------------------------------------------------
SURVEY = pd.DataFrame({
    "sans_cae": pd.array(["meme_activite", "pas_cree", "pas_cree", "plus_tard", "nsp", None, "plus_petite", "meme_activite"], dtype="string"),
    "part_cae": [20.0, 50.0, np.nan, 80.0, 50.0, np.nan, np.nan, np.nan],
})


def test_survey_deadweight_matches_hand_count():
    vm = sroi.load_value_map()
    est = sroi.survey_deadweight(SURVEY, vm, seed=1)
    # valid answers: meme (1), pas_cree (0), pas_cree (0), plus_tard (.5), plus_petite (.5), meme (1); nsp and NA left out.
    assert est.n == 6
    assert est.valeur == pytest.approx(3.0 / 6.0)
    assert 0.0 <= est.min <= 0.5 <= est.max <= 1.0


def test_survey_attribution_matches_hand_count():
    vm = sroi.load_value_map()
    est = sroi.survey_attribution(SURVEY, vm, seed=1)
    # part_cae 20, 50, 80, 50 → mean 50 → attribution 0.5
    assert est.n == 4 and est.valeur == pytest.approx(0.5)


def test_bootstrap_interval_of_a_constant_is_a_point():
    assert sroi.bootstrap_mean_interval([0.3] * 12, 500, 0.95, seed=1) == pytest.approx((0.3, 0.3))


def test_survey_used_only_with_enough_respondents():
    d = empty_cae(survey=SURVEY)
    vm = hand_vm(survey=True)
    vm["enquete"]["min_repondants"] = 10
    row = sroi.evaluate(d, vm, draws=1000).value_map.iloc[0]
    assert row["poids_mort"] == 0.2 and row["poids_mort_source"] == sroi.SOURCE_DEFAULT
    vm["enquete"]["min_repondants"] = 4
    res = sroi.evaluate(d, vm, draws=1000)
    row = res.value_map.iloc[0]
    assert row["poids_mort"] == pytest.approx(0.5) and row["poids_mort_source"] == sroi.SOURCE_SURVEY
    assert row["attribution"] == pytest.approx(0.5) and row["attribution_source"] == sroi.SOURCE_SURVEY
    # year-1 impact with survey coefficients: 10 × 1 000 × 0.5 × 0.5 × 0.9
    assert row["impact_annee_1"] == pytest.approx(2250.0)


# --------------------------------------------------------------------------
# national
# --------------------------------------------------------------------------
def test_national_sums_pv_and_inputs_and_shares_draws():
    vm = hand_vm(ranges={"px": (500.0, 2000.0), "pm": (0.1, 0.4)})
    a = empty_cae("a", subventions=10000.0)
    b = empty_cae("b", subventions=30000.0)
    ra = sroi.evaluate(a, vm, draws=3000)
    nat = sroi.evaluate_national([a, b], vm, draws=3000)
    assert nat.total_pv == pytest.approx(2 * PV_HAND)
    assert nat.total_inputs == pytest.approx(40000.0)
    assert nat.ratio == pytest.approx(2 * PV_HAND / 40000.0)
    # shared parameters: the same draw for both CAEs, so national = 2 × PV_a draws / 40 000
    assert np.allclose(nat.draws, ra.draws * 10000.0 * 2 / 40000.0)
    assert set(nat.by_cae["cae"]) == {"a", "b"}


def test_national_tornado_moves_a_shared_parameter_in_every_cae():
    """Nationally a proxy is shared by every CAE's row: its tornado and
    break-even values move all of them (two identical CAEs: PV = 2 × PV_HAND)."""
    vm = hand_vm(ranges={"px": (500.0, 2000.0), "pm": (0.1, 0.4)})
    nat = sroi.evaluate_national([empty_cae("a", subventions=10000.0), empty_cae("b", subventions=30000.0)], vm, draws=1000)
    t = nat.tornado.set_index("cle")
    assert t.loc["px", "ratio_min"] == pytest.approx(2 * PV_HAND * 0.5 / 40000.0)
    assert t.loc["px", "ratio_max"] == pytest.approx(2 * PV_HAND * 2.0 / 40000.0)
    assert t.loc["pm", "ratio_max"] == pytest.approx(2 * PV_HAND * 0.6 / 0.8 / 40000.0)
    # ratio 1 when 2 × PV_HAND × proxy / 1 000 = 40 000
    assert nat.break_even.set_index("cle").loc["px", "seuil"] == pytest.approx(40000.0 * 1000.0 / (2 * PV_HAND), rel=1e-9)


def test_national_survey_coefficients_are_per_cae():
    vm = hand_vm(survey=True)
    vm["enquete"]["min_repondants"] = 4
    nat = sroi.evaluate_national([empty_cae("a", survey=SURVEY), empty_cae("b")], vm, draws=1000)
    keys = set(nat.parameters["cle"])
    assert {"pm@a", "at@a", "pm", "at"} <= keys
    vmap = nat.value_map.set_index("cae")
    assert vmap.loc["a", "poids_mort"] == pytest.approx(0.5) and vmap.loc["b", "poids_mort"] == 0.2


# --------------------------------------------------------------------------
# methodology file
# --------------------------------------------------------------------------
def test_real_value_map_is_valid_and_sourced():
    vm = sroi.load_value_map()
    assert sroi.validate_value_map(vm) == []
    for name, p in vm["proxys"].items():
        assert p["source"] and "url" in p
    assert vm["parametres"]["tirages_monte_carlo"] >= 10000


def test_bad_value_map_gives_french_errors(tmp_path):
    vm = copy.deepcopy(sroi.load_value_map())
    vm["coefficients"]["poids_mort_activite"]["min"] = 0.9
    vm["resultats"][0]["proxy"] = "inconnu"
    (tmp_path / "sroi.yml").write_text(yaml.safe_dump(vm, allow_unicode=True), encoding="utf-8")
    with pytest.raises(sroi.ValueMapError) as exc:
        sroi.load_value_map(tmp_path)
    msg = str(exc.value)
    assert "min ≤ valeur ≤ max" in msg and "proxy « inconnu » inconnu" in msg and "2 problème(s)" in msg


# --------------------------------------------------------------------------
# notebook (end to end)
# --------------------------------------------------------------------------
def write_fixture(root: Path, slug: str = "fixture", n: int = 30, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    d = root / slug
    d.mkdir(parents=True)
    ids = [f"ps{i:03d}" for i in range(n)]
    motif = rng.choice(["emploi_salarie", "creation_entreprise", "abandon", ""], n)
    ent = pd.DataFrame({
        "id": pd.array(ids, dtype="string"),
        "date_entree": pd.to_datetime("2018-02-01"),
        "date_sortie": pd.to_datetime([("2019-06-30" if m else None) for m in motif]),
        "date_cesa": pd.to_datetime([None] * n), "date_societariat": pd.to_datetime([None] * n),
        "motif_sortie": pd.array([m or None for m in motif], dtype="string"),
        "genre": pd.array(rng.choice(["F", "H"], n), dtype="string"),
        "tranche_age": pd.array(["35_49"] * n, dtype="string"),
        "diplome": pd.array(["bac"] * n, dtype="string"),
        "situation_entree": pd.array(rng.choice(["de_indemnise", "rsa", "salarie"], n), dtype="string"),
        "qpv": pd.array(["non"] * n, dtype="string"), "zone": pd.array(["urbain"] * n, dtype="string"),
        "secteur": pd.array(["services"] * n, dtype="string"),
        "statut": pd.array(rng.choice(["cape", "cesa"], n), dtype="string"),
    })
    act = pd.DataFrame({"id": pd.array(ids, dtype="string"), "annee": pd.array([2019] * n, dtype="Int64"),
                        "chiffre_affaires": rng.uniform(0, 30000, n), "remuneration_brute": rng.uniform(0, 20000, n),
                        "heures_remunerees": np.full(n, np.nan)})
    m = 15
    q = pd.DataFrame({"id": pd.array([None] * m, dtype="string"),
                      "sans_cae": pd.array(rng.choice(["meme_activite", "plus_tard", "pas_cree", "nsp"], m), dtype="string"),
                      "part_cae": rng.uniform(10, 90, m),
                      "droit_protection": pd.array(rng.choice(["oui", "non"], m), dtype="string"),
                      "formation_suivie": pd.array(rng.choice(["oui", "non"], m), dtype="string")})
    ent.to_parquet(d / "entrepreneurs.parquet")
    act.to_parquet(d / "activite.parquet")
    q.to_parquet(d / "questionnaire.parquet")
    info = {"nom": "CAE fixture", "slug": slug, "region": "Bretagne", "type": "generaliste", "territoire": "urbain",
            "annee_creation": 2005, "periode": {"debut": "2019-01-01", "fin": "2019-12-31"},
            "ressources": {"subventions_publiques": 60000, "contribution_entrepreneurs": 20000, "autres_produits": 0,
                           "benevolat_heures": 100}, "equipe_appui_etp": 2}
    (d / "cae.json").write_text(json.dumps(info), encoding="utf-8")
    (d / "manifest.json").write_text(json.dumps({"fixture": True}), encoding="utf-8")


@pytest.mark.e2e
def test_notebook_runs_with_papermill(tmp_path):
    papermill = pytest.importorskip("papermill")
    nb = Path(__file__).resolve().parents[1] / "notebooks" / "03_sroi.ipynb"
    processed = tmp_path / "processed"
    write_fixture(processed)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(nb), str(out), kernel_name="python3", cwd=str(tmp_path),
                               parameters={"cae": "fixture", "processed_dir": str(processed), "out_dir": str(tmp_path / "o"), "raw_dir": ""})
    carte = pd.read_parquet(processed / "fixture" / "sroi_carte_valeur.parquet")
    assert len(carte) == sum(1 for o in sroi.load_value_map()["resultats"] if o.get("actif", True))
    synth = pd.read_parquet(processed / "fixture" / "sroi_synthese.parquet")
    ratio = synth.set_index("indicateur").loc["Ratio SROI (valeur actuelle / intrants)", "valeur"]
    assert ratio == pytest.approx(carte["valeur_actuelle"].sum() / (60000 + 20000 + 100 * 10.03))
    for stem in ("sroi_tornado", "sroi_monte_carlo", "sroi_seuils", "sroi_parties_prenantes"):
        assert (processed / "fixture" / f"{stem}.csv").exists()


def test_zero_inputs_give_no_ratio_but_no_crash():
    res = sroi.evaluate(empty_cae(subventions=0.0), hand_vm(ranges={"pm": (0.1, 0.4)}), draws=1000)
    assert math.isnan(res.ratio) and res.total_pv == pytest.approx(PV_HAND)
    assert any("Intrants nuls" in n for n in res.notes)
    assert res.break_even["statut"].str.contains("intrants nuls").all()
    assert "ne peut pas être calculé" in sroi.headline(res)


def test_value_map_without_active_outcome_is_rejected():
    vm = hand_vm()
    vm["resultats"][0]["actif"] = False
    assert any("aucun résultat actif" in p for p in sroi.validate_value_map(vm))


# --------------------------------------------------------------------------
# ranges drawn as they are described (plage)
# --------------------------------------------------------------------------
def test_beta_fitted_to_quartiles_by_hand():
    # Beta(1, 1) is uniform on [0, 1]: its quartiles are 0,25 and 0,75, its 2,5/97,5 % quantiles 0,025 and 0,975.
    assert sroi.fit_beta_quantiles(0.25, 0.75, 0.5) == pytest.approx((1.0, 1.0), abs=1e-6)
    assert sroi.fit_beta_quantiles(0.025, 0.975, 0.95) == pytest.approx((1.0, 1.0), abs=1e-6)
    with pytest.raises(ValueError):
        sroi.fit_beta_quantiles(0.0, 0.4, 0.5)


def test_lognormal_fitted_to_quartiles_by_hand():
    # quartiles 50 and 200: μ = (ln 50 + ln 200)/2 = ln 100 = 4,605170;
    # σ = (ln 200 − ln 50) / (2 × 0,674490) = 1,386294 / 1,348980 = 1,027661.
    mu, sigma = sroi.fit_lognormal_quantiles(50.0, 200.0, 0.5)
    assert mu == pytest.approx(4.605170, abs=1e-6) and sigma == pytest.approx(1.027661, abs=1e-5)


def test_interquartile_and_95_ranges_are_drawn_with_those_quantiles():
    # an interquartile range [0,10 ; 0,40] must leave a quarter of the draws on each side
    # (a hard-bounds PERT would leave none): quantiles 25 % and 75 % of the draws = 0,10 and 0,40.
    x = sroi.draw_parameter("k", 0.2, 0.10, 0.40, 200_000, "pert", seed=7, coverage=0.5)
    assert np.quantile(x, [0.25, 0.75]) == pytest.approx([0.10, 0.40], abs=3e-3)
    assert (x < 0.10).mean() == pytest.approx(0.25, abs=5e-3)
    y = sroi.draw_parameter("k", 11160.0, 6540.0, 13320.0, 200_000, "pert", seed=7, coverage=0.95, share=False)
    assert np.quantile(y, [0.025, 0.975]) == pytest.approx([6540.0, 13320.0], rel=5e-3)


def test_survey_share_draws_have_jeffreys_spread():
    # Jeffreys Beta(k + ½, n − k + ½) with k = 5, n = 10: Beta(5,5 ; 5,5), mean 0,5,
    # variance ab / ((a + b)² (a + b + 1)) = 30,25 / (121 × 12) = 0,0208333, sd 0,144338.
    x = sroi.draw_survey_share("q", 5, 10, 200_000, seed=3)
    assert x.mean() == pytest.approx(0.5, abs=2e-3) and x.std() == pytest.approx(0.144338, abs=2e-3)


def test_survey_scaled_quantity_carries_its_sampling_error():
    # formation_suivie: 5 "oui" of 10 valid answers, applied to the CAE's 1 entrepreneur:
    # Q = 0,5. Every other parameter is fixed, so the ratio is proportional to the drawn
    # share: its coefficient of variation is that of Beta(5,5 ; 5,5), 0,144338 / 0,5 = 0,288675.
    vm = hand_vm()
    vm["resultats"][0]["quantite"] = {"regle": "part_enquete_effectif", "question": "formation_suivie", "reponse": "oui"}
    survey = pd.DataFrame({"formation_suivie": pd.array(["oui"] * 5 + ["non"] * 5, dtype="string")})
    res = sroi.evaluate(empty_cae(survey=survey), vm, draws=100_000)
    assert res.value_map.iloc[0]["quantite"] == pytest.approx(0.5)
    assert res.draws.std() / res.draws.mean() == pytest.approx(0.288675, abs=5e-3)


def test_range_without_its_nature_is_refused_in_french(tmp_path):
    vm = copy.deepcopy(sroi.load_value_map())
    del vm["coefficients"]["attribution_cae"]["plage"]
    vm["proxys"]["are_annuelle"]["plage"] = "quartiles"
    vm["coefficients"]["poids_mort_droits"]["plage"] = "interquartile"
    vm["coefficients"]["poids_mort_droits"]["min"] = 0.0
    (tmp_path / "sroi.yml").write_text(yaml.safe_dump(vm, allow_unicode=True), encoding="utf-8")
    with pytest.raises(sroi.ValueMapError) as exc:
        sroi.load_value_map(tmp_path)
    msg = str(exc.value)
    assert str(tmp_path / "sroi.yml") in msg and "3 problème(s)" in msg
    assert "clé « coefficients.attribution_cae » : plage manquante" in msg
    assert "clé « proxys.are_annuelle.plage » : choisir parmi « bornes »" in msg
    assert "clé « coefficients.poids_mort_droits » : une plage « interquartile » d'une part demande 0 < min" in msg


def test_real_value_map_states_every_range():
    vm = sroi.load_value_map()
    for block in ("coefficients", "proxys"):
        for name, x in vm[block].items():
            assert x["min"] == x["max"] or x.get("plage") in sroi.RANGE_KINDS, name
    # the defaults the survey replaces are not the most favourable: third quartiles of the
    # meta-analysis (data/factor_benchmarks.json: deadweight P75 34,75 %, attribution P75 42 %)
    assert vm["coefficients"]["poids_mort_activite"]["valeur"] == 0.3475
    assert vm["coefficients"]["attribution_cae"]["valeur"] == 0.42
    for key in ("intervalle_monte_carlo", "delai_recuperation", "delai_recuperation_actualise",
                "coefficients_par_defaut", "ratios_entre_cae"):
        assert vm["definitions"][key]


def test_ratio_on_default_coefficients_is_flagged():
    vm = hand_vm(survey=True)
    vm["enquete"]["min_repondants"] = 4
    with_survey = sroi.evaluate(empty_cae(survey=SURVEY), vm, draws=1000)
    without = sroi.evaluate(empty_cae(), vm, draws=1000)
    assert (with_survey.default_coefficients, with_survey.coefficient_origin) == (False, sroi.SOURCE_SURVEY)
    assert (without.default_coefficients, without.coefficient_origin) == (True, sroi.SOURCE_DEFAULT)
    resume = sroi.result_tables(without)["sroi_resume"].iloc[0]
    assert bool(resume["coefficients_par_defaut"]) and resume["origine_coefficients"] == sroi.SOURCE_DEFAULT
    assert "coefficients par défaut" in sroi.headline(without)
    nat = sroi.evaluate_national([empty_cae("b"), empty_cae("a", survey=SURVEY)], vm, draws=1000)
    assert nat.coefficient_origin == "mixte"
    # each CAE's own result, in the order given (not sorted by ratio), with its flag
    assert nat.by_cae["cae"].tolist() == ["b", "a"]
    assert nat.by_cae["coefficients_par_defaut"].tolist() == [True, False]


def test_parameters_annex_says_what_each_range_is():
    vm = hand_vm(ranges={"pm": (0.1, 0.4)})
    vm["coefficients"]["pm"]["plage"] = "interquartile"
    out = sroi.parameters_display(sroi.evaluate(empty_cae(), vm, draws=1000)).set_index("Hypothèse")
    assert out.loc["pm", "Plage"].endswith("(écart interquartile)")
    assert "(" not in out.loc["at", "Plage"]  # a point range has no nature to state
