"""``make bench``: the pipeline's speed, as ratios measured in one run.

Measures, on the 7-CAE demo in a scratch directory:

1. the full run (``cae-impact run``, default jobs = cores, then
   ``cae-impact report --no-render`` into a scratch copy of ``report/``);
2. a no-op rerun (the same two commands, as a second ``make report``);
3. a rerun after one CAE's file got new bytes but the same data (a
   re-export: a trailing blank line), then after one amount of that CAE
   changed (its turnover of one year, +1,000 €: a real change, which the
   goal « one CAE changed ≤ 0.2 × the full run » is about);
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

The national step's own time (from ``run_summary.json``) is printed beside
each rerun: after one CAE changed it reuses the unchanged work
(``analysis/pipeline/cache.py``).

``--reseau 7,35,77`` measures instead networks of that many CAEs, made by
the demo generator (copies of the 7 profiles with other seeds, renamed):
time per CAE, national step time and peak memory of the whole process tree
(resident sizes summed, which counts shared libraries once per process, and
proportional set sizes summed, which does not), for each size, then the projection for a network of 3,500
structures on a 16-core machine from the measured per-CAE cost
(``make bench BENCH_ARGS="--reseau 7,35"``).

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


def bump_amount(xlsx: Path, column: str = "chiffre_affaires", delta: float = 1000.0) -> None:
    """Add ``delta`` to the first value of ``column`` in the workbook: a real
    change of one CAE's data (its processed tables and results move)."""
    import openpyxl

    wb = openpyxl.load_workbook(xlsx)
    ws = wb.active
    header = [c.value for c in ws[1]]
    if column not in header:
        raise SystemExit(f"bench : colonne {column} absente de {xlsx.name}")
    cell = ws.cell(row=2, column=header.index(column) + 1)
    cell.value = float(cell.value) + delta
    wb.save(xlsx)


def timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"échec : {' '.join(cmd)}")
    return dt


def national_record(out: Path) -> tuple[float, float, float]:
    """The national step of the last run, from its summary: (its seconds
    after the CAEs, 0 when it was up to date; its notebook's seconds; the
    longest of its parts' seconds, which may have run during the last
    CAEs, 0 without parts). nan when there is no summary or no notebook stage."""
    from analysis.pipeline.cache import NATIONAL_PARTS
    from analysis.pipeline.runner import NATIONAL_NOTEBOOK, national_part_stage

    nan = float("nan")
    try:
        nat = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))["national"] or {}
    except (OSError, ValueError, KeyError):
        return nan, nan, nan
    if nat.get("skipped"):
        return 0.0, 0.0, 0.0
    stages = {s.get("stage"): float(s.get("seconds", nan)) for s in nat.get("stages", [])}
    parts = [stages[k] for k in map(national_part_stage, NATIONAL_PARTS) if k in stages]
    return float(nat.get("seconds", 0.0)), stages.get(NATIONAL_NOTEBOOK, nan), max(parts, default=0.0)


def national_seconds(out: Path) -> float:
    """The national step's time after the CAEs in the last run (0 when it was up to date)."""
    return national_record(out)[0]


def _pss(p) -> int:
    """Proportional set size of process ``p`` (Linux: a page shared by k
    processes counts 1/k in each), its resident size elsewhere."""
    try:
        return p.memory_full_info().pss
    except AttributeError:
        return p.memory_info().rss


def timed_peak(cmd: list[str], env: dict, every: float = 0.25) -> tuple[float, float, float]:
    """(seconds, peak resident memory in MB of the command and all its
    descendants, peak of their proportional set size in MB), sampled every
    ``every`` s. The resident sizes count the libraries every process maps
    (pandas, scipy, matplotlib…) once per process; the proportional sizes
    share them out, so their sum is the memory the run actually holds."""
    import psutil

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = peak_pss = 0.0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            procs = [ps, *ps.children(recursive=True)]
            peak = max(peak, sum(c.memory_info().rss for c in procs) / 1e6)
            peak_pss = max(peak_pss, sum(_pss(c) for c in procs) / 1e6)
        except psutil.Error:
            pass
        time.sleep(every)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.read()[-3000:])
        raise SystemExit(f"échec : {' '.join(cmd)}")
    return dt, peak, peak_pss


def make_network(raw: Path, n: int) -> list[str]:
    """``n`` CAEs from the demo generator: copy k of the 7 profiles is drawn
    with seed 2019 + 100·k and its folders are suffixed ``-k`` (k ≥ 1)."""
    from analysis.intake import demo

    slugs = []
    k = 0
    while len(slugs) < n:
        tmp = raw / f".gen{k}"
        made = demo.generate(tmp, n_cae=min(7, n - len(slugs)), seed=2019 + 100 * k)
        for s in made:
            name = s if k == 0 else f"{s}-{k}"
            (tmp / s).rename(raw / name)
            slugs.append(name)
        shutil.rmtree(tmp)
        k += 1
    return slugs


