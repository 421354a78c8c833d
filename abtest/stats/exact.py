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
from scipy import special, stats

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

__all__ = ["EXACT_MAX_TRIALS", "MIN_EXPECTED_CELL", "choose_exact_method", "exact_p_arrays",
           "exact_test", "small_expected_counts", "exact_variance_scale"]

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


def small_expected_counts(successes: ArrayLike, trials: ArrayLike) -> np.ndarray:
    """True per comparison (shape ``(arms − 1, *batch)``) where an expected cell of the 2×2 table
    of that arm against arm 0 is below :data:`MIN_EXPECTED_CELL` (Cochran's rule: the normal
    approximation of the Wald z test is then unreliable)."""
    arr = broadcast_arms(successes=as_float(successes, "successes"),
                         trials=as_float(trials, "trials"))
    x, n = arr["successes"], arr["trials"]
    xc, nc = np.broadcast_to(x[:1], x[1:].shape), np.broadcast_to(n[:1], n[1:].shape)
    xt, nt = x[1:], n[1:]
    total = nc + nt
    pooled = np.where(total > 0, (xc + xt) / np.where(total > 0, total, 1.0), 0.0)
    cells = np.stack([nc * pooled, nc * (1 - pooled), nt * pooled, nt * (1 - pooled)])
    return np.any(cells < MIN_EXPECTED_CELL, axis=0)


def exact_p_arrays(successes: ArrayLike, trials: ArrayLike, where: ArrayLike | None = None, *,
                   method: Literal["fisher", "boschloo", "barnard"] = "fisher",
                   alternative: Alternative = "two-sided") -> np.ndarray:
    """Exact p-value of each arm against arm 0, shape ``(arms − 1, *batch)``; NaN outside
    ``where`` (default: every comparison). Fisher's conditional test (scipy
    ``fisher_exact``) by default: valid at any count, and never rejects 0/1000 vs 5/1000 at 5 %
    (p = 0.062) where the Wald z test does. Loops over the comparisons it computes."""
    check_alternative(alternative)
    arr = broadcast_arms(successes=as_float(successes, "successes"),
                         trials=as_float(trials, "trials"))
    x, n = arr["successes"], arr["trials"]
    if np.any(x != np.round(x)) or np.any(n != np.round(n)) or np.any(x > n):
        raise ValueError("exact tests need whole-number successes no larger than the trials")
    xc, nc = np.broadcast_to(x[:1], x[1:].shape), np.broadcast_to(n[:1], n[1:].shape)
    xt, nt = x[1:], n[1:]
    todo = np.ones(xt.shape, bool) if where is None else np.broadcast_to(
        np.asarray(where, bool), xt.shape)
    p = np.full(xt.shape, np.nan)
    for idx in zip(*np.nonzero(todo), strict=True):
        table = np.array([[xt[idx], xc[idx]], [nt[idx] - xt[idx], nc[idx] - xc[idx]]],
                         dtype=np.int64)
        p[idx] = _one_p(table, method, alternative)
    return p


def exact_variance_scale(abs_diff: ArrayLike, std_error: ArrayLike, p_value: ArrayLike) -> np.ndarray:
    """Factor k for the variances so that ``|d| / (SE·sqrt(k))`` is the normal quantile of the
    exact two-sided p-value (Miettinen's test-based interval, 1976): Wald-shaped intervals that
    exclude 0 exactly when the exact test rejects. ``inf`` where p = 1 and d ≠ 0 (whole line)."""
    d = np.abs(np.asarray(abs_diff, dtype=float))
    se = np.asarray(std_error, dtype=float)
    p = np.clip(np.asarray(p_value, dtype=float), 1e-300, 1.0)
    z = special.ndtri(1.0 - p / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(d == 0, 1.0, np.where(z > 0, (d / z) ** 2 / (se * se), np.inf))
    return k
