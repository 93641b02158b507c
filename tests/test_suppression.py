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
