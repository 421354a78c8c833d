"""Benchmark: 10,000 two-arm comparisons in one vectorised abtest call vs a statsmodels loop.

Run: python benchmarks/bench_stats.py [--full]
The statsmodels loop is timed on 1,000 pairs and scaled to 10,000 unless --full is given.
Per pair it computes the same kind of numbers: Wald p-value, Wald absolute interval and a
relative (ratio) interval (statsmodels has no Fieller interval; its log-ratio one is used).
"""

from __future__ import annotations

import sys
import time

import numpy as np
from statsmodels.stats import proportion as sm_prop

from abtest.stats import beta_prob_greater, proportion_test_arrays

N_PAIRS = 10_000


def main() -> None:
    full = "--full" in sys.argv
    rng = np.random.default_rng(0)
    n = rng.integers(2_000, 50_000, size=(2, N_PAIRS))
    x = rng.binomial(n, rng.uniform(0.01, 0.1, size=(1, N_PAIRS)))

    proportion_test_arrays(x[:, :10], n[:, :10])  # warm-up (imports, caches)
    reps = 5
    t0 = time.perf_counter()
    for _ in range(reps):
        res = proportion_test_arrays(x, n)
    t_ours = (time.perf_counter() - t0) / reps
    assert res.p_value.shape == (1, N_PAIRS)

    n_loop = N_PAIRS if full else 1_000
    t0 = time.perf_counter()
    for j in range(n_loop):
        sm_prop.test_proportions_2indep(x[1, j], n[1, j], x[0, j], n[0, j], method="wald")
        sm_prop.confint_proportions_2indep(x[1, j], n[1, j], x[0, j], n[0, j], method="wald")
        sm_prop.confint_proportions_2indep(x[1, j], n[1, j], x[0, j], n[0, j],
                                           compare="ratio", method="log")
    t_sm = (time.perf_counter() - t0) * N_PAIRS / n_loop
    scaled = "" if full else f" (loop timed on {n_loop:,} pairs, scaled)"
    print(f"frequentist: 10,000 pairs abtest {t_ours * 1e3:.1f} ms vs statsmodels loop "
          f"{t_sm:.2f} s{scaled} -> {t_sm / t_ours:,.0f}x faster")

    a_t, b_t = x[1] + 1.0, n[1] - x[1] + 1.0
    a_c, b_c = x[0] + 1.0, n[0] - x[0] + 1.0
    beta_prob_greater(a_t[:10], b_t[:10], a_c[:10], b_c[:10])
    t0 = time.perf_counter()
    prob, loss = beta_prob_greater(a_t, b_t, a_c, b_c)
    t_bayes = time.perf_counter() - t0
    assert prob.shape == loss.shape == (N_PAIRS,)
    print(f"bayesian: prob_beat_control + expected_loss for 10,000 pairs in {t_bayes:.3f} s "
          f"(goal < 1 s)")


if __name__ == "__main__":
    main()
