"""Study profiles (issue 17): the engine runs the tiers-lieux study from
files alone, and a copied profile with one more column and one more
indicator runs with no code change."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.method import profile as profiles

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def use_profile(monkeypatch):
    """Make a profile the run's one for the test only (restored afterwards)."""

    def activate(prof):
        monkeypatch.setenv("CAE_IMPACT_METHODOLOGY", str(prof.methodology_dir))
        return prof

    return activate


# ---------------------------------------------------------------- loader
def test_default_profile_is_the_cae_study_reading_methodology():
    prof = profiles.resolve("cae")
    assert prof.methodology_dir == (ROOT / "methodology").resolve()
    assert profiles.for_methodology(ROOT / "methodology").id == "cae"
    assert (prof.people_table, prof.description_file, prof.processed_description) == ("entrepreneurs", "cae.yml", "cae.json")


def test_tiers_lieux_profile_holds_its_own_methodology():
    prof = profiles.resolve("tiers-lieux")
    assert prof.methodology_dir == (ROOT / "profiles" / "tiers-lieux").resolve()
    assert (prof.people_table, prof.description_file, prof.activity_grain) == ("usagers", "lieu.yml", "structure_annee")
    assert prof.term("structure.le") == "le tiers-lieu"
    assert prof.anonymous_name(3) == "Tiers-lieu 3"


def test_unknown_profile_is_a_french_error():
    with pytest.raises(profiles.ProfileError, match="Profil inconnu"):
        profiles.resolve("n-existe-pas")


def test_summary_indicators_are_the_profile_en_bref_list():
    for name in ("cae", "tiers-lieux"):
        prof = profiles.resolve(name)
        spec = yaml.safe_load((prof.methodology_dir / "indicators.yml").read_text(encoding="utf-8"))
        assert spec["synthese"] == prof.get("rapport.en_bref"), name


def test_detect_reads_the_profile_key_and_refuses_two_studies(tmp_path):
    (tmp_path / "lieu-a").mkdir()
    (tmp_path / "lieu-a" / "lieu.yml").write_text("profil: tiers-lieux\nnom: A\n", encoding="utf-8")
    assert profiles.detect(tmp_path).id == "tiers-lieux"
    (tmp_path / "cae-b").mkdir()
    (tmp_path / "cae-b" / "cae.yml").write_text("nom: B\n", encoding="utf-8")
    with pytest.raises(profiles.ProfileError, match="plusieurs études"):
        profiles.detect(tmp_path)
    assert profiles.detect(tmp_path, slugs=["cae-b"]).id == "cae"


def test_a_methodology_copy_the_user_set_wins_over_the_detected_profiles_folder(tmp_path, monkeypatch):
    """The evaluator's loop: ``CAE_IMPACT_METHODOLOGY=<copy> cae-impact run`` on CAE folders must read the copy
    (a run once took the detected profile's own folder and said everything was up to date)."""
    raw = tmp_path / "raw"
    (raw / "cae-b").mkdir(parents=True)
    (raw / "cae-b" / "cae.yml").write_text("nom: B\n", encoding="utf-8")
    copy = tmp_path / "methode"
    shutil.copytree(ROOT / "methodology", copy)
    monkeypatch.delenv(profiles._ACTIVATED, raising=False)
    monkeypatch.setenv("CAE_IMPACT_METHODOLOGY", str(copy))
    prof = profiles.for_command(None, raw)
    assert prof.id == "cae" and prof.methodology_dir == copy.resolve()
    assert profiles.for_command("tiers-lieux", raw).methodology_dir == copy.resolve()  # the words, the user's method
    # what activate() wrote is not a user's choice: a later command in the same process detects again
    monkeypatch.setenv(profiles._ACTIVATED, str(copy.resolve()))
    monkeypatch.setenv("CAE_IMPACT_METHODOLOGY", str(copy.resolve()))
    assert profiles.for_command("tiers-lieux", raw).methodology_dir == (ROOT / "profiles" / "tiers-lieux").resolve()
    monkeypatch.delenv("CAE_IMPACT_METHODOLOGY")
    assert profiles.for_command(None, raw).methodology_dir == (ROOT / "methodology").resolve()


