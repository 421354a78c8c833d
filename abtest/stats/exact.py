"""Exact tests of two proportions for small counts (Fisher, Barnard, Boschloo via scipy).

scipy has no batched API for these tests, so comparisons are looped over in Python: use them
for small ad-group tests (hundreds of trials), not for thousands of comparisons. The ``auto``
rule picks Barnard for small samples (as tea-tasting does), Fisher when the sample is large
but some expected cell is tiny, and the Wald z test otherwise.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from abtest.stats._arrays import (
    Alternative,
    as_float,
    broadcast_arms,
    check_alpha,
    check_alternative,
    check_positive,
    comparison_frame,
)
from abtest.stats.frequentist import proportion_test_arrays

__all__ = ["EXACT_MAX_TRIALS", "choose_exact_method", "exact_test"]

ExactMethod = Literal["auto", "fisher", "barnard", "boschloo", "wald"]

#: ``auto`` uses Barnard's test below this many trials in the pair (tea-tasting's threshold).
EXACT_MAX_TRIALS = 1000
#: ``auto`` uses Fisher's test when an expected cell is below this (Cochran's rule).
MIN_EXPECTED_CELL = 5.0


def choose_exact_method(x_c: float, n_c: float, x_t: float, n_t: float) -> str:
    """The ``auto`` rule for one 2x2 table.

    Barnard if ``n_c + n_t < 1000`` (exact and more powerful than Fisher; scipy's
    implementation scales with ``n_c * n_t``); else Fisher if any expected cell under
    independence is below 5 (the normal approximation is unreliable, Barnard too slow);
    else the Wald z test.
    """
    total = n_c + n_t
    if total < EXACT_MAX_TRIALS:
        return "barnard"
    pooled = (x_c + x_t) / total
    expected = np.array([n_c * pooled, n_c * (1 - pooled), n_t * pooled, n_t * (1 - pooled)])
    return "fisher" if np.any(expected < MIN_EXPECTED_CELL) else "wald"


def _one_p(table: np.ndarray, method: str, alternative: str) -> float:
    # With the treatment in the first column, "greater" means a higher treatment rate for all
    # three tests (odds ratio > 1 for Fisher, p1 > p2 for Barnard and Boschloo).
    if method == "fisher":
        return float(stats.fisher_exact(table, alternative=alternative).pvalue)
    if method == "barnard":
        return float(stats.barnard_exact(table, alternative=alternative).pvalue)
    return float(stats.boschloo_exact(table, alternative=alternative).pvalue)


def exact_test(
    successes: ArrayLike,
    trials: ArrayLike,
    *,
    method: ExactMethod = "auto",
    alternative: Alternative = "two-sided",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Exact (or ``auto``-chosen) test of each arm's proportion against arm 0.

    Columns: ``comparison, arm, alternative, alpha, method, control_n, treatment_n,
    control_mean, treatment_mean, abs_diff, p_value``. ``method`` per row says which test
    produced the p-value (``auto`` resolved by :func:`choose_exact_method`). "greater" means
    the treatment rate exceeds the control rate. Loops over comparisons (small counts only).
    """
    check_alpha(alpha)
    check_alternative(alternative)
    if method not in ("auto", "fisher", "barnard", "boschloo", "wald"):
        raise ValueError(f"method must be auto, fisher, barnard, boschloo or wald, got {method!r}")
    arr = broadcast_arms(successes=as_float(successes, "successes"),
                         trials=as_float(trials, "trials"))
    x, n = arr["successes"], arr["trials"]
    check_positive(n, "trials", "trials (zero traffic)")
    if np.any(x > n):
        raise ValueError("successes exceed trials; check the conversion and trial columns")
    if np.any(x != np.round(x)) or np.any(n != np.round(n)):
        raise ValueError("exact tests need whole-number successes and trials")
    xc, nc = np.broadcast_to(x[:1], x[1:].shape), np.broadcast_to(n[:1], n[1:].shape)
    xt, nt = x[1:], n[1:]
    wald = proportion_test_arrays(x, n, alpha=alpha, alternative=alternative).p_value
    p = np.empty(xt.shape)
    used = np.empty(xt.shape, dtype=object)
    for idx in np.ndindex(xt.shape):
        m = method
        if m == "auto":
            m = choose_exact_method(xc[idx], nc[idx], xt[idx], nt[idx])
        used[idx] = m
        if m == "wald":
            p[idx] = wald[idx]
            continue
        # columns are the samples (treatment first), rows successes / failures
        table = np.array([[xt[idx], xc[idx]], [nt[idx] - xt[idx], nc[idx] - xc[idx]]],
                         dtype=np.int64)
        p[idx] = _one_p(table, m, alternative)
    cols = {"method": used, "control_n": nc, "treatment_n": nt, "control_mean": xc / nc,
            "treatment_mean": xt / nt, "abs_diff": xt / nt - xc / nc, "p_value": p}
    df = comparison_frame(cols, n_arms=x.shape[0], batch_shape=x.shape[1:],
                          constants={"alternative": alternative, "alpha": alpha})
    df["method"] = df["method"].astype("str")
    return df
