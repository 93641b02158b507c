"""``make bench``: the pipeline's speed, as ratios measured in one run.

Measures, on the 7-CAE demo in a scratch directory:

1. the full run (``cae-impact run``, default jobs = cores, then
   ``cae-impact report --no-render`` into a scratch copy of ``report/``);
2. a no-op rerun (the same two commands, as a second ``make report``);
3. a rerun after one CAE's raw data changed;
3b. a rerun after one proxy of ``sroi.yml`` changed (a copy of the method):
   only the SROI stage, the CAE summary and the national synthesis rerun;
4. the naive baseline: for every notebook, the ``papermill`` CLI then
   ``jupyter nbconvert --to html --no-input``, sequentially (intake runs
   inside the cleaning notebook, as it would without the runner);
5. the SROI Monte Carlo micro-benchmark (``benchmarks/bench_sroi.py``)
   when present;
6. validation of a 1,000,000-row CSV, time and peak memory
   (``benchmarks/bench_large_csv.py``).

``BENCH_SANS_REFERENCE=1`` skips the naive baseline (4), the longest step.

Machines are shared and noisy: read the ratios, not the seconds. Results
are also written to ``benchmarks/results/bench.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))


class _SkipBaseline(Exception):
    pass


def timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"échec : {' '.join(cmd)}")
    return dt


def main() -> int:
    from analysis.pipeline import runner

    scratch = Path(tempfile.mkdtemp(prefix="cae-impact-bench-"))
    raw, processed, out = scratch / "raw", scratch / "processed", scratch / "out"
    env = dict(os.environ, CAE_IMPACT_KEY="ab" * 32)
    cli = str(BIN / "cae-impact")
    common = ["--raw", str(raw), "--processed", str(processed), "--out", str(out)]
    results: dict[str, float] = {}
    try:
        timed([cli, "demo", "--raw", str(raw)], env)
        caes = runner.list_raw_caes(raw)
        print(f"Démo : {len(caes)} CAE, {os.cpu_count()} cœurs. Mesures en cours…", flush=True)

        report = scratch / "report"  # a copy of the book sources: never write into the repository
        shutil.copytree(ROOT / "report", report, ignore=shutil.ignore_patterns("_quarto.yml", "cae", "notebooks", "_generated", "_book", ".book-stamp"))
        book = [cli, "report", "--no-render", "--processed", str(processed), "--out", str(out), "--report", str(report)]

        t = time.perf_counter()
        timed([cli, "run", *common], env)
        timed(book, env)
        results["full_run"] = time.perf_counter() - t
        print(f"  exécution complète            {results['full_run']:7.1f} s", flush=True)

        t = time.perf_counter()  # what a second `make report` does
        timed([cli, "run", *common], env)
        timed(book, env)
        results["noop_rerun"] = time.perf_counter() - t
        print(f"  relance sans changement       {results['noop_rerun']:7.1f} s", flush=True)

        changed = sorted((raw / caes[0]).glob("activite*"))[0]
        with open(changed, "ab") as fh:  # a trailing blank line: new bytes, same data
            fh.write(b"\r\n") if changed.suffix == ".csv" else None
        if changed.suffix != ".csv":
            (raw / caes[0] / "cae.yml").write_text((raw / caes[0] / "cae.yml").read_text(encoding="utf-8") + "\n", encoding="utf-8")
        t = time.perf_counter()
        timed([cli, "run", *common], env)
        timed(book, env)
        results["one_cae_changed"] = time.perf_counter() - t
        print(f"  relance après changement d'1 CAE {results['one_cae_changed']:4.1f} s", flush=True)

        meth = scratch / "methodology"  # the evaluator edits one proxy of a copy of the method
        shutil.copytree(ROOT / "methodology", meth)
        text = (meth / "sroi.yml").read_text(encoding="utf-8")
        old = "    valeur: 600.0\n    min: 400.0"
        if old not in text:
            raise SystemExit("bench : proxy complementaire_sante introuvable dans sroi.yml")
        (meth / "sroi.yml").write_text(text.replace(old, "    valeur: 750.0\n    min: 400.0"), encoding="utf-8")
        menv = dict(env, CAE_IMPACT_METHODOLOGY=str(meth))
        t = time.perf_counter()
        timed([cli, "run", *common], menv)
        timed(book, menv)
        results["sroi_changed"] = time.perf_counter() - t
        print(f"  relance après changement de sroi.yml {results['sroi_changed']:4.1f} s", flush=True)

        # naive baseline: papermill CLI + nbconvert CLI per notebook, sequential
        if os.environ.get("BENCH_SANS_REFERENCE"):
            raise _SkipBaseline
        nprocessed, nout = scratch / "naive_processed", scratch / "naive_out"
        t = time.perf_counter()
        for cae in caes:
            (nout / cae).mkdir(parents=True)
            for nb in runner.CAE_NOTEBOOKS:
                dst = nout / cae / f"{nb}.ipynb"
                timed(
                    [str(BIN / "papermill"), str(ROOT / "notebooks" / f"{nb}.ipynb"), str(dst), "-k", "python3",
                     "--no-progress-bar", "-p", "cae", cae, "-p", "raw_dir", str(raw),
                     "-p", "processed_dir", str(nprocessed), "-p", "out_dir", str(nout)],
                    env,
                )
                timed([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(dst)], env)
        (nout / "national").mkdir()
        dst = nout / "national" / "10_national.ipynb"
        timed(
            [str(BIN / "papermill"), str(ROOT / "notebooks" / "10_national.ipynb"), str(dst), "-k", "python3",
             "--no-progress-bar", "-p", "caes", ",".join(caes), "-p", "processed_dir", str(nprocessed),
             "-p", "out_dir", str(nout)],
            env,
        )
        timed([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(dst)], env)
        results["naive_baseline"] = time.perf_counter() - t
        print(f"  référence naïve (CLI papermill + nbconvert) {results['naive_baseline']:5.1f} s", flush=True)
    except _SkipBaseline:
        print("  référence naïve : non mesurée (BENCH_SANS_REFERENCE)", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    ratios = {
        **({"full_run / naive_baseline": results["full_run"] / results["naive_baseline"]} if "naive_baseline" in results else {}),
        "noop_rerun / full_run": results["noop_rerun"] / results["full_run"],
        "one_cae_changed / full_run": results["one_cae_changed"] / results["full_run"],
        "sroi_changed / full_run": results["sroi_changed"] / results["full_run"],
    }
    print("\nRatios (objectif : exécution complète / référence naïve ≤ 0,25) :")
    for k, v in ratios.items():
        print(f"  {k:<28} {v:6.3f}")

    sroi_bench = ROOT / "benchmarks" / "bench_sroi.py"
    if sroi_bench.exists():
        print("\nSROI Monte Carlo :", flush=True)
        subprocess.run([sys.executable, str(sroi_bench)], env=env, check=False)

    large_bench = ROOT / "benchmarks" / "bench_large_csv.py"
    if large_bench.exists():
        print("\nValidation d'un CSV de 1 000 000 lignes :", flush=True)
        subprocess.run([sys.executable, str(large_bench)], env=env, check=False)

    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / "bench.json").write_text(
        json.dumps({"seconds": results, "ratios": ratios, "cores": os.cpu_count(), "time": time.time()}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