# ---------------------------------------------------------------- notebooks' words
def test_notebook_placeholders_are_filled_for_each_profile():
    import nbformat

    from analysis.pipeline.notebooks import prepare
    from analysis.reporting import wording

    for name in ("cae", "tiers-lieux"):
        prof = profiles.resolve(name)
        for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
            nb = prepare(nbformat.read(str(nb_path), as_version=4), prof.methodology_dir)
            nb = wording.fill_notebook(nb, prof)
            text = "".join(c.source for c in nb.cells)
            assert "{{" not in text, (name, nb_path.name)
            nbformat.validate(nb)
        nb = wording.fill_notebook(nbformat.read(str(ROOT / "notebooks" / "03_sroi.ipynb"), as_version=4), prof)
        text = "".join(c.source for c in nb.cells)
        assert f"créée par {prof.term('structure.le')} selon" in text


# ---------------------------------------------------------------- end to end
def _raw_ids(folder: Path, table: str) -> set[str]:
    """Identifiers as typed in a raw CSV/XLSX table (first column), read here without the engine."""
    csv_path, xlsx_path = folder / f"{table}.csv", folder / f"{table}.xlsx"
    if csv_path.exists():
        raw = csv_path.read_bytes()
        text = raw.decode("utf-8-sig") if raw.startswith(b"\xef\xbb\xbf") else raw.decode("cp1252")
        sep = ";" if text.splitlines()[0].count(";") else ","
        rows = list(csv.reader(text.splitlines(), delimiter=sep))
    else:
        from openpyxl import load_workbook

        ws = load_workbook(xlsx_path, read_only=True).worksheets[-1]
        rows = [[("" if v is None else str(v)) for v in r] for r in ws.iter_rows(values_only=True)]
    return {r[0].strip() for r in rows[1:] if r and r[0].strip()}


