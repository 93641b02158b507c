"""Attack suite (issue #13): from every published output of a run, try to
recover a count from 1 to seuil_effectif − 1 — by subtraction from totals,
national minus the other CAEs, differences of n between tests on the same
respondents, values divided by published constants, and small counts in
sentences. The attacker (``tests/disclosure_attack.py``) reads only the
published files and the public method; it never calls the gate.

The first tests check that the attack does find leaks that are there (on
hand-made published tables whose hidden counts are known), so that the
end-to-end ones can fail.
"""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from tests import _hard_cae
from tests.disclosure_attack import Attack


def _write(root, cae, name, df):
    d = root / cae
    d.mkdir(parents=True, exist_ok=True)
    df.to_csv(d / f"{name}.csv", sep=";", decimal=",", index=False, encoding="utf-8-sig")


def _ind(cae, n, d, indicator="f1_rsa", partition=None, suppression=None):
    return {"cae": cae, "family": "F1", "indicator": indicator, "breakdown": None, "unit": "part",
            "value": (n / d) if n is not None and d else None, "n": n, "denominator": d, "partition": partition,
            "suppressed": n is None, "suppression": suppression}


# --------------------------------------------------------------------------- the attack finds real leaks


def test_attack_finds_national_minus_cae(tmp_path):
    # CAE a: 2 (hidden), b: 7, c: 9; the national 18 gives a's 2 back
    _write(tmp_path, "a", "indicateurs", pd.DataFrame([_ind("a", None, 20, suppression="effectif")]))
    _write(tmp_path, "b", "indicateurs", pd.DataFrame([_ind("b", 7, 30)]))
    _write(tmp_path, "c", "indicateurs", pd.DataFrame([_ind("c", 9, 40)]))
    _write(tmp_path, "_national", "indicateurs", pd.DataFrame([_ind("national", 18, 90)]))
    found = Attack(tmp_path).run()
    assert ("_national/indicateurs F1|f1_rsa|.n", "national − other CAEs", 2) in found


def test_attack_finds_a_partition_remainder_and_a_complement(tmp_path):
    rows = [_ind("a", 12, 20, "r_sortie", "sorties"), _ind("a", 5, 20, "r_sortie", "sorties"),
            _ind("a", None, 20, "r_sortie", "sorties", "effectif"),  # 20 − 12 − 5 = 3
            _ind("a", 38, 41, "f1_femmes")]  # 41 − 38 = 3 men
    _write(tmp_path, "a", "indicateurs", pd.DataFrame(rows))
    found = Attack(tmp_path).run()
    assert ("a/indicateurs partition sorties", "partition: total − shown", 3) in found
    assert ("a/indicateurs[3] f1_femmes", "complement: base − count", 3) in found


def test_attack_finds_counts_behind_missing_value_shares(tmp_path):
    # 40 entrepreneurs, 33 questionnaires: 1 skipped question (0.03 × 33), 3 exits (1 − 0.925 of 40),
    # and 40 − 2 missing genders − 35 shown women = 3 men hidden in the population margins
    _write(tmp_path, "a", "nettoyage_lignes", pd.DataFrame(
        {"Table": ["Entrepreneurs accompagnés", "Questionnaire aux entrepreneurs"], "Fichier": ["e.csv", "q.csv"],
         "Lignes lues": [40, 33], "Lignes écrites": [40, 33], "Colonnes écrites": [14, 38]}))
    _write(tmp_path, "a", "nettoyage_manquants", pd.DataFrame(
        {"table": ["questionnaire", "entrepreneurs", "entrepreneurs"], "colonne": ["who5_1", "date_sortie", "genre"],
         "part manquante": [0.030, 0.925, 0.05]}))
    _write(tmp_path, "a", "representativite", pd.DataFrame(
        {"variable": ["genre", "genre"], "category": ["femme", "homme"], "n_resp": [20, 10], "total_resp": [30, 30],
         "share_resp": [0.667, 0.333], "n_pop": [35, None], "share_pop": [None, None], "suppression": ["", ""]}))
    found = Attack(tmp_path).run()
    assert ("a/nettoyage_manquants[0] who5_1", "share × rows: missing", 1) in found
    assert ("a/nettoyage_manquants[1] date_sortie", "share × rows: given", 3) in found
    assert ("a/representativite genre population vs headcount − missing", "partition: total − shown", 3) in found


