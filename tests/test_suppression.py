"""Small-cell suppression (PROTOCOL §4): every expected pattern worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from analysis.publication.suppression import crosstab_mask, for_figure, publish, publish_crosstab, suppressed_note, thresholds

KW = dict(seuil_effectif=5, seuil_denominateur=10)


def test_thresholds_come_from_publication_yml():
    assert thresholds() == (5, 10)


def test_primary_small_count_hides_count_and_percentage_but_zero_is_shown():
    t = pd.DataFrame({"indicator": ["a", "b", "c"], "n": [3, 0, 20], "denominator": [50, 40, 40],
                      "value": [0.06, 0.0, 0.5], "ci_low": [0.02, 0.0, 0.35], "ci_high": [0.16, 0.09, 0.65],
                      "reference": [0.4, 0.4, 0.4]})
    p = publish(t, **KW)
    assert p["n"].isna().tolist() == [True, False, False]
    assert p["value"].isna().tolist() == [True, False, False]
    assert p["ci_low"].isna().tolist() == [True, False, False]
    assert p["suppressed"].tolist() == [True, False, False]
    assert p.loc[0, "suppression"] == "effectif"
    # the denominator (50) and the national reference are still shown
    assert p.loc[0, "denominator"] == 50 and p.loc[0, "reference"] == 0.4


def test_share_on_fewer_than_ten_people_is_hidden_but_its_counts_stay():
    # 9 of 9 (complement 0, nothing disclosed) but a share on 9 < 10 people
    t = pd.DataFrame({"n": [9, 6], "denominator": [9, 9], "value": [1.0, 6 / 9]})
    p = publish(t, **KW)
    assert p.loc[0, "suppressed"] and p.loc[0, "suppression"] == "denominateur"
    assert np.isnan(p.loc[0, "value"])
    assert p.loc[0, "n"] == 9 and p.loc[0, "denominator"] == 9
    # 6 of 9 would also reveal the 3 others: the count goes too
    assert pd.isna(p.loc[1, "n"]) and p.loc[1, "denominator"] == 9


def test_mean_without_denominator_uses_n_as_base():
    t = pd.DataFrame({"indicator": ["ca", "ca2"], "n": [8, 12], "value": [1000.0, 2000.0]})
    p = publish(t, denominator_col=None, **KW)
    assert p["suppressed"].tolist() == [True, False]


def test_two_category_split_complement_is_suppressed():
    # 98 women out of 100 reveals 2 other people: the row is hidden
    t = pd.DataFrame({"n": [98, 95], "denominator": [100, 100], "value": [0.98, 0.95]})
    p = publish(t, **KW)
    assert p["suppressed"].tolist() == [True, False]
    assert p.loc[0, "suppression"] == "complementaire"
    assert pd.isna(p.loc[0, "n"]) and p.loc[0, "denominator"] == 100


def test_partition_complementary_suppression_hides_the_smallest_other_cell():
    # exits by reason: 12 + 3 + 8 + 20 = 43 exits shown. Hiding 3 alone would
    # let it be recomputed as 43 - 12 - 8 - 20, so the next smallest (8) goes too.
    ex = pd.DataFrame({"motif": ["emploi", "creation", "formation", "abandon"], "n": [12, 3, 8, 20],
                       "denominator": [43] * 4, "value": [12 / 43, 3 / 43, 8 / 43, 20 / 43], "partition": ["s"] * 4})
    p = publish(ex, group_cols="partition", **KW)
    assert p["suppressed"].tolist() == [False, True, True, False]
    assert p["suppression"].tolist()[1:3] == ["effectif", "complementaire"]
    assert p["denominator"].tolist() == [43] * 4


def test_partition_two_small_cells_summing_under_threshold_need_a_third():
    # 1 + 2 = 3 hidden would still disclose a group of 3: hide 6 as well
    ex = pd.DataFrame({"n": [1, 2, 6, 30], "denominator": [39] * 4, "value": np.array([1, 2, 6, 30]) / 39, "g": ["x"] * 4})
    p = publish(ex, group_cols="g", **KW)
    assert p["suppressed"].tolist() == [True, True, True, False]


def test_crosstab_complementary_pattern_by_hand():
    #            F   H  | total
    # cape      10  12  |  22
    # cesa       2   8  |  10
    # associe    7   9  |  16
    # 2 is small -> row cesa needs a second cell: 8; column F then has one
    # hidden cell -> smallest shown non-zero of F: 7; column H -> 9; row
    # associe now has two hidden cells: stable.
    ct = pd.DataFrame({"F": [10, 2, 7], "H": [12, 8, 9]}, index=["cape", "cesa", "associe"])
    cells, rows, cols, grand = crosstab_mask(ct, seuil_effectif=5)
    expected = pd.DataFrame({"F": [False, True, True], "H": [False, True, True]}, index=ct.index)
    pd.testing.assert_frame_equal(cells, expected)
    assert not rows.any() and not cols.any() and not grand
    pub = publish(ct, **KW)  # dispatches to the crosstab rules
    assert pub.loc["Total", "Total"] == 48 and pd.isna(pub.loc["cesa", "F"]) and pub.loc["cape", "H"] == 12
    # every row and column of the published table has 0 or >= 2 hidden entries
    hidden = pub.isna()
    for line in list(hidden.itertuples(index=False)) + [hidden[c] for c in hidden]:
        assert sum(line) != 1


def test_crosstab_single_nonzero_line_hides_the_margin():
    ct = pd.DataFrame({"a": [3, 20], "b": [0, 30]}, index=["x", "y"])
    cells, rows, cols, grand = crosstab_mask(ct, seuil_effectif=5)
    # row x: 3 hidden, only a 0 left -> its total (3, small anyway) is hidden
    assert cells.loc["x", "a"] and rows["x"]


def test_crosstab_row_percentages_on_small_bases_hidden():
    ct = pd.DataFrame({"F": [6, 40], "H": [0, 60]}, index=["petit", "grand"])
    pct = publish_crosstab(ct, percent="row", **KW)
    assert pct.loc["petit"].isna().all()  # base 6 < 10
    assert pct.loc["grand", "F"] == pytest.approx(0.4)


def test_figure_helper_drops_suppressed_points_and_note():
    t = pd.DataFrame({"n": [3, 20], "denominator": [50, 40], "value": [0.06, 0.5]})
    p = publish(t, **KW)
    assert for_figure(p)["value"].tolist() == [0.5]
    assert suppressed_note(p).startswith("1 valeur masquée")


def test_generic_value_columns_default_to_float_columns():
    t = pd.DataFrame({"dimension": ["sante"], "annee": pd.array([2019], dtype="Int64"), "n": [4], "moyenne": [3.2], "ecart_type": [0.8]})
    p = publish(t, **KW)
    assert p.loc[0, "annee"] == 2019 and np.isnan(p.loc[0, "moyenne"]) and np.isnan(p.loc[0, "ecart_type"])


# --------------------------------------------------------------------------- one rule, plain French


def test_the_primary_rule_is_one_to_threshold_minus_one_and_survey_counts_are_rounded():
    from analysis.publication.suppression import count_fr, is_small, small

    assert is_small([0, 1, 4, 5, 12], 5).tolist() == [False, True, True, False, False]
    # a survey-scaled person count is a count: 4,4 people round to 4 (hidden), 4,6 to 5 (shown)
    assert small(4.4, 5) and not small(4.6, 5) and small(0.3, 5)
    assert not small(None) and not small(pd.NA)
    assert count_fr(5) == "5" and count_fr(4) == "moins de 5" and count_fr(0) == "0"


def test_hidden_cells_say_why_in_plain_french_with_the_thresholds_of_publication_yml():
    from analysis.publication.suppression import hidden_fr, mark_fr

    assert hidden_fr() == "masqué : moins de 5 personnes"
    assert mark_fr("effectif") == "masqué : moins de 5 personnes"
    assert mark_fr("denominateur") == "masqué : calculé sur moins de 10 personnes"
    assert "< 5" not in mark_fr("complementaire") and mark_fr("complementaire").startswith("masqué")


def test_two_small_cells_whose_sum_pins_both_need_a_third():
    # exits 20 = 12 + 4 + 4: hiding the two 4s leaves 8 = 2 × 4, and each hidden
    # cell is known to lie in 1..4, so both are 4; the 12 must go too
    t = pd.DataFrame({"n": [12, 4, 4], "denominator": [20, 20, 20], "value": [0.6, 0.2, 0.2], "partition": "x"})
    p = publish(t, group_cols="partition", complement=False, **KW)
    assert p["n"].isna().tolist() == [True, True, True]


# --------------------------------------------------------------------------- linked tables


def test_national_cell_hidden_when_one_cae_is_hidden():
    from analysis.publication.linked import protect_national_lines

    def tab(n, d):
        return pd.DataFrame({"family": ["F1"], "indicator": ["f1_rsa"], "breakdown": [None], "n": [n],
                             "denominator": [d], "value": [n / d]})

    raws = [tab(2, 20), tab(7, 30), tab(9, 40)]
    pubs = [publish(r, **KW) for r in raws]
    nat_raw = tab(18, 90)
    out = protect_national_lines(raws, pubs, nat_raw, publish(nat_raw, **KW), ["family", "indicator", "breakdown"],
                                 value_cols=["value"], seuil_effectif=5)
    # 18 − 7 − 9 = 2: the national count and share go; the national base (90) stays? no:
    # the line of bases is 20 + 30 + 40 = 90 with nothing hidden, but the row is hidden whole
    assert pd.isna(out.loc[0, "n"]) and np.isnan(out.loc[0, "value"]) and out.loc[0, "suppression"] == "complementaire"
    # with two hidden CAEs summing to 2 + 6 = 8 (6 hidden as complementary? no: 6 is shown) the rule is the same
    raws2 = [tab(7, 30), tab(9, 40), tab(6, 20)]
    nat2 = tab(22, 90)
    out2 = protect_national_lines(raws2, [publish(r, **KW) for r in raws2], nat2, publish(nat2, **KW),
                                  ["family", "indicator", "breakdown"], value_cols=["value"], seuil_effectif=5)
    assert out2.loc[0, "n"] == 22  # nothing hidden among the CAEs: nothing to protect


def test_population_margins_against_the_headcount():
    from analysis.publication.linked import protect_partition_total

    raw = pd.DataFrame({"variable": "genre", "category": ["F", "H", "autre", "nr"], "n_pop": [30, 10, 2, 0],
                        "share_pop": [30 / 42, 10 / 42, 2 / 42, 0.0], "suppressed": False,
                        "suppression": pd.array([None] * 4, dtype="string")})
    pub = raw.copy()
    pub.loc[2, ["n_pop", "share_pop"]] = [np.nan, np.nan]
    pub.loc[2, "suppressed"] = True
    # headcount 42 published elsewhere: 42 − 30 − 10 − 0 = 2; the smallest shown non-zero (H = 10) goes too
    out = protect_partition_total(pub, raw, "n_pop", "variable", 42, value_cols=["share_pop"], seuil_effectif=5)
    assert out["n_pop"].isna().tolist() == [False, True, True, False]
    assert out.loc[1, "suppression"] == "complementaire"


def test_tests_on_the_same_respondents():
    from analysis.publication.linked import protect_same_respondents

    t = pd.DataFrame({"dimension": ["sante"] * 3, "factor": ["statut", "anciennete", "genre"],
                      "groups": ["A (n = 30) ; B (n = 30)", "x (n = 20) ; y (n = 40)", "F (n = 38) ; H (n = 21)"],
                      "n": [60, 60, 59], "statistic": [1.0, 2.0, 3.0], "p": [0.5, 0.4, 0.3], "p_adj": [1.0, 1.0, 0.9],
                      "effect_size": [0.1, 0.2, 0.3], "suppressed": False})
    out = protect_same_respondents(t, {"sante": 60}, value_cols=["statistic", "p", "p_adj", "effect_size"],
                                   seuil_effectif=5)
    # 60 − 59 = 1 person of gender "autre": the gender test goes whole, the others stay
    assert out["n"].isna().tolist() == [False, False, True]
    assert np.isnan(out.loc[2, "effect_size"]) and "(n =" not in out.loc[2, "groups"]
    assert out.loc[0, "statistic"] == 1.0


def test_table_with_a_total_row():
    from analysis.publication.linked import protect_total_row

    t = pd.DataFrame({"CAE": ["A", "B", "C", "Réseau"], "Répondants": [20, 3, 12, 35]})
    out = protect_total_row(t, ["Répondants"], 3, seuil_effectif=5)
    # B (3) hidden; 35 − 20 − 12 = 3: the smallest other (C = 12) goes too
    assert out["Répondants"].isna().tolist() == [False, True, True, False]


def test_one_implementation_of_the_small_cell_rule():
    """Searching the code finds the comparison with the threshold in the gate only."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    # a comparison with a threshold, or a threshold read from publication.yml
    pat = re.compile(r"[<>]=?\s*(r\[[\"'])?(seuil_effectif|seuil_denominateur|se|sd)\b(?![)\"'])|"
                     r"\[\s*[\"']seuil_(effectif|denominateur)[\"']\s*\]|load\([\"']publication[\"']\)\s*\[")
    hits = []
    for p in list((root / "analysis").rglob("*.py")) + list((root / "notebooks").glob("*.ipynb")):
        if p.parent.name == "publication":
            continue
        for i, line in enumerate(p.read_text("utf-8").splitlines(), 1):
            if pat.search(line) and not line.lstrip().startswith(("#", '"', "'", "``")):
                hits.append(f"{p.relative_to(root)}:{i}: {line.strip()}")
    assert hits == []


