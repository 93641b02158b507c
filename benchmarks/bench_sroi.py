"""SROI micro-benchmark: Monte Carlo speed (target: 100 000 draws for one CAE well under 1 s).

Run: ``python benchmarks/bench_sroi.py`` (also called by ``make bench``).
Builds a synthetic CAE in memory (300 people, 150 survey answers, no files),
then prints, best of several repeats:

1. the Monte Carlo alone, 100 000 draws, one CAE;
2. the whole ``sroi.evaluate`` with 100 000 draws (value map, survey
   bootstrap, tornado, break-even, Monte Carlo);
3. ``sroi.evaluate_national`` over 7 such CAEs with the default draws.

Timings only: no assertion (machines are shared and noisy).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.sroi import valuation as sroi  # noqa: E402
from analysis.intake.processed import CaeData  # noqa: E402


def synthetic_cae(slug: str, n: int = 300, m: int = 150, seed: int = 0) -> CaeData:
    rng = np.random.default_rng(seed)
    ids = [f"{slug}-{i:04d}" for i in range(n)]
    motif = rng.choice(["emploi_salarie", "creation_entreprise", "abandon", ""], n, p=[0.1, 0.1, 0.1, 0.7])
    ent = pd.DataFrame({
        "id": pd.array(ids, dtype="string"),
        "date_sortie": pd.to_datetime([("2019-09-30" if x else None) for x in motif]),
        "motif_sortie": pd.array([x or None for x in motif], dtype="string"),
        "situation_entree": pd.array(rng.choice(["de_indemnise", "de_non_indemnise", "rsa", "salarie"], n), dtype="string"),
    })
    act = pd.DataFrame({
        "id": pd.array(ids, dtype="string"), "annee": pd.array([2019] * n, dtype="Int64"),
        "chiffre_affaires": rng.uniform(0, 50000, n), "remuneration_brute": rng.uniform(0, 30000, n),
        "heures_remunerees": np.where(rng.random(n) < 0.5, rng.uniform(200, 1820, n), np.nan),
    })
    q = pd.DataFrame({
        "sans_cae": pd.array(rng.choice(["meme_activite", "plus_tard", "plus_petite", "pas_cree", "nsp"], m), dtype="string"),
        "part_cae": rng.uniform(0, 100, m),
        "droit_protection": pd.array(rng.choice(["oui", "non", "nr"], m), dtype="string"),
        "formation_suivie": pd.array(rng.choice(["oui", "non"], m), dtype="string"),
    })
    info = {"slug": slug, "periode": {"debut": "2019-01-01", "fin": "2019-12-31"},
            "ressources": {"subventions_publiques": 300000, "contribution_entrepreneurs": 200000,
                           "autres_produits": 30000, "benevolat_heures": 400}}
    return CaeData(slug, info, ent, act, q, {})


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    vm = sroi.load_value_map()
    data = synthetic_cae("bench")
    model, _ = sroi._build(data, vm, seed=1, level=0.95)
    law = vm["parametres"]["loi"]
    n = 100_000
    sroi.monte_carlo(model, 1000, law, 1)  # warm-up
    t_mc = best_of(lambda: sroi.monte_carlo(model, n, law, 1), 5)
    t_eval = best_of(lambda: sroi.evaluate(data, vm, draws=n), 3)
    datas = [synthetic_cae(f"cae{i}", seed=i) for i in range(7)]
    t_nat = best_of(lambda: sroi.evaluate_national(datas, vm), 3)
    k = len(model.params)

    def num(x: int) -> str:
        return f"{x:_}".replace("_", "\u202f")

    print(f"  Monte Carlo seul, {num(n)} tirages, {k} paramètres, 1 CAE : {t_mc * 1000:.0f} ms")
    print(f"  sroi.evaluate complet, {num(n)} tirages, 1 CAE : {t_eval * 1000:.0f} ms")
    print(f"  sroi.evaluate_national, 7 CAE, {num(vm['parametres']['tirages_monte_carlo'])} tirages : {t_nat * 1000:.0f} ms")
    print(f"  objectif « 100 000 tirages bien sous 1 s » : {'atteint' if t_mc < 1 else 'NON atteint'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
