"""Where the paths point in a checkout and when installed from a wheel, and
the copy of the shipped Quarto sources into a writable report folder (the
full wheel install is tests/test_wheel_install.py, an e2e test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from analysis import config
from analysis.reporting import book

ROOT = Path(__file__).resolve().parents[1]


def test_checkout_layout_is_unchanged():
    assert config.IN_CHECKOUT
    assert config.PROJ_ROOT == ROOT
    assert config.NOTEBOOKS_DIR == ROOT / "notebooks"
    assert config.PROFILES_DIR == ROOT / "profiles"
    assert config.REPORT_SOURCES_DIR == ROOT / "report"
    if "CAE_IMPACT_REPORT" not in os.environ:
        assert config.REPORT_DIR == ROOT / "report"
    if "CAE_IMPACT_METHODOLOGY" not in os.environ:
        assert config.METHODOLOGY_DIR == ROOT / "methodology"


def test_wheel_layout_reads_shipped_resources_and_writes_under_the_working_directory(tmp_path, monkeypatch):
    site = tmp_path / "site"  # an installed package: config.py beside _share/, no methodology/ beside it
    (site / "analysis" / "_share" / "methodology").mkdir(parents=True)
    (site / "analysis" / "__init__.py").write_text("")
    shutil.copy(ROOT / "analysis" / "config.py", site / "analysis" / "config.py")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAE_IMPACT_")}
    env.update(PYTHONPATH=str(site), CAE_IMPACT_OUT=str(tmp_path / "elsewhere"))
    code = ("import json, os; from analysis import config as c; print(json.dumps({k: str(getattr(c, k)) for k in "
            "('IN_CHECKOUT', 'PROJ_ROOT', 'RAW_DIR', 'PROCESSED_DIR', 'OUT_DIR', 'REPORT_DIR', 'REPORT_SOURCES_DIR', "
            "'NOTEBOOKS_DIR', 'PROFILES_DIR', 'METHODOLOGY_DIR')} | {'home': os.environ['CAE_IMPACT_HOME']}))")
    got = json.loads(subprocess.run([sys.executable, "-S", "-c", code], cwd=work, env=env, capture_output=True,
                                    text=True, check=True).stdout)
    share = site / "analysis" / "_share"
    assert got == {
        "IN_CHECKOUT": "False",
        "PROJ_ROOT": str(work), "home": str(work),
        "RAW_DIR": str(work / "data" / "raw"), "PROCESSED_DIR": str(work / "data" / "processed"),
        "OUT_DIR": str(tmp_path / "elsewhere"), "REPORT_DIR": str(work / "report"),
        "REPORT_SOURCES_DIR": str(share / "report"), "NOTEBOOKS_DIR": str(share / "notebooks"),
        "PROFILES_DIR": str(share / "profiles"),
        "METHODOLOGY_DIR": str(share / "methodology"),
    }


def test_wheel_ships_the_report_sources_the_book_copies():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert tuple(data["analysis._share.report"]) == config.REPORT_SOURCE_PATTERNS


def _tree(d: Path) -> dict[str, str]:
    return {p.relative_to(d).as_posix(): p.read_text() for p in sorted(d.rglob("*")) if p.is_file()}


def test_copy_sources_copies_sources_only_and_follows_their_changes(tmp_path, monkeypatch):
    src = tmp_path / "src"
    files = {"_quarto.base.yml": "lang: fr\n", "index.qmd": "# Accueil\n", "_typst/rapport.css": "a {}\n",
             "_typst/deep/x.typ": "#x\n",
             # build products, never copied
             "_quarto.yml": "gen\n", "cae/a.qmd": "gen\n", "_generated/m.md": "gen\n", ".book-stamp": "gen\n"}
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    monkeypatch.setattr(config, "REPORT_SOURCES_DIR", src)
    dest = tmp_path / "work" / "report"
    sources = {"_quarto.base.yml": "lang: fr\n", "index.qmd": "# Accueil\n", "_typst/rapport.css": "a {}\n",
               "_typst/deep/x.typ": "#x\n"}

    book.copy_sources(dest)
    stamp = json.loads((dest / ".sources-stamp").read_text())
    assert {k: v for k, v in _tree(dest).items() if k != ".sources-stamp"} == sources
    assert stamp["files"] == sorted(sources)

    (dest / "_quarto.yml").write_text("assembled\n")  # the book's own products survive a refresh
    (src / "index.qmd").write_text("# Accueil v2\n")
    (src / "_typst" / "deep" / "x.typ").unlink()
    book.copy_sources(dest)
    tree = _tree(dest)
    assert tree["index.qmd"] == "# Accueil v2\n" and "_typst/deep/x.typ" not in tree
    assert tree["_quarto.yml"] == "assembled\n"

    own = tmp_path / "own"  # a folder with its own sources and no stamp: the user's, left alone
    own.mkdir()
    (own / "_quarto.base.yml").write_text("mine\n")
    book.copy_sources(own)
    assert _tree(own) == {"_quarto.base.yml": "mine\n"}

    book.copy_sources(src)  # the sources folder itself (a checkout): nothing written
    assert not (src / ".sources-stamp").exists()
