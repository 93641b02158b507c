"""Quantity rules of the SROI value map and the contributions calculator.

Expected values are worked out by hand from the legal formula
(CSS art. D241-7) and from small tables counted by eye.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from analysis.sroi import contributions as ctb
from analysis.sroi import valuation as sroi
from analysis.intake.processed import CaeData
from analysis.sroi.quantities import RULES, Quantity, compute_quantity, period_activity

# A rate table written out here so that the hand computations below do not
# depend on the methodology file's current values.
CFG = {
    "taux_salarial": 0.22,
    "taux_patronal": 0.35,
    "majorations_patronales": [{"seuil_smic": 2.5, "taux": 0.06}, {"seuil_smic": 3.5, "taux": 0.018}],
    "seuil_reduction_smic": 1.6,
    "coefficient_T": {2019: 0.2950, 2020: 0.3245},
    "smic_horaire": {2019: 10.03, 2020: 10.15},
    "heures_temps_plein": 1820.04,
    "heures_manquantes": "smic",
}
SMIC_2019 = 10.03 * 1820.04  # 18 254.9 € for a full-time year


def vm_with(cfg=CFG, min_repondants=10):
    vm = copy.deepcopy(sroi.load_value_map())
    vm["cotisations"] = copy.deepcopy(cfg)
    vm["enquete"]["min_repondants"] = min_repondants
    return vm


def cae(ent_rows, act_rows, survey=None, periode=("2019-01-01", "2019-12-31")):
    ent = pd.DataFrame(ent_rows, columns=["id", "situation_entree", "date_sortie", "motif_sortie"])
    ent["id"] = ent["id"].astype("string")
    ent["situation_entree"] = ent["situation_entree"].astype("string")
    ent["motif_sortie"] = ent["motif_sortie"].astype("string")
    ent["date_sortie"] = pd.to_datetime(ent["date_sortie"])
    act = pd.DataFrame(act_rows, columns=["id", "annee", "chiffre_affaires", "remuneration_brute", "heures_remunerees"])
    act["id"] = act["id"].astype("string")
    act["annee"] = act["annee"].astype("Int64")
    for c in ("chiffre_affaires", "remuneration_brute", "heures_remunerees"):
        act[c] = act[c].astype("float64")
    info = {"slug": "t", "periode": {"debut": periode[0], "fin": periode[1]}, "ressources": {}}
    return CaeData("t", info, ent, act, survey, {})


# --------------------------------------------------------------------------
# contributions (réduction générale)
# --------------------------------------------------------------------------
class TestContributions:
    def test_full_time_at_smic_gets_the_maximal_reduction(self):
        # At 1 SMIC: C = (T/0.6)(1.6 × 1 − 1) = T = 0.2950 in 2019.
        er = ctb.employer_contributions([SMIC_2019], [2019], [1820.04], CFG)[0]
        assert er == pytest.approx(SMIC_2019 * (0.35 - 0.2950))
        assert ctb.employee_contributions([SMIC_2019], CFG)[0] == pytest.approx(0.22 * SMIC_2019)

    def test_two_smic_gets_no_reduction(self):
        # At 2 SMIC: C = (T/0.6)(0.8 − 1) < 0 → 0; 2 < 2.5 so no majoration.
        gross = 2 * SMIC_2019
        er = ctb.employer_contributions([gross], [2019], [1820.04], CFG)[0]
        assert er == pytest.approx(0.35 * gross)

    def test_between_smic_and_1_6_smic(self):
        # At 1.3 SMIC: C = 0.2950/0.6 × (1.6/1.3 − 1) = 0.113461…
        gross = 1.3 * SMIC_2019
        c = 0.2950 / 0.6 * (1.6 / 1.3 - 1)
        er = ctb.employer_contributions([gross], [2019], [1820.04], CFG)[0]
        assert er == pytest.approx(gross * (0.35 - c))
        assert c == pytest.approx(0.1134615, abs=1e-6)

    def test_majoration_above_2_5_smic(self):
        gross = 3 * SMIC_2019
        er = ctb.employer_contributions([gross], [2019], [1820.04], CFG)[0]
        assert er == pytest.approx(gross * (0.35 + 0.06))

    def test_part_time_compares_with_the_smic_of_the_hours_paid(self):
        # 900 h at 12 €/h: SMIC for 900 h = 9 027 €; ratio 10 800 / 9 027 = 1.1964.
        gross, hours = 900 * 12.0, 900.0
        c = 0.2950 / 0.6 * (1.6 * 900 * 10.03 / gross - 1)
        er = ctb.employer_contributions([gross], [2019], [hours], CFG)[0]
        assert er == pytest.approx(gross * (0.35 - c))

    def test_missing_hours_assume_hourly_smic_capped_at_full_time(self):
        # 5 000 € and no hours → paid at the SMIC → C = T.
        er = ctb.employer_contributions([5000.0], [2019], [np.nan], CFG)[0]
        assert er == pytest.approx(5000 * (0.35 - 0.2950))
        # 40 000 € → at most a full-time year → 40 000 / 18 254.9 = 2.19 SMIC → no reduction.
        er = ctb.employer_contributions([40000.0], [2019], [np.nan], CFG)[0]
        assert er == pytest.approx(40000 * 0.35)

    def test_full_time_mode_for_missing_hours(self):
        cfg = dict(CFG, heures_manquantes="temps_plein")
        gross = 1.3 * SMIC_2019
        c = 0.2950 / 0.6 * (1.6 / 1.3 - 1)
        assert ctb.employer_contributions([gross], [2019], [np.nan], cfg)[0] == pytest.approx(gross * (0.35 - c))

    def test_year_specific_T(self):
        gross = 10.15 * 1820.04  # 1 SMIC in 2020 → C = T(2020) = 0.3245
        er = ctb.employer_contributions([gross], [2020], [1820.04], CFG)[0]
        assert er == pytest.approx(gross * (0.35 - 0.3245))

    def test_zero_pay_gives_zero(self):
        assert ctb.employer_contributions([0.0], [2019], [np.nan], CFG)[0] == 0.0


# --------------------------------------------------------------------------
# quantity rules
# --------------------------------------------------------------------------
ENT = [
    ("a", "rsa", None, None),
    ("b", "rsa", "2019-05-01", "emploi_salarie"),
    ("c", "de_indemnise", "2018-12-31", "emploi_salarie"),  # exit before the period
    ("d", "de_indemnise", "2019-09-30", "creation_entreprise"),
    ("e", "salarie", "2019-10-01", "abandon"),
]
ACT = [
    ("a", 2019, 20000, 10000, np.nan),
    ("b", 2019, 5000, 0, np.nan),  # no pay
    ("b", 2018, 5000, 3000, np.nan),  # outside the period
    ("c", 2018, 8000, 4000, np.nan),
    ("d", 2019, 30000, 12000, np.nan),
    ("e", 2019, 1000, 500, np.nan),
]


class TestRules:
    def test_period_activity_keeps_the_period_years(self):
        d = cae(ENT, ACT)
        assert sorted(period_activity(d)["annee"].astype(int).unique()) == [2019]

    def test_net_pay(self):
        # 2019 gross pay: 10 000 + 0 + 12 000 + 500 = 22 500 → net 22 500 × 0.78 = 17 550.
        q = compute_quantity("remuneration_nette", cae(ENT, ACT), vm_with())
        assert float(q) == pytest.approx(17550.0)
        assert "22" in q.note

    def test_contributions_rule_sums_employee_and_employer(self):
        d = cae(ENT, ACT)
        q = compute_quantity("cotisations_sociales", d, vm_with())
        # Every 2019 pay is below a full-time SMIC, hours missing → paid at SMIC → C = T.
        gross = 22500.0
        assert float(q) == pytest.approx(gross * 0.22 + gross * (0.35 - 0.2950))

    def test_people_by_entry_situation_with_pay(self):
        d = cae(ENT, ACT)
        vm = vm_with()
        # rsa: a (paid 2019) yes, b (no 2019 pay) no → 1
        assert float(compute_quantity({"regle": "effectif_remunere_selon_entree", "situations": ["rsa"]}, d, vm)) == 1
        # de_indemnise: c (2018 only) no, d yes → 1 ; both lists → 2
        spec = {"regle": "effectif_remunere_selon_entree", "situations": ["rsa", "de_indemnise"]}
        assert float(compute_quantity(spec, d, vm)) == 2

    def test_exits_by_reason_within_the_period(self):
        d = cae(ENT, ACT)
        spec = {"regle": "sorties_selon_motif", "motifs": ["emploi_salarie", "creation_entreprise"]}
        # b (2019-05) and d (2019-09) count; c left in 2018; e left for "abandon".
        assert float(compute_quantity(spec, d, vm_with())) == 2

    def test_survey_share_scaled_to_population(self):
        survey = pd.DataFrame({"formation_suivie": pd.array(["oui", "oui", "non", "nr", None, "oui"], dtype="string")})
        d = cae(ENT, ACT, survey)
        spec = {"regle": "part_enquete_effectif", "question": "formation_suivie", "reponse": "oui", "exclure": ["nr"]}
        # valid answers: oui, oui, non, oui → 3/4 ; 5 entrepreneurs → 3.75
        q = compute_quantity(spec, d, vm_with(min_repondants=4))
        assert float(q) == pytest.approx(3.75)
        assert "représentatif" in q.note

    def test_survey_share_below_minimum_is_zero(self):
        survey = pd.DataFrame({"formation_suivie": pd.array(["oui", "oui", "non"], dtype="string")})
        spec = {"regle": "part_enquete_effectif", "question": "formation_suivie"}
        q = compute_quantity(spec, cae(ENT, ACT, survey), vm_with(min_repondants=4))
        assert float(q) == 0.0 and "Moins de 4" in q.note

    def test_no_survey_is_zero_with_a_note(self):
        q = compute_quantity({"regle": "part_enquete_effectif", "question": "droit_protection"}, cae(ENT, ACT), vm_with())
        assert float(q) == 0.0 and "Pas de questionnaire" in q.note

    def test_constant(self):
        q = compute_quantity({"regle": "constante", "valeur": 12}, cae(ENT, ACT), vm_with())
        assert isinstance(q, Quantity) and float(q) == 12.0

    def test_unknown_rule_is_a_clear_error(self):
        with pytest.raises(KeyError, match="Règle de quantité inconnue"):
            compute_quantity("pas_une_regle", cae(ENT, ACT), vm_with())

    def test_every_rule_named_in_the_methodology_exists(self):
        from analysis.sroi.quantities import rule_spec

        for o in sroi.load_value_map()["resultats"]:
            assert rule_spec(o["quantite"])[0] in RULES
