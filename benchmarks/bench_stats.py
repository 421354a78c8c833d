"""Benchmark: 10,000 two-arm comparisons through abtest's array cores, its public DataFrame APIs
and a statsmodels loop; Bayesian frames; import time (issues 3, 15).

Run: python benchmarks/bench_stats.py [--full]
The statsmodels loop is timed on 1,000 pairs and scaled to 10,000 unless --full is given.
Per pair it computes the same kind of numbers: Wald p-value, Wald absolute interval and a
relative (ratio) interval (statsmodels has no Fieller interval; its log-ratio one is used).
Each timing is the best of several runs (the machine is shared).
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
from statsmodels.stats import proportion as sm_prop

from abtest.stats import (
    bayes_proportion,
    beta_prob_greater,
    mean_test,
    mean_test_arrays,
    proportion_test,
    proportion_test_arrays,
    ratio_test,
    ratio_test_arrays,
)

N_PAIRS = 10_000


def _best(fn, reps: int = 7) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _imports() -> None:
    code = "import time; t = time.perf_counter(); import abtest; print(time.perf_counter() - t)"
    t_imp = min(float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                     text=True, check=True).stdout) for _ in range(3))
    cli = [sys.executable, "-c", "import sys; from abtest.cli import main; sys.argv = "
           "['abtest', '--help']; main()"]
    t_help = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(cli, capture_output=True, check=False)
        t_help.append(time.perf_counter() - t0)
    loaded = subprocess.run([sys.executable, "-c", "import sys, abtest; print('numba' in "
                             "sys.modules)"], capture_output=True, text=True).stdout.strip()
    print(f"import abtest: {t_imp:.3f} s (goal < 0.3 s; numba imported: {loaded}); "
          f"`abtest --help`: {min(t_help):.3f} s incl. interpreter start (goal < 0.3 s)")


def main() -> None:
    full = "--full" in sys.argv
    rng = np.random.default_rng(0)
    n = rng.integers(2_000, 50_000, size=(2, N_PAIRS))
    x = rng.binomial(n, rng.uniform(0.01, 0.1, size=(1, N_PAIRS)))

    proportion_test(x[:, :10], n[:, :10])  # warm-up (imports, caches)
    t_core = _best(lambda: proportion_test_arrays(x, n))
    t_pub = _best(lambda: proportion_test(x, n))
    assert proportion_test(x, n).shape[0] == N_PAIRS

    n_loop = N_PAIRS if full else 1_000
    t0 = time.perf_counter()
    for j in range(n_loop):
        sm_prop.test_proportions_2indep(x[1, j], n[1, j], x[0, j], n[0, j], method="wald")
        sm_prop.confint_proportions_2indep(x[1, j], n[1, j], x[0, j], n[0, j], method="wald")
        sm_prop.confint_proportions_2indep(x[1, j], n[1, j], x[0, j], n[0, j],
                                           compare="ratio", method="log")
    t_sm = (time.perf_counter() - t0) * N_PAIRS / n_loop
    scaled = "" if full else f" (loop timed on {n_loop:,} pairs, scaled)"
    print(f"frequentist: 10,000 pairs array core {t_core * 1e3:.1f} ms vs statsmodels loop "
          f"{t_sm:.2f} s{scaled} -> {t_sm / t_core:,.0f}x faster")
    print(f"proportion_test (DataFrame out): {t_pub * 1e3:.1f} ms = {t_pub / t_core:.2f}x its "
          f"array core (goal <= 1.5x) and {t_sm / t_pub:,.0f}x the statsmodels loop "
          f"(goal >= 1000x)")

    units = rng.integers(2_000, 50_000, size=(2, N_PAIRS)).astype(float)
    sums = units * rng.uniform(1, 3, size=(2, N_PAIRS))
    sums_sq = sums**2 / units * 1.5
    den = units * 2.0
    cross = sums * 2.0 * 1.1
    t_mc = _best(lambda: mean_test_arrays(units, sums, sums_sq))
    t_mp = _best(lambda: mean_test(units, sums, sums_sq))
    t_rc = _best(lambda: ratio_test_arrays(units, sums, sums_sq, den, den * 2.0 + units, cross))
    t_rp = _best(lambda: ratio_test(units, sums, sums_sq, den, den * 2.0 + units, cross))
    print(f"mean_test (DataFrame out): {t_mp * 1e3:.1f} ms = {t_mp / t_mc:.2f}x its array core; "
          f"ratio_test: {t_rp * 1e3:.1f} ms = {t_rp / t_rc:.2f}x its array core (goal <= 1.5x)")

    a_t, b_t = x[1] + 1.0, n[1] - x[1] + 1.0
    a_c, b_c = x[0] + 1.0, n[0] - x[0] + 1.0
    beta_prob_greater(a_t[:10], b_t[:10], a_c[:10], b_c[:10])
    t_bayes = _best(lambda: beta_prob_greater(a_t, b_t, a_c, b_c), reps=3)
    print(f"bayesian core: prob_beat_control + expected_loss for 10,000 pairs in "
          f"{t_bayes:.3f} s (goal < 1 s)")
    bayes_proportion(x[:, :10], n[:, :10])
    t_bp = _best(lambda: bayes_proportion(x, n), reps=2)
    print(f"bayes_proportion (DataFrame out, incl. lift credible intervals): 10,000 pairs in "
          f"{t_bp:.2f} s (goal < 0.05 s)")
    _imports()


if __name__ == "__main__":
    main()
