"""The command line as CAE staff meet it (issue 16): French help and usage
errors with exit code 2, every data/raw folder a CAE or reported, validate
writing its reports, demo --supprimer, the --cae national scope, live
progress, the end-of-run lines, make help and make report's last line.

Expected strings are the French wording written out by hand."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from _intake_helpers import make_cae
from analysis import cli
from analysis.pipeline import runner

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ["usage:", "show this help", "invalid choice", "the following arguments", "unrecognized arguments",
           "expected one argument", "error:", "positional arguments", "options:"]
COMMANDS = ["demo", "templates", "validate", "run", "report", "endi-mapping"]


def _cli(capsys, *argv):
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv", [["--help"]] + [[c, "--help"] for c in COMMANDS])
def test_help_is_french(capsys, argv):
    code, out, err = _cli(capsys, *argv)
    assert code == 0
    assert out.startswith("utilisation : cae-impact")
    assert "-h, --help" in out and "afficher cette aide et quitter" in out and "\noptions :\n" in out
    assert "codes de sortie :\n  0  succès" in out
    assert not [w for w in ENGLISH if w in out], out


@pytest.mark.parametrize("argv, expected", [
    (["valider", "x"], "cae-impact : erreur : argument COMMANDE : choix invalide : « valider » (choix possibles : "
                       "« demo », « templates », « validate », « run », « report », « compare », « endi-mapping »)\n"
                       "Vouliez-vous dire « validate » ?\nAide : cae-impact --help\n"),
    (["runn"], "choix invalide : « runn »"),
    (["validate"], "cae-impact validate : erreur : argument(s) obligatoire(s) manquant(s) : DOSSIER\n"
                   "Aide : cae-impact validate --help\n"),
    (["run", "--bogus"], "cae-impact : erreur : argument(s) non reconnu(s) : --bogus"),
    (["run", "--jobs", "deux"], "cae-impact run : erreur : argument --jobs : valeur invalide : « deux » (nombre entier attendu)"),
    (["run", "--jobs"], "argument --jobs : une valeur est attendue"),
])
def test_usage_errors_are_french_and_exit_2(capsys, argv, expected):
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("utilisation : cae-impact")
    assert expected in err, err
    assert not [w for w in ENGLISH if w in err], err
    if argv == ["runn"]:
        assert "Vouliez-vous dire « run » ?" in err


def test_argparse_is_english_again_outside_the_cli():
    with cli.french():
        pass
    assert argparse_text() == "usage: "


def argparse_text():
    import argparse

    return argparse._("usage: ")


# --------------------------------------------------------------------------- data/raw folders
def test_every_folder_of_data_raw_is_a_cae_or_reported(tmp_path):
    raw = tmp_path / "raw"
    make_cae(raw, "ma-cae")
    make_cae(raw, "Ma CAE Occitanie")
    (raw / "vide").mkdir()
    (raw / "entrepreneurs.xlsx").write_bytes(b"x")
    (raw / ".gitkeep").write_text("")
    scan = runner.scan_raw(raw)
    assert scan.caes == ["ma-cae"] and scan.invalid == ["Ma CAE Occitanie"]
    assert scan.messages() == [
        "Dossier « Ma CAE Occitanie » ignoré : nom invalide ; renommez-le par exemple « ma-cae-occitanie » "
        "(lettres minuscules sans accents, chiffres et tirets).",
        "Fichier « entrepreneurs.xlsx » ignoré : les fichiers d'une CAE se déposent dans un dossier à son nom, "
        "data/raw/<nom-de-la-cae>/.",
        "Dossier « vide » ignoré : dossier vide (déposez-y cae.yml et les tables de la CAE).",
    ]
    assert runner.suggest_slug("Coopérative Œuvre & Co") == "cooperative-oeuvre-co"


def test_a_fresh_clones_data_raw_counts_as_empty(tmp_path):
    """A clone's data/raw holds the repository's README.md and .gitkeep only: `make report` must generate the demo
    there (`--demo-if-empty`), not report the README as a misplaced CAE file."""
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(ROOT / "data" / "raw" / "README.md", raw / "README.md")
    (raw / ".gitkeep").write_text("")
    scan = runner.scan_raw(raw)
    assert scan.caes == [] and scan.ignored == [] and scan.messages() == []
    (raw / "notes.md").write_text("x")  # any other loose file is still reported
    assert [m.split(" : ")[0] for m in runner.scan_raw(raw).messages()] == ["Fichier « notes.md » ignoré"]


def test_run_with_only_a_misnamed_folder_says_so_and_makes_no_demo(tmp_path, capsys):
    raw = tmp_path / "raw"
    make_cae(raw, "Ma CAE Occitanie")
    code, out, err = _cli(capsys, "run", "--demo-if-empty", "--raw", str(raw), "--out", str(tmp_path / "out"))
    assert code == 2
    assert "Dossier « Ma CAE Occitanie » ignoré : nom invalide ; renommez-le par exemple « ma-cae-occitanie »" in err
    assert f"cae-impact : erreur : aucune CAE dans {raw}." in err
    assert sorted(p.name for p in raw.iterdir()) == ["Ma CAE Occitanie"]  # no demo generated beside it


def test_unknown_cae_is_a_usage_error_listing_the_caes_present(tmp_path, capsys):
    raw = tmp_path / "raw"
    make_cae(raw, "cae-a")
    make_cae(raw, "cae-b")
    code, out, err = _cli(capsys, "run", "--cae", "does-not-exist", "--raw", str(raw), "--out", str(tmp_path / "out"))
    assert code == 2
    assert err.strip() == f"cae-impact : erreur : Dossier introuvable dans {raw} : « does-not-exist ». Dossiers présents : cae-a, cae-b."
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- validate
def test_validate_writes_its_reports_and_nothing_under_processed(tmp_path, capsys, monkeypatch):
    from analysis import config

    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    monkeypatch.setattr(config, "OUT_DIR", tmp_path / "outputs")
    d = make_cae(tmp_path / "raw", "ma-cae")
    code, out, err = _cli(capsys, "validate", str(d))
    assert code == 0, out + err
    html, csv = tmp_path / "outputs" / "ma-cae" / "validation.html", tmp_path / "outputs" / "ma-cae" / "validation.csv"
    assert out.splitlines()[0] == "ma-cae : valide — 0 erreur, 0 avertissement"
    assert f"  Rapport : {html}\n  Tableau : {csv}\n" in out
    assert html.read_text(encoding="utf-8").count("<html") == 1
    assert csv.read_text(encoding="utf-8-sig").splitlines()[1].startswith("aucun problème")
    assert not (tmp_path / "processed").exists()


def test_validate_checks_the_folder_name(tmp_path, capsys, monkeypatch):
    from analysis import config

    monkeypatch.setattr(config, "OUT_DIR", tmp_path / "outputs")
    d = make_cae(tmp_path / "raw", "Ma CAE Occitanie")
    code, out, err = _cli(capsys, "validate", str(d))
    assert code == 1
    assert out.splitlines()[0] == "Ma CAE Occitanie : ERREURS — 1 erreur, 0 avertissement"
    assert ("[erreur] Ma CAE Occitanie : Nom de dossier invalide : « cae-impact run » ne traitera pas ce dossier. "
            "→ Renommez-le par exemple « ma-cae-occitanie »") in out
    assert "  Aucun rapport écrit dans outputs/ : renommez d'abord le dossier, puis relancez la vérification." in out
    assert not (tmp_path / "outputs").exists()


def test_validate_missing_folder_is_a_usage_error(tmp_path, capsys):
    code, out, err = _cli(capsys, "validate", str(tmp_path / "nulle-part"))
    assert code == 2 and err.startswith("cae-impact : erreur : dossier introuvable :")


# --------------------------------------------------------------------------- demo --supprimer
def test_demo_supprimer_removes_the_demo_and_what_it_produced(tmp_path, capsys):
    from analysis.intake import demo

    raw, proc, out = tmp_path / "raw", tmp_path / "processed", tmp_path / "outputs"
    slugs = demo.generate(raw, n_cae=2, scale=0.2)
    for s in slugs:  # what a run leaves behind
        (proc / s).mkdir(parents=True)
        nom = next(p["nom"] for p in demo.PROFILES if p["slug"] == s)
        (proc / s / "cae.json").write_text(json.dumps({"nom": nom}), encoding="utf-8")
        (out / s).mkdir(parents=True)
        (out / s / "rapport.html").write_text("x")
    (out / "national").mkdir()
    (proc / "_national").mkdir()
    (out / "run_summary.json").write_text("{}")
    make_cae(raw, "ma-cae")
    (proc / "ma-cae").mkdir()
    (out / "ma-cae").mkdir()
    # a real CAE that happens to use a demo slug (its own name in cae.yml) is never deleted
    third = demo.PROFILES[2]["slug"]
    make_cae(raw, third)
    # and a demo whose raw folder was already removed by hand still loses its outputs
    lost = demo.PROFILES[3]
    (proc / lost["slug"]).mkdir()
    (proc / lost["slug"] / "cae.json").write_text(json.dumps({"nom": lost["nom"]}), encoding="utf-8")
    code, o, e = _cli(capsys, "demo", "--supprimer", "--raw", str(raw), "--processed", str(proc), "--out", str(out))
    assert code == 0
    assert sorted(p.name for p in raw.iterdir()) == sorted(["ma-cae", third])
    assert sorted(p.name for p in proc.iterdir()) == ["ma-cae"]
    assert sorted(p.name for p in out.iterdir()) == ["ma-cae"]
    assert o.startswith("Démonstration supprimée (10 éléments) :")  # 2×3 folders, processed of the 4th, 2 national, run summary
    assert "run_summary.json" not in [p.name for p in out.iterdir()]
    assert f"Laissé en place : {raw / third}" in e
    code, o, e = _cli(capsys, "demo", "--supprimer", "--raw", str(raw), "--processed", str(proc), "--out", str(out))
    assert code == 0 and o.strip() == "Aucune donnée de démonstration à supprimer."


# --------------------------------------------------------------------------- run: national scope, progress, lines
@pytest.fixture
def fake_stages(monkeypatch):
    """run_cae and run_national replaced by fakes that write what the real
    ones write for freshness (stamp, manifest), so run()'s selection logic
    is tested without notebooks."""
    calls = {"cae": [], "national": [], "order": []}

    def fake_run_cae(cae, raw_dir, processed_dir, out_dir, notebooks_dir, stages=None, events=None, export_html=True, fingerprint="", **_):
        events.put(("event", (cae, "lecture", "début"), {}))
        calls["order"].append(("emitted-before-return", list(calls["seen"])))
        (Path(processed_dir) / cae).mkdir(parents=True, exist_ok=True)
        (Path(processed_dir) / cae / "manifest.json").write_text("{}")
        if cae.startswith("casse"):
            events.put(("event", (cae, "lecture", "échec", 0.1, "DÉTAIL-DE-L-ERREUR"), {}))
            return runner.CaeResult(cae=cae, ok=False, error="DÉTAIL-DE-L-ERREUR",
                                    stages=[runner.StageResult("lecture", False, 0.1, "DÉTAIL-DE-L-ERREUR")])
        (Path(out_dir) / cae).mkdir(parents=True, exist_ok=True)
        (Path(out_dir) / cae / runner.STAMP).write_text(json.dumps({**(_.get("stamp") or {}), "fingerprint": fingerprint}))
        for nb in stages or runner.CAE_NOTEBOOKS:  # the executed notebooks a fresh stage keeps
            (Path(out_dir) / cae / f"{nb}.ipynb").touch()
        calls["cae"].append(cae)
        return runner.CaeResult(cae=cae, ok=True)

    def fake_national(caes, processed_dir, out_dir, notebooks_dir, progress, export_html=True, **_):
        calls["national"].append(list(caes))
        (Path(out_dir) / "national").mkdir(parents=True, exist_ok=True)
        return runner.CaeResult(cae="national", ok=True)

    calls["seen"] = []
    monkeypatch.setattr(runner, "run_cae", fake_run_cae)
    monkeypatch.setattr(runner, "run_national", fake_national)
    return calls


def _run(tmp_path, progress=None, **kw):
    return runner.run(raw_dir=tmp_path / "raw", processed_dir=tmp_path / "proc", out_dir=tmp_path / "out", jobs=1,
                      progress=progress or runner.Progress(quiet=True), **kw)


def test_cae_option_runs_the_national_step_on_every_processed_cae(tmp_path, fake_stages):
    for s in ("cae-a", "cae-b", "cae-c"):
        make_cae(tmp_path / "raw", s)
    _run(tmp_path)
    assert fake_stages["national"] == [["cae-a", "cae-b", "cae-c"]]
    (tmp_path / "raw" / "cae-b" / "cae.yml").write_text("nom: changé\n" + (tmp_path / "raw" / "cae-b" / "cae.yml").read_text())
    s = _run(tmp_path, caes=["cae-b"])
    assert fake_stages["cae"][-1] == "cae-b"
    assert fake_stages["national"][-1] == ["cae-a", "cae-b", "cae-c"]  # never cae-b alone
    assert s["national_skipped"] == ""


def test_cae_option_skips_the_national_step_and_says_so_when_another_cae_is_not_up_to_date(tmp_path, fake_stages, capsys, monkeypatch):
    for s in ("cae-a", "cae-b"):
        make_cae(tmp_path / "raw", s)
    _run(tmp_path, caes=["cae-a"])  # cae-b never processed
    assert fake_stages["national"] == []
    monkeypatch.setattr(cli, "_n", cli._n)
    code, out, err = _cli(capsys, "run", "--cae", "cae-a", "--raw", str(tmp_path / "raw"),
                          "--processed", str(tmp_path / "proc"), "--out", str(tmp_path / "out"), "--jobs", "1")
    assert code == 0
    assert (f"Synthèse nationale non refaite : elle doit couvrir tous les dossiers de {tmp_path / 'raw'}, et « cae-b » "
            "n'est pas à jour. Lancez « make report » (ou « cae-impact run » sans --cae) pour la refaire.") in err
    assert fake_stages["national"] == []


def test_progress_lines_appear_as_stages_happen_for_a_single_cae(tmp_path, fake_stages):
    make_cae(tmp_path / "raw", "cae-a")
    seen = fake_stages["seen"]

    class Recorder(runner.Progress):
        def __call__(self, cae, stage, status, seconds=None, detail=""):
            seen.append((cae, stage, status))

    _run(tmp_path, progress=Recorder())
    # the fake recorded, right after emitting, that the line had already been shown
    ((label, shown),) = fake_stages["order"]
    assert label == "emitted-before-return" and shown[-1] == ("cae-a", "lecture", "début")


def test_end_of_run_lines_plurals_noop_and_errors_once(tmp_path, fake_stages, capsys):
    for s in ("cae-a", "cae-b", "casse-1"):
        make_cae(tmp_path / "raw", s)
    args = ["run", "--raw", str(tmp_path / "raw"), "--processed", str(tmp_path / "proc"), "--out", str(tmp_path / "out"), "--jobs", "1"]
    code, out, err = _cli(capsys, *args)
    assert code == 1
    assert f"\n2 CAE traitées, 1 en échec. Résultats : {tmp_path / 'out'}\n" in out
    assert (out + err).count("DÉTAIL-DE-L-ERREUR") == 1  # shown when it happened, not again at the end
    assert "✗ casse-1 : échec à l'étape « lecture » (détail ci-dessus ; rapport : " in err
    shutil.rmtree(tmp_path / "raw" / "casse-1")
    code, out, err = _cli(capsys, *args)
    assert code == 0
    assert out.strip().splitlines()[-1] == "Synthèse nationale à jour." or "Tout est à jour" in out
    assert f"Tout est à jour (2 CAE) : rien à refaire. Résultats : {tmp_path / 'out'}" in out
    assert "traitée(s)" not in out


def test_plural_helper():
    assert [cli._n(k, "erreur") for k in (0, 1, 2)] == ["0 erreur", "1 erreur", "2 erreurs"]
    assert cli._n(3, "CAE traitée", "CAE traitées") == "3 CAE traitées"


def test_failed_line_names_the_caes_left_out():
    summary = {"caes": [{"cae": "a", "ok": True}, {"cae": "b", "ok": False}], "invalid_folders": ["Ma CAE"], "national": {"ok": True}}
    assert cli.failed_line(summary) == ("Rapport assemblé sans b, « Ma CAE » (dossier mal nommé) : ces éléments ont "
                                        "échoué, voir les messages ci-dessus ; corrigez puis relancez « make report ».")
    assert cli.failed_line({"caes": [{"cae": "a", "ok": True}], "national": {"ok": True}}) == ""


# --------------------------------------------------------------------------- Makefile
def _make(*args, **env):
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_make_help_is_french():
    proc = _make("help")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == "Classeur CAE-IMPACT : make <cible>"
    targets = {re.sub(r"\x1b\[[0-9;]*m", "", x).split()[0]: x for x in lines[1:]}
    assert {"report", "run", "demo", "test", "clean", "help"} <= set(targets)
    english = re.compile(r"\b(the|run every|list|remove|open|measure|create|also)\b")
    assert not [x for x in lines if english.search(re.sub(r"\x1b\[[0-9;]*m", "", x))], lines


def test_make_report_assembles_the_book_after_a_failed_cae_and_ends_on_a_french_line(tmp_path):
    """The recipe with a stand-in cae-impact: run fails (exit 1), the book is
    still assembled, the last line is French and names the failed CAE."""
    log = tmp_path / "log"
    fake = tmp_path / "bin" / "cae-impact"
    fake.parent.mkdir()
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {log}\n'
        'if [ "$1" = run ] && [ "$2" = --bilan ]; then echo "Rapport assemblé sans cae-cassee : ..." >&2; exit 0; fi\n'
        'if [ "$1" = run ]; then exit "${FAKE_RC:-1}"; fi\n'
        "exit 0\n")
    fake.chmod(0o755)
    proc = _make("report", f"BIN={fake.parent}")
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines() == ["run --demo-if-empty", "report", "run --bilan"]
    assert proc.stderr.strip().splitlines()[-1] == "Rapport assemblé sans cae-cassee : ..."
    assert "Error" not in proc.stderr and "Erreur" not in proc.stderr
    log.unlink()
    proc = _make("report", f"BIN={fake.parent}", FAKE_RC="2")  # a usage error stops before the book
    assert proc.returncode != 0 and log.read_text().splitlines() == ["run --demo-if-empty"]


def test_validate_on_data_raw_itself_points_to_one_cae_folder(tmp_path, capsys):
    make_cae(tmp_path / "raw", "ma-cae")
    code, out, err = _cli(capsys, "validate", str(tmp_path / "raw"))
    assert code == 2
    assert err.strip() == (f"cae-impact : erreur : {tmp_path / 'raw'} contient les dossiers de plusieurs CAE : "
                           f"indiquez le dossier d'une CAE, par exemple {tmp_path / 'raw' / 'ma-cae'}.")


def test_an_unexpected_failure_is_one_french_line(tmp_path, capsys, monkeypatch):
    from analysis.intake import templates

    def boom(_dir):
        raise PermissionError("accès refusé")

    monkeypatch.setattr(templates, "write_templates", boom)
    monkeypatch.delenv("CAE_IMPACT_DEBUG", raising=False)
    code, out, err = _cli(capsys, "templates", str(tmp_path / "m"))
    assert code == 1 and "Traceback" not in err
    assert err.startswith("cae-impact : erreur inattendue (PermissionError : accès refusé).")
