"""Per-CAE and national QVT summaries, suppression, figures and the notebook."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.qvt import compute as qvt
from analysis.intake.processed import CaeData

DIMS = ["sante", "relations", "temps", "charge", "parcours", "participation", "autonomie"]
REVERSE = {("sante", 2), ("temps", 2), ("charge", 2)}


def make_cae(slug="alpha", n_ent=80, n_resp=60, seed=0, survey=True, nom="Coop Alpha"):
    """A small synthetic CAE: entrepreneurs and a questionnaire whose items
    share one latent factor (some ids missing, some items missing)."""
    rng = np.random.default_rng(seed)
    ids = [f"p{slug}{i:03d}" for i in range(n_ent)]
    ent = pd.DataFrame({
        "id": pd.array(ids, dtype="string"),
        "date_entree": pd.to_datetime("2019-12-31") - pd.to_timedelta(rng.integers(30, 9 * 365, n_ent), unit="D"),
        "date_sortie": pd.NaT,
        "genre": pd.array(rng.choice(["F", "H", "nr"], n_ent, p=[.5, .45, .05]), dtype="string"),
        "statut": pd.array(rng.choice(["cape", "cesa", "associe"], n_ent), dtype="string"),
    })
    q = None
    if survey:
        rid = list(rng.choice(ids, n_resp, replace=False))
        rid = pd.array([None if i % 7 == 0 else r for i, r in enumerate(rid)], dtype="string")
        cols = {"id": rid}
        latent = rng.normal(0, 1, n_resp)
        for dim in DIMS:
            for k in (1, 2):
                x = np.clip(np.round(3.3 + 0.8 * latent + rng.normal(0, 0.8, n_resp)), 1, 5)
                if (dim, k) in REVERSE:
                    x = 6 - x
                s = pd.array(x.astype(int), dtype="Int64")
                s[rng.random(n_resp) < 0.05] = pd.NA
                cols[f"qvt_{dim}_{k}"] = s
        for k in range(1, 6):
            x = np.clip(np.round(3 + latent + rng.normal(0, 0.8, n_resp)), 0, 5)
            s = pd.array(x.astype(int), dtype="Int64")
            s[rng.random(n_resp) < 0.03] = pd.NA
            cols[f"who5_{k}"] = s
        q = pd.DataFrame(cols)
    info = {"nom": nom, "slug": slug, "periode": {"debut": "2019-01-01", "fin": "2019-12-31"}}
    return CaeData(slug=slug, info=info, personnes=ent, activite=pd.DataFrame(), questionnaire=q, manifest={})


def tiny_cae(rows: dict, ids=None, slug="mini"):
    n = len(next(iter(rows.values())))
    q = pd.DataFrame({k: pd.array(v, dtype="Int64") for k, v in rows.items()})
    q.insert(0, "id", pd.array(ids or [None] * n, dtype="string"))
    ent = pd.DataFrame({"id": pd.array([], dtype="string"), "date_entree": pd.to_datetime([]),
                        "genre": pd.array([], dtype="string"), "statut": pd.array([], dtype="string")})
    return CaeData(slug=slug, info={"nom": "Mini", "periode": {"fin": "2019-12-31"}}, personnes=ent,
                   activite=pd.DataFrame(), questionnaire=q, manifest={})


def test_no_questionnaire_gives_a_french_sentence():
    r = qvt.summarise_cae(make_cae(survey=False))
    assert r.available is False
    assert "questionnaire" in r.note_fr and "Coop Alpha" in r.note_fr
    assert r.dimensions.empty and list(r.dimensions.columns)[:3] == ["cae", "dimension", "label"]


def test_dimension_mean_share_and_intervals_by_hand():
    # 12 respondents; sante_2 is reverse-worded (6 - x)
    s1 = [5, 4, 4, 3, 2, 5, 3, 4, 3, 5, 4, 2]
    s2 = [1, 2, 1, 3, 4, 1, 2, 2, 3, 1, 2, 4]  # recoded: 5 4 5 3 2 5 4 4 3 5 4 2
    r = qvt.summarise_cae(tiny_cae({"qvt_sante_1": s1, "qvt_sante_2": s2}))
    row = r.dimensions.set_index("dimension").loc["sante"]
    scores = [(a + 6 - b) / 2 for a, b in zip(s1, s2)]
    assert row["n"] == 12
    assert row["mean"] == pytest.approx(sum(scores) / 12)
    sd = np.std(scores, ddof=1)
    from scipy import stats
    half = stats.t.ppf(0.975, 11) * sd / math.sqrt(12)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((row["mean"] - half, row["mean"] + half))
    # scores 5 4 4.5 3 2 5 3.5 4 3 5 4 2: 7 agree (>= 4), 5 do not (neither count is small)
    agree = sum(s >= 4 for s in scores)
    assert agree == 7 and row["share_n"] == 7 and row["share_agree"] == pytest.approx(7 / 12)
    # Wilson by hand, z = 1.959964
    z, p, n = 1.959963984540054, 7 / 12, 12
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (row["share_ci_low"], row["share_ci_high"]) == pytest.approx((c - h, c + h))
    assert not row["suppressed"] and not row["share_suppressed"]


def test_dimension_with_too_few_respondents_is_suppressed_not_reported():
    s1 = [5, 4, 4, 3, 2, 5, 4, 4, 3, 5, 4, 2]
    few = [4, 3, 5, 2, 4, 4, None, None, None, None, None, None]  # 6 respondents on autonomie
    r = qvt.summarise_cae(tiny_cae({"qvt_sante_1": s1, "qvt_autonomie_1": few}))
    d = r.dimensions.set_index("dimension")
    assert not d.loc["sante", "suppressed"]
    a = d.loc["autonomie"]
    assert a["suppressed"] and a["n"] == 6
    assert all(math.isnan(a[c]) for c in ["mean", "ci_low", "ci_high", "share_agree", "share_ci_low"])
    # n between 1 and 4 is itself a count that may not be published
    assert pd.isna(d.loc["relations", "n"]) or d.loc["relations", "n"] == 0
    # a share whose complement is a small count (2 of 12 not agreeing... here 3 disagree) is blanked
    top = [5] * 9 + [1, 1, 1]
    r2 = qvt.summarise_cae(tiny_cae({"qvt_parcours_1": top}))
    p = r2.dimensions.set_index("dimension").loc["parcours"]
    assert not p["suppressed"] and p["share_suppressed"] and math.isnan(p["share_agree"])
    assert not math.isnan(p["mean"])


def test_reliability_reported_only_with_enough_complete_rows_and_feldt_uses_complete_n():
    from scipy import stats

    r = qvt.summarise_cae(make_cae(n_resp=60, seed=4))
    rel = r.reliability.set_index("dimension")
    row = rel.loc["sante"]
    assert row["reported"]
    n, k, a = int(row["n_complete"]), 2, row["alpha"]
    assert n < 60  # some items are missing: n is the number of complete rows
    lo = 1 - (1 - a) * stats.f.ppf(0.975, n - 1, (n - 1) * (k - 1))
    assert row["alpha_ci_low"] == pytest.approx(lo)
    assert math.isnan(row["omega"]) and "identifié" in row["reason"]
    assert not math.isnan(rel.loc["who5", "omega"])
    small = qvt.summarise_cae(make_cae(n_resp=20, seed=5)).reliability
    assert not small["reported"].any() and small["alpha"].isna().all()
    assert small["reason"].str.contains("moins de 30").all()


def test_who5_shares_by_hand():
    # raw sums 25, 20, 12, 7, 5, ... -> scores x4
    sums = [25, 20, 12, 7, 5, 13, 10, 18, 3, 22, 12, 6]
    rows = {f"who5_{k}": [] for k in range(1, 6)}
    for s in sums:
        q, rmd = divmod(s, 5)
        for k in range(5):
            rows[f"who5_{k + 1}"].append(q + (1 if k < rmd else 0))
    r = qvt.summarise_cae(tiny_cae(rows))
    w = r.who5.iloc[0]
    scores = [4 * s for s in sums]  # 100 80 48 28 20 52 40 72 12 88 48 24
    assert w["n"] == 12 and w["mean"] == pytest.approx(np.mean(scores))
    assert w["n_le_50"] == 7 and w["share_le_50"] == pytest.approx(7 / 12)  # 48 28 20 40 12 48 24
    # <= 28: 28, 20, 12, 24 -> 4, a count under 5: not published
    assert pd.isna(w["n_le_28"]) and math.isnan(w["share_le_28"])


def test_comparisons_drop_small_groups_and_correct_within_factor():
    r = qvt.summarise_cae(make_cae(n_resp=70, seed=6))
    c = r.comparisons
    assert set(c["factor"]) == {"statut", "anciennete", "genre"}
    assert (c["correction"] == "holm").all()
    g = c[c["factor"] == "genre"]
    assert not g["groups"].str.contains("Non renseigné").any()  # nr excluded
    a = c[c["factor"] == "anciennete"]
    assert not a["groups"].str.contains("Non relié").any()
    for _, x in c[~c["suppressed"]].iterrows():
        ns = [int(s.split("n = ")[1].rstrip(")")) for s in x["groups"].split(" ; ")]
        assert min(ns) >= 10
    for f in c["factor"].unique():
        sub = c[(c["factor"] == f) & c["p"].notna()]
        assert (sub["p_adj"] >= sub["p"] - 1e-12).all()


def test_national_models_matrix_and_notes():
    datas = [make_cae("a", seed=1, nom="Alpha"), make_cae("b", seed=2, n_resp=40, nom="Beta"),
             make_cae("c", seed=3, n_resp=8, nom="Gamma"), make_cae("d", survey=False)]
    nat = qvt.summarise_national(datas)
    assert nat.available and nat.n_cae == 3
    m = nat.matrix
    assert m[m["cae"] == "c"]["suppressed"].all() and m[m["cae"] == "c"]["mean"].isna().all()
    assert not m[m["cae"] == "a"]["suppressed"].any()
    assert set(nat.models_scores["outcome"]) == set(DIMS) | {"who5"}
    assert {"term", "coef", "ci_low", "ci_high", "p"} <= set(nat.models_scores.columns)
    cae_terms = nat.models_scores[nat.models_scores["factor"] == "cae"]
    assert set(cae_terms["level"]) == {"Beta"}  # Gamma (8 respondents) left out, Alpha the reference
    assert any("effet fixe" in n for n in nat.model_notes_fr)
    assert any("Gamma" in n for n in nat.model_notes_fr)
    assert (nat.models_items[nat.models_items["factor"] == "seuil"]["coef"].groupby(
        nat.models_items["outcome"]).apply(lambda s: s.is_monotonic_increasing)).all()
    assert len(nat.scores) == 60 + 40 + 8


def test_figures_omit_suppressed_cells(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = qvt.summarise_cae(make_cae(seed=8))
    dims = r.dimensions.copy()
    dims.loc[0, ["suppressed", "mean"]] = [True, np.nan]
    fig, ax = plt.subplots()
    qvt.plot_dimensions(dims, network_median=pd.Series({"sante": 3.0, "relations": 3.2}), ax=ax)
    assert len(ax.containers) == len(dims) - 1  # one errorbar per published dimension
    assert any(t.get_text() == "effectif insuffisant" for t in ax.texts)
    h = qvt.who5_histogram(r)
    assert (h.loc[h["suppressed"], "n"].isna()).all()
    shown = h.loc[~h["suppressed"], "n"].dropna()
    assert ((shown == 0) | (shown >= 5)).all()
    fig, ax = plt.subplots()
    qvt.plot_who5(r, ax=ax)
    assert len(ax.patches) == int((~h["suppressed"]).sum())
    nat = qvt.summarise_national([make_cae("a", seed=1, nom="A"), make_cae("b", seed=2, n_resp=7, nom="B")])
    fig, ax = plt.subplots()
    qvt.plot_heatmap(nat, ax=ax)
    assert sum(t.get_text() == "s" for t in ax.texts) >= 7
    plt.close("all")


def test_network_median_reads_other_caes(tmp_path):
    for slug, seed in [("a", 1), ("b", 2), ("c", 3)]:
        qvt.write_results(qvt.summarise_cae(make_cae(slug, seed=seed)), tmp_path)
    med = qvt.network_median(tmp_path, exclude="a")
    means = [pd.read_parquet(tmp_path / s / "qvt_dimensions.parquet").set_index("dimension")["mean"] for s in "bc"]
    assert med["sante"] == pytest.approx((means[0]["sante"] + means[1]["sante"]) / 2)
    assert qvt.network_median(tmp_path / "nothing") is None
    s = pd.read_parquet(tmp_path / "a" / "qvt_scores.parquet")
    assert s["id"].dropna().str.startswith("pa").all()


def _write_processed(root, data: CaeData):
    d = root / data.slug
    d.mkdir(parents=True)
    data.personnes.to_parquet(d / "entrepreneurs.parquet")
    pd.DataFrame({"id": pd.array([], dtype="string"), "annee": pd.array([], dtype="Int64")}).to_parquet(
        d / "activite.parquet")
    if data.questionnaire is not None:
        data.questionnaire.to_parquet(d / "questionnaire.parquet")
    (d / "cae.json").write_text(json.dumps(data.info), encoding="utf-8")
    (d / "manifest.json").write_text("{}", encoding="utf-8")


@pytest.mark.e2e
def test_notebook_runs_with_and_without_questionnaire(tmp_path):
    import papermill as pm

    from analysis import config

    processed = tmp_path / "processed"
    _write_processed(processed, make_cae("avec", seed=1))
    _write_processed(processed, make_cae("sans", survey=False, nom="Sans Questionnaire"))
    nb = config.NOTEBOOKS_DIR / "04_qvt.ipynb"
    for slug in ("avec", "sans"):
        out = tmp_path / f"{slug}.ipynb"
        pm.execute_notebook(str(nb), str(out), parameters={"cae": slug, "processed_dir": str(processed),
                                                           "out_dir": str(tmp_path), "raw_dir": ""},
                            kernel_name="python3", progress_bar=False)
        assert (processed / slug / "qvt_dimensions.parquet").exists()
    text = (tmp_path / "sans.ipynb").read_text(encoding="utf-8")
    assert "pas transmis de questionnaire" in text
    assert "fig-qvt-dimensions" in (tmp_path / "avec.ipynb").read_text(encoding="utf-8")
    assert len(pd.read_parquet(processed / "avec" / "qvt_scores.parquet")) == 60
