"""The project's packaging stays coherent: environment.yml pins what
pyproject.toml declares at the lock's versions; notebooks are committed
clean; the Makefile documents every target; .ci/run calls the README's
test command."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]
    return {_norm(re.split(r"[<>=!\[ ;]", r)[0]) for r in reqs}


def _locked() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", (ROOT / "requirements.lock").read_text(), re.M):
        out.setdefault(_norm(m.group(1)), set()).add(m.group(2))
    return out


def test_environment_yml_pins_declared_dependencies_at_locked_versions():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert any(str(d).startswith("quarto") for d in env["dependencies"] if isinstance(d, str))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip
    pinned = dict(_norm(p.split("==")[0]) and (_norm(p.split("==")[0]), p.split("==")[1]) for p in pip if "==" in p)
    assert set(pinned) == _declared(), "environment.yml and pyproject.toml list different packages"
    locked = _locked()
    for name, version in pinned.items():
        assert version in locked[name], f"{name}=={version} is not the locked version {locked[name]}"


def test_lock_pins_every_declared_dependency_with_hashes():
    text = (ROOT / "requirements.lock").read_text()
    locked = _locked()
    assert _declared() <= set(locked)
    assert text.count("--hash=sha256:") >= len(locked)


def test_notebooks_are_committed_without_outputs_and_have_a_parameters_cell():
    nbs = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert nbs, "no notebooks"
    for path in nbs:
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and not c.get("execution_count") for c in code), path.name
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: exactly one cell tagged 'parameters'"


def test_makefile_targets_are_documented_and_ci_calls_make_test():
    make = (ROOT / "Makefile").read_text()
    for target in ("help", "report", "test", "bench", "lab", "clean"):
        assert re.search(rf"^{target}:.*## ", make, re.M), f"target {target} missing or undocumented"
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec make test$", ci, re.M)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme and "make report" in readme


def test_gitignore_covers_build_products_and_raw_data():
    ignore = (ROOT / ".gitignore").read_text()
    for pattern in ("data/raw/*", "data/processed/*", "outputs/", "report/_book/", ".venv/"):
        assert pattern in ignore
