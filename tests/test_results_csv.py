"""The published CSVs show each number as the report does.

Until 2026-12-01 the rounding was chosen per column from its largest value:
the indicators' ``value`` column holds shares and amounts, so every share
was written as 0 or 1 (24 women of 45 came out as « 1 »). The expected
values below are worked by hand.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.pipeline.results import csv_view


def test_a_share_next_to_an_amount_keeps_its_three_decimals():
    df = pd.DataFrame({"value": [24 / 45, 31250.4, 2.456, float("nan")], "ci_low": [0.3907, 28000.6, 1.9, None]})
    view = csv_view(df)
    assert view["valeur"].tolist()[:3] == [0.533, 31250.0, 2.46]
    assert pd.isna(view["valeur"].iloc[3])
    assert view["IC 95 % bas"].tolist()[:3] == [0.391, 28001.0, 1.9]


def test_a_column_of_amounts_is_written_as_integers():
    view = csv_view(pd.DataFrame({"montant": [180000.5, 1234.4, None]}))
    assert str(view["montant"].dtype) == "Int64"
    assert view["montant"].tolist()[:2] == [180000, 1234]


def test_yes_no_columns_read_in_french():
    view = csv_view(pd.DataFrame({"suppressed": [True, False], "flag": pd.array([True, None], dtype="boolean")}))
    assert view["masqué"].tolist() == ["oui", "non"]
    assert view["flag"].iloc[0] == "oui" and pd.isna(view["flag"].iloc[1])


@pytest.mark.e2e
def test_published_shares_equal_their_published_counts(e2e_run):
    """Every shown share of the demo's indicator CSVs is its shown count over
    its shown base, to the 3 decimals printed (recomputed from the CSV)."""
    checked = 0
    for slug in e2e_run["slugs"]:
        df = pd.read_csv(e2e_run["processed"] / slug / "indicateurs.csv", sep=";", decimal=",", encoding="utf-8-sig")
        rows = df[(df["unité"] == "part") & df["valeur"].notna() & df["effectif"].notna() & df["dénominateur"].notna()]
        for _, r in rows.iterrows():
            assert r["valeur"] == pytest.approx(round(r["effectif"] / r["dénominateur"], 3), abs=1e-9), r["indicateur"]
            checked += 1
    assert checked >= 10


def test_every_result_column_has_a_french_header():
    """No CSV header of a declared result table is left in English or
    without its accents (a French reader opens these files)."""
    from analysis.pipeline import registry
    from analysis.pipeline.results import header_fr

    english = {"weighted", "coverage", "share", "value", "count", "low", "high", "mean", "defaut", "actualise",
               "omega", "suppressed", "suppression", "family", "indicator"}
    bad = []
    for name in registry.tables():
        for col in registry.table(name).columns:
            words = set(header_fr(col).replace("≤", " ").split())
            if words & english:
                bad.append(f"{name}.{col} → {header_fr(col)}")
    assert bad == []
