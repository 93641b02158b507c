"""Large-input benchmark: validate a CAE whose ``entrepreneurs.csv`` has
1,000,000 rows (about 100 MB, French CSV, cp1252, ``;``).

Run: ``python benchmarks/bench_large_csv.py [ROWS]`` (also called by
``make bench``). Writes the folder in a temporary directory, then runs
``cae-impact validate`` on it in a child process and prints its wall time
and peak memory (``ru_maxrss`` of the child), plus the reading progress the
validation prints. Timings only: no assertion (machines are shared and noisy).
"""

from __future__ import annotations

import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CAE_YML = """\
nom: "Coopérative Volumineuse"
region: "Bretagne"
type: generaliste
territoire: urbain
annee_creation: 2001
periode: {debut: 2019-01-01, fin: 2019-12-31}
ressources: {subventions_publiques: 1000, contribution_entrepreneurs: 500, autres_produits: 0, benevolat_heures: 10}
equipe_appui_etp: 2.5
"""
HEADER = ["id", "date_entree", "date_sortie", "motif_sortie", "genre", "annee_naissance", "diplome",
          "situation_entree", "qpv", "zone", "secteur", "statut", "date_cesa", "date_societariat"]


def write_folder(d: Path, rows: int, seed: int = 0) -> Path:
    """A valid CAE folder with ``rows`` entrepreneurs and one activity row each for the first 1,000."""
    r = random.Random(seed)
    d.mkdir(parents=True, exist_ok=True)
    (d / "cae.yml").write_text(CAE_YML, encoding="utf-8")
    sectors = ["Conseil", "Bâtiment", "Commerce", "Informatique et web", "Traduction"]
    with open(d / "entrepreneurs.csv", "w", encoding="cp1252", newline="") as fh:
        fh.write(";".join(HEADER) + "\r\n")
        for i in range(rows):
            day, month, year = r.randint(1, 28), r.randint(1, 12), r.randint(2012, 2019)
            fh.write(f"E{i:07d};{day:02d}/{month:02d}/{year};;;{r.choice('FH')};{r.randint(1950, 1995)};bac;rsa;non;urbain;"
                     f"{r.choice(sectors)};cesa;;\r\n")
    with open(d / "activite.csv", "w", encoding="cp1252", newline="") as fh:
        fh.write("id;annee;chiffre_affaires;remuneration_brute;heures_remunerees\r\n")
        for i in range(min(rows, 1000)):
            fh.write(f"E{i:07d};2019;{r.randint(0, 90000)},50;{r.randint(0, 30000)};{r.randint(0, 1600)}\r\n")
    return d


def main(rows: int = 1_000_000) -> None:
    with tempfile.TemporaryDirectory(prefix="cae-bench-") as tmp:
        d = write_folder(Path(tmp) / "volumineuse", rows)
        size = (d / "entrepreneurs.csv").stat().st_size
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "analysis.cli", "validate", str(d)], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        first = proc.stdout.splitlines()[:1]
        print(f"validate, entrepreneurs.csv of {rows:,} rows ({size / 1e6:.0f} MB): {wall:.1f} s, peak memory {peak_mb:.0f} MB, exit {proc.returncode}")
        for line in first + proc.stderr.strip().splitlines()[-2:]:
            print("   ", line)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
