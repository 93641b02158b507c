"""Where one CAE's run spends its time: a profile for issue 18.

``python benchmarks/profile_cae.py [--cae demo-nord] [--national] [--reseau 35] [--top 25]``

Generates the 7-CAE demo in a scratch folder, then runs one CAE through
:func:`analysis.pipeline.runner.run_cae` in this process (``jobs=1``) under
cProfile, which gives the runner's own cost (intake, papermill, nbclient,
HTML export); inside the kernel, each stage notebook is profiled by a first
cell that starts cProfile and a last cell that dumps it, so the kernel side
(imports, computations, figures) is profiled too. With ``--national`` every
CAE is run first (the national step needs them all), then the national step
is profiled the same way, with the per-CAE contributions the CAEs' runs
left in the national cache but the pooled results and models recomputed
(what a rerun after one CAE changed does); ``--reseau N`` (with ``--national``) profiles the
national step of a network of N CAEs made as ``make bench --reseau`` makes
them (the CAEs run first on every core, unprofiled). Prints the wall time
of each stage and the top entries (cumulative time) of each profile.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_START = "import cProfile as _cp\n_cae_pr = _cp.Profile()\n_cae_pr.enable()\ndel _cp"
_STOP = "_cae_pr.disable()\n_cae_pr.dump_stats({path!r})\ndel _cae_pr"


def _instrument(prof_dir: Path):
    """Wrap :func:`analysis.pipeline.notebooks.prepare` so every executed
    notebook starts and dumps a cProfile in its kernel."""
    import nbformat

    from analysis.pipeline import notebooks

    orig = notebooks.prepare
    count = {"n": 0}

    def prepare(nb, methodology_dir=None):
        nb = orig(nb, methodology_dir)
        count["n"] += 1
        path = prof_dir / f"kernel-{count['n']:02d}.prof"
        first = nbformat.v4.new_code_cell(_START)
        last = nbformat.v4.new_code_cell(_STOP.format(path=str(path)))
        for c in (first, last):
            c.metadata["tags"] = ["remove-cell"]
        nb = nbformat.from_dict(nb)
        nb.cells = [first, *nb.cells, last]
        return nb

    notebooks.prepare = prepare


def _top(stats: pstats.Stats, n: int, title: str) -> None:
    s = io.StringIO()
    stats.stream = s
    stats.sort_stats("cumulative").print_stats(n)
    lines = [l for l in s.getvalue().splitlines() if l.strip()]
    start = next(i for i, l in enumerate(lines) if l.lstrip().startswith("ncalls"))
    print(f"\n=== {title}: {stats.total_tt:.2f} s")
    for l in lines[start:]:
        print("  " + l[:160])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cae", default=None, help="CAE profilée (défaut : la première de la démo)")
    ap.add_argument("--national", action="store_true", help="profiler aussi l'étape nationale")
    ap.add_argument("--reseau", type=int, default=7, metavar="N", help="nombre de CAE (avec --national ; défaut : la démo, 7)")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    os.environ.setdefault("CAE_IMPACT_KEY", "ab" * 32)

    from analysis.intake import demo
    from analysis.pipeline import runner

    scratch = Path(tempfile.mkdtemp(prefix="cae-impact-profile-"))
    try:
        raw, processed, out = scratch / "raw", scratch / "processed", scratch / "out"
        if args.reseau != 7:
            sys.path.insert(0, str(ROOT / "benchmarks"))
            from bench import make_network

            make_network(raw, args.reseau)
        else:
            demo.generate(raw, n_cae=7)
        caes = runner.list_raw_caes(raw)
        cae = args.cae or caes[0]
        prof_dir = scratch / "prof"
        prof_dir.mkdir()
        quiet = runner.Progress(quiet=True)
        if args.national:  # every CAE first, unprofiled, each computing its share of the national work
            s = runner.run(raw_dir=raw, processed_dir=processed, out_dir=out, jobs=1 if args.reseau == 7 else None,
                           progress=quiet)
            assert s["ok"], s
            for level in ("national", "model"):  # as after one CAE changed: pooled results and models recomputed
                shutil.rmtree(processed / "_cache" / level, ignore_errors=True)
        _instrument(prof_dir)
        lines: list[str] = []

        class Events:
            def put(self, item):
                kind, a, k = item
                if kind == "event" and a[2] in ("ok", "échec"):
                    lines.append(f"  {a[1]:<16} {a[2]} {a[3] or 0:.2f} s")

        pr = cProfile.Profile()
        t = time.perf_counter()
        if args.national:
            pr.enable()
            res = runner.run_national(caes, processed, out, ROOT / "notebooks",
                                      progress=lambda *a, **k: Events().put(("event", a, k)))
            pr.disable()
            title = "national"
        else:
            from analysis.method import loader

            os.environ["CAE_IMPACT_METHODOLOGY"] = str(ROOT / "methodology")
            loader.check_all(ROOT / "methodology")
            pr.enable()
            res = runner.run_cae(cae, raw, processed, out, ROOT / "notebooks", events=Events(),
                                 methodology_dir=ROOT / "methodology", network_dir=processed)
            pr.disable()
            title = cae
        wall = time.perf_counter() - t
        assert res.ok, res.error
        print(f"{title} : {wall:.2f} s au total")
        print("\n".join(lines))
        _top(pstats.Stats(pr), args.top, "processus du runner (intake, papermill, export HTML)")
        names = runner.CAE_NOTEBOOKS if not args.national else [runner.NATIONAL_NOTEBOOK]
        for i, p in enumerate(sorted(prof_dir.glob("kernel-*.prof"))):
            _top(pstats.Stats(str(p)), args.top, f"noyau, {names[i] if i < len(names) else p.name}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
