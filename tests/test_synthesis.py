"""Summary and national display helpers, on small hand-made tables."""

from __future__ import annotations

import pandas as pd

from analysis.reporting import synthesis


def _ind(cae, value, suppressed, indicator="f1_femmes", unit="part"):
    return pd.DataFrame([{"cae": cae, "family": "F1", "indicator": indicator, "label": "Part de femmes",
                          "breakdown": None, "unit": unit, "value": value, "suppressed": suppressed}])


def test_wide_table_tells_suppressed_from_not_measured():
    a = _ind("CAE A", 0.5, False)
    b = _ind("CAE B", None, True)  # hidden by statistical secret
    c = _ind("CAE C", 0.25, False, indicator="f2_autre")  # CAE A and B never measured f2_autre
    nat = pd.concat([_ind("Réseau", 0.4, False), _ind("Réseau", 0.25, False, indicator="f2_autre")])
    wide = synthesis.indicators_wide_fr([a, b, c], nat).set_index("Indicateur")
    row = wide.iloc[0]
    assert row["CAE A"] == "50,0\u00a0%" and row["CAE B"] == "masqué" and row["CAE C"] == "–"
    assert wide.iloc[1]["CAE A"] == "–" and wide.iloc[1]["CAE C"] == "25,0\u00a0%"


def test_network_totals_suppress_small_counts():
    totals = pd.DataFrame({"CAE": ["A", "B"], "Personnes accompagnées": [40, 3], "Répondants": [20, 0],
                           "Chiffre d'affaires de la dernière année (€)": [1234.0, 10.0]})
    totals["Taux de réponse"] = totals["Répondants"] / totals["Personnes accompagnées"]
    out = synthesis.network_totals_fr(totals)
    assert out.loc[0, "Personnes accompagnées"] == "40" and out.loc[1, "Personnes accompagnées"] == "masqué"
    assert out.loc[1, "Répondants"] == "0"  # zero is publishable
    assert out.loc[0, "Chiffre d'affaires de la dernière année (€)"] == "1\u202f234\u00a0€"


def test_count_fr_hides_counts_under_the_threshold():
    assert synthesis.count_fr(0) == "0" and synthesis.count_fr(4) == "moins de 5" and synthesis.count_fr(1250) == "1\u202f250"


def test_sroi_sentence_quotes_the_interval():
    resume = pd.DataFrame([{"valeur_actuelle": 2000.0, "intrants": 1000.0, "ratio": 2.0, "ratio_net": 1.0}])
    mc = pd.DataFrame([{"tirages": 10000, "ratio_bas": 1.5, "ratio_haut": 2.5, "q_bas": 0.05, "q_haut": 0.95, "p_ratio_sup_1": 0.99}])
    text = synthesis.sroi_fr(resume, mc)
    assert "2,00\u00a0€" in text and "entre 1,50 et 2,50" in text and "90\u00a0%" in text and "99\u00a0%" in text


def test_sroi_by_cae_keeps_the_given_order_and_shows_default_coefficients():
    from analysis.reporting import synthesis as syn

    by = pd.DataFrame({"cae": ["b", "a"], "valeur_actuelle": [900.0, 2000.0], "intrants": [1000.0, 1000.0],
                       "ratio": [0.9, 2.0], "coefficients_par_defaut": [True, False]})
    out = syn.sroi_by_cae_fr(by, {"a": "CAE A", "b": "CAE B"})
    assert out["CAE"].tolist() == ["CAE B", "CAE A"]  # not ranked by ratio
    assert out["Poids mort et attribution"].tolist() == ["par défaut (sans questionnaire suffisant)", "mesurés par le questionnaire"]
    assert out["Ratio SROI"].tolist() == ["0,90", "2,00"]  # French headers, never result-file keys
    assert list(out.columns) == ["CAE", "Valeur actuelle", "Intrants", "Ratio SROI", "Poids mort et attribution"]


def test_sroi_sentence_says_when_the_ratio_rests_on_default_coefficients():
    resume = pd.DataFrame([{"valeur_actuelle": 2000.0, "intrants": 1000.0, "ratio": 2.0, "ratio_net": 1.0,
                            "coefficients_par_defaut": True}])
    assert "par défaut" in synthesis.sroi_fr(resume, None)
    assert "par défaut" not in synthesis.sroi_fr(resume.assign(coefficients_par_defaut=False), None)
