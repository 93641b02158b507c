"""The README and docs/guide_cae.md followed command by command, as CAE
staff would (issue 16): a fresh data folder holding the demo, the templates,
an own CAE first misnamed then renamed, validate, the README's `run --cae`,
the demo removed, the run again, a no-op rerun, the book. Each command
string is checked to appear in the README or the guide, so guide and
behaviour cannot drift apart.

The demo is the session's e2e run (2 CAEs, copied, already up to date);
`make report` is its two steps, `cae-impact run` then `cae-impact report`
(the Makefile recipe itself is tested in test_cli.py)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "README.md").read_text(encoding="utf-8") + (ROOT / "docs" / "guide_cae.md").read_text(encoding="utf-8")
VENV_CLI = ROOT / ".venv" / "bin" / "cae-impact"


def _national_caes(out: Path) -> list[str]:
    nb = nbformat.read(str(out / "national" / "10_national.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    return sorted(re.search(r'caes = "([^"]*)"', cell.source).group(1).split(","))


@pytest.fixture(scope="module")
def staff(e2e_run, tmp_path_factory, pseudonym_key):
    """A workbook folder (data/raw, data/processed, outputs) holding the demo,
    and a `sh(command)` that runs a documented command in it."""
    root = tmp_path_factory.mktemp("classeur")
    shutil.copytree(e2e_run["raw"], root / "data" / "raw")
    shutil.copytree(e2e_run["processed"], root / "data" / "processed")
    shutil.copytree(e2e_run["out"], root / "outputs")
    shutil.copytree(ROOT / "report", root / "report",  # the book's sources, as in a fresh clone
                    ignore=shutil.ignore_patterns("_quarto.yml", "cae", "notebooks", "_generated", "_book", "_site", ".quarto", ".book-stamp"))
    env = {**os.environ, "CAE_IMPACT_RAW": str(root / "data" / "raw"), "CAE_IMPACT_PROCESSED": str(root / "data" / "processed"),
           "CAE_IMPACT_OUT": str(root / "outputs"), "CAE_IMPACT_KEY": pseudonym_key.hex()}

    def sh(command: str, documented: str | None = None):
        assert (documented or command) in DOCS, f"not in the README or the guide: {documented or command}"
        argv = shlex.split(command)
        assert argv[0] == ".venv/bin/cae-impact"
        exe = [str(VENV_CLI)] if VENV_CLI.exists() else [sys.executable, "-m", "analysis.cli"]
        return subprocess.run(exe + argv[1:], cwd=root, env=env, capture_output=True, text=True, timeout=900)

    return {"root": root, "sh": sh, "demo": e2e_run["slugs"]}


def test_the_guide_command_by_command(staff, tmp_path):
    from analysis.intake import demo

    root, sh = staff["root"], staff["sh"]
    raw, processed, out = root / "data" / "raw", root / "data" / "processed", root / "outputs"

    # §2.1 templates
    p = sh(".venv/bin/cae-impact templates modeles/")
    assert p.returncode == 0 and (root / "modeles" / "entrepreneurs.xlsx").exists(), p.stderr

    # §2.2–2.3 a folder named the way staff name folders, holding the CAE's files
    src = tmp_path / "src"
    demo.generate(src, n_cae=1, seed=7, scale=0.5)  # another draw: a CAE of its own
    mine = raw / "Ma CAE Occitanie"
    shutil.copytree(src / demo.PROFILES[0]["slug"], mine)
    yml = mine / "cae.yml"
    yml.write_text(re.sub(r"^nom:.*$", 'nom: "Ma CAE Occitanie"', yml.read_text(encoding="utf-8"), flags=re.M), encoding="utf-8")

    # §3 validate says the name is wrong and how to rename the folder
    p = sh('.venv/bin/cae-impact validate "data/raw/Ma CAE Occitanie"', documented=".venv/bin/cae-impact validate data/raw/ma-cae")
    assert p.returncode == 1
    assert "Nom de dossier invalide" in p.stdout and "Renommez-le par exemple « ma-cae-occitanie »" in p.stdout

    # a run meanwhile does not skip it silently
    p = sh(".venv/bin/cae-impact run --cae " + staff["demo"][0], documented=".venv/bin/cae-impact run --cae")
    assert "Dossier « Ma CAE Occitanie » ignoré : nom invalide ; renommez-le par exemple « ma-cae-occitanie »" in p.stderr
    assert p.returncode == 1

    # renamed as the guide says; validate writes its reports and nothing under data/processed
    mine.rename(raw / "ma-cae")
    p = sh(".venv/bin/cae-impact validate data/raw/ma-cae")
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("ma-cae : valide")
    assert f"Rapport : {out / 'ma-cae' / 'validation.html'}" in p.stdout and (out / "ma-cae" / "validation.csv").exists()
    assert not (processed / "ma-cae").exists()

    # README's alternative to make report, demo still present: the national synthesis covers all three CAEs
    p = sh(".venv/bin/cae-impact run --cae ma-cae")
    assert p.returncode == 0, p.stdout + p.stderr
    assert (out / "ma-cae" / "rapport.html").exists()
    assert _national_caes(out) == sorted(staff["demo"] + ["ma-cae"])
    # live progress: intake starts, may report each file read, then ends (lines in that order)
    assert re.search(r"ma-cae\s+lecture\s+début\n(?:.*\n)*?.*ma-cae\s+lecture\s+ok \(", p.stdout), p.stdout
    assert re.search(r"ma-cae\s+05_synthese_cae\s+ok \(", p.stdout), p.stdout

    # §4 the demo removed with everything it produced
    p = sh(".venv/bin/cae-impact demo --supprimer")
    assert p.returncode == 0, p.stderr
    assert sorted(x.name for x in raw.iterdir()) == ["ma-cae"]
    assert sorted(x.name for x in processed.iterdir() if not x.name.startswith(".")) == ["ma-cae"]
    assert sorted(x.name for x in out.iterdir()) == ["ma-cae"]

    # §5 make report = run, then report: the national synthesis now on ma-cae alone, the book without the demo
    p = sh(".venv/bin/cae-impact run --cae ma-cae")
    assert p.returncode == 0, p.stdout + p.stderr
    assert _national_caes(out) == ["ma-cae"]
    p = sh(".venv/bin/cae-impact run", documented="make report")
    assert p.returncode == 0 and "Tout est à jour (1 CAE) : rien à refaire." in p.stdout, p.stdout + p.stderr
    p = sh(f".venv/bin/cae-impact report --no-render --report {root / 'report'}", documented="make report")
    assert p.returncode == 0, p.stdout + p.stderr
    chapters = sorted(x.name for x in (root / "report" / "cae").glob("*.qmd"))
    assert chapters == ["ma-cae.qmd"]

    # the result CSVs promised to spreadsheet users: French headers, rounded values
    csv = (processed / "ma-cae" / "indicateurs.csv").read_text(encoding="utf-8-sig")
    header = csv.splitlines()[0].split(";")
    assert header[:4] == ["CAE", "famille", "indicateur", "libellé"] and "valeur" in header
    assert not re.search(r"\d,\d{4,}", csv), "unrounded values in the CSV"
    assert "0,44000000000000006" not in csv
