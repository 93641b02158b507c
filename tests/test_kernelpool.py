"""Warm kernels (analysis.pipeline.kernelpool): the CAEs of one run share a
worker's kernel, yet no notebook sees another's names, each runs in its own
CAE's folder, and a CAE whose notebook failed leaves nothing behind for the
next one (it gets a fresh kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests._intake_helpers import make_cae

# each notebook checks that no earlier notebook's name reached it, then leaves one behind;
# it writes the kernel's pid and its working folder into that folder
CHECK = """\
import os
from pathlib import Path
assert "marker" not in globals(), "a name of an earlier notebook is visible"
import analysis
assert not hasattr(analysis, "POISON"), "a failed CAE left state in the kernel"
marker = 1
Path(f"{NAME}.pid").write_text(str(os.getpid()))
Path(f"{NAME}.cwd").write_text(os.getcwd())
"""
FAIL = """\
if cae == "coop-a":
    import analysis
    analysis.POISON = 1
    raise ValueError("étape cassée")
"""


def _nb(path: Path, *codes: str) -> None:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell('cae = ""\nprocessed_dir = ""\nout_dir = ""\nraw_dir = ""')
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p] + [nbformat.v4.new_code_cell(c) for c in codes]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture()
def two_caes(tmp_path, pseudonym_key):
    for slug in ("coop-a", "coop-b"):
        make_cae(tmp_path / "raw", slug=slug)
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    return tmp_path, nbs


def _run(root: Path, nbs: Path, cae: str, scope: str):
    from analysis.pipeline import runner

    return runner.run_cae(cae, root / "raw", root / "processed", root / "out", nbs, stages=["s1", "s2"],
                          export_html=False, kernel_scope=scope)


def test_two_caes_share_a_kernel_but_no_names_and_each_runs_in_its_folder(two_caes):
    from analysis.pipeline import kernelpool

    root, nbs = two_caes
    _nb(nbs / "s1.ipynb", 'NAME = "s1"\n' + CHECK)
    _nb(nbs / "s2.ipynb", 'NAME = "s2"\n' + CHECK)
    try:
        for cae in ("coop-a", "coop-b"):
            res = _run(root, nbs, cae, "run-1")
            assert res.ok, res.error
        out = root / "out"
        pids = {(c, s): (out / c / f"{s}.pid").read_text() for c in ("coop-a", "coop-b") for s in ("s1", "s2")}
        assert len(set(pids.values())) == 1, pids  # one warm kernel served both CAEs
        for c in ("coop-a", "coop-b"):  # each notebook ran in its CAE's (staging) folder, then swapped in
            for s in ("s1", "s2"):
                assert Path((out / c / f"{s}.cwd").read_text()).name == c
        # another run (scope) never reuses this run's kernel
        res = _run(root, nbs, "coop-a", "run-2")
        assert res.ok and (out / "coop-a" / "s1.pid").read_text() != pids[("coop-a", "s1")]
    finally:
        kernelpool.shutdown()


def test_a_failed_cae_gives_its_kernel_up_and_the_next_cae_is_clean(two_caes):
    from analysis.pipeline import kernelpool

    root, nbs = two_caes
    _nb(nbs / "s1.ipynb", 'NAME = "s1"\n' + CHECK)
    _nb(nbs / "s2.ipynb", 'NAME = "s2"\n' + CHECK, FAIL)
    try:
        failed = _run(root, nbs, "coop-a", "run-1")
        assert not failed.ok and [s.ok for s in failed.stages] == [True, True, False]
        assert "étape cassée" in failed.error
        res = _run(root, nbs, "coop-b", "run-1")
        assert res.ok, res.error  # the POISON check passed: a fresh kernel
        dead_pid = (root / "out" / ".echecs" / "coop-a" / "s1.pid").read_text()
        assert (root / "out" / "coop-b" / "s1.pid").read_text() != dead_pid
    finally:
        kernelpool.shutdown()