def test_attack_finds_test_sizes_and_value_divided_by_constants(tmp_path):
    _write(tmp_path, "a", "qvt_dimensions", pd.DataFrame([{"dimension": "sante", "n": 60, "share_n": 30,
                                                           "share_agree": 0.5}]))
    _write(tmp_path, "a", "qvt_comparisons", pd.DataFrame([
        {"dimension": "sante", "factor": "statut", "groups": "A (n = 30) ; B (n = 30)", "n": 60},
        {"dimension": "sante", "factor": "genre", "groups": "F (n = 38) ; H (n = 21)", "n": 59}]))
    # one SROI outcome of 3 people hidden; the total gives its value back:
    # 3 × 1 000 € × 0.8 × 0.75 × 1 / 1.035 (one year, discounted from year 1, rate 3.5 %)
    unit = 1000 * 0.8 * 0.75 / 1.035
    vm = pd.DataFrame([
        {"id": "o1", "code_partie_prenante": "etat", "unite_quantite": "personnes", "quantite": None,
         "valeur_actuelle": None, "proxy": "px", "proxy_valeur": 1000.0, "poids_mort": 0.2, "attribution": 0.25,
         "deplacement": 0.0, "erosion": 0.0, "duree": 1},
        {"id": "o2", "code_partie_prenante": "etat", "unite_quantite": "€", "quantite": 5000.0,
         "valeur_actuelle": 2000.0, "proxy": "euro", "proxy_valeur": 1.0, "poids_mort": 0.6, "attribution": 0.0,
         "deplacement": 0.0, "erosion": 0.0, "duree": 1}])
    _write(tmp_path, "a", "sroi_carte_valeur", vm)
    _write(tmp_path, "a", "sroi_resume", pd.DataFrame([{"valeur_actuelle": 2000.0 + 3 * unit, "intrants": 1e4}]))
    found = Attack(tmp_path).run()
    assert ("a/qvt_comparisons sante", "difference of test sizes", 1) in found
    assert ("a/sroi total", "SROI: (total − shown) ÷ constants", 3) in found


def test_attack_finds_a_small_count_in_a_sentence(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "rapport.html").write_text("<p>Elle a accompagné <b>4</b>&nbsp;personnes en 2019 ; 12 répondants.</p>",
                                      "utf-8")
    found = Attack(tmp_path / "processed", out).run()
    assert [f[2] for f in found] == [4]


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def hard_run(tmp_path_factory, pseudonym_key):
    """One demo CAE and the hard CAE of ``tests/_hard_cae.py``, run end to end."""
    from analysis.intake import demo
    from analysis.pipeline import runner

    root = tmp_path_factory.mktemp("hard")
    raw, processed, out = root / "raw", root / "processed", root / "out"
    demo.generate(raw, n_cae=1, seed=2019, scale=0.5)
    _hard_cae.write(raw)
    summary = runner.run(raw_dir=raw, processed_dir=processed, out_dir=out, jobs=2, progress=runner.Progress(quiet=True))
    return {"processed": processed, "out": out, "summary": summary}


@pytest.mark.e2e
def test_no_small_count_recoverable_on_the_demo(e2e_run):
    assert e2e_run["summary"]["ok"]
    assert Attack(e2e_run["processed"], e2e_run["out"]).run() == []


@pytest.mark.e2e
def test_no_small_count_recoverable_on_the_hard_cae(hard_run):
    assert hard_run["summary"]["ok"]
    processed = hard_run["processed"]
    # the run published the hard CAE and a national synthesis over both CAEs
    assert (processed / _hard_cae.SLUG / "indicateurs.csv").exists()
    assert (processed / "_national" / "indicateurs.csv").exists()
    assert Attack(processed, hard_run["out"]).run() == []


@pytest.mark.e2e
def test_hard_cae_hides_what_it_must(hard_run):
    """The cells that are small by construction are hidden, with plain French."""
    from tests.disclosure_attack import read_csv

    d = hard_run["processed"] / _hard_cae.SLUG
    rep = read_csv(d / "representativite.csv")
    genre = rep[rep["variable"] == "genre"].set_index("category")
    assert math.isnan(genre.loc["H", "n_pop"]) and math.isnan(genre.loc["autre", "n_pop"])  # 2 men, 1 "autre"
    vm = read_csv(d / "sroi_carte_valeur.csv").set_index("id")
    assert bool(vm.loc["rsa_evite", "masque"]) and math.isnan(vm.loc["rsa_evite", "valeur_actuelle"])  # 3 RSA
    assert "masqué : moins de 5 personnes" in vm.loc["rsa_evite", "note_quantite"]
    html = (hard_run["out"] / _hard_cae.SLUG).rglob("*.html")
    text = " ".join(p.read_text("utf-8", errors="replace") for p in html)
    assert "masqué : moins de 5 personnes" in text
    assert re.search(r"(<|&lt;)\s*5(?![\d\u202f,])", text) is None  # never the false "< 5"