@pytest.mark.e2e
def test_tiers_lieux_run_from_files_alone(tmp_path, pseudonym_key, use_profile, capsys):
    """``cae-impact run --profil tiers-lieux --demo-if-empty`` on a fresh folder
    (three places, one without survey) plus a copy of a place with a planted
    error: French validation with file, line, column and fix; the others
    run to a report each and a national synthesis; no raw id in any output;
    small counts hidden."""
    from analysis import cli
    from analysis.intake import demo_profile

    prof = use_profile(profiles.resolve("tiers-lieux"))
    raw, processed, out = tmp_path / "raw", tmp_path / "processed", tmp_path / "out"
    demo_profile.generate(raw, prof, n=4, scale=0.3)
    shutil.rmtree(raw / "demo-friche-culturelle")  # keep: xlsx + survey, csv + survey, csv_fr without survey
    # planted error: an arrival date that is not a date, in a copy of the coworking place
    bad = raw / "demo-erreur"
    shutil.copytree(raw / "demo-cowork-gare", bad)
    src = (bad / "usagers.csv").read_bytes().decode("cp1252").split("\r\n")
    cells = src[3].split(";")
    cells[1] = "31/02/2023"
    src[3] = ";".join(cells)
    (bad / "usagers.csv").write_bytes("\r\n".join(src).encode("cp1252"))

    code = cli.main(["run", "--profil", "tiers-lieux", "--demo-if-empty", "--raw", str(raw), "--processed", str(processed),
                     "--out", str(out), "--jobs", "2", "--no-html"])
    assert code == 1  # one place in error, the others processed
    summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
    status = {c["cae"]: c["ok"] for c in summary["caes"]}
    assert status == {"demo-cowork-gare": True, "demo-erreur": False, "demo-fabrique-vallee": True, "demo-tiers-lieu-bourg": True}
    assert summary["national"]["ok"]

    # French validation of the planted error: file, spreadsheet line (header = 1, so data row 3 = line 4), column, fix
    val = pd.read_csv(out / "demo-erreur" / "validation.csv", sep=";", encoding="utf-8-sig", dtype=str)
    err = val[(val["Gravité"] == "erreur") & (val["Fichier"] == "usagers.csv")]
    assert len(err) == 1
    e = err.iloc[0]
    assert (e["Ligne"], e["Colonne"], e["Valeur"]) == ("4", "Date d'arrivée", "31/02/2023")
    assert e["Correction"]  # a French fix is given
    assert not (processed / "demo-erreur").exists()

    # every place has its report notebooks and its processed description file
    for slug in ("demo-cowork-gare", "demo-fabrique-vallee", "demo-tiers-lieu-bourg"):
        for stem in ("01_nettoyage", "02_indicateurs", "03_sroi", "04_qvt", "05_synthese_cae"):
            assert (out / slug / f"{stem}.ipynb").exists(), (slug, stem)
        assert json.loads((processed / slug / "lieu.json").read_text(encoding="utf-8"))["profil"] == "tiers-lieux"
        assert (processed / slug / "usagers.parquet").exists()
    assert not (processed / "demo-tiers-lieu-bourg" / "questionnaire.parquet").exists()

    # pseudonymisation: no raw identifier anywhere in processed data or outputs
    raw_ids = set()
    for slug in ("demo-cowork-gare", "demo-fabrique-vallee", "demo-tiers-lieu-bourg"):
        raw_ids |= _raw_ids(raw / slug, "usagers")
    assert len(raw_ids) > 30
    for p in list(processed.rglob("*")) + list(out.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
            values = {str(v) for c in df.columns if df[c].dtype == object or str(df[c].dtype) in ("string", "str") for v in df[c].dropna()}
            assert not (values & raw_ids), p
        elif p.suffix in (".csv", ".json", ".ipynb", ".html", ".md", ".txt"):
            text = p.read_text(encoding="utf-8-sig", errors="replace")
            leaked = [i for i in raw_ids if i in text and not i.isdigit()]
            assert not leaked, (p, leaked[:3])
    people = pd.read_parquet(processed / "demo-cowork-gare" / "usagers.parquet")
    assert people["id"].str.match(r"^p_[0-9a-f]{16}$").all()
    assert "annee_naissance" not in people and "tranche_age" in people

    # suppression: every published indicator row counting 1 to seuil_effectif - 1 people is hidden, and some exist
    seuil = int(yaml.safe_load((prof.methodology_dir / "publication.yml").read_text(encoding="utf-8"))["seuil_effectif"])
    small_seen = 0
    for slug in ("demo-cowork-gare", "demo-fabrique-vallee", "demo-tiers-lieu-bourg", "_national"):
        t = pd.read_parquet(processed / slug / "indicateurs.parquet")
        raw_t = t  # published table: n itself may be hidden (NA) when small
        hidden = raw_t["suppressed"].astype(bool)
        small = raw_t["n"].notna() & (raw_t["n"] >= 1) & (raw_t["n"] < seuil)
        assert not small.any(), (slug, raw_t.loc[small, ["indicator", "breakdown", "n"]])  # a small n is never shown
        assert raw_t.loc[hidden, "value"].isna().all()
        small_seen += int(hidden.sum())
    assert small_seen > 0  # the small place and the breakdowns do hit the rule
    # a people total (personnes: true) of the place is shown only when 0 or >= seuil
    tot = pd.read_parquet(processed / "demo-fabrique-vallee" / "indicateurs.parquet").set_index("indicator")
    v = tot.loc["t3_personnes_formees", "value"]
    assert pd.isna(v) or v == 0 or v >= seuil

    # the book has one chapter per place, titled by the place and under the profile's part title
    from analysis.reporting import book

    report = tmp_path / "report"
    shutil.copytree(ROOT / "report", report, ignore=shutil.ignore_patterns("_book", "cae", "notebooks", "_generated", "_quarto.yml"))
    assert book.build(processed_dir=processed, out_dir=out, render=False, report_dir=report) == 0
    quarto = yaml.safe_load((report / "_quarto.yml").read_text(encoding="utf-8"))
    part = [c for c in quarto["book"]["chapters"] if isinstance(c, dict)][0]
    assert part["part"] == "Les tiers-lieux"
    assert sorted(Path(c["href"]).stem for c in part["chapters"]) == ["demo-cowork-gare", "demo-fabrique-vallee", "demo-tiers-lieu-bourg"]
    assert quarto["book"]["title"] == prof.get("livre.titre")


@pytest.mark.e2e
def test_a_copied_profile_with_a_new_column_and_indicator_runs_without_code(tmp_path, pseudonym_key, use_profile):
    """Copy the tiers-lieux profile, add an optional column to ``activite``
    and a ``total`` indicator reading it: the demo draws the column, intake
    validates it and the indicator equals the sum of the column over the
    period's years in the raw file (computed here from the CSV)."""
    from analysis.intake import demo_profile
    from analysis.pipeline import runner

    folder = tmp_path / "mon-profil"
    shutil.copytree(ROOT / "profiles" / "tiers-lieux", folder)
    cb = yaml.safe_load((folder / "codebook.yml").read_text(encoding="utf-8"))
    cb["tables"]["activite"]["columns"]["repas_servis"] = {
        "type": "integer", "min": 0, "max": 5000, "label": "Repas servis", "aliases": ["repas"]}
    (folder / "codebook.yml").write_text(yaml.safe_dump(cb, allow_unicode=True, sort_keys=False), encoding="utf-8")
    ind = yaml.safe_load((folder / "indicators.yml").read_text(encoding="utf-8"))
    ind["indicators"].append({"id": "t6_repas", "family": "T6", "label": "Repas servis sur la période", "kind": "total",
                              "table": "activite", "column": "repas_servis", "unit": "nombre",
                              "filter": {"all": [{"column": "annee", "ge": "$annee_debut"}, {"column": "annee", "le": "$annee_fin"}]}})
    (folder / "indicators.yml").write_text(yaml.safe_dump(ind, allow_unicode=True, sort_keys=False), encoding="utf-8")

    prof = use_profile(profiles.resolve(folder))
    assert prof.methodology_dir == folder.resolve()
    raw, processed, out = tmp_path / "raw", tmp_path / "processed", tmp_path / "out"
    slug = demo_profile.generate(raw, prof, n=2, scale=0.3)[1]  # the CSV (French Excel) place
    text = (raw / slug / "activite.csv").read_bytes().decode("cp1252").splitlines()
    rows = list(csv.reader(text, delimiter=";"))
    col = rows[0].index("Repas servis")
    period = yaml.safe_load((raw / slug / "lieu.yml").read_text(encoding="utf-8"))["periode"]
    y0, y1 = int(str(period["debut"])[:4]), int(str(period["fin"])[:4])
    expected = sum(int(r[col].replace("\u00a0", "").replace(" ", "")) for r in rows[1:] if r and y0 <= int(r[0]) <= y1)
    assert expected > 0

    summary = runner.run(caes=[slug], raw_dir=raw, processed_dir=processed, out_dir=out, jobs=1,
                         methodology_dir=prof.methodology_dir, national=False, export_html=False,
                         stages=["01_nettoyage", "02_indicateurs"], progress=runner.Progress(quiet=True))
    assert summary["ok"], summary
    t = pd.read_parquet(processed / slug / "indicateurs.parquet").set_index("indicator")
    assert t.loc["t6_repas", "value"] == expected
    assert t.loc["t6_repas", "kind"] == "total"


def test_structures_beside_the_census_hide_small_counts_only_when_anonymised(use_profile):
    """Three places: 2 associations, 1 SCIC. Named: counts 2 and 1 shown with
    shares 2/3 and 1/3 beside the census 51 % and 7 %; anonymised with
    seuil_effectif 5: both counts hidden (1 to 4 could name a place), zero kept."""
    from analysis.intake.processed import CaeData
    from analysis.reporting import synthesis

    use_profile(profiles.resolve("tiers-lieux"))
    empty = pd.DataFrame()
    datas = [CaeData(slug=f"l{i}", info={"forme_juridique": fj, "territoire": "rural"}, personnes=empty,
                     activite=empty, questionnaire=None, manifest={})
             for i, fj in enumerate(["association", "association", "scic"])]
    t = synthesis.structures_vs_reference(datas, anonymise=False).set_index(["cle", "code"])
    assert t.loc[("forme_juridique", "association"), "structures"] == 2
    assert t.loc[("forme_juridique", "association"), "part_structures"] == pytest.approx(2 / 3)
    assert t.loc[("forme_juridique", "association"), "part_nationale"] == 0.51
    assert t.loc[("forme_juridique", "scic"), "part_nationale"] == 0.07
    assert t.loc[("forme_juridique", "collectivite"), "structures"] == 0
    assert t.loc[("territoire", "rural"), "part_structures"] == 1.0
    a = synthesis.structures_vs_reference(datas, anonymise=True).set_index(["cle", "code"])
    assert pd.isna(a.loc[("forme_juridique", "association"), "structures"])
    assert pd.isna(a.loc[("forme_juridique", "scic"), "part_structures"])
    assert a.loc[("forme_juridique", "collectivite"), "structures"] == 0


def test_national_facts_cite_their_source(use_profile):
    prof = use_profile(profiles.resolve("tiers-lieux"))
    from analysis.reporting import synthesis

    md = synthesis.national_facts_md()
    facts = prof.get("rapport.reperes_nationaux")
    assert md.count("\n- ") + 1 == len(facts) and all(f["texte"] in md for f in facts)
    assert md.count("_Source : ") == len(facts)
    use_profile(profiles.resolve("cae"))
    assert synthesis.national_facts_md() == ""


@pytest.mark.e2e
def test_demo_if_empty_on_a_fresh_folder_generates_the_profile_demo(tmp_path, pseudonym_key, use_profile):
    """``run --profil tiers-lieux --demo-if-empty`` on an empty folder writes
    the profile's demo places (lieu.yml files naming the profile); one place
    is processed here (``--cae``) to keep the test short."""
    from analysis import cli

    use_profile(profiles.resolve("tiers-lieux"))
    raw, processed, out = tmp_path / "raw", tmp_path / "processed", tmp_path / "out"
    code = cli.main(["run", "--profil", "tiers-lieux", "--demo-if-empty", "--scale", "0.3", "--raw", str(raw),
                     "--processed", str(processed), "--out", str(out), "--jobs", "1", "--no-html", "--no-national",
                     "--cae", "demo-tiers-lieu-bourg"])
    assert code == 0
    demo = yaml.safe_load((ROOT / "profiles" / "tiers-lieux" / "demo.yml").read_text(encoding="utf-8"))
    assert sorted(p.name for p in raw.iterdir()) == sorted(s["slug"] for s in demo["lieux"])
    for d in raw.iterdir():
        assert yaml.safe_load((d / "lieu.yml").read_text(encoding="utf-8"))["profil"] == "tiers-lieux"
    assert (out / "demo-tiers-lieu-bourg" / "05_synthese_cae.ipynb").exists()
    assert json.loads((processed / "demo-tiers-lieu-bourg" / "lieu.json").read_text(encoding="utf-8"))["nom"] == "Démo Tiers-lieu du Bourg"
