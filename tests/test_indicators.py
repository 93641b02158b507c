"""Indicators computed from methodology/indicators.yml on a small processed CAE
written by hand below (40 people, period 2019–2020).

Counts of the fixture worth knowing (checked by the tests):
- genre: 24 F, 14 H, 2 nr  -> share of women 24/38
- exits: 14 (8 emploi_salarie, 3 creation_entreprise, 3 abandon)
- secteur: conseil 24, artisanat 8, culture 8
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from statsmodels.stats.proportion import proportion_confint

from analysis import config
from analysis.indicators import compute as indicators
from analysis.intake.processed import CaeData, load_cae
N = 40


def entrepreneurs() -> pd.DataFrame:
    i = np.arange(N)
    genre = ["F"] * 24 + ["H"] * 14 + ["nr"] * 2
    situation = ["de_indemnise"] * 12 + ["de_non_indemnise"] * 8 + ["rsa"] * 6 + ["salarie"] * 10 + ["nr"] * 4
    entree = pd.to_datetime("2016-03-01") + pd.to_timedelta(i * 40, unit="D")  # 2016-03 .. 2020-05
    sortie = pd.Series(pd.NaT, index=i, dtype="datetime64[ns]")
    motif = pd.Series(pd.NA, index=i, dtype="string")
    leavers = list(range(0, 28, 2))  # 14 people
    reasons = ["emploi_salarie"] * 8 + ["creation_entreprise"] * 3 + ["abandon"] * 3
    for k, r in zip(leavers, reasons):
        sortie[k] = max(entree[k] + pd.Timedelta(days=300 + 20 * k), pd.Timestamp("2019-01-15"))
        motif[k] = r
    cesa = pd.Series(pd.NaT, index=i, dtype="datetime64[ns]")
    for k in range(1, N, 3):
        cesa[k] = entree[k] + pd.Timedelta(days=180 + 5 * k)
    cesa = cesa.where(cesa <= pd.Timestamp("2020-12-31"))
    statut = np.where(cesa.notna(), "cesa", "cape").astype(object)
    statut[[1, 4, 7, 10, 13]] = "associe"
    return pd.DataFrame({
        "id": pd.array([f"p{k:03d}" for k in i], dtype="string"),
        "date_entree": entree.astype("datetime64[ns]"),
        "date_sortie": sortie.to_numpy(),
        "date_cesa": cesa.to_numpy(),
        "date_societariat": pd.Series(pd.NaT, index=i, dtype="datetime64[ns]").to_numpy(),
        "motif_sortie": motif.to_numpy(),
        "genre": pd.array(genre, dtype="string"),
        "tranche_age": pd.array((["moins_26", "26_34", "35_49", "50_plus"] * 10), dtype="string"),
        "diplome": pd.array((["aucun", "cap_bep", "bac", "bac_2", "bac_3_4", "bac_5_plus", "nr", "bac"] * 5), dtype="string"),
        "situation_entree": pd.array(situation, dtype="string"),
        "qpv": pd.array((["oui", "non", "non", "non", "nr"] * 8), dtype="string"),
        "zone": pd.array((["urbain", "rural", "periurbain", "urbain"] * 10), dtype="string"),
        "secteur": pd.array((["conseil"] * 3 + ["artisanat", "culture"]) * 8, dtype="string"),
        "statut": pd.array(list(statut), dtype="string"),
    })


def activite(ent: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for k, r in ent.iterrows():
        for year in (2019, 2020):
            if r["date_entree"].year > year:
                continue
            if pd.notna(r["date_sortie"]) and r["date_sortie"].year < year:
                continue
            ca = 0.0 if (k % 5 == 0 and year == 2019) else 10000.0 + 1000 * k + (3000 if year == 2020 else 0)
            rows.append({"id": r["id"], "annee": year, "chiffre_affaires": ca, "remuneration_brute": ca * 0.4,
                         "heures_remunerees": np.nan})
    df = pd.DataFrame(rows)
    df["id"] = df["id"].astype("string")
    df["annee"] = df["annee"].astype("Int64")
    return df


def questionnaire(ent: pd.DataFrame) -> pd.DataFrame:
    # 30 respondents: the first 26 people by id, plus 4 anonymous answers
    n = 30
    ids = list(ent["id"][:26]) + [pd.NA] * 4
    likert = lambda shift: pd.array([(k + shift) % 5 + 1 for k in range(n)], dtype="Int64")
    q = pd.DataFrame({"id": pd.array(ids, dtype="string")})
    for j, item in enumerate(["eff_accompagnement", "eff_droits", "eff_acceleration", "eff_competences", "eff_confiance",
                              "eff_reseau", "eff_collectif", "eff_souplesse", "eff_citoyennete", "eff_responsabilite"]):
        q[item] = likert(j)
    # eff_droits: 2 missing answers
    q.loc[[0, 1], "eff_droits"] = pd.NA
    yn = lambda k0: pd.array([("oui" if (k + k0) % 3 else "non") for k in range(n)], dtype="string")
    q["droit_protection"], q["droit_logement"], q["droit_pret"] = yn(0), yn(1), yn(2)
    q["formation_suivie"] = pd.array(["oui"] * 20 + ["non"] * 8 + ["nr"] * 2, dtype="string")
    q["echanges_pairs"] = pd.array((["jamais", "moins_mensuel", "mensuel", "hebdomadaire", "mensuel"] * 6), dtype="string")
    q["sans_cae"] = pd.array((["pas_cree", "plus_tard", "meme_activite", "pas_cree", "nsp", "plus_petite"] * 5), dtype="string")
    q["part_cae"] = np.linspace(10, 90, n)
    q["revenu_avant"] = [np.nan if k % 4 == 0 else 800.0 + 20 * k for k in range(n)]
    for dim in ["sante", "relations", "temps", "charge", "parcours", "participation", "autonomie"]:
        q[f"qvt_{dim}_1"], q[f"qvt_{dim}_2"] = likert(1), likert(2)
    for k in range(1, 6):
        q[f"who5_{k}"] = pd.array([(j + k) % 6 for j in range(n)], dtype="Int64")
    return q


INFO = {"nom": "Coopérative Test", "region": "Bretagne", "type": "generaliste", "territoire": "urbain",
        "annee_creation": 2005, "periode": {"debut": "2019-01-01", "fin": "2020-12-31"},
        "ressources": {"subventions_publiques": 100000, "contribution_entrepreneurs": 50000, "autres_produits": 0,
                       "benevolat_heures": 100}, "equipe_appui_etp": 3.0}




def write_cae(root: Path, slug: str = "test", survey: bool = True) -> Path:
    d = Path(root) / slug
    d.mkdir(parents=True, exist_ok=True)
    ent = entrepreneurs()
    ent.to_parquet(d / "entrepreneurs.parquet", index=False)
    activite(ent).to_parquet(d / "activite.parquet", index=False)
    if survey:
        questionnaire(ent).to_parquet(d / "questionnaire.parquet", index=False)
    (d / "cae.json").write_text(json.dumps({**INFO, "slug": slug}, ensure_ascii=False), encoding="utf-8")
    (d / "manifest.json").write_text(json.dumps({"cae": slug, "fixture": True}), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    root = tmp_path_factory.mktemp("processed")
    write_cae(root, "test")
    write_cae(root, "sans-enquete", survey=False)
    return root


@pytest.fixture(scope="module")
def data(processed):
    return load_cae("test", processed)


@pytest.fixture(scope="module")
def table(data):
    return indicators.compute(data)


def row(table, ind, breakdown=None):
    sub = table[table["indicator"] == ind]
    if breakdown is not None:
        sub = sub[sub["breakdown"] == breakdown]
    assert len(sub) == 1, ind
    return sub.iloc[0]


def test_output_columns(table):
    required = ["cae", "family", "indicator", "label", "value", "n", "denominator", "ci_low", "ci_high", "unit",
                "reference", "reference_source", "suppressed"]
    assert all(c in table.columns for c in required)
    assert set(table["version"]) == {str(yaml.safe_load((config.METHODOLOGY_DIR / "indicators.yml").read_text())["version"])}


def test_share_of_women_with_wilson_and_reference(table):
    r = row(table, "f1_femmes")
    assert (r["n"], r["denominator"]) == (24, 38)
    assert r["value"] == pytest.approx(24 / 38)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx(proportion_confint(24, 38, method="wilson"))
    assert r["reference"] == pytest.approx(0.40) and "Insee" in r["reference_source"]


def test_exits_partition_small_cells_and_complement(table):
    # creation 3 and abandon 3 are under 5: hidden; their sum (6) is not small, so emploi (8) stays
    assert row(table, "r_sortie_emploi")["n"] == 8 and row(table, "r_sortie_emploi")["denominator"] == 14
    assert row(table, "r_sortie_creation")["suppressed"] and row(table, "r_sortie_abandon")["suppressed"]
    assert pd.isna(row(table, "r_sortie_creation")["value"])
    assert not row(table, "r_sortie_emploi")["suppressed"]


def test_breakdown_by_gender_hides_the_small_group(table):
    # respondents linked to entrepreneurs: people p000..p025 -> 24 F and 2 H
    f = row(table, "f2_sans_cae_pas_cree_genre", "Femme")
    h = row(table, "f2_sans_cae_pas_cree_genre", "Homme")
    assert f["denominator"] == 24 and not f["suppressed"]
    assert h["suppressed"] and pd.isna(h["value"])


def test_likert_agree_share_counts_4_and_5(table):
    # eff_droits = (k + 1) % 5 + 1 for k = 0..29 with answers 0 and 1 missing:
    # k = 2..29 -> values 4 5 1 2 3 4 5 ...: 28 answers, 4 or 5 for k % 5 in {2, 3}: 12
    r = row(table, "f2_eff_droits")
    assert (r["n"], r["denominator"]) == (12, 28)


def test_top_sector_and_distinct_count(table):
    top = row(table, "f7_secteur_principal")
    assert (top["n"], top["denominator"], top["detail"]) == (24, 40, "conseil")
    assert row(table, "f7_secteurs_distincts")["value"] == 3


def test_survey_indicators_absent_without_questionnaire(processed):
    d = load_cae("sans-enquete", processed)
    t = indicators.compute(d)
    survey_ids = {i["id"] for i in indicators.survey_indicators()}
    assert survey_ids and not (set(t["indicator"]) & survey_ids)
    assert "f1_femmes" in set(t["indicator"])
    note = indicators.absent_note(d)
    assert "questionnaire" in note and str(len(survey_ids)) in note
    assert "questionnaire" in indicators.narrative(t, "F5", data=d)


def test_indicator_added_in_yaml_appears_without_code_change(tmp_path, data):
    mdir = tmp_path / "methodology"
    shutil.copytree(config.METHODOLOGY_DIR, mdir)
    path = mdir / "indicators.yml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["indicators"].append({"id": "f7_artisanat", "family": "F7", "label": "Part de l'artisanat", "kind": "share",
                               "table": "entrepreneurs", "numerator": {"column": "secteur", "in": ["artisanat"]},
                               "denominator": {"column": "secteur", "notna": True}, "unit": "part",
                               "reference": {"value": 0.3, "source": "Source fictive", "year": 2020}})
    spec["version"] = "1.0.0-test"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    t = indicators.compute(data, indicators.load_spec(mdir))
    r = row(t, "f7_artisanat")
    assert (r["n"], r["denominator"], r["value"]) == (8, 40, pytest.approx(0.2))
    assert r["reference_source"] == "Source fictive" and r["version"] == "1.0.0-test"


def _mini(exits: dict[int, str]) -> CaeData:
    """12 people entering on 2019-01-01; exits at given day offsets; period 2019–2020."""
    n = 12
    ent = pd.DataFrame({"id": pd.array([f"m{k}" for k in range(n)], dtype="string"),
                        "date_entree": pd.to_datetime(["2019-01-01"] * n)})
    ent["date_sortie"] = pd.to_datetime([exits.get(k) for k in range(n)])
    for c in ("date_cesa", "date_societariat"):
        ent[c] = pd.NaT
    for c in ("motif_sortie", "genre", "tranche_age", "diplome", "situation_entree", "qpv", "zone", "statut", "secteur"):
        ent[c] = pd.array([pd.NA] * n, dtype="string")
    act = pd.DataFrame({"id": ent["id"], "annee": pd.array([2019] * n, dtype="Int64"), "chiffre_affaires": 1.0,
                        "remuneration_brute": 1.0, "heures_remunerees": np.nan})
    return CaeData("mini", {**INFO, "slug": "mini"}, ent, act, None, {})


def test_staying_rates_kaplan_meier_by_hand():
    # 3 people leave on 2019-07-01, 2 on 2020-07-01, 7 stay to the end of 2020.
    # S(12 months) = 9/12; at 18 months 9 at risk, 2 leave: S(24) = 0.75 * 7/9;
    # 36 months are beyond the follow-up: not estimated.
    exits = {0: "2019-07-01", 1: "2019-07-01", 2: "2019-07-01", 3: "2020-07-01", 4: "2020-07-01"}
    t = indicators.compute(_mini(exits), suppress=False)
    assert row(t, "f3_presence_1an")["value"] == pytest.approx(0.75)
    assert row(t, "f3_presence_2ans")["value"] == pytest.approx(0.75 * 7 / 9)
    assert np.isnan(row(t, "f3_presence_3ans")["value"])


def test_national_pools_people_and_adjusts_for_clusters(processed, data):
    other = load_cae("sans-enquete", processed)
    nat = indicators.compute_national([data, other])
    r = row(nat, "f1_femmes")
    assert r["cae"] == "national" and (r["n"], r["denominator"]) == (48, 76)
    # identical CAEs: no between-CAE variation, deff = 1; two clusters, so
    # Wilson on n* = 76 × (z / t_1)² = 76 × (1,959964 / 12,706205)² = 1,808332
    # (Korn & Graubard's degrees-of-freedom adjustment): p = 48/76 = 0,631579,
    # z²/n* = 2,124311, centre = (p + z²/(2n*)) / (1 + z²/n*) = 1,693734 / 3,124311
    # = 0,542115, half = z/(1 + z²/n*) · √(p(1−p)/n* + z²/(4n*²)) = 0,627327 × 0,649891
    # = 0,407694 → [0,134420 ; 0,949809] (plain Wilson on 76 would be [0,519 ; 0,731]).
    assert r["deff"] == 1.0
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.134420, 0.949809), abs=2e-6)
    # survey indicators pool the CAE that has a survey
    assert row(nat, "f2_eff_droits")["denominator"] == 28
    wide = indicators.by_cae([indicators.compute(data), indicators.compute(other)], nat)
    women = wide[wide["indicator"] == "f1_femmes"].iloc[0]
    assert women["test"] == women["national"] == pytest.approx(24 / 38)


def test_weighted_shares_beside_unweighted(table):
    r = row(table, "f4_formation")
    assert not np.isnan(r["value_weighted"]) and r["ci_low_weighted"] <= r["value_weighted"] <= r["ci_high_weighted"]
    assert 0 < r["n_eff"] <= 26  # at most the linked respondents
    assert np.isnan(row(table, "f1_femmes")["value_weighted"])  # not a survey indicator


def test_representativeness_flags_gender_imbalance(data):
    rep = indicators.representativeness(data)
    tests = indicators.representativeness_tests(data)
    # linked respondents: 24 F, 2 H (population 24 F, 14 H, 2 nr): chi2 flags gender
    g = tests.set_index("variable").loc["genre"]
    assert g["p_value"] < 0.05 and g["n_resp"] == 26
    assert "genre" in indicators.representativeness_note(rep, tests)
    w, note = indicators.survey_weights(data)
    linked = data.questionnaire["id"].notna()
    assert w[linked].notna().all() and w[~linked].isna().all()
    # raked weights reproduce the population's gender margins (24 F, 14 H; "nr" has no
    # respondent and is left out of the targets)
    genre = data.questionnaire.loc[linked, "id"].map(dict(zip(data.personnes["id"], data.personnes["genre"])))
    assert w[linked].groupby(genre.to_numpy()).sum().to_dict() == pytest.approx({"F": 24, "H": 14}, rel=1e-6)


def test_french_display_and_figure(table):
    disp = indicators.to_display(table[table["family"] == "F1"])
    assert disp.loc[0, "Valeur"] == "63,2\u00a0%"
    assert "Indicateur" in disp.columns and "IC 95 %" in disp.columns
    exits = indicators.to_display(table[table["indicator"] == "r_sortie_creation"])
    assert exits.loc[0, "Valeur"] == "masqué : moins de 5 personnes"
    import matplotlib

    matplotlib.use("Agg")
    ax = indicators.plot_family(table, "R", unit="part")
    drawn = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    assert len(drawn) == 3 and not any("création" in d for d in drawn)  # suppressed exits omitted


@pytest.mark.e2e
def test_notebook_runs_with_papermill(processed, tmp_path):
    import papermill as pm

    nb = config.NOTEBOOKS_DIR / "02_indicateurs.ipynb"
    for slug in ("test", "sans-enquete"):
        pm.execute_notebook(str(nb), str(tmp_path / f"{slug}.ipynb"), kernel_name="python3", progress_bar=False,
                            parameters={"cae": slug, "processed_dir": str(processed), "out_dir": str(tmp_path), "raw_dir": ""})
        out = pd.read_parquet(processed / slug / "indicateurs.parquet")
        assert "f1_femmes" in set(out["indicator"])
        assert (processed / slug / "indicateurs.csv").exists()


# ----------------------------------------------------------------- definitions that match their labels

def _income_cae() -> CaeData:
    """Four people, period 2019–2020 (INFO), each with one 2020 activity row.

    p0: CESA from 2020-07-01 (entered 2019-01-01), 6 000 € gross in 2020, 1 000 €/month before;
    p1: CESA status without a CESA date, entered 2019-01-01, left 2020-03-31, 3 000 € gross, 500 € before;
    p2: CAPE only (no CAE pay), 0 € gross, 900 € before;
    p3: CESA from entry 2019-01-01 to the end, 24 000 € gross, 1 500 € before."""
    ids = ["p0", "p1", "p2", "p3"]
    ent = pd.DataFrame({"id": pd.array(ids, dtype="string"),
                        "date_entree": pd.to_datetime(["2019-01-01"] * 4),
                        "date_sortie": pd.to_datetime([None, "2020-03-31", None, None]),
                        "date_cesa": pd.to_datetime(["2020-07-01", None, None, "2019-01-01"]),
                        "date_societariat": pd.NaT})
    ent["statut"] = pd.array(["cesa", "cesa", "cape", "cesa"], dtype="string")
    for c in ("motif_sortie", "genre", "tranche_age", "diplome", "situation_entree", "qpv", "zone", "secteur"):
        ent[c] = pd.array([pd.NA] * 4, dtype="string")
    act = pd.DataFrame({"id": ent["id"], "annee": pd.array([2020] * 4, dtype="Int64"), "chiffre_affaires": 1.0,
                        "remuneration_brute": [6000.0, 3000.0, 0.0, 24000.0], "heures_remunerees": np.nan})
    q = pd.DataFrame({"id": pd.array(ids, dtype="string"), "revenu_avant": [1000.0, 500.0, 900.0, 1500.0]})
    return CaeData("rev", {**INFO, "slug": "rev"}, ent, act, q, {})


def test_contract_months_by_hand():
    # 2020 is a leap year; a month is 365,25/12 = 30,4375 days.
    # p0: 2020-07-01 → 2021-01-01 = 184 days = 6,04517 months; p1: 2020-01-01 → 2020-04-01
    # (day after exit) = 91 days = 2,98973; p2 (CAPE only): 0; p3: the whole year, 366 days → 12 (clipped).
    d = _income_cae()
    ent = d.personnes.assign(_fin=pd.Timestamp("2020-12-31"))
    m = indicators.contract_months(d.activite, ent, {"start_column": "date_cesa", "paid_statuses": ["cesa", "associe"]})
    assert m.tolist() == pytest.approx([184 / 30.4375, 91 / 30.4375, 0.0, 12.0])


def test_income_before_after_on_months_under_contract_by_hand():
    # net monthly after = gross × 0,78 / months under contract; CAPE-only p2 is excluded.
    # p0: 6 000 × 0,78 / 6,04517 = 774,17 → − 1 000 = −225,83
    # p1: 3 000 × 0,78 / 2,98973 = 782,68 → − 500 = +282,68
    # p3: 24 000 × 0,78 / 12 = 1 560 → − 1 500 = +60
    # mean = (−225,83 + 282,68 + 60) / 3 = 38,95 (the old ÷ 12 definition with p2: (−610 − 305 − 900 + 60)/4 = −438,75)
    spec = indicators.load_spec()
    spec["indicators"] = [i for i in spec["indicators"] if i["id"] == "r_revenu_avant_apres"]
    t = indicators.compute(_income_cae(), spec, suppress=False)
    r = row(t, "r_revenu_avant_apres")
    assert r["n"] == 3
    expected = np.mean([6000 * 0.78 / (184 / 30.4375) - 1000, 3000 * 0.78 / (91 / 30.4375) - 500, 1560 - 1500])
    assert r["value"] == pytest.approx(expected) and r["value"] == pytest.approx(38.95, abs=0.01)


def test_turnover_in_entry_year_share_by_hand():
    # _mini: 12 entrants on 2019-01-01 (the period's first day), all with turnover in 2019;
    # drop 4 of them from activite and give 2 of those a 2020 row: 8 of 12 have turnover
    # in their entry year (the 2 who start in 2020 do not count), share 2/3.
    d = _mini({})
    act = d.activite[~d.activite["id"].isin(["m0", "m1", "m2", "m3"])]
    late = pd.DataFrame({"id": pd.array(["m0", "m1"], dtype="string"), "annee": pd.array([2020, 2020], dtype="Int64"),
                         "chiffre_affaires": 5.0, "remuneration_brute": 0.0, "heures_remunerees": np.nan})
    d = CaeData("mini", d.info, d.personnes, pd.concat([act, late], ignore_index=True), None, {})
    r = row(indicators.compute(d, suppress=False), "f3_ca_annee_entree")
    assert (r["n"], r["denominator"]) == (8, 12) and r["value"] == pytest.approx(2 / 3)
    assert "f3_mois_premier_ca" not in set(indicators.load_spec()["indicators"][i]["id"] for i in range(3))


def test_staying_rates_beyond_the_period_carry_their_caveat():
    t = indicators.compute(_mini({}), suppress=False)
    assert "cohorte" in row(t, "f3_presence_2ans")["note"] and "cohorte" in row(t, "f3_presence_3ans")["note"]
    assert pd.isna(row(t, "f3_presence_1an")["note"])


def test_weighted_share_says_whom_it_covers(table, data):
    # weights exist only for respondents with a linked id: coverage = linked / denominator
    r = row(table, "f4_formation")
    q = data.questionnaire
    base = q["formation_suivie"].isin(["oui", "non"])
    linked = base & q["id"].isin(set(data.personnes["id"]))
    assert r["weighted_coverage"] == pytest.approx(linked.sum() / base.sum())
    assert 0 < r["weighted_coverage"] <= 1
