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


# each notebook records when it ran (and in which kernel) and sleeps, so that two running side by side overlap
TIMED = """\
import os, time
from pathlib import Path
assert "marker" not in globals(), "a name of an earlier notebook is visible"
marker = 1
Path(f"{NAME}.pid").write_text(str(os.getpid()))
Path(f"{NAME}.start").write_text(repr(time.time()))
time.sleep(1.5)
Path(f"{NAME}.end").write_text(repr(time.time()))
"""


def _stage_notebooks(nbs: Path, fail: str = "") -> list[str]:
    """Notebooks named like the registry's CAE stages (so that its waves apply)."""
    from analysis.pipeline import runner

    for name in runner.CAE_NOTEBOOKS:
        extra = ['raise ValueError("étape cassée")'] if name == fail else []
        _nb(nbs / f"{name}.ipynb", f'NAME = "{name}"\n' + TIMED, *extra)
    return runner.CAE_NOTEBOOKS


def test_one_caes_independent_notebooks_run_side_by_side_and_the_summary_after_them(two_caes):
    from analysis.pipeline import kernelpool, registry, runner

    root, nbs = two_caes
    names = _stage_notebooks(nbs)
    waves = registry.cae_waves()
    assert len(waves) >= 2 and len(waves[0]) >= 2  # the registry has independent stages, then a summary
    try:
        res = runner.run_cae("coop-a", root / "raw", root / "processed", root / "out", nbs, export_html=False,
                             kernel_scope="run-1", kernels=2)
        assert res.ok, res.error
        assert [s.stage for s in res.stages] == ["lecture", *names]  # summary in registry order
        out = root / "out" / "coop-a"
        when = {n: (float((out / f"{n}.start").read_text()), float((out / f"{n}.end").read_text())) for n in names}
        first = waves[0]
        assert len({(out / f"{n}.pid").read_text() for n in first}) == 2  # two kernels
        # some two notebooks of the first wave overlapped in time
        assert any(when[a][0] < when[b][1] and when[b][0] < when[a][1] for a in first for b in first if a < b)
        for later in waves[1]:  # a later wave starts once every notebook of the wave before it ended
            assert when[later][0] >= max(when[n][1] for n in first)
    finally:
        kernelpool.shutdown()


def test_a_failure_among_notebooks_side_by_side_stops_the_cae_and_keeps_its_previous_results(two_caes):
    from analysis.pipeline import kernelpool, registry, runner

    root, nbs = two_caes
    waves = registry.cae_waves()
    broken = waves[0][1]
    try:
        ok = runner.run_cae("coop-a", root / "raw", root / "processed", root / "out", nbs, stages=_stage_notebooks(nbs),
                            export_html=False, kernel_scope="run-1", kernels=2)
        assert ok.ok, ok.error
        before = (root / "out" / "coop-a" / f"{broken}.start").read_text()
        _stage_notebooks(nbs, fail=broken)
        res = runner.run_cae("coop-a", root / "raw", root / "processed", root / "out", nbs, export_html=False,
                             kernel_scope="run-1", kernels=2)
        assert not res.ok and f"étape {broken}" in res.error and "étape cassée" in res.error
        failed = [s.stage for s in res.stages if not s.ok]
        assert failed == [broken]
        assert not any(s.stage in waves[1] for s in res.stages)  # nothing after the failed wave ran
        assert (root / "out" / "coop-a" / f"{broken}.start").read_text() == before  # previous results kept
        assert (root / "out" / ".echecs" / "coop-a" / f"{broken}.ipynb").exists()
    finally:
        kernelpool.shutdown()
