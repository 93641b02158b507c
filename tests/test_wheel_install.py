"""``pip install .`` (not editable) into a fresh virtual environment, then
``cae-impact demo``, ``run`` and ``report --no-render`` from a folder outside
the checkout: the wheel ships every subpackage, the method files, the
notebooks and the Quarto sources (and no generated file of ``report/``), and
the run writes its products under the working directory.

Offline: the wheel is built with pip (build isolation from the configured
local index), installed with ``--no-deps``; the fresh venv sees the project
venv's dependencies through a plain path line in a ``.pth`` file, which does
not process that venv's own ``.pth`` files, so the checkout's editable
install is invisible there. A probe module in the fresh venv records, in
every Python process that imports ``analysis`` (the CLI, the worker, each
kernel), where it came from.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import config

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
# what a clean clone holds besides the sources, never needed to build
IGNORE = shutil.ignore_patterns(".git", ".venv", "data", "outputs", "build", "dist", "*.egg-info", "__pycache__",
                                ".pytest_cache", ".hypothesis", "benchmarks", "tests")
# build products of report/ planted in the copy: the wheel must not ship them
GENERATED = ["_quarto.yml", "cae/cae-a.qmd", "_generated/methode.md", "_book/index.html", "notebooks/national/x.ipynb",
             ".book-stamp"]

PROBE = '''
import json, os, sys
LOG = os.environ.get("WHEEL_TEST_IMPORT_LOG")
def _hook(event, args, done=[]):
    if done or event != "import" or not str(args[0]).startswith("analysis."):
        return
    pkg = sys.modules.get("analysis")
    if pkg is not None:
        done.append(1)
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"argv": sys.argv, "executable": sys.executable, "analysis": pkg.__file__}) + "\\n")
if LOG:
    sys.addaudithook(_hook)
'''


def _run(cmd, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{cmd}\n--- stdout\n{res.stdout[-4000:]}\n--- stderr\n{res.stderr[-4000:]}"
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    for rel in GENERATED:
        (src / "report" / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / "report" / rel).write_text("generated\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAE_IMPACT_", "PYTHON", "JUPYTER"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", tmp / "dist", src], env=env, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("cae_impact-*.whl")

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], env=env)
    vpy = venv / "bin" / "python"
    purelib = Path(_run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env).stdout.strip())
    (purelib / "wheel_test_probe.py").write_text(PROBE, encoding="utf-8")
    deps = "\n".join(p for p in site.getsitepackages() if Path(p).is_dir())
    (purelib / "zz_project_dependencies.pth").write_text(f"import wheel_test_probe\n{deps}\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", vpy, "install", "--quiet", "--no-deps", "--no-index", wheel], env=env)

    # the dependencies' data files (nbconvert's templates), not the project venv's registered kernel
    share = tmp / "share-jupyter"
    share.mkdir()
    (share / "nbconvert").symlink_to(Path(sys.prefix) / "share" / "jupyter" / "nbconvert")

    work = tmp / "work"  # the user's folder, outside the checkout
    work.mkdir()
    log = tmp / "imports.jsonl"
    env.update({
        "CAE_IMPACT_KEY": "00" * 31 + "01",
        "WHEEL_TEST_IMPORT_LOG": str(log),
        "JUPYTER_DATA_DIR": str(tmp / "jupyter"),  # no user-level kernel pointing at another interpreter
        "JUPYTER_PATH": str(share),
        "MPLBACKEND": "Agg",
    })
    steps = {
        "demo": _run([vpy, "-m", "analysis.cli", "demo", "--cae", "1", "--scale", "0.3"], env=env, cwd=work),
        "run": _run([venv / "bin" / "cae-impact", "run", "--jobs", "1"], env=env, cwd=work),
        "report": _run([venv / "bin" / "cae-impact", "report", "--no-render"], env=env, cwd=work),
    }
    imports = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return {"venv": venv, "purelib": purelib, "work": work, "imports": imports, "steps": steps, "wheel": wheel}


def test_wheel_ships_every_module_and_the_resources_but_no_build_product(installed):
    pkg = installed["purelib"] / "analysis"
    ours = {p.relative_to(ROOT / "analysis").as_posix() for p in (ROOT / "analysis").rglob("*.py")}
    shipped = {p.relative_to(pkg).as_posix() for p in pkg.rglob("*.py")}
    assert {p for p in ours if p.endswith("__init__.py")} <= shipped
    assert ours == shipped
    for folder, patterns in (("methodology", ("*.yml",)), ("notebooks", ("*.ipynb",)),
                             ("report", config.REPORT_SOURCE_PATTERNS), ("profiles", ("**/*.yml", "**/*.md"))):
        files = [p for pat in patterns for p in (ROOT / folder).glob(pat) if p.is_file()]
        assert files or folder == "profiles", folder
        for p in files:
            copy = pkg / "_share" / folder / p.relative_to(ROOT / folder)
            assert copy.read_bytes() == p.read_bytes(), copy
    for rel in ("intake/assets/validation.html.j2", "pipeline/stages.yml"):
        assert (pkg / rel).is_file(), rel
    for rel in GENERATED:
        assert not (pkg / "_share" / "report" / rel).exists(), rel


def test_demo_run_and_report_write_under_the_working_directory(installed):
    work = installed["work"]
    (slug,) = [p.name for p in (work / "data" / "raw").iterdir() if p.is_dir()]
    assert (work / "data" / "processed" / slug / "indicateurs.parquet").is_file()
    assert (work / "outputs" / slug / "rapport.html").stat().st_size > 10_000
    assert (work / "outputs" / "national" / "10_national.ipynb").is_file()
    summary = json.loads((work / "outputs" / "run_summary.json").read_text(encoding="utf-8"))
    assert [(c["cae"], c["ok"]) for c in summary["caes"]] == [(slug, True)]
    # the book is assembled in ./report from the shipped sources
    report = work / "report"
    assert (report / "_quarto.base.yml").read_bytes() == (ROOT / "report" / "_quarto.base.yml").read_bytes()
    assert (report / "_quarto.yml").is_file() and list((report / "cae").glob("*.qmd"))
    assert "préparé" in installed["steps"]["report"].stdout


def test_every_process_including_the_kernels_imports_the_wheel(installed):
    imports = installed["imports"]
    kernels = [r for r in imports if any("ipykernel" in a for a in r["argv"][:1])]
    assert len(kernels) >= 1, imports  # the CAE's stages and the national synthesis share a warm kernel (kernelpool)
    venv = installed["venv"].resolve()
    for r in imports:
        assert Path(r["analysis"]).resolve().is_relative_to(venv), r
        assert not Path(r["analysis"]).resolve().is_relative_to(ROOT), r
        assert Path(r["executable"]).parent.parent.resolve() == venv, r
