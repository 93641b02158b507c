"""The evaluator's loop (issue 14): per-stage fingerprints and selective
rerun, saved runs by method fingerprint, ``compare``, a method version that
cannot lie, and a method annex generated from the YAML."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from analysis.method import loader
from analysis.pipeline import registry, runner, runs
from analysis.reporting import compare, method_doc

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "notebooks"
PROXY_OLD = "    valeur: 600.0\n    min: 400.0"  # complementaire_sante in sroi.yml
PROXY_NEW = "    valeur: 750.0\n    min: 400.0"


def _method_copy(tmp_path: Path, name="meth") -> Path:
    d = tmp_path / name
    shutil.copytree(ROOT / "methodology", d)
    return d


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _change_indicator(meth: Path) -> None:
    _edit(meth / "indicators.yml",
          "    numerator: {column: situation_entree, in: [de_indemnise, de_non_indemnise]}",
          "    numerator: {column: situation_entree, in: [de_indemnise, de_non_indemnise, rsa]}")


# --------------------------------------------------------------------------
# fingerprints: which stage a change touches (no notebook executed)
# --------------------------------------------------------------------------
def _reasons(tmp_path, edit) -> tuple[dict, list[str]]:
    raw = tmp_path / "raw" / "x"
    raw.mkdir(parents=True)
    (raw / "cae.yml").write_text("nom: X\n", encoding="utf-8")
    before = runner.cae_stage_components(raw, NB, ROOT / "methodology", "html=True")
    meth = _method_copy(tmp_path)
    edit(meth)
    after = runner.cae_stage_components(raw, NB, meth, "html=True")
    per_stage = {n: runner.rerun_reasons(before[n], after[n]) for n in after}
    stamp = lambda comps: {"x": {n: {"fp": runner._fp(c)} for n, c in comps.items()}}
    nat = runner.rerun_reasons(runner.national_components(stamp(before), NB, ROOT / "methodology", "html=True"),
                               runner.national_components(stamp(after), NB, meth, "html=True"))
    return {n: r for n, r in per_stage.items() if r}, nat


def test_a_change_to_sroi_yml_touches_sroi_the_summary_and_the_nation_only(tmp_path):
    rerun, nat = _reasons(tmp_path, lambda m: _edit(m / "sroi.yml", PROXY_OLD, PROXY_NEW))
    assert set(rerun) == {"sroi", "synthese"}
    assert rerun["sroi"] == ["méthode modifiée : sroi.yml"]
    assert rerun["synthese"] == ["étape amont relancée : sroi"]
    assert nat[0] == "méthode modifiée : sroi.yml"


def test_an_indicator_change_touches_indicators_the_summary_and_the_nation_only(tmp_path):
    rerun, nat = _reasons(tmp_path, _change_indicator)
    assert set(rerun) == {"indicateurs", "synthese"}
    assert rerun["synthese"] == ["méthode modifiée : indicators.yml", "étape amont relancée : indicateurs"]
    assert "méthode modifiée : indicators.yml" in nat


def test_a_codebook_change_reruns_everything(tmp_path):
    rerun, _ = _reasons(tmp_path, lambda m: (m / "codebook.yml").write_text((m / "codebook.yml").read_text(encoding="utf-8") + "\n# x\n", encoding="utf-8"))
    assert set(rerun) == {s.name for s in registry.stages("lecture") + registry.cae_stages()}


def test_each_notebook_depends_on_the_package_source_it_imports():
    files = lambda nb: {p.relative_to(ROOT).as_posix() for p in runner.module_closure(runner.notebook_imports(NB / f"{nb}.ipynb"))}
    sroi, qvt = files("03_sroi"), files("04_qvt")
    assert {"analysis/sroi/valuation.py", "analysis/sroi/quantities.py", "analysis/pipeline/stages.yml"} <= sroi
    assert not any(f.startswith("analysis/qvt/") for f in sroi)
    # the QVT stage never depends on the SROI valuation; it reaches the SROI quantity rules only
    # through the methodology schemas, which check sroi.yml's rule names when any file is loaded
    assert "analysis/qvt/scores.py" in qvt and "analysis/sroi/valuation.py" not in qvt
    intake = {p.relative_to(ROOT).as_posix() for p in runner.module_closure({"analysis.intake.process"})}
    assert "analysis/intake/assets/validation.html.j2" in intake


# --------------------------------------------------------------------------
# a version that cannot lie
# --------------------------------------------------------------------------
def test_a_content_change_without_a_version_change_is_flagged(tmp_path):
    out = tmp_path / "out"
    processed = tmp_path / "processed"
    (processed / "a").mkdir(parents=True)
    runs.save_run(out, processed, ["a"], ROOT / "methodology", national=False)
    meth = _method_copy(tmp_path)
    assert runs.version_alerts(meth, out) == []  # same content
    _edit(meth / "sroi.yml", PROXY_OLD, PROXY_NEW)
    alerts = runs.version_alerts(meth, out)
    assert [a["file"] for a in alerts] == ["sroi.yml"]
    assert "sans changement de version" in alerts[0]["message"]
    assert alerts[0]["sha256"] == loader.sha256_file(meth / "sroi.yml")
    version = loader.load("sroi", meth)["version"]
    _edit(meth / "sroi.yml", f'version: "{version}"', f'version: "{version}.1"')
    assert runs.version_alerts(meth, out) == []  # the version now says it changed
    # the report shows each file's content fingerprint beside its version
    assert f"empreinte du contenu `{loader.sha256_file(meth / 'sroi.yml')[:12]}`" in method_doc.sroi_section(meth)


# --------------------------------------------------------------------------
# method changes in words
# --------------------------------------------------------------------------
def test_method_changes_are_stated_in_words_under_the_yaml_labels(tmp_path):
    meth = _method_copy(tmp_path)
    _edit(meth / "sroi.yml", PROXY_OLD, PROXY_NEW)
    _change_indicator(meth)
    changes = compare.method_changes(ROOT / "methodology", meth)
    texts = [c["texte"] for c in changes]
    assert len(changes) == 2, texts
    proxy = next(c for c in changes if c["fichier"] == "sroi.yml")
    assert "« Protection sociale obtenue : prime annuelle d'une complémentaire santé individuelle »" in proxy["objet"]
    assert (proxy["parametre"], proxy["avant"], proxy["apres"]) == ("valeur", "600", "750")
    ind = next(c for c in changes if c["fichier"] == "indicators.yml")
    assert "« Part de demandeurs d'emploi à l'entrée »" in ind["objet"] and ind["parametre"] == "numérateur"
    assert "Bénéficiaire du RSA" in ind["apres"] and "Bénéficiaire du RSA" not in ind["avant"]


def test_a_comment_only_change_is_said_to_change_no_value(tmp_path):
    meth = _method_copy(tmp_path)
    (meth / "qvt.yml").write_text((meth / "qvt.yml").read_text(encoding="utf-8") + "\n# note\n", encoding="utf-8")
    (c,) = compare.method_changes(ROOT / "methodology", meth)
    assert c["fichier"] == "qvt.yml" and c["nature"] == "mise en forme"


# --------------------------------------------------------------------------
# the annex is generated from the method
# --------------------------------------------------------------------------
def test_assumptions_state_the_value_the_method_uses(tmp_path):
    meth = _method_copy(tmp_path)
    text = method_doc.assumptions_section(meth)
    assert "{{" not in text and "600\u00a0€ par an (plage 400\u00a0€–900\u00a0€)" in text
    _edit(meth / "sroi.yml", PROXY_OLD, PROXY_NEW)
    assert "750\u00a0€ par an" in method_doc.assumptions_section(meth)
    assert "environ 600" not in (ROOT / "methodology" / "assumptions.yml").read_text(encoding="utf-8")


def test_every_placeholder_of_the_assumptions_log_resolves():
    log = loader.load("hypotheses")
    for e in log["entrees"]:
        method_doc.fill_values(e["texte"])  # raises on a reference to nothing


def test_indicator_definitions_in_words():
    spec = loader.load("indicateurs")
    ind = next(i for i in spec["indicators"] if i["id"] == "f1_femmes")
    assert method_doc.indicator_fr(ind) == (
        "Dans la table « entrepreneurs », part des lignes où « Genre » est « Femme », "
        "parmi celles où « Genre » est « Femme », « Homme » ou « Autre »."
    )
    by = next(i for i in spec["indicators"] if i.get("by"))
    assert "Une valeur par modalité de" in method_doc.indicator_fr(by)
    noted = {**ind, "definition": "Texte ajouté par le statisticien."}
    assert method_doc.indicator_fr(noted).endswith("Texte ajouté par le statisticien.")
    every = method_doc.indicators_section()
    for i in spec["indicators"]:
        assert f"(`{i['id']}`)" in every


def test_every_quantity_rule_has_a_french_reading():
    from analysis.sroi.quantities import RULES

    assert set(RULES) - {"declarative"} <= set(method_doc.QUANTITY_RULES_FR)
    vm = loader.load("sroi")
    text = method_doc.sroi_section()
    for r in vm["resultats"]:
        if r.get("actif", True):
            assert method_doc.quantity_fr(r["quantite"], vm) in text
    assert "« Bénéficiaire du RSA »" in method_doc.quantity_fr({"regle": "effectif_remunere_selon_entree", "situations": ["rsa"]}, vm)


# --------------------------------------------------------------------------
# end to end: the evaluator's loop on the 2-CAE demo
# --------------------------------------------------------------------------
def _loop(e2e_run, tmp_path, edit):
    """Copy the e2e run, change the method with ``edit``, rerun; return the
    run summary, its console output and the comparison with the original."""
    root = tmp_path / "loop"
    for name in ("raw", "processed", "out"):
        shutil.copytree(e2e_run[name], root / name)
    reference = runs.method_record(ROOT / "methodology")["empreinte"]
    assert (root / "out" / "runs" / reference / "run.json").exists(), "the first run was saved"
    meth = _method_copy(tmp_path)
    edit(meth)
    log = io.StringIO()
    summary = runner.run(raw_dir=root / "raw", processed_dir=root / "processed", out_dir=root / "out", jobs=2,
                         methodology_dir=meth, progress=runner.Progress(stream=log))
    assert summary["ok"], summary
    cmp, paths = compare.compare(reference, root / "raw", root / "processed", root / "out", meth,
                                 current=summary["execution_enregistree"])
    return summary, log.getvalue(), cmp, paths, root


@pytest.mark.e2e
def test_a_proxy_change_moves_exactly_the_sroi_rows_and_totals_it_feeds(e2e_run, tmp_path):
    summary, log, cmp, paths, root = _loop(e2e_run, tmp_path, lambda m: _edit(m / "sroi.yml", PROXY_OLD, PROXY_NEW))
    # only SROI, the summary and the nation reran, and the run said why
    for c in summary["caes"]:
        assert [s["stage"] for s in c["stages"]] == ["03_sroi", "05_synthese_cae"], c
    assert summary["national"]["ok"] and not summary["national"]["skipped"]
    assert "méthode modifiée : sroi.yml" in log and "lecture          début" not in log
    assert "en parallèle des CAE" in log  # the nation reads no table the SROI stage writes: it starts at once
    assert "sroi.yml : contenu modifié sans changement de version" in log  # version 1.0.0 both times
    assert [a["file"] for a in summary["alertes_version"]] == ["sroi.yml"]

    assert len(cmp.changes) == 1 and "600 → 750" in cmp.changes[0]["texte"]
    moved = cmp.moved
    assert set(moved["famille"]) == {"SROI"}, "no indicator and no QVT score moved"
    # the value map rows that moved are exactly the protection_sociale rows with a quantity
    before = compare.figures(Path(cmp.reference.path))
    carte = before[(before["tableau"] == "sroi_carte_valeur") & (before["mesure"] == "valeur actuelle")]
    fed = carte[carte["cle"].str.endswith("/protection_sociale") & (carte["valeur"] > 0)]
    moved_carte = moved[moved["tableau"] == "sroi_carte_valeur"]
    assert set(moved_carte["cle"]) == set(fed["cle"]) and len(fed) >= 2
    assert set(moved_carte["mesure"]) == {"valeur actuelle", "impact de l'année 1"}  # the quantity did not move
    # the value is linear in its proxy: after = before × 750 / 600
    va = moved_carte[moved_carte["mesure"] == "valeur actuelle"]
    assert (va["apres"] / va["avant"]).sub(750 / 600).abs().max() < 1e-9
    # each total moved by the sum of its rows' moves (per CAE)
    for unit in [c["cae"] for c in summary["caes"]]:
        delta = va[va["portee"] == unit]["ecart"].sum()
        total = moved[(moved["portee"] == unit) & (moved["tableau"] == "sroi_resume") & (moved["mesure"] == "valeur actuelle totale")]
        if delta == 0:  # every fed row of this CAE is masked (valued at zero when published): its total cannot move
            assert total.empty
            continue
        assert float(total["ecart"].iloc[0]) == pytest.approx(delta, rel=1e-9)
    assert {"sroi_resume", "sroi_parties_prenantes", "sroi_monte_carlo"} <= set(moved["tableau"])
    assert "national" in set(moved["portee"])
    # outputs: French HTML (escaped) and CSV with every figure
    html = paths["html"].read_text(encoding="utf-8")
    assert '<html lang="fr"' in html and "Protection sociale obtenue" in html and "&#x27;" in html
    csv = pd.read_csv(paths["csv"], sep=";", decimal=",", encoding="utf-8-sig")
    assert len(csv) == len(cmp.table) and set(csv["statut"]) == {"inchangé", "modifié"}


@pytest.mark.e2e
def test_an_indicator_definition_change_moves_that_indicator_only(e2e_run, tmp_path):
    summary, log, cmp, paths, root = _loop(e2e_run, tmp_path, _change_indicator)
    for c in summary["caes"]:
        assert [s["stage"] for s in c["stages"]] == ["02_indicateurs", "05_synthese_cae"], c
    assert "en parallèle des CAE" not in log  # the nation uses the indicators: it waits for them
    moved = cmp.moved
    assert set(moved["famille"]) == {"Indicateurs"} and set(moved["cle"]) == {"f1_demandeurs_emploi"}
    # the new share, worked out from the processed table by hand
    for c in summary["caes"]:
        ent = pd.read_parquet(root / "processed" / c["cae"] / "entrepreneurs.parquet")
        s = ent["situation_entree"].astype("string")
        den = s.notna() & (s != "nr")
        expected = float((s[den].isin(["de_indemnise", "de_non_indemnise", "rsa"])).sum() / den.sum())
        row = cmp.table[(cmp.table["portee"] == c["cae"]) & (cmp.table["cle"] == "f1_demandeurs_emploi")].iloc[0]
        if not row["masque"]:
            assert row["apres"] == pytest.approx(expected, abs=1e-12)
            if (s[den] == "rsa").any():
                assert row["statut"] == "modifié"
    # the book gets a « sensibilité à la méthode » section from the comparison
    md = compare.book_markdown(root / "out")
    assert md and "Part de demandeurs d'emploi à l'entrée" in md and "numérateur" in md


def test_a_git_revision_of_the_method_is_a_methodology_folder(tmp_path):
    dest = compare.git_methodology("HEAD", tmp_path / "m", repo=ROOT)
    for f in ("sroi.yml", "indicators.yml", "assumptions.yml"):
        assert (dest / f).read_bytes() == (ROOT / "methodology" / f).read_bytes()  # the worktree's method is committed
    assert compare.method_changes(dest, ROOT / "methodology") == []
    with pytest.raises(ValueError):
        compare.git_methodology("no-such-revision-xyz", tmp_path / "n", repo=ROOT)


def test_a_declarative_quantity_reads_step_by_step():
    # tiers-lieux sroi.yml, outcome temps_trajet_evite, written out by hand from its YAML and the codebook labels
    tl = ROOT / "profiles" / "tiers-lieux"
    vm = loader.load("sroi", tl)
    cb = loader.load("codebook", tl)
    q = next(r["quantite"] for r in vm["resultats"] if r["id"] == "temps_trajet_evite")
    text = method_doc.declarative_fr(q, vm, cb)
    col = cb["tables"]["questionnaire"]["columns"]["trajet_evite_minutes_semaine"]["label"]
    assert text.startswith(f"somme de « {col} » (table « {cb['tables']['questionnaire']['label']} »), pour « ")
    assert f"nulle avec moins de {vm['enquete']['min_repondants']} réponses valides" in text
    assert text.endswith("× semaines de présence par an (46 semaines par an) ÷ 60")