def network(sizes: list[int], jobs: int | None) -> int:
    """The network curve: per-CAE time, national step and peak memory by size."""
    env = dict(os.environ, CAE_IMPACT_KEY="ab" * 32)
    cli = str(BIN / "cae-impact")
    rows = []
    print(f"Réseau : {sizes} CAE, {os.cpu_count()} cœurs, --jobs {jobs or os.cpu_count()}.", flush=True)
    for n in sizes:
        scratch = Path(tempfile.mkdtemp(prefix=f"cae-impact-reseau{n}-"))
        try:
            raw, processed, out = scratch / "raw", scratch / "processed", scratch / "out"
            raw.mkdir()
            make_network(raw, n)
            cmd = [cli, "run", "--raw", str(raw), "--processed", str(processed), "--out", str(out)]
            if jobs:
                cmd += ["--jobs", str(jobs)]
            dt, peak, pss = timed_peak(cmd, env)
            nat, notebook, part = national_record(out)
            rows.append({"caes": n, "seconds": dt, "per_cae": (dt - nat) / n, "national": nat, "peak_mb": peak,
                         "peak_pss_mb": pss, "national_notebook": notebook, "national_longest_part": part})
            print(f"  {n:3d} CAE : {dt:7.1f} s, {(dt - nat) / n:5.2f} s par CAE, étape nationale {nat:5.1f} s "
                  f"après les CAE (carnet {notebook:.1f} s, plus long calcul national {part:.1f} s), "
                  f"mémoire max {peak:6.0f} Mo (RSS cumulée), {pss:6.0f} Mo (PSS)", flush=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    base = rows[0]
    print("\nRapports au plus petit réseau (même exécution) :")
    for r in rows:
        print(f"  {r['caes']:3d} CAE : temps par CAE ×{r['per_cae'] / base['per_cae']:.2f} (objectif ≤ 1,2), "
              f"étape nationale ×{r['national'] / base['national']:.2f} pour ×{r['caes'] / base['caes']:.1f} CAE "
              f"(objectif : au plus linéaire), mémoire max {r['peak_mb']:.0f} Mo RSS cumulée, "
              f"{r.get('peak_pss_mb', float('nan')):.0f} Mo PSS (objectif < 2 000)")
    last = rows[-1]
    cores = jobs or os.cpu_count() or 1
    core_s = last["per_cae"] * cores  # core-seconds per structure, as measured on this (shared) machine
    # The national step's serial path, extrapolated linearly: its longest part
    # then its notebook. Conservative: at 3,500 structures the parts would
    # hardly overlap the CAEs (they start once every structure is read), and
    # what they did overlap here is also counted in the time per CAE.
    serial = last["national_notebook"] + last["national_longest_part"]
    if serial != serial:  # nan: a run that did not record its stages
        serial = last["national"]
    nat_3500 = serial / last["caes"] * 3500
    proj = 3500 * core_s / 16 + nat_3500
    print(f"\nProjection, 3 500 structures sur 16 cœurs : {3500 * core_s / 16 / 60:.0f} min de travail par structure "
          f"({core_s:.1f} cœur·s chacune) + {nat_3500 / 60:.0f} min d'étape nationale (son plus long calcul puis "
          f"son carnet, {serial:.1f} s à {last['caes']} CAE, extrapolés linéairement) "
          f"= {proj / 3600:.2f} h (objectif < 1 h).")
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(exist_ok=True)
    (res_dir / "reseau.json").write_text(json.dumps({"rows": rows, "projection_3500_16c_s": proj,
                                                     "cores": os.cpu_count(), "time": time.time()}, indent=2))
    return 0


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reseau", metavar="N,N,...", help="courbe réseau (ex. 7,35,77) au lieu du banc de la démo")
    ap.add_argument("--jobs", type=int, help="CAE en parallèle (défaut : nombre de cœurs)")
    args = ap.parse_args()
    if args.reseau:
        return network([int(x) for x in args.reseau.split(",") if x], args.jobs)

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
        results["full_run_national"] = national_seconds(out)
        print(f"  exécution complète            {results['full_run']:7.1f} s (étape nationale {results['full_run_national']:.1f} s)",
              flush=True)

        t = time.perf_counter()  # what a second `make report` does
        timed([cli, "run", *common], env)
        timed(book, env)
        results["noop_rerun"] = time.perf_counter() - t
        print(f"  relance sans changement       {results['noop_rerun']:7.1f} s", flush=True)

        target = next((c for c in caes if (raw / c / "activite.xlsx").exists()), None)
        if target is None:
            raise SystemExit("bench : aucune CAE de la démo n'a de fichier activite.xlsx")
        (raw / target / "cae.yml").write_text((raw / target / "cae.yml").read_text(encoding="utf-8") + "\n", encoding="utf-8")

        def rerun(key: str, label: str) -> None:  # `make report` again: run, then the book; the national step apart
            t = time.perf_counter()
            timed([cli, "run", *common], env)
            timed(book, env)
            results[key] = time.perf_counter() - t
            results[f"{key}_national"] = national_seconds(out)
            print(f"  {label} {results[key]:4.1f} s (étape nationale {results[f'{key}_national']:.1f} s)", flush=True)

        rerun("one_cae_same_data", "relance après ré-export d'1 CAE (mêmes données)")  # intake reruns, the rest may reuse
        bump_amount(raw / target / "activite.xlsx")
        rerun("one_cae_changed", "relance après changement d'un montant d'1 CAE")

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
        "one_cae_same_data / full_run": results["one_cae_same_data"] / results["full_run"],
        "one_cae_changed / full_run": results["one_cae_changed"] / results["full_run"],
        "sroi_changed / full_run": results["sroi_changed"] / results["full_run"],
        "national: one_cae_same_data / full_run": results["one_cae_same_data_national"] / results["full_run_national"],
        "national: one_cae_changed / full_run": results["one_cae_changed_national"] / results["full_run_national"],
    }
    print("\nRatios (objectifs : complète / naïve ≤ 0,12 ; 1 CAE changée / complète ≤ 0,2) :")
    for k, v in ratios.items():
        print(f"  {k:<38} {v:6.3f}")

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
