"""Methodology files: declared schemas, French errors, loading from a copy of the method.

Expected messages are written by hand from the files' keys (a misspelt key is
named with the key it should be), not copied from the code's output.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml

from analysis import cli, config
from analysis.method import loader, schemas
from analysis.method.loader import MethodError
from analysis.sroi import valuation

SHIPPED = Path(__file__).resolve().parents[1] / "methodology"
PROFILES = Path(__file__).resolve().parents[1] / "profiles"
#: Every methodology file shipped, in the folder of each profile holding it
#: (the default profile's profile.yml sits in profiles/cae/, its method in methodology/).
SHIPPED_FILES = [(name, folder) for name in loader.FILES
                 for folder in (SHIPPED, PROFILES / "cae", PROFILES / "tiers-lieux")
                 if (folder / loader.FILES[name]).exists()]


@pytest.fixture
def method_copy(tmp_path) -> Path:
    d = tmp_path / "methode"
    shutil.copytree(SHIPPED, d)
    return d


def _edit(folder: Path, filename: str, change) -> None:
    path = folder / filename
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# One misspelling per file: (loader name, file, edit, misspelt dotted key, right key, right dotted key).
MISSPELT = [
    ("publication", "publication.yml", lambda d: _rename(d, "seuil_effectif", "seuil_efectif"),
     "seuil_efectif", "seuil_effectif", "seuil_effectif"),
    ("indicateurs", "indicators.yml", lambda d: _rename(d["indicators"][0], "numerator", "numerater"),
     "indicators[1 : f1_femmes].numerater", "numerator", "indicators[1 : f1_femmes].numerator"),
    ("sroi", "sroi.yml", lambda d: _rename(d["coefficients"]["poids_mort_activite"], "valeur", "valuer"),
     "coefficients.poids_mort_activite.valuer", "valeur", "coefficients.poids_mort_activite.valeur"),
    ("qvt", "qvt.yml", lambda d: _rename(d["echelle"], "seuil_accord", "seuil_acord"),
     "echelle.seuil_acord", "seuil_accord", "echelle.seuil_accord"),
    ("hypotheses", "assumptions.yml", lambda d: _rename(d["entrees"][0], "texte", "txte"),
     "entrees[1 : GEN-01].txte", "texte", "entrees[1 : GEN-01].texte"),
    ("codebook", "codebook.yml", lambda d: _rename(d["tables"]["entrepreneurs"]["columns"]["id"], "type", "typ"),
     "tables.entrepreneurs.columns.id.typ", "type", "tables.entrepreneurs.columns.id.type"),
    ("endi", "endi.yml", lambda d: _rename(d["listes"]["zone"], "libelle", "libele"),
     "listes.zone.libele", "libelle", "listes.zone.libelle"),
]


@pytest.mark.parametrize("name,folder", SHIPPED_FILES, ids=[f"{f.name}/{n}" for n, f in SHIPPED_FILES])
def test_shipped_files_match_their_schema(name, folder):
    data = yaml.safe_load((folder / loader.FILES[name]).read_text(encoding="utf-8"))
    assert schemas.problems(name, data) == []
    assert loader.load(name, folder)["version"] == str(data["version"])


def test_every_methodology_file_has_a_schema():
    assert set(schemas.SCHEMAS) == set(loader.FILES)
    assert {p.name for p in SHIPPED.glob("*.yml")} | {"profile.yml", "demo.yml"} == set(loader.FILES.values())
    tiers_lieux = {p.name for p in (PROFILES / "tiers-lieux").glob("*.yml")}
    assert tiers_lieux <= set(loader.FILES.values()) and "profile.yml" in tiers_lieux
    # every file a profile holds is checked above, in every profile
    assert {n for n, _ in SHIPPED_FILES} == set(loader.FILES)


def test_the_default_profile_file_is_found_beside_its_method():
    assert loader.path_of("profil", SHIPPED) == PROFILES / "cae" / "profile.yml"
    assert loader.versions(SHIPPED)["profil"]["file"] == "profile.yml"


@pytest.mark.parametrize("name,filename,edit,wrong,right,right_path", MISSPELT, ids=[m[0] for m in MISSPELT])
def test_misspelt_key_is_a_french_error_naming_file_and_key(method_copy, name, filename, edit, wrong, right, right_path):
    _edit(method_copy, filename, edit)
    with pytest.raises(MethodError) as exc:
        loader.load(name, method_copy)
    msg = str(exc.value)
    assert f"{filename}, clé « {wrong} » : clé inconnue — vouliez-vous dire « {right} » ?" in msg
    # the right key is now missing: both problems are listed at once
    assert f"{filename}, clé « {right_path} » : clé obligatoire absente" in msg
    assert "2 problème(s)" in msg and "Traceback" not in msg


@pytest.mark.parametrize("name", list(loader.FILES))
def test_missing_version_is_named(method_copy, name):
    if not (method_copy / loader.FILES[name]).exists():  # profile.yml, demo.yml: from the tiers-lieux profile
        shutil.copy(PROFILES / "tiers-lieux" / loader.FILES[name], method_copy)
    _edit(method_copy, loader.FILES[name], lambda d: d.pop("version"))
    with pytest.raises(MethodError) as exc:
        loader.load(name, method_copy)
    assert f"{loader.FILES[name]}, clé « version » : clé obligatoire absente" in str(exc.value)
    assert exc.value.problems == [(loader.FILES[name], "version", "clé obligatoire absente")]


def test_wrong_types_and_values_in_french(method_copy):
    def change(d):
        d["coefficients"]["poids_mort_activite"]["valeur"] = "0,2"
        d["parametres"]["loi"] = "normale"
        d["resultats"][3]["duree"] = 0

    _edit(method_copy, "sroi.yml", change)
    msg = str(pytest.raises(MethodError, loader.load, "sroi", method_copy).value)
    assert "sroi.yml, clé « coefficients.poids_mort_activite.valeur » : type attendu : nombre, reçu '0,2'" in msg
    assert "sroi.yml, clé « parametres.loi » : valeur 'normale' non prévue : choisir parmi « pert », « triangulaire »" in msg
    assert "sroi.yml, clé « resultats[4 : rsa_evite].duree » : valeur 0 : une valeur ≥ 1 est attendue" in msg


def test_unknown_indicator_kind_lists_the_kinds(method_copy):
    _edit(method_copy, "indicators.yml", lambda d: d["indicators"][1].update(kind="moyenne"))
    msg = str(pytest.raises(MethodError, loader.load, "indicateurs", method_copy).value)
    assert "indicators.yml, clé « indicators[2 : f1_demandeurs_emploi] » : valeur 'moyenne' non prévue" in msg
    assert "« share »" in msg and "« paired_diff »" in msg


def test_condition_needs_exactly_one_operator(method_copy):
    _edit(method_copy, "indicators.yml", lambda d: d["indicators"][0]["numerator"].update(eq="F"))
    msg = str(pytest.raises(MethodError, loader.load, "indicateurs", method_copy).value)
    assert "clé « indicators[1 : f1_femmes].numerator » : une condition sur une colonne demande exactement un opérateur" in msg


def test_cross_references_are_checked_with_schema_problems(method_copy):
    """A schema problem and a broken reference are reported together."""
    def change(d):
        d["coefficients"]["poids_mort_activite"].update(min=0.9, valeur=0.2, max=0.4)  # valeur < min
        d["resultats"][0]["proxy"] = "inconnu"

    _edit(method_copy, "sroi.yml", change)
    with pytest.raises(valuation.ValueMapError) as exc:  # SROI's own error is a MethodError
        valuation.load_value_map(method_copy)
    msg = str(exc.value)
    assert isinstance(exc.value, MethodError) and "2 problème(s)" in msg
    assert "sroi.yml, clé « coefficients.poids_mort_activite » : il faut min ≤ valeur ≤ max (ici 0.9 ; 0.2 ; 0.4)" in msg
    assert "sroi.yml, clé « resultats[1 : revenu_travail].proxy » : proxy « inconnu » inconnu" in msg


def test_range_kind_is_optional_and_checked(method_copy):
    def change(d):
        d["coefficients"]["poids_mort_activite"]["plage"] = "interquartile"
        d["proxys"]["rsa_annuel"]["plage"] = "quartiles"

    _edit(method_copy, "sroi.yml", change)
    msg = str(pytest.raises(MethodError, loader.load, "sroi", method_copy).value)
    assert "1 problème(s)" in msg and "clé « proxys.rsa_annuel.plage » : choisir parmi « bornes »" in msg


def test_a_copy_of_the_method_is_what_load_returns(method_copy, monkeypatch):
    def change(d):
        d["coefficients"]["poids_mort_activite"]["valeur"] = 0.3

    _edit(method_copy, "sroi.yml", change)
    _edit(method_copy, "publication.yml", lambda d: d.update(seuil_effectif=7))
    assert loader.load("sroi", method_copy)["coefficients"]["poids_mort_activite"]["valeur"] == 0.3
    shipped = yaml.safe_load((config.METHODOLOGY_DIR / "sroi.yml").read_text("utf-8"))
    assert loader.load("sroi")["coefficients"]["poids_mort_activite"]["valeur"] == shipped["coefficients"]["poids_mort_activite"]["valeur"] != 0.3
    assert valuation.load_value_map(method_copy)["coefficients"]["poids_mort_activite"]["valeur"] == 0.3
    assert loader.load("publication", method_copy)["seuil_effectif"] == 7
    # the folder set for a run (runner -> kernel environment) is read at call time, not at import
    monkeypatch.setenv("CAE_IMPACT_METHODOLOGY", str(method_copy))
    assert config.METHODOLOGY_DIR == method_copy.resolve()
    assert loader.load("publication")["seuil_effectif"] == 7
    monkeypatch.delenv("CAE_IMPACT_METHODOLOGY")
    assert loader.load("publication")["seuil_effectif"] == 5


def test_defaults_come_from_the_schema_and_absent_options_stay_absent(method_copy):
    def change(d):
        del d["niveau_confiance"]
        del d["graine"]

    _edit(method_copy, "publication.yml", change)
    pub = loader.load("publication", method_copy)
    assert pub["niveau_confiance"] == 0.95 and pub["graine"] == 0
    ind = {i["id"]: i for i in loader.load("indicateurs", method_copy)["indicators"]}
    assert "denominator" not in ind["f2_cesa"]          # absent: every row
    assert ind["f3_presence_1an"]["censor"] == ["$fin"]  # written in the file
    assert ind["r_ca_moyen"]["scale"] == 1               # schema default (no scale in the file)
    assert "scale" not in ind["f1_femmes"]               # a share has no scale
    vm = loader.load("sroi", method_copy)
    assert [o["actif"] for o in vm["resultats"]].count(False) == 1 and vm["cotisations"]["heures_manquantes"] == "smic"


def test_parsed_once_per_content_and_copies_handed_out(method_copy, monkeypatch):
    calls = []
    real = loader.read_yaml
    monkeypatch.setattr(loader, "read_yaml", lambda s: calls.append(1) or real(s))
    a = loader.load("qvt", method_copy)
    a["echelle"]["seuil_accord"] = 99
    b = loader.load("qvt", method_copy)
    assert len(calls) == 1 and b["echelle"]["seuil_accord"] == 4
    _edit(method_copy, "qvt.yml", lambda d: d["echelle"].update(seuil_accord=3))
    assert loader.load("qvt", method_copy)["echelle"]["seuil_accord"] == 3 and len(calls) == 2


def test_versions_give_version_and_content_hash(method_copy):
    v = loader.versions(method_copy)
    assert set(v) == set(loader.FILES) - {"demo"}  # a copy of methodology/: the default profile, no demo.yml
    raw = (method_copy / "sroi.yml").read_bytes()
    version = str(yaml.safe_load(raw)["version"])
    assert v["sroi"] == {"file": "sroi.yml", "version": version, "sha256": hashlib.sha256(raw).hexdigest()}
    (method_copy / "sroi.yml").write_bytes(raw + b"\n# a content change without a version change\n")
    after = loader.versions(method_copy)
    assert loader.content_changed_without_version(v, after) == ["sroi"]
    assert loader.content_changed_without_version(v, v) == []


def test_missing_file_is_a_french_error(tmp_path):
    with pytest.raises(FileNotFoundError) as exc:
        loader.load("qvt", tmp_path)
    assert isinstance(exc.value, MethodError) and "Fichier de méthodologie introuvable" in str(exc.value)


def test_cli_shows_the_french_error_without_traceback(method_copy, tmp_path, monkeypatch, capsys):
    _edit(method_copy, "codebook.yml", lambda d: _rename(d["tables"]["activite"], "columns", "colonnes"))
    monkeypatch.setenv("CAE_IMPACT_METHODOLOGY", str(method_copy))
    (tmp_path / "cae").mkdir()
    assert cli.main(["validate", str(tmp_path / "cae")]) == 1
    err = capsys.readouterr().err
    assert "codebook.yml, clé « tables.activite.colonnes » : clé inconnue — vouliez-vous dire « columns » ?" in err
    assert "Traceback" not in err


def test_run_stops_before_any_cae_listing_every_file(method_copy, tmp_path, monkeypatch):
    from analysis.pipeline import runner

    _edit(method_copy, "publication.yml", lambda d: _rename(d, "graine", "grain"))
    _edit(method_copy, "qvt.yml", lambda d: d["echelle"].update(max="5"))
    raw = tmp_path / "raw"
    (raw / "une-cae").mkdir(parents=True)
    monkeypatch.setenv("CAE_IMPACT_METHODOLOGY", str(SHIPPED))  # restored after the test (the runner sets it)
    with pytest.raises(MethodError) as exc:
        runner.run(raw_dir=raw, processed_dir=tmp_path / "p", out_dir=tmp_path / "o", methodology_dir=method_copy, jobs=1)
    msg = str(exc.value)
    assert "publication.yml, clé « grain » : clé inconnue — vouliez-vous dire « graine » ?" in msg
    assert "qvt.yml, clé « echelle.max » : type attendu : nombre entier, reçu '5'" in msg
    assert len(exc.value.problems) == 2 and not (tmp_path / "o").exists()  # graine has a default: not missing
