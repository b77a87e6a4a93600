"""Time per patient of the predictive specs (sle_cart, iim_cart, ssc_cart) against Park 2025 in the compiled engine.

Same population size, seed, daily grid to day 730 and threads for each spec; the models are compiled (warm
cache) before timing, and the best of three runs is kept. Run: ``python benchmarks/bench_predictive_specs.py``.
"""

from __future__ import annotations

import time

import numpy as np

from immunoreset.models import get_model
from immunoreset.simulate import sample_population, simulate_population

N = 1000
DAYS = np.arange(0, 731, dtype=float)


def per_patient(name: str) -> float:
    pop = sample_population(get_model(name), N, seed=2025)
    simulate_population(sample_population(get_model(name), 2, seed=1), DAYS[:10])  # compile / load
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        simulate_population(pop, DAYS)
        best = min(best, time.perf_counter() - start)
    return best / N


def main() -> None:
    park = per_patient("park2025")
    print("| model | ms per patient (1,000 patients, days 0-730, 2 threads) | ratio to park2025 |")
    print("|---|---|---|")
    print(f"| park2025 | {park * 1e3:.2f} | 1.00 |")
    for name in ("sle_cart", "iim_cart", "ssc_cart"):
        t = per_patient(name)
        print(f"| {name} | {t * 1e3:.2f} | {t / park:.2f} |")


if __name__ == "__main__":
    main()