def test_national_base_hidden_when_a_cae_base_is_hidden():
    from analysis.publication.linked import protect_national_lines

    def tab(n, d):
        return pd.DataFrame({"family": ["R"], "indicator": ["r_sortie_emploi"], "breakdown": [None], "n": [n],
                             "denominator": [d], "value": [n / d]})

    # CAE a: 1 exit (base hidden), CAE b: 7 exits, 3 to a job; national 4 of 8:
    # 8 − 7 = 1 gives a's base back, so the national base goes too
    raws = [tab(1, 1), tab(3, 7)]
    nat = tab(4, 8)
    out = protect_national_lines(raws, [publish(r, **KW) for r in raws], nat, publish(nat, **KW),
                                 ["family", "indicator", "breakdown"], value_cols=["value"], seuil_effectif=5)
    assert pd.isna(out.loc[0, "denominator"])


def test_national_lines_over_rows_some_caes_lack():
    """Two indicators over three CAEs, worked by hand: f1_rsa is a line over
    the CAEs that have it (a: 2 hidden, b: 9; c lacks the row), 11 − 9 = 2
    gives a's count back, so the national row goes; f1_femmes is not
    additive (the national 30 is not 12 + 15 + 0 = 27): no line, shown."""
    from analysis.publication.linked import protect_national_lines

    def row(ind, n, d):
        return {"family": "F1", "indicator": ind, "breakdown": None, "n": n, "denominator": d, "value": n / d}

    a = pd.DataFrame([row("f1_rsa", 2, 20), row("f1_femmes", 12, 20)])
    b = pd.DataFrame([row("f1_rsa", 9, 30), row("f1_femmes", 15, 30)])
    c = pd.DataFrame([row("f1_femmes", 0, 10)])
    nat = pd.DataFrame([row("f1_rsa", 11, 50), row("f1_femmes", 30, 60)])
    raws = [a, b, c]
    out = protect_national_lines(raws, [publish(r, **KW) for r in raws], nat, publish(nat, **KW),
                                 ["family", "indicator", "breakdown"], value_cols=["value"], seuil_effectif=5)
    assert pd.isna(out.loc[0, "n"]) and out.loc[0, "suppression"] == "complementaire"
    assert out.loc[1, "n"] == 30 and not out.loc[1, "suppressed"]
