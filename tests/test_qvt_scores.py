"""Scoring on hand-made rows: reverse coding, prorating, WHO-5, seniority bands."""

import copy
import math

import numpy as np
import pandas as pd
import pytest

from analysis.intake import codebook
from analysis.method import loader as methodology
from analysis.qvt import scores as qs


def test_reverse_items_come_from_the_codebook_only():
    assert {"qvt_sante_2", "qvt_temps_2", "qvt_charge_2"} <= set(codebook.reverse_items())

    def keys(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield str(k)
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    # single source: qvt.yml never flags reverse items itself
    assert not any("reverse" in k or "inverse" in k for k in keys(methodology.load("qvt")))


def test_reverse_code_is_six_minus_x():
    out = qs.reverse_code(pd.array([1, 2, 5, None], dtype="Int64"), 1, 5)
    assert out.iloc[:3].tolist() == [5.0, 4.0, 1.0]
    assert math.isnan(out.iloc[3])


def test_prorated_mean_needs_the_minimum_share():
    items = pd.DataFrame({"a": [4, 4, np.nan, 5, 5], "b": [2, np.nan, np.nan, 3, np.nan],
                          "c": [3, np.nan, np.nan, np.nan, np.nan]}, dtype="float64")
    s = qs.prorated_mean(items, 0.5)
    # row 0: (4+2+3)/3 = 3; row 1: 1/3 answered < half -> NaN; row 2: none;
    # row 3: 2/3 answered -> (5+3)/2 = 4; row 4: 1/3 -> NaN
    assert s.iloc[0] == 3.0 and s.iloc[3] == 4.0
    assert s.iloc[[1, 2, 4]].isna().all()
    # two-item scale: one item answered is exactly half -> scored
    two = pd.DataFrame({"a": [4.0], "b": [np.nan]})
    assert qs.prorated_mean(two, 0.5).iloc[0] == 4.0
    assert math.isnan(qs.prorated_mean(two, 0.75).iloc[0])


def test_dimension_scores_recode_reverse_items_before_averaging():
    q = pd.DataFrame({
        "qvt_sante_1": pd.array([4, 5, None], dtype="Int64"),
        "qvt_sante_2": pd.array([2, 5, 1], dtype="Int64"),  # reverse-worded: 2 -> 4, 5 -> 1, 1 -> 5
        "qvt_relations_1": pd.array([3, 1, None], dtype="Int64"),
        "qvt_relations_2": pd.array([5, None, None], dtype="Int64"),
    })
    s = qs.dimension_scores(q)
    assert s["sante"].tolist() == [4.0, 3.0, 5.0]  # (4+4)/2, (5+1)/2, prorated 5
    assert s["relations"].iloc[0] == 4.0 and s["relations"].iloc[1] == 1.0
    assert math.isnan(s["relations"].iloc[2])
    assert s["autonomie"].isna().all()  # items not asked -> no score


def test_who5_raw_sum_times_four_and_missing_items():
    rows = [[5, 5, 5, 5, 5], [3, 2, 4, 1, 0], [3, 2, 4, 1, None]]
    q = pd.DataFrame({f"who5_{k + 1}": pd.array([r[k] for r in rows], dtype="Int64") for k in range(5)})
    s = qs.who5_score(q)
    assert s.iloc[0] == 100.0
    assert s.iloc[1] == 40.0  # (3+2+4+1+0) x 4
    assert math.isnan(s.iloc[2])  # all five items required by default
    spec = copy.deepcopy(qs.load_spec())
    spec["who5"]["part_min_items"] = 0.8
    assert qs.who5_score(q, spec).iloc[2] == 50.0  # mean 2.5 x 5 x 4


def test_agrees_threshold_on_two_item_means():
    a = qs.agrees(pd.Series([3.5, 4.0, 4.5, np.nan]), 4)
    assert a.iloc[:3].tolist() == [False, True, True]
    assert pd.isna(a.iloc[3])


def test_seniority_bands_and_unlinked_respondents():
    ent = pd.DataFrame({"id": pd.array(["a", "b", "c", "d"], dtype="string"),
                        "date_entree": pd.to_datetime(["2019-06-30", "2016-01-01", "2010-01-01", "2017-12-31"]),
                        "statut": pd.array(["cape", "cesa", "associe", "cesa"], dtype="string"),
                        "genre": pd.array(["F", "H", "F", "nr"], dtype="string")})
    q = pd.DataFrame({"id": pd.array(["a", "b", "c", "d", None, "zz"], dtype="string")})
    g = qs.link_groups(q, ent, "2019-12-31")
    # 0.5 y, 4 y less a day, 10 y less a day, exactly 2 calendar years (>= 2: second band)
    assert g["anciennete"].tolist() == ["moins_2", "2_5", "5_plus", "2_5", "non_relie", "non_relie"]
    assert g["anciennete_annees"].iloc[1] == pytest.approx(3 + 364 / 365)  # 2016-01-01 -> 2019-12-31
    assert g["anciennete_annees"].iloc[3] == pytest.approx(2.0)
    # 2019-06-30 -> 2019-12-31: 184 days of a 366-day year (to 2020-06-30)
    assert g["anciennete_annees"].iloc[0] == pytest.approx(184 / 366)
    assert g["relie"].tolist() == [True, True, True, True, False, False]
    assert g["statut"].iloc[:4].tolist() == ["cape", "cesa", "associe", "cesa"]
    assert g["statut"].iloc[4:].isna().all() and g["genre"].iloc[4:].isna().all()


def test_score_respondents_carries_pseudonymous_ids_only():
    q = pd.DataFrame({"id": pd.array(["a", None], dtype="string"),
                      "qvt_sante_1": pd.array([4, 2], dtype="Int64"), "commentaire_x": ["x", "y"]})
    ent = pd.DataFrame({"id": pd.array(["a"], dtype="string"), "date_entree": pd.to_datetime(["2018-01-01"]),
                        "statut": pd.array(["cape"], dtype="string"), "genre": pd.array(["F"], dtype="string")})
    s = qs.score_respondents(q, ent, "2019-12-31", cae="demo")
    assert "commentaire_x" not in s.columns
    assert set(qs.dimensions()) | {"who5", "cae", "id", "statut", "genre", "anciennete"} <= set(s.columns)
    assert s["sante"].tolist() == [4.0, 2.0]
